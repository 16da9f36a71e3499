/* berth command: the ladder as a textbook figure (SVG, written by hand):
 * two vertical timelines, time running down, each segment a slanted arrow
 * from the sender's line to the receiver's, labelled with its flags and
 * numbers; state names beside each timeline. Long runs of plain data and
 * ACK segments are elided with a "... N segments ..." marker unless the
 * whole ladder is asked for. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ladder_impl.h"

#define W         820 /* figure width */
#define X_LEFT    230 /* the timelines */
#define X_RIGHT   610
#define TOP       70 /* where time starts */
#define SLANT     22 /* how far down an arrow travels */
#define ARROW_H   36 /* the slot of one arrow */
#define LINE_H    13 /* a line of a note */
#define SIDE_H    17 /* a state or call row */
#define KEEP_HEAD 3  /* arrows kept at each end of an elided run */
#define KEEP_TAIL 2
#define ELIDE_MIN 8  /* shorter runs are drawn whole */
#define WRAP      56 /* characters of a note per line */

#define C_PLAIN "#222"
#define C_RETX  "#d35400"
#define C_LOST  "#c0392b"
#define C_OOO   "#8e44ad"

static void esc(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        switch (s[i]) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(s[i], out);
        }
    }
}

static void text(FILE *out, int x, int y, const char *anchor, const char *cls,
                 const char *s, size_t n)
{
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\" class=\"%s\">", x,
            y, anchor, cls);
    esc(out, s, n);
    fputs("</text>\n", out);
}

/* A row that may vanish into an elided run: a plain data or ACK arrow with
 * nothing beside it, or a note that belongs to one. */
static bool plain(const struct lrow *r, bool after_plain)
{
    if (r->side[0][0] || r->side[1][0])
        return false;
    if (r->mid == MID_ARROW)
        return !(r->marks & (LM_RETX | LM_LOST | LM_OOO | LM_ZERO_WIN | LM_RST |
                             LM_SYN_FIN));
    return r->mid == MID_NOTE && (r->detail || r->explain) && after_plain;
}

/* keep[i]: row i is drawn; a run elided ends at a row with marker set,
 * counting its arrows in elided[i]. */
static void plan(const struct lrow *rows, size_t n, bool full, bool *keep,
                 size_t *elided)
{
    for (size_t i = 0; i < n; i++)
        keep[i] = true, elided[i] = 0;
    if (full)
        return;
    size_t i = 0;
    while (i < n) {
        if (!plain(&rows[i], false) || rows[i].mid != MID_ARROW) {
            i++;
            continue;
        }
        size_t j = i, arrows = 0;
        while (j < n && plain(&rows[j], j > i)) {
            arrows += rows[j].mid == MID_ARROW;
            j++;
        }
        if (arrows >= ELIDE_MIN) {
            /* Drop from the (KEEP_HEAD+1)th arrow to before the
             * KEEP_TAIL-th from the end. */
            size_t seen = 0, first = j, last = j;
            for (size_t k = i; k < j; k++) {
                if (rows[k].mid != MID_ARROW)
                    continue;
                seen++;
                if (seen == KEEP_HEAD + 1)
                    first = k;
                if (seen == arrows - KEEP_TAIL + 1)
                    last = k;
            }
            for (size_t k = first; k < last; k++)
                keep[k] = false;
            keep[first] = true; /* drawn as the marker */
            elided[first] = arrows - KEEP_HEAD - KEEP_TAIL;
        }
        i = j;
    }
}

/* Lines of a note wrapped at WRAP characters: their count, and each
 * line's start and length when out is not NULL. */
static int wrap(const char *s, size_t *start, size_t *len)
{
    int lines = 0;
    size_t at = 0, n = strlen(s);
    while (at < n) {
        size_t k = n - at;
        if (k > WRAP) {
            k = WRAP;
            while (k > WRAP / 2 && s[at + k] != ' ')
                k--;
            if (s[at + k] != ' ')
                k = WRAP;
        }
        if (start) {
            start[lines] = at;
            len[lines] = k;
        }
        lines++;
        at += k;
        while (at < n && s[at] == ' ')
            at++;
    }
    return lines;
}

/* The arrow of a segment from its sender's line down to the receiver's. */
static void arrow(FILE *out, const struct lrow *r, int y)
{
    int x0 = r->dir == 0 ? X_LEFT : X_RIGHT;
    int x1 = r->dir == 0 ? X_RIGHT : X_LEFT;
    int h = r->marks & (LM_LOST | LM_RST) ? 2
            : r->marks & LM_RETX          ? 1
            : r->marks & LM_OOO           ? 3
                                          : 0;
    static const char *const colour[] = {C_PLAIN, C_RETX, C_LOST, C_OOO};
    const char *c = colour[h];
    double f = r->marks & LM_LOST ? 0.62 : 1.0;
    int xe = x0 + (int)((x1 - x0) * f), ye = y + (int)(SLANT * f);
    fprintf(out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
            "stroke-width=\"1.4\"%s",
            x0, y, xe, ye, c,
            r->marks & LM_OOO ? " stroke-dasharray=\"5,3\"" : "");
    if (!(r->marks & LM_LOST))
        fprintf(out, " marker-end=\"url(#h%d)\"", h);
    fputs("/>\n", out);
    if (r->marks & LM_LOST)
        fprintf(out,
                "<path d=\"M%d,%d l8,8 m0,-8 l-8,8\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n",
                xe - 4, ye - 4, C_LOST);
    /* The label runs along the arrow, just above its middle, its flags in
     * bold: rotated by the arrow's slope, read left to right. */
    int xm = (X_LEFT + X_RIGHT) / 2, ym = y + SLANT / 2;
    /* atan(x) = x - x^3/3 within 0.01 degree for this gentle a slope
     * (no libm in the tools). */
    double k = (double)SLANT / (X_RIGHT - X_LEFT);
    double deg = (k - k * k * k / 3) * 57.29578;
    const char *sp = strchr(r->text, ' ');
    size_t fl = sp ? (size_t)(sp - r->text) : strlen(r->text);
    fprintf(out,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"lbl\" "
            "transform=\"rotate(%.2f %d %d)\"><tspan font-weight=\"bold\" "
            "fill=\"%s\">",
            xm, ym - 4, r->dir == 0 ? deg : -deg, xm, ym, c);
    esc(out, r->text, fl);
    fputs("</tspan>", out);
    if (sp)
        esc(out, sp, strlen(sp));
    fputs("</text>\n", out);
}

/* How far down a row moves the pen: one place for the figure's height and
 * its drawing. */
static int row_height(const struct lrow *r, size_t elided)
{
    if (elided || r->mid == MID_ARROW)
        return ARROW_H;
    if (r->mid == MID_NOTE && (r->detail || r->explain))
        return LINE_H * wrap(r->text, NULL, NULL);
    return SIDE_H;
}

/* A silence of a second or more gets a row of its own. */
static bool gap(uint64_t t, uint64_t last)
{
    return t > last && t - last >= LADDER_GAP_US;
}

static int figure_height(const struct lrow *rows, size_t n, const bool *keep,
                         const size_t *elided)
{
    int y = TOP;
    uint64_t last = n ? rows[0].t : 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        y += gap(rows[i].t, last) ? SIDE_H : 0;
        last = rows[i].t > last ? rows[i].t : last;
        y += row_height(&rows[i], elided[i]);
    }
    return y + 56;
}

/* The header: size, styles, arrowheads, the columns' names and
 * endpoints, the two timelines. */
static void svg_head(FILE *out, int height, const char *left, const char *right,
                     const struct cap_addr *cli, const struct cap_addr *srv)
{
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\">\n<title>TCP ladder: ",
            W, height, W, height);
    esc(out, left, strlen(left));
    fputs(" and ", out);
    esc(out, right, strlen(right));
    fputs("</title>\n"
          "<style>text{font-family:'DejaVu Sans',sans-serif;"
          "font-size:11px;fill:#222}"
          ".lbl{font-family:'DejaVu Sans Mono',monospace;font-size:10.5px}"
          ".det{font-family:'DejaVu Sans Mono',monospace;font-size:9.5px;"
          "fill:#555}"
          ".why{font-style:italic;font-size:9.5px;fill:#2c6e49}"
          ".st{font-weight:bold;font-size:11.5px}"
          ".inf{font-style:italic}"
          ".app{fill:#666;font-size:10.5px}"
          ".t{fill:#888;font-size:10px}"
          ".head{font-weight:bold;font-size:13px}"
          ".note{fill:#555;font-size:10.5px}</style>\n"
          "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
          out);
    /* An arrowhead per colour (context-stroke is too new for some
     * renderers). */
    static const char *const heads[] = {C_PLAIN, C_RETX, C_LOST, C_OOO};
    fputs("<defs>", out);
    for (int i = 0; i < 4; i++)
        fprintf(out,
                "<marker id=\"h%d\" viewBox=\"0 0 10 10\" refX=\"10\" "
                "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
                "orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" "
                "fill=\"%s\"/></marker>",
                i, heads[i]);
    fputs("</defs>\n", out);
    char a[64], b[64];
    text(out, X_LEFT, 20, "middle", "head", left, strlen(left));
    text(out, X_RIGHT, 20, "middle", "head", right, strlen(right));
    if (cli) {
        cap_addr_str(cli, a, sizeof a);
        cap_addr_str(srv, b, sizeof b);
        text(out, X_LEFT, 36, "middle", "t", a, strlen(a));
        text(out, X_RIGHT, 36, "middle", "t", b, strlen(b));
    }
    text(out, 12, 52, "start", "t", "time (ms)", 9);
    for (int x = X_LEFT; x <= X_RIGHT; x += X_RIGHT - X_LEFT)
        fprintf(out,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                "stroke=\"#999\" stroke-width=\"2\"/>\n",
                x, TOP - 14, x, height - 40);
}

/* A note's lines, by its side's timeline (-1, +1) or centred (0). */
static void note(FILE *out, const struct lrow *r, int y, const char *cls)
{
    size_t st[LADDER_TEXT], ln[LADDER_TEXT];
    int lines = wrap(r->text, st, ln);
    int x = r->dir < 0   ? X_LEFT + 8
            : r->dir > 0 ? X_RIGHT - 8
                         : (X_LEFT + X_RIGHT) / 2;
    const char *anchor = r->dir < 0 ? "start" : r->dir > 0 ? "end" : "middle";
    for (int k = 0; k < lines; k++)
        text(out, x, y + 10 + k * LINE_H, anchor, cls, r->text + st[k], ln[k]);
}

/* One row at y: the marker of an elided run, or the texts beside the
 * timelines and what is between them. */
static void svg_row(FILE *out, const struct lrow *r, int y, size_t elided)
{
    if (elided) {
        char buf[64];
        int k = snprintf(buf, sizeof buf, "... %zu segments ...", elided);
        fprintf(out,
                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                "fill=\"#f2f2f2\"/>\n",
                X_LEFT + 4, y + 4, X_RIGHT - X_LEFT - 8, ARROW_H - 8);
        text(out, (X_LEFT + X_RIGHT) / 2, y + ARROW_H / 2 + 4, "middle", "note",
             buf, (size_t)k);
        return;
    }
    for (int s = 0; s < 2; s++) {
        if (!r->side[s][0])
            continue;
        const char *cls =
            r->state[s] ? (r->inferred[s] ? "st inf" : "st") : "app";
        text(out, s == 0 ? X_LEFT - 10 : X_RIGHT + 10, y + 12,
             s == 0 ? "end" : "start", cls, r->side[s], strlen(r->side[s]));
    }
    if (r->mid == MID_ARROW)
        arrow(out, r, y + 8);
    else if (r->mid == MID_NOTE)
        note(out, r, r->detail || r->explain ? y : y + 2,
             r->explain  ? "why"
             : r->detail ? "det"
                         : "note");
}

void ladder_print_svg(struct ladder *ld, FILE *out, const char *left_title,
                      const char *right_title, bool full)
{
    size_t n;
    const struct cap_addr *cli, *srv;
    const struct lrow *rows = ladder_rows(ld, &n, &cli, &srv);
    bool *keep = calloc(n ? n : 1, sizeof *keep);
    size_t *elided = calloc(n ? n : 1, sizeof *elided);
    if (!keep || !elided) {
        free(keep);
        free(elided);
        return;
    }
    plan(rows, n, full, keep, elided);
    int height = figure_height(rows, n, keep, elided);
    svg_head(out, height, left_title, right_title, cli, srv);
    int y = TOP;
    uint64_t t0 = n ? rows[0].t : 0, last = t0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        const struct lrow *r = &rows[i];
        char buf[64];
        if (gap(r->t, last)) {
            int k = snprintf(buf, sizeof buf, "... %.3f s later ...",
                             (double)(r->t - last) / 1e6);
            text(out, (X_LEFT + X_RIGHT) / 2, y + 11, "middle", "note", buf,
                 (size_t)k);
            y += SIDE_H;
        }
        if (i == 0 || r->t != last) { /* the time, when it changes */
            int k =
                snprintf(buf, sizeof buf, "%.3f", (double)(r->t - t0) / 1e3);
            text(out, 12, y + 11, "start", "t", buf, (size_t)k);
        }
        last = r->t > last ? r->t : last;
        svg_row(out, r, y, elided[i]);
        y += row_height(r, elided[i]);
    }
    static const char legend[] =
        "(STATE): inferred from the segments; STATE: the stack's own. "
        "Red: lost or reset; orange: retransmitted; dashed: out of order.";
    text(out, W / 2, height - 8, "middle", "t", legend, sizeof legend - 1);
    fputs("</svg>\n", out);
    free(keep);
    free(elided);
}
