#!/usr/bin/env python3
"""Hostile peers for the attack suite (tests/attack/), run inside the
test's network namespace. Packets are written straight onto the TUN device
with an AF_PACKET socket, so the kernel fixes nothing up (checksums,
lengths, sources) and any source address can be forged; berth's answers
are read from the same device. Nothing leaves the namespace: every packet
goes to berth, and berth's answers to forged sources die in the kernel
(not a local address, forwarding off). Every loop is bounded in count and
time. Each subcommand prints `key value` lines the test asserts on, and
exits non-zero with a one-line message when an outcome is wrong.
"""

import argparse
import os
import random
import select
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def fail(msg):
    print(f"hostile: {msg}", file=sys.stderr)
    sys.exit(1)


def out(key, value):
    print(f"{key} {value}", flush=True)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def a2b(a):
    return socket.inet_aton(a)


def tcp_opts(mss=None, sackok=False, ts=None, wscale=None, sack=()):
    o = b""
    if mss is not None:
        o += struct.pack("!BBH", 2, 4, mss)
    if sackok:
        o += b"\x04\x02"
    if ts is not None:
        o += struct.pack("!BBII", 8, 10, ts[0], ts[1])
    if wscale is not None:
        o += struct.pack("!BBB", 3, 3, wscale)
    if sack:
        o += b"\x01\x01" + struct.pack("!BB", 5, 2 + 8 * len(sack))
        for s, e in sack:
            o += struct.pack("!II", s & 0xFFFFFFFF, e & 0xFFFFFFFF)
    while len(o) % 4:
        o += b"\x01"
    return o


def segment(src, dst, sport, dport, seq, ack, flags, win=65535, opts=b"",
            payload=b"", ttl=64, ipid=1, bad_tcp_sum=False, doff=None):
    hl = 20 + len(opts)
    off = (hl // 4 if doff is None else doff) << 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, off, flags, win, 0, 0) + opts + payload
    ph = a2b(src) + a2b(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(ph + tcp) ^ (0x5555 if bad_tcp_sum else 0)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    return ipv4(src, dst, tcp, ttl=ttl, ipid=ipid)


def ipv4(src, dst, payload, proto=6, ttl=64, ipid=1, frag=0x4000, ihl=5,
         total=None, bad_sum=False, version=4):
    h = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0,
                    total if total is not None else 20 + len(payload), ipid,
                    frag, ttl, proto, 0, a2b(src), a2b(dst))
    c = csum(h) ^ (0x5555 if bad_sum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def parse(pkt):
    """(src, dst, sport, dport, seq, ack, flags, win, payload_len, opts)"""
    if len(pkt) < 40 or pkt[0] >> 4 != 4 or pkt[9] != 6:
        return None
    ihl = (pkt[0] & 15) * 4
    tot = struct.unpack("!H", pkt[2:4])[0]
    t = pkt[ihl:tot]
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", t[:16])
    doff = (off >> 4) * 4
    return (socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20]), sport,
            dport, seq, ack, flags, win, len(t) - doff, t[20:doff])


def opt_ts(opts):
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            break
        n = opts[i + 1]
        if k == 8 and n == 10:
            return struct.unpack("!II", opts[i + 2:i + 10])
        i += max(n, 2)
    return None


class Tun:
    """Writes packets onto the TUN device and reads what berth sends."""

    def __init__(self, ifname):
        self.ifname = ifname
        self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                                socket.htons(ETH_P_IP))
        self.tx.bind((ifname, ETH_P_IP))
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                                socket.htons(ETH_P_ALL))
        self.rx.bind((ifname, ETH_P_ALL))
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.rx.setblocking(False)

    def send(self, pkt):
        try:
            self.tx.sendto(pkt, (self.ifname, ETH_P_IP))
            return True
        except (BlockingIOError, OSError):
            return False  # the device's queue is full: a dropped packet

    def recv_until(self, deadline, want):
        """Packets berth sent (incoming on the device) until want(p) or the
        deadline; returns the parsed packet or None."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.rx], [], [], min(left, 0.2))
            if not r:
                continue
            while True:
                try:
                    data, addr = self.rx.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == socket.PACKET_OUTGOING:
                    continue  # what we (or the kernel) sent to berth
                p = parse(data)
                if p and want(p):
                    return p

    def tx_dropped(self):
        """Packets the device dropped because berth had not read its queue
        (the TUN's transmit queue, txqueuelen)."""
        with open(f"/sys/class/net/{self.ifname}/statistics/tx_dropped") as f:
            return int(f.read())

    def drain(self):
        while True:
            try:
                self.rx.recvfrom(65535)
            except BlockingIOError:
                return


# ---------------------------------------------------------------------------
# SYN floods.


def cmd_synflood(args):
    """Spoofed SYNs from random sources in 198.18.128.0/17 (never an
    impossible source) at the highest rate this process reaches, or at
    --rate per second, for --seconds or until --stop-file exists; prints
    what was sent."""
    tun = Tun(args.tun)
    rnd = random.Random(args.seed)
    pool = []
    for _ in range(4096):
        src = "198.18.%d.%d" % (rnd.randrange(128, 256), rnd.randrange(1, 255))
        pool.append(segment(src, args.dst, rnd.randrange(1024, 65535),
                            args.port, rnd.getrandbits(32), 0, TH_SYN,
                            opts=tcp_opts(mss=1460, sackok=True,
                                          ts=(rnd.getrandbits(32), 0),
                                          wscale=7)))
    t0 = time.monotonic()
    end = t0 + args.seconds
    sent = failed = 0
    i = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if args.stop_file and (i & 4095) == 0 and os.path.exists(args.stop_file):
            break
        if args.rate:
            due = t0 + sent / args.rate
            if now < due:
                time.sleep(min(due - now, end - now))
                continue
        for _ in range(1 if args.rate else 64):
            if tun.send(pool[i & 4095]):
                sent += 1
            else:
                failed += 1
            i += 1
    secs = time.monotonic() - t0
    out("sent", sent)
    out("dropped_at_device", failed)
    out("rate", int(sent / secs) if secs > 0 else 0)


# ---------------------------------------------------------------------------
# A spoofed peer with its own small TCP, for hostile SACK blocks.


class Peer:
    def __init__(self, tun, src, dst, sport, dport):
        self.tun, self.src, self.dst = tun, src, dst
        self.sport, self.dport = sport, dport
        self.iss = 1000
        self.snd_nxt = self.iss
        self.rcv_nxt = 0
        self.ts_recent = 0

    def mine(self, p):
        return (p[0] == self.dst and p[1] == self.src and p[2] == self.dport
                and p[3] == self.sport)

    def send(self, flags, payload=b"", seq=None, ack=None, **opt):
        if "ts" not in opt:
            opt["ts"] = (int(time.monotonic() * 1000) & 0xFFFFFFFF,
                         self.ts_recent)
        pkt = segment(self.src, self.dst, self.sport, self.dport,
                      self.snd_nxt if seq is None else seq,
                      self.rcv_nxt if ack is None else ack, flags,
                      opts=tcp_opts(**opt), payload=payload)
        self.tun.send(pkt)

    def connect(self, mss):
        self.send(TH_SYN, ack=0, mss=mss, sackok=True, ts=(1, 0))
        self.snd_nxt += 1
        p = self.tun.recv_until(time.monotonic() + 5,
                                lambda p: self.mine(p) and p[6] & TH_SYN)
        if not p or p[6] & (TH_SYN | TH_ACK) != TH_SYN | TH_ACK:
            fail("no SYN-ACK from berth")
        self.rcv_nxt = (p[4] + 1) & 0xFFFFFFFF
        self.una = p[5]
        ts = opt_ts(p[9])
        self.ts_recent = ts[0] if ts else 0
        self.send(TH_ACK)


def cmd_sack(args):
    """A peer announcing MSS 48 downloads /bytes/N and answers every data
    segment with an ACK full of hostile SACK blocks (beyond SND.NXT, below
    SND.UNA, reversed, one byte wide, overlapping, wrapped), moving its
    cumulative ACK forward only slowly; then resets. Checks that no data
    segment exceeds the floor berth puts on a tiny MSS (64 bytes of
    payload) and prints what it saw."""
    tun = Tun(args.tun)
    peer = Peer(tun, args.src, args.dst, 47001, args.port)
    peer.connect(mss=48)
    req = b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % args.bytes
    peer.send(TH_ACK | TH_PSH, req)
    peer.snd_nxt += len(req)
    base = peer.rcv_nxt
    rnd = random.Random(7)
    end = time.monotonic() + args.seconds
    segs = biggest = hostile_acks = 0
    got = {}
    while time.monotonic() < end:
        p = tun.recv_until(min(end, time.monotonic() + 1.0),
                           lambda p: peer.mine(p) and p[8] > 0)
        if not p:
            # Nothing new: acknowledge everything in order so far.
            peer.send(TH_ACK)
            continue
        segs += 1
        biggest = max(biggest, p[8])
        got[p[4]] = p[8]
        ts = opt_ts(p[9])
        if ts:
            peer.ts_recent = ts[0]
        while peer.rcv_nxt in got:  # in-order bytes: the cumulative ACK
            peer.rcv_nxt = (peer.rcv_nxt + got.pop(peer.rcv_nxt)) & 0xFFFFFFFF
        hi = p[4] + p[8]
        blocks = [
            [(hi + 1000, hi + 2000)],                 # beyond SND.NXT
            [(base - 5000, base - 4000)],             # below SND.UNA
            [(hi, p[4])],                             # reversed
            [(p[4], p[4] + 1), (p[4] + 2, p[4] + 3)],  # one byte wide
            [(p[4] - 10, hi + 10), (p[4], hi)],       # overlapping
            [(0xFFFFFF00, 0x100)],                    # wrapped
            [(rnd.getrandbits(32), rnd.getrandbits(32)) for _ in range(3)],
        ][segs % 7]
        peer.send(TH_ACK, sack=blocks, ts=(1 + segs, peer.ts_recent))
        hostile_acks += 1
    peer.send(TH_RST | TH_ACK)
    out("data_segments", segs)
    out("largest_payload", biggest)
    out("hostile_acks", hostile_acks)
    out("bytes_in_order", (peer.rcv_nxt - base) & 0xFFFFFFFF)
    if segs == 0:
        fail("berth sent no data to the MSS 48 peer")
    if biggest > 64:
        fail(f"a data segment of {biggest} bytes to a peer with MSS 48")


# ---------------------------------------------------------------------------
# RFC 5961 blind injection into a real connection.


def cmd_victim(args):
    """A kernel HTTP/1.1 client: connects, prints its port, waits until the
    file --go exists, then makes 5 requests on the same connection and
    checks every body. Exit 0 only if the connection survived intact."""
    s = socket.create_connection((args.dst, args.port), timeout=20)
    out("port", s.getsockname()[1])
    t_end = time.monotonic() + 60
    while not os.path.exists(args.go):
        if time.monotonic() > t_end:
            fail("never told to go on")
        time.sleep(0.05)
    want = bytes((i * 31 + 7) % 256 for i in range(1000))
    for i in range(5):
        s.sendall(b"GET /bytes/1000 HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                fail(f"request {i}: connection closed (reset by injection?)")
            buf += d
        head, body = buf.split(b"\r\n\r\n", 1)
        while len(body) < 1000:
            d = s.recv(65536)
            if not d:
                fail(f"request {i}: closed mid-body")
            body += d
        if not head.startswith(b"HTTP/1.1 200") or body != want:
            fail(f"request {i}: wrong answer")
    s.close()
    out("requests_ok", 5)


def cmd_blind(args):
    """Off-path blind injection (RFC 5961 §3-5) against the kernel client
    at --victim-src:--victim-port: RSTs, SYNs, or data with guessed ACK
    numbers, one per window-sized step of the whole sequence space (so
    one lands in the window), all with forged sources."""
    tun = Tun(args.tun)
    lost0 = tun.tx_dropped()
    step = 65535
    n = 0
    rnd = random.Random(5961)
    for k in range(0, 1 << 32, step):
        # The connection agreed to timestamps: a segment without them is
        # dropped unseen (RFC 7323 §3.2), so the attacker guesses a TSval
        # too; half its guesses pass PAWS.
        ts = tcp_opts(ts=(rnd.getrandbits(32), 0))
        if args.kind == "rst":
            pkt = segment(args.victim_src, args.dst, args.victim_port,
                          args.port, k, 0, TH_RST)
        elif args.kind == "syn":
            pkt = segment(args.victim_src, args.dst, args.victim_port,
                          args.port, k, 0, TH_SYN, opts=ts)
        else:  # data: in-window guesses need an acceptable ACK too (§5)
            pkt = segment(args.victim_src, args.dst, args.victim_port,
                          args.port, k, rnd.getrandbits(32),
                          TH_ACK | TH_PSH, opts=ts, payload=b"INJECTED\r\n")
        while not tun.send(pkt):
            time.sleep(0.001)
        n += 1
        if n % 32 == 0:
            time.sleep(0.001)  # at most ~30k/s: berth reads them all
    out("sent", n)
    out("lost_at_device", tun.tx_dropped() - lost0)


# ---------------------------------------------------------------------------
# Impossible sources and malformed packets.


def cmd_sources(args):
    """SYNs (and an ACK) from sources that cannot send; prints how many."""
    tun = Tun(args.tun)
    d, p = args.dst, args.port
    pkts = [
        segment("255.255.255.255", d, 40000, p, 1, 0, TH_SYN),
        segment("224.0.0.5", d, 40000, p, 1, 0, TH_SYN),
        segment("239.255.255.250", d, 40000, p, 1, 0, TH_SYN),
        segment("0.0.0.0", d, 40000, p, 1, 0, TH_SYN),
        segment("0.1.2.3", d, 40000, p, 1, 0, TH_SYN),
        segment("127.0.0.1", d, 40000, p, 1, 0, TH_SYN),
        segment("127.9.9.9", d, 40000, p + 1, 1, 5, TH_ACK),
        segment(d, d, p, p, 1, 0, TH_SYN),  # LAND
    ]
    tun.drain()
    for x in pkts:
        if not tun.send(x):
            fail("could not write to the device")
    answers = []
    deadline = time.monotonic() + 1.0
    while True:
        a = tun.recv_until(deadline, lambda q: q[0] == d)
        if not a:
            break
        answers.append(a)
    out("sent", len(pkts))
    out("land", 1)
    out("answers", len(answers))


def malformed(d, p):
    """(name, packet, where berth drops it: ip, tcp, udp or icmp)"""
    s = "198.18.0.1"
    ok = segment(s, d, 40100, p, 1, 0, TH_SYN)
    t = ok[20:]
    b = []
    b.append(("short_ip", ok[:12], "ip"))
    # Version 7: no IP berth speaks (6 is IPv6 now, parsed as such).
    b.append(("ip_version_7", ipv4(s, d, t, version=7), "ip"))
    b.append(("ihl_4", ipv4(s, d, t, ihl=4), "ip"))
    b.append(("ihl_beyond_packet", ipv4(s, d, t, ihl=15), "ip"))
    b.append(("total_length_short", ipv4(s, d, t, total=30), "tcp"))
    b.append(("total_length_long", ipv4(s, d, t, total=200), "ip"))
    b.append(("ip_checksum", ipv4(s, d, t, bad_sum=True), "ip"))
    b.append(("fragment_first", ipv4(s, d, t, frag=0x2000), "ip"))
    b.append(("fragment_offset", ipv4(s, d, t, frag=0x0010), "ip"))
    # Other protocols: berth reads UDP and ICMP (a SYN's bytes give a UDP
    # length of 0 and a wrong ICMP checksum: dropped and counted by those
    # layers); any other is dropped at IP (and draws protocol unreachable).
    b.append(("udp", ipv4(s, d, t, proto=17), "udp"))
    b.append(("icmp", ipv4(s, d, t, proto=1), "icmp"))
    b.append(("proto_47", ipv4(s, d, t, proto=47), "ip"))
    b.append(("short_tcp", ipv4(s, d, t[:12]), "tcp"))
    b.append(("tcp_checksum",
              segment(s, d, 40101, p, 1, 0, TH_SYN, bad_tcp_sum=True), "tcp"))
    b.append(("data_offset_4",
              segment(s, d, 40102, p, 1, 0, TH_SYN, doff=4), "tcp"))
    b.append(("data_offset_beyond",
              segment(s, d, 40103, p, 1, 0, TH_SYN, doff=15), "tcp"))
    b.append(("syn_fin", segment(s, d, 40104, p, 1, 0, TH_SYN | TH_FIN), "tcp"))
    b.append(("syn_rst", segment(s, d, 40105, p, 1, 0, TH_SYN | TH_RST), "tcp"))
    b.append(("source_port_0", segment(s, d, 0, p, 1, 0, TH_SYN), "tcp"))
    b.append(("dest_port_0", segment(s, d, 40106, 0, 1, 0, TH_SYN), "tcp"))
    b.append(("option_len_0", segment(s, d, 40107, p, 1, 0, TH_SYN,
                                      opts=b"\x02\x00\x00\x00"), "tcp"))
    b.append(("option_len_1", segment(s, d, 40108, p, 1, 0, TH_SYN,
                                      opts=b"\x08\x01\x00\x00"), "tcp"))
    b.append(("option_beyond_header",
              segment(s, d, 40109, p, 1, 0, TH_SYN,
                      opts=b"\x01\x01\x08\x0a"), "tcp"))
    b.append(("mss_option_len_3", segment(s, d, 40110, p, 1, 0, TH_SYN,
                                          opts=b"\x02\x03\x05\x00"), "tcp"))
    return b


def cmd_malformed(args):
    """The battery, each packet several times; prints the counts of those
    berth must drop at IP parse and at TCP parse."""
    tun = Tun(args.tun)
    n_ip = n_tcp = 0
    for _ in range(args.repeat):
        for name, pkt, where in malformed(args.dst, args.port):
            if not tun.send(pkt):
                fail(f"could not write {name} to the device")
            if where == "ip":
                n_ip += 1
            elif where == "tcp":
                n_tcp += 1
    out("kinds", len(malformed(args.dst, args.port)))
    out("ip", n_ip)
    out("tcp", n_tcp)


def cmd_slowloris(args):
    """From the kernel: --conns silent connections (connect, send nothing)
    and --conns slowloris ones (a request head that never ends, one more
    byte every second), for at most --seconds; prints how many of each the
    server closed (EOF or reset) and the longest any lived."""
    conns = []
    for i in range(2 * args.conns):
        s = socket.create_connection((args.dst, args.port), timeout=10)
        s.setblocking(False)
        slow = i % 2 == 1
        if slow:
            s.send(b"GET /bytes/1 HTTP/1.1\r\nHost: x\r\n")
        conns.append({"s": s, "slow": slow, "t0": time.monotonic(),
                      "closed": None})
    end = time.monotonic() + args.seconds
    next_drip = time.monotonic() + 1
    while time.monotonic() < end:
        open_ = [c for c in conns if c["closed"] is None]
        if not open_:
            break
        r, _, _ = select.select([c["s"] for c in open_], [], [], 0.2)
        for c in open_:
            if c["s"] in r:
                try:
                    d = c["s"].recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    d = b""
                if not d:
                    c["closed"] = time.monotonic() - c["t0"]
        if time.monotonic() >= next_drip:
            next_drip += 1
            for c in open_:
                if c["slow"] and c["closed"] is None:
                    try:
                        c["s"].send(b"X")
                    except OSError:
                        c["closed"] = time.monotonic() - c["t0"]
    for c in conns:
        c["s"].close()
    out("closed_silent", sum(1 for c in conns if not c["slow"] and c["closed"]))
    out("closed_slow", sum(1 for c in conns if c["slow"] and c["closed"]))
    lives = [c["closed"] for c in conns if c["closed"]]
    out("longest_life_ms", int(1000 * max(lives)) if lives else -1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tun", default="bt0")
    ap.add_argument("--dst", default="198.18.0.2")
    ap.add_argument("--port", type=int, default=80)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("synflood")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stop-file", default="")
    p = sub.add_parser("sack")
    p.add_argument("--src", default="198.18.0.50")
    p.add_argument("--bytes", type=int, default=200000)
    p.add_argument("--seconds", type=float, default=5)
    p = sub.add_parser("victim")
    p.add_argument("--go", required=True)
    p = sub.add_parser("blind")
    p.add_argument("--kind", choices=["rst", "syn", "data"], required=True)
    p.add_argument("--victim-src", default="198.18.0.1")
    p.add_argument("--victim-port", type=int, required=True)
    p = sub.add_parser("slowloris")
    p.add_argument("--conns", type=int, default=50)
    p.add_argument("--seconds", type=float, default=20)
    sub.add_parser("sources")
    p = sub.add_parser("malformed")
    p.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    {"synflood": cmd_synflood, "sack": cmd_sack, "victim": cmd_victim,
     "blind": cmd_blind, "sources": cmd_sources,
     "malformed": cmd_malformed, "slowloris": cmd_slowloris}[args.cmd](args)


if __name__ == "__main__":
    main()
