/* operators/combine.c: the windowed, keyed aggregation: window assignment, watermarks, allowed
 * lateness, triggers, panes and the discarding / accumulating / retracting change log, exactly
 * as ../shared/spec/windowing.md describes (section numbers below refer to it).
 *
 * State. A hash table maps each group key to a key entry: the key's values, and its open
 * windows, kept sorted by start (a key has few: one or two fixed windows, size/period sliding
 * windows, a handful of sessions). The entry holds the pointer to its first window itself and
 * allocates an array only for a second one. A window is one allocation: its bounds and pane
 * bookkeeping (40 bytes), then its aggregate blocks (the current pane's value, and in
 * retracting mode the last emitted value), then one small state per trigger node when the
 * trigger is not the default one.
 *
 * Time. Every input row carries the watermark as it stood before it; the operator advances to
 * that watermark before handling the row, so results never depend on batching (§2).
 * Event-time timers are per key, not per window: a key sits in one heap under the earliest
 * deadline of its windows (a window's end until the watermark has passed it, then end +
 * lateness for garbage collection), with lazy cancellation. Windows of a key are sorted by
 * start, hence by end (fixed and sliding windows have one size, sessions of a key never
 * overlap), so the due windows of a popped key are found by a scan of its first windows.
 * A window thus costs no timer entry of its own: per (key, window) beyond the key's first,
 * memory is the 40-byte record, its aggregate and one pointer (benchmarks/RESULTS.md). When
 * the watermark passes several windows at once they fire in order of window end (then key
 * creation, then start), each its on-time pane and then its GC pane (§4). Processing-time
 * trigger deadlines are per window, in a second heap.
 *
 * Triggers are compiled into a flat array of nodes evaluated like Beam's trigger state machines:
 * on_element, should_fire, on_fire, reset, merge; the evaluation points are an element, the
 * watermark passing the window's end, a processing-time deadline, and a session merge.
 *
 * Sliding windows are computed by slicing (Scotty's and Arroyo's technique): each key keeps a
 * partial aggregate per slice of width gcd(size, period), and a record updates only its slice;
 * a window's value is the combination of its slices, computed when the window fires. Two
 * forms, with exactly the results of per-window aggregates (the differential test runs every
 * configuration):
 *   - default trigger, no allowed lateness: every window emits one pane, when the watermark
 *     passes its end. There are no window records at all, only slices and one timer per key
 *     at the next window end with data ("fast slicing" below).
 *   - every other sliding configuration (allowed lateness, accumulating and retracting modes,
 *     every trigger): windows keep their records for what is truly per window, the pane
 *     bookkeeping and the trigger's state (a count per count trigger, a deadline per
 *     processing-time trigger: cheap, and needed, as in Beam and Flink, since each window sees
 *     other records), but no aggregate of the records: in accumulating and retracting modes a
 *     pane's value is always its window's slices combined (retracting keeps the last emitted
 *     value per window, for the -U row). In discarding mode a pane holds only the records
 *     since the window's previous pane, which slices cannot give for aggregates that do not
 *     subtract (min, max): a window's first pane comes from the slices, and from then on the
 *     records of that window also go to a block of its own, as Beam and Flink do for every
 *     window. The slices hold the right records: a record is added to its slice when it is
 *     kept in at least one of its windows, and a record is dropped from a window only when
 *     the window is closed (it never fires again) or already collected; slices go once every
 *     window holding them has been collected.
 *   Float sums and stddev are then combined in slice order rather than added in arrival order,
 *   so they may differ from a per-window sum in the last bits, as in any engine that combines
 *   partial aggregates. The price: a pane costs size/gcd merges instead of nothing, while a
 *   record costs one aggregate update instead of size/period. A trigger that fires every
 *   window on nearly every record (an early count of 1) in accumulating or retracting mode
 *   thus does more work than per-window aggregates would; Flink avoids slicing when early
 *   firings are configured. We slice every sliding configuration all the same, because state
 *   is then sized to the slices (no aggregate per window in accumulating mode) and panes are
 *   rarer than records in every ordinary configuration.
 *
 * Checkpoints write every key with its slices and windows (bookkeeping, aggregates, trigger
 * states, processing-time deadlines) under its key group, and the watermarks under the
 * instance's own section; the timer heaps are rebuilt on restore. The keys are written lazily,
 * a few thousand between batches while processing goes on, and a key about to change before
 * its turn is written first (copy-on-write per key; "checkpoints" below).
 *
 * Fast paths. Most records of the commonest configurations (fixed windows, and sliding windows
 * by fast slicing, with one integer group field and the default trigger) only add to an open
 * window or slice of an existing key: a loop per batch does just that and hands every other
 * record to the general path, in order ("the fast paths" below).
 *
 * Output rows carry the group fields, the aggregates, window_start, window_end, pane_timing,
 * pane_index, pane_last and op (§7); their event time is window_end - 1, and their watermark is
 * the operator's output watermark as it stood before the advance that fired them (the watermark
 * hold of §7). */
#include "combine.h"
#include "hot_run.h"
#include "timer_heap.h"
#include "weir/error.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNSET INT64_MAX

/* ---- compiled triggers ---- */

typedef struct tnode {
    weir_trigger_type type;
    int64_t count, delay;
    int32_t early, late, of; /* node indexes or -1 */
    uint32_t first, n;       /* children (list triggers) in kids[first..first+n) */
} tnode;

typedef struct tstate {
    int64_t v;        /* COUNT: records; PROCESSING_TIME: deadline (UNSET) */
    uint8_t finished; /* node finished */
    uint8_t idx;      /* AFTER_EACH: current child */
    uint8_t phase;    /* AFTER_WATERMARK: 0 before the on-time pane, 1 after */
    uint8_t pad[5];
} tstate;

/* ---- windows and keys ---- */

enum {
    W_EMITTED_NONEARLY = 1, /* a pane that was not EARLY was emitted (§4 pane_timing) */
    W_EMITTED_BOUNDS = 2,   /* a pane was emitted under the current bounds (change log) */
    W_ONTIME_DONE = 4,      /* default trigger: the watermark part fired */
    W_CLOSED = 8,           /* the trigger finished: later records are dropped */
    W_DEAD = 16,            /* merged away: only processing-time timers still point here */
    W_DUE = 32,             /* collected for this advance */
    W_END_PENDING = 64,     /* not yet evaluated at its end since created (or merged, §5) */
};

typedef struct keyent keyent;

typedef struct win { /* 40 bytes, then the aggregate state */
    int64_t start, end;
    keyent *key;
    uint32_t pending; /* records since the last pane */
    uint32_t next_index;
    uint32_t last_index; /* of the last emitted pane (for -D rows) */
    uint16_t n_timers;   /* processing-time heap entries pointing here */
    uint8_t flags;
    uint8_t last_timing; /* of the last emitted pane (for -D rows) */
    /* then: agg blocks (current, previous), then tstate [n_nodes] */
} win;
_Static_assert(sizeof(win) == 40, "a window record is 40 bytes plus its aggregate");

enum {
    K_SCHEDULED = 1, /* next_due is the time of its live entry in key_timers */
    K_REMOVED = 2,   /* out of the table; freed once no heap entry points here */
    K_TOUCHED = 4,   /* in the touched list of the current advance */
    K_INT1 = 8,      /* the key is one integer value (the fast paths compare only its hash) */
};

struct keyent { /* 64 bytes, then the key values */
    uint64_t hash;
    uint64_t seq;     /* creation order (due windows of several keys fire in this order) */
    int64_t next_due; /* see K_SCHEDULED; fast slicing: the next window end with data */
    union {
        win *one;   /* cap_win <= 1 */
        win **many; /* cap_win > 1 */
    } w;
    uint32_t n_win, cap_win; /* sorted by start */
    /* slices (sliding windows): a ring of [start int64][rows int64][agg block] */
    char *slices;
    uint32_t n_slices;   /* slices held, from ring index head on */
    uint32_t head;       /* ring index of the first slice */
    uint32_t n_timers;   /* key_timers entries pointing here */
    uint8_t flags;       /* K_* */
    uint8_t slices_log2; /* ring capacity: 1 << slices_log2 (when slices) */
    uint8_t stamp;       /* the snapshot epoch it was written in or created in (checkpoints) */
    weir_value key[];    /* n_group values; strings copied after them */
};
_Static_assert(sizeof(keyent) == 64, "a key entry is 64 bytes plus its values");

enum { FAST_NONE, FAST_FIXED, FAST_SLIDING }; /* see "the fast paths" */

/* The last [lo, hi) of a division of time into spans of one width (fixed windows, slices):
 * records come nearly in order, so most of them fall in the span of the one before, and a 64-bit
 * division per record (tens of cycles) is saved. Empty: lo > hi. */
typedef struct span_cache {
    int64_t lo, hi;
} span_cache;

typedef struct combine {
    uint64_t slot_seed; /* mixed into every key's home slot (home_slot) */
    const combine_config *cfg;
    weir_operator *op;
    const int32_t *group; /* columns of the key in the input: cfg->group, or 0.. when lifted */
    /* lifted (combine_lift.c): the input rows are partial aggregates; the current row's block
     * and its number of records */
    bool lifted;
    int32_t *lift_group;
    void *lift_block;
    int64_t lift_records;
    weir_window_fn wf;
    int64_t lateness;
    weir_accumulation mode;
    /* triggers */
    tnode *nodes;
    uint32_t n_nodes;
    uint32_t *kids;
    uint32_t n_kids;
    bool default_trigger;
    bool has_watermark_part;
    /* layout */
    uint32_t agg_size;
    bool has_cur;             /* windows hold their pane's value (not in sliced modes, below) */
    size_t cur_off, prev_off; /* of the current value and (retracting) the last emitted one */
    size_t win_size;
    size_t tstate_off;
    /* keys */
    keyent **table;
    size_t table_cap, n_keys;
    uint64_t key_seq;
    /* slicing (sliding windows) */
    bool fast;     /* default trigger, no lateness: slices only, no window records */
    bool sliced;   /* other sliding configurations: values from slices */
    int64_t slice; /* slice width: gcd(size, period) */
    span_cache win_span, period_span, slice_span; /* of fixed windows, sliding starts, slices */
    size_t slice_size;                            /* bytes of one slice: start + rows + agg block */
    void *scratch_block;
    span_cache fslice;  /* FAST_SLIDING: the slice of the last record off the fast path ... */
    int64_t fslice_due; /* ... and the first window end after it */
    uint8_t fast_kind;  /* FAST_* ("the fast paths" below) */
    uint64_t *hashes;   /* of the keys of the batch in process */
    uint32_t cap_hashes;
    hot_slots hot;  /* the fast paths: integer key -> its open block or slice (hot_slots.h) */
    int64_t hot_lo; /* the open span's start the current generation was filled for */
    /* time */
    int64_t wm;     /* input watermark */
    int64_t out_wm; /* watermark of the rows emitted */
    timer_heap key_timers, proc_timers;
    win **due;
    size_t n_due, cap_due;
    keyent **touched; /* keys popped in the current advance */
    size_t n_touched, cap_touched;
    /* output */
    weir_batch *out, *late;
    int64_t sent_wm;     /* last watermark sent downstream */
    weir_value *scratch; /* aggregate results */
    int status;
    /* checkpoints */
    uint64_t fingerprint; /* of the configuration the state depends on */
    bool restored_shared; /* a shared section was restored: the next ones take minimums */
    /* a lazy snapshot ("checkpoints" below): in progress while snap_w is set */
    weir_snap_writer *snap_w;
    uint8_t epoch;        /* of the current (or last) snapshot: keys stamped so are written */
    size_t snap_cursor;   /* table index the walk goes on from */
    timer_entry *snap_pt; /* processing-time entries at the snapshot, sorted by target */
    size_t snap_n_pt;
    keyent **snap_keys; /* one snapshot_more call's keys, then the same by group */
    size_t cap_snap_keys;
    int snap_rc;          /* a copy-on-write write failed */
    uint32_t test_budget; /* WEIR_TEST_SNAPSHOT_BUDGET: at most this many keys per call */
    size_t sparse_below;  /* SPARSE_TABLE, or 0 with WEIR_TEST_DENSE_TABLE (longer probe runs,
                             for the tests of keys moved by removals) */
    uint32_t fire_round; /* keys per round of advance(): FIRE_ROUND_KEYS, or WEIR_TEST_FIRE_ROUND */
} combine;

static inline int64_t sat_add(int64_t a, int64_t b);

/* weir_fixed_start(t, width, offset), through the cache sc. */
static inline int64_t span_start(span_cache *sc, int64_t t, int64_t width, int64_t offset)
{
    if (t >= sc->lo && t < sc->hi) return sc->lo;
    sc->lo = weir_fixed_start(t, width, offset);
    sc->hi = sat_add(sc->lo, width);
    return sc->lo;
}

/* dst := dst combined with src, inline when the aggregates have a plan (slices are merged per
 * window fired: 60 of them for a 60 s window sliding by 1 s). */
static inline int merge_block(const combine *c, void *dst, const void *src)
{
    const agg_set *s = &c->cfg->aggs;
    return s->n_plan ? agg_merge_planned(s, dst, src) : agg_merge(s, dst, src);
}

static inline void *win_cur(const combine *c, const win *w)
{
    return (char *)w + c->cur_off;
}
static inline void *win_prev(const combine *c, const win *w)
{
    return (char *)w + c->prev_off;
}
static inline tstate *win_tstate(const combine *c, const win *w)
{
    return (tstate *)((char *)w + c->tstate_off);
}
static inline win **key_wins(keyent *k)
{
    return k->cap_win > 1 ? k->w.many : &k->w.one;
}

static inline int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return a > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t gc_time(const combine *c, const win *w)
{
    return sat_add(w->end, c->lateness);
}

/* The oldest sliding window holding t: the smallest s ≡ last_start (mod period) with
 * s > t - size, where last_start is the newest window start <= t. */
static inline int64_t first_window_start(int64_t last_start, int64_t t, int64_t size,
                                         int64_t period)
{
    return last_start - (last_start - t + size - 1) / period * period;
}

/* ---- trigger compilation ---- */

static int32_t compile_node(combine *c, const weir_trigger *t)
{
    int32_t i = (int32_t)c->n_nodes++;
    tnode *n = &c->nodes[i];
    *n = (tnode){.type = t ? t->type : WEIR_TRIGGER_DEFAULT, .early = -1, .late = -1, .of = -1};
    if (!t) return i;
    n->count = t->count;
    n->delay = t->delay;
    if (t->type == WEIR_TRIGGER_AFTER_WATERMARK) {
        if (t->early) c->nodes[i].early = compile_node(c, t->early);
        if (t->late) c->nodes[i].late = compile_node(c, t->late);
    } else if (t->type == WEIR_TRIGGER_REPEAT) {
        c->nodes[i].of = compile_node(c, t->of);
    } else if (t->n_list) {
        /* this node's children take a contiguous run of kids[], reserved before recursing */
        uint32_t base = c->n_kids;
        c->n_kids += t->n_list;
        c->nodes[i].first = base;
        c->nodes[i].n = t->n_list;
        for (uint32_t k = 0; k < t->n_list; k++)
            c->kids[base + k] = (uint32_t)compile_node(c, t->list[k]);
    }
    return i;
}

static uint32_t count_nodes(const weir_trigger *t, uint32_t *n_kids)
{
    if (!t) return 1;
    uint32_t n = 1;
    n += t->early ? count_nodes(t->early, n_kids) : 0;
    n += t->late ? count_nodes(t->late, n_kids) : 0;
    n += t->of ? count_nodes(t->of, n_kids) : 0;
    *n_kids += t->n_list;
    for (uint32_t k = 0; k < t->n_list; k++) n += count_nodes(t->list[k], n_kids);
    return n;
}

/* ---- trigger state machines ---- */

static void proc_timer(combine *c, win *w, int64_t t);

static void t_reset(combine *c, tstate *s, int32_t i)
{
    const tnode *n = &c->nodes[i];
    s[i] = (tstate){.v = n->type == WEIR_TRIGGER_PROCESSING_TIME ? UNSET : 0};
    if (n->early >= 0) t_reset(c, s, n->early);
    if (n->late >= 0) t_reset(c, s, n->late);
    if (n->of >= 0) t_reset(c, s, n->of);
    for (uint32_t k = 0; k < n->n; k++) t_reset(c, s, (int32_t)c->kids[n->first + k]);
}

static void t_on_element(combine *c, win *w, tstate *s, int32_t i, int64_t now)
{
    const tnode *n = &c->nodes[i];
    if (s[i].finished) return;
    switch (n->type) {
    case WEIR_TRIGGER_DEFAULT: break;
    case WEIR_TRIGGER_COUNT: s[i].v++; break;
    case WEIR_TRIGGER_PROCESSING_TIME:
        if (s[i].v == UNSET) {
            s[i].v = sat_add(now, n->delay);
            proc_timer(c, w, s[i].v);
        }
        break;
    case WEIR_TRIGGER_REPEAT: t_on_element(c, w, s, n->of, now); break;
    case WEIR_TRIGGER_AFTER_FIRST:
    case WEIR_TRIGGER_AFTER_ALL:
        for (uint32_t k = 0; k < n->n; k++)
            t_on_element(c, w, s, (int32_t)c->kids[n->first + k], now);
        break;
    case WEIR_TRIGGER_AFTER_EACH:
        if (s[i].idx < n->n) t_on_element(c, w, s, (int32_t)c->kids[n->first + s[i].idx], now);
        break;
    case WEIR_TRIGGER_AFTER_WATERMARK:
        if (s[i].phase == 0 && n->early >= 0) t_on_element(c, w, s, n->early, now);
        if (s[i].phase == 1 && n->late >= 0) t_on_element(c, w, s, n->late, now);
        break;
    }
}

static bool t_should_fire(const combine *c, const win *w, const tstate *s, int32_t i, int64_t now)
{
    const tnode *n = &c->nodes[i];
    if (s[i].finished) return false;
    switch (n->type) {
    case WEIR_TRIGGER_DEFAULT: return false; /* only at the root, handled there */
    case WEIR_TRIGGER_COUNT: return s[i].v >= n->count;
    case WEIR_TRIGGER_PROCESSING_TIME: return s[i].v != UNSET && s[i].v <= now;
    case WEIR_TRIGGER_REPEAT: return t_should_fire(c, w, s, n->of, now);
    case WEIR_TRIGGER_AFTER_FIRST:
        for (uint32_t k = 0; k < n->n; k++)
            if (t_should_fire(c, w, s, (int32_t)c->kids[n->first + k], now)) return true;
        return false;
    case WEIR_TRIGGER_AFTER_ALL: {
        bool any = false;
        for (uint32_t k = 0; k < n->n; k++) {
            int32_t ch = (int32_t)c->kids[n->first + k];
            if (s[ch].finished) continue;
            if (!t_should_fire(c, w, s, ch, now)) return false;
            any = true;
        }
        return any;
    }
    case WEIR_TRIGGER_AFTER_EACH:
        return s[i].idx < n->n &&
               t_should_fire(c, w, s, (int32_t)c->kids[n->first + s[i].idx], now);
    case WEIR_TRIGGER_AFTER_WATERMARK:
        if (s[i].phase == 0)
            return c->wm >= w->end || (n->early >= 0 && t_should_fire(c, w, s, n->early, now));
        return n->late >= 0 && t_should_fire(c, w, s, n->late, now);
    }
    return false;
}

static void t_on_fire(combine *c, const win *w, tstate *s, int32_t i, int64_t now)
{
    const tnode *n = &c->nodes[i];
    switch (n->type) {
    case WEIR_TRIGGER_DEFAULT: break;
    case WEIR_TRIGGER_COUNT:
    case WEIR_TRIGGER_PROCESSING_TIME: s[i].finished = 1; break;
    case WEIR_TRIGGER_REPEAT:
        t_on_fire(c, w, s, n->of, now);
        t_reset(c, s, n->of);
        break;
    case WEIR_TRIGGER_AFTER_FIRST:
        for (uint32_t k = 0; k < n->n; k++) {
            int32_t ch = (int32_t)c->kids[n->first + k];
            if (t_should_fire(c, w, s, ch, now)) t_on_fire(c, w, s, ch, now);
        }
        s[i].finished = 1;
        break;
    case WEIR_TRIGGER_AFTER_ALL:
        for (uint32_t k = 0; k < n->n; k++) {
            int32_t ch = (int32_t)c->kids[n->first + k];
            if (!s[ch].finished) t_on_fire(c, w, s, ch, now);
        }
        s[i].finished = 1;
        break;
    case WEIR_TRIGGER_AFTER_EACH: {
        int32_t ch = (int32_t)c->kids[n->first + s[i].idx];
        t_on_fire(c, w, s, ch, now);
        if (s[ch].finished) s[i].idx++;
        if (s[i].idx >= n->n) s[i].finished = 1;
        break;
    }
    case WEIR_TRIGGER_AFTER_WATERMARK:
        if (s[i].phase == 0) {
            if (c->wm >= w->end) { /* the on-time firing: move to the late phase */
                s[i].phase = 1;
                if (n->early >= 0) t_reset(c, s, n->early);
                if (n->late < 0)
                    s[i].finished = 1;
                else
                    t_reset(c, s, n->late);
            } else if (n->early >= 0) { /* early firings repeat */
                t_on_fire(c, w, s, n->early, now);
                t_reset(c, s, n->early);
            }
        } else if (n->late >= 0) { /* late firings repeat */
            t_on_fire(c, w, s, n->late, now);
            t_reset(c, s, n->late);
        }
        break;
    }
}

/* Combines the trigger states of a merged-away session into the surviving one (§5): counts add
 * up, processing-time deadlines take the earliest, finished parts stay finished; the watermark
 * part starts over (the caller resets it). */
static void t_merge(combine *c, tstate *dst, const tstate *src)
{
    for (uint32_t i = 0; i < c->n_nodes; i++) {
        switch (c->nodes[i].type) {
        case WEIR_TRIGGER_COUNT: dst[i].v += src[i].v; break;
        case WEIR_TRIGGER_PROCESSING_TIME:
            if (src[i].v < dst[i].v) dst[i].v = src[i].v;
            break;
        default: break;
        }
        dst[i].finished |= src[i].finished;
        if (src[i].idx > dst[i].idx) dst[i].idx = src[i].idx;
    }
}

/* Whether the window's trigger fires now. */
static bool should_fire(combine *c, win *w, int64_t now)
{
    if (w->flags & (W_CLOSED | W_DEAD)) return false;
    if (c->default_trigger) return (w->flags & W_ONTIME_DONE) ? w->pending > 0 : c->wm >= w->end;
    return t_should_fire(c, w, win_tstate(c, w), 0, now);
}

/* Updates trigger state for a firing; returns whether the trigger finished. */
static bool on_fire(combine *c, win *w, int64_t now)
{
    if (c->default_trigger) {
        if (c->wm >= w->end) w->flags |= W_ONTIME_DONE;
        return false;
    }
    tstate *s = win_tstate(c, w);
    t_on_fire(c, w, s, 0, now);
    return s[0].finished;
}

/* ---- timers ---- */

static void fail_nomem(combine *c)
{
    if (!c->status)
        c->status = weir_operator_fail(c->op, WEIR_ENOMEM, "%s: out of memory", c->op->name);
}

static void proc_timer(combine *c, win *w, int64_t t)
{
    if (timer_heap_push(&c->proc_timers, t, w)) return fail_nomem(c);
    w->n_timers++;
    const timer_entry *top = timer_heap_top(&c->proc_timers);
    weir_operator_wake_at(c->op, top->time);
}

/* Asks for key k to be visited when the watermark reaches t (an earlier visit stands). */
static void key_schedule(combine *c, keyent *k, int64_t t)
{
    if ((k->flags & K_SCHEDULED) && k->next_due <= t) return;
    if (timer_heap_push(&c->key_timers, t, k)) return fail_nomem(c);
    k->n_timers++;
    k->next_due = t;
    k->flags |= K_SCHEDULED;
}

/* The earliest event-time deadline of k's windows: the end of each window the watermark has
 * not yet been evaluated at, the garbage-collection time of every other. */
static void key_reschedule(combine *c, keyent *k)
{
    win **ws = key_wins(k);
    if (!k->n_win) return;
    int64_t d = gc_time(c, ws[0]);
    for (uint32_t i = 0; i < k->n_win; i++) {
        if (ws[i]->end >= d) break; /* later windows end later */
        if (ws[i]->flags & W_END_PENDING) d = ws[i]->end;
    }
    key_schedule(c, k, d);
}

/* ---- keys ---- */

/* Keys are looked up from a row (value i of the key is row[group[i]]) or, on a restore, from
 * the key's own values (value i is v[i]). The hash is the one the keyed exchange partitions by
 * (engine/exchange.c), so its key group is hash % WEIR_KEY_GROUPS. */
static inline const weir_value *key_val(const combine *c, const weir_value *v, bool from_row,
                                        uint32_t i)
{
    return from_row ? &v[c->group[i]] : &v[i];
}

static inline uint64_t key_hash(const combine *c, const weir_value *v, bool from_row)
{
    uint64_t h = WEIR__KEY_SEED; /* the key group's hash (weir/snapshot.h): key_group uses it */
    for (uint32_t i = 0; i < c->cfg->n_group; i++)
        h = weir_value_hash(key_val(c, v, from_row, i), h);
    return h;
}

static inline bool key_equal(const combine *c, const keyent *k, const weir_value *v, bool from_row)
{
    for (uint32_t i = 0; i < c->cfg->n_group; i++) {
        const weir_value *a = &k->key[i], *b = key_val(c, v, from_row, i);
        if (a->type == WEIR_TYPE_INT ? b->type != WEIR_TYPE_INT || a->as.i != b->as.i
                                     : !weir_value_equal(a, b))
            return false;
    }
    return true;
}

combine_test_stats weir__combine_test;

#define TEST_COUNT(c, what, n)                                                                     \
    ((c)->test_budget                                                                              \
         ? (void)atomic_fetch_add_explicit(&weir__combine_test.what, (n), memory_order_relaxed)    \
         : (void)0)

static bool snap_cow(combine *c, keyent *k);

/* Called before anything of k's state changes: a lazy snapshot in progress writes k first,
 * unless it has already or k is newer than the snapshot (copy-on-write, per key). */
static inline __attribute__((always_inline)) void key_changing(combine *c, keyent *k)
{
    if (c->snap_w && k->stamp != c->epoch && snap_cow(c, k)) TEST_COUNT(c, cow, 1);
}

/* A key's home slot in the table: the top bits of the key's hash, xor the table's seed, times
 * 2^64 / phi (Fibonacci hashing: the hash is already well mixed, so one multiplication spreads
 * it; a simulation of 300K keys restored in their old slot order gives the same probe counts as
 * a full second mix, 1.67 probes per lookup at load 0.57). Not the hash itself, for two reasons.
 * Its low bits are the key group (hash mod 128), which decides the worker that owns the key, so
 * they are far from uniform in any one table (a worker of two sees half their values). And a
 * restore inserts keys in the order the snapshot walked the old table, that is in order of their
 * old slots: with the same slot function, linear probing then piles them into ever longer runs
 * (restoring 300K keys took 1 s, 1150 probes a key). A restored table therefore gets a seed of its
 * own, derived from the old one (deterministic, so runs stay reproducible). */
static inline size_t slot_of(uint64_t h, uint64_t seed, unsigned shift)
{
    return (size_t)(((h ^ seed) * 0x9e3779b97f4a7c15ULL) >> shift);
}

static inline size_t home_slot(const combine *c, uint64_t h, size_t mask)
{
    /* mask + 1: the table's capacity, a power of two of at least 1024 */
    return slot_of(h, c->slot_seed, 64 - (unsigned)__builtin_ctzll(mask + 1));
}

enum { SPARSE_TABLE = 1 << 16 }; /* tables of fewer slots are kept sparse (key_create) */

static int table_grow(combine *c)
{
    size_t cap = c->table_cap ? c->table_cap * 2 : 1024;
    keyent **t = calloc(cap, sizeof *t);
    if (!t) return WEIR_ENOMEM;
    for (size_t i = 0; i < c->table_cap; i++) {
        keyent *k = c->table[i];
        if (!k) continue;
        size_t j = home_slot(c, k->hash, cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = k;
    }
    free(c->table);
    c->table = t;
    c->table_cap = cap;
    if (c->snap_w) { /* a lazy snapshot walks the new table again: stamps skip what it wrote */
        c->snap_cursor = 0;
        TEST_COUNT(c, restarts, 1);
    }
    return 0;
}

static keyent *key_create(combine *c, const weir_value *row, bool from_row, uint64_t h);

/* The key's entry, or (create) a new one; NULL when absent or on no memory. The lookup is
 * inlined into the per-record path; creating a key is not (it is rare, and large). */
static inline keyent *key_find(combine *c, const weir_value *row, bool from_row, uint64_t h,
                               bool create)
{
    if (c->table_cap) {
        size_t j = home_slot(c, h, c->table_cap - 1);
        while (c->table[j]) {
            if (c->table[j]->hash == h && key_equal(c, c->table[j], row, from_row))
                return c->table[j];
            j = (j + 1) & (c->table_cap - 1);
        }
    }
    return create ? key_create(c, row, from_row, h) : NULL;
}

__attribute__((noinline)) static keyent *key_create(combine *c, const weir_value *row,
                                                    bool from_row, uint64_t h)
{
    /* at most 3/4 full; small tables at most 1/4, for shorter probes (1.17 probes per lookup
     * against 2.5 at 3/4, each a key entry read), while they are small next to their keys'
     * entries anyway (at most 512 KiB) */
    size_t max_load4 = c->table_cap < c->sparse_below ? 1 : 3;
    if ((c->n_keys + 1) * 4 > c->table_cap * max_load4 && table_grow(c)) return NULL;
    uint32_t ng = c->cfg->n_group;
    size_t extra = 0;
    for (uint32_t i = 0; i < ng; i++) {
        const weir_value *v = key_val(c, row, from_row, i);
        if (v->type >= WEIR_TYPE_STRING && v->type <= WEIR_TYPE_JSON) extra += v->len + 1;
    }
    keyent *k = malloc(sizeof *k + ng * sizeof(weir_value) + extra);
    if (!k) return NULL;
    *k = (keyent){
        .hash = h, .seq = c->key_seq++, .next_due = INT64_MAX, .cap_win = 1, .stamp = c->epoch};
    if (ng == 1 && key_val(c, row, from_row, 0)->type == WEIR_TYPE_INT) k->flags = K_INT1;
    char *p = (char *)(k->key + ng);
    for (uint32_t i = 0; i < ng; i++) {
        k->key[i] = *key_val(c, row, from_row, i);
        if (k->key[i].type >= WEIR_TYPE_STRING && k->key[i].type <= WEIR_TYPE_JSON) {
            memcpy(p, k->key[i].as.s, k->key[i].len);
            p[k->key[i].len] = 0;
            k->key[i].as.s = p;
            p += k->key[i].len + 1;
        }
    }
    size_t j = home_slot(c, h, c->table_cap - 1);
    while (c->table[j]) j = (j + 1) & (c->table_cap - 1);
    c->table[j] = k;
    c->n_keys++;
    return k;
}

static inline int64_t *slice_entry(const combine *c, const keyent *k, uint32_t i)
{
    /* entry: [start int64][rows int64][agg block] */
    return (int64_t *)(k->slices + ((size_t)k->head + i) * c->slice_size);
}

static void free_slices(combine *c, keyent *k)
{
    if (c->cfg->aggs.owns_memory)
        for (uint32_t j = 0; j < k->n_slices; j++)
            agg_finish(&c->cfg->aggs, slice_entry(c, k, j) + 2);
    free(k->slices);
    k->slices = NULL;
    k->n_slices = k->head = 0;
}

/* Removes a key with no windows left (backward-shift deletion keeps probing correct). Its
 * memory goes when no timer entry points at it any more. */
static void key_remove(combine *c, keyent *k)
{
    size_t mask = c->table_cap - 1, i = home_slot(c, k->hash, mask);
    while (c->table[i] != k) i = (i + 1) & mask;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!c->table[j]) break;
        size_t home = home_slot(c, c->table[j]->hash, mask);
        /* move j to i when home is not cyclically in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            /* a lazy snapshot's walk would miss a key moved behind it: it writes it now */
            if (c->snap_w && i < c->snap_cursor && j >= c->snap_cursor &&
                c->table[j]->stamp != c->epoch && snap_cow(c, c->table[j]))
                TEST_COUNT(c, moved, 1);
            c->table[i] = c->table[j];
            i = j;
        }
    }
    c->table[i] = NULL;
    c->n_keys--;
    if (k->cap_win > 1) free(k->w.many);
    k->cap_win = 1;
    k->n_win = 0;
    free_slices(c, k);
    k->flags = (uint8_t)((k->flags & ~K_SCHEDULED) | K_REMOVED);
    if (k->n_timers == 0 && !(k->flags & K_TOUCHED)) free(k);
}

/* ---- windows ---- */

/* Index of the first window of k with start >= start. */
static uint32_t win_lower_bound(keyent *k, int64_t start)
{
    win **ws = key_wins(k);
    uint32_t lo = 0, hi = k->n_win;
    if (hi && ws[hi - 1]->start < start) return hi; /* in-order records land last */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (ws[mid]->start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static win *win_find(keyent *k, int64_t start, int64_t end)
{
    win **ws = key_wins(k);
    for (uint32_t i = win_lower_bound(k, start); i < k->n_win && ws[i]->start == start; i++)
        if (ws[i]->end == end) return ws[i];
    return NULL;
}

/* A new window of k at index pos of its windows (which must keep them sorted by start), not yet
 * scheduled. */
static win *win_insert(combine *c, keyent *k, uint32_t pos, int64_t start, int64_t end)
{
    win *w = malloc(c->win_size);
    if (!w) return NULL;
    memset(w, 0, sizeof *w);
    w->start = start;
    w->end = end;
    w->key = k;
    w->flags = W_END_PENDING;
    if (c->has_cur) agg_init(&c->cfg->aggs, win_cur(c, w));
    if (c->mode == WEIR_RETRACTING) agg_init(&c->cfg->aggs, win_prev(c, w));
    if (!c->default_trigger) t_reset(c, win_tstate(c, w), 0);
    if (k->n_win == k->cap_win) { /* the first window sits in the key entry itself */
        uint32_t cap = k->cap_win * 2;
        win **ws = k->cap_win > 1 ? realloc(k->w.many, cap * sizeof *ws) : malloc(cap * sizeof *ws);
        if (!ws) {
            free(w);
            return NULL;
        }
        if (k->cap_win <= 1 && k->n_win) ws[0] = k->w.one;
        k->w.many = ws;
        k->cap_win = cap;
    }
    win **ws = key_wins(k);
    memmove(ws + pos + 1, ws + pos, (k->n_win - pos) * sizeof *ws);
    ws[pos] = w;
    k->n_win++;
    return w;
}

/* The same, with the key visited when the watermark reaches the window's end. */
static win *win_create_at(combine *c, keyent *k, uint32_t pos, int64_t start, int64_t end)
{
    win *w = win_insert(c, k, pos, start, end);
    if (w) key_schedule(c, k, end);
    return w;
}

static void win_free(combine *c, win *w)
{
    if (c->cfg->aggs.owns_memory) {
        if (c->has_cur) agg_finish(&c->cfg->aggs, win_cur(c, w));
        if (c->mode == WEIR_RETRACTING) agg_finish(&c->cfg->aggs, win_prev(c, w));
    }
    free(w);
}

/* Takes w out of its key (state dropped); the memory goes when no timer points at it. */
static void win_retire(combine *c, win *w)
{
    keyent *k = w->key;
    win **ws = key_wins(k);
    for (uint32_t i = win_lower_bound(k, w->start); i < k->n_win; i++)
        if (ws[i] == w) {
            memmove(ws + i, ws + i + 1, (k->n_win - i - 1) * sizeof *ws);
            k->n_win--;
            break;
        }
    if (k->cap_win > 1 && k->n_win <= 1) { /* back into the key entry */
        win *only = k->n_win ? ws[0] : NULL;
        free(k->w.many);
        k->w.one = only;
        k->cap_win = 1;
    }
    w->flags |= W_DEAD;
    w->key = NULL;
    if (k->n_win == 0) key_remove(c, k);
    if (w->n_timers == 0) win_free(c, w);
}

/* ---- output ---- */

static int flush(combine *c)
{
    int rc = 0;
    if (c->out->n_rows || c->out->n_marks) {
        c->out->wm_after = c->out_wm;
        c->sent_wm = c->out_wm;
        rc = weir_operator_emit(c->op, c->out);
        weir_batch_clear(c->out);
    }
    if (!rc && c->late && c->late->n_rows) {
        c->late->wm_after = c->out_wm;
        rc = weir_operator_emit_port(c->op, 1, c->late);
        weir_batch_clear(c->late);
    }
    if (rc && !c->status) c->status = rc;
    return rc;
}

static int copy_string(weir_arena *a, weir_value *v)
{
    if (v->type < WEIR_TYPE_STRING || v->type > WEIR_TYPE_JSON) return 0;
    char *p = weir_arena_strdup(a, v->as.s, v->len);
    if (!p) return WEIR_ENOMEM;
    v->as.s = p;
    return 0;
}

/* Appends one output row for window w of key k with the aggregate block's value. */
static void emit_row(combine *c, const keyent *k, const win *w, const void *block,
                     weir_pane_timing timing, uint32_t index, bool last, weir_op op)
{
    if (c->status) return;
    if (weir_batch_full(c->out) && flush(c)) return;
    bool global = c->wf.type == WEIR_WINDOW_GLOBAL;
    int64_t ts = global ? WEIR_TIME_MAX - 1 : w->end - 1;
    weir_value *row = weir_batch_append(c->out, ts, c->out_wm);
    uint32_t ng = c->cfg->n_group, na = c->cfg->aggs.n, f = 0;
    for (uint32_t i = 0; i < ng; i++) {
        row[f] = k->key[i];
        if (copy_string(&c->out->arena, &row[f])) goto nomem;
        f++;
    }
    if (agg_result(&c->cfg->aggs, block, row + f, &c->out->arena)) goto nomem;
    f += na;
    row[f++] = global ? WEIR_NULL_VALUE : weir_value_int(w->start);
    row[f++] = global ? WEIR_NULL_VALUE : weir_value_int(w->end);
    const char *tn = weir_pane_timing_name(timing);
    row[f++] = weir_value_string(tn, strlen(tn));
    row[f++] = weir_value_int(index);
    row[f++] = weir_value_bool(last);
    const char *on = weir_op_name(op);
    row[f++] = weir_value_string(on, 2);
    return;
nomem:
    fail_nomem(c);
}

/* Index of the first slice of k with start >= a. */
static uint32_t slice_lower_bound(const combine *c, const keyent *k, int64_t a)
{
    uint32_t lo = 0, hi = k->n_slices;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (slice_entry(c, k, mid)[0] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The slices of [start, end) combined, in the scratch block. */
static void *slices_value(combine *c, const keyent *k, int64_t start, int64_t end)
{
    void *acc = c->scratch_block;
    agg_finish(&c->cfg->aggs, acc);
    agg_init(&c->cfg->aggs, acc);
    for (uint32_t i = slice_lower_bound(c, k, start); i < k->n_slices; i++) {
        const int64_t *sl = slice_entry(c, k, i);
        if (sl[0] >= end) break;
        if (sl[1] && merge_block(c, acc, sl + 2)) fail_nomem(c);
    }
    return acc;
}

/* Fires a pane of w (§4, §6). `finished`: the trigger finished with this firing. */
static void fire(combine *c, win *w, bool finished)
{
    weir_pane_timing timing = (w->flags & W_EMITTED_NONEARLY) ? WEIR_PANE_LATE
                              : c->wm < w->end                ? WEIR_PANE_EARLY
                                                              : WEIR_PANE_ON_TIME;
    if (w->pending == 0 && timing != WEIR_PANE_ON_TIME)
        return; /* only on-time panes may be empty */
    bool last = finished || c->wm >= gc_time(c, w);
    uint32_t index = w->next_index;
    /* sliced: the window's slices, except for a discarding pane after the first one */
    bool own = c->has_cur && (!c->sliced || (w->flags & W_EMITTED_BOUNDS));
    void *value = own ? win_cur(c, w) : slices_value(c, w->key, w->start, w->end);
    switch (c->mode) {
    case WEIR_DISCARDING:
        emit_row(c, w->key, w, value, timing, index, last, WEIR_OP_INSERT);
        if (own) {
            agg_finish(&c->cfg->aggs, value);
            agg_init(&c->cfg->aggs, value);
        }
        break;
    case WEIR_ACCUMULATING:
        emit_row(c, w->key, w, value, timing, index, last,
                 (w->flags & W_EMITTED_BOUNDS) ? WEIR_OP_UPDATE_AFTER : WEIR_OP_INSERT);
        break;
    case WEIR_RETRACTING:
        if (w->flags & W_EMITTED_BOUNDS) {
            emit_row(c, w->key, w, win_prev(c, w), timing, index, last, WEIR_OP_UPDATE_BEFORE);
            emit_row(c, w->key, w, value, timing, index, last, WEIR_OP_UPDATE_AFTER);
        } else {
            emit_row(c, w->key, w, value, timing, index, last, WEIR_OP_INSERT);
        }
        if (agg_copy(&c->cfg->aggs, win_prev(c, w), value)) fail_nomem(c);
        break;
    }
    w->pending = 0;
    w->next_index++;
    w->last_index = index;
    w->last_timing = (uint8_t)timing;
    w->flags |= W_EMITTED_BOUNDS;
    if (timing != WEIR_PANE_EARLY) w->flags |= W_EMITTED_NONEARLY;
}

/* Evaluates w's trigger and fires if it says so; closes w when the trigger finished. */
static void evaluate(combine *c, win *w, int64_t now)
{
    if (!should_fire(c, w, now)) return;
    bool finished = on_fire(c, w, now);
    fire(c, w, finished);
    if (finished) w->flags |= W_CLOSED;
}

/* Garbage collection (§3, §4): fire a last pane if records are pending, drop the state. */
static void collect(combine *c, win *w)
{
    if (w->pending > 0 && !(w->flags & W_CLOSED)) fire(c, w, true);
    if (c->sliced) {
        /* windows are collected in order of start: no window left holds a slice before the
         * next start */
        keyent *k = w->key;
        int64_t keep_from = sat_add(w->start, c->wf.period);
        while (k->n_slices && slice_entry(c, k, 0)[0] < keep_from) {
            agg_finish(&c->cfg->aggs, slice_entry(c, k, 0) + 2);
            k->head++;
            k->n_slices--;
        }
        if (k->n_slices == 0) k->head = 0;
    }
    win_retire(c, w);
}

#define SWAP_WIN(x, y)                                                                             \
    do {                                                                                           \
        win *t_ = (x);                                                                             \
        (x) = (y);                                                                                 \
        (y) = t_;                                                                                  \
    } while (0)

static int due_cmp(const void *a, const void *b)
{
    const win *x = *(win *const *)a, *y = *(win *const *)b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    if (x->key->seq != y->key->seq) return x->key->seq < y->key->seq ? -1 : 1;
    return (x->start > y->start) - (x->start < y->start);
}

static inline bool due_less(const win *x, const win *y)
{
    return due_cmp(&x, &y) < 0;
}

/* Sorts the due windows in place (qsort's merge sort takes a buffer as large as the array:
 * 80 MB more at the moment 10M keys' windows fire together, the peak of a run's memory).
 * Quicksort with a median of three and insertion sort for short ranges, the smaller side by
 * recursion (depth at most log2 n); the order is total (end, key creation, start), so the
 * result is the same as with any sort. */
static void sort_due(win **a, size_t n)
{
    while (n > 16) {
        size_t m = n / 2;
        if (due_less(a[m], a[0])) SWAP_WIN(a[m], a[0]);
        if (due_less(a[n - 1], a[0])) SWAP_WIN(a[n - 1], a[0]);
        if (due_less(a[n - 1], a[m])) SWAP_WIN(a[n - 1], a[m]);
        win *pivot = a[m];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (due_less(a[i], pivot)) i++;
            while (due_less(pivot, a[j])) j--;
            if (i >= j) break;
            SWAP_WIN(a[i], a[j]);
            i++;
            j--;
        }
        /* [0, j] <= pivot <= [j + 1, n) */
        size_t left = j + 1;
        if (left < n - left) {
            sort_due(a, left);
            a += left;
            n -= left;
        } else {
            sort_due(a + left, n - left);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        win *x = a[i];
        size_t j = i;
        for (; j > 0 && due_less(x, a[j - 1]); j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

static void due_add(combine *c, win *w)
{
    if (w->flags & (W_DUE | W_DEAD)) return;
    if (c->n_due == c->cap_due) {
        size_t cap = c->cap_due ? c->cap_due * 2 : 256;
        win **d = realloc(c->due, cap * sizeof *d);
        if (!d) return fail_nomem(c);
        c->due = d;
        c->cap_due = cap;
    }
    w->flags |= W_DUE;
    c->due[c->n_due++] = w;
}

static void touched_add(combine *c, keyent *k)
{
    if (k->flags & K_TOUCHED) return;
    if (c->n_touched == c->cap_touched) {
        size_t cap = c->cap_touched ? c->cap_touched * 2 : 256;
        keyent **t = realloc(c->touched, cap * sizeof *t);
        if (!t) return fail_nomem(c);
        c->touched = t;
        c->cap_touched = cap;
    }
    k->flags |= K_TOUCHED;
    c->touched[c->n_touched++] = k;
}

static void proc_timer_done(combine *c, win *w)
{
    if (--w->n_timers == 0 && (w->flags & W_DEAD)) win_free(c, w);
}

static void slice_advance(combine *c, int64_t wm);
static bool slice_record(combine *c, keyent *k, int64_t t, const weir_value *row, int sign,
                         bool *dropped_some);
static int64_t *slice_get(combine *c, keyent *k, int64_t a);

/* The output watermark rises: downstream sees this value too, as a mark of the output batch. */
static void set_out_wm(combine *c, int64_t wm)
{
    c->out_wm = wm;
    if (weir_batch_mark(c->out, wm)) fail_nomem(c);
}

/* Keys whose due windows fire together in one round of advance(): with the watermark far ahead
 * (the end of the input sets +infinity) every key can be due at once, and collecting them all
 * first would take two pointer arrays as long as the number of keys (160 MB more for 10M keys,
 * at the moment the state is largest). Rounds free the windows they collect as they go. */
#define FIRE_ROUND_KEYS 4096

/* Moves the input watermark to wm and fires what became due: round by round, up to
 * FIRE_ROUND_KEYS keys taken from the timer heap in deadline order, their due windows in order
 * of window end (then key creation, then start). The windows of one key always fire in order
 * of window end (windowing.md §4): a key's due windows are all in the round that takes the key.
 * Across keys, the order is what windowing.md asks for: none (as with several workers). */
static void advance(combine *c, int64_t wm)
{
    if (wm <= c->wm) return;
    c->wm = wm;
    if (c->fast) {
        slice_advance(c, wm);
        set_out_wm(c, wm);
        return;
    }
    for (;;) {
        const timer_entry *t;
        while (c->n_touched < c->fire_round && !c->status && (t = timer_heap_top(&c->key_timers)) &&
               t->time <= wm) {
            timer_entry te = timer_heap_pop(&c->key_timers);
            keyent *k = te.target;
            k->n_timers--;
            if (k->flags & K_REMOVED) {
                if (k->n_timers == 0 && !(k->flags & K_TOUCHED)) free(k);
                continue;
            }
            if (!(k->flags & K_SCHEDULED) || te.time != k->next_due) continue; /* stale */
            key_changing(c, k);
            k->flags &= ~K_SCHEDULED;
            touched_add(c, k);
            /* its due windows: those the watermark passes the end of for the first time, and
             * those to collect; windows are sorted by end */
            win **ws = key_wins(k);
            for (uint32_t i = 0; i < k->n_win && ws[i]->end <= wm; i++)
                if ((ws[i]->flags & W_END_PENDING) || gc_time(c, ws[i]) <= wm) due_add(c, ws[i]);
        }
        if (!c->n_touched) break;
        if (c->n_due) {
            sort_due(c->due, c->n_due);
            int64_t now = c->default_trigger ? 0 : weir_operator_now(c->op);
            for (size_t i = 0; i < c->n_due; i++) {
                win *w = c->due[i];
                w->flags &= ~W_DUE;
                if (w->flags & W_DEAD) continue;
                w->flags &= ~W_END_PENDING;
                evaluate(c, w, now);
                if (gc_time(c, w) <= wm) collect(c, w);
            }
            c->n_due = 0;
        }
        /* every deadline a fired key has left is past wm (its windows that end by wm were
         * evaluated at wm, those collectable by wm collected): no round takes a key twice */
        for (size_t i = 0; i < c->n_touched; i++) {
            keyent *k = c->touched[i];
            k->flags &= ~K_TOUCHED;
            if (!(k->flags & K_REMOVED))
                key_reschedule(c, k);
            else if (k->n_timers == 0)
                free(k);
        }
        c->n_touched = 0;
    }
    set_out_wm(c, wm);
}

/* ---- elements ---- */

/* Adds the input row to the aggregate block: the row's values (sign +1) or their retraction, or,
 * when lifted, the row's partial aggregate (c->lift_block, decoded by process_lifted). */
static inline int add_input(combine *c, void *block, const weir_value *row, int sign)
{
    if (c->lifted) return agg_merge(&c->cfg->aggs, block, c->lift_block);
    return agg_add(&c->cfg->aggs, block, row, sign);
}

static void add_to(combine *c, win *w, const weir_value *row, int sign, int64_t now)
{
    if (c->has_cur && (!c->sliced || (w->flags & W_EMITTED_BOUNDS)) &&
        add_input(c, win_cur(c, w), row, sign))
        return fail_nomem(c);
    if (w->pending != UINT32_MAX) w->pending++; /* only "any pending?" matters: saturate */
    if (!c->default_trigger)
        t_on_element(c, w, win_tstate(c, w), 0, now);
    else if (!(w->flags & W_ONTIME_DONE) && c->wm < w->end)
        return; /* the default trigger fires on time only once the watermark passes the end */
    evaluate(c, w, now);
}

/* -D rows for a session part merged away under other bounds (§6), then its state joins dst. */
static void merge_into(combine *c, win *dst, win *part)
{
    if (c->mode == WEIR_RETRACTING && (part->flags & W_EMITTED_BOUNDS))
        emit_row(c, part->key, part, win_prev(c, part), part->last_timing, part->last_index, false,
                 WEIR_OP_DELETE);
    if (agg_merge(&c->cfg->aggs, win_cur(c, dst), win_cur(c, part))) fail_nomem(c);
    dst->pending =
        dst->pending > UINT32_MAX - part->pending ? UINT32_MAX : dst->pending + part->pending;
    if (part->next_index > dst->next_index) dst->next_index = part->next_index;
    dst->flags |= part->flags & W_EMITTED_NONEARLY;
    if (!c->default_trigger) t_merge(c, win_tstate(c, dst), win_tstate(c, part));
    win_retire(c, part);
}

static bool handle_session(combine *c, keyent *k, int64_t t, const weir_value *row, int sign,
                           int64_t now)
{
    int64_t s = t, e = sat_add(t, c->wf.gap);
    if (c->wm >= sat_add(e, c->lateness)) return false; /* §3: tested on [t, t+gap) */
    int64_t ms = s, me = e;
    win **ws = key_wins(k);
    uint32_t first = k->n_win, n_over = 0;
    for (uint32_t i = 0; i < k->n_win; i++) {
        win *w = ws[i];
        if (w->start < e && s < w->end) { /* strict overlap (§5) */
            if (w->flags & W_CLOSED) return false;
            if (first == k->n_win) first = i;
            n_over++;
            if (w->start < ms) ms = w->start;
            if (w->end > me) me = w->end;
        }
    }
    win *target = NULL;
    if (n_over == 0) {
        uint32_t pos = win_lower_bound(k, s);
        while (pos < k->n_win && ws[pos]->start == s) pos++;
        target = win_create_at(c, k, pos, s, e);
        if (!target) return fail_nomem(c), true;
    } else {
        /* overlapping windows are contiguous in start order */
        win **parts = ws + first;
        win *same = NULL;
        for (uint32_t i = 0; i < n_over; i++)
            if (parts[i]->start == ms && parts[i]->end == me) same = parts[i];
        win *list[64], **plist = n_over <= 64 ? list : malloc(n_over * sizeof *plist);
        if (!plist) return fail_nomem(c), true;
        memcpy(plist, parts, n_over * sizeof *plist);
        if (same) {
            target = same;
        } else {
            uint32_t pos = first;
            while (pos < k->n_win && ws[pos]->start <= ms) pos++;
            target = win_create_at(c, k, pos, ms, me);
            if (!target) {
                if (plist != list) free(plist);
                return fail_nomem(c), true;
            }
        }
        for (uint32_t i = 0; i < n_over; i++)
            if (plist[i] != target) merge_into(c, target, plist[i]);
        if (plist != list) free(plist);
        /* the merged window's watermark part starts over (§5) */
        if (c->default_trigger) {
            target->flags &= ~W_ONTIME_DONE;
        } else {
            /* watermark parts sit at the root or under a repeat (weir_trigger_validate) */
            tstate *st = win_tstate(c, target);
            /* processing-time deadlines taken over from the parts need timers of their own */
            for (uint32_t i = 0; i < c->n_nodes; i++)
                if (c->nodes[i].type == WEIR_TRIGGER_PROCESSING_TIME && st[i].v != UNSET &&
                    !st[i].finished)
                    proc_timer(c, target, st[i].v);
            for (uint32_t i = 0; i < c->n_nodes; i++) {
                const tnode *n = &c->nodes[i];
                if (n->type != WEIR_TRIGGER_AFTER_WATERMARK) continue;
                st[i].phase = 0;
                st[i].finished = 0;
                if (n->late >= 0) t_reset(c, st, n->late);
            }
        }
        if (same) {
            target->flags |= W_END_PENDING;
            key_schedule(c, k, target->end);
        }
    }
    add_to(c, target, row, sign, now);
    return true;
}

/* Sliding windows with window records (see the file comment): the record goes to its slice
 * once, then to the bookkeeping of each of its windows. */
static bool sliced_record(combine *c, keyent *k, int64_t t, const weir_value *row, int sign,
                          int64_t now, bool *dropped_some)
{
    int64_t size = c->wf.size, period = c->wf.period;
    int64_t last = span_start(&c->period_span, t, period, c->wf.offset); /* last start <= t */
    int64_t lowest = first_window_start(last, t, size, period);
    /* kept in at least one window? The slice must hold it before any of them fires. */
    bool kept = false;
    for (int64_t s = lowest; s <= last && !kept; s += period) {
        if (c->wm >= sat_add(s + size, c->lateness)) continue;
        win *w = win_find(k, s, s + size);
        kept = !w || !(w->flags & W_CLOSED);
    }
    if (!kept) {
        *dropped_some = true;
        return false;
    }
    int64_t *e = slice_get(c, k, span_start(&c->slice_span, t, c->slice, c->wf.offset));
    if (!e) return fail_nomem(c), true;
    e[1]++;
    if (add_input(c, e + 2, row, sign)) fail_nomem(c);
    uint32_t pos = win_lower_bound(k, lowest);
    for (int64_t s = lowest; s <= last && !c->status; s += period) {
        win **ws = key_wins(k);
        win *w = pos < k->n_win && ws[pos]->start == s ? ws[pos] : NULL;
        if (w) pos++;
        if (c->wm >= sat_add(s + size, c->lateness) || (w && (w->flags & W_CLOSED))) { /* §3 */
            *dropped_some = true;
            continue;
        }
        if (!w) {
            if (!(w = win_create_at(c, k, pos, s, s + size))) return fail_nomem(c), true;
            pos++;
        }
        add_to(c, w, row, sign, now);
    }
    return true;
}

/* Handles one record: returns whether it was kept in at least one window; *dropped_some says
 * whether it was dropped from at least one. */
static bool handle_record(combine *c, const weir_value *row, uint64_t h, int64_t t, int64_t now,
                          bool *dropped_some)
{
    int sign = 1;
    if (c->cfg->op_field >= 0) {
        const weir_value *op = &row[c->cfg->op_field];
        if (op->type == WEIR_TYPE_STRING && op->len == 2 && op->as.s[0] == '-') sign = -1;
    }
    keyent *k = key_find(c, row, true, h, true);
    if (!k) return fail_nomem(c), true;
    key_changing(c, k);
    bool kept = false;
    *dropped_some = false;
    if (c->fast) {
        kept = slice_record(c, k, t, row, sign, dropped_some);
        if (k->n_slices == 0 && k->n_timers == 0) key_remove(c, k);
        return kept;
    }
    switch (c->wf.type) {
    case WEIR_WINDOW_SESSIONS:
        kept = handle_session(c, k, t, row, sign, now);
        *dropped_some = !kept;
        break;
    case WEIR_WINDOW_SLIDING: kept = sliced_record(c, k, t, row, sign, now, dropped_some); break;
    case WEIR_WINDOW_GLOBAL:
    case WEIR_WINDOW_FIXED: {
        int64_t s = WEIR_TIME_MIN, e = WEIR_TIME_MAX;
        if (c->wf.type == WEIR_WINDOW_FIXED) {
            s = span_start(&c->win_span, t, c->wf.size, c->wf.offset);
            e = sat_add(s, c->wf.size); /* as win_span.hi: a window at the end of time */
        }
        if (c->wm >= sat_add(e, c->lateness)) { /* §3 */
            *dropped_some = true;
            break;
        }
        uint32_t pos = win_lower_bound(k, s);
        win **ws = key_wins(k);
        win *w = pos < k->n_win && ws[pos]->start == s ? ws[pos] : NULL;
        if (w && (w->flags & W_CLOSED)) {
            *dropped_some = true;
            break;
        }
        if (!w && !(w = win_create_at(c, k, pos, s, e))) return fail_nomem(c), true;
        add_to(c, w, row, sign, now);
        kept = true;
        break;
    }
    }
    if (k->n_win == 0) key_remove(c, k);
    return kept;
}

/* ---- fast slicing: sliding windows, default trigger, no allowed lateness ----
 *
 * Every window emits exactly one pane, when the watermark passes its end, so there is no
 * per-window state at all: a window's value is the combination of its slices, computed once,
 * when it fires. A record that arrives after some of its windows fired still lands in its
 * slice: those windows already emitted without it (it was dropped from them, §3) and the
 * later ones include it, as the spec requires. Slices are kept sorted in a compact array per
 * key; those whose last window fired are dropped. One timer per key points at its next window
 * end with data (next_due, INT64_MAX for none). */

static inline int64_t mod_pos(int64_t a, int64_t m)
{
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

/* Smallest window end > x (ends are ≡ offset + size mod period). */
static inline int64_t end_after(const combine *c, int64_t x)
{
    int64_t eoff = mod_pos(c->wf.offset + c->wf.size, c->wf.period);
    if (x == INT64_MAX) return INT64_MAX;
    int64_t y = x + 1;
    int64_t up = mod_pos(eoff - y, c->wf.period);
    return sat_add(y, up);
}

static void key_timer(combine *c, keyent *k, int64_t t)
{
    if (t >= k->next_due) return;
    k->next_due = t;
    if (timer_heap_push(&c->key_timers, t, k)) return fail_nomem(c);
    k->n_timers++;
}

/* The slice entry for start a, created (sorted) when missing; NULL on no memory. */
static int64_t *slice_get(combine *c, keyent *k, int64_t a)
{
    if (k->n_slices) { /* records mostly come in order: the last slice, or a new one after it */
        int64_t *last = slice_entry(c, k, k->n_slices - 1);
        if (last[0] == a) return last;
    }
    uint32_t lo = 0, hi = k->n_slices;
    if (k->n_slices && slice_entry(c, k, k->n_slices - 1)[0] < a) lo = k->n_slices;
    while (lo < hi) { /* first entry with start >= a */
        uint32_t mid = (lo + hi) / 2;
        if (slice_entry(c, k, mid)[0] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < k->n_slices && slice_entry(c, k, lo)[0] == a) return slice_entry(c, k, lo);
    uint32_t cap = k->slices ? 1u << k->slices_log2 : 0;
    if (k->head + k->n_slices == cap) {
        if (k->head > 0) { /* compact */
            memmove(k->slices, k->slices + (size_t)k->head * c->slice_size,
                    (size_t)k->n_slices * c->slice_size);
            k->head = 0;
        } else {
            uint8_t lg = k->slices ? (uint8_t)(k->slices_log2 + 1) : 0;
            char *ns = realloc(k->slices, ((size_t)1 << lg) * c->slice_size);
            if (!ns) return NULL;
            k->slices = ns;
            k->slices_log2 = lg;
        }
    }
    char *at = (char *)slice_entry(c, k, lo);
    memmove(at + c->slice_size, at, (size_t)(k->n_slices - lo) * c->slice_size);
    k->n_slices++;
    int64_t *e = (int64_t *)at;
    e[0] = a;
    e[1] = 0;
    agg_init(&c->cfg->aggs, e + 2);
    return e;
}

static bool slice_record(combine *c, keyent *k, int64_t t, const weir_value *row, int sign,
                         bool *dropped_some)
{
    int64_t period = c->wf.period, size = c->wf.size;
    int64_t last_start = span_start(&c->period_span, t, period, c->wf.offset);
    if (c->wm >= sat_add(last_start, size)) { /* every window of t has fired: late (§3) */
        *dropped_some = true;
        return false;
    }
    /* earlier windows of t may have fired already: then t is dropped from those */
    int64_t first_start = first_window_start(last_start, t, size, period);
    *dropped_some = c->wm >= sat_add(first_start, size);
    int64_t *e = slice_get(c, k, span_start(&c->slice_span, t, c->slice, c->wf.offset));
    if (!e) return fail_nomem(c), true;
    e[1]++; /* rows, whatever their sign: a window with rows exists (and fires) */
    if (add_input(c, e + 2, row, sign)) fail_nomem(c);
    int64_t due = end_after(c, c->wm > t ? c->wm : t);
    key_timer(c, k, due);
    return true;
}

/* Fires every window of k whose end is <= wm, in order of end, and drops finished slices. */
static void slice_fire(combine *c, keyent *k, int64_t wm)
{
    int64_t size = c->wf.size, period = c->wf.period;
    while (k->next_due <= wm && !c->status) {
        int64_t e = k->next_due, s = e - size;
        void *acc = c->scratch_block;
        agg_finish(&c->cfg->aggs, acc);
        agg_init(&c->cfg->aggs, acc);
        int64_t n = 0;
        for (uint32_t i = 0; i < k->n_slices; i++) {
            int64_t *sl = slice_entry(c, k, i);
            if (sl[0] >= e) break;
            if (sl[0] < s || sl[1] == 0) continue;
            n += sl[1];
            if (merge_block(c, acc, sl + 2)) fail_nomem(c);
        }
        if (n != 0) {
            win w = {.start = s, .end = e};
            emit_row(c, k, &w, acc, WEIR_PANE_ON_TIME, 0, true, WEIR_OP_INSERT);
        }
        /* drop the slices whose every window has now fired */
        int64_t keep_from = sat_add(e, period) - size;
        while (k->n_slices && slice_entry(c, k, 0)[0] < keep_from) {
            agg_finish(&c->cfg->aggs, slice_entry(c, k, 0) + 2);
            k->head++;
            k->n_slices--;
        }
        if (k->n_slices == 0) {
            k->head = 0;
            k->next_due = INT64_MAX;
            break;
        }
        int64_t next = end_after(c, e);
        int64_t first = slice_entry(c, k, 0)[0];
        int64_t by_data = end_after(c, first);
        k->next_due = next > by_data ? next : by_data;
    }
}

static void slice_advance(combine *c, int64_t wm)
{
    const timer_entry *t;
    while ((t = timer_heap_top(&c->key_timers)) && t->time <= wm) {
        timer_entry te = timer_heap_pop(&c->key_timers);
        keyent *k = te.target;
        k->n_timers--;
        if (te.time == k->next_due) {
            key_changing(c, k);
            slice_fire(c, k, wm);
            if (k->next_due != INT64_MAX && timer_heap_push(&c->key_timers, k->next_due, k) == 0)
                k->n_timers++;
        }
        if (k->n_slices == 0 && k->n_timers == 0) key_remove(c, k);
    }
}

/* ---- checkpoints ----
 *
 * What a snapshot holds (format version 1, in the snapshot writer's encoding):
 *   WEIR_SNAP_SHARED: u32 version, u64 fingerprint of the configuration (below), i64 input
 *     watermark, i64 output watermark, u64 next key sequence number.
 *   one section per key group with keys: u32 version, u64 fingerprint, u32 keys, then per key
 *     its n_group values, u64 creation sequence, i64 next_due (fast slicing: the next window
 *     end with data), u32 slices and per slice i64 start, i64 rows, the aggregate block; then,
 *     unless fast slicing (no window records), u32 windows and per window (sorted by start)
 *     i64 start, i64 end, u32 pending, u32 next_index, u32 last_index, u8 flags, u8
 *     last_timing, the pane's block (when windows hold one), the last emitted block
 *     (retracting), per trigger node (non-default triggers) i64 v, u8 finished, u8 idx, u8
 *     phase, and u32 processing-time timers with their i64 times. Blocks are agg_snapshot's
 *     encoding.
 * The heaps are not written. A key's event-time timer is rebuilt from its windows by
 * key_reschedule: the live entry may be earlier (an earlier visit stands in key_schedule), but
 * a visit before that deadline finds nothing due, so the firings are the same. A fast-slicing
 * key's timer is its next_due. The processing-time entries of a live window are written as
 * they stand, stale ones included (a stale entry still makes the window be evaluated at its
 * time); those of merged-away windows are not (they evaluate nothing).
 *
 * Keys go under weir_key_group of their values, which is the exchange's hash (key_hash) mod
 * WEIR_KEY_GROUPS; a Combine without group fields has one key, and the exchange sends all its
 * rows to worker 0, the owner of group 0 at any worker count: it goes under group 0.
 *
 * Lazy snapshots (weir_operator_class.snapshot_more). The pause at the checkpoint writes only
 * the shared section and a sorted copy of the processing-time heap; the keys follow in
 * snapshot_more calls between batches, a walk of the hash table from a cursor, each call's
 * keys grouped by key group into one section per group (a group has many sections, each
 * restored on its own). Meanwhile the state must stay what it was at the checkpoint, so
 * every change of a key's state is preceded by key_changing: a record for it (handle_record),
 * its windows firing or collected on a watermark advance (advance, slice_advance), a
 * processing-time firing (on_time); session merges and the key's removal happen under these.
 * A key not yet written is then written at once, in a section of its own. Which keys are
 * written is an epoch: each snapshot bumps it and stamps every key it writes, by the walk or
 * by copy-on-write, and keys created meanwhile are born stamped (they are not part of it).
 * Since every snapshot stamps every key of the table, stamps are the current epoch or the one
 * before, and one byte does. The walk is kept complete while the table changes: a growth of
 * the table starts it over at 0 (the stamps skip what it wrote), and a removal whose
 * backward shift moves a key from ahead of the cursor to behind it writes that key first. An
 * unwritten key's windows are those it had at the checkpoint, so the copy of the
 * processing-time entries finds theirs, as it stood. */

#define SNAP_VERSION 2u
#define SNAP_AHEAD   16 /* table slots the walk prefetches ahead */

static uint64_t fp_mix(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
    return h;
}

/* Everything the layout and meaning of the state depend on. */
static uint64_t config_fingerprint(const combine *c)
{
    const combine_config *cfg = c->cfg;
    uint64_t h = 0xcbf29ce484222325ULL;
    const int64_t wv[] = {c->wf.type,          c->wf.size, c->wf.period, c->wf.offset, c->wf.gap,
                          c->lateness,         c->mode,    cfg->n_group, cfg->aggs.n,  c->n_nodes,
                          cfg->aggs.state_size};
    for (size_t i = 0; i < sizeof wv / sizeof *wv; i++) h = fp_mix(h, (uint64_t)wv[i]);
    for (uint32_t i = 0; i < cfg->n_group; i++) h = fp_mix(h, (uint64_t)(int64_t)cfg->group[i]);
    h = fp_mix(h, (uint64_t)(int64_t)cfg->op_field);
    for (uint32_t i = 0; i < cfg->aggs.n; i++) {
        h = fp_mix(h, cfg->aggs.defs[i].kind);
        h = fp_mix(h, (uint64_t)(int64_t)cfg->aggs.defs[i].field);
    }
    for (uint32_t i = 0; i < c->n_nodes; i++) {
        const tnode *n = &c->nodes[i];
        const int64_t nv[] = {n->type, n->count, n->delay, n->early,
                              n->late, n->of,    n->first, n->n};
        for (size_t j = 0; j < sizeof nv / sizeof *nv; j++) h = fp_mix(h, (uint64_t)nv[j]);
    }
    for (uint32_t i = 0; i < c->n_kids; i++) h = fp_mix(h, c->kids[i]);
    return h;
}

static uint32_t key_group(const combine *c, const keyent *k)
{
    return c->cfg->n_group ? (uint32_t)(k->hash % WEIR_KEY_GROUPS) : 0;
}

/* Whether k holds state (keys left without any wait for their stale timers). */
static bool key_live(const combine *c, const keyent *k)
{
    return c->fast ? k->n_slices > 0 : k->n_win > 0;
}

static int target_cmp(const void *a, const void *b)
{
    const timer_entry *x = a, *y = b;
    uintptr_t p = (uintptr_t)x->target, q = (uintptr_t)y->target;
    if (p != q) return p < q ? -1 : 1;
    return (x->time > y->time) - (x->time < y->time);
}

static int snap_window(const combine *c, const win *w, const timer_entry *pt, size_t n_pt,
                       weir_snap_writer *wr)
{
    const agg_set *aggs = &c->cfg->aggs;
    weir_snap_i64(wr, w->start);
    weir_snap_i64(wr, w->end);
    weir_snap_u32(wr, w->pending);
    weir_snap_u32(wr, w->next_index);
    weir_snap_u32(wr, w->last_index);
    weir_snap_u8(wr, (uint8_t)(w->flags & ~(W_DUE | W_DEAD)));
    weir_snap_u8(wr, w->last_timing);
    if (c->has_cur) agg_snapshot(aggs, win_cur(c, w), wr);
    if (c->mode == WEIR_RETRACTING) agg_snapshot(aggs, win_prev(c, w), wr);
    if (!c->default_trigger) {
        const tstate *s = win_tstate(c, w);
        for (uint32_t i = 0; i < c->n_nodes; i++) {
            weir_snap_i64(wr, s[i].v);
            weir_snap_u8(wr, s[i].finished);
            weir_snap_u8(wr, s[i].idx);
            weir_snap_u8(wr, s[i].phase);
        }
    }
    /* this window's processing-time entries: a run of pt (sorted by target) */
    size_t lo = 0, hi = n_pt;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((uintptr_t)pt[mid].target < (uintptr_t)w)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < n_pt && pt[end].target == w) end++;
    int rc = weir_snap_u32(wr, (uint32_t)(end - lo));
    for (size_t i = lo; i < end; i++) rc = weir_snap_i64(wr, pt[i].time);
    return rc; /* a failed writer fails every later put */
}

static int snap_key(const combine *c, const keyent *k, const timer_entry *pt, size_t n_pt,
                    weir_snap_writer *wr)
{
    for (uint32_t i = 0; i < c->cfg->n_group; i++) weir_snap_value(wr, &k->key[i]);
    weir_snap_u64(wr, k->seq);
    weir_snap_i64(wr, k->next_due);
    int rc = weir_snap_u32(wr, k->n_slices);
    for (uint32_t i = 0; i < k->n_slices; i++) {
        const int64_t *sl = slice_entry(c, k, i);
        weir_snap_i64(wr, sl[0]);
        weir_snap_i64(wr, sl[1]);
        rc = agg_snapshot(&c->cfg->aggs, sl + 2, wr);
    }
    if (!c->fast) {
        rc = weir_snap_u32(wr, k->n_win);
        win **ws = key_wins((keyent *)k);
        for (uint32_t i = 0; i < k->n_win && !rc; i++) rc = snap_window(c, ws[i], pt, n_pt, wr);
    }
    return rc;
}

/* The header of a key group's section: format version, fingerprint, number of keys. */
static int snap_group_header(const combine *c, weir_snap_writer *wr, uint32_t g, uint32_t n)
{
    weir_snap_section(wr, g);
    weir_snap_u32(wr, SNAP_VERSION);
    weir_snap_u64(wr, c->fingerprint);
    return weir_snap_u32(wr, n);
}

/* Copy-on-write: k is about to change (or move) and the snapshot in progress has not written
 * it yet. Returns whether it wrote anything (keys without state are left out). */
static bool snap_cow(combine *c, keyent *k)
{
    k->stamp = c->epoch;
    if (!key_live(c, k)) return false;
    int rc = snap_group_header(c, c->snap_w, key_group(c, k), 1);
    if (!rc) rc = snap_key(c, k, c->snap_pt, c->snap_n_pt, c->snap_w);
    if (rc && !c->snap_rc) c->snap_rc = rc;
    return true;
}

/* The snapshot is complete (or abandoned). */
static void snap_end(combine *c)
{
    c->snap_w = NULL;
    free(c->snap_pt);
    c->snap_pt = NULL;
    c->snap_n_pt = 0;
    free(c->snap_keys);
    c->snap_keys = NULL;
    c->cap_snap_keys = 0;
}

/* Writes the shared section and starts a lazy snapshot of the keys (snapshot_more). */
static int combine_snapshot(weir_operator *op, weir_snap_writer *wr)
{
    combine *c = op->state;
    snap_end(c); /* an unfinished one (there is none: the engine finishes each first) */
    weir_snap_section(wr, WEIR_SNAP_SHARED);
    weir_snap_u32(wr, SNAP_VERSION);
    weir_snap_u64(wr, c->fingerprint);
    weir_snap_i64(wr, c->wm);
    weir_snap_i64(wr, c->out_wm);
    weir_snap_u64(wr, c->slot_seed);
    int rc = weir_snap_u64(wr, c->key_seq);
    if (rc || c->n_keys == 0) return rc;
    /* the processing-time entries as they stand: an unwritten key's are unchanged until it is
     * written, and its windows are the ones it had (a key is written before any change) */
    size_t n_pt = c->proc_timers.n;
    if (n_pt) {
        c->snap_pt = malloc(n_pt * sizeof *c->snap_pt);
        if (!c->snap_pt) return WEIR_ENOMEM;
        memcpy(c->snap_pt, c->proc_timers.e, n_pt * sizeof *c->snap_pt);
        qsort(c->snap_pt, n_pt, sizeof *c->snap_pt, target_cmp);
        c->snap_n_pt = n_pt;
    }
    c->epoch++; /* every key has the previous stamp: each snapshot stamps all of them */
    hot_slots_bump(&c->hot); /* a key's next change must go through key_changing first */
    c->snap_w = wr;
    c->snap_cursor = 0;
    c->snap_rc = 0;
    return WEIR_SNAP_MORE;
}

/* Walks the table on from the cursor: up to `budget` keys not written yet (0: all), and at
 * most 4 x budget + 256 table slots (a walk over many keys already written by copy-on-write,
 * or started over, stays short), written by key group, one section per group. */
static int combine_snapshot_more(weir_operator *op, weir_snap_writer *wr, uint32_t budget)
{
    combine *c = op->state;
    if (!c->snap_w) return 0;
    c->snap_w = wr;
    if (c->snap_rc) {
        int rc = c->snap_rc;
        snap_end(c);
        return rc;
    }
    if (c->test_budget && budget > c->test_budget) budget = c->test_budget;
    /* the keys not written yet are at most n_keys */
    size_t max_keys = budget ? budget : SIZE_MAX, want = budget ? budget : c->n_keys + 1;
    size_t max_slots = budget ? (size_t)budget * 4 + 256 : SIZE_MAX;
    if (c->cap_snap_keys < want) {
        keyent **ks = realloc(c->snap_keys, 2 * want * sizeof *ks);
        if (!ks) {
            snap_end(c);
            return WEIR_ENOMEM;
        }
        c->snap_keys = ks;
        c->cap_snap_keys = want;
    }
    keyent **found = c->snap_keys, **order = c->snap_keys + c->cap_snap_keys;
    size_t n = 0;
    for (size_t scanned = 0; c->snap_cursor < c->table_cap && n < max_keys && scanned < max_slots;
         scanned++) {
        /* the walk is a cache miss per key (and the key's values another): fetch ahead */
        if (c->snap_cursor + SNAP_AHEAD < c->table_cap) {
            const keyent *ahead = c->table[c->snap_cursor + SNAP_AHEAD];
            if (ahead) {
                __builtin_prefetch(ahead);
                __builtin_prefetch((const char *)ahead + 64);
            }
        }
        keyent *k = c->table[c->snap_cursor++];
        if (!k || k->stamp == c->epoch) continue;
        k->stamp = c->epoch;
        if (key_live(c, k)) found[n++] = k;
    }
    /* by group: counting sort */
    uint32_t start[WEIR_KEY_GROUPS + 1] = {0};
    for (size_t i = 0; i < n; i++) start[key_group(c, found[i]) + 1]++;
    for (uint32_t g = 0; g < WEIR_KEY_GROUPS; g++) start[g + 1] += start[g];
    uint32_t fill[WEIR_KEY_GROUPS];
    memcpy(fill, start, sizeof fill);
    for (size_t i = 0; i < n; i++) order[fill[key_group(c, found[i])]++] = found[i];
    int rc = 0;
    for (uint32_t g = 0; g < WEIR_KEY_GROUPS && !rc; g++) {
        if (start[g] == start[g + 1]) continue;
        rc = snap_group_header(c, wr, g, start[g + 1] - start[g]);
        for (uint32_t i = start[g]; i < start[g + 1] && !rc; i++) {
            if (i + 8 < n && order[i + 8]->n_win) { /* its first window, 2 lines */
                const char *w0 = (const char *)*key_wins(order[i + 8]);
                __builtin_prefetch(w0);
                __builtin_prefetch(w0 + 64);
            }
            rc = snap_key(c, order[i], c->snap_pt, c->snap_n_pt, wr);
        }
    }
    TEST_COUNT(c, calls, 1);
    TEST_COUNT(c, keys, n);
    if (!rc && c->snap_cursor < c->table_cap) return WEIR_SNAP_MORE;
    snap_end(c);
    return rc;
}

static int corrupt(combine *c, const char *what)
{
    return weir_operator_fail(c->op, WEIR_ECORRUPT, "%s: checkpoint state is corrupt (%s)",
                              c->op->name, what);
}

/* Reads a count of items of at least min_bytes each; 0 with r bad when they cannot be there. */
static uint32_t get_count(weir_snap_reader *r, size_t min_bytes)
{
    uint32_t n = weir_snap_get_u32(r);
    if ((size_t)(r->end - r->p) / min_bytes < n) {
        r->bad = true;
        return 0;
    }
    return n;
}

static int restore_window(combine *c, keyent *k, weir_snap_reader *r)
{
    const agg_set *aggs = &c->cfg->aggs;
    int64_t start = weir_snap_get_i64(r), end = weir_snap_get_i64(r);
    if (!weir_snap_ok(r)) return corrupt(c, "truncated window");
    if (k->n_win && start <= key_wins(k)[k->n_win - 1]->start)
        return corrupt(c, "windows out of order");
    win *w = win_insert(c, k, k->n_win, start, end);
    if (!w) return WEIR_ENOMEM;
    w->pending = weir_snap_get_u32(r);
    w->next_index = weir_snap_get_u32(r);
    w->last_index = weir_snap_get_u32(r);
    w->flags = (uint8_t)(weir_snap_get_u8(r) & ~(W_DUE | W_DEAD));
    w->last_timing = weir_snap_get_u8(r);
    if (c->has_cur && agg_restore(aggs, win_cur(c, w), r)) return WEIR_ENOMEM;
    if (c->mode == WEIR_RETRACTING && agg_restore(aggs, win_prev(c, w), r)) return WEIR_ENOMEM;
    if (!c->default_trigger) {
        tstate *s = win_tstate(c, w);
        for (uint32_t i = 0; i < c->n_nodes; i++) {
            s[i].v = weir_snap_get_i64(r);
            s[i].finished = weir_snap_get_u8(r);
            s[i].idx = weir_snap_get_u8(r);
            s[i].phase = weir_snap_get_u8(r);
        }
    }
    uint32_t n = get_count(r, sizeof(int64_t));
    for (uint32_t i = 0; i < n && !c->status; i++) proc_timer(c, w, weir_snap_get_i64(r));
    if (c->status) return c->status;
    return weir_snap_ok(r) ? 0 : corrupt(c, "truncated window");
}

static int restore_key(combine *c, uint32_t group, weir_value *vals, weir_snap_reader *r)
{
    const agg_set *aggs = &c->cfg->aggs;
    uint32_t ng = c->cfg->n_group;
    for (uint32_t i = 0; i < ng; i++) vals[i] = weir_snap_get_value(r);
    uint64_t seq = weir_snap_get_u64(r);
    int64_t next_due = weir_snap_get_i64(r);
    if (!weir_snap_ok(r)) return corrupt(c, "truncated key");
    if ((ng ? weir_key_group(vals, ng) : 0) != group) return corrupt(c, "key in a wrong group");
    uint64_t h = key_hash(c, vals, false);
    if (key_find(c, vals, false, h, false)) return corrupt(c, "key restored twice");
    keyent *k = key_find(c, vals, false, h, true); /* copies the strings */
    if (!k) return WEIR_ENOMEM;
    k->seq = seq;
    if (seq >= c->key_seq) c->key_seq = seq + 1;
    uint32_t n_slices = get_count(r, 2 * sizeof(int64_t));
    if (n_slices && !c->slice_size) return corrupt(c, "slices without sliding windows");
    if (n_slices) {
        uint8_t lg = 0;
        while (((uint32_t)1 << lg) < n_slices) lg++;
        k->slices = malloc(((size_t)1 << lg) * c->slice_size);
        if (!k->slices) return WEIR_ENOMEM;
        k->slices_log2 = lg;
        for (uint32_t i = 0; i < n_slices; i++) {
            int64_t *sl = (int64_t *)(k->slices + (size_t)i * c->slice_size);
            agg_init(aggs, sl + 2);
            k->n_slices++; /* freed with the key from here on */
            sl[0] = weir_snap_get_i64(r);
            sl[1] = weir_snap_get_i64(r);
            if (agg_restore(aggs, sl + 2, r)) return WEIR_ENOMEM;
            if (i && sl[0] <= slice_entry(c, k, i - 1)[0]) return corrupt(c, "slices out of order");
        }
    }
    if (c->fast) {
        if (!weir_snap_ok(r)) return corrupt(c, "truncated key");
        if (k->n_slices == 0) {
            key_remove(c, k);
            return 0;
        }
        key_timer(c, k, next_due); /* k->next_due is INT64_MAX on creation */
        return c->status;
    }
    uint32_t n_win = get_count(r, 2 * sizeof(int64_t));
    for (uint32_t i = 0; i < n_win; i++) {
        int rc = restore_window(c, k, r);
        if (rc) return rc;
    }
    if (!weir_snap_ok(r)) return corrupt(c, "truncated key");
    if (k->n_win == 0) {
        key_remove(c, k);
        return 0;
    }
    key_reschedule(c, k);
    return c->status;
}

static int combine_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    combine *c = op->state;
    hot_slots_bump(&c->hot);
    uint32_t version = weir_snap_get_u32(r);
    uint64_t fp = weir_snap_get_u64(r);
    if (!weir_snap_ok(r)) return corrupt(c, "truncated header");
    if (version != SNAP_VERSION)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: checkpoint state has format version %u; this weir reads "
                                  "version %u",
                                  op->name, version, SNAP_VERSION);
    if (fp != c->fingerprint)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: the checkpoint was taken with another configuration of "
                                  "this Combine (key, window, trigger or aggregates); start over "
                                  "without it",
                                  op->name);
    if (group == WEIR_SNAP_SHARED) {
        int64_t wm = weir_snap_get_i64(r), out_wm = weir_snap_get_i64(r);
        uint64_t seed = weir_snap_get_u64(r), seq = weir_snap_get_u64(r);
        if (!weir_snap_done(r)) return corrupt(c, "shared section");
        if (c->n_keys) return corrupt(c, "shared section after keys");
        /* a seed unlike any old table's (see home_slot): the keys come in their old slot order */
        uint64_t next = weir__mix64(seed + 0x9e3779b97f4a7c15ULL);
        if (!c->restored_shared || next > c->slot_seed) c->slot_seed = next;
        /* several old instances: the minimum of their watermarks */
        if (!c->restored_shared || wm < c->wm) c->wm = wm;
        if (!c->restored_shared || out_wm < c->out_wm) c->out_wm = out_wm;
        if (seq > c->key_seq) c->key_seq = seq;
        c->restored_shared = true;
        c->sent_wm = WEIR_TIME_MIN; /* downstream's watermark starts over: tell it ours */
        return 0;
    }
    if (group >= WEIR_KEY_GROUPS) return corrupt(c, "unknown section");
    uint32_t n = get_count(r, 2 * sizeof(uint64_t));
    /* sections are many (a lazy snapshot writes each copied-on-write key in its own) */
    weir_value few[8], *vals = c->cfg->n_group <= 8 ? few : malloc(c->cfg->n_group * sizeof *vals);
    if (!vals) return weir_operator_fail(op, WEIR_ENOMEM, "%s: out of memory", op->name);
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) rc = restore_key(c, group, vals, r);
    if (vals != few) free(vals);
    if (rc == WEIR_ENOMEM) fail_nomem(c);
    if (!rc && !weir_snap_done(r)) rc = corrupt(c, "section longer than its keys");
    return rc;
}

/* ---- the operator ---- */

/* The per-record path is a chain of dependent loads (the key's table slot, its entry, its
 * window), each a cache miss once the state outgrows L1: done one record after the other they
 * add up to most of a record's time. The keys' hashes are therefore computed for the whole
 * batch first, and the loop fetches ahead: the slot of the record PF_SLOT rows on, the entry
 * of the one PF_KEY on (its slot fetched by then), the first window of the one PF_WIN on. These
 * are hints only: a key not found at its home slot, or a table that grew, just misses. */
enum { PF_SLOT = 12, PF_KEY = 6, PF_WIN = 3 };
enum { PF_MIN_TABLE = 1 << 16 }; /* smaller tables stay in cache: no fetching ahead */

static inline void prefetch_ahead(const combine *c, const weir_batch *b, uint32_t r)
{
    size_t mask = c->table_cap - 1;
    if (r + PF_SLOT < b->n_rows)
        __builtin_prefetch(&c->table[home_slot(c, c->hashes[r + PF_SLOT], mask)]);
    if (r + PF_KEY < b->n_rows) {
        const keyent *k = c->table[home_slot(c, c->hashes[r + PF_KEY], mask)];
        if (k) {
            __builtin_prefetch(k);
            __builtin_prefetch((const char *)k + 64);
        }
    }
    if (r + PF_WIN < b->n_rows) {
        const keyent *k = c->table[home_slot(c, c->hashes[r + PF_WIN], mask)];
        if (k && c->fast && k->n_slices) { /* fast slicing: the key's last slice */
            const char *e = (const char *)slice_entry(c, k, k->n_slices - 1);
            __builtin_prefetch(e);
            __builtin_prefetch(e + 63);
        } else if (k && k->cap_win <= 1 && k->w.one) {
            __builtin_prefetch(k->w.one);
            __builtin_prefetch((const char *)k->w.one + 64);
        }
    }
}

/* A record not kept in any window: counted late, and sent to the late output when it is used.
 * false when flushing a full late batch failed. */
static bool late_row(combine *c, const weir_batch *b, uint32_t r, uint64_t *late)
{
    *late += c->lifted ? (uint64_t)c->lift_records : 1; /* a partial row: its records */
    if (!c->late) return true;
    if (weir_batch_full(c->late) && flush(c)) return false;
    weir_value *lr = weir_batch_append(c->late, b->ts[r], c->out_wm);
    memcpy(lr, weir_batch_row(b, r), sizeof *lr * b->schema->n_fields);
    if (c->late->raw && b->raw) c->late->raw[c->late->n_rows - 1] = b->raw[r];
    return true;
}

/* Rows [r, end) of b (no watermark mark among them), one record at a time. Returns the row it
 * stopped at (end, or earlier on failure: c->status, or a failed flush of late rows). ahead: the
 * batch's hashes are in c->hashes, and the loop fetches ahead (prefetch_ahead). */
static uint32_t process_rows(combine *c, const weir_batch *b, uint32_t r, uint32_t end, int64_t now,
                             uint64_t *late, bool ahead)
{
    for (; r < end && !c->status; r++) {
        if (b->wm[r] > c->wm) advance(c, b->wm[r]);
        const weir_value *row = weir_batch_row(b, r);
        if (ahead) prefetch_ahead(c, b, r);
        uint64_t h = ahead ? c->hashes[r] : key_hash(c, row, true);
        bool dropped_some;
        if (!handle_record(c, row, h, b->ts[r], now, &dropped_some) && !late_row(c, b, r, late))
            break;
    }
    return r;
}

/* Rows [r, end) of b when lifted: each is a partial aggregate (combine_lift.c), decoded into
 * c->lift_block, then handled as a record of its event time (the last instant of its slice or
 * window, so it falls in the same windows as the records it sums up). */
static uint32_t process_lifted(combine *c, const weir_batch *b, uint32_t r, uint32_t end,
                               int64_t now, uint64_t *late)
{
    const uint32_t ng = c->cfg->n_group, words = c->agg_size / 8;
    for (; r < end && !c->status; r++) {
        const weir_value *row = weir_batch_row(b, r);
        int64_t *blk = c->lift_block;
        for (uint32_t i = 0; i < words; i++) blk[i] = row[ng + i].as.i;
        c->lift_records = row[ng + words].as.i;
        uint32_t stop = process_rows(c, b, r, r + 1, now, late, false);
        if (stop == r) break;
    }
    return r;
}

/* ---- the fast paths ----
 *
 * Most records of most pipelines take one path: a key seen before, its window (or slice) open
 * and on time, a count or integer sum to add. The general path above decides this anew for every
 * record, through every option (change-log signs, triggers, lateness, sessions, several key
 * fields), and at some 300 instructions a record it was where the COST benchmark spent its time.
 * For the two configurations most used, a loop per batch does only that work and hands every
 * other record (a new key or window, a late record, a non-integer key) to handle_record, in
 * order, so the state and the output are exactly the general path's:
 *   - FAST_FIXED: fixed windows, the default trigger, one group field, no change-log input. A
 *     record of an existing key whose last window is the record's and has not fired on time is
 *     added to it.
 *   - FAST_SLIDING: fast slicing (sliding windows, default trigger, no lateness), one group
 *     field, no change-log input. A record whose slice is its key's last one, and which no
 *     window of it has passed (the watermark is below the slice's end), is added to it.
 *
 * While the keys are few (HOT_MAX_KEYS), the blocks (FAST_FIXED) or slice entries (FAST_SLIDING)
 * the loop added to are cached by integer key in hot slots (hot_slots.h), and hot_run takes the
 * runs of records that hit them in a loop of a few instructions a record. A cached pointer is
 * right for as long as the generation it was put in, by this invariant: the open span does not
 * change (RELOAD bumps the generation when it does), no snapshot starts (combine_snapshot and
 * combine_restore bump it), and the key takes no other path. The last holds without a bump: a
 * window or slice of the open span cannot fire, be collected or move while the watermark is
 * below the span's end (hot_run stops at a rising watermark, and the span then ends or stays);
 * any other record of the key is either the same fast case (which leaves the pointer right) or
 * outside the open span, and so changes the span first. Debug builds check the invariant at
 * every hit (hot_slot_right).
 */

/* key_hash of a one-field key holding the integer *v. */
static inline uint64_t int_key_hash(const weir_value *v)
{
    return weir_value_hash(v, WEIR__KEY_SEED);
}

/* The slice of time t as the fast sliding path needs it: [lo, hi) and the first window end
 * after it (where the key's timer must be at most). */
static inline void fast_slice_at(combine *c, int64_t t)
{
    c->fslice_due = end_after(c, span_start(&c->fslice, t, c->slice, c->wf.offset));
}

/* What hot_slot_right needs of the run it checks. */
typedef struct hot_ctx {
    combine *c;
    int64_t lo; /* the open span's start */
    int kind;   /* FAST_FIXED or FAST_SLIDING */
} hot_ctx;

#ifndef NDEBUG
/* Whether acc is what the table says a record of key kv at the open span adds to: the
 * invariant of the hot slots, checked at every hit in debug builds (hot_run.h). */
static bool hot_slot_right(const void *ctx, const weir_value *kv, const int64_t *acc)
{
    const hot_ctx *x = ctx;
    combine *c = x->c;
    const weir_value *row = kv - c->group[0];
    keyent *k = key_find(c, row, true, key_hash(c, row, true), false);
    if (!k || (c->snap_w && k->stamp != c->epoch)) return false;
    if (x->kind == FAST_FIXED) {
        win *w = k->n_win ? key_wins(k)[k->n_win - 1] : NULL;
        return w && win_cur(c, w) == acc && w->start == x->lo && w->pending &&
               !(w->flags & (W_ONTIME_DONE | W_CLOSED));
    }
    const int64_t *e = k->n_slices ? slice_entry(c, k, k->n_slices - 1) : NULL;
    return e == acc && e[0] == x->lo && k->next_due <= c->fslice_due;
}
#define HOT_CHECK hot_slot_right
#else
#define HOT_CHECK NULL
#endif

/* The commonest case alone (hot_run.h): rows [r, end) of b as long as each is a hot slot's, its
 * time in the open span [lo, lo + width), the watermark not rising before it. A slot leads to
 * the block (FAST_FIXED) or to the slice entry: [start][rows][block] (FAST_SLIDING). For the
 * plans of agg_shape_known, one function each: */
#define COMBINE_HOT(suffix, np, shape)                                                             \
    static __attribute__((noinline))                                                               \
    uint32_t hot_fixed_##suffix(combine *c, const weir_batch *b, uint32_t r, uint32_t end,         \
                                int64_t wm, int64_t lo, uint64_t width, const agg_step *plan)      \
    {                                                                                              \
        hot_ctx x = {c, lo, FAST_FIXED};                                                           \
        return hot_run_rows(b, r, end, c->group[0], wm, lo, width, &c->hot, plan, np, shape, 0,    \
                            -1, HOT_CHECK, &x);                                                    \
    }                                                                                              \
    static __attribute__((noinline))                                                               \
    uint32_t hot_sliding_##suffix(combine *c, const weir_batch *b, uint32_t r, uint32_t end,       \
                                  int64_t wm, int64_t lo, uint64_t width, const agg_step *plan)    \
    {                                                                                              \
        hot_ctx x = {c, lo, FAST_SLIDING};                                                         \
        return hot_run_rows(b, r, end, c->group[0], wm, lo, width, &c->hot, plan, np, shape, 2, 1, \
                            HOT_CHECK, &x);                                                        \
    }
HOT_RUN_PLANS(COMBINE_HOT)
#undef COMBINE_HOT

/* The same for every other plan (np steps, 0: agg_add), inline: the general adds, which may
 * run out of memory (then UINT32_MAX, after fail_nomem). */
static inline __attribute__((always_inline)) uint32_t
hot_run(combine *c, const weir_batch *b, uint32_t r, uint32_t end, int64_t wm, int64_t lo,
        uint64_t width, const agg_step *plan, const int kind, const uint32_t np,
        const uint32_t shape)
{
    if (kind == FAST_FIXED)
        HOT_RUN_PICK(np, shape, hot_fixed, c, b, r, end, wm, lo, width, plan);
    else
        HOT_RUN_PICK(np, shape, hot_sliding, c, b, r, end, wm, lo, width, plan);
    const agg_set *aggs = &c->cfg->aggs;
    const size_t nf = b->schema->n_fields;
    const hot_slot *hs = c->hot.s;
    const uint32_t hshift = c->hot.shift;
    const uint64_t tag = hot_gen_tag(c->hot.gen);
    const weir_value *row = weir_batch_row(b, r);
    hot_ctx x = {c, lo, kind};
    (void)x;
    for (; r < end; r++, row += nf) {
        const weir_value *kv = &row[c->group[0]];
        if (b->wm[r] > wm || kv->type != WEIR_TYPE_INT ||
            (uint64_t)b->ts[r] - (uint64_t)lo >= width)
            break;
        const uint64_t p = hot_slots_lookup(hs, hshift, tag, kv->as.i);
        if (p > HOT_PTR_MASK) break;
        int64_t *acc = (int64_t *)(uintptr_t)p;
        assert(hot_slot_right(&x, kv, acc));
        if (kind == FAST_SLIDING) acc[1]++;
        void *block = kind == FAST_FIXED ? acc : acc + 2;
        if (np ? agg_add_planned(aggs, plan, np, shape, block, row) : agg_add(aggs, block, row, 1))
            return fail_nomem(c), UINT32_MAX;
    }
    return r;
}

/* The loop, for one kind (FAST_FIXED or FAST_SLIDING) and a plan of np steps (0: none, the
 * aggregates are added by agg_add), both constants where it is instantiated (process_fast), so
 * that the compiler drops the other kind's code and unrolls the plan. ahead: the hashes of the
 * batch were computed ahead (c->hashes) and the loop fetches ahead. */
static inline __attribute__((always_inline)) uint32_t
fast_loop(combine *c, const weir_batch *b, uint32_t r, uint32_t end, int64_t now, uint64_t *late,
          bool ahead, const int kind, const uint32_t np, const uint32_t shape)
{
    const uint32_t nf = b->schema->n_fields, g = c->group[0];
    const agg_set *aggs = &c->cfg->aggs;
    agg_step plan[AGG_PLAN_MAX];
    memcpy(plan, aggs->plan, sizeof plan);
    /* What the fast case reads of c, in locals: the compiler cannot keep fields of c in registers
     * across the states' updates (an int64_t store might alias them). Reloaded after anything
     * that may change them: advance(), the general path. */
    const span_cache *span = kind == FAST_FIXED ? &c->win_span : &c->fslice; /* the open one */
    int64_t wm, lo;
    uint64_t width; /* a record is in the open span when (uint64_t)(t - lo) < width */
    keyent **table;
    size_t mask;
    uint64_t seed; /* home_slot's: slot_of(h, seed, shift) */
    unsigned shift;
    /* the hot slots (hot_slots.h), while the keys are few enough for them to stay in cache */
    const bool hot = c->n_keys <= HOT_MAX_KEYS;
#define RELOAD()                                                                                   \
    do {                                                                                           \
        if (span->lo != c->hot_lo) { /* another open span: every cached block is another's */      \
            hot_slots_bump(&c->hot);                                                               \
            c->hot_lo = span->lo;                                                                  \
        }                                                                                          \
        wm = c->wm;                                                                                \
        table = c->table;                                                                          \
        mask = c->table_cap - 1;                                                                   \
        seed = c->slot_seed;                                                                       \
        shift = table ? 64 - (unsigned)__builtin_ctzll(c->table_cap) : 0;                          \
        lo = span->lo;                                                                             \
        int64_t hi = span->hi;                                                                     \
        /* empty unless open, on time, and a table to look in */                                   \
        width = lo < hi && wm < hi && table ? (uint64_t)hi - (uint64_t)lo : 0;                     \
    } while (0)
    RELOAD();
    if (c->status) return r; /* e.g. an advance() for a mark just before */
    const weir_value *row = weir_batch_row(b, r);
    for (; r < end; r++, row += nf) {
        if (b->wm[r] > wm) {
            advance(c, b->wm[r]);
            if (c->status) break;
            RELOAD();
        }
        if (hot && c->hot.s && width) {
            uint32_t next = hot_run(c, b, r, end, wm, lo, width, plan, kind, np, shape);
            if (next == UINT32_MAX) return r;
            if (next != r) { /* row next is not the run's: its watermark first (the loop's top) */
                TEST_COUNT(c, hot, next - r);
                row += (size_t)(next - r - 1) * nf;
                r = next - 1;
                continue;
            }
        }
        if (ahead) prefetch_ahead(c, b, r);
        const weir_value *kv = &row[g];
        int64_t t = b->ts[r];
        if (kv->type == WEIR_TYPE_INT && (uint64_t)t - (uint64_t)lo < width) {
            uint64_t h = ahead ? c->hashes[r] : int_key_hash(kv);
            keyent *k = NULL;
            for (size_t j = slot_of(h, seed, shift); table[j]; j = (j + 1) & mask)
                if (table[j]->hash == h && (table[j]->flags & K_INT1)) {
                    k = table[j]; /* one integer field: its hash is a bijection of it */
                    break;
                }
            if (kind == FAST_FIXED) {
                win *w = k && k->n_win ? key_wins(k)[k->n_win - 1] : NULL;
                if (w && w->start == lo && !(w->flags & (W_ONTIME_DONE | W_CLOSED))) {
                    key_changing(c, k);
                    void *block = win_cur(c, w);
                    if (np ? agg_add_planned(aggs, plan, np, shape, block, row)
                           : agg_add(aggs, block, row, 1))
                        return fail_nomem(c), r;
                    if (!w->pending) w->pending = 1; /* only "any?" matters (see add_to) */
                    /* until the generation moves on or the key takes the general path, its
                     * next records are the same case: w is its last window, open, on time,
                     * pending, written by this snapshot (key_changing) */
                    if (hot) hot_slots_put(&c->hot, kv->as.i, block);
                    continue;
                }
            } else {
                int64_t *e = k && k->n_slices ? slice_entry(c, k, k->n_slices - 1) : NULL;
                if (e && e[0] == lo) {
                    key_changing(c, k);
                    e[1]++;
                    if (np ? agg_add_planned(aggs, plan, np, shape, e + 2, row)
                           : agg_add(aggs, e + 2, row, 1))
                        return fail_nomem(c), r;
                    if (c->fslice_due < k->next_due) {
                        key_timer(c, k, c->fslice_due);
                        if (c->status) return r + 1;
                    }
                    /* likewise: e is its last slice, the one open, its timer at most due */
                    if (hot) hot_slots_put(&c->hot, kv->as.i, e);
                    continue;
                }
            }
        } else if (kind == FAST_SLIDING && (t < c->fslice.lo || t >= c->fslice.hi) &&
                   t != INT64_MAX) {
            fast_slice_at(c, t); /* and this record takes the general path */
        }
        bool dropped_some;
        uint64_t h = ahead ? c->hashes[r] : key_hash(c, row, true);
        if (!handle_record(c, row, h, t, now, &dropped_some) && !late_row(c, b, r, late)) break;
        if (c->status) break;
        RELOAD();
    }
#undef RELOAD
    return r;
}

#define FAST_LOOP(kind, np, shape) fast_loop(c, b, r, end, now, late, ahead, kind, np, shape)
/* instances for the commonest plans: one or two steps, each the count of records or a sum (the
 * shape names them, AGG_STEP_* 2 bits a step), else by the steps' number only */
#define FAST_LOOPS(kind)                                                                           \
    do {                                                                                           \
        uint32_t np = c->cfg->aggs.n_plan, shape = agg_plan_shape(&c->cfg->aggs);                  \
        switch (np * 16 + shape) {                                                                 \
        case 16 + AGG_STEP_COUNT: return FAST_LOOP(kind, 1, AGG_STEP_COUNT);                       \
        case 16 + AGG_STEP_SUM: return FAST_LOOP(kind, 1, AGG_STEP_SUM);                           \
        case 32 + (AGG_STEP_COUNT | AGG_STEP_SUM << 2):                                            \
            return FAST_LOOP(kind, 2, AGG_STEP_COUNT | AGG_STEP_SUM << 2);                         \
        case 32 + (AGG_STEP_SUM | AGG_STEP_COUNT << 2):                                            \
            return FAST_LOOP(kind, 2, AGG_STEP_SUM | AGG_STEP_COUNT << 2);                         \
        case 32 + (AGG_STEP_SUM | AGG_STEP_SUM << 2):                                              \
            return FAST_LOOP(kind, 2, AGG_STEP_SUM | AGG_STEP_SUM << 2);                           \
        }                                                                                          \
        switch (np) {                                                                              \
        case 1: return FAST_LOOP(kind, 1, 0);                                                      \
        case 2: return FAST_LOOP(kind, 2, 0);                                                      \
        case 3: return FAST_LOOP(kind, 3, 0);                                                      \
        default: return FAST_LOOP(kind, 0, 0);                                                     \
        }                                                                                          \
    } while (0)

static uint32_t process_fast(combine *c, const weir_batch *b, uint32_t r, uint32_t end, int64_t now,
                             uint64_t *late, bool ahead)
{
    if (c->fast_kind == FAST_FIXED) FAST_LOOPS(FAST_FIXED);
    FAST_LOOPS(FAST_SLIDING);
}

#undef FAST_LOOPS
#undef FAST_LOOP

static int combine_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    combine *c = op->state;
    bool need_now = !c->default_trigger;
    int64_t now = need_now ? weir_operator_now(op) : 0;
    uint64_t late = 0;
    uint32_t m = 0;
    bool ahead = c->table_cap >= PF_MIN_TABLE; /* see prefetch_ahead */
    if (ahead && b->n_rows > c->cap_hashes) {
        uint64_t *h = realloc(c->hashes, b->n_rows * sizeof *h);
        if (!h) return fail_nomem(c), c->status;
        c->hashes = h;
        c->cap_hashes = b->n_rows;
    }
    if (ahead)
        for (uint32_t r = 0; r < b->n_rows; r++)
            c->hashes[r] = key_hash(c, weir_batch_row(b, r), true);
    for (uint32_t r = 0; r < b->n_rows && !c->status;) {
        for (; m < b->n_marks && b->mark_at[m] <= r; m++) advance(c, b->mark_wm[m]);
        uint32_t end = m < b->n_marks && b->mark_at[m] < b->n_rows ? b->mark_at[m] : b->n_rows;
        uint32_t stop = c->lifted      ? process_lifted(c, b, r, end, now, &late)
                        : c->fast_kind ? process_fast(c, b, r, end, now, &late, ahead)
                                       : process_rows(c, b, r, end, now, &late, ahead);
        if (stop < end) break;
        r = end;
    }
    for (; m < b->n_marks && !c->status; m++) advance(c, b->mark_wm[m]);
    if (late) weir_operator_count_late(op, late);
    if (!c->status && b->wm_after > c->wm) advance(c, b->wm_after);
    if (c->status) return c->status;
    if (b->flags & WEIR_BATCH_END) {
        c->out_wm = WEIR_TIME_MAX;
        if (flush(c)) return c->status;
        weir_batch_clear(c->out);
        c->out->flags = WEIR_BATCH_END;
        c->out->wm_after = WEIR_TIME_MAX;
        int rc = weir_operator_emit(op, c->out);
        if (!rc && c->late) {
            weir_batch_clear(c->late);
            c->late->flags = WEIR_BATCH_END;
            c->late->wm_after = WEIR_TIME_MAX;
            rc = weir_operator_emit_port(op, 1, c->late);
        }
        weir_batch_clear(c->out);
        if (c->late) weir_batch_clear(c->late);
        return rc;
    }
    /* watermark progress travels downstream even when no row does (a pure watermark) */
    if (c->out->n_rows == 0 && c->out_wm > c->sent_wm) {
        c->out->wm_after = c->sent_wm = c->out_wm;
        int rc = weir_operator_emit(op, c->out);
        if (rc) return rc;
    }
    return flush(c);
}

static int combine_on_time(weir_operator *op, int64_t now)
{
    combine *c = op->state;
    const timer_entry *t;
    while ((t = timer_heap_top(&c->proc_timers)) && t->time <= now) {
        win *w = timer_heap_pop(&c->proc_timers).target;
        if (!(w->flags & W_DEAD)) key_changing(c, w->key);
        due_add(c, w);
        proc_timer_done(c, w);
    }
    if (c->n_due) sort_due(c->due, c->n_due);
    for (size_t i = 0; i < c->n_due; i++) {
        win *w = c->due[i];
        w->flags &= ~W_DUE;
        if (w->flags & W_DEAD) continue;
        evaluate(c, w, now);
    }
    c->n_due = 0;
    if ((t = timer_heap_top(&c->proc_timers))) weir_operator_wake_at(op, t->time);
    if (c->status) return c->status;
    return flush(c);
}

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

/* Frees every window and key once: live ones hang off the table, merged-away windows only off
 * processing-time timers, removed keys only off key timers. */
static void free_all(combine *c)
{
    size_t n = c->proc_timers.n + c->key_timers.n;
    for (size_t i = 0; i < c->table_cap; i++)
        if (c->table[i]) n += c->table[i]->n_win;
    void **all = malloc((n ? n : 1) * sizeof *all);
    size_t m = 0;
    if (!all) return; /* leak rather than crash at exit on no memory */
    for (size_t i = 0; i < c->proc_timers.n; i++) all[m++] = c->proc_timers.e[i].target;
    for (size_t i = 0; i < c->table_cap; i++) {
        keyent *k = c->table[i];
        if (!k) continue;
        win **ws = key_wins(k);
        for (uint32_t j = 0; j < k->n_win; j++) all[m++] = ws[j];
    }
    qsort(all, m, sizeof *all, ptr_cmp);
    for (size_t i = 0; i < m; i++)
        if (i == 0 || all[i] != all[i - 1]) win_free(c, all[i]);
    /* removed keys (before the live ones are freed: their flags are read) */
    m = 0;
    for (size_t i = 0; i < c->key_timers.n; i++) {
        keyent *k = c->key_timers.e[i].target;
        if (k->flags & K_REMOVED) all[m++] = k;
    }
    qsort(all, m, sizeof *all, ptr_cmp);
    for (size_t i = 0; i < m; i++)
        if (i == 0 || all[i] != all[i - 1]) free(all[i]);
    for (size_t i = 0; i < c->table_cap; i++) {
        keyent *k = c->table[i];
        if (!k) continue;
        free_slices(c, k);
        if (k->cap_win > 1) free(k->w.many);
        free(k);
        c->table[i] = NULL;
    }
    free(all);
}

static void combine_close(weir_operator *op)
{
    combine *c = op->state;
    if (!c) return;
    snap_end(c); /* a run that failed during a lazy snapshot */
    if (c->table) free_all(c);
    timer_heap_free(&c->proc_timers);
    timer_heap_free(&c->key_timers);
    if (c->scratch_block) agg_finish(&c->cfg->aggs, c->scratch_block);
    free(c->scratch_block);
    free(c->lift_block);
    free(c->lift_group);
    free(c->hashes);
    hot_slots_free(&c->hot);
    free(c->table);
    free(c->due);
    free(c->touched);
    free(c->nodes);
    free(c->kids);
    weir_batch_destroy(c->out);
    weir_batch_destroy(c->late);
    free(c);
    op->state = NULL;
}

static int combine_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    const combine_config *cfg = config;
    combine *c = calloc(1, sizeof *c);
    if (!c) return WEIR_ENOMEM;
    op->state = c;
    c->cfg = cfg;
    c->op = op;
    c->group = cfg->group;
    c->wf = cfg->windowing.window;
    c->lateness = cfg->windowing.allowed_lateness;
    c->mode = cfg->windowing.accumulation;
    c->wm = c->out_wm = c->sent_wm = WEIR_TIME_MIN;
    c->win_span = c->period_span = c->slice_span = c->fslice = (span_cache){INT64_MAX, INT64_MIN};
    const weir_trigger *t = cfg->windowing.trigger;
    c->default_trigger = !t || t->type == WEIR_TRIGGER_DEFAULT;
    c->has_watermark_part = weir_trigger_has_watermark(t);
    if (!c->default_trigger) {
        uint32_t n_kids = 0, n = count_nodes(t, &n_kids);
        c->nodes = calloc(n, sizeof *c->nodes);
        c->kids = calloc(n_kids + 1, sizeof *c->kids);
        if (!c->nodes || !c->kids) return WEIR_ENOMEM;
        compile_node(c, t);
    }
    c->agg_size = cfg->aggs.state_size;
    bool sliding = c->wf.type == WEIR_WINDOW_SLIDING;
    c->fast = sliding && c->default_trigger && c->lateness == 0;
    c->sliced = sliding && !c->fast;
    c->lifted = weir_operator_input_lifted(op, 0);
    hot_slots_init(&c->hot);
    c->hot_lo = INT64_MIN;
    if (c->lifted) { /* partial rows: the key first, then the block (combine_lift.c) */
        c->lift_group = calloc(cfg->n_group + 1, sizeof *c->lift_group);
        c->lift_block = calloc(1, c->agg_size + 8);
        if (!c->lift_group || !c->lift_block) return WEIR_ENOMEM;
        for (uint32_t i = 0; i < cfg->n_group; i++) c->lift_group[i] = (int32_t)i;
        c->group = c->lift_group;
    } else if (cfg->n_group == 1 && cfg->op_field < 0) {
        if (c->wf.type == WEIR_WINDOW_FIXED && c->default_trigger)
            c->fast_kind = FAST_FIXED;
        else if (c->fast)
            c->fast_kind = FAST_SLIDING;
    }
    if (sliding) {
        c->slice = weir__combine_slice_width(&c->wf);
        c->slice_size = 2 * sizeof(int64_t) + c->agg_size;
        c->scratch_block = calloc(1, c->agg_size);
        if (!c->scratch_block) return WEIR_ENOMEM;
    }
    c->has_cur = !c->sliced || c->mode == WEIR_DISCARDING;
    size_t off = sizeof(win);
    if (c->has_cur) {
        c->cur_off = off;
        off += c->agg_size;
    }
    if (c->mode == WEIR_RETRACTING) {
        c->prev_off = off;
        off += c->agg_size;
    }
    c->tstate_off = off;
    c->win_size = off + (c->default_trigger ? 0 : c->n_nodes * sizeof(tstate));
    c->out = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!c->out) return WEIR_ENOMEM;
    if (cfg->late_output && weir_operator_port_used(op, 1)) {
        /* the late port carries the input's rows unchanged */
        c->late = weir_batch_create(cfg->in_schema, weir_operator_batch_size(op));
        if (!c->late) return WEIR_ENOMEM;
    }
    c->fingerprint = config_fingerprint(c);
    c->sparse_below = getenv("WEIR_TEST_DENSE_TABLE") ? 0 : SPARSE_TABLE;
    const char *tb = getenv("WEIR_TEST_SNAPSHOT_BUDGET");
    if (tb && *tb) c->test_budget = (uint32_t)strtoul(tb, NULL, 10);
    const char *fr = getenv("WEIR_TEST_FIRE_ROUND");
    c->fire_round = fr ? (uint32_t)strtoul(fr, NULL, 10) : 0;
    if (!c->fire_round) c->fire_round = FIRE_ROUND_KEYS;
    (void)errbuf;
    (void)errlen;
    return 0;
}

const weir_operator_class weir__combine_class = {
    .name = "Combine",
    .open = combine_open,
    .process = combine_process,
    .on_time = combine_on_time,
    .close = combine_close,
    .snapshot = combine_snapshot,
    .snapshot_more = combine_snapshot_more,
    .restore = combine_restore,
};
