/* The short paths of the data and ACK path (issue 17) against the general
 * ones they stand in for: each must leave exactly the state the general
 * path leaves, so a divergence fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "berth/berth.h"
#include "stack.h"
#include "tcp/tcp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

static uint64_t next_rand(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 16;
}

static struct berth_stack *new_stack(void)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    return s;
}

static void assert_logs_equal(const struct tcp_txlog *a,
                              const struct tcp_txlog *b)
{
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->cap, b->cap);
    assert_int_equal(a->head, b->head);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->rack_valid, b->rack_valid);
    assert_int_equal(a->dsack_now, b->dsack_now);
    assert_int_equal(a->dsack_round_set, b->dsack_round_set);
    assert_int_equal(a->tlp_dsack, b->tlp_dsack);
    assert_int_equal(a->xmit_ts, b->xmit_ts);
    assert_int_equal(a->end_seq, b->end_seq);
    assert_int_equal(a->rtt, b->rtt);
    assert_int_equal(a->min_rtt, b->min_rtt);
    assert_int_equal(a->fack, b->fack);
    assert_int_equal(a->dsack_round, b->dsack_round);
    assert_int_equal(a->segs_sacked, b->segs_sacked);
    assert_int_equal(a->rec_bytes, b->rec_bytes);
    assert_int_equal(a->rec_pipe, b->rec_pipe);
    assert_int_equal(a->lost_unsent, b->lost_unsent);
    assert_int_equal(a->sacked_prev, b->sacked_prev);
    assert_int_equal(a->prr_delivered, b->prr_delivered);
    assert_int_equal(a->prr_out, b->prr_out);
    assert_int_equal(a->recover_fs, b->recover_fs);
    for (uint32_t i = 0; i < a->n; i++) {
        const struct tcp_txseg *x = &a->seg[a->head + i];
        const struct tcp_txseg *y = &b->seg[b->head + i];
        assert_int_equal(x->start, y->start);
        assert_int_equal(x->end, y->end);
        assert_int_equal(x->xmit, y->xmit);
        assert_int_equal(x->flags, y->flags);
    }
}

/* RFC 8985 §6.1: the first data sent with nothing outstanding makes the
 * send log with its one record (tcp_rack.c, log_start). The general path
 * is an empty log, cleared as it was allocated before, taking the record
 * through log_append (what tcp_rack_sent does with a log of no records).
 * The block the short path gets is filled with garbage first (a cached
 * block is reused as it is), so a field it leaves unwritten shows. */
static void first_record_log_matches_an_empty_log_appended_to(void **state)
{
    (void)state;
    struct berth_stack *s = new_stack();
    struct tcp_conn *fast = tcp_conn_new(s), *gen = tcp_conn_new(s);
    assert_non_null(fast);
    assert_non_null(gen);
    size_t size = tcp_rack_log_min_size();
    uint64_t x = 17;
    for (int i = 0; i < 2000; i++) { /* bounded */
        uint32_t flags = TF_SACK;
        if (i & 1)
            flags |= TF_RECOVERY;
        if (i & 2)
            flags |= TF_TS;
        fast->flags = gen->flags = flags;
        fast->snd_una = gen->snd_una = (uint32_t)next_rand(&x);
        uint32_t seq = fast->snd_una + (uint32_t)(next_rand(&x) % 3000);
        uint32_t len = (uint32_t)(next_rand(&x) % 70000);
        bool retrans = (next_rand(&x) & 1) != 0;
        s->now = next_rand(&x);

        void *junk = mem_alloc_raw(&s->mem, size);
        assert_non_null(junk);
        memset(junk, (int)(0x11 * (i % 15 + 1)), size);
        mem_free(&s->mem, junk, size);
        assert_null(fast->txlog);
        tcp_rack_sent(s, fast, seq, seq + len, retrans);

        struct tcp_txlog *l = mem_alloc(&s->mem, size);
        assert_non_null(l);
        l->size = (uint32_t)size;
        l->cap = (uint16_t)((size - sizeof *l) / sizeof l->seg[0]);
        l->fack = gen->snd_una;
        gen->txlog = l;
        tcp_rack_sent(s, gen, seq, seq + len, retrans);

        assert_non_null(fast->txlog);
        assert_logs_equal(fast->txlog, gen->txlog);
        tcp_rack_free(s, fast);
        tcp_rack_free(s, gen);
    }
    /* Without SACK there is no log (RFC 6675's DupThresh serves). */
    fast->flags = 0;
    tcp_rack_sent(s, fast, 1, 2, false);
    assert_null(fast->txlog);
    mem_free(&s->mem, fast, sizeof *fast);
    mem_free(&s->mem, gen, sizeof *gen);
    berth_stack_destroy(s);
}

/* RFC 1071 the plain way, independent of checksum.h: big-endian 16-bit
 * words (an odd last byte padded with zero), 32-bit sum, carries folded
 * back in, complemented. */
static uint32_t ref_add(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint16_t be16_at(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* ipv4_emit sums the header from its fields instead of reading back the
 * bytes it just stored: the checksum must be RFC 1071's over those bytes
 * (field zeroed), for any addresses, TTL, protocol, ID and length. */
static void ipv4_header_checksum_from_fields_matches_the_bytes(void **state)
{
    (void)state;
    uint64_t x = 5;
    for (int i = 0; i < 200000; i++) { /* bounded */
        uint8_t h[IPV4_HDR_LEN];
        uint32_t src = (uint32_t)next_rand(&x), dst = (uint32_t)next_rand(&x);
        if (i & 1) /* the edges: all ones, all zeros */
            src = (i & 2) ? 0xffffffffu : 0;
        uint8_t ttl = (uint8_t)next_rand(&x), proto = (uint8_t)next_rand(&x);
        uint16_t id = (uint16_t)next_rand(&x);
        uint16_t len = (uint16_t)(next_rand(&x) % (65536 - IPV4_HDR_LEN));
        assert_int_equal(ipv4_emit(h, src, dst, proto, ttl, id, len),
                         IPV4_HDR_LEN);
        uint16_t got = be16_at(h + 10);
        h[10] = h[11] = 0;
        assert_int_equal(got, ref_fold(ref_add(0, h, sizeof h)));
    }
}

/* tcp_emit_header / _header6 sum the fixed header from the words they
 * store and the options a word at a time: the checksum must be RFC 1071's
 * over the pseudo-header and the segment's bytes as they stand, over
 * seeded headers, option sets (none, timestamps alone, SACK blocks, a
 * SYN's), odd and even payloads, both families. */
static void tcp_checksum_from_fields_matches_the_bytes(void **state)
{
    (void)state;
    static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, [8] = 7, 2};
    uint64_t x = 9;
    unsigned ts_only = 0;
    for (int i = 0; i < 50000; i++) { /* bounded */
        struct tcp_opts o;
        memset(&o, 0, sizeof o);
        uint32_t r = (uint32_t)next_rand(&x);
        o.has_ts = r & 1;
        o.ts_val = (uint32_t)next_rand(&x);
        o.ts_ecr = (uint32_t)next_rand(&x);
        if (r & 2) {
            o.has_mss = true;
            o.mss = (uint16_t)next_rand(&x);
            o.has_wscale = (r & 4) != 0;
            o.wscale = (uint8_t)(next_rand(&x) % 15);
            o.sack_ok = (r & 8) != 0;
        } else {
            o.sack_count = (uint8_t)((r >> 4) % 8 < 4 ? 0 : (r >> 4) % 5);
            for (unsigned k = 0; k < o.sack_count; k++) {
                o.sack[k].start = (uint32_t)next_rand(&x);
                o.sack[k].end = (uint32_t)next_rand(&x);
            }
        }
        ts_only += o.has_ts && !o.has_mss && o.sack_count == 0;
        uint8_t seg[TCP_HDR_LEN + TCP_MAX_OPTS_LEN + 1500];
        size_t hl = tcp_emit_options(seg, &o);
        uint32_t len = (uint32_t)(next_rand(&x) % 1500);
        for (uint32_t k = 0; k < len; k++)
            seg[hl + k] = (uint8_t)next_rand(&x);
        uint16_t sport = (uint16_t)next_rand(&x), dport = (uint16_t)r;
        uint32_t seq = (uint32_t)next_rand(&x), ack = (uint32_t)next_rand(&x);
        uint8_t flags = (uint8_t)next_rand(&x);
        uint16_t wnd = (uint16_t)next_rand(&x);
        bool v6 = (r >> 12) & 1;
        uint32_t src = (uint32_t)next_rand(&x), dst = (uint32_t)next_rand(&x);
        uint32_t tl = (uint32_t)hl + len, sum = 0;
        if (v6) {
            tcp_emit_header6(seg, hl, sport, dport, seq, ack, flags, wnd, len,
                             src6, dst6, false);
            sum = ref_add(ref_add(0, src6, 16), dst6, 16) + (tl >> 16) +
                  (tl & 0xffff) + 6;
        } else {
            tcp_emit_header(seg, hl, sport, dport, seq, ack, flags, wnd, len,
                            src, dst, false);
            sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
                  6 + tl;
        }
        assert_int_equal(be16_at(seg), sport);
        assert_int_equal(be16_at(seg + 14), wnd);
        assert_int_equal(be16_at(seg + 18), 0);
        uint16_t got = be16_at(seg + 16);
        seg[16] = seg[17] = 0;
        assert_int_equal(got, ref_fold(ref_add(sum, seg, tl)));
    }
    assert_true(ts_only > 5000);
}

/* The output path writes a segment's four option flags in one store
 * (tcp_opts_set_ts_alone): each must read as the field it stands for, the
 * rest of the record untouched. */
static void option_flags_in_one_store_read_as_the_fields(void **state)
{
    (void)state;
    for (int ts = 0; ts < 2; ts++) {
        for (int fill = 0; fill < 256; fill += 85) { /* bounded: 4 */
            struct tcp_opts o, before;
            memset(&o, fill, sizeof o);
            memcpy(&before, &o, sizeof o);
            tcp_opts_set_ts_alone(&o, ts != 0);
            assert_false(o.has_mss);
            assert_false(o.has_wscale);
            assert_false(o.sack_ok);
            assert_int_equal(o.has_ts, ts != 0);
            assert_memory_equal((const uint8_t *)&o + 4,
                                (const uint8_t *)&before + 4, sizeof o - 4);
            /* emit lays out what the fields say: NOP NOP TS, or none */
            o.sack_count = 0;
            uint8_t b[TCP_HDR_LEN + TCP_MAX_OPTS_LEN];
            assert_int_equal(tcp_emit_options(b, &o),
                             TCP_HDR_LEN + (ts ? 12u : 0u));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_record_log_matches_an_empty_log_appended_to),
        cmocka_unit_test(ipv4_header_checksum_from_fields_matches_the_bytes),
        cmocka_unit_test(tcp_checksum_from_fields_matches_the_bytes),
        cmocka_unit_test(option_flags_in_one_store_read_as_the_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
