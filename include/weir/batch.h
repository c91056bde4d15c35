/* weir/batch.h: schemas, rows and batches, the units that travel between operators.
 *
 * A batch holds up to `capacity` rows of one schema in row-major order: row r's values are
 * values[r * n_fields .. +n_fields). Each row has an event time (ts) and the watermark of its
 * input as it stood just BEFORE that row (wm): operators that care about time (windows) advance
 * to wm[r] before handling row r, which makes results independent of how rows were batched.
 * `wm_after` is the watermark after the last row (or the only content of an empty batch, which
 * is how a pure watermark travels). WEIR_BATCH_END marks the end of the channel's input.
 *
 * Watermark marks: an operator that drops rows (a filter, the exchange sending a row to another
 * worker) keeps each dropped row's watermark as a mark, "just before row i the watermark rose to
 * W". Operators that care about time advance through marks as through rows' watermarks, so they
 * observe every watermark value of their input, as an engine that updates the watermark after
 * every record would (windowing.md §2); stateless operators pass marks on. weir_batch_mark adds
 * one, ignoring values that do not raise the batch's watermark.
 *
 * A row may also carry its original JSON object text (raw) so that fields no transform reads are
 * written back unchanged. Strings in a batch point into its arena or into memory that outlives
 * the batch. Ownership: a batch passed to an operator is borrowed for the duration of the call;
 * an operator that keeps rows copies what it keeps. */
#ifndef WEIR_BATCH_H
#define WEIR_BATCH_H

#include "weir/arena.h"
#include "weir/value.h"

#include <stdint.h>

#define WEIR_TIME_MIN               INT64_MIN /* watermark before the first record: -infinity */
#define WEIR_TIME_MAX               INT64_MAX /* watermark at the end of a bounded input: +infinity */
#define WEIR_BATCH_DEFAULT_CAPACITY 1024

/* Field list of a stream. Created once when the graph is built; immutable afterwards and shared
 * by every batch of that stream (any thread may read it). */
typedef struct weir_schema {
    uint32_t n_fields;
    char **names;     /* owned, NUL-terminated */
    weir_type *types; /* declared type of each field, or WEIR_TYPE_ANY: a promise (a field
                         declared INT holds an INT or null; the exchange copies only the strings
                         of fields that may hold one) */
    bool has_raw;     /* rows carry their original JSON object (pass-through of unread fields) */
    uint32_t n_raw;   /* with has_raw: fields [0, n_raw) were read from the raw object (a writer
                         writes the raw object, then the fields after n_raw) */
    uint32_t refs;    /* reference count (graph-building thread only) */
} weir_schema;

/* A schema with n fields named names[i] (copied) of types[i] (NULL: all ANY). NULL on no
 * memory. Destroy with weir_schema_unref. */
weir_schema *weir_schema_create(uint32_t n, const char *const *names, const weir_type *types);
weir_schema *weir_schema_ref(weir_schema *s);
void weir_schema_unref(weir_schema *s);
/* Index of the field called name, or -1. */
int weir_schema_find(const weir_schema *s, const char *name);

typedef struct weir_raw {
    const char *text; /* the record's original JSON object, or NULL */
    uint32_t len;
    bool compact; /* known to be what weir_json_write_object makes of it with no fields (no
                   * whitespace around it or between members): a JSON writer copies it as it is */
} weir_raw;

/* Batch flags. END: the input of this channel is over. IDLE: every partition behind this channel
 * has had no record for its idle_timeout (processing time), so a consumer with several input
 * channels leaves this one out of its minimum watermark until a batch without IDLE arrives
 * (windowing.md §2). When every channel is idle the watermark stays where it is. */
/* BARRIER (engine-internal, exchange channels only): checkpoint barrier, no rows; what follows
 * on the channel belongs after the checkpoint. */
enum { WEIR_BATCH_END = 1, WEIR_BATCH_IDLE = 2, WEIR_BATCH_BARRIER = 4 };

typedef struct weir_batch {
    const weir_schema *schema;
    uint32_t n_rows, capacity;
    uint32_t flags;
    int64_t wm_after;   /* watermark after the last row */
    int64_t *ts;        /* [capacity] event time of each row */
    int64_t *wm;        /* [capacity] watermark before each row */
    weir_value *values; /* [capacity * schema->n_fields] */
    weir_raw *raw;      /* [capacity] when schema->has_raw, else NULL */
    uint32_t n_marks, cap_marks;
    uint32_t *mark_at;  /* marks: just before row mark_at[i] (n_rows: after the last row) ... */
    int64_t *mark_wm;   /* ... the watermark rose to mark_wm[i]; positions never decrease */
    int64_t last_wm;    /* highest watermark of the rows and marks appended (for dedupe) */
    const char *origin; /* input the rows came from (file path, topic/partition), or NULL */
    int64_t *pos;       /* [capacity] line number (or offset) of each row in origin, 0 unknown;
                           read it with weir_batch_pos */
    int64_t pos_step;   /* not 0: row r's position is pos_base + r * pos_step, pos[] is not
                           written (a generator's rows: one multiply instead of a store each) */
    int64_t pos_base;
    weir_arena arena; /* strings and other memory of the rows */
} weir_batch;

/* A batch for up to capacity rows of schema (not owned: it must outlive the batch).
 * NULL on no memory. */
weir_batch *weir_batch_create(const weir_schema *schema, uint32_t capacity);
void weir_batch_destroy(weir_batch *b);
/* Empties the batch for reuse (keeps its memory). */
void weir_batch_clear(weir_batch *b);
/* Whether a JSON writer may copy raw as the whole row: every field of schema sc came from raw
 * unchanged and raw is compact (weir_raw.compact). */
static inline bool weir_raw_is_row(const weir_schema *sc, const weir_raw *raw)
{
    return raw && raw->text && raw->compact && (sc->has_raw ? sc->n_raw : 0) == sc->n_fields;
}
static inline bool weir_batch_full(const weir_batch *b)
{
    return b->n_rows == b->capacity;
}
/* Appends a row with every value null and returns its values, or NULL when the batch is full. */
weir_value *weir_batch_append(weir_batch *b, int64_t ts, int64_t wm);
/* Records that the watermark rose to wm before the row that will be appended next. 0, or
 * WEIR_ENOMEM. A wm not above the batch's last watermark is ignored. */
int weir_batch_mark(weir_batch *b, int64_t wm);
/* Copies the marks of `in` that lie before input row r (all of them when r == in->n_rows) into
 * out, at out's current end; *next is the index of the first mark not yet copied. */
int weir_batch_copy_marks(weir_batch *out, const weir_batch *in, uint32_t r, uint32_t *next);
static inline weir_value *weir_batch_row(const weir_batch *b, uint32_t r)
{
    return b->values + (size_t)r * b->schema->n_fields;
}
/* Row r's position in its origin (line number or offset), 0 when unknown. */
static inline int64_t weir_batch_pos(const weir_batch *b, uint32_t r)
{
    return b->pos_step ? b->pos_base + (int64_t)r * b->pos_step : b->pos[r];
}

#endif
