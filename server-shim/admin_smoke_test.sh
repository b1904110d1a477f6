#!/usr/bin/env bash
# admin_cli_smoke: runs every postbox-admin command against a store in a
# temporary folder and checks outputs and exit codes (0 ok, 1 operation error,
# 2 usage), including the 403/404/409/410 paths and that --json prints valid
# JSON; the remembered settings (settings show|set), backup and restore with
# their refusals. With PATH_TO_POSTBOX_SERVER it also runs a server on the
# store: settings set and restore refuse while it runs, backup copies while
# writes go on, and the server refuses settings other than the store's.
# Usage: admin_smoke_test.sh PATH_TO_POSTBOX_ADMIN [PATH_TO_POSTBOX_SERVER]
set -euo pipefail

admin=${1:?usage: admin_smoke_test.sh PATH_TO_POSTBOX_ADMIN [PATH_TO_POSTBOX_SERVER]}
server=${2:-}
# python3 parses the --json documents; say so plainly rather than fail obscurely.
command -v python3 >/dev/null || {
  echo "admin_smoke_test.sh: needs python3 (apt-get install python3)" >&2
  exit 1
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postbox-admin-smoke.XXXXXX")
server_pid=''
cleanup() {
  if [[ -n $server_pid ]]; then kill -9 "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
store=$tmp/store
out='' err=''

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# run RC ARGS...: runs the tool on the store; stdout lands in $out, stderr in $err.
run() {
  local want=$1 rc=0
  shift
  "$admin" --data "$store" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
  [[ $rc == "$want" ]] || fail "'$*' exited $rc, expected $want
stdout: $out
stderr: $err"
}
ok() { run 0 "$@"; }
# One python3 answers every JSON question of the run: starting one per check
# costs seconds each on a loaded CI box. It parses the last document with
# json.load (the parser behind `python3 -m json.tool`, which likewise refuses
# trailing data, so stdout must be exactly one document) and evaluates a Python
# expression over it as `d`.
coproc PY {
  python3 -u -c '
import json, sys
for line in sys.stdin:
    path, expr = line.rstrip("\n").split("\t", 1)
    try:
        with open(path) as f:
            d = json.load(f)
        reply = str(eval(expr)) if expr else "valid"
    except Exception as e:
        reply = "ERROR %s: %s" % (type(e).__name__, e)
    print(reply.replace("\n", " "))
'
}
ask() {
  local reply
  printf '%s\t%s\n' "$tmp/out" "$1" >&"${PY[1]}"
  IFS= read -r reply <&"${PY[0]}"
  [[ $reply != ERROR* ]] || fail "JSON check '$1' failed: $reply
stdout: $(cat "$tmp/out")"
  printf '%s\n' "$reply"
}
# json RC ARGS...: as run, with --json, and stdout must be one valid JSON document.
json() {
  run "$@" --json
  ask "" >/dev/null
}
# field EXPR: evaluates a Python expression over the last JSON document `d`.
field() { ask "$1"; }
has_out() { [[ $out == *"$1"* ]] || fail "stdout lacks '$1':
$out"; }
has_err() { [[ $err == *"$1"* ]] || fail "stderr lacks '$1':
$err"; }
same() { [[ $1 == "$2" ]] || fail "$3: got '$1', expected '$2'"; }
# at DIR CMD ARGS...: runs CMD (run, ok, json) with DIR as --data.
at() {
  local store=$1
  shift
  "$@"
}

echo "== usage errors exit 2, help exits 0"
run 2
has_err "subcommand"
run 2 frobnicate
ok --help
has_out "Usage:"
ok entry put --help
has_out "--value-file"
run 2 mailbox
run 2 mailbox show not-a-key
has_err "expected 32 hex characters"
run 2 purge --horizon 5x
has_err "expected <n>[ms|s|m|h|d]"

echo "== a missing store is an operation error that points at init"
run 1 stats
has_err "NotFound"
has_err "init"
[[ ! -e $store ]] || fail "a read command created the store folder"

echo "== init"
ok init
has_out "initialised a new store"
json 0 init
same "$(field 'd["created"]')" "False" "second init"

echo "== mailbox create|list|show"
json 0 mailbox create
alice=$(field 'd["mkey"]')
[[ $alice =~ ^[0-9a-f]{32}$ ]] || fail "mkey '$alice' is not 32 lowercase hex"
[[ -n $(field 'd["secret"]') ]] || fail "no secret"
ok mailbox create
has_out "secret"
bob=$(sed -n 's/^mkey *//p' <<<"$out")
json 0 mailbox create
carol=$(field 'd["mkey"]')
unknown=0123456789abcdef0123456789abcdef
ok mailbox list
for m in "$alice" "$bob" "$carol"; do has_out "$m"; done
has_out "CREATED"
json 0 mailbox list
same "$(field 'len(d["mailboxes"])')" 3 "mailbox count"
same "$(field 'd["more"]')" False "more"
json 0 mailbox list --limit 1
same "$(field 'd["more"]')" True "more with --limit 1"
ok mailbox list --limit 2 --after "$(field 'd["mailboxes"][0]["mkey"]')"
ok mailbox show "$alice"
has_out "$alice"
ok mailbox show "${alice^^}"  # hex in either case
run 1 mailbox show "$unknown"
has_err "NotFound"
json 1 mailbox show "$unknown"
same "$(field 'd["error"]["code"]')" 404 "error document"

echo "== connect|disconnect|connections"
ok connect "$alice" "$bob"
has_out "connected"
ok connect "$bob" "$alice"  # idempotent, undirected
ok connections "$alice"
has_out "$bob"
json 0 connections "$bob"
same "$(field 'd["connections"]')" "['$alice']" "bob's connections"
run 1 connect "$alice" "$alice"
has_err "InvalidArgument"
run 1 connect "$alice" "$unknown"
has_err "NotFound"
run 2 connect "$alice"

echo "== push-register"
ok push-register "$bob" ios token-123
json 0 mailbox show "$bob"
same "$(field 'd["push"]["platform"]')" ios "platform"
same "$(field 'd["push"]["token"]')" token-123 "token"
run 2 push-register "$bob" ios
has_err "needs a push token"
run 2 push-register "$bob" blackberry tok
run 2 push-register "$bob" none tok
ok push-register "$bob" none
has_out "cleared"

echo "== endpoint add|list|revoke"
json 0 endpoint add "$bob" org.example.app
tok="$(field 'd["token"]')"
same "${#tok}" 22 "token length"
json 0 endpoint add "$bob" org.example.app  # idempotent per app id
same "$(field 'd["token"]')" "$tok" "the same endpoint again"
json 0 endpoint list "$bob"
same "$(field 'len(d["endpoints"])')" 1 "one endpoint"
same "$(field 'd["endpoints"][0]["vapid"]')" False "unrestricted"
ok endpoint revoke "$bob" "$tok"
has_out "410"
run 1 endpoint revoke "$bob" "$tok"
has_err "NotFound"
run 2 endpoint add "$bob"
ok endpoint list "$bob"
has_out "no endpoints"

echo "== entry put|get|list|delete"
ok entry put "$alice" greeting hello
has_out "version 1"
json 0 entry put "$alice" greeting aaa --version 1  # same version, smaller bytes: loses
same "$(field 'd["applied"]')" False "losing put"
ok entry put "$alice" greeting aaa --version 1
has_out "nothing changed"
json 0 entry get "$alice" greeting
same "$(field 'd["value"]')" hello "value"
same "$(field 'd["version"]')" 1 "version"
printf 'bin\000\377' >"$tmp/binary"
ok entry put "$alice" blob --value-file "$tmp/binary"
json 0 entry get "$alice" blob
same "$(field 'd["value_hex"]')" 62696e00ff "binary value as hex"
ok entry get "$alice" blob
has_out 'bin\x00\xff'
ok entry list "$alice"
has_out "greeting"
has_out "blob"
json 0 entry list "$alice" --prefix gr
same "$(field '[e["key"] for e in d["entries"]]')" "['greeting']" "prefix list"
json 0 entry delete "$alice" blob
same "$(field 'd["applied"]')" True "delete"
run 1 entry get "$alice" blob
has_err "NotFound"
run 1 entry put "$unknown" k v
has_err "NotFound"
run 2 entry put "$alice" greeting
has_err "value"
run 2 entry put "$alice" greeting v --value-file "$tmp/binary"
run 2 entry put "$alice" greeting v --version minus-one
run 2 entry put "$alice" greeting v --version -1  # must not wrap to 2^64 - 1
run 2 changes "$alice" --limit -1

echo "== post, status, 403/404/409/410"
printf 'pretend this is a video' >"$tmp/video"
id1=000102030405060708090a0b0c0d0e0f
id2=101112131415161718191a1b1c1d1e1f
run 1 post --from "$alice" --to "$carol" "$tmp/video"  # not connected
has_err "PermissionDenied"
json 0 post --from "$alice" --to "$bob" --id "$id1" --meta video/mp4 "$tmp/video"
same "$(field 'd["status"]')" uploaded "new message"
same "$(field 'd["length"]')" 23 "length"
ok post --from "$alice" --to "$bob" --id "$id1" --meta video/mp4 "$tmp/video"  # retry
run 1 post --from "$alice" --to "$bob" --id "$id1" --meta audio/ogg "$tmp/video"
has_err "Conflict"
run 2 post --from "$alice" --to "$bob" "$tmp/no-such-file"
ok status "$bob" "$id1"
has_out "uploaded"
has_out "$id1"
run 1 status "$alice" "$id1" viewed  # only the recipient advances
has_err "PermissionDenied"
run 1 status "$carol" "$id1"  # not a party
has_err "PermissionDenied"
run 1 status "$bob" "$unknown" viewed
has_err "NotFound"
run 2 status "$bob" "$id1" finished
json 0 status "$bob" "$id1" viewed
same "$(field 'd["status"]')" viewed "advanced"
ok status "$bob" "$id1" DOWNLOADED
has_out "never goes down"
json 0 changes "$bob"
same "$(field '[(m["id"], m["status"]) for m in d["incoming"]]')" "[('$id1', 'viewed')]" "incoming"
cursor=$(field 'd["cursor"]')
ok changes "$alice"
has_out "outgoing (1)"
has_out "viewed"

echo "== a newer message in the slot supersedes the older one (410)"
ok post --from "$alice" --to "$bob" --id "$id2" "$tmp/video"
run 1 status "$bob" "$id1"
has_err "Gone"
json 1 status "$alice" "$id1"
same "$(field 'd["error"]["code"]')" 410 "gone"
json 0 changes "$bob" --since "$cursor"
same "$(field '[t["id"] for t in d["tombstones"]]')" "['$id1']" "tombstone"
same "$(field '[m["id"] for m in d["incoming"]]')" "['$id2']" "new incoming"
json 0 changes "$bob" --since "$(field 'd["cursor"]')"
same "$(field 'len(d["incoming"]) + len(d["tombstones"])')" 0 "nothing newer"
json 0 changes "$bob" --limit 1
same "$(field 'd["more"]')" True "more with --limit 1"
ok changes "$bob" --since 0
has_out "tombstones (1)"

echo "== settings show|set; --slot-depth and --open-policy must be the store's"
ok settings show
has_out "slot_depth           1"
has_out "max_blob_size        256MiB"
json 0 settings show
same "$(field 'd["settings"]["tombstone_horizon_ms"]')" 2592000000 "default horizon"
same "$(field 'd["settings"]["posting_policy"]')" connected "default policy"
same "$(field 'd["stored"]')" True "stored"
id3=202122232425262728292a2b2c2d2e2f
run 1 post --from "$alice" --to "$bob" --id "$id3" --slot-depth 2 "$tmp/video"
has_err "slot_depth is 1 in the store, 2 asked"
json 1 post --from "$alice" --to "$bob" --id "$id3" --slot-depth 2 "$tmp/video"
same "$(field 'd["error"]["code"]')" 400 "a setting mismatch"
run 1 status "$bob" "$id3"
has_err "NotFound"  # the refused post wrote nothing
ok settings set slot_depth 2
has_out "slot_depth: 1 -> 2"
json 0 settings set max_meta_size 2KiB
same "$(field '(d["name"], d["before"], d["after"], d["unit"])')" "('max_meta_size', 1024, 2048, 'bytes')" "set"
json 0 settings show
same "$(field 'd["settings"]["slot_depth"]')" 2 "changed depth"
same "$(field 'd["settings"]["max_meta_size"]')" 2048 "changed meta size"
ok post --from "$alice" --to "$bob" --id "$id3" --slot-depth 2 "$tmp/video"  # given and equal
ok status "$bob" "$id2"  # depth 2 keeps it
run 2 post --from "$alice" --to "$bob" --slot-depth 0 "$tmp/video"
run 2 settings
run 2 settings set slot_depth
run 2 settings set no_such_setting 1
has_err "no_such_setting"
run 2 settings set max_chunk_size 1KiB  # per-open, not remembered
run 2 settings set slot_depth 0
has_err "slot_depth must be 1 to"
run 2 settings set max_topic_size 256B
run 2 settings set max_blob_size 5XB
run 2 settings set tombstone_horizon 5x
run 2 settings set posting_policy anyone
json 0 settings show
same "$(field 'd["settings"]["slot_depth"]')" 2 "usage errors changed nothing"
at "$tmp/nowhere" run 1 settings set slot_depth 3
has_err "NotFound"
[[ ! -e $tmp/nowhere ]] || fail "settings set created a store"
id4=303132333435363738393a3b3c3d3e3f
run 1 post --from "$alice" --to "$carol" --id "$id4" --open-policy --topic voice "$tmp/video"
has_err "posting_policy is connected in the store, open asked"
ok settings set posting_policy open
ok post --from "$alice" --to "$carol" --id "$id4" --open-policy --topic voice "$tmp/video"
has_out "voice"
ok settings set posting_policy connected

echo "== several processes use the store at once (LMDB allows it)"
pids=()
for i in 1 2 3 4 5 6; do
  "$admin" --data "$store" entry put "$alice" "parallel.$i" "v$i" >/dev/null &
  pids+=($!)
  "$admin" --data "$store" changes "$bob" >/dev/null &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "a concurrent command failed"; done
json 0 entry list "$alice" --prefix parallel.
same "$(field 'len(d["entries"])')" 6 "concurrent puts"

echo "== stats"
ok stats
has_out "mailboxes"
json 0 stats
same "$(field 'd["mailboxes"]')" 3 "stats mailboxes"

echo "== purge (410 becomes 404) with the store's horizon"
json 0 purge
same "$(field 'd["purged"]')" 0 "nothing is 30 days old"
run 1 purge --horizon 0
has_err "tombstone_horizon is 30d in the store, 0ms asked"
ok settings set tombstone_horizon 0
json 0 purge
same "$(field 'd["horizon_ms"]')" 0 "the store's horizon"
run 1 status "$bob" "$id1"
has_err "NotFound"

echo "== sweep, uploads (no upload in progress from the admin tool)"
json 0 uploads
same "$(field 'd["uploads"]')" "[]" "no uploads"
ok uploads
has_out "no uploads in progress"
run 1 sweep --ttl 0s
has_err "upload_ttl is 1d in the store, 0ms asked"
ok settings set upload_ttl 0
json 0 sweep --ttl 0s  # given and equal
same "$(field 'd["uploads"]')" 0 "nothing to sweep"
same "$(field 'd["upload_ttl_ms"]')" 0 "the store's ttl"
run 2 sweep --ttl 5x
run 2 connections "$alice" --kind sideways
json 0 connections "$alice" --kind incoming
same "$(field 'd["connections"]')" "[]" "no incoming requests"

echo "== disconnect, mailbox delete"
ok disconnect "$alice" "$bob"
json 0 connections "$alice"
same "$(field 'd["connections"]')" "[]" "no connections"
run 1 post --from "$alice" --to "$bob" "$tmp/video"
has_err "PermissionDenied"
ok mailbox delete "$carol"
run 1 mailbox show "$carol"
has_err "NotFound"
run 1 status "$alice" "$id4"
has_err "Gone"
run 1 mailbox delete "$carol"

echo "== backup and restore"
json 0 backup "$tmp/bk1"
same "$(field 'd["stats"]["mailboxes"]')" 2 "mailboxes in the copy"
same "$(field 'd["bytes"]')" "$(stat -c %s "$tmp/bk1/data.mdb")" "bytes"
same "$(field 'd["source"]')" "$store" "source"
[[ ! -e $tmp/bk1/lock.mdb && ! -e $tmp/bk1/data.mdb.partial ]] || fail "backup left more than data.mdb"
ok backup "$tmp/bk2"
has_out "backed up"
run 1 backup "$tmp/bk1"
has_err "not empty"
json 1 backup "$tmp/bk1"
same "$(field 'd["error"]["code"]')" 409 "non-empty backup folder"
run 2 backup
at "$tmp/nowhere" run 1 backup "$tmp/bk3"
has_err "NotFound"
[[ ! -e $tmp/bk3 ]] || fail "a backup of no store made a folder"
at "$tmp/restored" json 0 restore "$tmp/bk1"
same "$(field 'd["set_aside"]')" None "nothing set aside"
same "$(field 'd["stats"]["mailboxes"]')" 2 "mailboxes restored"
at "$tmp/restored" json 0 entry list "$alice" --prefix parallel.
same "$(field 'len(d["entries"])')" 6 "entries restored"
at "$tmp/restored" json 0 settings show
same "$(field 'd["settings"]["slot_depth"]')" 2 "the copy keeps the settings"
at "$tmp/restored" run 1 restore "$tmp/bk1"
has_err "not empty"
at "$tmp/restored" ok entry put "$alice" only-here v
at "$tmp/restored" json 0 restore "$tmp/bk2" --force
aside=$(field 'd["set_aside"]')
[[ $aside == "$tmp/restored.pre-restore-"* && -f $aside/data.mdb ]] || fail "old store not kept: '$aside'"
at "$tmp/restored" run 1 entry get "$alice" only-here
has_err "NotFound"
at "$aside" ok entry get "$alice" only-here
run 2 restore
run 2 restore "$tmp/no-such-backup"
mkdir "$tmp/empty-backup"
at "$tmp/r2" run 1 restore "$tmp/empty-backup"
has_err "NotFound"
[[ ! -e $tmp/r2 ]] || fail "a refused restore made the folder"
mkdir "$tmp/bad-backup"
head -c 8192 "$tmp/bk1/data.mdb" >"$tmp/bad-backup/data.mdb"
at "$tmp/restored" run 1 restore "$tmp/bad-backup" --force
has_err "truncated"
at "$tmp/restored" json 0 entry list "$alice" --prefix parallel.
same "$(field 'len(d["entries"])')" 6 "a bad backup changed the store"

if [[ -n $server ]]; then
  echo "== with a server on the store"
  "$server" --data "$store" --listen 127.0.0.1:0 >"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!
  for _ in $(seq 300); do
    grep -q "listening" "$tmp/server.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited: $(cat "$tmp/server.err")"
    sleep 0.1
  done
  grep -q "listening" "$tmp/server.out" || fail "the server did not start"
  grep -q "store settings: slot_depth=2, posting_policy=connected" "$tmp/server.err" ||
    fail "the server does not run the stored settings: $(cat "$tmp/server.err")"
  run 1 settings set slot_depth 3
  has_err "Unavailable"
  has_err "process $server_pid"
  json 0 settings show
  same "$(field 'd["settings"]["slot_depth"]')" 2 "a refused change"
  (for i in $(seq 20); do "$admin" --data "$store" entry put "$alice" "during.$i" v >/dev/null; done) &
  writer=$!
  json 0 backup "$tmp/bk-live"
  wait "$writer" || fail "writing during the backup failed"
  at "$tmp/live-restored" ok restore "$tmp/bk-live"
  at "$tmp/live-restored" json 0 entry list "$alice" --prefix parallel.
  same "$(field 'len(d["entries"])')" 6 "the live copy"
  run 1 restore "$tmp/bk1" --force
  has_err "Unavailable"
  [[ -z $(compgen -G "$store.pre-restore-*") ]] || fail "a refused restore moved the store"
  kill -TERM "$server_pid"
  wait "$server_pid" || fail "the server did not stop cleanly"
  server_pid=''
  rc=0
  "$server" --data "$store" --listen 127.0.0.1:0 --slot-depth 5 >/dev/null 2>"$tmp/server.err" || rc=$?
  [[ $rc == 1 ]] || fail "a server asking for another slot depth exited $rc"
  grep -q "slot_depth is 2 in the store, 5 asked" "$tmp/server.err" ||
    fail "the refusal does not name both values: $(cat "$tmp/server.err")"
  ok settings set slot_depth 3  # stopped: now it may
else
  echo "(no postbox-server given: the checks with a running server are skipped)"
fi

echo "== tls-pin"
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=pin \
    -keyout "$tmp/pin.key" -out "$tmp/pin.pem" 2>/dev/null
  want="sha256/$(openssl x509 -in "$tmp/pin.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"
  ok tls-pin "$tmp/pin.pem"
  same "$out" "$want" "the pin openssl computes"
  json 0 tls-pin "$tmp/pin.pem"
  same "$(field 'd["pin"]')" "$want" "the pin in JSON"
  run 1 tls-pin "$tmp/pin.key"
  has_err "InvalidArgument"
  run 1 tls-pin "$tmp/missing.pem"
  has_err "NotFound"
else
  echo "(no openssl command: tls-pin's comparison skipped)"
fi

echo "admin_cli_smoke: all checks passed"
