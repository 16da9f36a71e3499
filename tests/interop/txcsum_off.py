#!/usr/bin/env python3
"""Turns transmit checksum offload off on a network interface, as
`ethtool -K IFACE tx off` does (SIOCETHTOOL, ETHTOOL_STXCSUM), for the
AF_XDP tests: an XDP frame carries no checksum state, so frames a veth peer
sends with the checksum left to the "device" would reach berth unfinished.
Run inside the namespace that holds IFACE.

usage: txcsum_off.py IFACE
"""
import ctypes
import fcntl
import socket
import struct
import sys

SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    name = sys.argv[1].encode()
    val = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    ifr = struct.pack("16sP", name, ctypes.addressof(val))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)


if __name__ == "__main__":
    main()
