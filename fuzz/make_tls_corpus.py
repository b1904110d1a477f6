#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/tls_fuzzer.cc (its header has the input
format): real ClientHellos made with Python's ssl module over memory BIOs,
garbage first flights, and post-handshake payloads (plaintext, injected
records, mixed). Usage: make_tls_corpus.py fuzz/corpus/tls"""
import os
import random
import ssl
import sys


def client_hello(alpn=("postbox",), tls12_only=False, sni="localhost"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls12_only:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def record(content_type, body, version=b"\x03\x03"):
    return bytes([content_type]) + version + len(body).to_bytes(2, "big") + body


def segment(plain, data):
    out = b""
    for i in range(0, len(data), 255):
        part = data[i:i + 255]
        out += bytes([1 if plain else 0, len(part)]) + part
    return out


def main(folder):
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(15)
    hello = client_hello()
    seeds = {
        # (a) first flights: byte 0 = options (mode 0), byte 1 = cut seed.
        "a_client_hello": b"\x00\x00" + hello,
        "a_client_hello_in_pieces": b"\x00\x07" + hello,
        "a_half_client_hello": b"\x00\x03" + hello[: len(hello) // 2],
        "a_alpn_h2_only": b"\x00\x00" + client_hello(alpn=("h2",)),
        "a_no_alpn_no_sni": b"\x00\x00" + client_hello(alpn=(), sni=None),
        "a_tls12_client_hello": b"\x04\x00" + client_hello(tls12_only=True),
        "a_tls12_to_13_only": b"\x00\x00" + client_hello(tls12_only=True),
        "a_mtls_server": b"\x08\x05" + hello,
        "a_http_request": b"\x00\x00GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a_oversized_record": b"\x00\x00" + b"\x16\x03\x01\xff\xff" + b"A" * 300,
        "a_two_hellos": b"\x00\x00" + hello + hello,
        "a_alert_first": b"\x00\x00" + record(21, b"\x02\x28"),
        # (b) after a real handshake.
        "b_plaintext": b"\x02\x00" + b"hello over tls " * 20,
        "b_plaintext_cut": b"\x02\x09" + bytes(rng.randrange(256) for _ in range(3000)),
        "b_plaintext_to_client": b"\x0a\x03" + b"from the server " * 10,
        "b_plaintext_tls12": b"\x06\x02" + b"tls 1.2 records " * 10,
        "b_inject_random": b"\x01\x00" + bytes(rng.randrange(256) for _ in range(600)),
        "b_inject_app_record": b"\x01\x00" + record(23, bytes(40)),
        "b_inject_ccs": b"\x01\x00" + record(20, b"\x01"),
        "b_inject_plain_alert": b"\x01\x00" + record(21, b"\x01\x00"),
        "b_inject_handshake": b"\x01\x00" + hello,
        "b_inject_header_only": b"\x01\x00" + b"\x17\x03\x03\x00\x20",
        "b_inject_tls12_client": b"\x05\x00" + record(23, bytes(64)),
        "b_inject_into_client": b"\x09\x00" + record(23, bytes(40)),
        "b_mixed": b"\x03\x04" + segment(True, b"first ") + segment(False, record(23, bytes(30)))
        + segment(True, b"never"),
        "b_mixed_plain_only": b"\x03\x01" + segment(True, b"a" * 300) + segment(True, b"b" * 40),
        "b_mixed_partial_then_plain": b"\x03\x00" + segment(True, b"ok") + segment(False, b"\x17\x03")
        + segment(True, b"spoiled"),
    }
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
