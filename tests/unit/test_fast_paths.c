/* The short paths of the data and ACK path (issue 17) against the general
 * ones they stand in for: each must leave exactly the state the general
 * path leaves, so a divergence fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <stdlib.h>

#include "berth/berth.h"
#include "stack.h"
#include "tcp/tcp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define ADDR_A 0xc6120002u /* 198.18.0.2 */
#define ADDR_B 0xc6120001u /* 198.18.0.1 */
#define T0     5000000ull
#define WIRE_Q 1024
#include "wire.h"

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

/* A TCB's wheel timer is armed at its earliest deadline's tick, taken
 * from the deadline ticks directly (rearm, stack_timer_arm_tick): the
 * same tick as the deadline's time (tcp_tick_us) rounded up by the
 * wheel, over deadlines ahead, overdue and at the 2^32 ms wrap. */
static void timer_armed_at_the_earliest_deadlines_tick(void **state)
{
    (void)state;
    struct berth_stack *s = new_stack();
    struct tcp_conn *c = tcp_conn_new(s);
    assert_non_null(c);
    uint64_t x = 23;
    for (int i = 0; i < 5000; i++) { /* bounded */
        s->now = (i & 1 ? 4294967296000ull * (uint64_t)(i % 7) : 0) +
                 next_rand(&x) % 100000000000ull;
        int set = 0;
        for (int k = 0; k < TCP_T__COUNT; k++) {
            if (next_rand(&x) % 3 == 0) {
                tcp_timer_clear(s, c, (enum tcp_deadline)k);
                continue;
            }
            uint64_t d = next_rand(&x) % 3000000000ull;
            uint64_t when =
                next_rand(&x) % 4 == 0 && s->now > d ? s->now - d : s->now + d;
            tcp_timer_set(s, c, (enum tcp_deadline)k, when);
            set++;
        }
        uint64_t want = UINT64_MAX;
        for (int k = 0; k < TCP_T__COUNT; k++) {
            if (!c->deadline[k])
                continue;
            uint64_t t = timer_tick_of(tcp_tick_us(s, c->deadline[k]));
            want = t < want ? t : want;
        }
        assert_int_equal(timer_armed(&c->n.timer), want != UINT64_MAX);
        if (want != UINT64_MAX)
            assert_int_equal(c->n.timer.expires, want);
        assert_true(set == 0 || want != UINT64_MAX);
    }
    for (int k = 0; k < TCP_T__COUNT; k++)
        tcp_timer_clear(s, c, (enum tcp_deadline)k);
    assert_false(timer_armed(&c->n.timer));
    mem_free(&s->mem, c, sizeof *c);
    berth_stack_destroy(s);
}

/* tcp_sec_clock is now / 10^6 by a reciprocal multiplication: the same
 * value at the edges (multiples of 10^6 and one less, the top of 64 bits)
 * and over seeded times. */
static void seconds_clock_is_the_division(void **state)
{
    (void)state;
    struct berth_stack *s = new_stack();
    uint64_t x = 31;
    for (int i = 0; i < 400000; i++) { /* bounded */
        uint64_t r = next_rand(&x) << 16 ^ next_rand(&x);
        switch (i % 4) {
        case 0:
            s->now = r;
            break;
        case 1:
            s->now = (r % 18446744073709ull) * 1000000u;
            break;
        case 2:
            s->now = (r % 18446744073709ull) * 1000000u - 1;
            break;
        default:
            s->now = UINT64_MAX - r % 100000000u;
            break;
        }
        assert_int_equal(tcp_sec_clock(s), (uint32_t)(s->now / 1000000u));
    }
    berth_stack_destroy(s);
}

/* ---- the short paths against the general ones, end to end ---- */

#define MAX_PKTS 20000

/* Two stacks wired back to back (wire.h), every packet that crosses the
 * wire recorded by a hash of its bytes, in order. */
struct drun {
    struct wire w;
    struct berth_stack *a, *b;
    uint64_t now;
    uint32_t sent_ab; /* data packets a -> b, for the drop pattern */
    bool drop;
    size_t np;
    uint64_t h[MAX_PKTS];
};

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static struct berth_stack *dstack(struct drun *r, uint32_t addr, bool general)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = addr;
    cfg.tx = wire_tx;
    cfg.tx_ctx = &r->w;
    cfg.seed = addr;
    memcpy(cfg.secret, "fast paths key!!", sizeof cfg.secret);
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    s->general_paths = general;
    berth_advance(s, T0);
    return s;
}

/* Delivers what is in flight (bounded), recording each packet; with drop
 * set, every 9th data packet from a to b is lost on the way. */
static void dpump(void *ctx, uint64_t now)
{
    struct drun *r = ctx;
    for (unsigned i = 0; i < 8 * WIRE_Q && r->w.head < r->w.n; i++) {
        struct pkt p = r->w.q[r->w.head++];
        size_t ihl = (size_t)(p.data[0] & 0xf) * 4;
        size_t doff = (size_t)(p.data[ihl + 12] >> 4) * 4;
        bool data = p.len > ihl + doff;
        if (r->np < MAX_PKTS)
            r->h[r->np] = fnv(p.data, p.len);
        r->np++;
        bool lost = r->drop && p.dst == ADDR_B && data && ++r->sent_ab % 9 == 0;
        if (!lost)
            berth_input(p.dst == ADDR_A ? r->a : r->b, p.data, p.len, now);
        free(p.data);
    }
    assert_int_equal(r->w.head, r->w.n);
    r->w.head = r->w.n = 0;
}

/* The clock forward by us, both stacks' timers run, the wire emptied. */
static void dtick(struct drun *r, uint64_t us)
{
    r->now += us;
    berth_advance(r->a, r->now);
    berth_advance(r->b, r->now);
    dpump(r, r->now);
}

static size_t drecv_all(struct berth_stack *s, int h, bool *eof)
{
    char buf[4096];
    size_t got = 0;
    for (int k = 0; k < 512; k++) { /* bounded */
        int n = berth_recv(s, h, buf, sizeof buf);
        if (n == 0)
            *eof = true;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static int daccept(struct drun *r, int lsn)
{
    int h = -1;
    for (int k = 0; k < 8 && h < 0; k++) { /* bounded */
        h = berth_accept(r->b, lsn, NULL);
        if (h < 0)
            dtick(r, 100);
    }
    assert_true(h >= 0);
    return h;
}

/* Request/response lifecycles, then a bulk transfer with losses (RACK,
 * TLP, recovery, the RTO) both ways of closing. */
static void drun_workload(struct drun *r, bool general)
{
    memset(r, 0, sizeof *r);
    r->now = T0;
    r->a = dstack(r, ADDR_A, general);
    r->b = dstack(r, ADDR_B, general);
    int lsn = berth_socket(r->b);
    assert_true(lsn >= 0);
    assert_int_equal(berth_bind(r->b, lsn, 0, 80), 0);
    assert_int_equal(berth_listen(r->b, lsn, 64), 0);
    static char msg[200000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)(i * 7 + i / 251);
    for (int i = 0; i < 24; i++) { /* bounded */
        int c = berth_socket(r->a);
        assert_true(c >= 0);
        assert_int_equal(berth_connect(r->a, c, ADDR_B, 80), BERTH_EINPROGRESS);
        dtick(r, 150);
        int sv = daccept(r, lsn);
        size_t req = 40 + (size_t)i * 13, rep = 100 + (size_t)i * 97;
        assert_int_equal(berth_send(r->a, c, msg, req), (int)req);
        dtick(r, 150 + (uint64_t)i * 10);
        bool eof = false;
        assert_int_equal(drecv_all(r->b, sv, &eof), req);
        assert_int_equal(berth_send(r->b, sv, msg, rep), (int)rep);
        dtick(r, 200);
        assert_int_equal(drecv_all(r->a, c, &eof), rep);
        /* alternately the client and the server close first */
        assert_int_equal(berth_close(i & 1 ? r->b : r->a, i & 1 ? sv : c), 0);
        dtick(r, 120);
        drecv_all(i & 1 ? r->a : r->b, i & 1 ? c : sv, &eof);
        assert_int_equal(berth_close(i & 1 ? r->a : r->b, i & 1 ? c : sv), 0);
        dtick(r, 120);
    }
    /* Bulk a -> b with every 9th data packet lost. */
    int c = berth_socket(r->a);
    assert_true(c >= 0);
    assert_int_equal(berth_connect(r->a, c, ADDR_B, 80), BERTH_EINPROGRESS);
    dtick(r, 150);
    int sv = daccept(r, lsn);
    r->drop = true;
    size_t sent = 0, got = 0;
    bool eof = false;
    for (int k = 0; k < 20000 && got < sizeof msg; k++) { /* bounded */
        if (sent < sizeof msg) {
            int n = berth_send(r->a, c, msg + sent, sizeof msg - sent);
            if (n > 0)
                sent += (size_t)n;
        }
        dtick(r, 500);
        got += drecv_all(r->b, sv, &eof);
    }
    assert_int_equal(got, sizeof msg);
    r->drop = false;
    assert_int_equal(berth_close(r->a, c), 0);
    dtick(r, 1000);
    drecv_all(r->b, sv, &eof);
    assert_true(eof);
    assert_int_equal(berth_close(r->b, sv), 0);
    assert_int_equal(berth_close(r->b, lsn), 0);
    dtick(r, 1000);
}

/* The same workload with the short paths (header prediction, output with
 * nothing to send) and with every segment on the general path must put
 * the same packets on the wire, byte for byte, in the same order: any
 * divergence of a short path's result (a field, a timer, a window, a
 * counter that changes what is sent) shows in a later packet. The short
 * paths must have been taken, and not with general_paths. */
static void short_paths_send_what_the_general_paths_send(void **state)
{
    (void)state;
    static struct drun fast, gen;
    drun_workload(&fast, false);
    drun_workload(&gen, true);
    uint64_t fa = berth_counter(fast.a, BERTH_CTR_FAST_PATH_ACKS) +
                  berth_counter(fast.b, BERTH_CTR_FAST_PATH_ACKS);
    uint64_t fd = berth_counter(fast.a, BERTH_CTR_FAST_PATH_DATA) +
                  berth_counter(fast.b, BERTH_CTR_FAST_PATH_DATA);
    assert_true(fa > 20 && fd > 20);
    assert_int_equal(berth_counter(gen.a, BERTH_CTR_FAST_PATH_ACKS) +
                         berth_counter(gen.b, BERTH_CTR_FAST_PATH_DATA),
                     0);
    assert_true(berth_counter(fast.a, BERTH_CTR_RETRANS_SEGS) > 0);
    assert_int_equal(fast.np, gen.np);
    assert_true(fast.np > 500 && fast.np <= MAX_PKTS);
    for (size_t i = 0; i < fast.np; i++)
        if (fast.h[i] != gen.h[i])
            fail_msg("packet %zu of %zu differs", i, fast.np);
    wire_settle(&fast.w, fast.a, fast.b, fast.now + 1000, dpump, &fast);
    wire_settle(&gen.w, gen.a, gen.b, gen.now + 1000, dpump, &gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_record_log_matches_an_empty_log_appended_to),
        cmocka_unit_test(ipv4_header_checksum_from_fields_matches_the_bytes),
        cmocka_unit_test(tcp_checksum_from_fields_matches_the_bytes),
        cmocka_unit_test(option_flags_in_one_store_read_as_the_fields),
        cmocka_unit_test(timer_armed_at_the_earliest_deadlines_tick),
        cmocka_unit_test(seconds_clock_is_the_division),
        cmocka_unit_test(short_paths_send_what_the_general_paths_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
