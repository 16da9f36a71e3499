/* berth command: `berth plot`'s figure, hand-written SVG: three panels on
 * one time axis — the time-sequence graph (segments as tcptrace draws them:
 * a vertical bar per segment, red when resent; the ACK line; the receive
 * window's right edge; SACKed ranges), the congestion window with ssthresh
 * and bytes in flight, and the RTT samples with SRTT and RTO. Recovery
 * periods are shaded across all three, timeouts marked. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "berth/berth.h"
#include "plot.h"

#define W      1100.0
#define LEFT   90.0
#define RIGHT  30.0
#define PLOT_W (W - LEFT - RIGHT)
#define P1_Y   70.0
#define P1_H   420.0
#define P2_Y   (P1_Y + P1_H + 50.0)
#define P2_H   180.0
#define P3_Y   (P2_Y + P2_H + 50.0)
#define P3_H   150.0
#define H      (P3_Y + P3_H + 60.0)

#define C_DATA    "#202020"
#define C_RETRANS "#d62728"
#define C_CTL     "#2ca02c"
#define C_ACK     "#1a9641"
#define C_RWND    "#d4a017"
#define C_SACK    "#9467bd"
#define C_CWND    "#1f77b4"
#define C_SSTH    "#ff7f0e"
#define C_FLIGHT  "#999999"
#define C_RTT     "#1f77b4"
#define C_SRTT    "#2ca02c"
#define C_RTO     "#d62728"

struct axis {
    double lo, hi;    /* data range */
    double y0, h;     /* panel (vertical) */
    double step;      /* tick spacing, data units */
    double unit;      /* data units per label unit */
    const char *name; /* label unit */
};

/* A 1-2-5 tick step giving about n ticks over span. */
static double nice_step(double span, int n)
{
    if (span <= 0)
        return 1;
    double raw = span / n, p = 1;
    for (int i = 0; i < 40 && p * 10 <= raw; i++)
        p *= 10;
    for (int i = 0; i < 40 && p > raw; i++)
        p /= 10;
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static double xpos(double tmax, double t)
{
    return LEFT + (tmax > 0 ? t / tmax : 0) * PLOT_W;
}

static double ypos(const struct axis *a, double v)
{
    double f = a->hi > a->lo ? (v - a->lo) / (a->hi - a->lo) : 0;
    if (f < 0)
        f = 0;
    if (f > 1.02)
        f = 1.02;
    return a->y0 + a->h - f * a->h;
}

static void frame(FILE *o, const struct axis *a, double tmax, bool xlabels,
                  const char *title)
{
    fprintf(o,
            "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' "
            "fill='none' stroke='#888'/>\n",
            LEFT, a->y0, PLOT_W, a->h);
    fprintf(o,
            "<text x='%.1f' y='%.1f' font-size='13' "
            "font-weight='bold'>%s</text>\n",
            LEFT, a->y0 - 8, title);
    for (int i = 0; i < 100; i++) {
        double v = a->lo + i * a->step; /* lo is 0 or a multiple */
        if (v > a->hi + a->step * 1e-9)
            break;
        double y = ypos(a, v);
        fprintf(o,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' "
                "stroke='#eee'/>\n"
                "<text x='%.1f' y='%.1f' font-size='11' "
                "text-anchor='end'>%g</text>\n",
                LEFT, y, LEFT + PLOT_W, y, LEFT - 6, y + 4, v / a->unit);
    }
    fprintf(o,
            "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle' "
            "transform='rotate(-90 %.1f %.1f)'>%s</text>\n",
            LEFT - 60, a->y0 + a->h / 2, LEFT - 60, a->y0 + a->h / 2, a->name);
    double tstep = nice_step(tmax, 10);
    bool secs = tmax >= 2e6;
    for (int i = 0; i < 100 && i * tstep <= tmax * 1.0001; i++) {
        double x = xpos(tmax, i * tstep);
        fprintf(o,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' "
                "stroke='#eee'/>\n",
                x, a->y0, x, a->y0 + a->h);
        if (xlabels)
            fprintf(o,
                    "<text x='%.1f' y='%.1f' font-size='11' "
                    "text-anchor='middle'>%g</text>\n",
                    x, a->y0 + a->h + 15, i * tstep / (secs ? 1e6 : 1e3));
    }
    if (xlabels)
        fprintf(o,
                "<text x='%.1f' y='%.1f' font-size='11' "
                "text-anchor='middle'>time (%s)</text>\n",
                LEFT + PLOT_W / 2, a->y0 + a->h + 32, secs ? "s" : "ms");
}

static void legend(FILE *o, double x, double y, const char *color,
                   const char *dash, const char *text)
{
    fprintf(o,
            "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' "
            "stroke-width='2'%s%s%s/>\n"
            "<text x='%.1f' y='%.1f' font-size='11'>%s</text>\n",
            x, y, x + 18, y, color, dash ? " stroke-dasharray='" : "",
            dash ? dash : "", dash ? "'" : "", x + 22, y + 4, text);
}

/* Recovery periods (shaded) and timeouts (a dashed red line). */
static void marks(FILE *o, const struct plot *p, double y0, double h)
{
    double enter = -1;
    for (size_t i = 0; i < p->marks.n; i++) {
        const struct plot_mark *m = &p->marks.v[i];
        if (m->kind == MARK_RECOVERY_ENTER && enter < 0)
            enter = m->t;
        if ((m->kind == MARK_RECOVERY_EXIT || i + 1 == p->marks.n) &&
            enter >= 0) {
            double x0 = xpos(p->tmax, enter), x1 = xpos(p->tmax, m->t);
            fprintf(o,
                    "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' "
                    "fill='#fbe3e3'/>\n",
                    x0, y0, x1 - x0 > 1 ? x1 - x0 : 1, h);
            enter = -1;
        }
        if (m->kind == MARK_RTO)
            fprintf(o,
                    "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' "
                    "stroke='" C_RETRANS "' stroke-dasharray='4 3'/>\n",
                    xpos(p->tmax, m->t), y0, xpos(p->tmax, m->t), y0 + h);
    }
}

/* A step line: each value holds until the next. */
static void step_start(FILE *o, const char *color, const char *dash,
                       double width)
{
    fprintf(o,
            "<polyline fill='none' stroke='%s' stroke-width='%.1f'%s%s%s "
            "points='",
            color, width, dash ? " stroke-dasharray='" : "", dash ? dash : "",
            dash ? "'" : "");
}

static void seq_panel(FILE *o, const struct plot *p)
{
    uint32_t top = 1;
    for (size_t i = 0; i < p->segs.n; i++)
        top = p->segs.v[i].end > top ? p->segs.v[i].end : top;
    for (size_t i = 0; i < p->acks.n; i++)
        if (p->acks.v[i].has_edge && p->acks.v[i].edge > top &&
            p->acks.v[i].edge < top + (top >> 1) + 65536)
            top = p->acks.v[i].edge;
    struct axis a = {.lo = 0, .hi = top * 1.03, .y0 = P1_Y, .h = P1_H};
    a.unit = a.hi > 5e6 ? 1e6 : a.hi > 5e3 ? 1e3 : 1;
    a.name = a.unit == 1e6   ? "sequence (MB from ISN)"
             : a.unit == 1e3 ? "sequence (kB from ISN)"
                             : "sequence (bytes from ISN)";
    a.step = nice_step(a.hi, 8);
    marks(o, p, a.y0, a.h);
    frame(o, &a, p->tmax, false, "Time-sequence graph");
    /* the receive window's right edge and the ACK line */
    step_start(o, C_RWND, NULL, 1.2);
    for (size_t i = 0; i < p->acks.n; i++) {
        const struct plot_ack *k = &p->acks.v[i];
        if (!k->has_edge)
            continue;
        fprintf(o, "%.1f,%.1f ", xpos(p->tmax, k->t), ypos(&a, k->edge));
        if (i + 1 < p->acks.n)
            fprintf(o, "%.1f,%.1f ", xpos(p->tmax, p->acks.v[i + 1].t),
                    ypos(&a, k->edge));
    }
    fputs("'/>\n", o);
    step_start(o, C_ACK, NULL, 1.2);
    for (size_t i = 0; i < p->acks.n; i++) {
        const struct plot_ack *k = &p->acks.v[i];
        fprintf(o, "%.1f,%.1f ", xpos(p->tmax, k->t), ypos(&a, k->ack));
        if (i + 1 < p->acks.n)
            fprintf(o, "%.1f,%.1f ", xpos(p->tmax, p->acks.v[i + 1].t),
                    ypos(&a, k->ack));
    }
    fputs("'/>\n", o);
    for (size_t i = 0; i < p->sacks.n; i++) {
        const struct plot_sack *s = &p->sacks.v[i];
        double x = xpos(p->tmax, s->t) + 2;
        fprintf(o,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' "
                "stroke='" C_SACK "' stroke-width='2'/>\n",
                x, ypos(&a, s->start), x, ypos(&a, s->end));
    }
    for (size_t i = 0; i < p->segs.n; i++) {
        const struct plot_seg *s = &p->segs.v[i];
        const char *c = s->retrans                                 ? C_RETRANS
                        : s->flags & (BERTH_TH_SYN | BERTH_TH_FIN) ? C_CTL
                                                                   : C_DATA;
        double x = xpos(p->tmax, s->t), y0 = ypos(&a, s->start),
               y1 = ypos(&a, s->end);
        fprintf(o,
                "<path d='M%.1f %.1fV%.1fM%.1f %.1fh4M%.1f %.1fh4' "
                "stroke='%s' fill='none'/>\n",
                x, y0, y1, x - 2, y0, x - 2, y1, c);
    }
    double lx = LEFT + 180, ly = P1_Y - 12;
    legend(o, lx, ly, C_DATA, NULL, "segment");
    legend(o, lx + 95, ly, C_RETRANS, NULL, "retransmission");
    legend(o, lx + 225, ly, C_CTL, NULL, "SYN/FIN");
    legend(o, lx + 315, ly, C_ACK, NULL, "ACK");
    legend(o, lx + 380, ly, C_RWND, NULL, "receive window edge");
    legend(o, lx + 540, ly, C_SACK, NULL, "SACKed");
    if (p->marks.n)
        legend(o, lx + 625, ly, "#f4b6b6", NULL, "in recovery");
}

static void cc_panel(FILE *o, const struct plot *p)
{
    double top = 1;
    for (size_t i = 0; i < p->cc.n; i++) {
        const struct plot_cc *c = &p->cc.v[i];
        top = c->cwnd > top ? c->cwnd : top;
        if (c->ssthresh != UINT32_MAX && c->ssthresh > top &&
            c->ssthresh < 4 * top)
            top = c->ssthresh;
    }
    for (size_t i = 0; i < p->flight.n; i++)
        top = p->flight.v[i].bytes > top ? p->flight.v[i].bytes : top;
    struct axis a = {.lo = 0, .hi = top * 1.08, .y0 = P2_Y, .h = P2_H};
    a.unit = a.hi > 5e6 ? 1e6 : 1e3;
    a.name = a.unit == 1e6 ? "MB" : "kB";
    a.step = nice_step(a.hi, 5);
    marks(o, p, a.y0, a.h);
    frame(o, &a, p->tmax, false,
          p->estimated ? "Bytes in flight (estimated: a capture has no cwnd)"
                       : "Congestion window (berth's own)");
    step_start(o, C_FLIGHT, NULL, 0.8);
    for (size_t i = 0; i < p->flight.n; i++) {
        const struct plot_flight *f = &p->flight.v[i];
        double t1 = i + 1 < p->flight.n ? p->flight.v[i + 1].t : p->tmax;
        fprintf(o, "%.1f,%.1f %.1f,%.1f ", xpos(p->tmax, f->t),
                ypos(&a, f->bytes), xpos(p->tmax, t1), ypos(&a, f->bytes));
    }
    fputs("'/>\n", o);
    for (int line = 0; line < 2 && !p->estimated; line++) {
        step_start(o, line == 0 ? C_CWND : C_SSTH, line ? "6 3" : NULL, 1.6);
        for (size_t i = 0; i < p->cc.n; i++) {
            const struct plot_cc *c = &p->cc.v[i];
            uint32_t v = line == 0 ? c->cwnd : c->ssthresh;
            if (v == UINT32_MAX) { /* ssthresh infinite: a gap */
                fputs("'/>\n", o);
                step_start(o, C_SSTH, "6 3", 1.6);
                continue;
            }
            double t1 = i + 1 < p->cc.n ? p->cc.v[i + 1].t : p->tmax;
            fprintf(o, "%.1f,%.1f %.1f,%.1f ", xpos(p->tmax, c->t), ypos(&a, v),
                    xpos(p->tmax, t1), ypos(&a, v));
        }
        fputs("'/>\n", o);
    }
    double lx = LEFT + 430, ly = P2_Y - 12;
    if (p->estimated) {
        legend(o, lx, ly, C_FLIGHT, NULL,
               "bytes in flight (highest sent - highest ACK)");
        return;
    }
    legend(o, lx, ly, C_CWND, NULL, "cwnd");
    legend(o, lx + 70, ly, C_SSTH, "6 3", "ssthresh");
    legend(o, lx + 160, ly, C_FLIGHT, NULL, "bytes in flight");
}

static void rtt_panel(FILE *o, const struct plot *p)
{
    double top = 1;
    for (size_t i = 0; i < p->rtt.n; i++) {
        const struct plot_rtt *r = &p->rtt.v[i];
        top = r->sample > top ? r->sample : top;
        top = r->srtt > top ? r->srtt : top;
    }
    double rto_top = top * 4;
    for (size_t i = 0; i < p->rtt.n; i++)
        if (p->rtt.v[i].rto > top && p->rtt.v[i].rto <= rto_top)
            top = p->rtt.v[i].rto;
    struct axis a = {.lo = 0, .hi = top * 1.1, .y0 = P3_Y, .h = P3_H};
    a.unit = 1e3;
    a.name = "ms";
    a.step = nice_step(a.hi, 5);
    marks(o, p, a.y0, a.h);
    frame(o, &a, p->tmax, true,
          p->estimated ? "RTT (estimated: data segment to the ACK covering it)"
                       : "RTT samples, SRTT and RTO (RFC 6298)");
    for (int line = 0; line < 2 && !p->estimated; line++) {
        step_start(o, line == 0 ? C_SRTT : C_RTO, line ? "4 3" : NULL, 1.2);
        for (size_t i = 0; i < p->rtt.n; i++) {
            const struct plot_rtt *r = &p->rtt.v[i];
            double v = line == 0 ? r->srtt : r->rto;
            if (v < 0 || v > rto_top)
                continue;
            double t1 = i + 1 < p->rtt.n ? p->rtt.v[i + 1].t : p->tmax;
            fprintf(o, "%.1f,%.1f %.1f,%.1f ", xpos(p->tmax, r->t), ypos(&a, v),
                    xpos(p->tmax, t1), ypos(&a, v));
        }
        fputs("'/>\n", o);
    }
    for (size_t i = 0; i < p->rtt.n; i++)
        fprintf(o, "<circle cx='%.1f' cy='%.1f' r='2' fill='" C_RTT "'/>\n",
                xpos(p->tmax, p->rtt.v[i].t), ypos(&a, p->rtt.v[i].sample));
    double lx = LEFT + 430, ly = P3_Y - 12;
    fprintf(o, "<circle cx='%.1f' cy='%.1f' r='3' fill='" C_RTT "'/>\n", lx + 9,
            ly);
    fprintf(o, "<text x='%.1f' y='%.1f' font-size='11'>sample</text>\n",
            lx + 22, ly + 4);
    if (!p->estimated) {
        double rto_min = -1;
        for (size_t i = 0; i < p->rtt.n; i++)
            if (p->rtt.v[i].rto > rto_top &&
                (rto_min < 0 || p->rtt.v[i].rto < rto_min))
                rto_min = p->rtt.v[i].rto;
        char off[80] = "RTO";
        if (rto_min > 0) /* the RTO's floor dwarfs a short RTT */
            snprintf(off, sizeof off, "RTO (off the scale: %.0f ms and up)",
                     rto_min / 1e3);
        legend(o, lx + 80, ly, C_SRTT, NULL, "SRTT");
        legend(o, lx + 150, ly, C_RTO, "4 3", off);
    }
}

/* Title text, XML-escaped. */
static void put_text(FILE *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", o);
        else if (*s == '>')
            fputs("&gt;", o);
        else if (*s == '&')
            fputs("&amp;", o);
        else if (*s == '\'')
            fputs("&apos;", o);
        else
            fputc(*s, o);
    }
}

int plot_svg(const struct plot *p, FILE *o)
{
    fprintf(o,
            "<?xml version='1.0' encoding='UTF-8'?>\n"
            "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' "
            "height='%.0f' viewBox='0 0 %.0f %.0f' "
            "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'>\n"
            "<rect width='100%%' height='100%%' fill='white'/>\n"
            "<text x='%.1f' y='24' font-size='16' font-weight='bold'>",
            W, H, W, H, LEFT);
    put_text(o, p->title);
    fprintf(o, "</text>\n<text x='%.1f' y='44' font-size='12' fill='%s'>", LEFT,
            p->estimated ? C_RETRANS : "#444");
    put_text(o, p->source);
    fputs("</text>\n", o);
    seq_panel(o, p);
    cc_panel(o, p);
    rtt_panel(o, p);
    fputs("</svg>\n", o);
    return ferror(o) ? -1 : 0;
}
