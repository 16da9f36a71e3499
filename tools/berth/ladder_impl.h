/* berth command: the ladder's rows, shared by the model (ladder.c) and its
 * renderers (text in ladder.c, SVG in ladder_svg.c). A row is one line of
 * the text ladder: a time, a text beside each timeline, and between them
 * an arrow, a note, or nothing. */
#ifndef BERTH_CMD_LADDER_IMPL_H
#define BERTH_CMD_LADDER_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "ladder.h"

#define LADDER_COL_W  14 /* a side's column: "(SYN-RECEIVED)" */
#define LADDER_MID_W  60 /* between the timelines */
#define LADDER_TEXT   200
#define LADDER_GAP_US 1000000u /* a silence this long gets a "later" row */

enum lrow_mid { MID_NONE, MID_ARROW, MID_NOTE };

/* What an arrow's segment showed (LM_*), for marks and colours. */
#define LM_RETX     0x01u
#define LM_LOST     0x02u
#define LM_OOO      0x04u
#define LM_ZERO_WIN 0x08u
#define LM_RST      0x10u
#define LM_SYN_FIN  0x20u  /* opens or closes: never elided */
#define LM_PROBE    0x40u  /* a zero-window probe, or a keep-alive */
#define LM_ZW       0x100u /* ...the peer's window was zero: a probe */
#define LM_DUPACK   0x200u /* a duplicate ACK */
#define LM_UNSEEN                                                              \
    0x400u               /* a retransmission whose first copy the              \
                            capture does not hold */
#define LM_WIN_UPD 0x80u /* a window update: same ACK, new window */

struct lrow {
    uint64_t t;
    char side[2][LADDER_COL_W + 1]; /* beside each timeline; "" if none */
    bool state[2];                  /* side[i] names a state */
    bool inferred[2];               /* ...inferred: "(FIN-WAIT-1)" */
    enum lrow_mid mid;
    int dir;        /* MID_ARROW: the sender (0, 1); MID_NOTE: -1, 0, +1 for
                       left, centred, right */
    unsigned marks; /* MID_ARROW: LM_* */
    bool detail;    /* MID_NOTE: the details of the arrow above */
    bool explain;   /* MID_NOTE: an --explain rule */
    char text[LADDER_TEXT]; /* the arrow's label or the note */
};

/* The rows so far, in order (after ladder_print or _svg flushed what the
 * inference still held). */
const struct lrow *ladder_rows(struct ladder *ld, size_t *n,
                               const struct cap_addr **cli,
                               const struct cap_addr **srv);

#endif
