/* The control socket and what it prints: `ss` and `stat` on a server stack
 * driven in memory (a listener, an established connection and a TIME-WAIT
 * entry with its timer), and the request/answer exchange over a real unix
 * socket in a temporary directory, with the server polled directly. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "berth/memlink.h"
#include "rt/rt_impl.h"

#define CLIENT      0
#define SERVER      1
#define CLIENT_ADDR 0xc6120001u /* 198.18.0.1 */
#define SERVER_ADDR 0xc6120002u /* 198.18.0.2 */
#define MS          1000ull

struct world {
    struct berth_memlink *link;
    struct berth_stack *st[2];
    uint64_t now;
    int listener, established;
};

static int connect_from(struct world *w, uint16_t port)
{
    int c = berth_socket(w->st[CLIENT]);
    assert_int_equal(berth_bind(w->st[CLIENT], c, 0, port), 0);
    assert_int_equal(berth_connect(w->st[CLIENT], c, SERVER_ADDR, 80),
                     BERTH_EINPROGRESS);
    assert_int_equal(berth_memlink_run(w->link, &w->now, w->now + 10 * MS), 0);
    return c;
}

/* The server ends up with a listener on :80, an established connection
 * from :1001 and a TIME-WAIT entry for :1002 (it closed first). */
static void world_init(struct world *w)
{
    memset(w, 0, sizeof *w);
    w->link = berth_memlink_create(3);
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = side == CLIENT ? CLIENT_ADDR : SERVER_ADDR;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(w->link, side);
        cfg.seed = 10 + (uint64_t)side;
        w->st[side] = berth_stack_create(&cfg, 0);
        assert_non_null(w->st[side]);
        berth_memlink_attach(w->link, side, w->st[side]);
    }
    struct berth_stack *srv = w->st[SERVER];
    w->listener = berth_socket(srv);
    assert_int_equal(berth_bind(srv, w->listener, 0, 80), 0);
    assert_int_equal(berth_listen(srv, w->listener, 16), 0);
    connect_from(w, 1001);
    w->established = berth_accept(srv, w->listener, NULL);
    assert_true(w->established >= 0);
    int c = connect_from(w, 1002);
    int sc = berth_accept(srv, w->listener, NULL);
    assert_true(sc >= 0);
    assert_int_equal(berth_close(srv, sc), 0);
    assert_int_equal(berth_memlink_run(w->link, &w->now, w->now + 10 * MS), 0);
    assert_int_equal(berth_close(w->st[CLIENT], c), 0);
    assert_int_equal(berth_memlink_run(w->link, &w->now, w->now + 10 * MS), 0);
}

static void world_free(struct world *w)
{
    berth_stack_destroy(w->st[0]);
    berth_stack_destroy(w->st[1]);
    berth_memlink_destroy(w->link);
}

/* Runs a printer into a string (freed by the caller). The stream's buffer
 * pointer lives in a heap block, not on this frame: gcc 12 took the returned
 * buffer for a pointer into the frame (-Wdangling-pointer). */
static char *print_ss(struct world *w, bool info)
{
    struct {
        char *text;
        size_t len;
    } *mem = calloc(1, sizeof *mem);
    assert_non_null(mem);
    FILE *f = open_memstream(&mem->text, &mem->len);
    assert_non_null(f);
    berth_rt_print_ss(w->st[SERVER], info, w->now, f);
    fclose(f);
    char *text = mem->text;
    free(mem);
    if (getenv("BERTH_TEST_VERBOSE"))
        fputs(text, stderr);
    return text;
}

static const char *line_with(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    if (!p)
        fail_msg("no '%s' in:\n%s", needle, text);
    while (p > text && p[-1] != '\n')
        p--;
    return p;
}

static void ss_lists_listener_established_and_time_wait(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    char *text = print_ss(&w, false);
    assert_true(strncmp(text, "State ", 6) == 0);
    assert_non_null(strstr(text, "Recv-Q Send-Q Local Address:Port"));
    const char *l = line_with(text, "LISTEN");
    assert_true(strncmp(l, "LISTEN ", 7) == 0);
    assert_non_null(strstr(l, "198.18.0.2:80"));
    assert_true(strstr(l, "0.0.0.0:*") < strchr(l, '\n'));
    const char *e = line_with(text, "ESTABLISHED");
    assert_true(strncmp(e, "ESTABLISHED ", 12) == 0);
    assert_true(strstr(e, "198.18.0.2:80") < strchr(e, '\n'));
    assert_true(strstr(e, "198.18.0.1:1001") < strchr(e, '\n'));
    const char *t = line_with(text, "TIME-WAIT");
    assert_true(strstr(t, "198.18.0.1:1002") < strchr(t, '\n'));
    assert_true(strstr(t, "timer:(timewait,59sec)") < strchr(t, '\n'));
    /* Listeners first, then by port. */
    assert_true(l < e && e < t);
    free(text);
    world_free(&w);
}

static void ss_info_adds_a_line_per_entry(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    char *text = print_ss(&w, true);
    const char *e = line_with(text, "ESTABLISHED");
    const char *info = strchr(e, '\n') + 1;
    /* Like ss -ti: the algorithm and agreed options first, then numbers. */
    assert_true(strncmp(info, "\t cubic ts sack mss:1460 rto:", 29) == 0);
    assert_non_null(strstr(info, " cwnd:10"));
    assert_non_null(strstr(info, "rcv_wnd:65535"));
    assert_non_null(strstr(info, "snd_wnd:"));
    assert_non_null(strstr(info, "retrans:0/0"));
    assert_non_null(
        strstr(line_with(text, "syn_queue:0"), "accept_queue:0/16"));
    free(text);
    world_free(&w);
}

/* A retransmission timer shows as "on": data the peer never ACKs. */
static struct berth_memlink_verdict
drop_all(void *ctx, int from, const uint8_t *pkt, size_t len, uint64_t now)
{
    (void)ctx, (void)from, (void)pkt, (void)len, (void)now;
    return berth_memlink_drop();
}

static void ss_shows_retransmission_timer(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    berth_memlink_set_filter(w.link, drop_all, NULL);
    assert_int_equal(berth_send(w.st[SERVER], w.established, "hello", 5), 5);
    char *text = print_ss(&w, false);
    const char *e = line_with(text, "ESTABLISHED");
    assert_true(strstr(e, "timer:(on,") < strchr(e, '\n'));
    assert_true(strstr(e, "      5 ") < strchr(e, '\n')); /* Send-Q */
    free(text);
    world_free(&w);
}

static void stat_lists_counters_and_drops(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    /* A segment for no connection: one NO_SOCKET drop. */
    int c = berth_socket(w.st[CLIENT]);
    assert_int_equal(berth_connect(w.st[CLIENT], c, SERVER_ADDR, 81),
                     BERTH_EINPROGRESS);
    assert_int_equal(berth_memlink_run(w.link, &w.now, w.now + 10 * MS), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    berth_rt_print_stat(w.st[SERVER], f);
    fclose(f);
    assert_true(strncmp(text, "Tcp:\n", 5) == 0);
    assert_non_null(strstr(text, "    2 passive connection openings\n"));
    assert_non_null(strstr(text, "    1 connections currently ESTABLISHED"));
    for (int i = 0; i < BERTH_CTR__COUNT; i++)
        assert_non_null(strstr(text, berth_counter_string(i)));
    const char *d = strstr(text, "Drops by reason:\n");
    assert_non_null(d);
    assert_non_null(strstr(d, "    1 NO_SOCKET ("));
    assert_null(strstr(d, "SEQ_OUT_OF_WINDOW")); /* zero: not listed */
    free(text);
    world_free(&w);
}

/* ------------------------------------------------------------------------
 * The socket.
 */

struct server {
    struct world *w;
    char dir[64], path[128];
    struct rt_ctl *ctl;
    int commands;
};

static void handler(void *ctx, const char *line, FILE *out)
{
    struct server *s = ctx;
    s->commands++;
    if (strcmp(line, "ss") == 0)
        berth_rt_print_ss(s->w->st[SERVER], false, s->w->now, out);
    else
        fprintf(out, "echo: '%s'\n", line);
}

struct request {
    const char *path, *command;
    char *answer;
    size_t len;
    int rc;
    atomic_bool done;
};

static void *client_thread(void *arg)
{
    struct request *r = arg;
    FILE *f = open_memstream(&r->answer, &r->len);
    r->rc = berth_rt_ctl_request(r->path, r->command, f);
    fclose(f);
    atomic_store(&r->done, true);
    return NULL;
}

/* The client blocks, so it runs in a thread while we poll the server. */
static int request(struct server *s, const char *command, char **answer)
{
    struct request r = {.path = s->path, .command = command};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, &r), 0);
    for (int i = 0; i < 500 && !atomic_load(&r.done); i++) {
        struct pollfd p = {rt_ctl_fd(s->ctl), POLLIN, 0};
        if (poll(&p, 1, 10) > 0)
            rt_ctl_poll(s->ctl, s->w->now, handler, s);
    }
    pthread_join(t, NULL);
    *answer = r.answer;
    return r.rc;
}

static void server_open(struct server *s, struct world *w)
{
    memset(s, 0, sizeof *s);
    s->w = w;
    strcpy(s->dir, "/tmp/berth-test-ctl-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->path, sizeof s->path, "%s/sub/berth0.sock", s->dir);
    char err[256];
    s->ctl = rt_ctl_open(s->path, err, sizeof err);
    if (!s->ctl)
        fail_msg("%s", err);
}

static void server_close(struct server *s)
{
    char sub[160];
    rt_ctl_close(s->ctl);
    assert_int_equal(access(s->path, F_OK), -1); /* removed */
    snprintf(sub, sizeof sub, "%s/sub", s->dir);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(rmdir(s->dir), 0);
}

static void ctl_request_answer_round_trip(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    struct server s;
    server_open(&s, &w);
    struct stat st;
    char sub[160];
    snprintf(sub, sizeof sub, "%s/sub", s.dir);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700); /* made private */

    char *answer;
    assert_int_equal(request(&s, "ss", &answer), 0);
    assert_non_null(strstr(answer, "ESTABLISHED"));
    assert_non_null(strstr(answer, "timer:(timewait,"));
    free(answer);
    assert_int_equal(request(&s, "impair loss=5%", &answer), 0);
    assert_string_equal(answer, "echo: 'impair loss=5%'\n");
    free(answer);
    assert_int_equal(s.commands, 2);
    server_close(&s);
    world_free(&w);
}

static void ctl_errors_and_stale_socket(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    struct server s;
    server_open(&s, &w);
    char err[256] = "";
    /* A live instance at the path is not replaced. */
    assert_null(rt_ctl_open(s.path, err, sizeof err));
    assert_non_null(strstr(err, "another berth instance"));
    /* A socket file nobody listens on: refused; a new server replaces it. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char stale[192];
    snprintf(stale, sizeof stale, "%s/stale.sock", s.dir);
    strcpy(sa.sun_path, stale);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    assert_int_equal(berth_rt_ctl_request(stale, "ss", NULL), -ECONNREFUSED);
    struct rt_ctl *again = rt_ctl_open(stale, err, sizeof err);
    assert_non_null(again);
    rt_ctl_close(again);
    char missing[192];
    snprintf(missing, sizeof missing, "%s/none.sock", s.dir);
    assert_int_equal(berth_rt_ctl_request(missing, "ss", NULL), -ENOENT);
    server_close(&s);
    world_free(&w);
}

static void ctl_silent_client_dropped_at_deadline(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    struct server s;
    server_open(&s, &w);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, s.path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct pollfd p = {rt_ctl_fd(s.ctl), POLLIN, 0};
    assert_int_equal(poll(&p, 1, 1000), 1);
    rt_ctl_poll(s.ctl, 0, handler, &s);
    assert_int_equal(rt_ctl_next_deadline(s.ctl), 5000000);
    rt_ctl_poll(s.ctl, 4999999, handler, &s);
    assert_int_equal(rt_ctl_next_deadline(s.ctl), 5000000);
    rt_ctl_poll(s.ctl, 5000000, handler, &s);
    assert_int_equal(rt_ctl_next_deadline(s.ctl), UINT64_MAX);
    char c;
    assert_int_equal(read(fd, &c, 1), 0); /* closed, no answer */
    close(fd);
    assert_int_equal(s.commands, 0);
    server_close(&s);
    world_free(&w);
}

/* The runtime's commands, on a runtime put together by hand: the command
 * handler needs only the stack and the impairment models, no TUN. */
static char *command(struct berth_rt *rt, const char *line)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rt_ctl_command(rt, line, f);
    fclose(f);
    return text;
}

static void control_commands_answer(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    struct berth_rt rt;
    memset(&rt, 0, sizeof rt);
    rt.stack = w.st[SERVER];
    rt.tun_name = "tun-test";
    rt.rx_imp = rt_impair_create(0);
    rt.tx_imp = rt_impair_create(0);
    char *a = command(&rt, "ss");
    assert_non_null(strstr(a, "ESTABLISHED"));
    assert_null(strstr(a, "mss:"));
    free(a);
    a = command(&rt, " ss -ti");
    assert_non_null(strstr(a, "mss:1460"));
    free(a);
    a = command(&rt, "impair loss=5%,delay=5ms");
    assert_string_equal(a, "impair: loss=5%,delay=5ms,seed=1\n");
    free(a);
    assert_int_equal(rt.impair.delay, 5000);
    a = command(&rt, "impair los=5");
    assert_true(strncmp(a, "error: impairment: unknown key 'los'", 36) == 0);
    free(a);
    assert_int_equal(rt.impair.delay, 5000); /* unchanged */
    a = command(&rt, "stat");
    assert_non_null(strstr(a, "passive connection openings"));
    assert_non_null(strstr(a, "Link (tun-test):\n"));
    assert_non_null(strstr(a, "impairment: loss=5%,delay=5ms,seed=1\n"));
    free(a);
    a = command(&rt, "impair off");
    assert_string_equal(a, "impair: off\n");
    free(a);
    a = command(&rt, "frob");
    assert_true(strncmp(a, "error: unknown command 'frob'", 29) == 0);
    free(a);
    assert_false(rt.stop_requested);
    a = command(&rt, "stop");
    assert_string_equal(a, "stopping\n");
    free(a);
    assert_true(rt.stop_requested);
    rt_impair_destroy(rt.rx_imp);
    rt_impair_destroy(rt.tx_imp);
    world_free(&w);
}

static void default_ctl_path_names_the_device(void **state)
{
    (void)state;
    char buf[256];
    berth_rt_default_ctl_path("tun7", buf, sizeof buf);
    if (geteuid() == 0)
        assert_string_equal(buf, "/run/berth/tun7.sock");
    else
        assert_non_null(strstr(buf, "/tun7.sock"));
    berth_rt_default_ctl_path(NULL, buf, sizeof buf);
    assert_non_null(strstr(buf, "/berth0.sock"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ss_lists_listener_established_and_time_wait),
        cmocka_unit_test(ss_info_adds_a_line_per_entry),
        cmocka_unit_test(ss_shows_retransmission_timer),
        cmocka_unit_test(stat_lists_counters_and_drops),
        cmocka_unit_test(ctl_request_answer_round_trip),
        cmocka_unit_test(ctl_errors_and_stale_socket),
        cmocka_unit_test(ctl_silent_client_dropped_at_deadline),
        cmocka_unit_test(control_commands_answer),
        cmocka_unit_test(default_ctl_path_names_the_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
