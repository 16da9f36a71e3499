/* An embedder's program, built outside the tree against an installed berth
 * (tests/install/test_install.sh): two stacks over the in-memory link, one
 * connection, a greeting each way, the runtime's impairment parser. It
 * defines functions named like berth's internals, with other signatures:
 * they must neither clash at link time (static) nor be called by the
 * library instead of its own (shared). Exit 0 and "embed: ok" on success. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <berth/berth.h>
#include <berth/memlink.h>
#include <berth/rt.h>

#define CLIENT_ADDR 0xc6120001u /* 198.18.0.1 */
#define SERVER_ADDR 0xc6120002u /* 198.18.0.2 */

/* The embedder's own names, as in lwIP or any program with a ring buffer. */
int ring_init(int x);
int mem_alloc(int x);
int htable_init(int x);
int assembler_add(int x);
int rng_below(int x);
int tcp_input(int x);
static int own_calls;
int ring_init(int x)
{
    return own_calls++, x + 1;
}
int mem_alloc(int x)
{
    return own_calls++, x + 2;
}
int htable_init(int x)
{
    return own_calls++, x + 3;
}
int assembler_add(int x)
{
    return own_calls++, x + 4;
}
int rng_below(int x)
{
    return own_calls++, x + 5;
}
int tcp_input(int x)
{
    return own_calls++, x + 6;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "embed: %s failed (%d: %s)\n", what, rc,
            berth_strerror(rc));
    return 1;
}

static int run_link(void)
{
    struct berth_memlink *link = berth_memlink_create(7);
    struct berth_stack *st[2];
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = side ? SERVER_ADDR : CLIENT_ADDR;
        cfg.seed = 100 + (uint64_t)side;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(link, side);
        st[side] = berth_stack_create(&cfg, 0);
        if (!st[side])
            return fail("berth_stack_create", 0);
        berth_memlink_attach(link, side, st[side]);
    }
    uint64_t now = 0;
    int ls = berth_socket(st[1]);
    int rc = berth_bind(st[1], ls, 0, 7);
    if (rc == 0)
        rc = berth_listen(st[1], ls, 4);
    if (rc != 0)
        return fail("bind/listen", rc);
    int c = berth_socket(st[0]);
    rc = berth_connect(st[0], c, SERVER_ADDR, 7);
    if (rc != BERTH_EINPROGRESS)
        return fail("berth_connect", rc);
    berth_memlink_run(link, &now, now + 100000);
    int a = berth_accept(st[1], ls, NULL);
    if (a < 0)
        return fail("berth_accept", a);
    const char hello[] = "hello from an embedder";
    rc = berth_send(st[0], c, hello, sizeof hello);
    if (rc != (int)sizeof hello)
        return fail("berth_send", rc);
    berth_memlink_run(link, &now, now + 100000);
    char buf[64] = {0};
    rc = berth_recv(st[1], a, buf, sizeof buf);
    if (rc != (int)sizeof hello || memcmp(buf, hello, sizeof hello) != 0)
        return fail("berth_recv", rc);
    berth_close(st[0], c);
    berth_close(st[1], a);
    berth_close(st[1], ls);
    berth_memlink_run(link, &now, now + 100000);
    printf("embed: the server got '%s'\n", buf);
    berth_stack_destroy(st[0]);
    berth_stack_destroy(st[1]);
    berth_memlink_destroy(link);
    return 0;
}

int main(void)
{
    printf("embed: berth %s (commit %s)\n", berth_version(), berth_commit());
    if (run_link() != 0)
        return 1;
    /* The runtime is in the library too (rt.h). */
    struct berth_impair imp;
    char err[128], spec[128];
    if (berth_impair_parse("loss=5%,seed=3", &imp, err, sizeof err) != 0) {
        fprintf(stderr, "embed: berth_impair_parse: %s\n", err);
        return 1;
    }
    berth_impair_format(&imp, spec, sizeof spec);
    printf("embed: impair %s\n", spec);
    /* Our own functions are ours: 6 calls, the values they compute. The
     * library above never called them (own_calls was 0 until now). */
    if (own_calls != 0) {
        fprintf(stderr,
                "embed: the library called the program's "
                "functions %d times\n",
                own_calls);
        return 1;
    }
    int sum = ring_init(0) + mem_alloc(0) + htable_init(0) + assembler_add(0) +
              rng_below(0) + tcp_input(0);
    if (sum != 21 || own_calls != 6) {
        fprintf(stderr, "embed: own functions gave %d\n", sum);
        return 1;
    }
    printf("embed: ok\n");
    return 0;
}
