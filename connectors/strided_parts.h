/* connectors/strided_parts.h: the partitions of a synthetic source in which partition p of P
 * makes records p, p + P, p + 2P, ... (ReadFromGenerator, ReadFromNexmark): how they are dealt
 * to workers, and how they are checkpointed.
 *
 * A fresh run has P = the worker count (or the source's `partitions`, when fewer) and gives
 * worker w < P partition w. A restore keeps the checkpoint's P whatever the worker count:
 * worker w of n takes the old partitions p with p mod n = w, so the records and their order
 * within each partition are those of the run that took the checkpoint.
 *
 * The checkpoint is the source's shared section: u32 version, i64 P, u32 partitions of this
 * instance, then per partition i64 p, i64 next record, i64 largest event time emitted. A record
 * is a pure function of its number and the options, so that is all a source needs. */
#ifndef WEIR_CONNECTORS_STRIDED_PARTS_H
#define WEIR_CONNECTORS_STRIDED_PARTS_H
#include "weir/graph.h"
#include "weir/snapshot.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct strided_part {
    int64_t p, next; /* next record (>= count: ended) */
    int64_t max_ts;  /* largest event time emitted (WEIR_TIME_MIN: none yet) */
} strided_part;

typedef struct strided_parts {
    const char *source; /* the source's name, in messages */
    const char *what;   /* what a damaged checkpoint may have been taken with, in messages */
    int64_t count;      /* records of the run */
    uint32_t version;   /* of the source's checkpoint format */
    int64_t n_total;    /* P, the partitions of the whole run (kept from the checkpoint) */
    strided_part *v;    /* this instance's */
    uint32_t n, cap;
    bool restoring; /* a restore replaced the partitions dealt at open */
    bool checked;   /* the first pull checked what the restore gave */
} strided_parts;

/* Deals this worker's partition of a fresh run (`partitions` 0: one per worker). 0 or
 * WEIR_ENOMEM. */
int strided_parts_open(strided_parts *s, weir_operator *op, const char *source, const char *what,
                       int64_t count, int64_t partitions, uint32_t version);
void strided_parts_finish(strided_parts *s);
/* Before the first pull: after a restore, the partitions taken must be exactly this worker's
 * (0, or the operator's failure). */
int strided_parts_check(strided_parts *s, weir_operator *op);
/* The shared section (0, or the operator's failure). */
int strided_parts_snapshot(const strided_parts *s, weir_operator *op, weir_snap_writer *w);
/* Reads one old instance's shared section and takes this worker's partitions from it (0, or
 * the operator's failure). */
int strided_parts_restore(strided_parts *s, weir_operator *op, weir_snap_reader *r);

#endif
