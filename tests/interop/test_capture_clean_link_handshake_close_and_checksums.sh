#!/usr/bin/env bash
# Captures of a clean link, kernel side (dumpcap on the TUN) and berth's
# own --pcap of the same run, for four connections:
#   A  HTTP/1.0 GET /bytes/200000   berth closes first (python3, which
#                                   reads to EOF and checks the pattern)
#   B  HTTP/1.1 GET / then close    the kernel closes first
#   C  POST /sink of 1 MiB          (data towards berth)
#   D  HTTP/1.0 GET /               berth closes first (python3 reads to
#                                   EOF before closing: curl closes as soon
#                                   as it has the whole response, and its
#                                   FIN may cross berth's)
# Checked:
#   - every connection opens with SYN; SYN-ACK acking ISN+1; ACK (§3.5);
#   - the close of A and D (berth first) and B (kernel first): one FIN each
#     way, each acknowledged, the first closer sends the last ACK, no RST;
#   - no Wireshark TCP analysis warnings: zero retransmission,
#     fast_retransmission, spurious_retransmission, out_of_order,
#     lost_segment, ack_lost_segment, duplicate_ack, zero_window_probe(_ack),
#     keep_alive(_ack), reused_ports (window_update, window_full and
#     zero_window are flow control and only reported). One exception, for
#     a busy machine: a kernel retransmission (its RTO, or a tail loss
#     probe after a few ms: RFC 8985 §7.3, which with berth's window full
#     resends the last MSS of the last TSO segment, so it starts inside
#     that segment and ends where it ends) when berth's own capture shows
#     berth ACKed the original within its delayed-ACK time plus scheduling
#     slack of reading it, and had either read it only after the
#     retransmission left the kernel (berth waited for a CPU) or ACKed it
#     before the retransmission reached it; and berth's duplicate ACK
#     answering that retransmission.
#     A berth that fails to ACK, ACKs late on its own clock, or only once
#     the retransmission arrived still fails (pcapcheck selftest-excuse
#     checks the rule on made-up captures first);
#   - IP and TCP checksums of every segment in both captures verify
#     (tcp.check_checksum / ip.check_checksum on);
#   - berth's pcap holds the same segments as the kernel's capture: per
#     connection and direction the same list of (flags, seq, ack, len,
#     window), except berth's pure ACKs that its TUN runtime replaced by
#     the next one of their connection (the same SEQ, a later ACK) before
#     the write: those are missing from the kernel's capture.
# When dumpcap lost packets (it_capture_drops; a busy machine), the kernel
# capture can be neither analysed nor compared: the handshakes and closes
# are checked in berth's own capture, the checksums in both, and a line
# says so.
source "$(dirname "$0")/lib.sh"
it_setup
IT_PCAP=1 it_berth_start srv http --port 80
it_capture_start kcap

url=http://$IT_BERTH
pa=$(it_peer http10 --host "$IT_BERTH" --path /bytes/200000) || it_fail "request A failed"
pb=$(it_peer http-keepalive --host "$IT_BERTH" --port 80 --count 1) || it_fail "request B failed"
head -c 1048576 /dev/urandom >"$IT_DIR/c"
pc=$(it_ns curl -sS --max-time 10 -H 'Expect:' --data-binary "@$IT_DIR/c" -o "$IT_DIR/c.answer" \
    -w '%{local_port}' "$url/sink") || it_fail "request C failed"
grep -qw "$(sha256sum <"$IT_DIR/c" | cut -d' ' -f1)" "$IT_DIR/c.answer" ||
    it_fail "POST /sink answered '$(cat "$IT_DIR/c.answer")', without the upload's SHA-256"
pd=$(it_peer http10 --host "$IT_BERTH" --path /) || it_fail "request D failed"
it_log "kernel ports: A=$pa B=$pb C=$pc D=$pd"
sleep 0.5 # last ACKs; then berth's pcap is complete once it has stopped
it_capture_stop kcap
it_berth_stop srv

k=$IT_DIR/kcap.pcapng
b=$IT_DIR/srv.pcap
drops=$(it_capture_drops kcap)
if [ "$drops" -ne 0 ]; then
    # Wireshark would see the missing packets as lost segments, and the
    # comparison would differ: only the checks of berth's own capture,
    # which it writes itself and never drops, and the checksums of each
    # packet captured are left.
    it_log "kernel capture incomplete (dumpcap dropped $drops packets, a busy machine): only berth's capture is checked"
    it_pcap handshake "$b" --min 4
    it_pcap close "$b" --port "$pa" --first "$IT_BERTH"
    it_pcap close "$b" --port "$pd" --first "$IT_BERTH"
    it_pcap close "$b" --port "$pb" --first "$IT_KERNEL"
    it_pcap checksums "$k"
    it_pcap checksums "$b"
    it_log "PASS (kernel capture incomplete)"
    exit 0
fi
it_pcap handshake "$k" --min 4
it_pcap handshake "$b" --min 4
it_pcap close "$k" --port "$pa" --first "$IT_BERTH"
it_pcap close "$k" --port "$pd" --first "$IT_BERTH"
it_pcap close "$k" --port "$pb" --first "$IT_KERNEL"
it_pcap selftest-excuse --dir "$IT_DIR"
it_pcap expert "$k" --berth-pcap "$b"
it_pcap checksums "$k"
it_pcap checksums "$b"
it_pcap compare "$k" "$b" --merged-from "$IT_BERTH"
it_log "PASS"
