#!/usr/bin/env python3
"""Kernel-side peers for the interop tests (run inside the test's network
namespace by lib.sh's it_peer): HTTP clients (keep-alive, HTTP/1.0, a slow
reader, an aborting one), echo half-close and full-duplex clients, a
connection-refused probe, a UDP echo client and port-unreachable probe
(either family), and a one-connection server for `berth cat`. Each
subcommand checks what it can and exits non-zero with a one-line message
saying what differed. Every socket has a timeout, so nothing here can hang.
"""

import argparse
import hashlib
import http.client
import os
import socket
import struct
import sys
import threading
import time

TIMEOUT = 30.0  # seconds, any single socket operation


def fail(msg):
    print(f"peer: {msg}", file=sys.stderr)
    sys.exit(1)


# The body of `GET /bytes/N` in `berth http` (tools/berth/http.c): byte i
# is (i * 31 + 7) mod 256, a pattern of period 256.
def pattern_chunk():
    return bytes((i * 31 + 7) % 256 for i in range(256))


def pattern(n):
    chunk = pattern_chunk()
    reps = n // len(chunk) + 1
    return (chunk * reps)[:n]


def pattern_sha256(n):
    chunk = pattern_chunk()
    block = chunk * (1 << 14)  # 4 MiB, a whole number of periods
    h = hashlib.sha256()
    left = n
    while left >= len(block):
        h.update(block)
        left -= len(block)
    h.update(pattern(left))
    return h.hexdigest()


def cmd_pattern_sha256(args):
    print(pattern_sha256(args.n))


def cmd_http_keepalive(args):
    """COUNT requests on one HTTP/1.1 connection; every answer is checked,
    and the local port must never change (http.client would silently
    reconnect if the server closed). The client closes first at the end."""
    conn = http.client.HTTPConnection(args.host, args.port, timeout=TIMEOUT)
    port = None
    for i in range(args.count):
        n = (i * 997) % 20000 if i % 2 else 0
        path = f"/bytes/{n}" if i % 2 else "/"
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            fail(f"request {i} {path}: status {resp.status}")
        if i % 2 and body != pattern(n):
            fail(f"request {i} {path}: body of {len(body)} bytes differs "
                 f"from the pattern")
        if not i % 2 and not body:
            fail(f"request {i} {path}: empty body")
        if resp.will_close:
            fail(f"request {i} {path}: server announced it will close")
        p = conn.sock.getsockname()[1]
        if port is None:
            port = p
        elif p != port:
            fail(f"request {i}: new connection from port {p} "
                 f"(first was {port})")
    conn.close()
    print(port)


def cmd_http10(args):
    """One HTTP/1.0 request; read the response to EOF (the server's FIN)
    before closing, so that the server certainly closes first. The answer
    must be 200 and, for /bytes/N, the pattern. Prints the local port."""
    s = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    port = s.getsockname()[1]
    s.sendall(f"GET {args.path} HTTP/1.0\r\nHost: {args.host}\r\n\r\n"
              .encode())
    resp = bytearray()
    while True:
        b = s.recv(65536)
        if not b:
            break
        resp.extend(b)
    s.close()
    head, sep, body = bytes(resp).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if not sep or status.split()[1:2] != ["200"]:
        fail(f"GET {args.path}: status line {status!r}")
    if args.path.startswith("/bytes/"):
        n = int(args.path[7:])
        if body != pattern(n):
            fail(f"GET {args.path}: body of {len(body)} bytes differs from "
                 f"the pattern")
    print(port)


def cmd_echo_halfclose(args):
    """Send N bytes to an echo server, shutdown(SHUT_WR), read the echo to
    EOF: all N bytes must come back, in order, after the half-close too."""
    data = os.urandom(args.bytes)
    s = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    got = bytearray()
    err = []
    at_shutdown = [None]

    def reader():
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    return
                got.extend(b)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    at_shutdown[0] = len(got)
    t.join(TIMEOUT * 2)
    s.close()
    if t.is_alive():
        fail(f"no EOF from the echo server ({len(got)} of {len(data)} "
             f"bytes back)")
    if err:
        fail(f"reading the echo: {err[0]!r} ({len(got)} of {len(data)} "
             f"bytes back)")
    if bytes(got) != data:
        first = next((i for i in range(min(len(got), len(data)))
                      if got[i] != data[i]), min(len(got), len(data)))
        fail(f"echo differs: {len(got)} bytes back for {len(data)} sent, "
             f"first difference at byte {first}")
    print(f"{len(data)} bytes echoed, {len(data) - at_shutdown[0]} of them "
          f"after our shutdown(SHUT_WR)")


def read_response(s, path):
    """Read one HTTP/1.1 response with Content-Length from s; its body."""
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            fail(f"GET {path}: EOF inside the header")
        buf.extend(b)
    head, _, body = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    if lines[0].split()[1:2] != ["200"]:
        fail(f"GET {path}: status line {lines[0]!r}")
    length = next((int(l.split(":", 1)[1]) for l in lines[1:]
                   if l.lower().startswith("content-length:")), None)
    if length is None:
        fail(f"GET {path}: no Content-Length")
    body = bytearray(body)
    while len(body) < length:
        b = s.recv(65536)
        if not b:
            fail(f"GET {path}: EOF after {len(body)} of {length} bytes")
        body.extend(b)
    return bytes(body)


def cmd_slow_reader(args):
    """GET /bytes/N with a small receive buffer, read nothing for PAUSE
    seconds (the window closes, the server must probe), then read all: the
    body must be the pattern."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(TIMEOUT)
    s.connect((args.host, args.port))
    path = f"/bytes/{args.bytes}"
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {args.host}\r\n\r\n"
              .encode())
    time.sleep(args.pause)
    body = read_response(s, path)
    s.close()
    if body != pattern(args.bytes):
        fail(f"GET {path}: body differs from the pattern")
    print(f"{args.bytes} bytes intact after a {args.pause} s pause")


def cmd_abort_download(args):
    """GET /bytes/N, read AFTER bytes, then close with SO_LINGER 0: the
    kernel sends RST (RFC 9293 §3.10.4 ABORT). Prints the local port."""
    s = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    port = s.getsockname()[1]
    s.sendall(f"GET /bytes/{args.bytes} HTTP/1.1\r\nHost: {args.host}"
              f"\r\n\r\n".encode())
    got = 0
    while got < args.after:
        b = s.recv(65536)
        if not b:
            fail(f"EOF after {got} bytes")
        got += len(b)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print(port)


def cmd_expect_refused(args):
    """connect() must fail with ECONNREFUSED."""
    s = socket.socket()
    s.settimeout(10)
    try:
        s.connect((args.host, args.port))
    except ConnectionRefusedError:
        print("ECONNREFUSED")
        return
    except OSError as e:
        fail(f"connect to {args.host}:{args.port}: {e!r}, "
             f"expected ECONNREFUSED")
    fail(f"connect to {args.host}:{args.port} succeeded, "
         f"expected ECONNREFUSED")


def udp_family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def cmd_udp_echo(args):
    """Send a datagram of each size (random bytes) to HOST:PORT, an echo
    server: each must come back whole, from the address and port it went
    to. Prints how many were echoed."""
    s = socket.socket(udp_family(args.host), socket.SOCK_DGRAM)
    s.settimeout(5)
    for n in args.sizes:
        data = os.urandom(n)
        s.sendto(data, (args.host, args.port))
        try:
            got, peer = s.recvfrom(65536)
        except socket.timeout:
            fail(f"{n} bytes: no echo within 5 s")
        if got != data or peer[:2] != (args.host, args.port):
            fail(f"{n} bytes: echo differs ({len(got)} bytes from {peer})")
    print(len(args.sizes))


def cmd_udp_expect_refused(args):
    """A connected UDP socket sends to HOST:PORT, where nothing listens:
    its next recv() must fail with ECONNREFUSED (the ICMP or ICMPv6 port
    unreachable that came back)."""
    s = socket.socket(udp_family(args.host), socket.SOCK_DGRAM)
    s.connect((args.host, args.port))
    s.settimeout(5)
    s.send(b"hello?")
    try:
        s.recv(100)
    except ConnectionRefusedError:
        print("ECONNREFUSED")
        return
    except socket.timeout:
        fail("timed out: no port unreachable")
    fail("no error: a reply came")


def cmd_duplex_client(args):
    """Connect, send SEND-FILE while reading whatever comes back (a thread
    each way), shutdown(SHUT_WR) after the last byte, read to EOF. Prints
    "BYTES SHA256" of what was received."""
    s = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    h = hashlib.sha256()
    n = [0]
    err = []

    def reader():
        try:
            n[0] = recv_all(s, h)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=reader)
    t.start()
    with open(args.send, "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            s.sendall(b)
    s.shutdown(socket.SHUT_WR)
    t.join(TIMEOUT * 4)
    s.close()
    if t.is_alive() or err:
        fail(f"reading: {err[0] if err else 'no EOF'!r}")
    print(f"{n[0]} {h.hexdigest()}")


def recv_all(s, h):
    n = 0
    while True:
        b = s.recv(1 << 16)
        if not b:
            return n
        h.update(b)
        n += len(b)


def cmd_raw_request(args):
    """Sends DATA (Python escapes: \\r, \\n, \\x00) on a new connection,
    reads the answer to EOF or the end of its head, prints the status
    line."""
    data = args.data.encode().decode("unicode_escape").encode("latin-1")
    s = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    s.sendall(data)
    resp = bytearray()
    while b"\r\n\r\n" not in resp:
        b = s.recv(65536)
        if not b:
            break
        resp.extend(b)
    s.close()
    print(bytes(resp).split(b"\r\n", 1)[0].decode(errors="replace"))


def cmd_many_conns(args):
    """COUNT connections open at once from this one address (like wrk -cN):
    each sends GET / once all are connected, then every answer is read.
    Prints "ANSWERED FAILED"; a connection the server reset counts as
    failed."""
    socks, failed = [], 0
    for _ in range(args.count):
        try:
            socks.append(socket.create_connection((args.host, args.port),
                                                  timeout=TIMEOUT))
        except OSError:
            failed += 1
    answered = 0
    for s in socks:
        try:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {args.host}\r\n\r\n"
                      .encode())
        except OSError:
            pass
    for s in socks:
        try:
            b = s.recv(65536)
            if b.startswith(b"HTTP/1.1 200 "):
                answered += 1
            else:
                failed += 1
        except OSError:
            failed += 1
    for s in socks:
        s.close()
    print(answered, failed)


def cmd_serve(args):
    """Accept one connection on 0.0.0.0:PORT (created before berth's TUN
    exists) and, by mode:
      sink   read to EOF, then close; result "BYTES SHA256"
      source send BYTES of SOURCE-FILE, shutdown(WR), read to EOF; result
             "BYTES SHA256" of what was sent
      hold   wait for the GO file, send "hello\\n", then read to EOF or
             error; result "eof" or the error (keepalive test)
    The result goes to RESULT; RESULT.ready appears once listening."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", args.port))
    ls.listen(1)
    ls.settimeout(args.accept_timeout)
    open(args.result + ".ready", "w").close()
    try:
        c, peer = ls.accept()
    except socket.timeout:
        fail(f"no connection on port {args.port} within "
             f"{args.accept_timeout} s")
    ls.close()
    c.settimeout(args.idle_timeout)
    h = hashlib.sha256()
    if args.mode == "sink":
        n = recv_all(c, h)
        result = f"{n} {h.hexdigest()}"
    elif args.mode == "source":
        n = 0
        with open(args.source, "rb") as f:
            while True:
                b = f.read(1 << 16)
                if not b:
                    break
                c.sendall(b)
                h.update(b)
                n += len(b)
        c.shutdown(socket.SHUT_WR)
        extra = recv_all(c, hashlib.sha256())
        if extra:
            fail(f"received {extra} unexpected bytes")
        result = f"{n} {h.hexdigest()}"
    else:
        deadline = time.monotonic() + 10
        while not os.path.exists(args.go):
            if time.monotonic() > deadline:
                fail("no go file within 10 s")
            time.sleep(0.05)
        c.sendall(b"hello\n")
        try:
            recv_all(c, h)
            result = "eof"
        except OSError as e:
            result = repr(e)
    c.close()
    with open(args.result + ".tmp", "w") as f:
        f.write(result + "\n")
    os.rename(args.result + ".tmp", args.result)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("pattern-sha256")
    p.add_argument("n", type=int)
    p.set_defaults(fn=cmd_pattern_sha256)

    p = sub.add_parser("http-keepalive")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--count", type=int, required=True)
    p.set_defaults(fn=cmd_http_keepalive)

    p = sub.add_parser("http10")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--path", default="/")
    p.set_defaults(fn=cmd_http10)

    p = sub.add_parser("echo-halfclose")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--bytes", type=int, required=True)
    p.set_defaults(fn=cmd_echo_halfclose)

    p = sub.add_parser("slow-reader")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--pause", type=float, required=True)
    p.set_defaults(fn=cmd_slow_reader)

    p = sub.add_parser("abort-download")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--after", type=int, required=True)
    p.set_defaults(fn=cmd_abort_download)

    p = sub.add_parser("duplex-client")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--send", required=True)
    p.set_defaults(fn=cmd_duplex_client)

    p = sub.add_parser("expect-refused")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.set_defaults(fn=cmd_expect_refused)

    p = sub.add_parser("udp-echo")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=7)
    p.add_argument("sizes", type=int, nargs="+")
    p.set_defaults(fn=cmd_udp_echo)

    p = sub.add_parser("udp-expect-refused")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.set_defaults(fn=cmd_udp_expect_refused)

    p = sub.add_parser("raw-request")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--data", required=True)
    p.set_defaults(fn=cmd_raw_request)

    p = sub.add_parser("many-conns")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--count", type=int, required=True)
    p.set_defaults(fn=cmd_many_conns)

    p = sub.add_parser("serve")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["sink", "source", "hold"],
                   required=True)
    p.add_argument("--source")
    p.add_argument("--go")
    p.add_argument("--result", required=True)
    p.add_argument("--accept-timeout", type=float, default=20)
    p.add_argument("--idle-timeout", type=float, default=TIMEOUT)
    p.set_defaults(fn=cmd_serve)

    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
