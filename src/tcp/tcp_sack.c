/* SACK (RFC 2018) and D-SACK (RFC 2883), both halves. The receiver's:
 * which blocks an ACK reports about the out-of-order data we hold, and
 * duplicates. The sender's: the scoreboard of what the peer SACKed, and
 * what RFC 6675 §4 derives from it (IsLost, pipe, NextSeg) for recovery,
 * which tcp_cc.c runs; with RACK (tcp_rack.c) IsLost is RACK's mark. */
#include "tcp/tcp.h"

#include "base/seq.h"

/* ---- the receiver: blocks to report ---- */

static void put_block(struct tcp_opts *o, uint32_t start, uint32_t end)
{
    o->sack[o->sack_count].start = start;
    o->sack[o->sack_count].end = end;
    o->sack_count++;
}

void tcp_sack_fill(struct tcp_conn *c, struct tcp_opts *o)
{
    /* 40 option bytes: 4 blocks, or 3 beside the timestamps. */
    unsigned max = o->has_ts ? 3u : 4u;
    o->sack_count = 0;
    if (c->flags & TF_DSACK) {
        /* RFC 2883 §4: a duplicate is reported in the first block, once. */
        put_block(o, c->dsack_start, c->dsack_end);
        c->flags &= ~TF_DSACK;
    }
    /* The common case, nothing held out of order: no blocks, and no
     * lookups in the empty assembler. */
    if (c->ooo.n == 0)
        return;
    /* RFC 2018 §4: the first block holds the latest arrival; the others
     * repeat the most recently reported blocks ("based on first SACK
     * blocks in previous SACK options"), newest first; then the rest, in
     * sequence order, as room allows. */
    const struct assembler_range *r = assembler_ranges_const(&c->ooo);
    int n = c->ooo.n, put[TCP_SACK_RECENT];
    unsigned k = 0;
    for (unsigned j = 0; j < TCP_SACK_RECENT && o->sack_count < max; j++) {
        int i = assembler_find(&c->ooo, c->sack_recent[j] - c->rcv_nxt);
        bool dup = i < 0;
        for (unsigned m = 0; m < k && !dup; m++)
            dup = put[m] == i;
        if (dup)
            continue;
        put[k++] = i;
        put_block(o, c->rcv_nxt + r[i].start, c->rcv_nxt + r[i].end);
    }
    for (int i = 0; i < n && o->sack_count < max; i++) {
        bool dup = false;
        for (unsigned m = 0; m < k && !dup; m++)
            dup = put[m] == i;
        if (!dup)
            put_block(o, c->rcv_nxt + r[i].start, c->rcv_nxt + r[i].end);
    }
}

void tcp_sack_note_arrival(struct tcp_conn *c, uint32_t seq)
{
    /* Move to front: seq's block is the newest; an older entry in the same
     * block is dropped by the report (tcp_sack_fill skips repeats). */
    for (unsigned j = TCP_SACK_RECENT - 1; j > 0; j--)
        c->sack_recent[j] = c->sack_recent[j - 1];
    c->sack_recent[0] = seq;
}

void tcp_sack_note_dup(struct tcp_conn *c, uint32_t start, uint32_t end)
{
    if (!(c->flags & TF_SACK) || start == end)
        return;
    c->dsack_start = start;
    c->dsack_end = end;
    c->flags |= TF_DSACK | TF_ACK_NOW;
}

void tcp_sack_note_held_dup(struct tcp_conn *c, uint32_t off, uint32_t len)
{
    /* RFC 2883 §4: a segment that repeats data held out of order, even
     * beside new data, reports the first repeated range. */
    const struct assembler_range *r = assembler_ranges_const(&c->ooo);
    for (uint32_t i = 0; i < c->ooo.n && r[i].start < off + len; i++) {
        if (r[i].end <= off)
            continue;
        uint32_t a = r[i].start > off ? r[i].start : off;
        uint32_t b = r[i].end < off + len ? r[i].end : off + len;
        tcp_sack_note_dup(c, c->rcv_nxt + a, c->rcv_nxt + b);
        return;
    }
}

bool tcp_sack_held(const struct tcp_conn *c, uint32_t off, uint32_t len)
{
    /* Out-of-order data we already hold in full (RFC 2883 §4.1.3 case). */
    const struct assembler_range *r = assembler_ranges_const(&c->ooo);
    int i = assembler_find(&c->ooo, off);
    return i >= 0 && off + len <= r[i].end;
}

/* ---- the sender: the scoreboard (RFC 6675 §3) ----
 * The blocks are a range set (base/assembler) of offsets from b->una, the
 * SND.UNA of the last update; their sequence numbers are una + offset. */

static const struct assembler_range *blocks(const struct tcp_scoreboard *b)
{
    return assembler_ranges_const(b);
}

void tcp_sack_clear(struct berth_stack *s, struct tcp_conn *c)
{
    assembler_clear(&c->sacked, &s->mem);
}

/* One block per 512 bytes of send buffer at most (1/64 of it): a peer
 * reporting tiny blocks cannot make the array grow further. */
static uint32_t board_limit(const struct tcp_conn *c)
{
    uint32_t n = c->sndbuf_size / 512u;
    if (n > UINT16_MAX)
        n = UINT16_MAX;
    return n > TCP_SACKBOARD_INLINE ? n : TCP_SACKBOARD_INLINE;
}

/* Blocks at or below SND.UNA are acknowledged: gone; a block across it
 * keeps its part above, and the rest count from SND.UNA. */
static void board_trim(struct berth_stack *s, struct tcp_conn *c)
{
    struct tcp_scoreboard *b = &c->sacked;
    if (!assembler_empty(b) && seq_gt(c->snd_una, b->una))
        assembler_drop_below(b, &s->mem, c->snd_una - b->una);
    b->una = c->snd_una;
}

/* Adds [start, end), merging; returns the bytes newly covered. */
static uint32_t board_add(struct berth_stack *s, struct tcp_conn *c,
                          uint32_t start, uint32_t end)
{
    struct tcp_scoreboard *b = &c->sacked;
    uint32_t off = start - b->una, len = end - start, added;
    uint32_t limit = board_limit(c);
    if (assembler_add_count(b, &s->mem, limit, off, len, &added) == 0)
        return added;
    /* A separate block without room: forget the highest one, unless the
     * new block would be the highest itself. */
    uint32_t top_start, top_end;
    if (off > blocks(b)[b->n - 1].end ||
        !assembler_drop_last(b, &top_start, &top_end))
        return 0;
    return assembler_add_count(b, &s->mem, limit, off, len, &added) == 0 ? added
                                                                         : 0;
}

static bool sack_update(struct berth_stack *s, struct tcp_conn *c,
                        const struct tcp_seg *seg)
{
    board_trim(s, c);
    if (!(c->flags & TF_SACK) || seg->opts.sack_count == 0)
        return false;
    uint32_t added = 0;
    for (uint8_t i = 0; i < seg->opts.sack_count; i++) {
        uint32_t start = seg->opts.sack[i].start, end = seg->opts.sack[i].end;
        /* RFC 2883 §4: a block at or below the cumulative ACK is a D-SACK,
         * as is a first block inside the second; neither marks new data.
         * Blocks beyond what we sent are bogus. */
        if (!seq_lt(start, end) || seq_gt(end, c->snd_max))
            continue;
        if (seq_leq(end, seg->ack) ||
            (i == 0 && seg->opts.sack_count > 1 &&
             seq_geq(start, seg->opts.sack[1].start) &&
             seq_leq(end, seg->opts.sack[1].end))) {
            if (i == 0) {
                tcp_rack_on_dsack(c, start, end);
                tcp_cc_on_dsack(s, c, start, end);
            }
            continue;
        }
        /* Of an old ACK (below SND.UNA), a block may be acknowledged
         * already: nothing of it is news. */
        start = seq_max(start, c->snd_una);
        if (seq_lt(start, end))
            added += board_add(s, c, start, end);
    }
    return added > 0;
}

static uint32_t sacked_bytes(const struct tcp_scoreboard *b);

bool tcp_sack_update(struct berth_stack *s, struct tcp_conn *c,
                     const struct tcp_seg *seg)
{
    if (!stack_log_on(s))
        return sack_update(s, c, seg);
    /* The event log: the scoreboard as it changed (docs/events.md). */
    uint32_t n = c->sacked.n, bytes = sacked_bytes(&c->sacked);
    bool added = sack_update(s, c, seg);
    if (c->sacked.n != n || sacked_bytes(&c->sacked) != bytes)
        tcp_log_sack(s, c);
    return added;
}

/* RFC 6675 §4 IsLost for an octet below block i (and above block i-1):
 * DupThresh discontiguous SACKed sequences above it, i.e. blocks i..n-1,
 * or more than (DupThresh - 1) * SMSS bytes in them. */
static bool lost_below(const struct tcp_conn *c, uint32_t i, uint32_t above)
{
    return c->sacked.n - i >= TCP_DUPTHRESH ||
           above > (TCP_DUPTHRESH - 1) * c->snd_mss;
}

static uint32_t sacked_bytes(const struct tcp_scoreboard *b)
{
    const struct assembler_range *blk = blocks(b);
    uint32_t bytes = 0;
    for (uint32_t i = 0; i < b->n; i++)
        bytes += blk[i].end - blk[i].start;
    return bytes;
}

uint32_t tcp_sack_sacked_bytes(const struct tcp_conn *c)
{
    return sacked_bytes(&c->sacked);
}

bool tcp_sack_block(const struct tcp_conn *c, uint32_t i, uint32_t *start,
                    uint32_t *end)
{
    if (i >= c->sacked.n)
        return false;
    *start = c->sacked.una + blocks(&c->sacked)[i].start;
    *end = c->sacked.una + blocks(&c->sacked)[i].end;
    return true;
}

bool tcp_sack_una_lost(const struct tcp_conn *c)
{
    /* Every block lies above SND.UNA (the board is trimmed to it). */
    return lost_below(c, 0, sacked_bytes(&c->sacked));
}

/* The unSACKed ranges ("holes") in [SND.UNA, SND.MAX), in order: hole i
 * ends where block i starts; the last runs to SND.MAX. */
static bool hole(const struct tcp_conn *c, uint32_t i, uint32_t *a, uint32_t *b)
{
    const struct tcp_scoreboard *sb = &c->sacked;
    const struct assembler_range *blk = blocks(sb);
    if (i > sb->n)
        return false;
    *a = i == 0 ? c->snd_una : sb->una + blk[i - 1].end;
    *b = i < sb->n ? sb->una + blk[i].start : c->snd_max;
    return true;
}

static uint32_t retransmitted_in(const struct tcp_conn *c, uint32_t a,
                                 uint32_t b)
{
    uint32_t end = seq_min(b, c->high_rxt);
    return seq_gt(end, a) ? end - a : 0;
}

uint32_t tcp_sack_pipe(const struct tcp_conn *c)
{
    if (tcp_rack_on(c))
        return tcp_rack_pipe(c);
    /* RFC 6675 §4 SetPipe: an unSACKed octet counts once if it is not lost
     * and once more if it was retransmitted. IsLost is the same for a whole
     * hole (no SACKed data inside it), so it is decided per hole, from the
     * top down with the SACKed bytes above counted along: linear in the
     * number of blocks. */
    const struct assembler_range *blk = blocks(&c->sacked);
    uint32_t pipe = 0, above = 0, a = 0, b = 0;
    for (uint32_t i = c->sacked.n + 1u; i-- > 0;) {
        if (i < c->sacked.n)
            above += blk[i].end - blk[i].start;
        hole(c, i, &a, &b);
        if (!seq_lt(a, b))
            continue;
        if (!lost_below(c, i, above))
            pipe += b - a;
        pipe += retransmitted_in(c, a, b);
    }
    return pipe;
}

bool tcp_sack_next_seg(const struct tcp_conn *c, uint32_t *seq, uint32_t *len,
                       bool *rexmit)
{
    const struct assembler_range *blk = blocks(&c->sacked);
    uint32_t a = 0, b = 0;
    /* Rule 1: the first lost unSACKed octet above HighRxt; with RACK, the
     * first range it marked lost and that was not resent since. */
    bool rack = tcp_rack_on(c);
    if (rack && tcp_rack_next_lost(c, seq, len)) {
        *rexmit = true;
        return true;
    }
    uint32_t above = sacked_bytes(&c->sacked);
    for (uint32_t i = 0; !rack && hole(c, i, &a, &b); i++) {
        uint32_t from = seq_max(a, c->high_rxt);
        if (seq_lt(from, b) && lost_below(c, i, above)) {
            *seq = from;
            *len = seq_min(b - from, c->snd_mss);
            *rexmit = true;
            return true;
        }
        if (i < c->sacked.n)
            above -= blk[i].end - blk[i].start;
    }
    /* Rule 2: new data, if the receiver's window allows. */
    uint32_t data_end = tcp_snd_data_seq(c) + c->snd.len;
    uint32_t edge = c->snd_una + c->snd_wnd;
    if (seq_lt(c->snd_max, data_end) && seq_lt(c->snd_max, edge)) {
        *seq = c->snd_max;
        *len = seq_min(seq_min(data_end, edge) - c->snd_max, c->snd_mss);
        *rexmit = false;
        return true;
    }
    /* Rule 3: the first unSACKed octet above HighRxt, lost or not, below
     * the highest SACKed octet (1.b); above it NextSeg fails (rule 5). With
     * RACK a segment not yet marked lost waits for its mark (or for the
     * reordering timer) instead, as in Linux. */
    if (c->sacked.n == 0 || rack)
        return false;
    uint32_t top = c->sacked.una + blk[c->sacked.n - 1].start;
    for (uint32_t i = 0; i < c->sacked.n && hole(c, i, &a, &b); i++) {
        uint32_t from = seq_max(a, c->high_rxt);
        if (seq_lt(from, b) && seq_lt(from, top)) {
            *seq = from;
            *len = seq_min(b - from, c->snd_mss);
            *rexmit = true;
            return true;
        }
    }
    return false; /* Rule 4 (rescue retransmission) is not used */
}
