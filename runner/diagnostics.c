/* runner/diagnostics.c: the problem list of `weir validate` / `weir run`: every problem with its
 * position, printed in source order as FILE:LINE:COLUMN: error: message, and the "did you mean"
 * hint (Damerau–Levenshtein distance, case-insensitive) used for keys, types and names. */
#include "yaml_doc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct problem {
    uint32_t line, column, seq;
    char *msg;
} problem;

struct weir__diag {
    char *path;
    problem *p;
    uint32_t n, cap;
};

weir__diag *y_diag_create(const char *path)
{
    weir__diag *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->path = strdup(path ? path : "<input>");
    if (!d->path) {
        free(d);
        return NULL;
    }
    return d;
}

void y_diag_destroy(weir__diag *d)
{
    if (!d) return;
    for (uint32_t i = 0; i < d->n; i++) free(d->p[i].msg);
    free(d->p);
    free(d->path);
    free(d);
}

void y_diag_add(weir__diag *d, uint32_t line, uint32_t column, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* the same message at the same place once */
    for (uint32_t i = 0; i < d->n; i++)
        if (d->p[i].line == line && d->p[i].column == column && !strcmp(d->p[i].msg, buf)) return;
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 16;
        problem *p = realloc(d->p, cap * sizeof *p);
        if (!p) return;
        d->p = p;
        d->cap = cap;
    }
    char *m = strdup(buf);
    if (!m) return;
    d->p[d->n] = (problem){line ? line : 1, column ? column : 1, d->n, m};
    d->n++;
}

uint32_t y_errors(const weir__diag *d)
{
    return d ? d->n : 0;
}

static int by_position(const void *a, const void *b)
{
    const problem *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    if (x->column != y->column) return x->column < y->column ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

void y_print(const weir__diag *d, FILE *out)
{
    if (!d || !d->n) return;
    qsort(d->p, d->n, sizeof *d->p, by_position);
    for (uint32_t i = 0; i < d->n; i++)
        fprintf(out, "%s:%u:%u: error: %s\n", d->path, d->p[i].line, d->p[i].column, d->p[i].msg);
}

/* Optimal string alignment distance, case-insensitive. */
static size_t distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return 99;
    size_t d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = i;
    for (size_t j = 0; j <= m; j++) d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 &&
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

const char *y_did_you_mean(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = 99, len = strlen(word);
    for (size_t i = 0; candidates && candidates[i]; i++) {
        size_t dist = distance(word, candidates[i]);
        if (dist < best_d) {
            best_d = dist;
            best = candidates[i];
        }
    }
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return best && best_d <= limit ? best : NULL;
}
