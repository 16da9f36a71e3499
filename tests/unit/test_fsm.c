/* The transition table (src/tcp/tcp_fsm.c): its rows are well formed and
 * unambiguous, a listed state change passes, and one that is not listed is
 * counted and traced as a drop with BERTH_REASON_NONE. With --dump, prints
 * the rows one a line ("FROM[,FROM...] -> TO (CAUSE) §RFC") for
 * tests/scenarios/check_transitions.sh, which holds them against
 * tests/scenarios/TRANSITIONS.md and the scripts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "stack.h"
#include "tcp/tcp.h"

#define ALL_STATES ((1u << BERTH_STATE__COUNT) - 1)

static void every_row_names_states_a_cause_and_an_rfc_section(void **state)
{
    (void)state;
    size_t n;
    const struct tcp_fsm_row *rows = tcp_fsm_rows(&n);
    assert_true(n > 20);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(rows[i].from, 0);
        assert_int_equal(rows[i].from & ~ALL_STATES, 0);
        assert_true(rows[i].to < BERTH_STATE__COUNT);
        assert_false(rows[i].from & (1u << rows[i].to)); /* a change */
        assert_true(rows[i].why > BERTH_REASON_NONE);
        assert_true(rows[i].why < BERTH_REASON__COUNT);
        assert_non_null(rows[i].rfc);
        assert_true(strncmp(rows[i].rfc, "3.", 2) == 0);
    }
}

/* No two rows allow the same (from, to, cause): each change has one rule. */
static void no_transition_is_listed_twice(void **state)
{
    (void)state;
    size_t n;
    const struct tcp_fsm_row *rows = tcp_fsm_rows(&n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_false(rows[i].to == rows[j].to &&
                         rows[i].why == rows[j].why &&
                         (rows[i].from & rows[j].from));
}

static void find_answers_by_state_and_cause(void **state)
{
    (void)state;
    const struct tcp_fsm_row *r = tcp_fsm_find(
        BERTH_STATE_ESTABLISHED, BERTH_STATE_CLOSE_WAIT, BERTH_REASON_RCV_FIN);
    assert_non_null(r);
    assert_string_equal(r->rfc, "3.10.7.4");
    /* The right states with the wrong cause, and the reverse. */
    assert_null(tcp_fsm_find(BERTH_STATE_ESTABLISHED, BERTH_STATE_CLOSE_WAIT,
                             BERTH_REASON_RCV_ACK));
    assert_null(tcp_fsm_find(BERTH_STATE_CLOSE_WAIT, BERTH_STATE_ESTABLISHED,
                             BERTH_REASON_RCV_FIN));
    assert_null(tcp_fsm_find(BERTH_STATE_LISTEN, BERTH_STATE_SYN_SENT,
                             BERTH_REASON_APP_CONNECT)); /* not offered */
}

struct seen {
    int drops, states;
    enum berth_reason reason;
};

static void on_trace(void *ctx, const struct berth_trace *ev)
{
    struct seen *t = ctx;
    if (ev->kind == BERTH_TRACE_DROP) {
        t->drops++;
        t->reason = ev->reason;
    } else {
        t->states++;
    }
}

/* Traces old -> st (why) of a record on a fresh stack, as the engine does;
 * returns how many changes the stack counted as unlisted. */
static uint64_t trace_change(struct seen *t, enum berth_state old,
                             enum berth_state st, enum berth_reason why)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.trace = on_trace;
    cfg.trace_ctx = t;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    struct tcp_node n = {.laddr = 1, .raddr = 2, .lport = 3, .rport = 4};
    tcp_trace_state(s, -1, &n, old, st, why);
    uint64_t unlisted = berth_drop_count(s, BERTH_REASON_NONE);
    assert_int_equal(berth_mem_allocs(s), 0);
    berth_stack_destroy(s);
    return unlisted;
}

static void listed_change_is_traced_and_not_counted(void **state)
{
    (void)state;
    struct seen t = {0};
    assert_int_equal(trace_change(&t, BERTH_STATE_FIN_WAIT_2,
                                  BERTH_STATE_TIME_WAIT, BERTH_REASON_RCV_FIN),
                     0);
    assert_int_equal(t.states, 1);
    assert_int_equal(t.drops, 0);
}

static void unlisted_change_is_counted_and_traced(void **state)
{
    (void)state;
    struct seen t = {0};
    /* CLOSE-WAIT never goes back to ESTABLISHED. */
    assert_int_equal(trace_change(&t, BERTH_STATE_CLOSE_WAIT,
                                  BERTH_STATE_ESTABLISHED,
                                  BERTH_REASON_RCV_ACK),
                     1);
    assert_int_equal(t.states, 1); /* still traced as what happened */
    assert_int_equal(t.drops, 1);
    assert_int_equal(t.reason, BERTH_REASON_NONE);
    /* Listed states with the cause of another row are a bug too. */
    struct seen u = {0};
    assert_int_equal(trace_change(&u, BERTH_STATE_ESTABLISHED,
                                  BERTH_STATE_CLOSED,
                                  BERTH_REASON_TIME_WAIT_EXPIRED),
                     1);
    assert_int_equal(u.drops, 1);
}

/* The stack remembers the changes it found in the table (a small cache,
 * so a lifecycle's changes are checked in O(1)): on one stack, every
 * listed change, each twice, passes; every unlisted change, each after
 * listed ones of the same states or the same cause, is still counted. */
static void checks_stay_exact_with_remembered_changes(void **state)
{
    (void)state;
    struct seen t = {0};
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.trace = on_trace;
    cfg.trace_ctx = &t;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    struct tcp_node n = {.laddr = 1, .raddr = 2, .lport = 3, .rport = 4};
    size_t nrows;
    const struct tcp_fsm_row *rows = tcp_fsm_rows(&nrows);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < nrows; i++)
            for (int old = 0; old < BERTH_STATE__COUNT; old++)
                if (rows[i].from & (1u << old))
                    tcp_trace_state(s, -1, &n, (enum berth_state)old,
                                    (enum berth_state)rows[i].to,
                                    (enum berth_reason)rows[i].why);
    assert_int_equal(berth_drop_count(s, BERTH_REASON_NONE), 0);
    uint64_t bad = 0;
    for (int old = 0; old < BERTH_STATE__COUNT; old++)
        for (int to = 0; to < BERTH_STATE__COUNT; to++)
            for (size_t i = 0; i < nrows; i++) {
                enum berth_reason why = (enum berth_reason)rows[i].why;
                if (tcp_fsm_find((enum berth_state)old, (enum berth_state)to,
                                 why))
                    continue;
                tcp_trace_state(s, -1, &n, (enum berth_state)old,
                                (enum berth_state)to, why);
                bad++;
                assert_int_equal(berth_drop_count(s, BERTH_REASON_NONE), bad);
            }
    assert_true(bad > 0);
    berth_stack_destroy(s);
}

static int dump(void)
{
    size_t n;
    const struct tcp_fsm_row *rows = tcp_fsm_rows(&n);
    for (size_t i = 0; i < n; i++) {
        const char *sep = "";
        for (int st = 0; st < BERTH_STATE__COUNT; st++) {
            if (rows[i].from & (1u << st)) {
                printf("%s%s", sep, berth_state_name((enum berth_state)st));
                sep = ",";
            }
        }
        printf(" -> %s (%s) §%s\n",
               berth_state_name((enum berth_state)rows[i].to),
               berth_reason_name((enum berth_reason)rows[i].why), rows[i].rfc);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--dump") == 0)
        return dump();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_names_states_a_cause_and_an_rfc_section),
        cmocka_unit_test(no_transition_is_listed_twice),
        cmocka_unit_test(find_answers_by_state_and_cause),
        cmocka_unit_test(listed_change_is_traced_and_not_counted),
        cmocka_unit_test(unlisted_change_is_counted_and_traced),
        cmocka_unit_test(checks_stay_exact_with_remembered_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
