/* IPv4 reassembly (RFC 791 §3.2, RFC 815) for UDP and ICMP, with strict
 * bounds: at most FRAG_QUEUES datagrams at once, FRAG_MEM_MAX bytes of
 * buffers between them, FRAG_MAX_RANGES disjoint pieces each, FRAG_TIMEOUT
 * to complete. A fragment that overlaps one already held abandons its
 * datagram (RFC 5722 §3, the same rule for IPv4: overlaps serve only to
 * evade filters; an exact duplicate is only dropped). TCP fragments are
 * dropped and counted (IP_FRAGMENT): TCP sizes its segments to the path
 * (MSS, DF, PMTUD), so a fragmented segment is a misbehaving or hostile
 * sender, and reassembly would be work on the fast path for nothing.
 * Memory comes from the stack's own tables (tmem), bounded as above. */
#include "ip/ip.h"

#include "wire/udp.h"

#include <string.h>

#define FRAG_QUEUES     8u
#define FRAG_MAX_RANGES 32u
#define FRAG_MEM_MAX    (256u << 10)
#define FRAG_TIMEOUT    (30u * 1000000u) /* µs, as Linux's ipfrag_time */
#define FRAG_HDR_ROOM   60u              /* the largest IPv4 header */
#define FRAG_MAX_DATA   (65535u - 20u)   /* a datagram's payload */

struct frag_q {
    bool used, have_first, have_last;
    uint8_t proto, n, hdr_len;
    uint16_t id;
    uint32_t src, dst;
    uint32_t total;   /* payload length, once the last fragment came */
    uint64_t expires; /* stack time */
    uint32_t cap;     /* payload bytes buf holds (after FRAG_HDR_ROOM) */
    uint8_t *buf;
    struct {
        uint32_t start, end;
    } r[FRAG_MAX_RANGES]; /* sorted, disjoint, not adjacent */
};

struct frag_state {
    uint32_t bytes; /* buffers held, <= FRAG_MEM_MAX */
    int done;       /* the queue frag_input() completed, or -1 */
    struct frag_q q[FRAG_QUEUES];
};

static void q_free(struct berth_stack *s, struct frag_q *q)
{
    if (q->buf) {
        mem_free(&s->tmem, q->buf, FRAG_HDR_ROOM + q->cap);
        s->frag->bytes -= FRAG_HDR_ROOM + q->cap;
    }
    memset(q, 0, sizeof *q);
}

/* Gives up a datagram: counted; traced with why unless the fragment at
 * hand caused it (the caller drops that one with the reason). */
static void q_abandon(struct berth_stack *s, struct frag_q *q,
                      enum berth_reason why, bool trace)
{
    stack_count(s, BERTH_CTR_IP_REASM_FAILS);
    if (trace)
        stack_trace_drop(s, -1, false, q->dst, 0, q->src, 0, why);
    q_free(s, q);
}

void frag_expire(struct berth_stack *s)
{
    if (!s->frag)
        return;
    for (unsigned i = 0; i < FRAG_QUEUES; i++) {
        struct frag_q *q = &s->frag->q[i];
        if (q->used && q->expires <= s->now)
            q_abandon(s, q, BERTH_REASON_FRAG_TIMEOUT, true);
    }
}

void frag_release(struct berth_stack *s)
{
    if (s->frag && s->frag->done >= 0) {
        q_free(s, &s->frag->q[s->frag->done]);
        s->frag->done = -1;
    }
}

void frag_free(struct berth_stack *s)
{
    if (!s->frag)
        return;
    for (unsigned i = 0; i < FRAG_QUEUES; i++)
        if (s->frag->q[i].used)
            q_free(s, &s->frag->q[i]);
    mem_free(&s->tmem, s->frag, sizeof *s->frag);
    s->frag = NULL;
}

/* The queue of a datagram, or a new one (the oldest gives way when all
 * are taken: a flood of first fragments cannot hold them all). */
static struct frag_q *q_find(struct berth_stack *s, const struct ipv4_info *ip)
{
    struct frag_q *free_q = NULL, *oldest = NULL;
    for (unsigned i = 0; i < FRAG_QUEUES; i++) {
        struct frag_q *q = &s->frag->q[i];
        if (!q->used) {
            free_q = free_q ? free_q : q;
            continue;
        }
        if (q->src == ip->src && q->dst == ip->dst && q->id == ip->id &&
            q->proto == ip->proto)
            return q;
        if (!oldest || q->expires < oldest->expires)
            oldest = q;
    }
    if (!free_q) {
        q_abandon(s, oldest, BERTH_REASON_FRAG_NO_ROOM, true);
        free_q = oldest;
    }
    *free_q = (struct frag_q){.used = true,
                              .proto = ip->proto,
                              .id = ip->id,
                              .src = ip->src,
                              .dst = ip->dst,
                              .expires = s->now + FRAG_TIMEOUT};
    return free_q;
}

/* Room for payload bytes [0, end) in q's buffer, within FRAG_MEM_MAX. */
static bool q_reserve(struct berth_stack *s, struct frag_q *q, uint32_t end)
{
    if (end <= q->cap)
        return true;
    uint32_t cap = (end + 2047u) & ~2047u;
    if (cap > FRAG_MAX_DATA)
        cap = FRAG_MAX_DATA;
    uint32_t grow = cap - q->cap + (q->buf ? 0 : FRAG_HDR_ROOM);
    if (s->frag->bytes + grow > FRAG_MEM_MAX)
        return false;
    uint8_t *b = mem_alloc(&s->tmem, FRAG_HDR_ROOM + cap);
    if (!b)
        return false;
    if (q->buf) {
        memcpy(b, q->buf, FRAG_HDR_ROOM + q->cap);
        mem_free(&s->tmem, q->buf, FRAG_HDR_ROOM + q->cap);
    }
    s->frag->bytes += grow;
    q->buf = b;
    q->cap = cap;
    return true;
}

/* Adds [a, b) to the sorted ranges, merging neighbours. 0, or the reason
 * the datagram must be abandoned; 1: an exact duplicate, ignored. */
static int q_add_range(struct frag_q *q, uint32_t a, uint32_t b)
{
    unsigned i = 0;
    for (; i < q->n; i++) {
        if (q->r[i].start == a && q->r[i].end == b)
            return 1; /* RFC 8200 §4.5: an exact duplicate is dropped */
        if (a < q->r[i].end && q->r[i].start < b)
            return BERTH_REASON_FRAG_OVERLAP; /* RFC 5722 §3 */
        if (q->r[i].start >= b)
            break;
    }
    /* Merge with the range before (ending at a) and after (starting at b). */
    bool prev = i > 0 && q->r[i - 1].end == a;
    bool next = i < q->n && q->r[i].start == b;
    if (prev && next) {
        q->r[i - 1].end = q->r[i].end;
        memmove(&q->r[i], &q->r[i + 1], (q->n - i - 1) * sizeof q->r[0]);
        q->n--;
    } else if (prev) {
        q->r[i - 1].end = b;
    } else if (next) {
        q->r[i].start = a;
    } else {
        if (q->n == FRAG_MAX_RANGES)
            return BERTH_REASON_FRAG_BAD;
        memmove(&q->r[i + 1], &q->r[i], (q->n - i) * sizeof q->r[0]);
        q->r[i].start = a;
        q->r[i].end = b;
        q->n++;
    }
    return 0;
}

/* The datagram is whole: *out describes it in q's buffer, its header the
 * first fragment's with the whole length and no fragment fields. */
static void q_complete(struct berth_stack *s, struct frag_q *q,
                       struct ipv4_info *out)
{
    stack_count(s, BERTH_CTR_IP_REASM_OKS);
    uint8_t *h = q->buf + FRAG_HDR_ROOM - q->hdr_len;
    uint16_t tl = (uint16_t)(q->hdr_len + q->total);
    h[2] = (uint8_t)(tl >> 8); /* the whole datagram's, as a quote shows */
    h[3] = (uint8_t)tl;
    h[6] &= 0x40u; /* MF and the offset cleared, DF kept */
    h[7] = 0;
    *out = (struct ipv4_info){.src = q->src,
                              .dst = q->dst,
                              .proto = q->proto,
                              .ttl = h[8],
                              .tos = h[1],
                              .id = q->id,
                              .hdr_len = q->hdr_len,
                              .payload = q->buf + FRAG_HDR_ROOM,
                              .payload_len = (uint16_t)q->total};
    s->frag->done = (int)(q - s->frag->q);
}

int frag_input(struct berth_stack *s, const uint8_t *pkt, size_t len,
               struct ipv4_info *out)
{
    struct ipv4_info ip;
    struct ipv4_frag f;
    int r = ipv4_parse_fragment(pkt, len, &ip, &f);
    if (r != 0)
        return r;
    if (ip.proto != IPPROTO_UDP_NUM && ip.proto != IPPROTO_ICMP_NUM)
        return BERTH_REASON_IP_FRAGMENT;
    stack_count(s, BERTH_CTR_IP_REASM_REQDS);
    if (!s->frag) {
        s->frag = mem_alloc(&s->tmem, sizeof *s->frag);
        if (!s->frag)
            return BERTH_REASON_FRAG_NO_ROOM;
        s->frag->done = -1;
    }
    frag_release(s);
    frag_expire(s);
    uint32_t a = f.offset, b = a + ip.payload_len;
    /* RFC 791: every fragment but the last carries a multiple of 8 bytes;
     * none reaches beyond a 65535-byte datagram; none is empty. */
    if (ip.payload_len == 0 || b > FRAG_MAX_DATA ||
        (f.more && ip.payload_len % 8u != 0))
        return BERTH_REASON_FRAG_BAD;
    struct frag_q *q = q_find(s, &ip);
    int why = 0;
    if ((q->have_last && (b > q->total || (!f.more && b != q->total))) ||
        (!f.more && q->n && q->r[q->n - 1].end > b))
        why = BERTH_REASON_FRAG_BAD; /* a second, different end */
    if (!why)
        why = q_add_range(q, a, b);
    if (why == 1)
        return -1; /* duplicate: dropped, the datagram goes on */
    if (!why && !q_reserve(s, q, b))
        why = BERTH_REASON_FRAG_NO_ROOM;
    if (why) {
        q_abandon(s, q, (enum berth_reason)why, false);
        return why;
    }
    memcpy(q->buf + FRAG_HDR_ROOM + a, ip.payload, ip.payload_len);
    if (a == 0) { /* the first fragment's header heads the datagram */
        q->have_first = true;
        q->hdr_len = (uint8_t)ip.hdr_len;
        memcpy(q->buf + FRAG_HDR_ROOM - ip.hdr_len, pkt, ip.hdr_len);
    }
    if (!f.more) {
        q->have_last = true;
        q->total = b;
    }
    if (!q->have_first || !q->have_last || q->n != 1 || q->r[0].end != q->total)
        return -1; /* queued */
    q_complete(s, q, out);
    return 0;
}
