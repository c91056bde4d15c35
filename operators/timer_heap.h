/* operators/timer_heap.h: a binary min-heap of (time, pointer) used for event-time and
 * processing-time timers of windows. Entries are never removed early: the owner checks on pop
 * whether the entry still matters (lazy cancellation), which keeps push and pop O(log n). */
#ifndef WEIR_OPERATORS_TIMER_HEAP_H
#define WEIR_OPERATORS_TIMER_HEAP_H

#include <stdint.h>
#include <stdlib.h>

/* 16 bytes. Entries with equal times pop in no particular order: callers sort what is due. */
typedef struct timer_entry {
    int64_t time;
    void *target;
} timer_entry;

typedef struct timer_heap {
    timer_entry *e;
    size_t n, cap;
} timer_heap;

static inline int timer_less(const timer_entry *a, const timer_entry *b)
{
    return a->time < b->time;
}

static inline int timer_heap_push(timer_heap *h, int64_t time, void *target)
{
    if (h->n == h->cap) {
        /* 1.5x, not 2x: with a timer per key, a heap of 10M keys is 160 MB, and doubling left
         * up to as much again unused (10M keys with open windows: 215 B/key, now about 207) */
        size_t cap = h->cap ? h->cap + h->cap / 2 : 64;
        timer_entry *e = realloc(h->e, cap * sizeof *e);
        if (!e) return -1;
        h->e = e;
        h->cap = cap;
    }
    size_t i = h->n++;
    timer_entry x = {time, target};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_less(&x, &h->e[parent])) break;
        h->e[i] = h->e[parent];
        i = parent;
    }
    h->e[i] = x;
    return 0;
}

static inline const timer_entry *timer_heap_top(const timer_heap *h)
{
    return h->n ? &h->e[0] : NULL;
}

static inline timer_entry timer_heap_pop(timer_heap *h)
{
    timer_entry top = h->e[0];
    timer_entry x = h->e[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && timer_less(&h->e[c + 1], &h->e[c])) c++;
        if (!timer_less(&h->e[c], &x)) break;
        h->e[i] = h->e[c];
        i = c;
    }
    if (n) h->e[i] = x;
    return top;
}

static inline void timer_heap_free(timer_heap *h)
{
    free(h->e);
    h->e = NULL;
    h->n = h->cap = 0;
}

#endif
