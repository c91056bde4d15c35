/* operators/input_wm.h: the watermark of an operator with several inputs (Flatten, Join).
 *
 * operator.h: "an operator with several inputs tracks a watermark per input and uses the
 * minimum". This keeps one watermark per input and gives their minimum, as the exchange does per
 * channel (engine/exchange.c): an input that ended stands at +infinity; an input whose last batch
 * was flagged IDLE is left out of the minimum until a batch without the flag arrives; when every
 * input that has not ended is idle, the highest of their watermarks stands (windowing.md §2). The
 * minimum never goes back. */
#ifndef WEIR_OPERATORS_INPUT_WM_H
#define WEIR_OPERATORS_INPUT_WM_H

#include "weir/batch.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct input_wm {
    uint32_t n;
    int64_t *wm; /* [n] */
    bool *ended; /* [n] */
    bool *idle;  /* [n] */
    uint32_t n_ended;
    int64_t out; /* the minimum given so far */
} input_wm;

/* 0, or -1 on no memory. */
static inline int input_wm_init(input_wm *w, uint32_t n)
{
    w->n = n;
    w->wm = malloc((n ? n : 1) * sizeof *w->wm);
    w->ended = calloc(n ? n : 1, sizeof *w->ended);
    w->idle = calloc(n ? n : 1, sizeof *w->idle);
    w->n_ended = 0;
    w->out = WEIR_TIME_MIN;
    if (!w->wm || !w->ended || !w->idle) return -1;
    for (uint32_t i = 0; i < n; i++) w->wm[i] = WEIR_TIME_MIN;
    return 0;
}

static inline void input_wm_finish(input_wm *w)
{
    free(w->wm);
    free(w->ended);
    free(w->idle);
    w->wm = NULL;
    w->ended = w->idle = NULL;
}

/* The current minimum (never lower than what it returned before). */
static inline int64_t input_wm_min(input_wm *w)
{
    int64_t m = WEIR_TIME_MAX, hi = WEIR_TIME_MIN;
    bool any = false;
    for (uint32_t i = 0; i < w->n; i++) {
        if (w->idle[i] && !w->ended[i]) {
            if (w->wm[i] > hi) hi = w->wm[i];
            continue;
        }
        any = true;
        if (w->wm[i] < m) m = w->wm[i];
    }
    if (!any) m = hi;
    if (m < w->out) m = w->out;
    w->out = m;
    return m;
}

/* Input i's watermark rises to wm (lower values are ignored); returns the minimum. */
static inline int64_t input_wm_raise(input_wm *w, uint32_t i, int64_t wm)
{
    if (wm > w->wm[i]) w->wm[i] = wm;
    return input_wm_min(w);
}

/* A batch with these flags arrived on input i (before its rows are handled). */
static inline void input_wm_flags(input_wm *w, uint32_t i, uint32_t flags)
{
    w->idle[i] = (flags & WEIR_BATCH_IDLE) != 0;
}

/* Input i ended (its END batch was handled); returns whether every input has now ended. */
static inline bool input_wm_end(input_wm *w, uint32_t i)
{
    if (!w->ended[i]) {
        w->ended[i] = true;
        w->n_ended++;
        w->wm[i] = WEIR_TIME_MAX;
    }
    return w->n_ended == w->n;
}

/* Whether every input that has not ended is idle (and one has not ended). */
static inline bool input_wm_all_idle(const input_wm *w)
{
    bool any = false;
    for (uint32_t i = 0; i < w->n; i++) {
        if (w->ended[i]) continue;
        if (!w->idle[i]) return false;
        any = true;
    }
    return any;
}

#endif
