/* The connection cache in front of the 4-tuple table (src/tcp/tcp_conn.c):
 * tcp_lookup must find exactly what the table holds, whatever the cache
 * remembers. Records are inserted, looked up, removed and freed in a seeded
 * random order, more of them than the cache has slots (so slots collide
 * and are taken over), IPv4 and IPv6 4-tuples with the same numbers; after
 * every step the lookups are held against a walk of the whole table. A
 * freed record left in a slot would be read after mem_free (AddressSanitizer
 * catches it: mem_free poisons cached blocks) or returned for a 4-tuple no
 * longer in the table. White-box: it uses the engine's records directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "berth/berth.h"
#include "stack.h"
#include "tcp/tcp.h"

#define OURS   0xc6120002u /* 198.18.0.2 */
#define NREC   (3u * TCP_CONN_CACHE)
#define NSTEPS 20000u

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    /* xorshift64*: the test's own sequence, the same every run. */
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;
    return (uint32_t)((rnd_state * 0x2545f4914f6cdd1du) >> 32) % n;
}

struct tuple {
    bool v6;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
};

/* Record i's 4-tuple: a few local ports (listeners), many peers and their
 * ports; odd i the IPv6 twin of i - 1 (the same numbers as ids). */
static struct tuple tuple_of(uint32_t i)
{
    uint32_t k = i / 2;
    return (struct tuple){.v6 = i & 1,
                          .laddr = OURS,
                          .lport = (uint16_t)(80 + k % 5),
                          .raddr = 0x0a000000u + k / 7,
                          .rport = (uint16_t)(1024 + k * 3)};
}

/* What the table holds for t: a walk over every entry. */
static struct tcp_node *table_find(struct berth_stack *s, struct tuple t)
{
    struct htable_iter it;
    struct tcp_node *found = NULL;
    for (struct hnode *h = htable_walk_first(&s->conns, &it); h;
         h = htable_walk_next(&s->conns, &it)) {
        struct tcp_node *n = (struct tcp_node *)h;
        if (n->v6 == t.v6 && n->laddr == t.laddr && n->lport == t.lport &&
            n->raddr == t.raddr && n->rport == t.rport) {
            assert_null(found); /* one record per 4-tuple */
            found = n;
        }
    }
    return found;
}

static struct tcp_node *lookup(struct berth_stack *s, struct tuple t)
{
    return tcp_lookup(s, t.v6, t.laddr, t.lport, t.raddr, t.rport);
}

static struct tcp_synreq *record_new(struct berth_stack *s, struct tuple t)
{
    struct tcp_synreq *r = mem_alloc(&s->mem, sizeof *r);
    assert_non_null(r);
    /* Some TIME-WAIT entries: the cache takes them at a lookup only. */
    r->n.kind = t.rport % 3 ? TCP_NODE_SYNREQ : TCP_NODE_TIMEWAIT;
    timer_init(&r->n.timer);
    r->n.v6 = t.v6;
    r->n.laddr = t.laddr;
    r->n.lport = t.lport;
    r->n.raddr = t.raddr;
    r->n.rport = t.rport;
    return r;
}

static void record_free(struct berth_stack *s, struct tcp_synreq *r)
{
    tcp_node_remove(s, &r->n);
    mem_free(&s->mem, r, sizeof *r);
}

/* RFC 9293 §3.4 (a connection is named by its pair of sockets): the
 * demultiplexing finds the one record of a 4-tuple, or none. */
static void lookup_finds_what_the_table_holds(void **state)
{
    (void)state;
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = OURS;
    memcpy(cfg.secret, "conn cache key!!", sizeof cfg.secret);
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    static struct tcp_synreq *rec[NREC];
    memset(rec, 0, sizeof rec);
    uint32_t hits = 0, held = 0;
    for (uint32_t step = 0; step < NSTEPS; step++) {
        uint32_t i = rnd(NREC);
        struct tuple t = tuple_of(i);
        switch (rnd(4)) {
        case 0: /* insert (or re-insert a new record for the 4-tuple) */
            if (rec[i])
                record_free(s, rec[i]);
            else
                held++;
            rec[i] = record_new(s, t);
            tcp_node_insert(s, &rec[i]->n);
            break;
        case 1: /* remove and free */
            if (rec[i]) {
                record_free(s, rec[i]);
                rec[i] = NULL;
                held--;
            }
            break;
        default: /* look up, twice: the second may come from the cache */
            break;
        }
        struct tcp_node *want = rec[i] ? &rec[i]->n : NULL;
        /* The hash a removal takes (from the cache's slot or the memo) is
         * the 4-tuple's, computed fresh. */
        if (want)
            assert_int_equal(tcp_node_hash(s, want),
                             (uint32_t)tcp_tuple_hash(s, t.v6, t.laddr, t.lport,
                                                      t.raddr, t.rport));
        assert_ptr_equal(table_find(s, t), want);
        assert_ptr_equal(lookup(s, t), want);
        assert_ptr_equal(lookup(s, t), want);
        hits += want != NULL;
        /* Another 4-tuple, maybe sharing the slot. */
        uint32_t j = rnd(NREC);
        struct tuple u = tuple_of(j);
        assert_ptr_equal(lookup(s, u), rec[j] ? &rec[j]->n : NULL);
    }
    /* Every record still held is found; the step mix kept many. */
    assert_true(held > TCP_CONN_CACHE);
    assert_true(hits > NSTEPS / 4);
    for (uint32_t i = 0; i < NREC; i++) {
        assert_ptr_equal(lookup(s, tuple_of(i)), rec[i] ? &rec[i]->n : NULL);
        if (rec[i])
            record_free(s, rec[i]);
    }
    assert_int_equal(berth_mem_allocs(s), 0);
    berth_stack_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookup_finds_what_the_table_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
