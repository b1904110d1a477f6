#!/usr/bin/env bash
# admin_live: postbox-admin --server against a running postbox-server's admin
# API (docs/operations.md "Admin API"): sessions, viewers, transfers and kick,
# text and --json, and the refusals (no token, a wrong token, an unknown
# session, a server that is not there). Then the mailbox and connection
# commands through the admin API (docs/admin.md "Through the live server"):
# their output byte for byte the same as the same command on the store folder
# (read while the server runs), the errors with the same exit status and
# document, a wrong token, the commands without a route refusing --server
# (exit 2, nothing touched), and what --server wrote is in the store once the
# server has stopped. Starts the server on 127.0.0.1 with ephemeral ports and
# stops it by its pid.
#   admin_live_test.sh PATH_TO_POSTBOX_SERVER PATH_TO_POSTBOX_ADMIN
set -euo pipefail
server=${1:?usage: admin_live_test.sh SERVER ADMIN}
admin=${2:?usage: admin_live_test.sh SERVER ADMIN}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postbox-admin-live.XXXXXX")
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

printf 'live-test-token-0123456789\n' >"$tmp/token"
"$server" --data "$tmp/store" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --admin-token-file "$tmp/token" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 200); do
  grep -q "http listening on" "$tmp/out" 2>/dev/null && break
  sleep 0.05
done
sync_port=$(sed -n 's/^postbox-server listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/out")
http_port=$(sed -n 's/^postbox-server http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/out")
[[ -n $sync_port && -n $http_port ]] || fail "the server did not start: $(cat "$tmp/err")"

live() { "$admin" --server "127.0.0.1:$http_port" --token-file "$tmp/token" "$@"; }

# No session yet.
[[ $(live --json sessions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sessions"]))') == 0 ]] ||
  fail "sessions before any connection"

# A connection that has not said Hello is a session in state "hello".
exec 3<>"/dev/tcp/127.0.0.1/$sync_port"
for _ in $(seq 1 100); do
  n=$(live --json sessions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sessions"]))')
  [[ $n == 1 ]] && break
  sleep 0.05
done
[[ $n == 1 ]] || fail "the raw connection is not listed"
doc=$(live --json sessions)
id=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1])["sessions"][0]; assert s["state"]=="hello", s; assert s["mkey"] is None; print(s["id"])' "$doc")
live sessions | grep -q "^$id " || fail "the text listing lacks session $id"
live viewers >/dev/null
live --json transfers | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["downloads"]==[] and d["uploads"]==[], d'

# Kick it: the server closes the connection.
live kick "$id" | grep -q "kicked out" || fail "kick did not say so"
if timeout 5 cat <&3 >/dev/null; then :; else fail "the kicked connection stayed open"; fi
exec 3<&-
rc=0
live kick "$id" 2>"$tmp/kerr" || rc=$?
[[ $rc == 1 ]] && grep -q NotFound "$tmp/kerr" || fail "kicking it again: exit $rc, $(cat "$tmp/kerr")"

# Refusals.
rc=0
POSTBOX_ADMIN_TOKEN=wrong-token-000000000 "$admin" --server "127.0.0.1:$http_port" sessions \
  2>"$tmp/e1" || rc=$?
[[ $rc == 1 ]] && grep -q Unauthenticated "$tmp/e1" || fail "a wrong token: exit $rc, $(cat "$tmp/e1")"
rc=0
env -u POSTBOX_ADMIN_TOKEN "$admin" --server "127.0.0.1:$http_port" sessions 2>"$tmp/e2" || rc=$?
[[ $rc == 1 ]] && grep -q "admin token" "$tmp/e2" || fail "no token: exit $rc, $(cat "$tmp/e2")"
rc=0
env -u POSTBOX_ADMIN_TOKEN "$admin" --token-file "$tmp/token" sessions 2>"$tmp/e3" || rc=$?

[[ $rc == 2 ]] && grep -q -- "--server" "$tmp/e3" || fail "no --server: exit $rc, $(cat "$tmp/e3")"

# ---- Mailboxes and connections through the admin API ----
store=$tmp/store
# at RC WHERE ARGS...: runs the tool through the server (WHERE=live) or on the
# store (WHERE=data), wants exit RC; stdout lands in $tmp/WHERE.out, stderr in
# $tmp/WHERE.err. --data names no store for live: it must not be used.
at() {
  local want=$1 where=$2 rc=0
  shift 2
  if [[ $where == live ]]; then
    live --data "$tmp/no-store" "$@" >"$tmp/live.out" 2>"$tmp/live.err" || rc=$?
  else
    "$admin" --data "$store" "$@" >"$tmp/data.out" 2>"$tmp/data.err" || rc=$?
  fi
  [[ $rc == "$want" ]] || fail "$where '$*' exited $rc, expected $want
stdout: $(cat "$tmp/$where.out")
stderr: $(cat "$tmp/$where.err")"
}
# both RC ARGS...: the command through the server and on the store (read
# while the server runs) exit RC and print the same bytes on stdout and stderr.
both() {
  at "$1" live "${@:2}"
  at "$1" data "${@:2}"
  cmp -s "$tmp/live.out" "$tmp/data.out" ||
    fail "'${*:2}' printed differently through the server:
$(diff "$tmp/live.out" "$tmp/data.out")"
  cmp -s "$tmp/live.err" "$tmp/data.err" ||
    fail "'${*:2}' reported differently through the server:
$(diff "$tmp/live.err" "$tmp/data.err")"
}
has() { grep -qe "$2" "$tmp/$1" || fail "$1 lacks '$2': $(cat "$tmp/$1")"; }
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(($2))" "$tmp/$1"; }
unknown=0123456789abcdef0123456789abcdef
[[ ! -e $tmp/no-store ]] || fail "the test's --data for live should not exist"

echo "== mailbox create (text and --json)"
at 0 live mailbox create
has live.out '^mkey    [0-9a-f]\{32\}$'
has live.out '^secret  [A-Za-z0-9_-]\{43\}$'
has live.out 'the secret is shown only now'
a=$(sed -n 's/^mkey *//p' "$tmp/live.out")
at 0 live --json mailbox create
b=$(jq_ live.out 'd["mkey"]')
[[ $b =~ ^[0-9a-f]{32}$ && $b != "$a" ]] || fail "second mkey '$b'"
[[ $(jq_ live.out 'sorted(d) == ["mkey", "secret"] and len(d["secret"]) == 43') == True ]] ||
  fail "create --json: $(cat "$tmp/live.out")"
[[ ! -e $tmp/no-store ]] || fail "a command through the server created its --data folder"

echo "== mailbox list|show: the same bytes as on the store"
both 0 mailbox list
has live.out "$a"
has live.out "$b"
has live.out '^MKEY  '
both 0 --json mailbox list
[[ $(jq_ live.out 'len(d["mailboxes"]), d["more"]') == "(2, False)" ]] ||
  fail "list --json: $(cat "$tmp/live.out")"
both 0 mailbox list --limit 1
first=$(sed -n '2s/ .*//p' "$tmp/live.out")
has live.out "^more follow: run again with --after $first\$"
both 0 --json mailbox list --limit 1 --after "$first"
[[ $(jq_ live.out 'len(d["mailboxes"]), d["more"]') == "(1, False)" ]] ||
  fail "the second page: $(cat "$tmp/live.out")"
[[ $(jq_ live.out 'd["mailboxes"][0]["mkey"]') != "$first" ]] || fail "--after repeated $first"
both 0 mailbox list --limit 5000  # the API's pages are at most 1000
both 0 mailbox show "$a"
has live.out "^mkey        $a\$"
both 0 --json mailbox show "${b^^}"
[[ $(jq_ live.out 'd["mkey"], "viewers" in d') == "('$b', False)" ]] ||
  fail "show --json: $(cat "$tmp/live.out")"

echo "== connect, connections, disconnect"
at 0 live connect "$a" "$b"
has live.out "^connected $a and $b\$"
at 0 live --json connect "$a" "$b"  # idempotent
[[ $(jq_ live.out 'd') == "{'a': '$a', 'b': '$b', 'connected': True}" ]] ||
  fail "connect --json: $(cat "$tmp/live.out")"
both 0 connections "$a"
[[ $(cat "$tmp/live.out") == "$b" ]] || fail "connections of a: $(cat "$tmp/live.out")"
both 0 --json connections "$b"
[[ $(jq_ live.out 'd["connections"], d["kind"], d["more"]') == "(['$a'], 'connected', False)" ]] ||
  fail "connections --json: $(cat "$tmp/live.out")"
both 0 connections "$a" --kind incoming
has live.out "^$a has no incoming connections\$"
both 0 --json connections "$a" --kind requested --limit 1
at 0 live disconnect "$a" "$b"
has live.out "^disconnected $a and $b\$"
at 0 live --json disconnect "$b" "$a"
[[ $(jq_ live.out 'd["connected"]') == False ]] || fail "disconnect --json: $(cat "$tmp/live.out")"
both 0 connections "$b"
has live.out "^$b has no connected connections\$"

echo "== errors: the same exit status, message and document"
both 1 mailbox show "$unknown"
has live.err "NotFound: no mailbox $unknown"
both 1 --json mailbox show "$unknown"
[[ $(jq_ live.out 'd["error"]["code"], d["error"]["name"]') == "(404, 'NotFound')" ]] ||
  fail "show unknown --json: $(cat "$tmp/live.out")"
both 1 connect "$a" "$a"
has live.err "InvalidArgument"
both 1 connect "$a" "$unknown"
has live.err "NotFound"
both 1 connections "$unknown"
has live.err "NotFound"
both 1 mailbox delete "$unknown"
has live.err "NotFound"
# docs/admin.md: disconnect is 404 if either mailbox is unknown.
both 1 disconnect "$unknown" "$a"
has live.err "NotFound"
both 1 disconnect "$a" "$unknown"
has live.err "NotFound"
both 2 mailbox list --limit 0
both 2 mailbox show not-a-key

echo "== a wrong token and no token"
rc=0
POSTBOX_ADMIN_TOKEN=wrong-token-000000000 "$admin" --server "127.0.0.1:$http_port" --json \
  mailbox create >"$tmp/e5" 2>&1 || rc=$?
[[ $rc == 1 ]] && grep -q Unauthenticated "$tmp/e5" && grep -q '"code": 401' "$tmp/e5" ||
  fail "create with a wrong token: exit $rc, $(cat "$tmp/e5")"
rc=0
POSTBOX_ADMIN_TOKEN=wrong-token-000000000 "$admin" --server "127.0.0.1:$http_port" \
  connect "$a" "$b" 2>"$tmp/e6" || rc=$?
[[ $rc == 1 ]] && grep -q Unauthenticated "$tmp/e6" ||
  fail "connect with a wrong token: exit $rc, $(cat "$tmp/e6")"
rc=0
env -u POSTBOX_ADMIN_TOKEN "$admin" --server "127.0.0.1:$http_port" mailbox list 2>"$tmp/e7" ||
  rc=$?
[[ $rc == 1 ]] && grep -q "admin token" "$tmp/e7" || fail "no token: exit $rc, $(cat "$tmp/e7")"
at 0 live --json mailbox list
[[ $(jq_ live.out 'len(d["mailboxes"])') == 2 ]] || fail "a refused create made a mailbox"
at 0 live connections "$a"
has live.out "has no connected connections"

echo "== commands without a route refuse --server (exit 2, nothing touched)"
for cmd in "init" "stats" "entry list $a" "entry put $a k v" "changes $a" \
  "push-register $a none" "settings show" "endpoint list $a" "purge" "sweep" "uploads" \
  "backup $tmp/backup"; do
  # shellcheck disable=SC2086 # the words of $cmd are the arguments
  at 2 live $cmd
  has live.err "InvalidArgument: '${cmd%% [0-9a-f/]*}' works on the store folder (--data) only"
  [[ ! -s $tmp/live.out ]] || fail "'$cmd' printed: $(cat "$tmp/live.out")"
done
[[ ! -e $tmp/no-store && ! -e $tmp/backup ]] || fail "a refused command touched the disk"
at 2 live --json stats
[[ $(jq_ live.out 'd["error"]["name"]') == InvalidArgument ]] ||
  fail "refusal --json: $(cat "$tmp/live.out")"

echo "== mailbox delete, and what --server wrote is in the store"
at 0 live connect "$a" "$b"
at 0 live mailbox delete "$b"
has live.out "^deleted mailbox $b with its entries, connections and messages\$"
both 1 mailbox show "$b"
both 0 connections "$a"
has live.out "has no connected connections"
at 0 live --json mailbox create
c=$(jq_ live.out 'd["mkey"]')
at 0 live connect "$a" "$c"
at 0 live --json mailbox delete "$a"
[[ $(jq_ live.out 'd') == "{'deleted': '$a'}" ]] || fail "delete --json: $(cat "$tmp/live.out")"
at 0 live --json mailbox show "$c"
cp "$tmp/live.out" "$tmp/c.json"

echo "== lists longer than the API's page (1000)"
# 999 more mailboxes, created in parallel straight through the API (curl's
# config file keeps the token out of the process list); 1000 in all.
if command -v curl >/dev/null; then
  {
    printf 'header = "Authorization: Bearer %s"\n' "$(head -n1 "$tmp/token")"
    printf 'data = ""\n'
    for _ in $(seq 1 999); do printf 'url = "http://127.0.0.1:%s/admin/mailboxes"\n' "$http_port"; done
  } >"$tmp/curl.cfg"
  curl --silent --no-progress-meter --fail --parallel --parallel-max 32 --config "$tmp/curl.cfg" >/dev/null ||
    fail "curl's creates failed"
  both 0 --json mailbox list --limit 1500
  [[ $(jq_ live.out 'len(d["mailboxes"]), d["more"]') == "(1000, False)" ]] ||
    fail "1000 mailboxes over two pages: $(head -c 300 "$tmp/live.out")"
  both 0 mailbox list --limit 999
  [[ $(wc -l <"$tmp/live.out") == 1001 ]] || fail "--limit 999: $(tail -n 2 "$tmp/live.out")"
  has live.out "^more follow: run again with --after"
  both 0 --json mailbox list --limit 1000
  [[ $(jq_ live.out 'len(d["mailboxes"]), d["more"]') == "(1000, False)" ]] ||
    fail "--limit 1000: $(head -c 300 "$tmp/live.out")"
  both 0 --json mailbox list --limit 1001 --after "$(jq_ live.out 'd["mailboxes"][0]["mkey"]')"
  [[ $(jq_ live.out 'len(d["mailboxes"]), d["more"]') == "(999, False)" ]] ||
    fail "--after the first: $(head -c 300 "$tmp/live.out")"
  count=1000
else
  echo "(no curl: the long lists are not checked)"
  count=1
fi

kill "$pid"
wait "$pid" || true
pid=""
at 0 data --json mailbox show "$c"
cmp -s "$tmp/data.out" "$tmp/c.json" || fail "the store's $c: $(diff "$tmp/data.out" "$tmp/c.json")"
at 0 data --json mailbox list --limit 5000
[[ $(jq_ data.out 'len(d["mailboxes"]), "'"$c"'" in [m["mkey"] for m in d["mailboxes"]]') == \
  "($count, True)" ]] || fail "the store after the server stopped: $(head -c 300 "$tmp/data.out")"
at 1 data mailbox show "$a"

rc=0
live sessions 2>"$tmp/e4" || rc=$?
[[ $rc == 1 ]] && grep -q Unavailable "$tmp/e4" || fail "a stopped server: exit $rc, $(cat "$tmp/e4")"
at 1 live mailbox list
has live.err "Unavailable"
echo "admin_live: all checks passed"
