"""UDP programs for test_udp_python_client_and_server_through_berth_run.sh,
run unmodified either by the kernel or under `berth run`:

  udp_peer.py echo PORT [SECONDS]   echo server on 0.0.0.0:PORT and, when
                                    the host has IPv6, [::]:PORT (IPV6_V6ONLY),
                                    one selectors (epoll) loop; replies come
                                    from the socket the datagram reached
  udp_peer.py ask HOST PORT N       N datagrams of sizes 0..1400 bytes to
                                    an echo server, each answered intact
                                    from HOST:PORT
  udp_peer.py dns ADDR PORT NAME A  a one-question DNS responder: every A
                                    query for NAME is answered with A

Every socket has a timeout and every loop a bound."""
import os
import selectors
import socket
import struct
import sys
import time


def fail(msg):
    print(f"udp_peer: {msg}", file=sys.stderr)
    sys.exit(1)


def echo(port, seconds):
    sel = selectors.DefaultSelector()
    socks = []
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s4.bind(("0.0.0.0", port))
    socks.append(s4)
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.bind(("::", port))
        socks.append(s6)
    except OSError as e:
        print(f"no IPv6 echo: {e}", flush=True)
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        print(f"echo on {s.getsockname()[:2]}", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            for _ in range(64):  # drain: edge or level, both work
                try:
                    data, peer = key.fileobj.recvfrom(65535)
                except BlockingIOError:
                    break
                key.fileobj.sendto(data, peer)
                print(f"{len(data)} from {peer[0]}", flush=True)


def ask(host, port, n):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(1)
    for i in range(n):
        size = (i * 97) % 1401  # within one packet: berth does not fragment
        msg = bytes((i + j) & 0xFF for j in range(size))
        for attempt in range(10):  # a datagram may be lost: ask again
            s.sendto(msg, (host, port))
            try:
                data, peer = s.recvfrom(65535)
            except socket.timeout:
                continue
            break
        else:
            fail(f"datagram {i} ({size} bytes): no answer after 10 tries")
        if data != msg:
            fail(f"datagram {i}: {len(data)} bytes back, sent {size}")
        if peer[0] != host or peer[1] != port:
            fail(f"datagram {i}: answered from {peer}, not {host}:{port}")


def dns(addr, port, name, answer):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(1)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            q, peer = s.recvfrom(512)
        except socket.timeout:
            continue
        if len(q) < 12:
            continue
        qid, = struct.unpack("!H", q[:2])
        body = q[12:]
        end_q = body.find(b"\0") + 5
        question = body[:end_q]
        qtype = struct.unpack("!H", question[-4:-2])[0]
        ok = question[:-4].lower() == qname and qtype == 1
        flags = 0x8180 if question[:-4].lower() == qname else 0x8183
        hdr = struct.pack("!HHHHHH", qid, flags, 1, 1 if ok else 0, 0, 0)
        ans = b""
        if ok:
            ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + \
                socket.inet_aton(answer)
        s.sendto(hdr + question + ans, peer)
        print(f"query type {qtype} from {peer[0]}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        try:
            echo(int(sys.argv[2]),
                 float(sys.argv[3]) if len(sys.argv) > 3 else 120)
        except KeyboardInterrupt:  # SIGINT ends it cleanly
            sys.exit(0)
    elif sys.argv[1] == "ask":
        ask(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "dns":
        dns(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        fail(f"unknown mode {sys.argv[1]}")
