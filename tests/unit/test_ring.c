/* Unit tests for base/ring: byte ring over caller memory, including the
 * write-ahead / commit path that TCP reassembly uses, at odd capacities and
 * across the wrap; plus a randomized comparison with a flat-array model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "base/ring.h"
#include "base/rng.h"

/* The ring's memory is a heap block of exactly cap bytes, so ASan catches
 * any access past either end. */
struct fixture {
    struct mem mem;
    struct ring r;
    uint8_t *buf;
    uint32_t cap;
};

static void fixture_init(struct fixture *f, uint32_t cap)
{
    memset(f, 0, sizeof *f);
    f->cap = cap;
    f->buf = mem_alloc(&f->mem, cap);
    assert_non_null(f->buf);
    ring_init(&f->r, f->buf, cap);
}

static void fixture_fini(struct fixture *f)
{
    mem_free(&f->mem, f->buf, f->cap);
    assert_int_equal(f->mem.bytes, 0);
    assert_int_equal(f->mem.allocs, 0);
}

/* Moves head to `pos` on an empty ring by writing and reading pos bytes. */
static void rotate_to(struct fixture *f, uint32_t pos)
{
    uint8_t junk[64] = {0};
    while (pos > 0) {
        uint32_t n = pos < sizeof junk ? pos : sizeof junk;
        assert_int_equal(ring_write(&f->r, junk, n), n);
        assert_int_equal(ring_read(&f->r, junk, n), n);
        pos -= n;
    }
    assert_int_equal(f->r.len, 0);
}

static void ring_starts_empty_with_all_space_free(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 10);
    assert_int_equal(f.r.len, 0);
    assert_int_equal(ring_free(&f.r), 10);
    uint8_t out[4];
    assert_int_equal(ring_read(&f.r, out, 4), 0);
    assert_int_equal(ring_peek(&f.r, 0, out, 4), 0);
    assert_int_equal(ring_drop(&f.r, 4), 0);
    fixture_fini(&f);
}

static void ring_write_then_read_returns_same_bytes(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 16);
    assert_int_equal(ring_write(&f.r, "hello", 5), 5);
    assert_int_equal(f.r.len, 5);
    char out[8] = {0};
    assert_int_equal(ring_read(&f.r, out, sizeof out), 5);
    assert_string_equal(out, "hello");
    assert_int_equal(f.r.len, 0);
    fixture_fini(&f);
}

static void ring_write_is_truncated_to_free_space(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 7);
    assert_int_equal(ring_write(&f.r, "abcdefghij", 10), 7);
    assert_int_equal(ring_free(&f.r), 0);
    assert_int_equal(ring_write(&f.r, "x", 1), 0);
    char out[8] = {0};
    assert_int_equal(ring_read(&f.r, out, 8), 7);
    assert_string_equal(out, "abcdefg");
    fixture_fini(&f);
}

static void ring_write_and_read_wrap_at_odd_capacity(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 7);
    rotate_to(&f, 5);
    assert_int_equal(ring_write(&f.r, "ABCDEF", 6), 6); /* 2 before, 4 after */
    assert_memory_equal(f.buf + 5, "AB", 2);
    assert_memory_equal(f.buf, "CDEF", 4);
    char out[7] = {0};
    assert_int_equal(ring_read(&f.r, out, 6), 6);
    assert_string_equal(out, "ABCDEF");
    assert_int_equal(f.r.head, 4);
    fixture_fini(&f);
}

static void ring_peek_at_offset_crosses_wrap_without_consuming(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 9);
    rotate_to(&f, 6);
    assert_int_equal(ring_write(&f.r, "012345678", 9), 9);
    char out[10] = {0};
    assert_int_equal(ring_peek(&f.r, 2, out, 5), 5);
    assert_string_equal(out, "23456");
    /* Limited by len - off. */
    memset(out, 0, sizeof out);
    assert_int_equal(ring_peek(&f.r, 7, out, 5), 2);
    assert_string_equal(out, "78");
    assert_int_equal(ring_peek(&f.r, 9, out, 1), 0);
    assert_int_equal(ring_peek(&f.r, 100, out, 1), 0);
    assert_int_equal(f.r.len, 9);
    fixture_fini(&f);
}

static void ring_drop_discards_front_across_wrap(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 5);
    rotate_to(&f, 3);
    assert_int_equal(ring_write(&f.r, "vwxyz", 5), 5);
    assert_int_equal(ring_drop(&f.r, 3), 3);
    assert_int_equal(f.r.head, 1);
    char out[3] = {0};
    assert_int_equal(ring_read(&f.r, out, 2), 2);
    assert_string_equal(out, "yz");
    assert_int_equal(ring_drop(&f.r, 10), 0);
    fixture_fini(&f);
}

static void ring_drop_more_than_len_drops_len(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 8);
    ring_write(&f.r, "abc", 3);
    assert_int_equal(ring_drop(&f.r, 100), 3);
    assert_int_equal(f.r.len, 0);
    fixture_fini(&f);
}

static void ring_write_at_then_commit_makes_data_readable(void **state)
{
    (void)state;
    /* Out-of-order arrival: bytes 3..5 land first, then 0..2 in order. */
    struct fixture f;
    fixture_init(&f, 11);
    rotate_to(&f, 9);
    assert_int_equal(ring_write_at(&f.r, 3, "DEF", 3), 3);
    assert_int_equal(f.r.len, 0);
    assert_int_equal(ring_write(&f.r, "ABC", 3), 3);
    ring_commit(&f.r, 3);
    assert_int_equal(f.r.len, 6);
    char out[7] = {0};
    assert_int_equal(ring_read(&f.r, out, 6), 6);
    assert_string_equal(out, "ABCDEF");
    fixture_fini(&f);
}

static void ring_write_at_refuses_data_beyond_free_space(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 8);
    ring_write(&f.r, "abc", 3);
    uint8_t before[8];
    memcpy(before, f.buf, 8);
    /* free = 5: [off, off+n) must lie within it. */
    assert_int_equal(ring_write_at(&f.r, 3, "xyz", 3), 0);
    assert_int_equal(ring_write_at(&f.r, 5, "x", 1), 0);
    assert_int_equal(ring_write_at(&f.r, UINT32_MAX, "x", 1), 0);
    assert_int_equal(ring_write_at(&f.r, 1, "x", UINT32_MAX), 0);
    assert_memory_equal(f.buf, before, 8);
    assert_int_equal(ring_write_at(&f.r, 2, "xyz", 3), 3);
    assert_int_equal(f.r.len, 3);
    fixture_fini(&f);
}

static void ring_write_at_wraps_inside_the_write(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 6);
    rotate_to(&f, 4);
    ring_write(&f.r, "a", 1); /* readable end at index 5 */
    assert_int_equal(ring_write_at(&f.r, 0, "bcde", 4), 4);
    assert_int_equal(f.buf[5], 'b');
    assert_memory_equal(f.buf, "cde", 3);
    ring_commit(&f.r, 4);
    char out[6] = {0};
    assert_int_equal(ring_read(&f.r, out, 5), 5);
    assert_string_equal(out, "abcde");
    fixture_fini(&f);
}

static void
ring_draining_keeps_head_so_written_ahead_data_survives(void **state)
{
    (void)state;
    /* A ring that empties must not rewind head: bytes already written
     * ahead would then be committed from the wrong place. */
    struct fixture f;
    fixture_init(&f, 10);
    ring_write(&f.r, "0123", 4);
    assert_int_equal(ring_write_at(&f.r, 1, "XY", 2), 2);
    char out[8] = {0};
    assert_int_equal(ring_read(&f.r, out, 4), 4);
    assert_int_equal(f.r.len, 0);
    ring_write(&f.r, "W", 1);
    ring_commit(&f.r, 2);
    memset(out, 0, sizeof out);
    assert_int_equal(ring_read(&f.r, out, 8), 3);
    assert_string_equal(out, "WXY");
    fixture_fini(&f);
}

static void ring_commit_is_clamped_to_free_space(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 4);
    ring_write(&f.r, "ab", 2);
    ring_commit(&f.r, 100);
    assert_int_equal(f.r.len, 4);
    assert_int_equal(ring_free(&f.r), 0);
    fixture_fini(&f);
}

static void ring_of_capacity_one_alternates(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 1);
    for (int i = 0; i < 5; i++) {
        uint8_t in = (uint8_t)('a' + i), out = 0;
        assert_int_equal(ring_write(&f.r, &in, 1), 1);
        assert_int_equal(ring_write(&f.r, &in, 1), 0);
        assert_int_equal(ring_read(&f.r, &out, 1), 1);
        assert_int_equal(out, in);
        assert_int_equal(f.r.head, 0);
    }
    assert_int_equal(ring_write_at(&f.r, 0, "z", 1), 1);
    ring_commit(&f.r, 1);
    uint8_t out = 0;
    assert_int_equal(ring_read(&f.r, &out, 1), 1);
    assert_int_equal(out, 'z');
    fixture_fini(&f);
}

static void ring_full_ring_reads_back_in_order_from_any_head(void **state)
{
    (void)state;
    /* For every head position, fill completely and read it all back. */
    for (uint32_t pos = 0; pos < 13; pos++) {
        struct fixture f;
        fixture_init(&f, 13);
        rotate_to(&f, pos);
        uint8_t in[13], out[13];
        for (int i = 0; i < 13; i++)
            in[i] = (uint8_t)(100 + i);
        assert_int_equal(ring_write(&f.r, in, 13), 13);
        assert_int_equal(ring_read(&f.r, out, 13), 13);
        assert_memory_equal(in, out, 13);
        fixture_fini(&f);
    }
}

/* Randomized model test: the reference is a flat array indexed by absolute
 * stream offset, so it has no wrap at all. known[] marks bytes whose value
 * the model can predict (committed bytes that were never written are
 * whatever the ring memory held, and are not compared). */
enum { MODEL_SPAN = 1 << 20 };

struct ring_model {
    uint8_t data[MODEL_SPAN];
    uint8_t known[MODEL_SPAN];
    uint64_t rd;  /* absolute offset of the first readable byte */
    uint32_t len; /* readable bytes */
};

static void model_check_readable(const struct ring *r,
                                 const struct ring_model *m)
{
    uint8_t out[64];
    assert_int_equal(r->len, m->len);
    for (uint32_t off = 0; off < m->len; off += sizeof out) {
        uint32_t got = ring_peek(r, off, out, sizeof out);
        uint32_t want = m->len - off < sizeof out ? m->len - off : sizeof out;
        assert_int_equal(got, want);
        for (uint32_t i = 0; i < got; i++)
            if (m->known[m->rd + off + i])
                assert_int_equal(out[i], m->data[m->rd + off + i]);
    }
}

static void run_ring_model(struct ring_model *m, uint64_t seed, uint32_t cap)
{
    struct fixture f;
    struct rng g;
    fixture_init(&f, cap);
    rng_seed(&g, seed);
    memset(m, 0, sizeof *m);
    uint8_t tmp[320], out[320];
    for (int step = 0; step < 4000; step++) {
        uint32_t n = (uint32_t)rng_below(&g, cap + 3); /* sometimes > cap */
        for (uint32_t i = 0; i < n; i++)
            tmp[i] = (uint8_t)rng_next(&g);
        uint32_t space = cap - m->len;
        uint64_t end = m->rd + m->len;
        if (end + cap + 1 >= MODEL_SPAN)
            break; /* bounded: the model's flat array is full */
        switch (rng_below(&g, 6)) {
        case 0: { /* write */
            uint32_t want = n < space ? n : space;
            assert_int_equal(ring_write(&f.r, tmp, n), want);
            memcpy(m->data + end, tmp, want);
            memset(m->known + end, 1, want);
            m->len += want;
            break;
        }
        case 1: { /* read */
            uint32_t want = n < m->len ? n : m->len;
            assert_int_equal(ring_read(&f.r, out, n), want);
            for (uint32_t i = 0; i < want; i++)
                if (m->known[m->rd + i])
                    assert_int_equal(out[i], m->data[m->rd + i]);
            m->rd += want;
            m->len -= want;
            break;
        }
        case 2: { /* drop */
            uint32_t want = n < m->len ? n : m->len;
            assert_int_equal(ring_drop(&f.r, n), want);
            m->rd += want;
            m->len -= want;
            break;
        }
        case 3:
        case 4: { /* write ahead, at a random offset into the free space */
            uint32_t off = (uint32_t)rng_below(&g, space + 2);
            bool fits = n > 0 && off <= space && n <= space - off;
            assert_int_equal(ring_write_at(&f.r, off, tmp, n), fits ? n : 0);
            if (fits) {
                memcpy(m->data + end + off, tmp, n);
                memset(m->known + end + off, 1, n);
            }
            break;
        }
        default: { /* commit */
            uint32_t c = (uint32_t)rng_below(&g, space + 1);
            ring_commit(&f.r, c);
            m->len += c;
            break;
        }
        }
        assert_true(f.r.head < cap);
        assert_int_equal(f.r.head, m->rd % cap);
        model_check_readable(&f.r, m);
    }
    fixture_fini(&f);
}

static void ring_random_operations_match_flat_array_model(void **state)
{
    (void)state;
    static struct ring_model m;
    static const uint32_t caps[] = {1, 2, 3, 7, 16, 61, 64, 100, 255};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
        for (uint64_t seed = 1; seed <= 4; seed++)
            run_ring_model(&m, seed * 1000 + caps[c], caps[c]);
}

/* Growing a receive buffer: the readable bytes and the out-of-order bytes
 * written ahead of them keep their offsets from head, from any head. */
static void ring_move_keeps_readable_and_written_ahead_bytes(void **state)
{
    (void)state;
    for (uint32_t head = 0; head < 7; head++) {
        struct fixture f;
        fixture_init(&f, 7);
        rotate_to(&f, head);
        assert_int_equal(ring_write(&f.r, "abc", 3), 3);
        assert_int_equal(ring_write_at(&f.r, 1, "xy", 2), 2);
        struct mem m = {0};
        struct ring big;
        ring_init(&big, mem_alloc(&m, 16), 16);
        ring_move(&big, &f.r);
        assert_int_equal(big.len, 3);
        assert_int_equal(big.head, 0);
        uint8_t out[3];
        assert_int_equal(ring_peek(&big, 0, out, 3), 3);
        assert_memory_equal(out, "abc", 3);
        ring_commit(&big, 3); /* the hole at offset 0 and "xy" after it */
        assert_int_equal(ring_peek(&big, 4, out, 2), 2);
        assert_memory_equal(out, "xy", 2);
        mem_free(&m, big.buf, 16);
        fixture_fini(&f);
    }
}

/* ring_rewind: a ring with readable bytes keeps its head; an empty one
 * starts over at the beginning of its memory, and from there every offset
 * maps as from any head: what is written lands at buf[0] without a wrap,
 * peek, span and write-ahead/commit see the bytes where they are. A send
 * buffer restarted this way keeps stream offset k at index k from head,
 * so a retransmission of any of its bytes reads the right ones. */
static void ring_rewind_restarts_only_an_empty_ring(void **state)
{
    (void)state;
    for (uint32_t head = 0; head < 7; head++) {
        struct fixture f;
        fixture_init(&f, 7);
        rotate_to(&f, head);
        assert_int_equal(ring_write(&f.r, "ab", 2), 2);
        ring_rewind(&f.r); /* not empty: nothing moves */
        assert_int_equal(f.r.head, head);
        uint8_t out[7];
        assert_int_equal(ring_peek(&f.r, 0, out, 2), 2);
        assert_memory_equal(out, "ab", 2);
        assert_int_equal(ring_read(&f.r, out, 2), 2);
        ring_rewind(&f.r);
        assert_int_equal(f.r.head, 0);
        assert_int_equal(f.r.len, 0);
        assert_int_equal(ring_free(&f.r), 7);
        /* A full ring's worth from the start: one span, in place. */
        assert_int_equal(ring_write(&f.r, "cdefg", 5), 5);
        assert_memory_equal(f.buf, "cdefg", 5);
        uint8_t *p[2];
        uint32_t len[2];
        assert_int_equal(ring_span(&f.r, 0, 5, p, len), 5);
        assert_ptr_equal(p[0], f.buf);
        assert_int_equal(len[0], 5);
        assert_int_equal(len[1], 0);
        assert_int_equal(ring_write_at(&f.r, 1, "i", 1), 1);
        assert_int_equal(f.buf[6], 'i');
        ring_commit(&f.r, 2);
        assert_int_equal(ring_peek(&f.r, 3, out, 4), 4);
        assert_memory_equal(out, "fg", 2);
        assert_int_equal(out[3], 'i');
        /* Acknowledged in part, then the rest read from its offsets. */
        assert_int_equal(ring_drop(&f.r, 2), 2);
        assert_int_equal(ring_peek(&f.r, 1, out, 2), 2);
        assert_memory_equal(out, "fg", 2);
        ring_rewind(&f.r);
        assert_int_equal(f.r.head, 2);
        fixture_fini(&f);
    }
}

/* ring_span: the readable bytes and the room after them, in place, at
 * every head position of an odd-capacity ring: one span, or two split at
 * the end of memory, always covering exactly the bytes asked for. */
static void ring_span_shows_bytes_in_place_at_every_head(void **state)
{
    (void)state;
    const uint32_t cap = 13;
    for (uint32_t pos = 0; pos < cap; pos++) {
        for (uint32_t len = 0; len <= cap; len++) {
            struct fixture f;
            fixture_init(&f, cap);
            rotate_to(&f, pos);
            uint8_t src[13];
            for (uint32_t i = 0; i < len; i++)
                src[i] = (uint8_t)(100 + i);
            assert_int_equal(ring_write(&f.r, src, len), len);
            uint8_t *p[2];
            uint32_t n[2];
            /* The readable bytes, in order. */
            assert_int_equal(ring_span(&f.r, 0, len, p, n), len);
            assert_int_equal(n[0] + n[1], len);
            assert_true(n[1] == 0 || p[0] + n[0] == f.buf + cap);
            if (n[1])
                assert_ptr_equal(p[1], f.buf);
            for (uint32_t i = 0; i < n[0]; i++)
                assert_int_equal(p[0][i], 100 + i);
            for (uint32_t i = 0; i < n[1]; i++)
                assert_int_equal(p[1][i], 100 + n[0] + i);
            /* The room after them: written in place and committed, it
             * reads back after the first bytes. */
            uint32_t room = ring_free(&f.r);
            assert_int_equal(ring_span(&f.r, len, room, p, n), room);
            assert_int_equal(n[0] + n[1], room);
            for (uint32_t i = 0; i < n[0]; i++)
                p[0][i] = (uint8_t)(200 + i);
            for (uint32_t i = 0; i < n[1]; i++)
                p[1][i] = (uint8_t)(200 + n[0] + i);
            ring_commit(&f.r, room);
            uint8_t out[13];
            assert_int_equal(ring_read(&f.r, out, cap), cap);
            for (uint32_t i = 0; i < cap; i++)
                assert_int_equal(out[i], i < len ? 100 + i : 200 + i - len);
            /* Beyond the capacity, or nothing: no span. */
            assert_int_equal(ring_span(&f.r, 1, cap, p, n), 0);
            assert_int_equal(n[0] + n[1], 0);
            assert_int_equal(ring_span(&f.r, 0, 0, p, n), 0);
            fixture_fini(&f);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring_starts_empty_with_all_space_free),
        cmocka_unit_test(ring_write_then_read_returns_same_bytes),
        cmocka_unit_test(ring_write_is_truncated_to_free_space),
        cmocka_unit_test(ring_write_and_read_wrap_at_odd_capacity),
        cmocka_unit_test(ring_peek_at_offset_crosses_wrap_without_consuming),
        cmocka_unit_test(ring_drop_discards_front_across_wrap),
        cmocka_unit_test(ring_drop_more_than_len_drops_len),
        cmocka_unit_test(ring_write_at_then_commit_makes_data_readable),
        cmocka_unit_test(ring_write_at_refuses_data_beyond_free_space),
        cmocka_unit_test(ring_write_at_wraps_inside_the_write),
        cmocka_unit_test(
            ring_draining_keeps_head_so_written_ahead_data_survives),
        cmocka_unit_test(ring_commit_is_clamped_to_free_space),
        cmocka_unit_test(ring_of_capacity_one_alternates),
        cmocka_unit_test(ring_full_ring_reads_back_in_order_from_any_head),
        cmocka_unit_test(ring_random_operations_match_flat_array_model),
        cmocka_unit_test(ring_move_keeps_readable_and_written_ahead_bytes),
        cmocka_unit_test(ring_span_shows_bytes_in_place_at_every_head),
        cmocka_unit_test(ring_rewind_restarts_only_an_empty_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
