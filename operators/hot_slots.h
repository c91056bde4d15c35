/* operators/hot_slots.h: a cache from an integer key to a pointer into its state, checked in
 * one load and two compares, for the Combine's fast paths (combine.c, "the fast paths").
 *
 * The Combine's own index goes table slot -> key entry -> window -> aggregate block: three
 * dependent loads from three allocations per record, and the tests along the way (is this the
 * key's last window, is it open). A record of the commonest kind (a key seen before, its open
 * window or slice on time) needs only the block. The cache keeps that: key -> block, in one
 * dense open-addressing array (16 bytes a slot, Fibonacci hashing of the integer, linear
 * probing, at most half full), so a hit is one slot read.
 *
 * Validity is by generation. Every slot holds the generation it was filled in (16 bits, in the
 * top bits of its pointer: a slot is a key and one word); only slots of the current generation
 * are valid. The owner bumps the generation (hot_slots_bump) whenever
 * anything may have moved or changed the state the pointers lead to, or made a key's fast case
 * untrue (a window fired, a new open window, a checkpoint that needs copy-on-write first). Slots
 * are never emptied, only outdated, so probing needs no tombstones. A cache that outgrows its
 * limit starts over empty: it is a cache, nothing is lost.
 *
 * Generations: 0 marks an empty slot, the live ones are 1 to HOT_GEN_MAX; past that the
 * table is emptied and they start over. */
#ifndef WEIR_OPERATORS_HOT_SLOTS_H
#define WEIR_OPERATORS_HOT_SLOTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct hot_slot {
    int64_t key;
    uint64_t tagged; /* the pointer, its generation in the top 16 bits; 0: an empty slot */
} hot_slot;

typedef struct hot_slots {
    hot_slot *s;    /* [cap], or NULL before the first put */
    uint32_t cap;   /* a power of two */
    uint32_t used;  /* slots not empty */
    uint32_t gen;   /* current generation, 1 to HOT_GEN_MAX */
    uint32_t shift; /* 64 - log2(cap) */
} hot_slots;

/* Pointers fit in the low 48 bits (x86-64 and AArch64 user space); one that does not is not
 * cached. */
enum { HOT_TAG_SHIFT = 48, HOT_GEN_MAX = 0xffff };
#define HOT_PTR_MASK ((UINT64_C(1) << HOT_TAG_SHIFT) - 1)

enum { HOT_MIN_CAP = 1024, HOT_MAX_CAP = 1 << 17 };
/* Keys beyond which an owner leaves the slots alone: they (16 bytes, at most half full: 2 MB
 * at HOT_MAX_CAP) would no longer stay in the L2 cache, and the table would start over again
 * and again. (With 1 << 15 slots at most, 10K keys went by the table's path: 0.57 s against
 * 0.41 s for the COST run, benchmarks/RESULTS.md.) */
enum { HOT_MAX_KEYS = HOT_MAX_CAP / 4 };

static inline void hot_slots_init(hot_slots *h)
{
    *h = (hot_slots){.gen = 1};
}

static inline void hot_slots_free(hot_slots *h)
{
    free(h->s);
    hot_slots_init(h);
}

static inline size_t hot_home(int64_t key, uint32_t shift)
{
    return (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ULL) >> shift);
}

/* The tag of generation gen: a slot's tagged pointer xor it is the pointer when the slot is
 * of that generation, and at least 2^48 when not. */
static inline uint64_t hot_gen_tag(uint32_t gen)
{
    return (uint64_t)gen << HOT_TAG_SHIFT;
}

/* The pointer cached for key in the generation of tag (hot_gen_tag), for a loop's straight
 * path: the home slot's hit first, the probe off it.
 * Returns the pointer as an integer when key is cached (at most HOT_PTR_MASK), else a value
 * above HOT_PTR_MASK, so that a hit costs one compare and no test for NULL. */
static inline __attribute__((always_inline)) uint64_t
hot_slots_lookup(const hot_slot *s, uint32_t shift, uint64_t tag, int64_t key)
{
    size_t j = hot_home(key, shift);
    if (__builtin_expect(s[j].key != key, 0)) {
        const size_t mask = ((size_t)1 << (64 - shift)) - 1;
        do {
            if (s[j].tagged == 0) return UINT64_MAX;
            j = (j + 1) & mask;
        } while (s[j].key != key);
    }
    return s[j].tagged ^ tag;
}

/* Every cached pointer is outdated. */
static inline void hot_slots_bump(hot_slots *h)
{
    if (++h->gen > HOT_GEN_MAX) { /* start over, so that no old slot looks current */
        if (h->s) memset(h->s, 0, (size_t)h->cap * sizeof *h->s);
        h->used = 0;
        h->gen = 1;
    }
}

/* The slot of key: its own, or the empty one it would take. NULL when there is no table. */
static inline hot_slot *hot_slots_slot(const hot_slots *h, int64_t key)
{
    if (!h->s) return NULL;
    size_t mask = h->cap - 1;
    for (size_t j = hot_home(key, h->shift);; j = (j + 1) & mask)
        if (h->s[j].key == key || h->s[j].tagged == 0) return &h->s[j];
}

/* A table of cap slots with the current generation's entries of the old one (none when
 * starting over). false on no memory (the cache then stays as it was). */
static inline bool hot_slots_resize(hot_slots *h, uint32_t cap, bool keep)
{
    hot_slot *s = calloc(cap, sizeof *s);
    if (!s) return false;
    uint32_t shift = 64 - (uint32_t)__builtin_ctz(cap), used = 0;
    for (uint32_t i = 0; keep && i < h->cap; i++) {
        if ((h->s[i].tagged ^ hot_gen_tag(h->gen)) > HOT_PTR_MASK) continue;
        size_t j = hot_home(h->s[i].key, shift);
        while (s[j].tagged != 0) j = (j + 1) & (cap - 1);
        s[j] = h->s[i];
        used++;
    }
    free(h->s);
    h->s = s;
    h->cap = cap;
    h->shift = shift;
    h->used = used;
    return true;
}

/* Caches ptr for key in the current generation. At most half the slots are used: past that
 * the table doubles, up to HOT_MAX_CAP, where it starts over empty. Without memory nothing is
 * cached (the owner's own path still works). */
static inline void hot_slots_put(hot_slots *h, int64_t key, void *ptr)
{
    if ((uintptr_t)ptr > HOT_PTR_MASK) return;
    hot_slot *s = hot_slots_slot(h, key);
    if (!s || (s->tagged == 0 && (h->used + 1) * 2 > h->cap)) {
        uint32_t cap = !h->s ? HOT_MIN_CAP : h->cap < HOT_MAX_CAP ? h->cap * 2 : h->cap;
        if (!hot_slots_resize(h, cap, cap != h->cap)) return;
        s = hot_slots_slot(h, key);
    }
    if (s->tagged == 0) h->used++;
    s->key = key;
    s->tagged = hot_gen_tag(h->gen) | (uintptr_t)ptr;
}

#endif
