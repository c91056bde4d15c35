/* engine/ring.h: a bounded single-producer single-consumer ring of pointers, the channel
 * between two workers (one ring per ordered worker pair). Lock-free: the producer owns `tail`,
 * the consumer owns `head`; each reads the other's index with acquire ordering and publishes its
 * own with release ordering, so a pointer pushed is visible with everything written before it.
 * Indexes live on separate cache lines so the two threads do not false-share. Capacity is a
 * power of two. Private to engine/. */
#ifndef WEIR_ENGINE_RING_H
#define WEIR_ENGINE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct weir__ring {
    _Alignas(64) _Atomic size_t head; /* next slot to pop (consumer) */
    _Alignas(64) _Atomic size_t tail; /* next slot to push (producer) */
    _Alignas(64) size_t mask;
    void **slots;
} weir__ring;

/* capacity: rounded up to a power of two (at least 2). 0, or -1 on no memory. */
static inline int weir__ring_init(weir__ring *r, size_t capacity)
{
    size_t cap = 2;
    while (cap < capacity) cap *= 2;
    r->slots = calloc(cap, sizeof *r->slots);
    if (!r->slots) return -1;
    r->mask = cap - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

static inline void weir__ring_finish(weir__ring *r)
{
    free(r->slots);
    r->slots = NULL;
}

/* Producer: pushes p; false when the ring is full. */
static inline bool weir__ring_push(weir__ring *r, void *p)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (tail - head > r->mask) return false;
    r->slots[tail & r->mask] = p;
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return true;
}

/* Consumer: pops the oldest pointer, or NULL when empty. */
static inline void *weir__ring_pop(weir__ring *r)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head == tail) return NULL;
    void *p = r->slots[head & r->mask];
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return p;
}

/* Either side: how many pointers are in the ring (a snapshot). */
static inline size_t weir__ring_count(weir__ring *r)
{
    return atomic_load_explicit(&r->tail, memory_order_acquire) -
           atomic_load_explicit(&r->head, memory_order_acquire);
}

#endif
