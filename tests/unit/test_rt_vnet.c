/* The runtime's virtio-net header handling (src/rt/tun.c), without a TUN
 * device: a read's header gives the core's input flags, a super-packet's
 * IPv4 total length is set to the real length with a valid header
 * checksum, what berth cannot take is refused; a write's header is zero
 * for a complete packet and GSO_TCPV4 + NEEDS_CSUM for a super-segment;
 * a pure ACK queued for writing is replaced only by a later pure ACK of
 * its connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/virtio_net.h>

#include "rt/rt_impl.h"
#include "wire/checksum.h"

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t host16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* A read: virtio-net header, then an IPv4/TCP datagram of len bytes with
 * total length field tot and a valid header checksum for that field. */
static uint8_t *make_read(size_t len, uint16_t tot, uint8_t flags,
                          uint8_t gso_type, uint16_t gso_size)
{
    uint8_t *b = calloc(1, RT_VNET_HDR_LEN + len);
    assert_non_null(b);
    struct virtio_net_hdr h = {.flags = flags,
                               .gso_type = gso_type,
                               .hdr_len = 52,
                               .gso_size = gso_size,
                               .csum_start = 20,
                               .csum_offset = 16};
    memcpy(b, &h, sizeof h);
    uint8_t *ip = b + RT_VNET_HDR_LEN;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    ip[8] = 64;
    ip[9] = 6;
    ip[12] = 198, ip[13] = 18, ip[14] = 0, ip[15] = 1;
    ip[16] = 198, ip[17] = 18, ip[18] = 0, ip[19] = 2;
    uint16_t c = csum_fold(csum_add(0, ip, 20));
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    ip[32] = 8 << 4; /* TCP data offset 32 bytes */
    return b;
}

static void rx_flags_follow_needs_csum_and_data_valid(void **state)
{
    (void)state;
    uint8_t *b = make_read(52, 52, 0, VIRTIO_NET_HDR_GSO_NONE, 0);
    assert_int_equal(rt_tun_rx_flags(b), 0);
    b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    assert_int_equal(rt_tun_rx_flags(b), BERTH_IN_CSUM_OK);
    b[0] = VIRTIO_NET_HDR_F_DATA_VALID;
    assert_int_equal(rt_tun_rx_flags(b), BERTH_IN_CSUM_OK);
    free(b);
}

static void rx_super_packet_gets_its_real_length_and_checksum(void **state)
{
    (void)state;
    /* The kernel's total length may be 0 (or a segment's) on a packet
     * coalesced beyond it. */
    const uint16_t tots[] = {0, 1500};
    for (size_t i = 0; i < 2; i++) {
        size_t len = 52 + 40 * 1448;
        uint8_t *b = make_read(len, tots[i], VIRTIO_NET_HDR_F_NEEDS_CSUM,
                               VIRTIO_NET_HDR_GSO_TCPV4, 1448);
        assert_int_equal(rt_tun_rx_prepare(b, RT_VNET_HDR_LEN + len), 0);
        uint8_t *ip = b + RT_VNET_HDR_LEN;
        assert_int_equal(be16(ip + 2), len);
        assert_int_equal(csum_fold(csum_add(0, ip, 20)), 0);
        free(b);
    }
}

static void rx_plain_packet_untouched(void **state)
{
    (void)state;
    uint8_t *b = make_read(60, 52, 0, VIRTIO_NET_HDR_GSO_NONE, 0);
    uint8_t copy[70];
    memcpy(copy, b, sizeof copy);
    /* link padding past the total length stays as it was */
    assert_int_equal(rt_tun_rx_prepare(b, RT_VNET_HDR_LEN + 60), 0);
    assert_memory_equal(b, copy, sizeof copy);
    free(b);
}

static void rx_refuses_what_berth_cannot_take(void **state)
{
    (void)state;
    uint8_t *b = make_read(3000, 3000, 0, VIRTIO_NET_HDR_GSO_UDP, 1400);
    assert_int_equal(rt_tun_rx_prepare(b, RT_VNET_HDR_LEN + 3000), -1);
    free(b);
    b = make_read(3000, 3000, 0, VIRTIO_NET_HDR_GSO_TCPV6, 1400);
    assert_int_equal(rt_tun_rx_prepare(b, RT_VNET_HDR_LEN + 3000), -1);
    free(b);
    b = make_read(52, 52, 0, VIRTIO_NET_HDR_GSO_NONE, 0);
    assert_int_equal(rt_tun_rx_prepare(b, RT_VNET_HDR_LEN - 1), -1);
    free(b);
    /* No IPv4 datagram is longer than 65535 bytes. */
    b = make_read(65536, 0, 0, VIRTIO_NET_HDR_GSO_TCPV4, 1448);
    assert_int_equal(rt_tun_rx_prepare(b, RT_VNET_HDR_LEN + 65536), -1);
    free(b);
}

static void
tx_header_zero_for_complete_packet_gso_for_super_segment(void **state)
{
    (void)state;
    uint8_t *b = make_read(52 + 10 * 1448, 52 + 10 * 1448, 0, 0, 0);
    const uint8_t *ip = b + RT_VNET_HDR_LEN;
    uint8_t h[RT_VNET_HDR_LEN], zero[RT_VNET_HDR_LEN] = {0};
    memset(h, 0xff, sizeof h);
    rt_tun_tx_header(h, ip, 52, 0);
    assert_memory_equal(h, zero, sizeof h);
    rt_tun_tx_header(h, ip, 52 + 10 * 1448, 1448);
    assert_int_equal(h[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h[1], VIRTIO_NET_HDR_GSO_TCPV4);
    assert_int_equal(host16(h + 2), 52);   /* hdr_len: IPv4 + TCP header */
    assert_int_equal(host16(h + 4), 1448); /* gso_size */
    assert_int_equal(host16(h + 6), 20);   /* csum_start: the TCP header */
    assert_int_equal(host16(h + 8), 16);   /* csum_offset: its checksum */
    free(b);
}

/* A pure ACK as berth sends it: IPv4 (or IPv6) + TCP with the timestamp
 * option (NOP NOP TS), ports 9000 -> 40000, SEQ 1000, the given ACK. */
static size_t make_ack(uint8_t *p, bool v6, uint32_t ack)
{
    size_t ihl = v6 ? 40 : 20, len = ihl + 32;
    memset(p, 0, len);
    if (v6) {
        p[0] = 0x60;
        p[5] = 32; /* payload length */
        p[6] = 6;
        p[7] = 64;
        p[23] = 2; /* source 2001:db8::2 (enough for the test) */
        p[39] = 1; /* destination ...::1 */
        p[8] = p[24] = 0x20;
    } else {
        p[0] = 0x45;
        p[3] = (uint8_t)len;
        p[6] = 0x40; /* DF */
        p[8] = 64;
        p[9] = 6;
        p[12] = 198, p[13] = 18, p[15] = 2;
        p[16] = 198, p[17] = 18, p[19] = 1;
    }
    uint8_t *t = p + ihl;
    t[0] = 9000 >> 8, t[1] = 9000 & 255, t[2] = 40000 >> 8, t[3] = 40000 & 255;
    t[4] = 0, t[5] = 0, t[6] = 1000 >> 8, t[7] = 1000 & 255;
    t[8] = (uint8_t)(ack >> 24), t[9] = (uint8_t)(ack >> 16);
    t[10] = (uint8_t)(ack >> 8), t[11] = (uint8_t)ack;
    t[12] = 8 << 4; /* 32 bytes */
    t[13] = 0x10;   /* ACK */
    t[14] = 0xff, t[15] = 0xff;
    t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10; /* NOP NOP TS */
    return len;
}

/* Only a later cumulative ACK of the same connection, with nothing else
 * in either, replaces the one queued before it. */
static void ack_superseded_only_by_a_later_pure_ack_of_its_flow(void **state)
{
    (void)state;
    uint8_t a[128], b[128];
    for (int v6 = 0; v6 < 2; v6++) {
        size_t ihl = v6 ? 40 : 20;
        size_t la = make_ack(a, v6, 5000), lb = make_ack(b, v6, 70000);
        assert_true(rt_tun_ack_supersedes(a, la, b, lb));
        assert_false(rt_tun_ack_supersedes(b, lb, a, la)); /* older */
        lb = make_ack(b, v6, 5000); /* a duplicate ACK: both go */
        assert_false(rt_tun_ack_supersedes(a, la, b, lb));
        /* Across the wrap of the sequence space. */
        la = make_ack(a, v6, 0xffffff00u);
        lb = make_ack(b, v6, 0x100);
        assert_true(rt_tun_ack_supersedes(a, la, b, lb));
        la = make_ack(a, v6, 5000);
        lb = make_ack(b, v6, 70000);
        /* Another port, another address, another sequence number. */
        b[ihl + 3]++;
        assert_false(rt_tun_ack_supersedes(a, la, b, lb));
        lb = make_ack(b, v6, 70000);
        b[v6 ? 39 : 19]++;
        assert_false(rt_tun_ack_supersedes(a, la, b, lb));
        lb = make_ack(b, v6, 70000);
        b[ihl + 7]++;
        assert_false(rt_tun_ack_supersedes(a, la, b, lb));
        /* Any flag but ACK (PSH, FIN, ECE) in either. */
        const uint8_t flags[] = {0x18, 0x11, 0x50, 0x14};
        for (size_t i = 0; i < sizeof flags; i++) {
            lb = make_ack(b, v6, 70000);
            b[ihl + 13] = flags[i];
            assert_false(rt_tun_ack_supersedes(a, la, b, lb));
            assert_false(rt_tun_ack_supersedes(b, lb, a, la));
        }
        /* A SACK block where the timestamp was (NOP NOP SACK of 8). */
        lb = make_ack(b, v6, 70000);
        b[ihl + 22] = 5;
        assert_false(rt_tun_ack_supersedes(a, la, b, lb));
        assert_false(rt_tun_ack_supersedes(b, lb, a, la));
        /* Data: the IP length counts a byte more than the headers. */
        lb = make_ack(b, v6, 70000);
        b[v6 ? 5 : 3]++;
        b[lb] = 'x';
        assert_false(rt_tun_ack_supersedes(a, la, b, lb + 1));
        /* A length that disagrees with the header. */
        lb = make_ack(b, v6, 70000);
        assert_false(rt_tun_ack_supersedes(a, la, b, lb - 4));
    }
    /* IPv4 against IPv6. */
    size_t la = make_ack(a, false, 5000), lb = make_ack(b, true, 70000);
    assert_false(rt_tun_ack_supersedes(a, la, b, lb));
    /* An IPv4 fragment. */
    lb = make_ack(b, false, 70000);
    b[6] = 0x20; /* more fragments */
    assert_false(rt_tun_ack_supersedes(a, la, b, lb));
}

static void offload_description_names_what_is_on(void **state)
{
    (void)state;
    char buf[128];
    struct rt_tun_offload off = {0};
    rt_tun_offload_describe(&off, buf, sizeof buf);
    assert_string_equal(buf, "off (no virtio-net header)");
    off = (struct rt_tun_offload){.vnet = true, .csum = true, .tso4 = true};
    rt_tun_offload_describe(&off, buf, sizeof buf);
    assert_string_equal(buf, "vnet-hdr csum tso4");
    off = (struct rt_tun_offload){.vnet = true};
    rt_tun_offload_describe(&off, buf, sizeof buf);
    assert_string_equal(buf, "vnet-hdr (kernel refused TUNSETOFFLOAD)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rx_flags_follow_needs_csum_and_data_valid),
        cmocka_unit_test(rx_super_packet_gets_its_real_length_and_checksum),
        cmocka_unit_test(rx_plain_packet_untouched),
        cmocka_unit_test(rx_refuses_what_berth_cannot_take),
        cmocka_unit_test(
            tx_header_zero_for_complete_packet_gso_for_super_segment),
        cmocka_unit_test(offload_description_names_what_is_on),
        cmocka_unit_test(ack_superseded_only_by_a_later_pure_ack_of_its_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
