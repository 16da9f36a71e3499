/* berth command: a small JSON reader for one line of berth's event log
 * (docs/events.md): objects, arrays, numbers, strings, true, false, null,
 * into a fixed pool of nodes. Enough for the lines berth writes and for any
 * well-formed line; a line that does not parse is reported, not guessed. */
#include "plot.h"

#include <stdlib.h>
#include <string.h>

struct jparse {
    const char *p, *end;
    struct jnode *pool;
    int n, cap;
};

static void skip_ws(struct jparse *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
        j->p++;
}

static int new_node(struct jparse *j, enum jtype t)
{
    if (j->n >= j->cap)
        return -1;
    j->pool[j->n] = (struct jnode){.type = t, .child = -1, .next = -1};
    return j->n++;
}

/* A string's span (escapes kept as written: berth's names have none). */
static int parse_string(struct jparse *j, const char **s, size_t *len)
{
    if (j->p >= j->end || *j->p != '"')
        return -1;
    const char *start = ++j->p;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\' && j->p + 1 < j->end)
            j->p++;
        j->p++;
    }
    if (j->p >= j->end)
        return -1;
    *s = start;
    *len = (size_t)(j->p - start);
    j->p++;
    return 0;
}

static int parse_value(struct jparse *j, int depth);

static int parse_members(struct jparse *j, int node, bool object, int depth)
{
    char close = object ? '}' : ']';
    int last = -1;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return node;
    }
    for (int guard = 0; guard < j->cap; guard++) {
        const char *key = NULL;
        size_t klen = 0;
        skip_ws(j);
        if (object) {
            if (parse_string(j, &key, &klen) < 0)
                return -1;
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return -1;
            j->p++;
        }
        int v = parse_value(j, depth + 1);
        if (v < 0)
            return -1;
        j->pool[v].key = key;
        j->pool[v].klen = klen;
        if (last < 0)
            j->pool[node].child = v;
        else
            j->pool[last].next = v;
        last = v;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return node;
        }
        return -1;
    }
    return -1;
}

static int parse_value(struct jparse *j, int depth)
{
    if (depth > 16)
        return -1;
    skip_ws(j);
    if (j->p >= j->end)
        return -1;
    char c = *j->p;
    if (c == '{' || c == '[') {
        int n = new_node(j, c == '{' ? J_OBJ : J_ARR);
        if (n < 0)
            return -1;
        j->p++;
        return parse_members(j, n, c == '{', depth);
    }
    if (c == '"') {
        int n = new_node(j, J_STR);
        if (n < 0 || parse_string(j, &j->pool[n].s, &j->pool[n].slen) < 0)
            return -1;
        return n;
    }
    static const struct {
        const char *word;
        enum jtype t;
        bool b;
    } words[] = {{"true", J_BOOL, true},
                 {"false", J_BOOL, false},
                 {"null", J_NULL, false}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t l = strlen(words[i].word);
        if ((size_t)(j->end - j->p) >= l && !memcmp(j->p, words[i].word, l)) {
            int n = new_node(j, words[i].t);
            if (n < 0)
                return -1;
            j->pool[n].b = words[i].b;
            j->p += l;
            return n;
        }
    }
    char *e;
    double v = strtod(j->p, &e);
    if (e == j->p || e > j->end)
        return -1;
    int n = new_node(j, J_NUM);
    if (n < 0)
        return -1;
    j->pool[n].num = v;
    j->p = e;
    return n;
}

int json_parse(const char *line, size_t len, struct jnode *pool, int cap)
{
    struct jparse j = {.p = line, .end = line + len, .pool = pool, .cap = cap};
    int root = parse_value(&j, 0);
    if (root < 0)
        return -1;
    skip_ws(&j);
    return j.p == j.end ? root : -1;
}

int json_get(const struct jnode *pool, int obj, const char *key)
{
    if (obj < 0 || pool[obj].type != J_OBJ)
        return -1;
    size_t kl = strlen(key);
    for (int c = pool[obj].child; c >= 0; c = pool[c].next)
        if (pool[c].klen == kl && !memcmp(pool[c].key, key, kl))
            return c;
    return -1;
}

bool json_num(const struct jnode *pool, int obj, const char *key, double *out)
{
    int n = json_get(pool, obj, key);
    if (n < 0 || pool[n].type != J_NUM)
        return false;
    *out = pool[n].num;
    return true;
}

bool json_str_is(const struct jnode *pool, int n, const char *s)
{
    size_t l = strlen(s);
    return n >= 0 && pool[n].type == J_STR && pool[n].slen == l &&
           !memcmp(pool[n].s, s, l);
}

void json_str(const struct jnode *pool, int n, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = 0;
    if (n < 0 || pool[n].type != J_STR)
        return;
    size_t l = pool[n].slen < size - 1 ? pool[n].slen : size - 1;
    memcpy(buf, pool[n].s, l);
    buf[l] = 0;
}
