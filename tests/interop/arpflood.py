#!/usr/bin/env python3
"""Sends ARP requests for TARGET from many made-up hosts of 198.18.0.0/24
(sender addresses .3 to .254 in turn, each with its own locally
administered MAC) out of IFACE through an AF_PACKET socket: a flood that
must not grow berth's neighbour cache beyond its bound. At most RATE
requests per second; COUNT in all. Run inside the test's namespace.

usage: arpflood.py IFACE TARGET COUNT [RATE]
"""
import socket
import struct
import sys
import time


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    iface, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rate = float(sys.argv[4]) if len(sys.argv) == 5 else 5000.0
    tpa = socket.inet_aton(target)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    t0 = time.monotonic()
    for i in range(count):
        host = 3 + i % 252
        mac = bytes([0x02, 0xf1, 0x00, (i >> 16) & 255, (i >> 8) & 255,
                     i & 255])
        spa = bytes([198, 18, 0, host])
        arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, spa,
                          b"\0" * 6, tpa)
        frame = b"\xff" * 6 + mac + b"\x08\x06" + arp
        s.send(frame.ljust(60, b"\0"))
        ahead = (i + 1) / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    print(f"{count} ARP requests sent")


if __name__ == "__main__":
    main()
