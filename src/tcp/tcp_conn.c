/* TCBs and the 4-tuple table: creation, opening (tcp_conn_open, the one
 * place), state changes (all through tcp_set_state), deletion, buffers,
 * initial sequence numbers, readiness. */
#include "tcp/tcp.h"

#include "ip/ip.h"

#include "base/bufcache.h"
#include "base/siphash.h"

#include <string.h>

struct tuple_key {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
};

uint64_t tcp_tuple_hash(const struct berth_stack *s, bool v6, uint32_t laddr,
                        uint16_t lport, uint32_t raddr, uint16_t rport)
{
    /* An IPv6 4-tuple hashes its ids with the top bit of raddr flipped: ids
     * are small, so it rarely shares a bucket with an IPv4 one (the key
     * compare tells them apart anyway). */
    if (v6)
        raddr ^= 0x80000000u;
    /* Keyed (docs/ARCHITECTURE.md): an attacker who does not know the secret
     * cannot aim many 4-tuples at one bucket. SipHash-1-3, not the 2-4 of
     * ISNs, timestamp offsets and SYN cookies: a bucket index needs only
     * unpredictability under a secret key, which 1-3 gives (it is the
     * table hash of Rust's std and, as hsiphash, of Linux), at about 60 %
     * of 2-4's cost. The words are the bytes of struct tuple_key. */
    return siphash13_3u32_k(&s->sipkey, laddr, raddr,
                            (uint32_t)lport | (uint32_t)rport << 16);
}

/* tcp_tuple_hash(), remembering the last 4-tuple: the demux (tcp_input's
 * lookup) hashes a segment's 4-tuple, and the inserts and removals its
 * processing makes for the same connection reuse that hash, so a segment
 * costs one hash however many entries it moves. */
static bool memo_hit(const struct tuple_memo *m, bool v6, uint32_t laddr,
                     uint16_t lport, uint32_t raddr, uint16_t rport)
{
    /* Ports first: what differs between connections to one peer (the
     * client's ephemeral port), so a miss is seen at the first compare. */
    return m->lport == lport && m->rport == rport && m->valid &&
           m->laddr == laddr && m->raddr == raddr && m->v6 == v6;
}

static void memo_set(struct tuple_memo *m, bool v6, uint32_t laddr,
                     uint16_t lport, uint32_t raddr, uint16_t rport,
                     uint64_t hash)
{
    *m = (struct tuple_memo){.laddr = laddr,
                             .raddr = raddr,
                             .lport = lport,
                             .rport = rport,
                             .valid = true,
                             .v6 = v6,
                             .hash = hash};
}

static uint64_t table_hash(struct berth_stack *s, bool v6, uint32_t laddr,
                           uint16_t lport, uint32_t raddr, uint16_t rport)
{
    if (memo_hit(&s->tuple_memo, v6, laddr, lport, raddr, rport))
        return s->tuple_memo.hash;
    for (int i = 0; i < 2; i++) {
        if (memo_hit(&s->tuple_next[i], v6, laddr, lport, raddr, rport)) {
            s->tuple_memo = s->tuple_next[i]; /* hashed ahead */
            return s->tuple_memo.hash;
        }
    }
    uint64_t h = tcp_tuple_hash(s, v6, laddr, lport, raddr, rport);
    memo_set(&s->tuple_memo, v6, laddr, lport, raddr, rport, h);
    return h;
}

/* The per-connection secret of a 4-tuple: SipHash-2-4 (a PRF) under the
 * stack's secret, 64 bits, split in two independent halves. The low half
 * is RFC 6528 §3's F(localip, localport, remoteip, remoteport, secretkey)
 * for the ISN; the high half is the RFC 7323 §5.4 timestamp offset (the
 * RFC's own suggestion: an offset derived, like the ISN, from a keyed
 * hash of the connection's identity). One hash instead of two per
 * connection end, and no half tells anything about the other. IPv4 hashes
 * the 12 bytes of struct tuple_key (so an IPv4 ISN is what it always
 * was); IPv6 the two 16-byte addresses and the ports, 36 bytes (the
 * length byte SipHash mixes in keeps the families apart). Remembered for
 * the last IPv4 4-tuple: a SYN's ISN and its SYN-ACK's TSval, or a
 * connect()'s ISN and its TCB's offset, cost one hash. (An IPv6 id may
 * name another address once freed, so IPv6 is never remembered.) */
uint64_t tcp_tuple_prf(struct berth_stack *s, bool v6, uint32_t laddr,
                       uint16_t lport, uint32_t raddr, uint16_t rport)
{
    if (v6) {
        struct {
            uint8_t laddr[16], raddr[16];
            uint16_t lport, rport;
        } k;
        memcpy(k.laddr, addr6_get(&s->addr6, laddr), 16);
        memcpy(k.raddr, addr6_get(&s->addr6, raddr), 16);
        k.lport = lport;
        k.rport = rport;
        return siphash24(s->cfg.secret, &k, sizeof k);
    }
    if (memo_hit(&s->prf_memo, v6, laddr, lport, raddr, rport))
        return s->prf_memo.hash;
    /* The words are the bytes of struct tuple_key (on a little-endian
     * host; siphash24_3u32 reads them as such), without the byte loop
     * siphash24() runs for a 12-byte message's last word. */
    uint64_t h = siphash24_3u32_k(&s->sipkey, laddr, raddr,
                                  (uint32_t)lport | (uint32_t)rport << 16);
    memo_set(&s->prf_memo, v6, laddr, lport, raddr, rport, h);
    return h;
}

uint64_t tcp_node_rehash(const struct hnode *h, void *ctx)
{
    const struct tcp_node *n = (const struct tcp_node *)h;
    return tcp_tuple_hash(ctx, n->v6, n->laddr, n->lport, n->raddr, n->rport);
}

uint64_t tcp_listener_rehash(const struct hnode *h, void *ctx)
{
    (void)ctx;
    return tcp_port_hash(((const struct tcp_listener *)h)->port);
}

/* The connection cache: a direct-mapped memo in front of the table (a
 * flow cache; Linux's early demux keeps the socket with the packet for
 * the same reason). A segment of a connection the cache holds is
 * demultiplexed without the keyed hash and without the table's bucket:
 * one line of a small array, then the record, which its processing reads
 * anyway. The slot is a cheap unkeyed mix of the 4-tuple: an attacker who
 * aims 4-tuples at one slot only makes their lookups miss it and take the
 * keyed table as before (one compare more). The slot keeps the whole mix,
 * so a record of another 4-tuple is rarely read (among many connections
 * it is a cold line). A record is in the cache only while it is in the
 * table (tcp_node_remove clears its slot), and the table holds one record
 * per 4-tuple, so a hit is what the table would find. */
static inline uint32_t conn_cache_mix(bool v6, uint32_t laddr, uint16_t lport,
                                      uint32_t raddr, uint16_t rport)
{
    uint32_t x = (laddr ^ raddr ^ (uint32_t)v6) +
                 ((uint32_t)lport << 16 | (uint32_t)rport);
    return x * 0x9e3779b1u; /* Fibonacci hashing: odd, so one-to-one */
}

static inline struct conn_cache_slot *conn_cache_slot(struct berth_stack *s,
                                                      uint32_t mix)
{
    return &s->conn_cache[mix >> (32 - TCP_CONN_CACHE_BITS)];
}

static inline bool node_is(const struct tcp_node *n, bool v6, uint32_t laddr,
                           uint16_t lport, uint32_t raddr, uint16_t rport)
{
    return n->lport == lport && n->rport == rport && n->raddr == raddr &&
           n->laddr == laddr && n->v6 == v6;
}

void tcp_conn_cache_clear(struct berth_stack *s)
{
    if (s->conn_cache)
        memset(s->conn_cache, 0, TCP_CONN_CACHE * sizeof *s->conn_cache);
}

void tcp_prefetch(struct berth_stack *s, bool v6, uint32_t laddr,
                  uint16_t lport, uint32_t raddr, uint16_t rport, bool syn)
{
    /* A record in the connection cache's slot is most likely this
     * connection's: it is loaded instead (tcp_lookup compares it). A SYN's
     * lookup does not ask the cache (tcp_lookup_seg). */
    uint32_t mix = conn_cache_mix(v6, laddr, lport, raddr, rport);
    const struct conn_cache_slot *k = conn_cache_slot(s, mix);
    if (!syn && k->n && k->mix == mix) {
        /* And its bucket: a segment that ends a record (the handshake's
         * last, the last FIN or ACK) removes it from there. */
        __builtin_prefetch(k->n);
        htable_prefetch(&s->conns, k->hash);
        return;
    }
    /* The slot of the packet to be processed next: the same connection
     * (a stream) needs nothing more. */
    struct tuple_memo *m = &s->tuple_next[s->tuple_next_slot];
    if (memo_hit(m, v6, laddr, lport, raddr, rport))
        return;
    /* Else the other slot, whose packet has been processed. */
    s->tuple_next_slot ^= 1;
    m = &s->tuple_next[s->tuple_next_slot];
    memo_set(m, v6, laddr, lport, raddr, rport,
             tcp_tuple_hash(s, v6, laddr, lport, raddr, rport));
    htable_prefetch(&s->conns, m->hash);
}

void tcp_connect_ahead(struct berth_stack *s, struct tuple_memo *m, bool v6,
                       uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport)
{
    if (!memo_hit(m, v6, laddr, lport, raddr, rport))
        memo_set(m, v6, laddr, lport, raddr, rport,
                 tcp_tuple_hash(s, v6, laddr, lport, raddr, rport));
    htable_prefetch(&s->conns, m->hash);
}

void tcp_connect_take(struct berth_stack *s, const struct tuple_memo *m,
                      bool v6, uint32_t laddr, uint16_t lport, uint32_t raddr,
                      uint16_t rport)
{
    if (memo_hit(m, v6, laddr, lport, raddr, rport))
        s->tuple_memo = *m; /* table_hash takes it */
}

/* tcp_lookup past the connection cache: the keyed table, whose find
 * takes the slot. Out of line, so a hit in the cache takes no stack
 * frame. */
__attribute__((noinline)) static struct tcp_node *
lookup_table(struct berth_stack *s, bool v6, uint32_t laddr, uint16_t lport,
             uint32_t raddr, uint16_t rport)
{
    uint64_t h = table_hash(s, v6, laddr, lport, raddr, rport);
    struct htable_iter it;
    for (struct hnode *x = htable_first(&s->conns, h, &it); x;
         x = htable_next(&s->conns, &it)) {
        struct tcp_node *n = (struct tcp_node *)x;
        if (node_is(n, v6, laddr, lport, raddr, rport)) {
            uint32_t mix = conn_cache_mix(v6, laddr, lport, raddr, rport);
            *conn_cache_slot(s, mix) = (struct conn_cache_slot){
                .n = n, .mix = mix, .hash = (uint32_t)h};
            return n;
        }
    }
    return NULL;
}

struct tcp_node *tcp_lookup_seg(struct berth_stack *s, bool v6, uint32_t laddr,
                                uint16_t lport, uint32_t raddr, uint16_t rport,
                                bool syn)
{
    if (!syn) {
        uint32_t mix = conn_cache_mix(v6, laddr, lport, raddr, rport);
        const struct conn_cache_slot *k = conn_cache_slot(s, mix);
        if (k->n && k->mix == mix &&
            node_is(k->n, v6, laddr, lport, raddr, rport))
            return k->n;
    }
    return lookup_table(s, v6, laddr, lport, raddr, rport);
}

struct tcp_node *tcp_lookup(struct berth_stack *s, bool v6, uint32_t laddr,
                            uint16_t lport, uint32_t raddr, uint16_t rport)
{
    return tcp_lookup_seg(s, v6, laddr, lport, raddr, rport, false);
}

void tcp_node_set_addrs(struct berth_stack *s, struct tcp_node *n, bool v6,
                        uint32_t laddr, uint16_t lport, uint32_t raddr,
                        uint16_t rport)
{
    stack_addr_ref(s, v6, raddr); /* before the old one goes: it may be it */
    tcp_node_put_addrs(s, n);
    n->v6 = v6;
    n->laddr = laddr;
    n->lport = lport;
    n->raddr = raddr;
    n->rport = rport;
}

void tcp_node_put_addrs(struct berth_stack *s, struct tcp_node *n)
{
    /* Only a record with a peer holds a reference (tcp.h, tcp_node). */
    if (n->rport)
        stack_addr_unref(s, n->v6, n->raddr);
    n->rport = 0;
    n->raddr = 0;
}

/* A TCB carries its hash from its insertion on; the small records (SYN
 * queue, TIME-WAIT) do not have room for it: the connection cache's slot
 * has it while it holds them, else the memo or a fresh hash. */
uint32_t tcp_node_hash(struct berth_stack *s, const struct tcp_node *n)
{
    if (n->in_table) {
        if (n->kind == TCP_NODE_CONN)
            return ((const struct tcp_conn *)n)->hash;
        const struct conn_cache_slot *k = conn_cache_slot(
            s, conn_cache_mix(n->v6, n->laddr, n->lport, n->raddr, n->rport));
        if (k->n == n)
            return k->hash;
    }
    return (uint32_t)table_hash(s, n->v6, n->laddr, n->lport, n->raddr,
                                n->rport);
}

void tcp_node_insert_hashed(struct berth_stack *s, struct tcp_node *n,
                            uint32_t hash)
{
    if (n->kind == TCP_NODE_CONN)
        ((struct tcp_conn *)n)->hash = hash;
    htable_insert(&s->conns, &n->h, hash);
    n->in_table = true;
    /* A TIME-WAIT entry usually hears nothing more (a lookup that finds it
     * puts it in the cache then); the others get the next segment. */
    if (n->kind != TCP_NODE_TIMEWAIT) {
        uint32_t mix =
            conn_cache_mix(n->v6, n->laddr, n->lport, n->raddr, n->rport);
        *conn_cache_slot(s, mix) =
            (struct conn_cache_slot){.n = n, .mix = mix, .hash = hash};
    }
}

void tcp_node_replace(struct berth_stack *s, struct tcp_node *old,
                      struct tcp_node *n, uint32_t hash)
{
    htable_replace(&s->conns, &old->h, &n->h, hash);
    old->in_table = false;
    n->in_table = true;
    if (n->kind == TCP_NODE_CONN)
        ((struct tcp_conn *)n)->hash = hash;
    /* The cache as tcp_node_remove(old) and the insertion of n leave it. */
    uint32_t mix =
        conn_cache_mix(n->v6, n->laddr, n->lport, n->raddr, n->rport);
    struct conn_cache_slot *k = conn_cache_slot(s, mix);
    if (n->kind != TCP_NODE_TIMEWAIT)
        *k = (struct conn_cache_slot){.n = n, .mix = mix, .hash = hash};
    else if (k->n == old)
        k->n = NULL;
}

void tcp_node_insert(struct berth_stack *s, struct tcp_node *n)
{
    tcp_node_insert_hashed(s, n, tcp_node_hash(s, n));
}

void tcp_node_remove(struct berth_stack *s, struct tcp_node *n)
{
    if (!n->in_table)
        return;
    htable_remove(&s->conns, &n->h, tcp_node_hash(s, n));
    n->in_table = false;
    struct conn_cache_slot *k = conn_cache_slot(
        s, conn_cache_mix(n->v6, n->laddr, n->lport, n->raddr, n->rport));
    if (k->n == n)
        k->n = NULL;
}

/* Blocks of each per-connection record kept for reuse (base/mem.h): a
 * lifecycle's TCBs, SYN-queue entry, send log and TIME-WAIT record then
 * cost no malloc/free. At most this many of each wait idle (about 100 KiB
 * in all); the stack gives them back under memory pressure. */
#define TCP_MEM_CACHED 64u

void tcp_mem_classes(struct berth_stack *s)
{
    mem_class_add(&s->mem, sizeof(struct tcp_conn), TCP_MEM_CACHED);
    mem_class_add(&s->mem, sizeof(struct tcp_synreq), TCP_MEM_CACHED);
    mem_class_add(&s->mem, sizeof(struct tcp_timewait), TCP_MEM_CACHED);
    mem_class_add(&s->mem, tcp_rack_log_min_size(), TCP_MEM_CACHED);
}

struct tcp_conn *tcp_conn_new(struct berth_stack *s)
{
    struct tcp_conn *c = mem_alloc(&s->mem, sizeof *c);
    if (!c)
        return NULL;
    c->n.kind = TCP_NODE_CONN;
    timer_init(&c->n.timer);
    c->sock = -1;
    c->state = BERTH_STATE_CLOSED;
    c->keep_cnt = s->cfg.keepalive_count;
    c->keep_idle_ms = (uint32_t)(s->cfg.keepalive_idle / USEC_PER_MS);
    c->keep_intvl_ms = (uint32_t)(s->cfg.keepalive_interval / USEC_PER_MS);
    c->user_timeout_ms =
        (uint32_t)((s->cfg.user_timeout + USEC_PER_MS - 1) / USEC_PER_MS);
    c->linger = -1;
    c->sndbuf_size = s->cfg.sndbuf;
    c->rcvbuf_size = s->cfg.rcvbuf;
    c->rto_base = s->cfg.rto_initial;
    c->cc_algo = s->cfg.congestion;
    assembler_init(&c->ooo);
    return c;
}

/* The one place a TCB is opened for a 4-tuple: an active OPEN (RFC 9293
 * §3.10.1: SYN-SENT, SND.UNA = SND.NXT = ISS before the SYN goes out) or a
 * SYN-queue entry whose handshake completes (§3.10.7.2: SYN-RECEIVED, our
 * SYN-ACK already sent, RCV.NXT = IRS+1). */
void tcp_conn_open(struct berth_stack *s, struct tcp_conn *c,
                   const struct tcp_open *o)
{
    bool passive = o->state == BERTH_STATE_SYN_RECEIVED;
    tcp_node_set_addrs(s, &c->n, o->v6, o->laddr, o->lport, o->raddr, o->rport);
    c->iss = o->iss;
    c->ts_offset = tcp_ts_offset(s, &c->n);
    c->synopts = 0;
    c->snd_wscale = 0;
    /* The shift our SYN (or SYN-ACK) offers, fixed from here on: a later
     * RCVBUF change does not move it (RFC 7323 §2.2; tcp_apply_synopts). */
    c->rcv_wscale = tcp_wscale_for(c->rcvbuf_size);
    c->snd_una = c->snd_nxt = c->snd_max = o->iss;
    c->rcv_mss = tcp_our_mss(s, c);
    c->snd_mss = TCP_DEFAULT_MSS < c->rcv_mss ? TCP_DEFAULT_MSS : c->rcv_mss;
    if (passive) {
        c->snd_nxt = c->snd_max = o->iss + 1; /* the SYN-ACK is out */
        c->irs = o->irs;
        c->rcv_nxt = o->irs + 1;
        c->rcv_adv = c->rcv_nxt + o->rcv_wnd;
        /* RFC 1191, RFC 8201: the path's cached MTU. */
        c->snd_mss = pmtu_clamp_mss(s, o->v6, o->raddr, o->peer_mss);
    }
    tcp_cc_init(s, c);
    c->rto_base = s->cfg.rto_initial;
    c->backoff = c->rexmits = c->persist_shift = 0;
    if (passive) {
        c->snd_wl1 = o->irs;
        c->last_ack_sent = c->rcv_nxt;
        c->synopts = o->synopts;
        tcp_apply_synopts(s, c, o->synopts, o->ts_recent);
        if (o->syn_rexmit)
            c->flags |= TF_SYN_REXMIT;
    }
    if (o->replaces)
        tcp_node_replace(s, o->replaces, &c->n, o->hash);
    else
        tcp_node_insert(s, &c->n);
    if (o->why == BERTH_REASON_NONE) /* traced with the request record */
        c->state = (uint8_t)o->state;
    else
        tcp_set_state(s, c, o->state, o->why);
}

void tcp_conn_copy_options(struct tcp_conn *dst, const struct tcp_conn *src)
{
    dst->flags |=
        src->flags & (TF_NODELAY | TF_KEEPALIVE | TF_LINGER0 | TF_V6ONLY);
    dst->keep_cnt = src->keep_cnt;
    dst->keep_idle_ms = src->keep_idle_ms;
    dst->keep_intvl_ms = src->keep_intvl_ms;
    dst->user_timeout_ms = src->user_timeout_ms;
    dst->sndbuf_size = src->sndbuf_size;
    dst->rcvbuf_size = src->rcvbuf_size;
    dst->user_mss = src->user_mss;
    dst->linger = src->linger;
    dst->cc_algo = src->cc_algo;
}

bool tcp_state_synchronized(enum berth_state st)
{
    switch (st) {
    case BERTH_STATE_CLOSED:
    case BERTH_STATE_LISTEN:
    case BERTH_STATE_SYN_SENT:
        return false;
    case BERTH_STATE_SYN_RECEIVED:
    case BERTH_STATE_ESTABLISHED:
    case BERTH_STATE_FIN_WAIT_1:
    case BERTH_STATE_FIN_WAIT_2:
    case BERTH_STATE_CLOSE_WAIT:
    case BERTH_STATE_CLOSING:
    case BERTH_STATE_LAST_ACK:
    case BERTH_STATE_TIME_WAIT:
    case BERTH_STATE__COUNT:
        break;
    }
    return true;
}

static bool counts_as_established(enum berth_state st)
{
    /* RFC 1213 tcpCurrEstab: ESTABLISHED or CLOSE-WAIT. */
    return st == BERTH_STATE_ESTABLISHED || st == BERTH_STATE_CLOSE_WAIT;
}

void tcp_set_state(struct berth_stack *s, struct tcp_conn *c,
                   enum berth_state st, enum berth_reason why)
{
    enum berth_state old = c->state;
    if (old == st)
        return;
    if (counts_as_established(old) && !counts_as_established(st))
        s->counters[BERTH_CTR_CURR_ESTAB]--;
    if (!counts_as_established(old) && counts_as_established(st))
        s->counters[BERTH_CTR_CURR_ESTAB]++;
    if (st == BERTH_STATE_ESTABLISHED)
        c->flags |= TF_CONNECTED;
    c->state = (uint8_t)st;
    sock_mark(s, c->sock);
    tcp_trace_state(s, c->sock, &c->n, old, st, why);
}

/* The trace hook's record, built only when a hook is set: out of line, so
 * the usual path (no hook) spends no stack frame on it. */
__attribute__((noinline, cold)) static void
trace_state_hook(struct berth_stack *s, int sock, const struct tcp_node *n,
                 enum berth_state old, enum berth_state st,
                 enum berth_reason why)
{
    struct berth_trace ev = {
        .kind = BERTH_TRACE_STATE,
        .now = s->now,
        .sock = sock,
        .local = stack_endpoint(s, n->v6, n->laddr, n->lport),
        .remote = stack_endpoint(s, n->v6, n->raddr, n->rport),
        .old_state = old,
        .new_state = st,
        .reason = why,
    };
    s->cfg.trace(s->cfg.trace_ctx, &ev);
}

void tcp_trace_state(struct berth_stack *s, int sock, const struct tcp_node *n,
                     enum berth_state old, enum berth_state st,
                     enum berth_reason why)
{
    tcp_fsm_check(s, sock, n, old, st, why);
    if (stack_log_on(s))
        tcp_log_state(s, sock, n, old, st, why);
    if (s->cfg.trace)
        trace_state_hook(s, sock, n, old, st, why);
}

/* Gives a buffer back: to the cache normally; straight to the allocator
 * under memory pressure (the cache was emptied on entering it). */
static void buf_put(struct berth_stack *s, void *buf, uint32_t cap)
{
    if (stack_mem_level(s) == BERTH_MEM_NORMAL)
        bufcache_put(&s->bufs, &s->mem, buf, cap);
    else if (buf)
        mem_free(&s->mem, buf, bufcache_class_size(cap));
}

void tcp_conn_free_buffers(struct berth_stack *s, struct tcp_conn *c)
{
    buf_put(s, c->snd.buf, c->snd.cap);
    buf_put(s, c->rcv.buf, c->rcv.cap);
    memset(&c->snd, 0, sizeof c->snd);
    memset(&c->rcv, 0, sizeof c->rcv);
    c->flags &= ~TF_MEM_WAIT;
    assembler_clear(&c->ooo, &s->mem);
    tcp_sack_clear(s, c);
    tcp_rack_free(s, c); /* the send log goes with the send data */
}

/* Makes r hold at least `need` bytes (readable plus written ahead), up to
 * `max`: buffers start at the smallest size class that fits and double as
 * data needs them, so a short request costs 4 KiB, not the whole
 * configured buffer. Growing moves the contents (their offsets from head
 * are kept: out-of-order data stays where reassembly put it). BERTH_EAGAIN:
 * the memory budget has no room for the new buffer (counted while the old
 * one is still held: that is the peak). */
static int ring_reserve(struct berth_stack *s, struct ring *r, uint64_t need,
                        uint32_t max)
{
    if (need > max)
        need = max;
    if (r->buf && r->cap >= need)
        return 0;
    size_t class = bufcache_class_size((uint32_t)need);
    uint32_t cap = class < max ? (uint32_t) class : max;
    if (!stack_mem_fits(s, bufcache_class_size(cap)))
        return BERTH_EAGAIN;
    uint8_t *mem = bufcache_get(&s->bufs, &s->mem, cap);
    if (!mem)
        return BERTH_ENOMEM;
    struct ring grown;
    ring_init(&grown, mem, cap);
    if (r->buf) {
        ring_move(&grown, r);
        buf_put(s, r->buf, r->cap);
    }
    *r = grown;
    return 0;
}

static void free_ring(struct berth_stack *s, struct ring *r)
{
    buf_put(s, r->buf, r->cap);
    memset(r, 0, sizeof *r);
}

void tcp_conn_trim_buffers(struct berth_stack *s, struct tcp_conn *c)
{
    /* An empty buffer goes back at once and comes back when data does: an
     * idle connection holds only its TCB. The window we advertise follows
     * the configured size, not the allocation, so the peer sees nothing
     * (under memory pressure it follows the allocation: tcp_conn_rcv_cap). */
    if (c->snd.buf && c->snd.len == 0) {
        free_ring(s, &c->snd);
        c->flags &= ~TF_MEM_WAIT; /* the next send asks the budget again */
    }
    /* ... except the one a link reads into in place (rx_place.c): it
     * would come back at the next packet, regrown class by class. */
    if (c->rcv.buf && c->rcv.len == 0 && assembler_empty(&c->ooo) &&
        (c->sock < 0 || c->sock != s->rx_keep_sock))
        free_ring(s, &c->rcv);
}

int tcp_conn_reserve_snd(struct berth_stack *s, struct tcp_conn *c, uint64_t n)
{
    uint64_t need = (uint64_t)c->snd.len + n;
    uint32_t max = c->sndbuf_size;
    if (need > max)
        need = max;
    if (c->snd.cap >= need)
        return 0;
    /* Under pressure send buffers stop growing, as Linux's
     * sk_stream_memory_free(): what is allocated stays (buffered bytes are
     * kept), a connection without a buffer may take the smallest class. */
    if (stack_mem_level(s) != BERTH_MEM_NORMAL) {
        uint32_t keep = c->snd.buf ? c->snd.cap : BUFCACHE_MIN_SIZE;
        max = keep < max ? keep : max;
    }
    int r = ring_reserve(s, &c->snd, need, max);
    if (r == BERTH_ENOMEM)
        return r;
    if (c->snd.cap < need) {
        /* The application writes what fits, or gets BERTH_EAGAIN; it hears
         * WRITABLE when room comes (tcp_poll, stack_mem_update). */
        stack_count(s, BERTH_CTR_MEM_SND_LIMITED);
        c->flags |= TF_MEM_WAIT;
        s->mem_waiters = true;
        s->mem_wait_used = stack_mem_used(s);
    }
    return 0;
}

bool tcp_conn_snd_may_grow(const struct berth_stack *s,
                           const struct tcp_conn *c)
{
    uint32_t cap = c->snd.cap, max = c->sndbuf_size;
    if (cap >= max)
        return false;
    switch (stack_mem_level(s)) {
    case BERTH_MEM_NORMAL: {
        uint64_t next = cap ? (uint64_t)cap * 2 : BUFCACHE_MIN_SIZE;
        uint32_t want = next < max ? (uint32_t)next : max;
        return stack_mem_fits(s, bufcache_class_size(want));
    }
    case BERTH_MEM_PRESSURE:
        return cap == 0 && stack_mem_fits(s, BUFCACHE_MIN_SIZE);
    case BERTH_MEM_OVER_LIMIT:
        break;
    }
    return false;
}

uint32_t tcp_conn_rcv_cap(const struct berth_stack *s, const struct tcp_conn *c)
{
    uint32_t cap = c->rcvbuf_size;
    switch (stack_mem_level(s)) {
    case BERTH_MEM_NORMAL:
        return cap;
    case BERTH_MEM_PRESSURE: {
        /* Linux clamps the window to a few segments under pressure
         * (tcp_clamp_window); here: what is allocated, at least the
         * smallest class, so every connection still moves. */
        uint32_t floor =
            c->rcv.cap > BUFCACHE_MIN_SIZE ? c->rcv.cap : BUFCACHE_MIN_SIZE;
        return floor < cap ? floor : cap;
    }
    case BERTH_MEM_OVER_LIMIT:
        break;
    }
    return c->rcv.cap < cap ? c->rcv.cap : cap;
}

int tcp_conn_reserve_rcv(struct berth_stack *s, struct tcp_conn *c,
                         uint32_t off, uint32_t len)
{
    uint64_t need = (uint64_t)c->rcv.len + off + len;
    if (c->rcv.cap >= need)
        return 0;
    /* Room up to the right edge we advertised, even after RCVBUF shrank
     * below it (RFC 9293 §3.8.6.2.2: that window stays offered). */
    uint64_t promised = (uint64_t)c->rcv.len + (c->rcv_adv - c->rcv_nxt);
    uint32_t max =
        promised > c->rcvbuf_size ? (uint32_t)promised : c->rcvbuf_size;
    /* Out-of-order data is the first refused: from pressure on it may not
     * grow the buffer (Linux prunes its out-of-order queue first). */
    enum berth_reason why = BERTH_REASON_MEM_PRESSURE_OOO;
    int r = BERTH_EAGAIN;
    if (off == 0 || stack_mem_level(s) == BERTH_MEM_NORMAL) {
        why = BERTH_REASON_MEM_LIMIT;
        r = ring_reserve(s, &c->rcv, need, max);
    }
    if (r == BERTH_EAGAIN)
        stack_trace_drop(s, c->sock, c->n.v6, c->n.laddr, c->n.lport,
                         c->n.raddr, c->n.rport, why);
    return r;
}

void tcp_conn_delete(struct berth_stack *s, struct tcp_conn *c,
                     enum berth_reason why)
{
    tcp_node_remove(s, &c->n);
    timer_wheel_cancel(&s->wheel, &c->n.timer);
    memset(c->deadline, 0, sizeof c->deadline);
    tcp_set_state(s, c, BERTH_STATE_CLOSED, why);
    sock_mark(s, c->sock);
    tcp_conn_release(s, c);
}

void tcp_conn_release(struct berth_stack *s, struct tcp_conn *c)
{
    if (c->sock >= 0 || c->n.in_table || c->listener)
        return;
    timer_wheel_cancel(&s->wheel, &c->n.timer);
    tcp_ack_forget(s, c);
    tcp_conn_free_buffers(s, c);
    tcp_node_put_addrs(s, &c->n);
    mem_free(&s->mem, c, sizeof *c);
}

void tcp_conn_fail(struct berth_stack *s, struct tcp_conn *c, int err,
                   enum berth_reason why)
{
    c->error = (int16_t)err;
    /* RFC 9293 §3.10.7.4: a reset flushes the queues; data not yet read is
     * lost (the application sees the error instead). */
    tcp_conn_free_buffers(s, c);
    if (c->listener)
        tcp_listener_unqueue(s, c); /* never accepted: nobody to tell */
    tcp_conn_delete(s, c, why);
}

uint32_t tcp_isn(struct berth_stack *s, bool v6, uint32_t laddr, uint16_t lport,
                 uint32_t raddr, uint16_t rport)
{
    if (s->cfg.isn)
        return s->cfg.isn(s->cfg.isn_ctx, stack_endpoint(s, v6, laddr, lport),
                          stack_endpoint(s, v6, raddr, rport), s->now);
    /* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
     * secretkey), M a 4-microsecond timer, F a keyed hash: the low half of
     * the tuple's secret (tcp_tuple_prf). */
    uint32_t f = (uint32_t)tcp_tuple_prf(s, v6, laddr, lport, raddr, rport);
    return (uint32_t)(s->now / 4) + f;
}

uint32_t tcp_poll(const struct tcp_conn *c)
{
    uint32_t ev = 0;
    bool eof = (c->flags & (TF_RCVD_FIN | TF_RD_SHUT)) != 0;
    if (c->rcv.len > 0 || eof)
        ev |= BERTH_EV_READABLE;
    if (c->flags & TF_RCVD_FIN)
        ev |= BERTH_EV_RDHUP;
    if (c->error)
        ev |= BERTH_EV_ERROR | BERTH_EV_READABLE | BERTH_EV_WRITABLE;
    bool can_send = c->state == BERTH_STATE_ESTABLISHED ||
                    c->state == BERTH_STATE_CLOSE_WAIT;
    /* The buffer grows up to sndbuf_size, unless the memory budget cut a
     * send short: then only the allocated buffer's room counts. */
    uint32_t room = (c->flags & TF_MEM_WAIT) ? c->snd.cap : c->sndbuf_size;
    if (can_send && !(c->flags & TF_FIN_QUEUED) && c->snd.len < room)
        ev |= BERTH_EV_WRITABLE;
    /* Like Linux: HUP once both directions are finished, or the
     * connection is gone. */
    bool closed = c->state == BERTH_STATE_CLOSED && (c->flags & TF_CONNECTED);
    if (closed || c->error ||
        ((c->flags & TF_RCVD_FIN) && (c->flags & TF_FIN_QUEUED)))
        ev |= BERTH_EV_HUP;
    return ev;
}
