/* operators/combine_lift.c: the Combine's lifted combiner, which pre-aggregates each worker's
 * rows before the keyed exchange (Beam's combiner lifting, Spark's map-side combine), so that
 * only partial aggregates cross between workers.
 *
 * Why. With several workers, every row of a Combine's input would otherwise travel to the
 * worker that owns its key: a copy into a batch, a ring, a wake-up, about as much work per row
 * as the whole aggregation (benchmarks/RESULTS.md). A worker that first sums its own rows per key
 * and slice sends one row per key and slice instead of hundreds.
 *
 * What. The engine runs an instance in every worker between the Combine's producer and its
 * exchange when several workers run (weir/graph.h, weir_lift_spec); the Combine then merges
 * partial rows instead of adding records (combine.c, "lifted"). A partial row holds the key's
 * values, the aggregate block as integers (its bytes: count, sum, mean and stddev states hold
 * no pointers, which is why only they are lifted) and its number of records. Its event time is
 * the last instant of its slice: a fixed window, or for sliding windows a slice of width
 * gcd(size, period), so all its records lie in exactly the windows of that instant.
 *
 * Time. The instance holds a slice until its input watermark reaches the slice's end, then
 * emits the slice's partial rows with the watermark as it stood before (they are on time at the
 * Combine, whose watermark is at most this one) and only then the new watermark. A record whose
 * slice has ended already (late at this worker) is sent on at once as a partial of its own,
 * with the watermark it came with: the Combine then decides its lateness exactly as it would
 * for the record itself, and counts it. Before a checkpoint barrier (flush) and at the end of
 * the input everything held is emitted, so the instance has no state to checkpoint; and so it
 * is when the input goes idle (idle_timeout), since the watermark of an idle channel no longer
 * holds the Combine's back, and what this instance held would otherwise arrive late.
 *
 * Which Combines are lifted (weir__combine_liftable): fixed and sliding windows with the
 * default trigger, aggregates count, sum, mean and stddev, no late output and no change-log
 * input. Other triggers count or time the records of a window, which partial rows would
 * change; sessions merge windows by the records' own times. Float sums (and means, stddevs)
 * are then combined from partial sums, so they may differ from a sum in arrival order in the
 * last bits, as in every engine that combines partial aggregates. */
#include "combine.h"
#include "hot_run.h"
#include "weir/error.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One open slice: its keys' entries in first-seen order, and a hash table over them. An entry
 * is the key's hash, its number of records, its key values and the aggregate block. */
typedef struct lslice {
    int64_t start, end;
    uint32_t *table; /* entry index + 1, or 0 */
    uint32_t mask;   /* table size - 1 */
    uint32_t n, cap; /* entries, and room for them */
    char *entries;
    weir_arena strings; /* the keys' strings */
} lslice;

typedef struct lift {
    const combine_config *cfg;
    weir_operator *op;
    int64_t width, offset; /* slices */
    uint32_t ng, words;    /* key fields; 8-byte words of the aggregate block */
    size_t esize;          /* bytes of an entry */
    bool key_strings;      /* some key field may hold a string */
    lslice **open;         /* sorted by start */
    uint32_t n_open, cap_open;
    lslice **spare; /* emptied slices, for reuse */
    uint32_t n_spare, cap_spare;
    lslice *last;      /* the slice of the last record */
    int64_t wm;        /* input watermark */
    int64_t lateness;  /* the Combine's allowed lateness */
    bool sparse_marks; /* nothing after the Combine reads the watermark (see advance) */
    int64_t given_wm;  /* highest watermark put in the output (a mark, a row's, wm_after) */
    weir_batch *out;
    int64_t sent_wm;   /* watermark of the last batch emitted */
    int64_t last_emit; /* processing time of that (ms) */
    void *block;       /* scratch block for a record sent on at once */
    int status;
    /* an IDLE batch went out, and no batch since that raised the watermark above idle_wm: the
     * receivers still leave this channel out of their minimum, so nothing may be held back */
    bool idle_out;
    int64_t idle_wm;
    /* one-integer keys: key -> its entry in hot_slice (hot_slots.h), valid while that slice is
     * open and its entries stay where they are (closing it or moving them sets it NULL) */
    hot_slots hot;
    const lslice *hot_slice;
} lift;

enum { E_HASH = 0, E_RECORDS = 1, E_KEY = 2 }; /* 8-byte words of an entry, then ng values */

static inline char *entry_at(const lift *l, const lslice *s, uint32_t i)
{
    return s->entries + (size_t)i * l->esize;
}
static inline weir_value *entry_key(char *e)
{
    return (weir_value *)(e + E_KEY * 8);
}
static inline void *entry_block(const lift *l, char *e)
{
    return e + E_KEY * 8 + l->ng * sizeof(weir_value);
}

bool weir__combine_liftable(const combine_config *cfg)
{
    const weir_windowing *wd = &cfg->windowing;
    if (wd->window.type != WEIR_WINDOW_FIXED && wd->window.type != WEIR_WINDOW_SLIDING)
        return false;
    if (wd->trigger && wd->trigger->type != WEIR_TRIGGER_DEFAULT) return false;
    if (cfg->late_output || cfg->op_field >= 0) return false;
    for (uint32_t i = 0; i < cfg->aggs.n; i++)
        if (cfg->aggs.defs[i].kind == AGG_MIN || cfg->aggs.defs[i].kind == AGG_MAX) return false;
    return true;
}

weir_schema *weir__combine_lift_schema(const combine_config *cfg)
{
    const weir_schema *is = cfg->in_schema;
    uint32_t ng = cfg->n_group, words = cfg->aggs.state_size / 8, nf = ng + words + 1;
    const char **names = calloc(nf, sizeof *names);
    weir_type *types = calloc(nf, sizeof *types);
    char(*num)[24] = calloc(words + 1, sizeof *num);
    weir_schema *s = NULL;
    if (names && types && num) {
        for (uint32_t i = 0; i < ng; i++) {
            names[i] = is->names[cfg->group[i]];
            types[i] = is->types ? is->types[cfg->group[i]] : WEIR_TYPE_ANY;
        }
        for (uint32_t i = 0; i < words; i++) {
            snprintf(num[i], sizeof num[i], "__partial_%u", i);
            names[ng + i] = num[i];
            types[ng + i] = WEIR_TYPE_INT;
        }
        names[ng + words] = "__records";
        types[ng + words] = WEIR_TYPE_INT;
        s = weir_schema_create(nf, names, types);
    }
    free(names);
    free(types);
    free(num);
    return s;
}

static int fail_nomem(lift *l)
{
    if (!l->status)
        l->status = weir_operator_fail(l->op, WEIR_ENOMEM, "%s: out of memory", l->op->name);
    return l->status;
}

static void slice_free(lslice *s)
{
    if (!s) return;
    free(s->table);
    free(s->entries);
    weir_arena_finish(&s->strings);
    free(s);
}

/* ---- output ---- */

static int emit_out(lift *l)
{
    if (l->out->flags & WEIR_BATCH_IDLE) {
        l->idle_out = true;
        l->idle_wm = l->out->wm_after;
    } else if (l->out->wm_after > l->idle_wm) {
        l->idle_out = false; /* every receiver takes the channel back into its minimum */
    }
    l->sent_wm = l->out->wm_after;
    if (l->out->wm_after > l->given_wm) l->given_wm = l->out->wm_after;
    l->last_emit = weir_operator_now(l->op);
    int rc = weir_operator_emit(l->op, l->out);
    weir_batch_clear(l->out);
    if (rc && !l->status) l->status = rc;
    return rc;
}

/* Appends a partial row at time ts with row watermark wm: the key (values cols[i] of src, or
 * with cols NULL its first values), the block and the number of records. */
static int append_partial(lift *l, int64_t ts, int64_t wm, const weir_value *src,
                          const int32_t *cols, const void *block, int64_t records)
{
    if (weir_batch_full(l->out)) {
        l->out->wm_after = wm;
        if (emit_out(l)) return l->status;
    }
    weir_value *v = weir_batch_append(l->out, ts, wm);
    if (!v) return fail_nomem(l);
    if (wm > l->given_wm) l->given_wm = wm;
    for (uint32_t i = 0; i < l->ng; i++) {
        v[i] = src[cols ? cols[i] : (int32_t)i];
        if (v[i].type >= WEIR_TYPE_STRING && v[i].type <= WEIR_TYPE_JSON) {
            char *p = weir_arena_strdup(&l->out->arena, v[i].as.s, v[i].len);
            if (!p) return fail_nomem(l);
            v[i].as.s = p;
        }
    }
    const int64_t *w = block;
    for (uint32_t i = 0; i < l->words; i++)
        v[l->ng + i] = (weir_value){.type = WEIR_TYPE_INT, .as.i = w[i]};
    v[l->ng + l->words] = (weir_value){.type = WEIR_TYPE_INT, .as.i = records};
    return 0;
}

/* Emits the first slice's partial rows (watermark wm) and moves it to the spares. */
static int close_first(lift *l, int64_t wm)
{
    lslice *s = l->open[0];
    int64_t ts = s->end > s->start ? s->end - 1 : s->start; /* (a slice at the end of time) */
    for (uint32_t i = 0; i < s->n && !l->status; i++) {
        char *e = entry_at(l, s, i);
        if (append_partial(l, ts, wm, entry_key(e), NULL, entry_block(l, e),
                           ((int64_t *)e)[E_RECORDS]))
            break;
        agg_finish(&l->cfg->aggs, entry_block(l, e));
    }
    memmove(l->open, l->open + 1, (l->n_open - 1) * sizeof *l->open);
    l->n_open--;
    if (l->last == s) l->last = NULL;
    if (l->hot_slice == s) l->hot_slice = NULL; /* (its memory is reused by the next slice) */
    memset(s->table, 0, ((size_t)s->mask + 1) * sizeof *s->table);
    s->n = 0;
    weir_arena_reset(&s->strings);
    if (l->n_spare == l->cap_spare) {
        uint32_t cap = l->cap_spare ? 2 * l->cap_spare : 4;
        lslice **sp = realloc(l->spare, cap * sizeof *sp);
        if (!sp) {
            slice_free(s);
            return fail_nomem(l);
        }
        l->spare = sp;
        l->cap_spare = cap;
    }
    l->spare[l->n_spare++] = s;
    return l->status;
}

/* Whether the Combine's watermark rising from a to b passes a moment its windows act at: a
 * window's end (it fires its on-time pane, whose pane_last depends on the watermark then) or
 * its end plus the allowed lateness (it is collected: with the default trigger, whose late
 * panes fire at once, nothing shows of that, but the test is cheap and keeps the Combine's
 * steps those of every value). Every window end is a slice boundary, so the test is whether a
 * and b lie in different slices, or do after the lateness is taken off both. */
static bool passes_deadline(const lift *l, int64_t a, int64_t b)
{
    if (a == WEIR_TIME_MIN || b == WEIR_TIME_MAX) return true;
    if (weir_fixed_start(a, l->width, l->offset) != weir_fixed_start(b, l->width, l->offset))
        return true;
    if (!l->lateness) return false;
    int64_t la = a < WEIR_TIME_MIN + l->lateness ? WEIR_TIME_MIN : a - l->lateness;
    int64_t lb = b < WEIR_TIME_MIN + l->lateness ? WEIR_TIME_MIN : b - l->lateness;
    return la == WEIR_TIME_MIN ||
           weir_fixed_start(la, l->width, l->offset) != weir_fixed_start(lb, l->width, l->offset);
}

/* The watermark rises to wm: the slices it ends go out first, then the watermark, as a mark
 * (mark) or as the batch's wm_after (at the end of an input batch: so that the END batch of a
 * worker without input stays empty, which tells its receivers it never held the watermark
 * back, engine/exchange.c).
 *
 * When nothing after the Combine reads the watermark (every operator downstream is
 * watermark_blind: maps, filters, sinks), a mark goes out only when the rise from what the
 * output has given the Combine so far passes a moment its windows act at (passes_deadline).
 * Between two such moments a rise changes nothing there: advancing to w1 and then to w2 with no
 * row between leaves the same state and output as advancing to w2 alone, unless some window
 * fires or is collected in each step. So the Combine reaches the same results as if it saw
 * every value, and a mark per millisecond of event time (per input row, with the generator)
 * costs nothing downstream. The Combine passes on the watermark it sees, though, and an
 * operator after it with windows of its own (a second Combine, a Join) would see only these
 * values: its on-time pane's pane_last depends on where the watermark stands when it fires,
 * and its windows need not line up with this one's (tests/test_workers.c,
 * two_stages_out_of_line). Then every value is marked, as before. The rows carry their own
 * watermarks, and the batch its wm_after, either way. */
static int advance(lift *l, int64_t wm, bool mark)
{
    if (wm <= l->wm) return 0;
    while (l->n_open && l->open[0]->end <= wm && !l->status) close_first(l, l->wm);
    l->wm = wm;
    if (mark && !l->status && (!l->sparse_marks || passes_deadline(l, l->given_wm, wm))) {
        if (weir_batch_mark(l->out, wm)) return fail_nomem(l);
        l->given_wm = wm;
    }
    return l->status;
}

/* ---- slices and keys ---- */

static lslice *slice_open(lift *l, int64_t start)
{
    uint32_t pos = l->n_open;
    while (pos > 0 && l->open[pos - 1]->start > start) pos--;
    if (pos > 0 && l->open[pos - 1]->start == start) return l->open[pos - 1];
    if (l->n_open == l->cap_open) {
        uint32_t cap = l->cap_open ? 2 * l->cap_open : 4;
        lslice **o = realloc(l->open, cap * sizeof *o);
        if (!o) return NULL;
        l->open = o;
        l->cap_open = cap;
    }
    lslice *s = l->n_spare ? l->spare[--l->n_spare] : calloc(1, sizeof *s);
    if (!s) return NULL;
    if (!s->table) {
        s->mask = 15;
        s->table = calloc(16, sizeof *s->table);
        weir_arena_init(&s->strings, 0);
        if (!s->table) {
            free(s);
            return NULL;
        }
    }
    s->start = start;
    s->end = start > INT64_MAX - l->width ? INT64_MAX : start + l->width;
    memmove(l->open + pos + 1, l->open + pos, (l->n_open - pos) * sizeof *l->open);
    l->open[pos] = s;
    l->n_open++;
    return s;
}

static bool grow_table(lslice *s, const lift *l)
{
    uint32_t size = 2 * (s->mask + 1), mask = size - 1;
    uint32_t *t = calloc(size, sizeof *t);
    if (!t) return false;
    for (uint32_t i = 0; i < s->n; i++) {
        uint64_t h = (uint64_t)((int64_t *)entry_at(l, s, i))[E_HASH];
        uint32_t j = (uint32_t)(h >> 32) & mask;
        while (t[j]) j = (j + 1) & mask;
        t[j] = i + 1;
    }
    free(s->table);
    s->table = t;
    s->mask = mask;
    return true;
}

static inline bool key_matches(const lift *l, char *e, const weir_value *row)
{
    const weir_value *k = entry_key(e);
    for (uint32_t i = 0; i < l->ng; i++) {
        const weir_value *v = &row[l->cfg->group[i]];
        if (k[i].type == WEIR_TYPE_INT ? v->type != WEIR_TYPE_INT || k[i].as.i != v->as.i
                                       : !weir_value_equal(&k[i], v))
            return false;
    }
    return true;
}

/* The entry of row's key in s, created if new; NULL on no memory. */
static char *entry_of(lift *l, lslice *s, const weir_value *row)
{
    uint64_t h = WEIR__KEY_SEED;
    for (uint32_t i = 0; i < l->ng; i++) h = weir_value_hash(&row[l->cfg->group[i]], h);
    uint32_t j = (uint32_t)(h >> 32) & s->mask;
    for (uint32_t idx; (idx = s->table[j]); j = (j + 1) & s->mask) {
        char *e = entry_at(l, s, idx - 1);
        if ((uint64_t)((int64_t *)e)[E_HASH] == h && key_matches(l, e, row)) return e;
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? 2 * s->cap : 64;
        if (l->hot_slice == s) l->hot_slice = NULL; /* its entries may move */
        char *ne = realloc(s->entries, (size_t)cap * l->esize);
        if (!ne) return NULL;
        s->entries = ne;
        s->cap = cap;
    }
    /* at most a quarter full while small (short probes, and it stays in cache), else half */
    if ((s->mask < (1u << 16) ? 4 : 2) * (uint64_t)(s->n + 1) > (uint64_t)s->mask + 1) {
        if (!grow_table(s, l)) return NULL;
        j = (uint32_t)(h >> 32) & s->mask;
        while (s->table[j]) j = (j + 1) & s->mask;
    }
    char *e = entry_at(l, s, s->n);
    ((int64_t *)e)[E_HASH] = (int64_t)h;
    ((int64_t *)e)[E_RECORDS] = 0;
    weir_value *k = entry_key(e);
    for (uint32_t i = 0; i < l->ng; i++) {
        k[i] = row[l->cfg->group[i]];
        if (k[i].type >= WEIR_TYPE_STRING && k[i].type <= WEIR_TYPE_JSON) {
            char *p = weir_arena_strdup(&s->strings, k[i].as.s, k[i].len);
            if (!p) return NULL;
            k[i].as.s = p;
        }
    }
    agg_init(&l->cfg->aggs, entry_block(l, e));
    s->table[j] = ++s->n;
    return e;
}

/* ---- the operator ---- */

/* A record of time t whose slice has ended at this worker: sent on at once, alone. */
static int send_on(lift *l, const weir_value *row, int64_t t, int64_t wm)
{
    agg_init(&l->cfg->aggs, l->block);
    if (agg_add(&l->cfg->aggs, l->block, row, 1)) return fail_nomem(l);
    return append_partial(l, t, wm, row, l->cfg->group, l->block, 1);
}

/* The slice of a record of time t: the last record's, or found or opened; NULL when the slice
 * has gone out already (the record was sent on alone) or on failure (l->status). */
static lslice *slice_of(lift *l, const weir_value *row, int64_t t)
{
    int64_t start = weir_fixed_start(t, l->width, l->offset);
    int64_t end = start > INT64_MAX - l->width ? INT64_MAX : start + l->width;
    if (end <= l->wm) { /* its slice has gone out: late here */
        send_on(l, row, t, l->wm);
        return NULL;
    }
    lslice *s = slice_open(l, start);
    if (!s) fail_nomem(l);
    return l->last = s;
}

/* Caches key -> e, an entry of slice s: a new generation first when the cache was of another
 * slice, or of s before its entries moved (entry_of) or it closed (close_first). */
static inline void lift_hot_put(lift *l, const lslice *s, int64_t key, char *e)
{
    if (l->hot_slice != s) {
        hot_slots_bump(&l->hot);
        l->hot_slice = s;
    }
    hot_slots_put(&l->hot, key, e);
}

/* What lift_hot_right needs of the run it checks. */
typedef struct lift_hot_ctx {
    const lift *l;
    const lslice *s;
} lift_hot_ctx;

#ifndef NDEBUG
/* Whether e is the entry of key kv in the run's slice (checked at every hit, hot_run.h). */
static bool lift_hot_right(const void *ctx, const weir_value *kv, const int64_t *e)
{
    const lift_hot_ctx *x = ctx;
    const char *first = x->s->entries, *end = first + (size_t)x->s->n * x->l->esize;
    return e[E_HASH] == (int64_t)weir_value_hash(kv, WEIR__KEY_SEED) && (const char *)e >= first &&
           (const char *)e < end;
}
#define LIFT_HOT_CHECK lift_hot_right
#else
#define LIFT_HOT_CHECK NULL
#endif

/* The commonest case alone (hot_run.h): rows [r, end) of b as long as each has an integer key
 * cached for slice s (which must be the cache's), its time in s, the watermark not rising
 * before it. An entry: hash, records, the key's value, the block. One function per plan of
 * agg_shape_known: */
#define LIFT_HOT(suffix, np, shape)                                                                \
    static __attribute__((noinline))                                                               \
    uint32_t lift_hot_##suffix(lift *l, const weir_batch *b, uint32_t r, uint32_t end,             \
                               const lslice *s, const agg_step *plan)                              \
    {                                                                                              \
        lift_hot_ctx x = {l, s};                                                                   \
        return hot_run_rows(b, r, end, l->cfg->group[0], l->wm, s->start,                          \
                            (uint64_t)s->end - (uint64_t)s->start, &l->hot, plan, np, shape,       \
                            (E_KEY * 8 + sizeof(weir_value)) / 8, E_RECORDS, LIFT_HOT_CHECK, &x);  \
    }
HOT_RUN_PLANS(LIFT_HOT)
#undef LIFT_HOT

/* The run for the plan np, shape (constants where inlined); none for other plans. */
static inline __attribute__((always_inline)) uint32_t
lift_hot(lift *l, const weir_batch *b, uint32_t r, uint32_t end, const lslice *s,
         const agg_step *plan, const uint32_t np, const uint32_t shape)
{
    HOT_RUN_PICK(np, shape, lift_hot, l, b, r, end, s, plan);
    return r;
}

/* Rows [r, end) of b (no mark among them), for a plan of np steps (0: agg_add) of the given
 * shape, both constants where it is instantiated (lift_rows_planned), as in combine.c's fast
 * paths; int1: a key of one field. A one-integer key is found by its hash alone (the hash of an
 * integer is a bijection of it: weir/value.h); any other key through entry_of. Returns the row it
 * stopped at. */
static inline __attribute__((always_inline)) uint32_t lift_rows(lift *l, const weir_batch *b,
                                                                uint32_t r, uint32_t end,
                                                                const bool int1, const uint32_t np,
                                                                const uint32_t shape)
{
    const agg_set *aggs = &l->cfg->aggs;
    agg_step plan[AGG_PLAN_MAX];
    memcpy(plan, aggs->plan, sizeof plan);
    const uint32_t nf = b->schema->n_fields;
    const int32_t g = int1 ? l->cfg->group[0] : 0;
    const size_t esize = l->esize, boff = E_KEY * 8 + l->ng * sizeof(weir_value);
    /* the hot slots, for one-integer keys while the slice has few */
    const bool hot = int1 && agg_shape_known(np, shape);
    lslice *s = l->last;
    for (; r < end; r++) {
        if (b->wm[r] > l->wm) {
            if (advance(l, b->wm[r], true)) break;
            s = l->last;
        }
        const weir_value *row = b->values + (size_t)r * nf;
        int64_t t = b->ts[r];
        if (!s || t < s->start || t >= s->end) {
            if (!(s = slice_of(l, row, t))) {
                if (l->status) break;
                continue; /* sent on alone */
            }
        }
        if (hot && s == l->hot_slice && l->hot.s) {
            uint32_t next = lift_hot(l, b, r, end, s, plan, np, shape);
            if (next != r) { /* row next is not the run's: its watermark and slice first */
                r = next - 1;
                continue;
            }
        }
        char *e = NULL;
        if (int1 && row[g].type == WEIR_TYPE_INT) {
            uint64_t h = weir_value_hash(&row[g], WEIR__KEY_SEED);
            for (uint32_t j = (uint32_t)(h >> 32) & s->mask, idx; (idx = s->table[j]);
                 j = (j + 1) & s->mask) {
                char *x = s->entries + (size_t)(idx - 1) * esize;
                if ((uint64_t)((int64_t *)x)[E_HASH] == h && entry_key(x)->type == WEIR_TYPE_INT) {
                    e = x;
                    break;
                }
            }
        }
        if (!e && !(e = entry_of(l, s, row))) {
            fail_nomem(l);
            break;
        }
        if (np ? agg_add_planned(aggs, plan, np, shape, e + boff, row)
               : agg_add(aggs, e + boff, row, 1)) {
            fail_nomem(l);
            break;
        }
        ((int64_t *)e)[E_RECORDS]++;
        if (hot && row[g].type == WEIR_TYPE_INT && s->n <= HOT_MAX_KEYS)
            lift_hot_put(l, s, row[g].as.i, e);
    }
    return r;
}

#define LIFT_ROWS(np, shape) lift_rows(l, b, r, end, true, np, shape)
static uint32_t lift_rows_planned(lift *l, const weir_batch *b, uint32_t r, uint32_t end)
{
    uint32_t np = l->cfg->aggs.n_plan, shape = agg_plan_shape(&l->cfg->aggs);
    if (l->ng != 1) return lift_rows(l, b, r, end, false, 0, 0); /* keys of several fields */
    switch (np * 16 + shape) {
    case 16 + AGG_STEP_COUNT: return LIFT_ROWS(1, AGG_STEP_COUNT);
    case 16 + AGG_STEP_SUM: return LIFT_ROWS(1, AGG_STEP_SUM);
    case 32 + (AGG_STEP_COUNT | AGG_STEP_SUM << 2):
        return LIFT_ROWS(2, AGG_STEP_COUNT | AGG_STEP_SUM << 2);
    case 32 + (AGG_STEP_SUM | AGG_STEP_COUNT << 2):
        return LIFT_ROWS(2, AGG_STEP_SUM | AGG_STEP_COUNT << 2);
    }
    switch (np) {
    case 1: return LIFT_ROWS(1, 0);
    case 2: return LIFT_ROWS(2, 0);
    case 3: return LIFT_ROWS(3, 0);
    default: return LIFT_ROWS(0, 0);
    }
}
#undef LIFT_ROWS

static int lift_flush(weir_operator *op);

/* Watermark progress alone (no rows) goes on at most every WM_EVERY_MS of processing time, or
 * once WM_MARKS marks wait: sent after every input batch, it cost the receiving worker a
 * wake-up per batch, which was most of what 2 workers spent beyond 1 (benchmarks/RESULTS.md).
 * Meanwhile the watermark stays in the batch as a mark, so the Combine still sees every value,
 * in order with the rows; only later in processing time (at most a millisecond). Rows, END and
 * IDLE go at once. */
enum { WM_EVERY_MS = 1, WM_MARKS = 4096 };

static int progress(lift *l)
{
    if (l->wm <= l->sent_wm) return 0;
    int64_t now = weir_operator_now(l->op);
    if (now - l->last_emit >= WM_EVERY_MS || now < l->last_emit || l->out->n_marks >= WM_MARKS)
        return emit_out(l); /* (a clock that stepped back: at once) */
    if (!l->sparse_marks || passes_deadline(l, l->given_wm, l->wm)) { /* kept as a mark */
        if (weir_batch_mark(l->out, l->wm)) return fail_nomem(l);
        l->given_wm = l->wm;
    }
    weir_operator_wake_at(l->op, l->last_emit + WM_EVERY_MS);
    return 0;
}

static int lift_on_time(weir_operator *op, int64_t now)
{
    (void)now;
    lift *l = op->state;
    if (l->wm <= l->sent_wm) return 0;
    l->out->wm_after = l->wm;
    l->out->flags = 0;
    return emit_out(l);
}

static int lift_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    lift *l = op->state;
    uint32_t m = 0;
    for (uint32_t r = 0; r < b->n_rows && !l->status;) {
        for (; m < b->n_marks && b->mark_at[m] <= r; m++) advance(l, b->mark_wm[m], true);
        uint32_t end = m < b->n_marks && b->mark_at[m] < b->n_rows ? b->mark_at[m] : b->n_rows;
        if (lift_rows_planned(l, b, r, end) < end) break;
        r = end;
    }
    for (; m < b->n_marks && !l->status; m++) advance(l, b->mark_wm[m], m + 1 < b->n_marks);
    if (!l->status) advance(l, b->wm_after, false);
    if (l->status) return l->status;
    l->out->wm_after = l->wm;
    bool idle = b->flags & WEIR_BATCH_IDLE, end = b->flags & WEIR_BATCH_END;
    if ((idle || l->idle_out || end) && (l->n_open || l->out->n_rows)) {
        /* Its input went idle (or is idle downstream still): the watermark stays here while the
         * Combine's may go on with the other channels, so what is held goes out now, in a
         * batch of its own (a receiver leaves an IDLE batch's channel out of its minimum before
         * reading the batch's rows). At END, everything held goes out whatever the watermark. */
        if (lift_flush(op)) return l->status;
        l->out->wm_after = l->wm;
    }
    l->out->flags = b->flags & (WEIR_BATCH_END | WEIR_BATCH_IDLE);
    if (l->out->n_rows || l->out->flags || (l->idle_out && l->wm > l->sent_wm)) return emit_out(l);
    return progress(l);
}

/* Before a checkpoint barrier: every open slice goes out now. */
static int lift_flush(weir_operator *op)
{
    lift *l = op->state;
    while (l->n_open && !l->status) close_first(l, l->wm);
    if (l->status) return l->status;
    if (!l->out->n_rows && !l->out->n_marks) return 0;
    l->out->wm_after = l->wm;
    return emit_out(l);
}

static void lift_close(weir_operator *op)
{
    lift *l = op->state;
    if (!l) return;
    for (uint32_t i = 0; i < l->n_open; i++) {
        for (uint32_t j = 0; j < l->open[i]->n; j++)
            agg_finish(&l->cfg->aggs, entry_block(l, entry_at(l, l->open[i], j)));
        slice_free(l->open[i]);
    }
    for (uint32_t i = 0; i < l->n_spare; i++) slice_free(l->spare[i]);
    free(l->open);
    free(l->spare);
    free(l->block);
    hot_slots_free(&l->hot);
    weir_batch_destroy(l->out);
    free(l);
    op->state = NULL;
}

static int lift_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf;
    (void)errlen;
    const combine_config *cfg = config;
    lift *l = calloc(1, sizeof *l);
    if (!l) return WEIR_ENOMEM;
    op->state = l;
    l->cfg = cfg;
    l->op = op;
    const weir_window_fn *wf = &cfg->windowing.window;
    l->width = weir__combine_slice_width(wf);
    l->offset = wf->offset;
    l->ng = cfg->n_group;
    l->words = cfg->aggs.state_size / 8;
    l->esize = E_KEY * 8 + l->ng * sizeof(weir_value) + cfg->aggs.state_size;
    l->wm = l->sent_wm = l->idle_wm = l->given_wm = WEIR_TIME_MIN;
    l->lateness = cfg->windowing.allowed_lateness;
    l->sparse_marks = weir_operator_downstream_watermark_blind(op);
    hot_slots_init(&l->hot);
    l->block = calloc(1, cfg->aggs.state_size + 8);
    l->out = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!l->block || !l->out) return WEIR_ENOMEM;
    return 0;
}

const weir_operator_class weir__combine_lift_class = {
    .name = "CombineLifted",
    .open = lift_open,
    .process = lift_process,
    .flush = lift_flush,
    .on_time = lift_on_time,
    .close = lift_close,
};
