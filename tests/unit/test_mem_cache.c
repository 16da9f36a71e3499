/* The stack's free lists for per-connection records (base/mem.h's
 * classes, registered by tcp_mem_classes): a freed TCB waits for the next
 * connection, bounded, and is given back when the stack enters memory
 * pressure and when it is destroyed. White-box: struct berth_stack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "berth/berth.h"
#include "stack.h"
#include "tcp/tcp.h"

static struct berth_stack *stack_with_limit(size_t limit)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.mem_limit = limit;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    return s;
}

static void freed_tcb_is_reused_by_the_next_one(void **state)
{
    (void)state;
    struct berth_stack *s = stack_with_limit(0);
    size_t bytes = s->mem.bytes, allocs = s->mem.allocs;
    void *a = mem_alloc(&s->mem, sizeof(struct tcp_conn));
    assert_non_null(a);
    mem_free(&s->mem, a, sizeof(struct tcp_conn));
    assert_int_equal(s->mem.cached_bytes, sizeof(struct tcp_conn));
    /* Back at the baseline as far as accounting (and leak checks) go. */
    assert_int_equal(s->mem.bytes, bytes);
    assert_int_equal(s->mem.allocs, allocs);
    void *b = mem_alloc(&s->mem, sizeof(struct tcp_conn));
    assert_ptr_equal(a, b);
    assert_int_equal(s->mem.cached_bytes, 0);
    mem_free(&s->mem, b, sizeof(struct tcp_conn));
    berth_stack_destroy(s); /* gives the cached block back (ASan checks) */
}

static void pressure_gives_the_cached_records_back(void **state)
{
    (void)state;
    struct berth_stack *s = stack_with_limit(1024 * 1024);
    void *a = mem_alloc(&s->mem, sizeof(struct tcp_conn));
    void *tw = mem_alloc(&s->mem, sizeof(struct tcp_timewait));
    mem_free(&s->mem, a, sizeof(struct tcp_conn));
    mem_free(&s->mem, tw, sizeof(struct tcp_timewait));
    assert_true(s->mem.cached_bytes > 0);
    /* Usage past the pressure threshold (3/4 of the limit). */
    size_t big = 800 * 1024;
    void *hog = mem_alloc_raw(&s->mem, big);
    assert_non_null(hog);
    stack_mem_update(s);
    assert_int_equal(stack_mem_level(s), BERTH_MEM_PRESSURE);
    assert_int_equal(s->mem.cached_bytes, 0);
    mem_free(&s->mem, hog, big);
    stack_mem_update(s);
    assert_int_equal(stack_mem_level(s), BERTH_MEM_NORMAL);
    berth_stack_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(freed_tcb_is_reused_by_the_next_one),
        cmocka_unit_test(pressure_gives_the_cached_records_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
