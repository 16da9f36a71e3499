/* Unit tests for src/posix/linux_map.c, the one table of Linux's numbers
 * that the POSIX layer and the packetdrill adapter share: the integer
 * socket options and their units, TCP states, struct tcp_info. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "linux_map.h"

static void int_options_map_to_berth_options_in_berths_units(void **state)
{
    (void)state;
    const struct linux_int_opt *m = linux_int_opt(IPPROTO_TCP, TCP_KEEPIDLE);
    assert_non_null(m);
    assert_int_equal(m->opt, BERTH_OPT_KEEPIDLE);
    assert_int_equal(m->factor, 1000000); /* tcp(7): seconds; berth: µs */
    m = linux_int_opt(IPPROTO_TCP, TCP_USER_TIMEOUT);
    assert_non_null(m);
    assert_int_equal(m->factor, 1000); /* milliseconds */
    m = linux_int_opt(SOL_SOCKET, SO_RCVBUF);
    assert_non_null(m);
    assert_int_equal(m->opt, BERTH_OPT_RCVBUF);
    assert_int_equal(m->factor, 1);
    /* The level matters: TCP_NODELAY's number at SOL_SOCKET is another
     * option (SO_DEBUG). */
    assert_non_null(linux_int_opt(IPPROTO_TCP, TCP_NODELAY));
    assert_null(linux_int_opt(SOL_SOCKET, TCP_NODELAY));
    assert_null(linux_int_opt(IPPROTO_TCP, TCP_CORK));
}

static void states_take_linuxs_numbers(void **state)
{
    (void)state;
    assert_int_equal(linux_tcp_state(BERTH_STATE_ESTABLISHED), 1);
    assert_int_equal(linux_tcp_state(BERTH_STATE_SYN_SENT), 2);
    assert_int_equal(linux_tcp_state(BERTH_STATE_SYN_RECEIVED), 3);
    assert_int_equal(linux_tcp_state(BERTH_STATE_FIN_WAIT_1), 4);
    assert_int_equal(linux_tcp_state(BERTH_STATE_FIN_WAIT_2), 5);
    assert_int_equal(linux_tcp_state(BERTH_STATE_TIME_WAIT), 6);
    assert_int_equal(linux_tcp_state(BERTH_STATE_CLOSED), 7);
    assert_int_equal(linux_tcp_state(BERTH_STATE_CLOSE_WAIT), 8);
    assert_int_equal(linux_tcp_state(BERTH_STATE_LAST_ACK), 9);
    assert_int_equal(linux_tcp_state(BERTH_STATE_LISTEN), 10);
    assert_int_equal(linux_tcp_state(BERTH_STATE_CLOSING), 11);
}

static void tcp_info_counts_segments_not_bytes(void **state)
{
    (void)state;
    struct berth_tcp_info in = {
        .state = BERTH_STATE_ESTABLISHED,
        .snd_mss = 1000,
        .unacked = 2001, /* two whole segments and a partial one */
        .cwnd = 10000,
        .ssthresh = UINT32_MAX,
        .recovery = BERTH_RECOVERY_FAST,
        .sack = true,
        .rcv_wnd = 65535,
    };
    struct tcp_info ti;
    linux_tcp_info(&in, &ti);
    assert_int_equal(ti.tcpi_state, TCP_ESTABLISHED);
    assert_int_equal(ti.tcpi_unacked, 3);
    assert_int_equal(ti.tcpi_snd_cwnd, 10);
    assert_int_equal(ti.tcpi_snd_ssthresh, 0x7fffffff); /* infinite */
    assert_int_equal(ti.tcpi_ca_state, TCP_CA_Recovery);
    assert_int_equal(ti.tcpi_options, TCPI_OPT_SACK);
    assert_int_equal(ti.tcpi_advmss, 1000);
    assert_int_equal(ti.tcpi_rcv_space, 65535);
    in.recovery = BERTH_RECOVERY_RTO;
    in.snd_mss = 0; /* not known yet: no division by zero */
    linux_tcp_info(&in, &ti);
    assert_int_equal(ti.tcpi_ca_state, TCP_CA_Loss);
    assert_int_equal(ti.tcpi_unacked, 2001);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(int_options_map_to_berth_options_in_berths_units),
        cmocka_unit_test(states_take_linuxs_numbers),
        cmocka_unit_test(tcp_info_counts_segments_not_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
