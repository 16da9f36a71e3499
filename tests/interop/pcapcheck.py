#!/usr/bin/env python3
"""Checks on captures of the interop tests (kernel side: dumpcap on the TUN;
berth side: its own --pcap), through tshark. Each subcommand prints what it
checked and exits non-zero with a message naming the segments that differ.

Segments are compared on raw sequence numbers: both captures see the same
packets, so no relative numbering is needed; printed numbers are relative
to each side's ISN, as Wireshark shows them.
"""

import argparse
import collections
import struct
import subprocess
import sys

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# Wireshark's TCP analysis flags. On a clean link none of BAD may appear;
# INFO ones are flow control and are only reported.
BAD = ["retransmission", "fast_retransmission", "spurious_retransmission",
       "out_of_order", "lost_segment", "ack_lost_segment", "duplicate_ack",
       "zero_window_probe", "zero_window_probe_ack", "keep_alive",
       "keep_alive_ack", "reused_ports"]
INFO = ["window_update", "window_full", "zero_window"]

BASE = ["frame.number", "frame.time_relative", "ip.src", "tcp.srcport",
        "ip.dst", "tcp.dstport", "tcp.stream", "tcp.flags", "tcp.seq_raw",
        "tcp.ack_raw", "tcp.len", "tcp.window_size_value",
        "frame.time_epoch"]
ANALYSIS = ["tcp.analysis." + f for f in BAD + INFO]
CHECKSUM = ["ip.checksum.status", "tcp.checksum.status"]

Seg = collections.namedtuple(
    "Seg", ["frame", "time", "src", "sport", "dst", "dport", "stream",
            "flags", "seq", "ack", "len", "win", "epoch", "analysis",
            "csum"])


def fail(msg):
    print(f"pcapcheck: {msg}", file=sys.stderr)
    sys.exit(1)


def tshark(path, fields, extra=()):
    cmd = ["tshark", "-n", "-r", path, *extra, "-Y", "tcp && !icmp",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        fail(f"tshark -r {path}: {r.stderr.strip()}")
    return [line.split("\t") for line in r.stdout.splitlines()]


def segments(path, analysis=False, checksums=False):
    fields = BASE + (ANALYSIS if analysis else []) + \
        (CHECKSUM if checksums else [])
    extra = ["-o", "tcp.check_checksum:TRUE",
             "-o", "ip.check_checksum:TRUE"] if checksums else []
    segs = []
    for row in tshark(path, fields, extra):
        row += [""] * (len(fields) - len(row))
        a = row[len(BASE):len(BASE) + (len(ANALYSIS) if analysis else 0)]
        c = row[len(fields) - len(CHECKSUM):] if checksums else []
        segs.append(Seg(
            frame=int(row[0]), time=float(row[1]), src=row[2],
            sport=int(row[3]), dst=row[4], dport=int(row[5]),
            stream=int(row[6]), flags=int(row[7], 16), seq=int(row[8]),
            ack=int(row[9]), len=int(row[10]), win=int(row[11]),
            epoch=float(row[12]),
            analysis={name for name, v in zip(BAD + INFO, a) if v},
            csum=c))
    return segs


def conn_key(s):
    """The connection, the same whichever way the segment goes."""
    a, b = (s.src, s.sport), (s.dst, s.dport)
    return (a, b) if a < b else (b, a)


def by_conn(segs):
    conns = collections.OrderedDict()
    for s in segs:
        conns.setdefault(conn_key(s), []).append(s)
    return conns


def flag_str(f):
    names = [(SYN, "SYN"), (RST, "RST"), (FIN, "FIN"), (PSH, "PSH"),
             (ACK, "ACK")]
    return ",".join(n for bit, n in names if f & bit) or "none"


def seq_diff(a, b):
    """a - b in sequence space (RFC 9293 §3.4), signed."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d


def describe(s, isn):
    """One segment as Wireshark would show it, relative to the ISNs."""
    rs = seq_diff(s.seq, isn.get((s.src, s.sport), s.seq))
    ra = seq_diff(s.ack, isn.get((s.dst, s.dport), s.ack)) \
        if s.flags & ACK else 0
    return (f"#{s.frame} {s.src}:{s.sport} > {s.dst}:{s.dport} "
            f"[{flag_str(s.flags)}] seq={rs} ack={ra} len={s.len} "
            f"win={s.win}")


def isns(segs):
    isn = {}
    for s in segs:
        if s.flags & SYN:
            isn.setdefault((s.src, s.sport), s.seq)
    return isn


def isns_by_conn(segs):
    """conn_key -> isns() of that connection alone: berth's port 80 is one
    end of every connection, each with its own ISN."""
    return collections.defaultdict(
        dict, {key: isns(conn) for key, conn in by_conn(segs).items()})


def check_handshake(conn):
    """SYN; SYN-ACK acking ISN+1; ACK acking the peer's ISN+1 (RFC 9293
    §3.5, figure 6). Returns a message, or None."""
    if len(conn) < 3:
        return f"only {len(conn)} segments"
    syn, synack, ack = conn[0], conn[1], conn[2]
    isn = isns(conn)
    if syn.flags & (SYN | ACK | RST | FIN) != SYN:
        return f"first segment is not a SYN: {describe(syn, isn)}"
    if (synack.src, synack.flags & (SYN | ACK | RST | FIN)) != \
            (syn.dst, SYN | ACK):
        return f"second segment is not the SYN-ACK: {describe(synack, isn)}"
    if synack.ack != (syn.seq + 1) & 0xFFFFFFFF:
        return (f"SYN-ACK acks {synack.ack}, not ISN+1 = "
                f"{(syn.seq + 1) & 0xFFFFFFFF}")
    if ack.src != syn.src or ack.flags & (SYN | ACK | RST | FIN) != ACK:
        return f"third segment is not the ACK: {describe(ack, isn)}"
    if ack.seq != synack.ack or ack.ack != (synack.seq + 1) & 0xFFFFFFFF:
        return (f"third segment has seq/ack {ack.seq}/{ack.ack}, "
                f"expected {synack.ack}/{(synack.seq + 1) & 0xFFFFFFFF}")
    return None


def cmd_handshake(args):
    conns = by_conn(segments(args.pcap))
    n = 0
    for key, conn in conns.items():
        msg = check_handshake(conn)
        if msg:
            fail(f"handshake of {key}: {msg}")
        n += 1
    if n < args.min:
        fail(f"{n} connections in {args.pcap}, expected at least {args.min}")
    print(f"{n} three-way handshakes: SYN, SYN-ACK acking ISN+1, ACK")


def cmd_close(args):
    """The close of the connection using kernel port PORT: FIN first from
    FIRST; each side sends exactly one FIN, the other side acknowledges it;
    the last segment is the first closer's ACK of the second FIN (it goes
    to TIME-WAIT); no RST."""
    conns = [c for c in by_conn(segments(args.pcap)).values()
             if any(s.sport == args.port or s.dport == args.port
                    for s in c)]
    if len(conns) != 1:
        fail(f"{len(conns)} connections with port {args.port}, expected 1")
    conn = conns[0]
    isn = isns(conn)
    trace = "\n  ".join(describe(s, isn) for s in conn if
                        s.flags & (FIN | RST) or s is conn[-1])
    rst = [s for s in conn if s.flags & RST]
    if rst:
        fail(f"RST in the close:\n  {trace}")
    fins = [s for s in conn if s.flags & FIN]
    first_src = fins[0].src if fins else None
    if first_src != args.first:
        fail(f"first FIN from {first_src}, expected {args.first}:\n  {trace}")
    sides = collections.Counter(s.src for s in fins)
    if len(sides) != 2 or max(sides.values()) != 1:
        fail(f"FINs by side {dict(sides)}, expected one each:\n  {trace}")
    f1, f2 = fins
    end1 = (f1.seq + f1.len + 1) & 0xFFFFFFFF
    end2 = (f2.seq + f2.len + 1) & 0xFFFFFFFF
    acked1 = [s for s in conn if s.src == f2.src and s.flags & ACK and
              s.frame > f1.frame and seq_diff(s.ack, end1) >= 0]
    if not acked1:
        fail(f"first FIN never acknowledged:\n  {trace}")
    last = conn[-1]
    if last.src != f1.src or last.flags & (SYN | FIN | RST | ACK) != ACK \
            or last.ack != end2 or last.len:
        fail(f"last segment is not {f1.src}'s ACK of the second FIN:\n"
             f"  {trace}")
    after = [s for s in conn if s.frame >= f1.frame]
    steps = []  # [text, repeat]: runs of identical steps counted once
    for s in after:
        t = (f"{'berth' if s.src == args.berth else 'kernel'} "
             f"{flag_str(s.flags)}{'+' + str(s.len) if s.len else ''}")
        if steps and steps[-1][0] == t:
            steps[-1][1] += 1
        else:
            steps.append([t, 1])
    text = [t if n == 1 else f"{t} x{n}" for t, n in steps]
    if len(text) > 10:
        text = text[:4] + [f"({len(text) - 8} more)"] + text[-4:]
    print(f"close, {args.first_name} first, {len(after)} segments: "
          + " -> ".join(text))


# A retransmission on a loaded machine, berth not at fault. The kernel
# retransmits by its timers (RTO, or a tail loss probe after as little as
# 2 RTT, i.e. milliseconds on a TUN) when no ACK came back in time. On a
# busy machine berth may not even have read the original from the TUN by
# then. Berth's own capture (the same clock: both captures stamp with
# CLOCK_REALTIME) tells: the retransmission is the load's doing when berth
# ACKed the original within its delayed-ACK time (40 ms) plus scheduling
# slack of reading it, and either read the original only after the kernel
# had retransmitted it, or ACKed it before the retransmission reached it.
BERTH_ACK_BUDGET = 0.040 + 0.150


def seg_end(s):
    return (s.seq + s.len + (1 if s.flags & (SYN | FIN) else 0)) & 0xFFFFFFFF


def acks(s, src, end):
    """s is an ACK from src covering everything below end."""
    return s.src == src and s.flags & ACK and seq_diff(s.ack, end) >= 0


def kernel_original(r, ksegs):
    """The kernel's earlier segment that r retransmits, or None. Either an
    exact copy (same seq and length: an RTO, or a tail loss probe of a
    one-segment flight), or r is the tail of the highest-sequence segment
    sent so far: RFC 8985 §7.3's loss probe when no unsent data may go
    (here: berth's receive window is full), which Linux's
    tcp_send_loss_probe() cuts from a TSO segment of several MSS as its
    last MSS (at (pcount - 1) * mss), so it starts inside the original and
    ends where it ends."""
    sent = [s for s in ksegs if conn_key(s) == conn_key(r) and
            (s.src, s.sport) == (r.src, r.sport) and s.frame < r.frame and
            (s.len or s.flags & (SYN | FIN))]
    same = [s for s in sent if s.seq == r.seq and s.len == r.len]
    if same:
        return same[0]
    end = seg_end(r)
    if any(seq_diff(seg_end(s), end) > 0 for s in sent):
        return None  # something beyond r was sent: not the probe's tail
    tail = [s for s in sent if seg_end(s) == end and
            seq_diff(r.seq, s.seq) > 0]
    return tail[0] if tail else None


def excuse_retransmission(r, ksegs, bsegs, berth):
    """Why the retransmission r (kernel capture) is the load's doing, or
    None when berth may be at fault."""
    if "fast_retransmission" in r.analysis or not (r.len or r.flags &
                                                   (SYN | FIN)):
        return None
    if r.src == berth:
        same = [s for s in ksegs if conn_key(s) == conn_key(r) and
                (s.src, s.sport) == (r.src, r.sport) and s.seq == r.seq and
                s.frame < r.frame and (s.len or s.flags & (SYN | FIN))]
        if not same:
            return None
        o, end = same[0], seg_end(r)
        waited = r.epoch - o.epoch
        # The kernel acknowledged before berth retransmitted: berth read
        # that ACK from the TUN late.
        ack = next((s for s in ksegs if s.frame > o.frame and
                    conn_key(s) == conn_key(r) and acks(s, r.dst, end)),
                   None)
        if ack is None or ack.epoch >= r.epoch:
            return None
        return (f"berth retransmitted {waited * 1000:.1f} ms after the "
                f"original; the kernel had ACKed it "
                f"{(r.epoch - ack.epoch) * 1000:.1f} ms earlier, berth read "
                f"that ACK late")
    # The kernel retransmitted: on berth's own clock, berth ACKed the
    # original promptly once it had read it, and had read it too late to
    # prevent the retransmission or ACKed it before the retransmission came.
    o = kernel_original(r, ksegs)
    if o is None:
        return None
    end = seg_end(r)
    waited = r.epoch - o.epoch
    what = "" if o.seq == r.seq else \
        f" (a loss probe: the last {r.len} bytes of its {o.len})"

    def mine(s, after):
        return next((b for b in bsegs if b.frame > after and
                     conn_key(b) == conn_key(r) and
                     (b.src, b.sport) == (r.src, r.sport) and
                     (b.seq, b.len) == (s.seq, s.len)), None)
    got = mine(o, 0)  # berth's reading of the original, then of r
    again = mine(r, got.frame) if got else None
    if again is None:
        return None
    ack = next((s for s in bsegs if s.epoch >= got.epoch and
                conn_key(s) == conn_key(r) and acks(s, berth, end)), None)
    if ack is None or ack.epoch - got.epoch > BERTH_ACK_BUDGET:
        return None
    if got.epoch >= r.epoch:
        return (f"the kernel retransmitted {waited * 1000:.1f} ms after the "
                f"original{what}, which berth read only "
                f"{(got.epoch - o.epoch) * 1000:.1f} ms after it was sent "
                f"(waiting for a CPU) and ACKed "
                f"{(ack.epoch - got.epoch) * 1000:.1f} ms later")
    if ack.epoch <= again.epoch:
        return (f"the kernel retransmitted {waited * 1000:.1f} ms after the "
                f"original{what}; berth had ACKed it "
                f"{(ack.epoch - got.epoch) * 1000:.1f} ms after reading it, "
                f"before the retransmission reached it")
    return None


def excused_by_load(segs, berth_pcap, berth):
    """Frames whose warnings a busy machine explains: the excused
    retransmissions, and for each the receiver's duplicate ACK answering it
    (RFC 2883's D-SACK)."""
    bsegs = segments(berth_pcap)
    out, excused = {}, []
    for r in segs:
        if not r.analysis & {"retransmission", "spurious_retransmission"}:
            continue
        why = excuse_retransmission(r, segs, bsegs, berth)
        if why is not None:
            out[r.frame] = why
            excused.append(r)
    # The receiver's ACKs of what it read in the same batch, and its
    # response, may come first: the first pure duplicate ACK after the
    # retransmission that covers it and answers no other; the latest
    # retransmission chooses first, the one a duplicate ACK answers.
    for r in reversed(excused):
        answer = next((s for s in segs if s.frame > r.frame and
                       conn_key(s) == conn_key(r) and s.src == r.dst and
                       s.len == 0 and "duplicate_ack" in s.analysis and
                       s.frame not in out and acks(s, r.dst, seg_end(r))),
                      None)
        if answer is not None and answer.analysis <= {"duplicate_ack"} | \
                set(INFO):
            out[answer.frame] = f"the receiver's answer to #{r.frame}"
    return out


def cmd_expert(args):
    segs = segments(args.pcap, analysis=True)
    if not segs:
        fail(f"no TCP segments in {args.pcap}")
    counts = collections.Counter(a for s in segs for a in s.analysis)
    isn = isns_by_conn(segs)

    def desc(s):
        return describe(s, isn[conn_key(s)])
    bad = [s for s in segs if s.analysis & set(BAD)]
    print(f"{len(segs)} segments; " + ", ".join(
        f"{n}={counts[n]}" for n in BAD + INFO))
    if bad and args.berth_pcap:
        excused = excused_by_load(segs, args.berth_pcap, args.berth)
        for s in bad:
            if s.frame in excused:
                print(f"  excused (a loaded machine): {desc(s)} "
                      f"{sorted(s.analysis)}: {excused[s.frame]}")
        bad = [s for s in bad if s.frame not in excused]
    if bad:
        fail("Wireshark TCP analysis warnings on a clean link:\n  " +
             "\n  ".join(f"{desc(s)} {sorted(s.analysis)}"
                         for s in bad[:20]))


def write_raw_pcap(path, pkts):
    """(epoch, IPv4 datagram) pairs as a LINKTYPE_RAW pcap (as berth's)."""
    with open(path, "wb") as f:
        f.write(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for t, p in pkts:
            us = int(round(t * 1e6))
            f.write(struct.pack("=IIII", us // 10**6, us % 10**6, len(p),
                                len(p)))
            f.write(p)


def raw_segment(src, sport, dst, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                      65535, 0, 0) + payload
    addr = [bytes(int(x) for x in a.split(".")) for a in (src, dst)]
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000,
                       64, 6, 0, *addr) + tcp


def cmd_selftest_excuse(args):
    """The load excuse on made-up captures. The kernel sends data at 1.0 s
    and retransmits it at 1.21 s. Excused: berth read the original at 1.25
    (after the retransmission left) and ACKed it 1 ms later; or read it at
    1.001, ACKed at 1.002, before the retransmission arrived. Not excused:
    berth read it at 1.001 and ACKed only after the retransmission arrived
    (1.265); or read it late and ACKed nothing for 250 ms. The same four
    for a loss probe that is the last 10 bytes of a 20-byte original (RFC
    8985 §7.3, cut as Linux cuts a TSO segment); and such a tail is not
    excused when the kernel had sent more data after the original (then
    it is no loss probe), nor when it does not end where the original
    ends."""
    k, b = "198.18.0.1", "198.18.0.2"

    def run(got_at, ack_at, again_at, size=10, rseq=101, rlen=10,
            more=0):
        t = 1000.0
        syn = raw_segment(k, 40000, b, 80, 100, 0, SYN)
        synack = raw_segment(b, 80, k, 40000, 500, 101, SYN | ACK)
        ack = raw_segment(k, 40000, b, 80, 101, 501, ACK)
        data = raw_segment(k, 40000, b, 80, 101, 501, ACK | PSH,
                           b"x" * size)
        again = raw_segment(k, 40000, b, 80, rseq, 501, ACK, b"x" * rlen)
        end = 101 + size + more
        dack = raw_segment(b, 80, k, 40000, 501, end, ACK)
        kp = [(t, syn), (t + .001, synack), (t + .002, ack), (t + 1.0, data),
              (t + 1.21, again), (t + ack_at + .0001, dack),
              (t + again_at + .002, dack)]
        bp = [(t + .0005, syn), (t + .001, synack), (t + .0025, ack),
              (t + got_at, data), (t + ack_at, dack), (t + again_at, again),
              (t + again_at + .0015, dack)]
        if more:
            extra = raw_segment(k, 40000, b, 80, 101 + size, 501, ACK,
                                b"y" * more)
            kp.append((t + 1.0001, extra))
            bp.append((t + got_at + .00001, extra))
        kp.sort(key=lambda x: x[0])
        bp.sort(key=lambda x: x[0])
        kf, bf = f"{args.dir}/selftest-k.pcap", f"{args.dir}/selftest-b.pcap"
        write_raw_pcap(kf, kp)
        write_raw_pcap(bf, bp)
        segs = segments(kf, analysis=True)
        bad = {s.frame for s in segs if s.analysis & set(BAD)}
        return bool(bad) and bad <= set(excused_by_load(segs, bf, b))
    probe = {"size": 20, "rseq": 111, "rlen": 10}
    for kind, kw in (("", {}), ("loss probe: ", probe)):
        if not run(1.25, 1.251, 1.26, **kw):
            fail(f"selftest: {kind}berth read the original late and ACKed "
                 f"at once: not excused")
        if not run(1.001, 1.002, 1.26, **kw):
            fail(f"selftest: {kind}berth ACKed before the retransmission "
                 f"came: not excused")
        if run(1.001, 1.265, 1.26, **kw):
            fail(f"selftest: {kind}an ACK only after the retransmission "
                 f"arrived is excused")
        if run(1.25, 1.55, 1.5, **kw):
            fail(f"selftest: {kind}an ACK 300 ms after reading the segment "
                 f"is excused")
    if run(1.25, 1.251, 1.26, more=10, **probe):
        fail("selftest: the tail of a segment that was not the last sent "
             "is excused as a loss probe")
    if run(1.25, 1.251, 1.26, size=20, rseq=106, rlen=10):
        fail("selftest: a piece from inside a segment is excused as a loss "
             "probe")
    print("selftest: the load excuse takes the load's cases and only those")


def partial_sums(path):
    """frame -> (TCP checksum field, the folded pseudo-header sum it must
    hold if it is partial), for every TCP segment."""
    rows = tshark(path, ["frame.number", "ip.src", "ip.dst", "ip.len",
                         "ip.hdr_len", "tcp.checksum"])
    out = {}
    for r in rows:
        if len(r) < 6 or not r[5]:
            continue
        words = 0
        for a in (r[1], r[2]):
            o = [int(x) for x in a.split(".")]
            words += (o[0] << 8 | o[1]) + (o[2] << 8 | o[3])
        words += 6 + int(r[3]) - int(r[4])  # protocol, TCP length
        while words >> 16:
            words = (words & 0xFFFF) + (words >> 16)
        out[int(r[0])] = (int(r[5], 16), words)
    return out


def negative_zeros(path):
    """Frames whose TCP checksum is 0xffff where the sum makes it 0x0000:
    the same number in ones' complement (RFC 1624 §3), which a receiver
    verifies as good, but Wireshark calls bad. Linux completes a partial
    checksum so (skb_checksum_help: csum_fold(csum) ?: CSUM_MANGLED_0),
    once in 65536 segments: a capture of ~8000 of the kernel's failed
    about one run in ten."""
    r = subprocess.run(["tshark", "-n", "-r", path, "-o",
                        "tcp.check_checksum:TRUE", "-Y",
                        "tcp.checksum == 0xffff && !icmp", "-T", "fields",
                        "-E", "separator=\t", "-e", "frame.number", "-e",
                        "tcp.checksum_calculated"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        fail(f"tshark -r {path}: {r.stderr.strip()}")
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    return {int(f[0]) for f in rows
            if len(f) > 1 and f[1] and int(f[1], 16) == 0}


def checksum_detail(sums, frame):
    """The TCP checksum field and the pseudo-header sum a partial one
    would hold, for a failure message."""
    if frame not in sums:
        return ""
    field, pseudo = sums[frame]
    return f" (field 0x{field:04x}, partial would be 0x{pseudo:04x})"


def frame_hex(path, frame):
    """The bytes of one frame as tshark -x shows them, for a failure
    message: enough to tell what wrote a checksum that is neither."""
    r = subprocess.run(["tshark", "-n", "-r", path, "-Y",
                        f"frame.number == {frame}", "-x"],
                       capture_output=True, text=True, timeout=300)
    return f"\nframe {frame}:\n{r.stdout.rstrip()}"


def cmd_checksums(args):
    """Every IP checksum verifies. Every TCP checksum verifies, or (unless
    --full) is partial: the pseudo-header sum a packet with virtio's
    NEEDS_CSUM carries (Linux's CHECKSUM_PARTIAL, as TUN offloads and TSO
    make: the receiver of the packet, or the kernel cutting it, completes
    it), which is checked to be exactly that sum."""
    segs = segments(args.pcap, checksums=True)
    isn = isns_by_conn(segs)
    wanted = [s for s in segs if not args.src or s.src == args.src]
    bad = [s for s in wanted if "2" in s.csum]
    if bad:
        fail(f"{len(bad)} segments with a bad IP or TCP checksum:\n  " +
             "\n  ".join(f"{describe(s, isn[conn_key(s)])} ip/tcp status "
                         f"{s.csum}"
                         for s in bad[:20]))
    unverified = [s for s in wanted if s.csum != ["1", "1"]]
    if unverified:
        nz = negative_zeros(args.pcap)
        unverified = [s for s in unverified
                      if not (s.csum[0] == "1" and s.frame in nz)]
    partial = []
    if unverified and not args.full:
        sums = partial_sums(args.pcap)
        partial = [s for s in unverified if s.csum[0] == "1" and
                   s.frame in sums and sums[s.frame][0] == sums[s.frame][1]]
        unverified = [s for s in unverified if s not in partial]
    if not wanted or unverified:
        sums = partial_sums(args.pcap) if unverified else {}
        fail(f"{len(unverified)} of {len(wanted)} segments not verified "
             f"(truncated capture, or a wrong partial checksum):\n  " +
             "\n  ".join(f"{describe(s, isn[conn_key(s)])} ip/tcp status "
                         f"{s.csum}{checksum_detail(sums, s.frame)}"
                         for s in unverified[:20]) +
             "".join(frame_hex(args.pcap, s.frame) for s in unverified[:3]))
    if args.min_partial and len(partial) < args.min_partial:
        fail(f"{len(partial)} partial checksums (offloaded), "
             f"at least {args.min_partial} expected")
    print(f"{len(wanted)} segments"
          f"{' from ' + args.src if args.src else ''}: "
          f"IP and TCP checksums good"
          f"{f' ({len(partial)} TCP checksums partial, offloaded)' if partial else ''}")


def pure_ack(t):
    """(flags, seq, ack, len, win): the ACK flag alone, no text."""
    return t[0] == ACK and t[3] == 0


def unmerge(ta, tb):
    """berth's list tb without the pure ACKs its TUN runtime merged away
    before the kernel saw them (a queued pure ACK replaced by the next one
    of its connection, the same SEQ and a later ACK: README, "TUN
    offloads"): where the lists part, berth's segment is such an ACK and
    its successor supersedes it, it is skipped. Returns (list, skipped)."""
    out, skipped, i = [], 0, 0
    for j, t in enumerate(tb):
        nxt = tb[j + 1] if j + 1 < len(tb) else None
        if ((i >= len(ta) or ta[i] != t) and pure_ack(t) and nxt and
                pure_ack(nxt) and nxt[1] == t[1] and seq_diff(nxt[2], t[2]) > 0):
            skipped += 1
            continue
        out.append(t)
        i += 1
    return out, skipped


def cmd_compare(args):
    """Both captures hold the same segments, per connection and direction,
    in the same order: (flags, seq, ack, len, window). With --merged-from,
    the pure ACKs that address's runtime merged away (unmerge) may be
    missing from the kernel's capture."""
    a = by_conn(segments(args.kernel))
    b = by_conn(segments(args.berth))
    merged = 0
    if list(a) != list(b):
        fail(f"connections differ: kernel capture {list(a)}, "
             f"berth capture {list(b)}")
    total = 0
    for key, conn in a.items():
        isn = isns(conn)
        for d in key:
            ka = [s for s in conn if (s.src, s.sport) == d]
            kb = [s for s in b[key] if (s.src, s.sport) == d]
            ta = [(s.flags, s.seq, s.ack, s.len, s.win) for s in ka]
            tb = [(s.flags, s.seq, s.ack, s.len, s.win) for s in kb]
            if ta != tb and d[0] == args.merged_from:
                tb2, skipped = unmerge(ta, tb)
                if ta == tb2:
                    tb, merged = tb2, merged + skipped
            if ta != tb:
                i = next((i for i in range(min(len(ta), len(tb)))
                          if ta[i] != tb[i]), min(len(ta), len(tb)))
                ka_s = describe(ka[i], isn) if i < len(ka) else "(none)"
                kb_s = describe(kb[i], isn) if i < len(kb) else "(none)"
                fail(f"{key} from {d[0]}:{d[1]}: {len(ta)} segments in the "
                     f"kernel capture, {len(tb)} in berth's; first "
                     f"difference at #{i}:\n  kernel: {ka_s}\n"
                     f"  berth:  {kb_s}")
            total += len(ta)
    print(f"{len(a)} connections, {total} segments: the same in both "
          f"captures (flags, seq, ack, len, window per direction)" +
          (f"; {merged} pure ACKs in berth's merged away before the kernel "
           f"saw them" if merged else ""))


def cmd_keepalive(args):
    """Keepalive probes from PROBER and the peer's ACKs to them."""
    segs = segments(args.pcap, analysis=True)
    probes = [s for s in segs if s.src == args.prober and
              "keep_alive" in s.analysis]
    acks = [s for s in segs if s.dst == args.prober and
            "keep_alive_ack" in s.analysis]
    times = " ".join(f"{s.time:.2f}" for s in probes)
    print(f"{len(probes)} keepalive probes (at {times} s), "
          f"{len(acks)} answered")
    if len(probes) < args.min:
        fail(f"{len(probes)} keepalive probes, expected at least {args.min}")
    if len(acks) < len(probes):
        fail(f"only {len(acks)} of {len(probes)} probes answered")


def cmd_count(args):
    """Frames matching a display filter."""
    r = subprocess.run(["tshark", "-n", "-r", args.pcap, "-Y", args.filter,
                        "-T", "fields", "-e", "frame.number"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        fail(f"tshark: {r.stderr.strip()}")
    print(len(r.stdout.split()))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("handshake")
    p.add_argument("pcap")
    p.add_argument("--min", type=int, default=1)
    p.set_defaults(fn=cmd_handshake)

    p = sub.add_parser("close")
    p.add_argument("pcap")
    p.add_argument("--port", type=int, required=True,
                   help="the kernel's port of the connection")
    p.add_argument("--first", required=True, help="address closing first")
    p.add_argument("--berth", default="198.18.0.2")
    p.set_defaults(fn=cmd_close)

    p = sub.add_parser("expert")
    p.add_argument("pcap")
    p.add_argument("--berth-pcap",
                   help="berth's own capture of the run: a timeout "
                   "retransmission that it shows to be the load's doing "
                   "is excused (see excuse_retransmission)")
    p.add_argument("--berth", default="198.18.0.2")
    p.set_defaults(fn=cmd_expert)

    p = sub.add_parser("selftest-excuse")
    p.add_argument("--dir", required=True, help="where to write the pcaps")
    p.set_defaults(fn=cmd_selftest_excuse)

    p = sub.add_parser("checksums")
    p.add_argument("pcap")
    p.add_argument("--src", help="only segments from this address")
    p.add_argument("--full", action="store_true",
                   help="every TCP checksum complete (no offload)")
    p.add_argument("--min-partial", type=int, default=0,
                   help="at least this many partial (offloaded) checksums")
    p.set_defaults(fn=cmd_checksums)

    p = sub.add_parser("compare")
    p.add_argument("kernel")
    p.add_argument("berth")
    p.add_argument("--merged-from", help="the address whose pure ACKs its "
                   "runtime may have merged (missing in the kernel's)")
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser("keepalive")
    p.add_argument("pcap")
    p.add_argument("--prober", required=True)
    p.add_argument("--min", type=int, default=1)
    p.set_defaults(fn=cmd_keepalive)

    p = sub.add_parser("count")
    p.add_argument("pcap")
    p.add_argument("filter")
    p.set_defaults(fn=cmd_count)

    args = ap.parse_args()
    if args.cmd == "close":
        args.first_name = "berth" if args.first == args.berth else "kernel"
    args.fn(args)


if __name__ == "__main__":
    main()
