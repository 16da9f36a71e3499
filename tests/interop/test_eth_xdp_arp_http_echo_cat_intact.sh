#!/usr/bin/env bash
# berth on xdp:vb (AF_XDP, copy mode), the kernel at the veth's other end
# (vk): ARP both ways in berth's capture (LINKTYPE_ETHERNET), curl against
# `berth http`, a client against `berth echo`, `berth cat` to a kernel
# server, every byte checked (eth_lib.sh: eth_transfers).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/eth_lib.sh"
it_setup
eth_setup xdp
eth_transfers
it_log "PASS"
