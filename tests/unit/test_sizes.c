/* The memory design targets (docs/ARCHITECTURE.md, issue "engine"): a TCB
 * without buffers within 512 bytes, a SYN-queue entry and a TIME-WAIT entry
 * within 64 bytes each. Checked here so a field added carelessly fails the
 * build's tests rather than a benchmark months later. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tcp/tcp.h"

static void tcb_fits_in_512_bytes(void **state)
{
    (void)state;
    assert_true(sizeof(struct tcp_conn) <= 512);
}

static void syn_queue_entry_fits_in_64_bytes(void **state)
{
    (void)state;
    assert_true(sizeof(struct tcp_synreq) <= 64);
}

static void time_wait_entry_fits_in_64_bytes(void **state)
{
    (void)state;
    assert_true(sizeof(struct tcp_timewait) <= 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcb_fits_in_512_bytes),
        cmocka_unit_test(syn_queue_entry_fits_in_64_bytes),
        cmocka_unit_test(time_wait_entry_fits_in_64_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
