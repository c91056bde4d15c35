/* weir/snapshot.h: how an operator writes its state into a checkpoint and reads it back.
 *
 * At a checkpoint each worker reaches a consistent point (every source paused at a batch
 * boundary, every exchange channel aligned on the checkpoint's barrier; engine/checkpoint.c)
 * and calls `snapshot` of each of its operators, in graph order, with a writer. The operator
 * appends its state to the writer in sections:
 *
 *   - one section per key group (weir_key_group of the key's values) for keyed state: window
 *     contents, accumulators, pane and trigger state, session windows, per-key timers. On a
 *     restore, possibly at another worker count, a key group's sections go to the worker that
 *     owns the group then (weir_key_group_owner), so an operator must write each key under the
 *     group of its key, and nothing keyed under WEIR_SNAP_SHARED;
 *   - WEIR_SNAP_SHARED for state of the instance as a whole (a source's positions per
 *     partition, an operator's input watermark). On a restore, every new instance receives the
 *     shared section of every old instance (in old worker order) and takes what applies to it:
 *     a source the partitions it now reads, an operator the minimum of the watermarks;
 *   - WEIR_SNAP_OUTPUT, sinks only: bytes that the checkpoint publishes when it completes (the
 *     file sink's lines since the previous checkpoint, appended to its file in worker order).
 *     They are never restored into an operator.
 *
 * The snapshot must not change the operator's state (except a sink handing over its output)
 * and must be quick: it runs while the worker's processing waits (the write to disk happens
 * later, on another thread). Values are written in the writer's own encoding (little-endian
 * integers, strings with their length); a reader is bounds-checked and sticky: after one bad
 * read every later read returns zero / empty and weir_snap_ok says false, so a restore can read
 * everything and check once at the end. Restore calls happen after `open` and before any batch
 * or pull; strings a reader returns point into the checkpoint's buffer, valid only during the
 * call: copy what you keep.
 *
 * The on-disk format around these sections is described in state/checkpoint_store.h. */
#ifndef WEIR_SNAPSHOT_H
#define WEIR_SNAPSHOT_H

#include "weir/value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEIR_KEY_GROUPS  128u                   /* fixed: state moves between workers by group */
#define WEIR_SNAP_SHARED WEIR_KEY_GROUPS        /* section of the instance's own state */
#define WEIR_SNAP_OUTPUT (WEIR_KEY_GROUPS + 1u) /* sinks: bytes to publish on completion */

/* The key group of a key made of n values (0 for n == 0: an input keyed by nothing goes to
 * worker 0, which owns group 0 at any count). The keyed exchange routes rows by it
 * (engine/exchange.c), so it is the one definition of where a key lives; inline, as the
 * exchange calls it for every row. */
#define WEIR__KEY_SEED 0x51ed270b27a0f1c3ULL
static inline uint32_t weir_key_group(const weir_value *key, uint32_t n)
{
    if (n == 0) return 0;
    uint64_t h = WEIR__KEY_SEED;
    for (uint32_t i = 0; i < n; i++) h = weir_value_hash(&key[i], h);
    return (uint32_t)(h % WEIR_KEY_GROUPS);
}
/* Same, from the key fields of a row: key group of row[fields[0..n)]. */
static inline uint32_t weir_key_group_of_row(const weir_value *row, const int32_t *fields,
                                             uint32_t n)
{
    if (n == 0) return 0;
    uint64_t h = WEIR__KEY_SEED;
    for (uint32_t i = 0; i < n; i++) h = weir_value_hash(&row[fields[i]], h);
    return (uint32_t)(h % WEIR_KEY_GROUPS);
}
/* The worker (0 .. n_workers-1) that owns key group g. */
static inline uint32_t weir_key_group_owner(uint32_t g, uint32_t n_workers)
{
    return (uint32_t)((uint64_t)g * n_workers / WEIR_KEY_GROUPS);
}

/* The writer. Its fields belong to the engine (state/snapshot.c); they are here only so that the
 * puts below can be inlined: a snapshot of a million keys makes tens of millions of them. */
typedef struct weir__snap_section {
    uint32_t node, group;
    uint64_t offset, len;
} weir__snap_section;

typedef struct weir_snap_writer {
    uint8_t *data;
    size_t len, cap;
    weir__snap_section *sections;
    uint32_t n_sections, cap_sections;
    uint32_t node; /* node whose snapshot is being written */
    bool open;     /* the last section is still being written */
    bool failed;   /* out of memory: the checkpoint is skipped */
    bool mapped;   /* data is an mmap'ed region (large snapshots), not malloc'ed */
} weir_snap_writer;

/* Starts a section (a key group, WEIR_SNAP_SHARED or WEIR_SNAP_OUTPUT): what is put next belongs
 * to it. Sections of one group may be started several times; each is restored separately. */
int weir_snap_section(weir_snap_writer *w, uint32_t group);
/* The out-of-line part of every put (growing the buffer, opening a section, failure). */
int weir__snap_put_slow(weir_snap_writer *w, const void *p, size_t n);
static inline int weir_snap_put(weir_snap_writer *w, const void *p, size_t n)
{
    if (!w->open || w->cap - w->len < n) return weir__snap_put_slow(w, p, n);
    if (n) __builtin_memcpy(w->data + w->len, p, n); /* p may be NULL when n is 0 */
    w->len += n;
    return 0;
}
/* Integers little-endian (x86-64 and arm64, where weir runs, are): as they are in memory. */
static inline int weir_snap_u8(weir_snap_writer *w, uint8_t v)
{
    return weir_snap_put(w, &v, 1);
}
static inline int weir_snap_u32(weir_snap_writer *w, uint32_t v)
{
    return weir_snap_put(w, &v, 4);
}
static inline int weir_snap_u64(weir_snap_writer *w, uint64_t v)
{
    return weir_snap_put(w, &v, 8);
}
static inline int weir_snap_i64(weir_snap_writer *w, int64_t v)
{
    return weir_snap_put(w, &v, 8);
}
static inline int weir_snap_f64(weir_snap_writer *w, double v)
{
    return weir_snap_put(w, &v, 8);
}
/* length, then bytes */
static inline int weir_snap_str(weir_snap_writer *w, const char *s, uint32_t len)
{
    int rc = weir_snap_u32(w, len);
    return rc ? rc : weir_snap_put(w, s, len);
}
/* type, then its payload */
static inline int weir_snap_value(weir_snap_writer *w, const weir_value *v)
{
    int rc = weir_snap_u8(w, (uint8_t)v->type);
    if (rc) return rc;
    switch (v->type) {
    case WEIR_TYPE_NULL: return 0;
    case WEIR_TYPE_BOOL: return weir_snap_u8(w, v->as.b);
    case WEIR_TYPE_INT: return weir_snap_i64(w, v->as.i);
    case WEIR_TYPE_DOUBLE: return weir_snap_f64(w, v->as.d);
    default: return weir_snap_str(w, v->as.s, v->len);
    }
}
/* All of these return 0 or WEIR_ENOMEM (and the writer stays failed: later puts do nothing). */

typedef struct weir_snap_reader {
    const uint8_t *p, *end;
    bool bad;
} weir_snap_reader;

uint8_t weir_snap_get_u8(weir_snap_reader *r);
uint32_t weir_snap_get_u32(weir_snap_reader *r);
uint64_t weir_snap_get_u64(weir_snap_reader *r);
int64_t weir_snap_get_i64(weir_snap_reader *r);
double weir_snap_get_f64(weir_snap_reader *r);
/* Copies n bytes into p (zeros when short). */
void weir_snap_get(weir_snap_reader *r, void *p, size_t n);
/* A string: *len set, pointer into the buffer (NULL when bad). */
const char *weir_snap_get_str(weir_snap_reader *r, uint32_t *len);
/* A value; strings point into the buffer. */
weir_value weir_snap_get_value(weir_snap_reader *r);
/* True when every read so far was in bounds and well formed. */
static inline bool weir_snap_ok(const weir_snap_reader *r)
{
    return !r->bad;
}
/* True when the section was read exactly to its end without error. */
static inline bool weir_snap_done(const weir_snap_reader *r)
{
    return !r->bad && r->p == r->end;
}

#endif
