#!/usr/bin/env bash
# berth on a TAP device (--link tap:bt0), the kernel on the device's other
# side: ARP both ways in berth's capture (LINKTYPE_ETHERNET), curl against
# `berth http`, a client against `berth echo`, `berth cat` to a kernel
# server, every byte checked (eth_lib.sh: eth_transfers).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/eth_lib.sh"
it_setup
eth_setup tap
eth_transfers
it_log "PASS"
