/* berth command: `berth plot` — one connection's time-sequence graph
 * (Stevens/tcptrace style) with the sender's congestion window and RTT on
 * aligned axes: the model both inputs fill (berth's event log: the true
 * state; a capture: estimated), the SVG writer, the JSON reader. */
#ifndef BERTH_CMD_PLOT_H
#define BERTH_CMD_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- plot_json.c: one JSON line into a pool of nodes ---- */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
struct jnode {
    enum jtype type;
    bool b;
    double num;
    const char *s; /* J_STR: the characters between the quotes */
    size_t slen;
    const char *key; /* member of an object: its name */
    size_t klen;
    int child, next; /* first member/element; next sibling; -1 none */
};
/* The root node's index, or -1 when the text is not one JSON value or
 * needs more than cap nodes. */
int json_parse(const char *line, size_t len, struct jnode *pool, int cap);
/* The member `key` of object obj, or -1. */
int json_get(const struct jnode *pool, int obj, const char *key);
bool json_num(const struct jnode *pool, int obj, const char *key, double *out);
bool json_str_is(const struct jnode *pool, int n, const char *s);
void json_str(const struct jnode *pool, int n, char *buf, size_t size);

/* ---- the model: times in µs from the connection's first event,
 * sequence numbers relative to the sender's ISN ---- */
struct plot_seg {
    double t;
    uint32_t start, end; /* [start, end): SYN and FIN count one */
    uint8_t flags;       /* BERTH_TH_* */
    bool retrans;        /* starts below the highest sequence sent */
};
struct plot_ack {
    double t;
    uint32_t ack;
    uint32_t edge; /* ack + the receiver's window in bytes */
    bool has_edge; /* the window scale is known */
};
struct plot_sack {
    double t;
    uint32_t start, end;
};
struct plot_cc {
    double t;
    uint32_t cwnd, ssthresh; /* ssthresh UINT32_MAX: infinite / unknown */
    uint32_t inflight;
};
struct plot_flight {
    double t;
    uint32_t bytes; /* highest sequence sent - highest ACK */
};
struct plot_rtt {
    double t;
    double sample, srtt, rto; /* µs; srtt, rto < 0: not known */
};
enum plot_mark_kind {
    MARK_RECOVERY_ENTER,
    MARK_RECOVERY_EXIT,
    MARK_RTO, /* the retransmission timer fired */
};
struct plot_mark {
    double t;
    enum plot_mark_kind kind;
};

#define PLOT_VEC(T)                                                            \
    struct {                                                                   \
        T *v;                                                                  \
        size_t n, cap;                                                         \
    }

struct plot {
    char title[256];
    char source[160]; /* "berth's event log" / "a capture: estimated" */
    bool estimated;   /* from a capture: no true cwnd, no ssthresh */
    double tmax;      /* µs */
    PLOT_VEC(struct plot_seg) segs;
    PLOT_VEC(struct plot_ack) acks;
    PLOT_VEC(struct plot_sack) sacks;
    PLOT_VEC(struct plot_cc) cc;
    PLOT_VEC(struct plot_flight) flight; /* from segs and acks */
    PLOT_VEC(struct plot_rtt) rtt;
    PLOT_VEC(struct plot_mark) marks;
    uint64_t bytes, retrans_bytes;
    uint32_t retrans_segs;
};

/* Appends one element (zeroed), or NULL when out of memory. */
void *plot_push(void **v, size_t *n, size_t *cap, size_t elem);
#define PLOT_PUSH(p, field)                                                    \
    plot_push((void **)&(p)->field.v, &(p)->field.n, &(p)->field.cap,          \
              sizeof *(p)->field.v)
void plot_free(struct plot *p);

/* ---- plot_svg.c ---- */
/* The figure: three panels on one time axis. 0, or -1 on a write error. */
int plot_svg(const struct plot *p, FILE *out);

#endif
