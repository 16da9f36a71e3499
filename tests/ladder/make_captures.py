#!/usr/bin/env python3
"""Writes the captures of the ladder's golden tests (tests/ladder/README.md).

Each capture is one textbook connection, built segment by segment with
exact times, numbers and options, so that its ladder never changes unless
`berth ladder` does: a handshake, a close by either side, a simultaneous
close through CLOSING, a lost SYN,ACK (both ends' captures), a reset, a
zero window with an out-of-order segment, over the link types berth reads
(raw IP, Ethernet, Linux cooked SLL and SLL2) and IPv6.

usage: make_captures.py OUTDIR
"""
import os
import struct
import sys

CLI4, SRV4 = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
CLI6 = bytes.fromhex("20010db8000b00000000000000000001")
SRV6 = bytes.fromhex("20010db8000b00000000000000000002")
CPORT, SPORT = 40000, 80
ISN = {"c": 1000, "s": 5000}
SYN_OPTS = {"mss": 1460, "sack_ok": True, "ts": True, "wscale": 7}

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_options(o, tsval):
    out = b""
    if o.get("mss"):
        out += struct.pack("!BBH", 2, 4, o["mss"])
    if o.get("sack_ok"):
        out += b"\x04\x02"
    if o.get("ts"):
        out += struct.pack("!BBII", 8, 10, tsval, 0)
    if o.get("wscale") is not None:
        out += struct.pack("!BBB", 3, 3, o["wscale"])
    if o.get("sack"):
        out += b"\x01\x01" + struct.pack("!BB", 5, 2 + 8 * len(o["sack"]))
        for a, b in o["sack"]:
            out += struct.pack("!II", a & 0xFFFFFFFF, b & 0xFFFFFFFF)
    while len(out) % 4:
        out += b"\x01"
    return out


def tcp(src, dst, sport, dport, seq, ack, flags, win, payload, opts, tsval, v6):
    o = tcp_options(opts, tsval)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, (5 + len(o) // 4) << 4, flags, win, 0, 0)
    seg = hdr + o + payload
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), 6)
    else:
        pseudo = src + dst + struct.pack("!xBH", 6, len(seg))
    c = csum(pseudo + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ip(src, dst, seg, v6, ident):
    if v6:
        return struct.pack("!IHBB", 6 << 28, len(seg), 6, 64) + src + dst + seg
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident & 0xFFFF, 0x4000, 64,
                    6, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + seg


def link(pkt, linktype, v6, outgoing):
    etype = 0x86DD if v6 else 0x0800
    if linktype == 1:  # Ethernet
        return (bytes.fromhex("020000000002020000000001") +
                struct.pack("!H", etype) + pkt)
    if linktype == 113:  # Linux cooked SLL: packet type 4 = outgoing
        return struct.pack("!HHH8sH", 4 if outgoing else 0, 1, 6,
                           bytes(8), etype) + pkt
    if linktype == 276:  # SLL2
        return struct.pack("!HHIHBB8s", etype, 0, 2, 1,
                           4 if outgoing else 0, 6, bytes(8)) + pkt
    return pkt  # 101: raw IP


def write(path, linktype, segments, v6=False, at="c", delay=5.0, isn=0):
    """segments: (ms, who, flags, seq, ack, len, win[, payload]) with seq
    and ack relative to each side's ISN (+ isn). Written in time order; a
    segment from the far end carries the timestamp of its sending, `delay`
    ms before it was captured."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535,
                            linktype))
        for i, s in enumerate(sorted(segments, key=lambda s: s[0])):
            ms, who, flags, seq, ack, n, win = s[:7]
            payload = s[7] if len(s) > 7 and s[7] else bytes(
                (i + k) % 256 for k in range(n))
            other = "s" if who == "c" else "c"
            src, dst = (CLI6, SRV6) if v6 else (CLI4, SRV4)
            sport, dport = CPORT, SPORT
            if who == "s":
                src, dst, sport, dport = dst, src, dport, sport
            opts = SYN_OPTS if flags & SYN else {"ts": True}
            if len(s) > 8:  # SACK blocks, relative to the other's ISN
                opts = dict(opts, sack=[(ISN[other] + isn + a, ISN[other] + isn + b)
                                        for a, b in s[8]])
            sent = ms if who == at else ms - delay
            seg = tcp(src, dst, sport, dport, ISN[who] + isn + seq,
                      ISN[other] + isn + ack if flags & ACK else 0, flags, win,
                      payload, opts, int(round(sent * 10)) & 0xFFFFFFFF, v6)
            pkt = link(ip(src, dst, seg, v6, i + 1), linktype, v6, who == at)
            us = int(round(ms * 1000)) + 1_700_000_000_000_000
            f.write(struct.pack("<IIII", us // 1_000_000, us % 1_000_000,
                                len(pkt), len(pkt)))
            f.write(pkt)


GET = b"GET / HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

# Captured at the client; one-way delay 5 ms.
HANDSHAKE = [
    (0.0, "c", SYN, 0, 0, 0, 64240),
    (10.0, "s", SYN | ACK, 0, 1, 0, 65160),
    (10.1, "c", ACK, 1, 1, 0, 502),
]
EXCHANGE = HANDSHAKE + [
    (10.2, "c", PSH | ACK, 1, 1, len(GET), 502, GET),
    (20.2, "s", ACK, 1, 1 + len(GET), 0, 509),
    (20.4, "s", PSH | ACK, 1, 1 + len(GET), len(OK), 509, OK),
    (20.5, "c", ACK, 1 + len(GET), 1 + len(OK), 0, 502),
]
C, S = 1 + len(GET), 1 + len(OK)  # the next sequence numbers after the data

CLIENT_CLOSES = EXCHANGE + [
    (30.0, "c", FIN | ACK, C, S, 0, 502),
    (40.0, "s", ACK, S, C + 1, 0, 509),
    (45.0, "s", FIN | ACK, S, C + 1, 0, 509),
    (45.1, "c", ACK, C + 1, S + 1, 0, 502),
]
# The server closes first, and the client's FIN rides on its ACK's heels.
SERVER_CLOSES = EXCHANGE + [
    (25.0, "s", FIN | ACK, S, C, 0, 509),
    (25.1, "c", ACK, C, S + 1, 0, 502),
    (25.3, "c", FIN | ACK, C, S + 1, 0, 502),
    (35.3, "s", ACK, S + 1, C + 1, 0, 509),
]
# Both FINs on the wire at once: each end is in FIN-WAIT-1 when the
# other's FIN arrives, so both pass through CLOSING.
SIMULTANEOUS = EXCHANGE + [
    (30.0, "c", FIN | ACK, C, S, 0, 502),
    (31.0, "s", FIN | ACK, S, C, 0, 509),
    (31.1, "c", ACK, C + 1, S + 1, 0, 502),
    (40.0, "s", ACK, S + 1, C + 1, 0, 509),
]
# The server's first SYN,ACK is lost: the client's SYN times out (1 s) and
# is sent again; the server answers it with its SYN,ACK again. Times are
# sending times; each end's capture holds what it sent then, and what it
# received 5 ms after it was sent (the lost segment only at its sender's).
LOST_SYNACK = [
    (0.0, "c", SYN, 0, 0, 0, 64240),
    (5.1, "s", SYN | ACK, 0, 1, 0, 65160, b"", "lost"),
    (1000.0, "c", SYN, 0, 0, 0, 64240),
    (1005.1, "s", SYN | ACK, 0, 1, 0, 65160),
    (1010.2, "c", ACK, 1, 1, 0, 502),
    (1010.3, "c", FIN | ACK, 1, 1, 0, 502),
    (1015.4, "s", ACK, 1, 2, 0, 509),
    (1015.5, "s", FIN | ACK, 1, 2, 0, 509),
    (1020.6, "c", ACK, 2, 2, 0, 502),
]


def captured_at(end, segments, delay=5.0):
    """What the capture at `end` holds of segments given at sending time."""
    out = []
    for s in segments:
        if s[1] == end:
            out.append(s[:8])
        elif len(s) < 9 or s[8] != "lost":
            out.append((s[0] + delay, *s[1:8]))
    return out


# Both ends send a SYN at once (RFC 9293 figure 7): each answers the
# other's SYN with a SYN,ACK and is ESTABLISHED when the other's arrives.
SIMULTANEOUS_OPEN = [
    (0.0, "c", SYN, 0, 0, 0, 64240),
    (1.0, "s", SYN, 0, 0, 0, 65160),
    (1.1, "c", SYN | ACK, 0, 1, 0, 64240),
    (10.0, "s", SYN | ACK, 0, 1, 0, 65160),
    (10.1, "c", PSH | ACK, 1, 1, len(GET), 502, GET),
    (20.1, "s", ACK, 1, C, 0, 509),
]
# The server aborts after the request (SO_LINGER 0: RST); the client's
# next segment draws no answer.
RESET = EXCHANGE[:5] + [
    (21.0, "s", RST | ACK, 1, C, 0, 0),
]
# A connection refused: SYN answered by RST,ACK.
REFUSED = [
    (0.0, "c", SYN, 0, 0, 0, 64240),
    (10.0, "s", RST | ACK, 0, 1, 0, 0),
]
# The client's receive window fills (window 0), the server probes, the
# window opens again; one of the server's segments arrives after the next.
WINDOW = HANDSHAKE + [
    (10.2, "c", PSH | ACK, 1, 1, len(GET), 502, GET),
    (20.2, "s", ACK, 1, C, 1000, 509),
    (20.3, "s", ACK, 1001, C, 1000, 509),
    (20.4, "c", ACK, C, 2001, 0, 0),
    (230.0, "s", ACK, 2000, C, 0, 509),
    (230.1, "c", ACK, C, 2001, 0, 0),
    (500.0, "c", ACK, C, 2001, 0, 502),
    (510.0, "s", ACK, 3001, C, 1000, 509),
    (510.1, "s", ACK, 2001, C, 1000, 509),
    (510.2, "c", ACK, C, 4001, 0, 502),
]


FLAG_NAMES = [(SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK")]


def events_log(path, segments, offset_ms, never_arrived=()):
    """berth's event log (docs/events.md, berth-events/1) of the server's
    side of a client-capture connection, its clock counting from a start
    `offset_ms` before the connection's: the states berth went through, and
    the SYN it received."""
    lines = ['{"schema":"berth-events/1","time_unit":"us","tool":"berth test"}']
    us = lambda ms: int(round((ms + offset_ms) * 1000))
    syn = segments[0][0] + 5
    lines.append('{"time":%d,"name":"tcp:conn","conn":1,"data":{"local":'
                 '"198.18.0.2:80","remote":"198.18.0.1:40000","sock":-1}}'
                 % us(syn))
    # Every segment from the client that reached berth, 5 ms after the
    # capture saw it leave (those at the times in never_arrived did not).
    for seg in segments:
        ms, who, flags, seq, ack, n = seg[:6]
        if who != "c" or ms in never_arrived:
            continue
        names = ",".join(name for bit, name in FLAG_NAMES if flags & bit)
        lines.append('{"time":%d,"name":"tcp:segment_received","conn":1,"data":'
                     '{"flags":"%s","seq":%d,"ack":%d,"len":%d,"win":%d}}'
                     % (us(ms + 5), names, ISN["c"] + seq,
                        ISN["s"] + ack if flags & ACK else 0, n, seg[6]))
    # When the server changed state, by its own clock: a segment from the
    # client arrives 5 ms after the capture saw it leave.
    states = [(syn, "LISTEN", "SYN-RECEIVED", "RCV_SYN"),
              (10.1 + 5, "SYN-RECEIVED", "ESTABLISHED", "RCV_ACK"),
              (30.0 + 5, "ESTABLISHED", "CLOSE-WAIT", "RCV_FIN"),
              (45.0 - 5, "CLOSE-WAIT", "LAST-ACK", "APP_CLOSE"),
              (45.1 + 5, "LAST-ACK", "CLOSED", "RCV_ACK")]
    for ms, a, b, cause in states:
        lines.append('{"time":%d,"name":"tcp:state","conn":1,"data":'
                     '{"from":"%s","to":"%s","cause":"%s"}}'
                     % (us(ms), a, b, cause))
    # In time order, as berth writes it (a state change after the segment
    # that caused it: the sort is stable).
    lines[1:] = sorted(lines[1:], key=lambda l: int(l.split(",")[0][8:]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# The server's second data segment is lost before the client (the capture
# is the client's): the client answers each later one with a duplicate ACK
# whose SACK blocks grow, which make the server resend it (SACK loss
# recovery, RFC 6675) a round trip later; one ACK then covers everything.
SACK = HANDSHAKE + [
    (10.2, "c", PSH | ACK, 1, 1, len(GET), 502, GET),
    (20.2, "s", ACK, 1, C, 1000, 509),
    (20.4, "s", ACK, 2001, C, 1000, 509),
    (20.5, "c", ACK, C, 1001, 0, 502, b"", [(2001, 3001)]),
    (20.6, "s", ACK, 3001, C, 1000, 509),
    (20.7, "c", ACK, C, 1001, 0, 502, b"", [(2001, 4001)]),
    (20.8, "s", PSH | ACK, 4001, C, 1000, 509),
    (20.9, "c", ACK, C, 1001, 0, 502, b"", [(2001, 5001)]),
    (30.6, "s", ACK, 1001, C, 1000, 509),
    (30.7, "c", ACK, C, 5001, 0, 502),
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    w = lambda name, lt, segs, **kw: write(os.path.join(out, name), lt, segs, **kw)
    w("handshake.pcap", 101, HANDSHAKE)
    w("client_closes.pcap", 1, CLIENT_CLOSES)
    w("server_closes.pcap", 113, SERVER_CLOSES)
    w("simultaneous_close.pcap", 276, SIMULTANEOUS)
    w("lost_synack_server.pcap", 101, captured_at("s", LOST_SYNACK), at="s")
    w("lost_synack_client.pcap", 101, captured_at("c", LOST_SYNACK))
    w("reset.pcap", 1, RESET)
    # Two connections on one 4-tuple: the second's new ISN tells them apart.
    refused = os.path.join(out, "refused.tmp")
    again = os.path.join(out, "reset.tmp")
    write(refused, 101, REFUSED)
    write(again, 101, [(s[0] + 100, *s[1:]) for s in RESET], isn=777)
    with open(os.path.join(out, "refused_then_reset.pcap"), "wb") as f:
        f.write(open(refused, "rb").read())
        f.write(open(again, "rb").read()[24:])
    os.remove(refused)
    os.remove(again)
    w("window.pcap", 101, WINDOW)
    w("ipv6_client_closes.pcap", 1, CLIENT_CLOSES, v6=True)
    w("sack_fast_retransmit.pcap", 101, SACK)
    w("simultaneous_open.pcap", 101, SIMULTANEOUS_OPEN)
    events_log(os.path.join(out, "client_closes.events"), CLIENT_CLOSES,
               offset_ms=250.0)
    # The same, but the client's ACK of the response never reached berth.
    events_log(os.path.join(out, "client_closes_ack_lost.events"),
               CLIENT_CLOSES, offset_ms=250.0, never_arrived=(20.5,))


if __name__ == "__main__":
    main()
