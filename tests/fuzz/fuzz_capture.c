/* libFuzzer target for `berth ladder`'s capture reader and ladder model:
 * any bytes as a pcap file either fail to open with a message or yield
 * segments; the segments of the first connection, in both directions, are
 * drawn (both ends inferred, --explain) as text and SVG, which must not
 * crash, read out of bounds or leak (the sanitizers watch). */
#include "capture.h"
#include "ladder.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1u << 20))
        return 0;
    char err[300];
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0;
    struct capture *c = capture_open_stream(f, "fuzz", err, sizeof err);
    if (!c) {
        if (err[0] == '\0' || strchr(err, '\n'))
            abort(); /* a failure says why, on one line */
        return 0;
    }
    struct ladder_opts o = {.infer = {true, true}, .explain = true};
    o.near[size & 1] = (size & 2) != 0;
    struct ladder *ld = ladder_new(&o);
    struct cap_packet p;
    struct cap_addr a, b;
    bool locked = false;
    /* Bounded by the input: every record consumes at least its header. */
    while (ld && capture_next(c, &p, err, sizeof err) == 1) {
        if (p.plen > p.seg.len)
            abort(); /* more payload than the segment has */
        if (!locked) {
            a = p.src, b = p.dst;
            ladder_lock(ld, &a, &b);
            locked = true;
        }
        int from = cap_addr_eq(&p.src, &a) && cap_addr_eq(&p.dst, &b)   ? 0
                   : cap_addr_eq(&p.src, &b) && cap_addr_eq(&p.dst, &a) ? 1
                                                                        : -1;
        if (from >= 0)
            ladder_segment(ld, from, p.t, &p.seg, p.payload, p.plen,
                           (p.seg.seq & 7) == 0);
    }
    capture_close(c);
    FILE *null = fopen("/dev/null", "w");
    if (ld && null) {
        ladder_print(ld, null, "client", "server");
        ladder_print_svg(ld, null, "client", "server", size & 4);
    }
    if (null)
        fclose(null);
    ladder_destroy(ld);
    return 0;
}
