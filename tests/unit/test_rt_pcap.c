/* The runtime's pcap writer: a file in classic pcap format (magic
 * 0xa1b2c3d4, version 2.4, snaplen 65535, LINKTYPE_RAW) with one record per
 * packet, which tshark reads back. The packets are a real connection
 * between two stacks over the in-memory link, captured from its tap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "berth/memlink.h"
#include "rt/rt_impl.h"

#define CLIENT_ADDR 0xc6120001u /* 198.18.0.1 */
#define SERVER_ADDR 0xc6120002u /* 198.18.0.2 */
#define MS          1000ull

struct capture {
    struct rt_pcap *pcap;
    size_t packets, bytes;
};

static void tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                size_t len, unsigned fate)
{
    (void)from;
    (void)fate;
    struct capture *c = ctx;
    /* Virtual time as the timestamp: 1 ms of the link is 1 ms in the
     * file, starting at the epoch's second 1000. */
    struct timespec ts = {(time_t)(1000 + now / 1000000),
                          (long)(now % 1000000) * 1000};
    rt_pcap_write_at(c->pcap, &ts, pkt, len);
    c->packets++;
    c->bytes += len;
}

/* Handshake, 3000 bytes one way, close both ways: about a dozen packets. */
static void run_connection(struct capture *cap)
{
    struct berth_memlink *link = berth_memlink_create(1);
    struct berth_stack *st[2];
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = side ? SERVER_ADDR : CLIENT_ADDR;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(link, side);
        cfg.seed = 5 + (uint64_t)side;
        st[side] = berth_stack_create(&cfg, 0);
        assert_non_null(st[side]);
        berth_memlink_attach(link, side, st[side]);
    }
    berth_memlink_set_tap(link, tap, cap);
    uint64_t now = 0;
    int l = berth_socket(st[1]);
    assert_int_equal(berth_bind(st[1], l, 0, 80), 0);
    assert_int_equal(berth_listen(st[1], l, 4), 0);
    int c = berth_socket(st[0]);
    assert_int_equal(berth_connect(st[0], c, SERVER_ADDR, 80),
                     BERTH_EINPROGRESS);
    assert_int_equal(berth_memlink_run(link, &now, now + 10 * MS), 0);
    int a = berth_accept(st[1], l, NULL);
    assert_true(a >= 0);
    static char data[3000];
    assert_int_equal(berth_send(st[0], c, data, sizeof data), sizeof data);
    assert_int_equal(berth_memlink_run(link, &now, now + 100 * MS), 0);
    char buf[4000];
    assert_int_equal(berth_recv(st[1], a, buf, sizeof buf), sizeof data);
    assert_int_equal(berth_close(st[0], c), 0);
    assert_int_equal(berth_close(st[1], a), 0);
    assert_int_equal(berth_close(st[1], l), 0);
    assert_int_equal(berth_memlink_run(link, &now, now + 100 * MS), 0);
    berth_stack_destroy(st[0]);
    berth_stack_destroy(st[1]);
    berth_memlink_destroy(link);
}

static void check_file_layout(const char *path, const struct capture *cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint32_t h[6];
    uint16_t version[2];
    assert_int_equal(fread(h, 4, 1, f), 1);
    assert_int_equal(fread(version, 2, 2, f), 2);
    assert_int_equal(fread(&h[1], 4, 4, f), 4);
    assert_int_equal(h[0], 0xa1b2c3d4u);
    assert_int_equal(version[0], 2);
    assert_int_equal(version[1], 4);
    assert_int_equal(h[3], 65535); /* snaplen */
    assert_int_equal(h[4], 101);   /* LINKTYPE_RAW */
    size_t records = 0, bytes = 0;
    uint32_t r[4];
    while (fread(r, 4, 4, f) == 4) {
        assert_int_equal(r[2], r[3]); /* nothing truncated */
        assert_true(r[0] >= 1000);
        assert_int_equal(fseek(f, r[2], SEEK_CUR), 0);
        records++;
        bytes += r[2];
    }
    fclose(f);
    assert_int_equal(records, cap->packets);
    assert_int_equal(bytes, cap->bytes);
}

static size_t count_lines(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    int ch;
    while ((ch = fgetc(p)) != EOF)
        n += ch == '\n';
    pclose(p);
    return n;
}

static void pcap_file_is_read_by_tshark(void **state)
{
    (void)state;
    char path[] = "/tmp/berth-test-pcap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256];
    struct capture cap = {0};
    cap.pcap = rt_pcap_open(path, err, sizeof err);
    assert_non_null(cap.pcap);
    run_connection(&cap);
    assert_int_equal(rt_pcap_close(cap.pcap), 0);
    assert_true(cap.packets >= 8);
    check_file_layout(path, &cap);

    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        unlink(path);
        skip();
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tshark -n -r %s 2>/dev/null", path);
    assert_int_equal(count_lines(cmd), cap.packets);
    /* Decoded as TCP: the SYN and the SYN-ACK, and two FINs. */
    snprintf(cmd, sizeof cmd,
             "tshark -n -r %s -Y 'tcp.flags.syn == 1' 2>/dev/null", path);
    assert_int_equal(count_lines(cmd), 2);
    snprintf(cmd, sizeof cmd,
             "tshark -n -r %s -Y 'tcp.flags.fin == 1 && ip.src == "
             "198.18.0.2' 2>/dev/null",
             path);
    assert_int_equal(count_lines(cmd), 1);
    unlink(path);
}

static void open_failure_is_one_line(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(rt_pcap_open("/nonexistent-dir/x.pcap", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/x.pcap"));
    assert_non_null(strstr(err, "No such file"));
    assert_null(strchr(err, '\n'));
}

static void empty_capture_is_a_valid_file(void **state)
{
    (void)state;
    char path[] = "/tmp/berth-test-pcap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256];
    struct rt_pcap *p = rt_pcap_open(path, err, sizeof err);
    assert_non_null(p);
    /* The header is on disk before any flush. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    assert_int_equal(ftell(f), 24);
    fclose(f);
    uint8_t pkt[20] = {0x45};
    rt_pcap_write(p, pkt, sizeof pkt);
    assert_int_equal(rt_pcap_flush(p), 0);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    assert_int_equal(ftell(f), 24 + 16 + 20);
    fclose(f);
    assert_int_equal(rt_pcap_close(p), 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pcap_file_is_read_by_tshark),
        cmocka_unit_test(open_failure_is_one_line),
        cmocka_unit_test(empty_capture_is_a_valid_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
