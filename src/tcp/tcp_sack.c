/* SACK (RFC 2018) and D-SACK (RFC 2883), the receiver's half: which blocks
 * an ACK reports about the out-of-order data we hold, and duplicates. */
#include "tcp/tcp.h"

#include "base/seq.h"

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
    /* RFC 2018 §4: the block holding the latest arrival goes first, then
     * the others (here in sequence order). */
    const struct assembler_range *r = assembler_ranges_const(&c->ooo);
    int n = c->ooo.n;
    int first = assembler_find(&c->ooo, c->sack_recent - c->rcv_nxt);
    if (first >= 0 && o->sack_count < max)
        put_block(o, c->rcv_nxt + r[first].start, c->rcv_nxt + r[first].end);
    for (int i = 0; i < n && o->sack_count < max; i++)
        if (i != first)
            put_block(o, c->rcv_nxt + r[i].start, c->rcv_nxt + r[i].end);
}

void tcp_sack_note_dup(struct tcp_conn *c, uint32_t start, uint32_t end)
{
    if (!(c->flags & TF_SACK) || start == end)
        return;
    c->dsack_start = start;
    c->dsack_end = end;
    c->flags |= TF_DSACK | TF_ACK_NOW;
}

bool tcp_sack_held(const struct tcp_conn *c, uint32_t off, uint32_t len)
{
    /* Out-of-order data we already hold in full (RFC 2883 §4.1.3 case). */
    const struct assembler_range *r = assembler_ranges_const(&c->ooo);
    int i = assembler_find(&c->ooo, off);
    return i >= 0 && off + len <= r[i].end;
}
