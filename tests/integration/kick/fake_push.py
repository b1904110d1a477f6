#!/usr/bin/env python3
"""A fake APNs or FCM (with its OAuth 2 token endpoint) for the kick tests.

HTTP/2 over TLS on 127.0.0.1 (ALPN h2, a certificate from a CA made at start,
written to DIR/ca.pem), so the drivers take their production path. Each
request is checked exactly as Apple's "Sending notification requests to APNs"
and Google's FCM HTTP v1 / OAuth 2.0 service-account documents specify —
method, :path, headers, the JWT's header, claims and signature (verified with
the public key) and the body's shape — and recorded with what was wrong with
it. A request with something wrong is answered 400, so a test that expects a
delivery fails on it.

A control port (plain TCP on 127.0.0.1, one JSON object a line each way) lets
the test script answers and read what came:
  {"op":"script","kind":"apns"|"fcm"|"token","responses":[{"status":410,
   "body":{...},"headers":{"retry-after":"3"},"delay":0.5}, ...]}
  {"op":"requests"}                -> {"requests":[{...}, ...]}
  {"op":"expire_tokens"}           -> every provider / access token seen so far
                                      is refused from now on (403 / 401)
  {"op":"set","token_expires_in":N}
Unscripted requests succeed. The first stdout line is
{"port":P,"control":C,"ca":"DIR/ca.pem"}. SIGTERM ends it.
"""

import argparse
import asyncio
import base64
import datetime
import ipaddress
import json
import os
import re
import signal
import ssl
import sys
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.x509.oid import NameOID

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
APNS_HEADERS = {"apns-topic", "apns-push-type", "apns-priority", "apns-expiration",
                "apns-collapse-id", "apns-id"}


def b64url_decode(s):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", s):
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def json_body(body, errors):
    """The body as JSON, or None with the error recorded."""
    try:
        return json.loads(body)
    except ValueError:
        errors.append("body is not JSON")
        return None


def make_tls(folder):
    """A CA and a certificate for 127.0.0.1 it signed; the CA goes to ca.pem."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postbox test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path = os.path.join(folder, "ca.pem")
    with open(ca_path, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    cert_path = os.path.join(folder, "server.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path)
    ctx.set_alpn_protocols(["h2"])
    return ctx, ca_path


class Jwt:
    """A compact JWT split and decoded; `errors` says what is malformed."""

    def __init__(self, text):
        self.errors = []
        self.header = self.claims = None
        parts = text.split(".")
        if len(parts) != 3:
            self.errors.append("JWT: not three parts")
            return
        try:
            self.header = json.loads(b64url_decode(parts[0]))
            self.claims = json.loads(b64url_decode(parts[1]))
            self.signature = b64url_decode(parts[2])
        except ValueError as e:
            self.errors.append("JWT: " + str(e))
            return
        self.signing_input = (parts[0] + "." + parts[1]).encode()

    def verify_es256(self, public_key):
        if len(self.signature) != 64:
            return "ES256 signature is %d bytes, not 64 (r||s)" % len(self.signature)
        der = utils.encode_dss_signature(int.from_bytes(self.signature[:32], "big"),
                                         int.from_bytes(self.signature[32:], "big"))
        try:
            public_key.verify(der, self.signing_input, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "ES256 signature does not verify"
        return None

    def verify_rs256(self, public_key):
        try:
            public_key.verify(self.signature, self.signing_input, padding.PKCS1v15(),
                              hashes.SHA256())
        except InvalidSignature:
            return "RS256 signature does not verify"
        return None


class Fake:
    def __init__(self, args):
        self.args = args
        self.scripts = {"apns": [], "fcm": [], "token": []}
        self.requests = []
        self.refused = set()  # tokens refused (expired) from now on
        self.issued = set()   # FCM access tokens handed out
        self.tokens_made = 0
        self.token_expires_in = 3600
        self.port = 0
        if args.service == "apns":
            with open(args.key, "rb") as f:
                self.public_key = serialization.load_pem_private_key(f.read(), None).public_key()
        else:
            with open(args.service_account) as f:
                self.account = json.load(f)
            self.public_key = serialization.load_pem_private_key(
                self.account["private_key"].encode(), None).public_key()

    # ---- checks ----
    def check_apns(self, h, body, errors):
        now = time.time()
        m = re.fullmatch(r"/3/device/([0-9a-fA-F]+)", h.get(":path", ""))
        if not m:
            errors.append(":path %r is not /3/device/<hex token>" % h.get(":path"))
        auth = h.get("authorization", "")
        if not auth.startswith("bearer "):
            errors.append("authorization is not 'bearer <JWT>'")
            return None
        token = auth[len("bearer "):]
        jwt = Jwt(token)
        errors.extend(jwt.errors)
        if not jwt.errors:
            if jwt.header != {"alg": "ES256", "kid": self.args.key_id}:
                errors.append("JWT header %r is not {alg: ES256, kid: %s}" %
                              (jwt.header, self.args.key_id))
            c = jwt.claims
            if not isinstance(c, dict) or set(c) != {"iss", "iat"}:
                errors.append("JWT claims %r are not exactly {iss, iat}" % (c,))
            else:
                if c["iss"] != self.args.team_id:
                    errors.append("JWT iss %r is not the team id" % c["iss"])
                if not isinstance(c["iat"], int) or not now - 3600 <= c["iat"] <= now + 60:
                    errors.append("JWT iat %r is not an integer within the last hour" % c["iat"])
            bad = jwt.verify_es256(self.public_key)
            if bad:
                errors.append(bad)
        for name in h:
            if name.startswith("apns-") and name not in APNS_HEADERS:
                errors.append("unknown header " + name)
        if h.get("apns-topic") != self.args.topic:
            errors.append("apns-topic %r is not %r" % (h.get("apns-topic"), self.args.topic))
        push_type = h.get("apns-push-type")
        if push_type not in ("alert", "background"):
            errors.append("apns-push-type %r is not alert or background" % push_type)
        priority = h.get("apns-priority")
        if priority not in ("5", "10") or (push_type == "background" and priority != "5"):
            errors.append("apns-priority %r (push type %r)" % (priority, push_type))
        if not re.fullmatch(r"[0-9]+", h.get("apns-expiration", "")):
            errors.append("apns-expiration is not a UNIX epoch in seconds")
        collapse = h.get("apns-collapse-id", "")
        if not collapse or len(collapse.encode()) > 64:
            errors.append("apns-collapse-id is missing or over 64 bytes")
        if not UUID_RE.match(h.get("apns-id", "")):
            errors.append("apns-id %r is not a lowercase canonical UUID" % h.get("apns-id"))
        if len(body) > 4096:
            errors.append("payload over 4096 bytes")
        payload = json_body(body, errors)
        if payload is None:
            return token
        aps = payload.get("aps") if isinstance(payload, dict) else None
        if not isinstance(aps, dict):
            errors.append("no aps dictionary")
        elif push_type == "background" and aps != {"content-available": 1}:
            errors.append("a background push's aps must be exactly {content-available: 1}")
        elif push_type == "alert" and not isinstance(aps.get("alert"), (dict, str)):
            errors.append("an alert push without aps.alert")
        return token

    def check_token(self, h, body, errors):
        now = time.time()
        uri = self.token_uri()
        if h.get(":path") != urllib.parse.urlsplit(uri).path:
            errors.append(":path %r is not the token_uri's" % h.get(":path"))
        if h.get("content-type") != "application/x-www-form-urlencoded":
            errors.append("content-type %r" % h.get("content-type"))
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True, strict_parsing=True)
        if set(form) != {"grant_type", "assertion"} or any(len(v) != 1 for v in form.values()):
            errors.append("form fields %r are not exactly grant_type and assertion" % list(form))
            return
        if form["grant_type"][0] != JWT_BEARER:
            errors.append("grant_type %r" % form["grant_type"][0])
        jwt = Jwt(form["assertion"][0])
        errors.extend(jwt.errors)
        if jwt.errors:
            return
        want_header = {"alg": "RS256", "typ": "JWT"}
        if "private_key_id" in self.account:
            want_header["kid"] = self.account["private_key_id"]
        if jwt.header != want_header:
            errors.append("JWT header %r is not %r" % (jwt.header, want_header))
        c = jwt.claims
        if not isinstance(c, dict) or set(c) != {"iss", "scope", "aud", "iat", "exp"}:
            errors.append("JWT claims %r are not exactly iss, scope, aud, iat, exp" % (c,))
        else:
            if c["iss"] != self.account["client_email"]:
                errors.append("JWT iss is not the client_email")
            if c["scope"] != FCM_SCOPE:
                errors.append("JWT scope %r" % c["scope"])
            if c["aud"] != uri:
                errors.append("JWT aud %r is not the token_uri %r" % (c["aud"], uri))
            if not isinstance(c["iat"], int) or abs(c["iat"] - now) > 60:
                errors.append("JWT iat is not now")
            elif not isinstance(c["exp"], int) or not c["iat"] < c["exp"] <= c["iat"] + 3600:
                errors.append("JWT exp is not within an hour after iat")
        bad = jwt.verify_rs256(self.public_key)
        if bad:
            errors.append(bad)

    def check_fcm(self, h, body, errors):
        want = "/v1/projects/%s/messages:send" % self.account["project_id"]
        if h.get(":path") != want:
            errors.append(":path %r is not %r" % (h.get(":path"), want))
        auth = h.get("authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if token is None or (token not in self.issued and token not in self.refused):
            errors.append("authorization is not 'Bearer <an access token this fake issued>'")
        if not h.get("content-type", "").startswith("application/json"):
            errors.append("content-type %r" % h.get("content-type"))
        payload = json_body(body, errors)
        if payload is None:
            return token
        msg = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(msg, dict) or set(payload) != {"message"}:
            errors.append("body is not {message: {...}}")
            return token
        if set(msg) - {"token", "data", "android", "apns", "webpush", "notification"}:
            errors.append("unknown message fields %r" % sorted(msg))
        if not isinstance(msg.get("token"), str) or not msg["token"]:
            errors.append("message.token is not a registration token")
        data = msg.get("data", {})
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            errors.append("message.data values must all be strings")
        elif any(k in ("from", "notification", "message_type") or k.startswith(("google", "gcm"))
                 for k in data):
            errors.append("message.data uses a reserved key")
        android = msg.get("android", {})
        if set(android) - {"priority", "collapse_key", "ttl", "data", "notification",
                           "restricted_package_name", "direct_boot_ok"}:
            errors.append("unknown android fields %r" % sorted(android))
        if android.get("priority", "normal") not in ("normal", "high"):
            errors.append("android.priority %r" % android.get("priority"))
        if "ttl" in android and not re.fullmatch(r"[0-9]+(\.[0-9]{1,9})?s", android["ttl"]):
            errors.append("android.ttl %r is not a Duration like '3600s'" % android["ttl"])
        return token

    def token_uri(self):
        return "https://127.0.0.1:%d/token" % self.port

    # ---- answers ----
    def answer(self, h, body, conn):
        """(status, headers, body bytes, delay) for one request, and records it."""
        errors = []
        method = h.get(":method")
        if method != "POST" or h.get(":scheme") != "https" or not h.get(":authority"):
            errors.append("not a POST over https with an :authority (%r)" % method)
        used = None
        if self.args.service == "apns":
            kind = "apns"
            used = self.check_apns(h, body, errors)
        elif h.get(":path") == urllib.parse.urlsplit(self.token_uri()).path:
            kind = "token"
            self.check_token(h, body, errors)
        else:
            kind = "fcm"
            used = self.check_fcm(h, body, errors)
        self.requests.append({"kind": kind, "headers": h, "body": body.decode("utf-8", "replace"),
                              "errors": errors, "time": time.time(), "conn": conn})
        if errors:
            if kind == "apns":
                return 400, {}, json.dumps({"reason": "FakeRejected", "errors": errors}), 0
            return 400, {}, json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                  "message": "; ".join(errors)}}), 0
        if used is not None and used in self.refused:
            if kind == "apns":
                return 403, {}, json.dumps({"reason": "ExpiredProviderToken"}), 0
            return 401, {}, json.dumps({"error": {"code": 401, "status": "UNAUTHENTICATED",
                                                  "message": "expired"}}), 0
        if self.scripts[kind]:
            r = self.scripts[kind].pop(0)
            body = r.get("body", "")
            if kind == "token" and r["status"] == 200 and isinstance(body, dict):
                self.issued.add(body.get("access_token"))
            return (r["status"], r.get("headers", {}),
                    body if isinstance(body, str) else json.dumps(body), r.get("delay", 0))
        if kind == "apns":
            return 200, {"apns-id": h.get("apns-id", "")}, "", 0
        if kind == "token":
            self.tokens_made += 1
            token = "fake-access-%d" % self.tokens_made
            self.issued.add(token)
            return 200, {"content-type": "application/json"}, json.dumps(
                {"access_token": token, "expires_in": self.token_expires_in,
                 "token_type": "Bearer"}), 0
        return 200, {"content-type": "application/json"}, json.dumps(
            {"name": "projects/%s/messages/%d" % (self.account["project_id"],
                                                  len(self.requests))}), 0

    def control(self, cmd):
        op = cmd.get("op")
        if op == "script":
            self.scripts[cmd["kind"]].extend(cmd["responses"])
            return {"ok": True}
        if op == "requests":
            return {"requests": self.requests}
        if op == "expire_tokens":
            self.refused.update(r["headers"].get("authorization", "").split(" ", 1)[-1]
                                for r in self.requests)
            self.issued -= self.refused
            return {"ok": True}
        if op == "set":
            self.token_expires_in = cmd["token_expires_in"]
            return {"ok": True}
        return {"error": "unknown op %r" % op}


class H2Protocol(asyncio.Protocol):
    connections = 0

    def __init__(self, fake):
        self.fake = fake
        H2Protocol.connections += 1
        self.id = H2Protocol.connections
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.streams = {}

    def connection_made(self, transport):
        self.transport = transport
        if transport.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
            transport.close()
            return
        self.conn.initiate_connection()
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data):
        try:
            events = self.conn.receive_data(data)
        except Exception:  # a protocol error: the client is at fault
            self.transport.close()
            return
        for e in events:
            if isinstance(e, h2.events.RequestReceived):
                self.streams[e.stream_id] = (dict(e.headers), bytearray())
            elif isinstance(e, h2.events.DataReceived):
                self.streams[e.stream_id][1].extend(e.data)
                self.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                headers, body = self.streams.pop(e.stream_id)
                asyncio.ensure_future(self.respond(e.stream_id, headers, bytes(body)))
            elif isinstance(e, h2.events.StreamReset):
                self.streams.pop(e.stream_id, None)
        self.transport.write(self.conn.data_to_send())

    async def respond(self, stream_id, headers, body):
        status, extra, text, delay = self.fake.answer(headers, body, self.id)
        if delay:
            await asyncio.sleep(delay)
        if self.transport.is_closing():
            return
        data = text.encode()
        try:
            self.conn.send_headers(stream_id, [(":status", str(status))] + list(extra.items()) +
                                   [("content-length", str(len(data)))], end_stream=not data)
            if data:
                self.conn.send_data(stream_id, data, end_stream=True)
        except Exception:  # the client reset the stream meanwhile
            return
        self.transport.write(self.conn.data_to_send())


async def serve_control(fake, reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write((json.dumps(fake.control(json.loads(line))) + "\n").encode())
        await writer.drain()
    writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--service", choices=["apns", "fcm"], required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--key", help="apns: the .p8 signing key (its public half verifies)")
    p.add_argument("--key-id")
    p.add_argument("--team-id")
    p.add_argument("--topic")
    p.add_argument("--service-account", help="fcm: the service-account JSON file")
    args = p.parse_args()
    fake = Fake(args)
    ctx, ca_path = make_tls(args.dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: H2Protocol(fake), "127.0.0.1", 0, ssl=ctx)
    fake.port = server.sockets[0].getsockname()[1]
    control = await asyncio.start_server(lambda r, w: serve_control(fake, r, w), "127.0.0.1", 0)
    print(json.dumps({"port": fake.port, "control": control.sockets[0].getsockname()[1],
                      "ca": ca_path}), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    # Never outlive the test: a fake left behind ends itself after ten minutes.
    try:
        await asyncio.wait_for(stop.wait(), timeout=600)
    except asyncio.TimeoutError:
        pass
    server.close()
    control.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
