#!/usr/bin/env python3
"""Helpers of test_pmtud_through_1280_router_64mib_intact.sh.

  forge SS_JSON BERTH PEER PORT   send, from the router namespace, a
      "fragmentation needed" (MTU 576) quoting berth's connection to
      PEER:PORT with a sequence number 2^31 away from its SND.UNA (RFC
      5927 §4.1: berth must reject it); prints the quoted seq.
  check PCAP BERTH   from a TUN capture: the first ICMP fragmentation
      needed to BERTH, the largest TCP payload berth sent before it, and
      that after the first INFLIGHT data segments that follow it (sent
      before berth read it) berth sent none above 1240 bytes.
"""
import json
import socket
import struct
import subprocess
import sys

INFLIGHT = 64


def fail(msg):
    print(f"pmtu.py: {msg}", file=sys.stderr)
    sys.exit(1)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def forge(ss_json, berth, peer, port):
    with open(ss_json) as f:
        socks = json.load(f)
    conn = [s for s in socks if s.get("peer") == f"{peer}:{port}"]
    if not conn:
        fail(f"no connection to {peer}:{port} in berth ss: {socks}")
    lport = int(conn[0]["local"].rsplit(":", 1)[1])
    seq = (conn[0]["snd_una"] + (1 << 31)) & 0xffffffff
    b, p = socket.inet_aton(berth), socket.inet_aton(peer)
    qip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, 1, 0x4000, 63, 6, 0,
                      b, p)
    qip = qip[:10] + struct.pack("!H", csum(qip)) + qip[12:]
    qtcp = struct.pack("!HHI", lport, port, seq)
    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, 576) + qip + qtcp
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.sendto(icmp, (berth, 0))
    print(seq)


def check(pcap, berth):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-T", "fields", "-e", "frame.number",
         "-e", "ip.src", "-e", "ip.dst", "-e", "icmp.type", "-e",
         "icmp.code", "-e", "icmp.mtu", "-e", "tcp.len"],
        capture_output=True, text=True, check=True).stdout
    icmp_frame, before, after, late_big, n_after = None, 0, 0, 0, 0
    for line in out.splitlines():
        f = line.split("\t")
        frame, src, dst, itype, icode, mtu, tlen = (f + [""] * 7)[:7]
        src, dst = src.split(",")[0], dst.split(",")[0]
        if (icmp_frame is None and itype.split(",")[0] == "3" and
                icode.split(",")[0] == "4" and dst == berth and
                mtu.split(",")[0] == "1280"):
            icmp_frame = int(frame)
            continue
        if src != berth or not tlen or itype or int(tlen) == 0:
            continue
        n = int(tlen)
        if icmp_frame is None:
            before = max(before, n)
            continue
        n_after += 1
        # What was in flight when berth read the ICMP may still be large
        # (the initial window is 10 segments); nothing after that.
        if n_after > INFLIGHT:
            after = max(after, n)
            if n > 1240:
                late_big += 1
    if icmp_frame is None:
        fail("no ICMP fragmentation needed (MTU 1280) to berth in the capture")
    if before <= 1240:
        fail(f"berth sent no segment larger than 1240 bytes before the ICMP "
             f"(largest {before})")
    if n_after <= INFLIGHT or late_big:
        fail(f"of {n_after} data segments after the ICMP, {late_big} beyond "
             f"the first {INFLIGHT} carried over 1240 bytes (largest {after})")
    print(f"icmp_frame {icmp_frame} largest_before {before} "
          f"largest_after {after} segments_after {n_after}")


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "forge":
        forge(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
