/* The runtime's Ethernet link settings: the --link spec (rt_link_parse)
 * and the --neigh spec (berth_rt_neigh_parse), accepted and refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "berth/rt.h"
#include "rt/link_rt.h"

static void link_spec_kinds_names_and_queue(void **state)
{
    (void)state;
    struct rt_link_spec s;
    char err[200];
    assert_int_equal(rt_link_parse("tap:bt0", &s, err, sizeof err), 0);
    assert_int_equal(s.kind, RT_LINK_TAP);
    assert_string_equal(s.ifname, "bt0");
    assert_int_equal(rt_link_parse("packet:eth1", &s, err, sizeof err), 0);
    assert_int_equal(s.kind, RT_LINK_PACKET);
    assert_int_equal(rt_link_parse("xdp:eth1:3", &s, err, sizeof err), 0);
    assert_int_equal(s.kind, RT_LINK_XDP);
    assert_string_equal(s.ifname, "eth1");
    assert_int_equal(s.queue, 3);
    assert_int_equal(rt_link_parse("berth0", &s, err, sizeof err), 0);
    assert_int_equal(s.kind, RT_LINK_TUN);
    assert_string_equal(rt_link_kind_name(RT_LINK_PACKET), "packet");
}

static void link_spec_refused(void **state)
{
    (void)state;
    struct rt_link_spec s;
    char err[200];
    static const char *const bad[] = {
        "tap:",
        "packet:a/b",
        "tap:bt0:1",
        "xdp:eth0:",
        "xdp:eth0:x",
        "xdp:eth0:300",
        "tun:0123456789abcdef",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(rt_link_parse(bad[i], &s, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
    }
    struct berth_rt_config cfg;
    berth_rt_config_init(&cfg);
    assert_false(rt_link_wanted(&cfg));
    cfg.link = "tun:berth1";
    assert_false(rt_link_wanted(&cfg));
    cfg.link = "packet:veth0";
    assert_true(rt_link_wanted(&cfg));
}

static void neigh_spec_sets_timers_and_bounds(void **state)
{
    (void)state;
    struct berth_eth_config c;
    char err[200];
    berth_eth_config_init(&c);
    assert_int_equal(berth_rt_neigh_parse("reachable=2s,retrans=200ms "
                                          "delay=500ms,gc=10s,max=64,"
                                          "queue=5,probes=4,announce=0,"
                                          "accept-unsolicited",
                                          &c, err, sizeof err),
                     0);
    assert_int_equal(c.reachable_time, 2000000);
    assert_int_equal(c.retrans_time, 200000);
    assert_int_equal(c.delay_time, 500000);
    assert_int_equal(c.gc_time, 10000000);
    assert_int_equal(c.neigh_max, 64);
    assert_int_equal(c.queue_max, 5);
    assert_int_equal(c.mcast_probes, 4);
    assert_int_equal(c.ucast_probes, 4);
    assert_int_equal(c.announce, 0);
    assert_true(c.accept_unsolicited);
}

static void neigh_spec_refused_leaves_config(void **state)
{
    (void)state;
    struct berth_eth_config c, before;
    char err[200];
    berth_eth_config_init(&c);
    before = c;
    static const char *const bad[] = {
        "reachable=2", "retrans=0ms",       "max=0",
        "max=x",       "probes=0",          "bogus=1",
        "delay=-1s",   "reachable=2s,max=", "accept-unsolicited=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(berth_rt_neigh_parse(bad[i], &c, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
        assert_memory_equal(&c, &before, sizeof c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(link_spec_kinds_names_and_queue),
        cmocka_unit_test(link_spec_refused),
        cmocka_unit_test(neigh_spec_sets_timers_and_bounds),
        cmocka_unit_test(neigh_spec_refused_leaves_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
