/* The stack object: creation and teardown, the packet entry point (IPv4
 * demultiplexing to TCP), time, counters and the trace hook. */
#include "stack.h"

#include "base/siphash.h"
#include "ip/ip.h"
#include "tcp/tcp.h"
#include "wire/bytes.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#include <string.h>

static bool addr6_set(const uint8_t *a)
{
    for (int i = 0; i < 16; i++)
        if (a[i])
            return true;
    return false;
}

/* IPv6 is on when the configuration names our address: it is interned
 * first, permanently (ip/addr6.h). */
static int stack_ipv6_init(struct berth_stack *s)
{
    if (addr6_table_init(&s->addr6, &s->mem, &s->tmem, s->cfg.secret) != 0)
        return -1;
    s->ipv6 = addr6_set(s->cfg.addr6);
    if (!s->ipv6)
        return 0;
    int64_t id = addr6_intern(&s->addr6, s->cfg.addr6, true);
    if (id < 0)
        return -1;
    s->addr6_id = (uint32_t)id;
    return 0;
}

struct berth_endpoint stack_endpoint(const struct berth_stack *s, bool v6,
                                     uint32_t addr, uint16_t port)
{
    if (!v6)
        return berth_endpoint_v4(addr, port);
    return berth_endpoint_v6(addr6_get(&s->addr6, addr), port);
}

uint32_t stack_addr_key(const struct berth_stack *s, bool v6, uint32_t addr)
{
    if (!v6)
        return addr;
    return (uint32_t)siphash24(s->cfg.secret, addr6_get(&s->addr6, addr),
                               ADDR6_LEN);
}

void stack_addr_ref(struct berth_stack *s, bool v6, uint32_t addr)
{
    if (v6)
        addr6_ref(&s->addr6, addr);
}

void stack_addr_unref(struct berth_stack *s, bool v6, uint32_t addr)
{
    if (v6)
        addr6_unref(&s->addr6, addr);
}

static bool config_valid(const struct berth_config *c)
{
    return c->max_sockets > 0 && c->max_sockets <= (1u << SOCK_IDX_BITS) &&
           c->mss >= 64 && c->mss <= TX_MAX_MSS && c->sndbuf > 0 &&
           c->rcvbuf > 0 && c->ephemeral_lo > 0 &&
           c->ephemeral_lo <= c->ephemeral_hi && c->rto_min > 0 &&
           c->rto_initial > 0 && c->rto_max >= c->rto_min && c->msl > 0 &&
           c->delack > 0 && c->delack <= 500000u && /* RFC 1122 §4.2.3.2 */
           c->tso_max <= 65535u && /* an IPv4 datagram's total length */
           c->rto_max <= 3600000000u && c->rto_initial <= c->rto_max &&
           c->keepalive_idle >= 1000 && c->keepalive_interval >= 1000 &&
           /* Deadlines are ms ticks compared modulo 2^32 (tcp.h): none may
            * lie 2^31 ms ahead. Linux's limits are lower still. */
           c->keepalive_idle <= TCP_MAX_TIMEOUT_US &&
           c->keepalive_interval <= TCP_MAX_TIMEOUT_US &&
           c->user_timeout <= TCP_MAX_TIMEOUT_US &&
           c->msl <= TCP_MAX_TIMEOUT_US / 2 &&
           c->fin_wait_2_timeout <= TCP_MAX_TIMEOUT_US &&
           c->synack_retries <= 127 && /* a 7-bit count in the SYN queue */
           c->expected_conns <= (1u << 24);
}

struct berth_stack *berth_stack_create(const struct berth_config *cfg,
                                       uint64_t now)
{
    if (!cfg || !config_valid(cfg))
        return NULL;
    struct mem tmem = {0};
    struct berth_stack *s = mem_alloc(&tmem, sizeof *s);
    if (!s)
        return NULL;
    s->tmem = tmem;
    s->cfg = *cfg;
    sipkey_init(&s->sipkey, cfg->secret);
    s->now = now;
    rng_seed(&s->rng, cfg->seed);
    /* The cache counts in the budget: at most an eighth of it, so idle
     * buffers alone never come near the pressure threshold. */
    size_t cache = cfg->buf_cache;
    if (cfg->mem_limit && cache > cfg->mem_limit / 8)
        cache = cfg->mem_limit / 8;
    bufcache_init(&s->bufs, cache);
    mem_budget_init(&s->budget, cfg->mem_limit);
    timer_wheel_init(&s->wheel, now);
    s->timer_tick = now / TIMER_TICK_US;
    s->free_sock = s->ready_head = s->ready_tail = -1;
    s->rx_keep_sock = -1;
    s->txbuf = mem_alloc(&s->tmem, TX_BUF_SIZE);
    s->bound_ports = mem_alloc(&s->tmem, 65536 / 8);
    s->conn_cache = mem_alloc(&s->tmem, TCP_CONN_CACHE * sizeof *s->conn_cache);
    s->port_next = mem_alloc(&s->tmem, TCP_PORT_NEXT * sizeof *s->port_next);
    if (!s->txbuf || !s->bound_ports || !s->conn_cache || !s->port_next ||
        htable_init(&s->conns, &s->tmem,
                    cfg->expected_conns ? cfg->expected_conns : 64,
                    tcp_node_rehash, s) != 0 ||
        htable_init(&s->listeners, &s->tmem, 8, tcp_listener_rehash, NULL) !=
            0 ||
        stack_ipv6_init(s) != 0) {
        berth_stack_destroy(s);
        return NULL;
    }
    tcp_mem_classes(s);
    return s;
}

void berth_stack_destroy(struct berth_stack *s)
{
    if (!s)
        return;
    sock_destroy_all(s);
    bufcache_flush(&s->bufs);
    mem_release(&s->mem);
    htable_fini(&s->conns);
    htable_fini(&s->listeners);
    addr6_table_fini(&s->addr6);
    pmtu_free(s);
    frag_free(s);
    mem_free(&s->tmem, s->bound_ports, 65536 / 8);
    mem_free(&s->tmem, s->conn_cache, TCP_CONN_CACHE * sizeof *s->conn_cache);
    mem_free(&s->tmem, s->port_next, TCP_PORT_NEXT * sizeof *s->port_next);
    mem_free(&s->tmem, s->txbuf, TX_BUF_SIZE);
    mem_free(&s->tmem, s->rx_lin, RX_LIN_SIZE);
    struct mem tmem = s->tmem;
    mem_free(&tmem, s, sizeof *s);
}

void stack_trace_drop(struct berth_stack *s, int sock, bool v6, uint32_t laddr,
                      uint16_t lport, uint32_t raddr, uint16_t rport,
                      enum berth_reason why)
{
    s->drops[why]++;
    if (stack_log_on(s))
        tcp_log_drop(s, sock, v6, laddr, lport, raddr, rport, why);
    if (!s->cfg.trace)
        return;
    struct berth_trace ev = {
        .kind = BERTH_TRACE_DROP,
        .now = s->now,
        .sock = sock,
        .local = stack_endpoint(s, v6, laddr, lport),
        .remote = stack_endpoint(s, v6, raddr, rport),
        .reason = why,
    };
    s->cfg.trace(s->cfg.trace_ctx, &ev);
}

static void drop_packet(struct berth_stack *s, uint32_t src, uint32_t dst,
                        enum berth_reason why)
{
    stack_count(s, BERTH_CTR_IP_IN_DROPPED);
    stack_trace_drop(s, -1, false, dst, 0, src, 0, why);
}

/* Advancing the wheel to the tick it is at, with its current slot empty,
 * fires nothing and changes nothing (timer_wheel.c): every packet of a
 * burst within one tick skips it. After an advance the current slot is
 * empty; only a timer armed at or before that tick fills it again
 * (stack_timer_arm). */
static void run_timers(struct berth_stack *s, uint64_t now)
{
    if (now > s->now)
        s->now = now;
    uint64_t tick = s->now / TIMER_TICK_US;
    if (tick == s->timer_tick && !s->timers_due)
        return;
    timer_wheel_advance(&s->wheel, s->now, tcp_timer_fire, s);
    s->timer_tick = tick;
    s->timers_due = false;
}

/* RFC 1122 §3.2.1.3 and §3.2.2.x: a source address that cannot send (the
 * limited broadcast, a class D multicast group, "this host" 0.0.0.0/8, a
 * loopback address arriving on a non-loopback link) is silently dropped
 * and never answered (RFC 9293 §3.10.7.2 third: a SYN from such a source
 * is ignored; RFC 1122 §4.2.3.10: no RST to broadcast or multicast). A
 * segment from our own address and port (LAND) is dropped too: answering
 * it would talk to ourselves. Class E (240/4) is left to routers. */
static enum berth_reason source_check(const struct berth_stack *s, uint32_t src,
                                      const struct tcp_seg *seg)
{
    uint8_t net = (uint8_t)(src >> 24);
    bool we_loop = (s->cfg.addr >> 24) == 127u;
    if (src == 0xffffffffu || (net & 0xf0u) == 0xe0u || net == 0 ||
        (net == 127u && !we_loop))
        return BERTH_REASON_BAD_SOURCE;
    if (src == s->cfg.addr && seg->sport == seg->dport)
        return BERTH_REASON_LAND;
    return BERTH_REASON_NONE;
}

/* RFC 4291 §2.5.2-2.5.3, §2.7, §2.5.5.2; RFC 8200 §3: a source that cannot
 * send: the unspecified address, loopback (::1) arriving on a link, a
 * multicast group, an IPv4-mapped address (never on the wire; Linux drops
 * it too). And LAND, as for IPv4. */
static enum berth_reason source_check6(const struct berth_stack *s,
                                       const uint8_t *src,
                                       const struct tcp_seg *seg)
{
    static const uint8_t loopback[16] = {[15] = 1};
    struct berth_endpoint ep = berth_endpoint_v6(src, 0);
    if (!addr6_set(src) || memcmp(src, loopback, 16) == 0 || src[0] == 0xff ||
        berth_endpoint_v4mapped(&ep, NULL))
        return BERTH_REASON_BAD_SOURCE;
    if (memcmp(src, s->cfg.addr6, 16) == 0 && seg->sport == seg->dport)
        return BERTH_REASON_LAND;
    return BERTH_REASON_NONE;
}

static int drop6(struct berth_stack *s, enum berth_counter c,
                 enum berth_reason why)
{
    stack_count(s, c);
    stack_trace_drop(s, -1, false, 0, 0, 0, 0, why);
    return why;
}

/* An IPv6 packet of another protocol (src/ip/): its source must be able
 * to send, as for TCP (RFC 4443 §2.4 (e): nothing is answered to the
 * unspecified or a multicast source). */
static int other_packet6(struct berth_stack *s, const struct ipv6_info *ip,
                         uint32_t flags)
{
    struct tcp_seg none = {0};
    enum berth_reason r = source_check6(s, ip->src, &none);
    if (r == BERTH_REASON_LAND)
        r = BERTH_REASON_NONE; /* ports are TCP's; ours may ping us */
    if (r != BERTH_REASON_NONE)
        return drop6(s, BERTH_CTR_BAD_SOURCE_DROPS, r);
    r = (enum berth_reason)(ip->proto == IPV6_NH_ICMP6
                                ? icmp6_input(s, ip)
                                : udp_input6(s, ip, flags));
    stack_mem_update(s);
    return (int)r;
}

/* An IPv6 packet (RFC 8200): the header and extension headers, then TCP
 * with the IPv6 pseudo-header. Addresses enter the engine as interned
 * ids; the packet's own reference on the source's keeps it while the
 * segment is processed, whatever records come and go. */
static int input6(struct berth_stack *s, const uint8_t *pkt, size_t len,
                  uint32_t flags)
{
    stack_count(s, BERTH_CTR_IP6_IN);
    struct ipv6_info ip;
    int r = ipv6_parse(pkt, len, &ip);
    if (r == 0 && memcmp(ip.dst, s->cfg.addr6, 16) != 0)
        r = BERTH_REASON_NOT_FOR_US;
    /* RFC 8200 §4.5: berth does not reassemble; TCP sizes its segments by
     * the MSS and Packet Too Big, so a TCP fragment is a counted drop. */
    if (r == 0 && ip.fragment)
        r = BERTH_REASON_IP6_FRAGMENT;
    if (r == 0 && ip.proto != IPV6_NH_TCP && ip.proto != IPV6_NH_ICMP6 &&
        ip.proto != IPPROTO_UDP_NUM)
        r = BERTH_REASON_NOT_TCP;
    if (r != 0)
        return drop6(s, BERTH_CTR_IP6_IN_DROPPED, r);
    if (ip.proto != IPV6_NH_TCP)
        return other_packet6(s, &ip, flags);
    struct tcp_seg seg;
    r = tcp_parse6(ip.payload, ip.payload_len, ip.src, ip.dst,
                   !(flags & BERTH_IN_CSUM_OK), &seg);
    if (r == 0 && (seg.sport == 0 || seg.dport == 0))
        r = BERTH_REASON_BAD_PORT;
    if (r != 0) {
        if (r == BERTH_REASON_BAD_TCP_CHECKSUM)
            stack_count(s, BERTH_CTR_BAD_CSUM);
        return drop6(s, BERTH_CTR_IN_ERRS, r);
    }
    r = source_check6(s, ip.src, &seg);
    if (r != 0)
        return drop6(s, BERTH_CTR_BAD_SOURCE_DROPS, r);
    int64_t src = addr6_intern(&s->addr6, ip.src, false);
    if (src < 0) /* no memory for one more peer: as a lost packet */
        return drop6(s, BERTH_CTR_IP6_IN_DROPPED, BERTH_REASON_IP6_NO_MEMORY);
    if (s->rx_placed_len) { /* its payload was read in place (rx_place.c) */
        seg.payload = s->rx_placed;
        seg.len = s->rx_placed_len;
    }
    stack_count(s, BERTH_CTR_SEGS_IN);
    if (flags & STACK_IN_SG) { /* the text is in pieces (input_sg.c) */
        s->rx_sg.first = seg.payload;
        seg.payload = NULL;
    }
    if (stack_log_on(s))
        tcp_log_segment(s, false, true, (uint32_t)src, s->addr6_id, &seg);
    tcp_input(s, (uint32_t)src, s->addr6_id, &seg);
    addr6_unref(&s->addr6, (uint32_t)src);
    stack_mem_update(s);
    return 0;
}

/* The TCP segment in an IPv4 datagram for us. */
static int tcp_packet(struct berth_stack *s, const struct ipv4_info *ip,
                      uint32_t flags)
{
    struct tcp_seg seg;
    int r = tcp_parse_csum(ip->payload, ip->payload_len, ip->src, ip->dst,
                           !(flags & BERTH_IN_CSUM_OK), &seg);
    if (r == 0 && (seg.sport == 0 || seg.dport == 0))
        r = BERTH_REASON_BAD_PORT;
    if (r != 0) {
        stack_count(s, BERTH_CTR_IN_ERRS);
        if (r == BERTH_REASON_BAD_TCP_CHECKSUM)
            stack_count(s, BERTH_CTR_BAD_CSUM);
        stack_trace_drop(s, -1, false, ip->dst, 0, ip->src, 0, r);
        return r;
    }
    r = source_check(s, ip->src, &seg);
    if (r != 0) {
        stack_count(s, BERTH_CTR_BAD_SOURCE_DROPS);
        stack_trace_drop(s, -1, false, ip->dst, seg.dport, ip->src, seg.sport,
                         r);
        return r;
    }
    if (s->rx_placed_len) { /* its payload was read in place (rx_place.c) */
        seg.payload = s->rx_placed;
        seg.len = s->rx_placed_len;
    }
    stack_count(s, BERTH_CTR_SEGS_IN);
    if (flags & STACK_IN_SG) { /* the text is in pieces (input_sg.c) */
        s->rx_sg.first = seg.payload;
        seg.payload = NULL;
    }
    if (stack_log_on(s))
        tcp_log_segment(s, false, false, ip->src, ip->dst, &seg);
    tcp_input(s, ip->src, ip->dst, &seg);
    return 0;
}

/* A datagram of another protocol (src/ip/): its source must be able to
 * send (as for TCP, RFC 1122 §3.2.1.3: nothing is answered to a broadcast
 * or multicast source). */
static int other_packet(struct berth_stack *s, const struct ipv4_info *ip,
                        uint32_t flags)
{
    struct tcp_seg none = {0};
    enum berth_reason r = source_check(s, ip->src, &none);
    if (r == BERTH_REASON_LAND)
        r = BERTH_REASON_NONE; /* ports are TCP's; ours may ping us */
    if (r != BERTH_REASON_NONE) {
        stack_count(s, BERTH_CTR_BAD_SOURCE_DROPS);
        stack_trace_drop(s, -1, false, ip->dst, 0, ip->src, 0, r);
        return (int)r;
    }
    if (ip->proto == IPPROTO_ICMP_NUM)
        return icmp_input(s, ip);
    if (ip->proto == IPPROTO_UDP_NUM)
        return udp_input(s, ip, flags);
    /* RFC 1122 §3.2.2.1: protocol unreachable for a transport we lack. */
    drop_packet(s, 0, 0, BERTH_REASON_NOT_TCP);
    icmp_send_unreach(s, ip, ICMP_PROTO_UNREACH);
    return BERTH_REASON_NOT_TCP;
}

/* One packet, at the time run_timers() last set: readiness is reported by
 * the caller (input() after each packet, berth_input_batch() after the
 * batch). */
__attribute__((always_inline)) static inline int
input_packet(struct berth_stack *s, const void *pkt, size_t len, uint32_t flags)
{
    if (s->ipv6 && len > 0 && ((const uint8_t *)pkt)[0] >> 4 == 6)
        return input6(s, pkt, len, flags);
    stack_count(s, BERTH_CTR_IP_IN);
    struct ipv4_info ip;
    int r = ipv4_parse(pkt, len, &ip);
    bool reassembled = false;
    if (r == BERTH_REASON_IP_FRAGMENT) {
        r = ipv4_parse_fragment(pkt, len, &ip, &(struct ipv4_frag){0});
        if (r == 0 && ip.dst == s->cfg.addr) {
            r = frag_input(s, pkt, len, &ip);
            reassembled = r == 0;
            if (r < 0) /* kept for the rest of its datagram */
                return 0;
        } else if (r == 0) {
            r = BERTH_REASON_NOT_FOR_US;
        }
    }
    if (r == 0 && ip.dst != s->cfg.addr)
        r = BERTH_REASON_NOT_FOR_US;
    if (r != 0) {
        drop_packet(s, r == BERTH_REASON_NOT_FOR_US ? ip.src : 0, 0, r);
        return r;
    }
    /* A link's checksum verdict was about one fragment, not the datagram
     * reassembled from them. */
    r = ip.proto == IPPROTO_TCP_NUM
            ? tcp_packet(s, &ip, flags)
            : other_packet(s, &ip, reassembled ? 0 : flags);
    if (reassembled)
        frag_release(s);
    stack_mem_update(s);
    return r;
}

/* ACK piggybacking (tcp_output.c, owed_ack): with an event callback, a
 * pure ACK the packets of this call make owed waits until the callbacks
 * have run, then what is still owed goes out. Returns whether this is the
 * outermost input call (a callback may feed this stack another packet). */
static inline bool acks_defer_begin(struct berth_stack *s)
{
    if (s->defer_acks || !s->cfg.event)
        return false;
    s->defer_acks = true;
    return true;
}

static inline void acks_defer_end(struct berth_stack *s, bool outer)
{
    if (!outer)
        return;
    s->defer_acks = false;
    if (s->nacks_owed)
        tcp_ack_flush(s);
}

/* Both entry points get their own copy: the plain one is the hot path of
 * every link without offloads. */
__attribute__((always_inline)) static inline int input(struct berth_stack *s,
                                                       const void *pkt,
                                                       size_t len, uint64_t now,
                                                       uint32_t flags)
{
    run_timers(s, now);
    bool outer = acks_defer_begin(s);
    int r = input_packet(s, pkt, len, flags);
    sock_flush_events(s);
    acks_defer_end(s, outer);
    return r;
}

int berth_input(struct berth_stack *s, const void *pkt, size_t len,
                uint64_t now)
{
    return input(s, pkt, len, now, 0);
}

int berth_input_flags(struct berth_stack *s, const void *pkt, size_t len,
                      uint64_t now, uint32_t flags)
{
    return input(s, pkt, len, now, flags & ~STACK_IN_SG);
}

int stack_input_sg(struct berth_stack *s, const void *hdr, size_t len,
                   uint64_t now, uint32_t flags)
{
    return input(s, hdr, len, now, flags | STACK_IN_SG);
}

/* The next packet of a batch, if it looks like a TCP segment for us over
 * IPv4 without options (a glance, not a check: input_packet checks it
 * all): its 4-tuple is hashed and its table bucket prefetched now, so
 * the miss overlaps with the work on the packet before (tcp_prefetch). */
static inline void prefetch_packet(struct berth_stack *s, const void *pkt,
                                   size_t len)
{
    const uint8_t *p = pkt;
    if (len < IPV4_HDR_LEN + TCP_HDR_LEN || p[0] != 0x45 ||
        p[9] != IPPROTO_TCP_NUM)
        return;
    uint32_t dst = load_be32(p + 16);
    if (dst != s->cfg.addr)
        return;
    tcp_prefetch(s, false, dst, load_be16(p + 22), load_be32(p + 12),
                 load_be16(p + 20),
                 (p[33] & (TH_SYN | TH_ACK)) == TH_SYN); /* TCP flags */
}

/* The wheel is advanced before the first packet; after that only when a
 * packet armed a timer already due (stack_timer_arm sets timers_due), so
 * such a timer fires before the next packet exactly as between separate
 * calls at the same `now`. Every packet is taken as berth_input_flags()
 * takes it; the one difference is that readiness is reported once, after
 * the last: a socket the batch touched several times is looked at once. */
size_t berth_input_batch(struct berth_stack *s, const struct berth_pkt *pkts,
                         size_t n, uint64_t now)
{
    size_t dropped = 0;
    run_timers(s, now);
    bool outer = acks_defer_begin(s);
    for (size_t i = 0; i < n; i++) {
        if (s->timers_due) {
            /* A timer's ACK goes at once, as between separate calls. */
            bool was = s->defer_acks;
            s->defer_acks = false;
            run_timers(s, now);
            s->defer_acks = was;
        }
        if (i + 1 < n)
            prefetch_packet(s, pkts[i + 1].data, pkts[i + 1].len);
        dropped += input_packet(s, pkts[i].data, pkts[i].len,
                                pkts[i].flags & BERTH_IN_CSUM_OK) != 0;
    }
    sock_flush_events(s);
    acks_defer_end(s, outer);
    return dropped;
}

void berth_advance(struct berth_stack *s, uint64_t now)
{
    run_timers(s, now);
    frag_expire(s);
    stack_mem_update(s);
    sock_flush_events(s);
}

uint64_t berth_next_deadline(const struct berth_stack *s)
{
    return timer_wheel_next(&s->wheel);
}

size_t berth_mem_bytes(const struct berth_stack *s)
{
    return s->mem.bytes;
}

size_t berth_mem_cached(const struct berth_stack *s)
{
    return s->bufs.bytes;
}

size_t berth_mem_allocs(const struct berth_stack *s)
{
    return s->mem.allocs;
}

bool stack_mem_fits(const struct berth_stack *s, size_t more)
{
    return mem_budget_fits(&s->budget, stack_mem_used(s), more);
}

/* Sends refused by the budget set TF_MEM_WAIT, which makes the socket
 * unwritable while its buffer is full or missing. Once memory was freed
 * since the last refusal, every such socket whose buffer may grow now is
 * marked, so the application hears WRITABLE and tries again; the others
 * keep waiting (a buffer that is only full drains by ACKs, which mark it
 * anyway). A walk of the handle table, only after a refusal and a free. */
static void wake_mem_waiters(struct berth_stack *s, size_t used)
{
    s->mem_waiters = false;
    s->mem_wait_used = used;
    for (uint32_t i = 0; i < s->nsocks; i++) {
        if (s->socks[i].kind != SOCK_CONN)
            continue;
        struct tcp_conn *c = s->socks[i].obj;
        if (!(c->flags & TF_MEM_WAIT))
            continue;
        if (tcp_conn_snd_may_grow(s, c)) {
            c->flags &= ~TF_MEM_WAIT;
            sock_mark(s, sock_handle(s, i));
        } else {
            s->mem_waiters = true;
        }
    }
}

void stack_mem_update(struct berth_stack *s)
{
    size_t used = stack_mem_used(s);
    if (mem_budget_update(&s->budget, used) && s->budget.pressed) {
        stack_count(s, BERTH_CTR_MEM_PRESSURE_ENTERED);
        bufcache_flush(&s->bufs); /* idle memory goes first */
        mem_release(&s->mem);
        used = stack_mem_used(s);
    }
    if (s->mem_waiters && used < s->mem_wait_used)
        wake_mem_waiters(s, used);
}

void berth_mem_state(const struct berth_stack *s, struct berth_mem_state *out)
{
    *out = (struct berth_mem_state){
        .limit = s->budget.high,
        .low = s->budget.low,
        .pressure = s->budget.pressure,
        .used = stack_mem_used(s),
        .cached = s->bufs.bytes,
        .level = stack_mem_level(s),
        .pressure_entered = s->counters[BERTH_CTR_MEM_PRESSURE_ENTERED],
    };
}

uint64_t berth_counter(const struct berth_stack *s, enum berth_counter c)
{
    return (unsigned)c < BERTH_CTR__COUNT ? s->counters[c] : 0;
}

uint64_t berth_drop_count(const struct berth_stack *s, enum berth_reason r)
{
    return (unsigned)r < BERTH_REASON__COUNT ? s->drops[r] : 0;
}

bool stack_port_bound(const struct berth_stack *s, uint16_t port)
{
    return (s->bound_ports[port >> 3] >> (port & 7)) & 1u;
}

void stack_port_set(struct berth_stack *s, uint16_t port, bool bound)
{
    if (bound)
        s->bound_ports[port >> 3] |= (uint8_t)(1u << (port & 7));
    else
        s->bound_ports[port >> 3] &= (uint8_t) ~(1u << (port & 7));
}
