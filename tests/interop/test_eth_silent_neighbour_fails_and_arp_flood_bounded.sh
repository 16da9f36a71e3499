#!/usr/bin/env bash
# On each Ethernet link (tap, packet, xdp): a neighbour that stops
# answering ARP in the middle of a download goes STALE, is probed and
# FAILS, the packets waiting on it are dropped and counted, and the
# download completes intact once it answers again; a flood of 2000 ARP
# requests from 252 made-up hosts leaves the neighbour cache at its bound
# (max=32), every request answered, berth still serving (eth_lib.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/eth_lib.sh"
it_setup
kinds=(tap packet)
"$BERTH" echo --link xdp:nonexistent0 2>&1 | grep -q 'without libxdp' || kinds+=(xdp)
for kind in "${kinds[@]}"; do
    if [ "$kind" = xdp ]; then
        # The veth pair of the packet round, with vk's checksum offload off.
        ETH_KIND=xdp
        ETH_LINK=xdp:vb
        it_ns python3 "$IT_HERE/txcsum_off.py" vk ||
            it_fail "cannot turn vk's transmit checksum offload off"
    else
        eth_setup "$kind"
    fi
    eth_silent_neighbour
    eth_arp_flood
    it_log "$kind: PASS"
done
it_log "PASS"
