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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_record_log_matches_an_empty_log_appended_to),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
