/* operators/combine.c: the windowed, keyed aggregation: window assignment, watermarks, allowed
 * lateness, triggers, panes and the discarding / accumulating / retracting change log, exactly
 * as ../shared/spec/windowing.md describes (section numbers below refer to it).
 *
 * State. A hash table maps each group key to its open windows, kept sorted by start (a key has
 * few: one or two fixed windows, size/period sliding windows, a handful of sessions). A window
 * is one allocation: its bounds and pane bookkeeping, then its aggregate blocks (the current
 * pane's value, and in retracting mode the last emitted value), then one small state per
 * trigger node when the trigger is not the default one.
 *
 * Time. Every input row carries the watermark as it stood before it; the operator advances to
 * that watermark before handling the row, so results never depend on batching (§2). Windows are
 * found through two heaps of timers with lazy cancellation: event time (window end for the
 * watermark part and the hold, end + lateness for garbage collection) and processing time
 * (processing_time trigger deadlines). When the watermark passes several windows at once they
 * fire in order of window end, each its on-time pane and then its GC pane (§4).
 *
 * Triggers are compiled into a flat array of nodes evaluated like Beam's trigger state machines:
 * on_element, should_fire, on_fire, reset, merge; the evaluation points are an element, the
 * watermark passing the window's end, a processing-time deadline, and a session merge.
 *
 * Output rows carry the group fields, the aggregates, window_start, window_end, pane_timing,
 * pane_index, pane_last and op (§7); their event time is window_end - 1, and their watermark is
 * the operator's output watermark as it stood before the advance that fired them (the watermark
 * hold of §7). */
#include "combine.h"
#include "timer_heap.h"
#include "weir/error.h"

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
    W_DEAD = 16,            /* merged away or collected: only timers still point here */
    W_DUE = 32,             /* collected for this advance */
};

typedef struct keyent keyent;

typedef struct win { /* 40 bytes, then the aggregate state */
    int64_t start, end;
    keyent *key;
    uint32_t pending; /* records since the last pane */
    uint32_t next_index;
    uint32_t last_index; /* of the last emitted pane (for -D rows) */
    uint16_t n_timers;
    uint8_t flags;
    uint8_t last_timing; /* of the last emitted pane (for -D rows) */
    /* then: agg blocks [n_blocks], then tstate [n_nodes] */
} win;
_Static_assert(sizeof(win) == 40, "a window record is 40 bytes plus its aggregate");

struct keyent {
    uint64_t hash;
    uint32_t n_win, cap_win;
    win **wins; /* sorted by start */
    uint64_t seq;
    /* slicing mode (see "sliding windows by slicing" below) */
    char *slices;        /* ring of slice states: [count int64][agg block] each */
    uint32_t n_slices;   /* slices held, from slice_first on */
    uint32_t cap_slices; /* ring capacity (power of two) */
    uint32_t head;       /* ring index of slice_first */
    uint16_t n_timers;   /* key timer entries pointing here */
    uint16_t pad;
    int64_t slice_first; /* start of the first slice held */
    int64_t next_due;    /* earliest key timer pending (INT64_MAX: none) */
    weir_value key[];    /* n_group values; strings copied after them */
};

typedef struct combine {
    const combine_config *cfg;
    weir_operator *op;
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
    uint32_t agg_size, n_blocks;
    size_t win_size;
    size_t tstate_off;
    /* keys */
    keyent **table;
    size_t table_cap, n_keys;
    uint64_t key_seq;
    /* time */
    bool slicing;      /* sliding windows by slicing (default trigger, no lateness) */
    int64_t slice;     /* slice width: gcd(size, period) */
    size_t slice_size; /* bytes of one slice: count + agg block */
    timer_heap key_timers;
    void *scratch_block;
    int64_t wm;     /* input watermark */
    int64_t out_wm; /* watermark of the rows emitted */
    timer_heap event_timers, proc_timers;
    win **due;
    size_t n_due, cap_due;
    /* output */
    weir_batch *out, *late;
    int64_t sent_wm;     /* last watermark sent downstream */
    weir_value *scratch; /* aggregate results */
    int status;
} combine;

static inline void *win_block(const combine *c, const win *w, uint32_t i)
{
    return (char *)(w + 1) + (size_t)i * c->agg_size;
}
static inline tstate *win_tstate(const combine *c, const win *w)
{
    return (tstate *)((char *)w + c->tstate_off);
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

static void event_timer(combine *c, win *w, int64_t t)
{
    if (timer_heap_push(&c->event_timers, t, w)) return fail_nomem(c);
    w->n_timers++;
}

static void proc_timer(combine *c, win *w, int64_t t)
{
    if (timer_heap_push(&c->proc_timers, t, w)) return fail_nomem(c);
    w->n_timers++;
    const timer_entry *top = timer_heap_top(&c->proc_timers);
    weir_operator_wake_at(c->op, top->time);
}

/* ---- keys ---- */

static uint64_t key_hash(const combine *c, const weir_value *row)
{
    uint64_t h = 0x51ed270b27a0f1c3ULL;
    for (uint32_t i = 0; i < c->cfg->n_group; i++) h = weir_value_hash(&row[c->cfg->group[i]], h);
    return h;
}

static bool key_equal(const combine *c, const keyent *k, const weir_value *row)
{
    for (uint32_t i = 0; i < c->cfg->n_group; i++)
        if (!weir_value_equal(&k->key[i], &row[c->cfg->group[i]])) return false;
    return true;
}

static int table_grow(combine *c)
{
    size_t cap = c->table_cap ? c->table_cap * 2 : 1024;
    keyent **t = calloc(cap, sizeof *t);
    if (!t) return WEIR_ENOMEM;
    for (size_t i = 0; i < c->table_cap; i++) {
        keyent *k = c->table[i];
        if (!k) continue;
        size_t j = k->hash & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = k;
    }
    free(c->table);
    c->table = t;
    c->table_cap = cap;
    return 0;
}

static keyent *key_find(combine *c, const weir_value *row, uint64_t h, bool create)
{
    if (c->table_cap) {
        size_t j = h & (c->table_cap - 1);
        while (c->table[j]) {
            if (c->table[j]->hash == h && key_equal(c, c->table[j], row)) return c->table[j];
            j = (j + 1) & (c->table_cap - 1);
        }
    }
    if (!create) return NULL;
    if ((c->n_keys + 1) * 4 > c->table_cap * 3 && table_grow(c)) return NULL;
    uint32_t ng = c->cfg->n_group;
    size_t extra = 0;
    for (uint32_t i = 0; i < ng; i++) {
        const weir_value *v = &row[c->cfg->group[i]];
        if (v->type >= WEIR_TYPE_STRING && v->type <= WEIR_TYPE_JSON) extra += v->len + 1;
    }
    keyent *k = malloc(sizeof *k + ng * sizeof(weir_value) + extra);
    if (!k) return NULL;
    *k = (keyent){.hash = h, .seq = c->key_seq++, .next_due = INT64_MAX};
    char *p = (char *)(k->key + ng);
    for (uint32_t i = 0; i < ng; i++) {
        k->key[i] = row[c->cfg->group[i]];
        if (k->key[i].type >= WEIR_TYPE_STRING && k->key[i].type <= WEIR_TYPE_JSON) {
            memcpy(p, k->key[i].as.s, k->key[i].len);
            p[k->key[i].len] = 0;
            k->key[i].as.s = p;
            p += k->key[i].len + 1;
        }
    }
    size_t j = h & (c->table_cap - 1);
    while (c->table[j]) j = (j + 1) & (c->table_cap - 1);
    c->table[j] = k;
    c->n_keys++;
    return k;
}

/* Removes a key with no windows left (backward-shift deletion keeps probing correct). */
static void key_remove(combine *c, keyent *k)
{
    size_t mask = c->table_cap - 1, i = k->hash & mask;
    while (c->table[i] != k) i = (i + 1) & mask;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!c->table[j]) break;
        size_t home = c->table[j]->hash & mask;
        /* move j to i when home is not cyclically in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            c->table[i] = c->table[j];
            i = j;
        }
    }
    c->table[i] = NULL;
    c->n_keys--;
    free(k->wins);
    free(k->slices);
    free(k);
}

/* ---- windows ---- */

static win *win_create(combine *c, keyent *k, int64_t start, int64_t end)
{
    win *w = malloc(c->win_size);
    if (!w) return NULL;
    memset(w, 0, sizeof *w);
    w->start = start;
    w->end = end;
    w->key = k;
    for (uint32_t b = 0; b < c->n_blocks; b++) agg_init(&c->cfg->aggs, win_block(c, w, b));
    if (!c->default_trigger) t_reset(c, win_tstate(c, w), 0);
    /* insert sorted by start */
    if (k->n_win == k->cap_win) {
        uint32_t cap = k->cap_win ? k->cap_win * 2 : 2;
        win **ws = realloc(k->wins, cap * sizeof *ws);
        if (!ws) {
            free(w);
            return NULL;
        }
        k->wins = ws;
        k->cap_win = cap;
    }
    uint32_t pos = k->n_win;
    while (pos > 0 && k->wins[pos - 1]->start > start) pos--;
    memmove(k->wins + pos + 1, k->wins + pos, (k->n_win - pos) * sizeof *k->wins);
    k->wins[pos] = w;
    k->n_win++;
    event_timer(c, w, end);
    if (c->lateness > 0 && gc_time(c, w) != end) event_timer(c, w, gc_time(c, w));
    return w;
}

static void win_free(combine *c, win *w)
{
    if (c->cfg->aggs.owns_memory)
        for (uint32_t b = 0; b < c->n_blocks; b++) agg_finish(&c->cfg->aggs, win_block(c, w, b));
    free(w);
}

/* Takes w out of its key (state dropped); the memory goes when no timer points at it. */
static void win_retire(combine *c, win *w)
{
    keyent *k = w->key;
    for (uint32_t i = 0; i < k->n_win; i++)
        if (k->wins[i] == w) {
            memmove(k->wins + i, k->wins + i + 1, (k->n_win - i - 1) * sizeof *k->wins);
            k->n_win--;
            break;
        }
    w->flags |= W_DEAD;
    w->key = NULL;
    if (k->n_win == 0) key_remove(c, k);
    if (w->n_timers == 0) win_free(c, w);
}

static win *win_find(const keyent *k, int64_t start, int64_t end)
{
    for (uint32_t i = 0; i < k->n_win; i++)
        if (k->wins[i]->start == start && k->wins[i]->end == end) return k->wins[i];
    return NULL;
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
    void *value = win_block(c, w, 0);
    switch (c->mode) {
    case WEIR_DISCARDING:
        emit_row(c, w->key, w, value, timing, index, last, WEIR_OP_INSERT);
        agg_finish(&c->cfg->aggs, value);
        agg_init(&c->cfg->aggs, value);
        break;
    case WEIR_ACCUMULATING:
        emit_row(c, w->key, w, value, timing, index, last,
                 (w->flags & W_EMITTED_BOUNDS) ? WEIR_OP_UPDATE_AFTER : WEIR_OP_INSERT);
        break;
    case WEIR_RETRACTING:
        if (w->flags & W_EMITTED_BOUNDS) {
            emit_row(c, w->key, w, win_block(c, w, 1), timing, index, last, WEIR_OP_UPDATE_BEFORE);
            emit_row(c, w->key, w, value, timing, index, last, WEIR_OP_UPDATE_AFTER);
        } else {
            emit_row(c, w->key, w, value, timing, index, last, WEIR_OP_INSERT);
        }
        if (agg_copy(&c->cfg->aggs, win_block(c, w, 1), value)) fail_nomem(c);
        break;
    }
    w->pending = 0;
    w->next_index++;
    w->last_index = index;
    w->last_timing = (uint8_t)timing;
    w->flags |= W_EMITTED_BOUNDS;
    if (timing != WEIR_PANE_EARLY) w->flags |= W_EMITTED_NONEARLY;
}

/* Evaluates w's trigger and fires if it says so; retires w when the trigger finished. */
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
    win_retire(c, w);
}

static int due_cmp(const void *a, const void *b)
{
    const win *x = *(win *const *)a, *y = *(win *const *)b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    if (x->key->seq != y->key->seq) return x->key->seq < y->key->seq ? -1 : 1;
    return (x->start > y->start) - (x->start < y->start);
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

static void timer_done(combine *c, win *w)
{
    if (--w->n_timers == 0 && (w->flags & W_DEAD)) win_free(c, w);
}

static void slice_advance(combine *c, int64_t wm);
static bool slice_record(combine *c, keyent *k, int64_t t, const weir_value *row, int sign,
                         bool *dropped_some);

/* The output watermark rises: downstream sees this value too, as a mark of the output batch. */
static void set_out_wm(combine *c, int64_t wm)
{
    c->out_wm = wm;
    if (weir_batch_mark(c->out, wm)) fail_nomem(c);
}

/* Moves the input watermark to wm and fires what became due, in order of window end. */
static void advance(combine *c, int64_t wm)
{
    if (wm <= c->wm) return;
    c->wm = wm;
    if (c->slicing) {
        slice_advance(c, wm);
        set_out_wm(c, wm);
        return;
    }
    const timer_entry *t;
    while ((t = timer_heap_top(&c->event_timers)) && t->time <= wm) {
        win *w = timer_heap_pop(&c->event_timers).target;
        due_add(c, w);
        timer_done(c, w);
    }
    if (c->n_due) {
        /* windows whose timers all popped but that are still alive stay allocated: n_timers only
         * counts heap entries; they are freed by win_retire once dead */
        qsort(c->due, c->n_due, sizeof *c->due, due_cmp);
        int64_t now = c->default_trigger ? 0 : weir_operator_now(c->op);
        for (size_t i = 0; i < c->n_due; i++) {
            win *w = c->due[i];
            w->flags &= ~W_DUE;
            if (w->flags & W_DEAD) continue;
            if (w->end <= wm) evaluate(c, w, now);
            if (gc_time(c, w) <= wm) collect(c, w);
        }
        c->n_due = 0;
    }
    set_out_wm(c, wm);
}

/* ---- elements ---- */

static void add_to(combine *c, win *w, const weir_value *row, int sign, int64_t now)
{
    if (agg_add(&c->cfg->aggs, win_block(c, w, 0), row, sign)) return fail_nomem(c);
    if (w->pending != UINT32_MAX) w->pending++; /* only "any pending?" matters: saturate */
    if (!c->default_trigger) t_on_element(c, w, win_tstate(c, w), 0, now);
    evaluate(c, w, now);
}

/* -D rows for a session part merged away under other bounds (§6), then its state joins dst. */
static void merge_into(combine *c, win *dst, win *part)
{
    if (c->mode == WEIR_RETRACTING && (part->flags & W_EMITTED_BOUNDS))
        emit_row(c, part->key, part, win_block(c, part, 1), part->last_timing, part->last_index,
                 false, WEIR_OP_DELETE);
    if (agg_merge(&c->cfg->aggs, win_block(c, dst, 0), win_block(c, part, 0))) fail_nomem(c);
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
    uint32_t first = k->n_win, n_over = 0;
    for (uint32_t i = 0; i < k->n_win; i++) {
        win *w = k->wins[i];
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
        target = win_create(c, k, s, e);
        if (!target) return fail_nomem(c), true;
    } else {
        /* overlapping windows are contiguous in start order */
        win **parts = k->wins + first;
        win *same = NULL;
        for (uint32_t i = 0; i < n_over; i++)
            if (parts[i]->start == ms && parts[i]->end == me) same = parts[i];
        win *list[64], **plist = n_over <= 64 ? list : malloc(n_over * sizeof *plist);
        if (!plist) return fail_nomem(c), true;
        memcpy(plist, parts, n_over * sizeof *plist);
        if (same) {
            target = same;
        } else {
            target = win_create(c, k, ms, me);
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
            event_timer(c, target, target->end);
        }
    }
    add_to(c, target, row, sign, now);
    return true;
}

/* Handles one record: returns whether it was kept in at least one window; *dropped_some says
 * whether it was dropped from at least one. */
static bool handle_record(combine *c, const weir_value *row, int64_t t, int64_t now,
                          bool *dropped_some)
{
    int sign = 1;
    if (c->cfg->op_field >= 0) {
        const weir_value *op = &row[c->cfg->op_field];
        if (op->type == WEIR_TYPE_STRING && op->len == 2 && op->as.s[0] == '-') sign = -1;
    }
    uint64_t h = key_hash(c, row);
    keyent *k = key_find(c, row, h, true);
    if (!k) return fail_nomem(c), true;
    bool kept = false;
    *dropped_some = false;
    if (c->slicing) {
        kept = slice_record(c, k, t, row, sign, dropped_some);
        if (k->n_slices == 0 && k->n_timers == 0) key_remove(c, k);
        return kept;
    }
    switch (c->wf.type) {
    case WEIR_WINDOW_SESSIONS:
        kept = handle_session(c, k, t, row, sign, now);
        *dropped_some = !kept;
        break;
    case WEIR_WINDOW_GLOBAL:
    case WEIR_WINDOW_FIXED:
    case WEIR_WINDOW_SLIDING: {
        int64_t size = c->wf.size, period, start;
        if (c->wf.type == WEIR_WINDOW_GLOBAL) {
            start = WEIR_TIME_MIN;
            size = 0;
            period = 1;
        } else if (c->wf.type == WEIR_WINDOW_FIXED) {
            start = weir_fixed_start(t, size, c->wf.offset);
            period = size;
        } else {
            period = c->wf.period;
            start = weir_fixed_start(t, period, c->wf.offset); /* the last start <= t */
        }
        /* windows [s, s+size) with s ≡ offset (mod period) and t - size < s <= t, oldest first */
        int64_t lowest = start;
        if (c->wf.type == WEIR_WINDOW_SLIDING) lowest = first_window_start(start, t, size, period);
        for (int64_t s = lowest; s <= start; s += period) {
            int64_t e = c->wf.type == WEIR_WINDOW_GLOBAL ? WEIR_TIME_MAX : s + size;
            if (c->wm >= sat_add(e, c->lateness)) { /* §3 */
                *dropped_some = true;
                continue;
            }
            win *w = win_find(k, s, e);
            if (w && (w->flags & W_CLOSED)) {
                *dropped_some = true;
                continue;
            }
            if (!w && !(w = win_create(c, k, s, e))) return fail_nomem(c), true;
            add_to(c, w, row, sign, now);
            kept = true;
            if (c->wf.type == WEIR_WINDOW_GLOBAL) break;
        }
        break;
    }
    }
    if (k->n_win == 0) key_remove(c, k);
    return kept;
}

/* ---- sliding windows by slicing ----
 *
 * With the default trigger and no allowed lateness every sliding window emits exactly one pane,
 * when the watermark passes its end. Then a record does not need to update the size/period
 * windows it falls in: each key keeps partial aggregates per slice of width gcd(size, period)
 * (Scotty's and Arroyo's technique), and a window's value is the combination of its slices,
 * computed once, when it fires. A record that arrives after some of its windows fired still lands
 * in its slice: those windows already emitted without it (it was dropped from them, §3) and the
 * later ones include it, as the spec requires. Slices are kept sorted in a compact array per key;
 * those whose last window fired are dropped. One timer per key points at its next window end with
 * data. Other configurations use the general per-window path above. */

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

static inline int64_t *slice_entry(const combine *c, const keyent *k, uint32_t i)
{
    /* entry: [start int64][count int64][agg block] */
    return (int64_t *)(k->slices + ((size_t)k->head + i) * c->slice_size);
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
    if (k->head + k->n_slices == k->cap_slices) {
        if (k->head > 0) { /* compact */
            memmove(k->slices, k->slices + (size_t)k->head * c->slice_size,
                    (size_t)k->n_slices * c->slice_size);
            k->head = 0;
        } else {
            uint32_t cap = k->cap_slices ? k->cap_slices * 2 : 4;
            char *ns = realloc(k->slices, (size_t)cap * c->slice_size);
            if (!ns) return NULL;
            k->slices = ns;
            k->cap_slices = cap;
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
    int64_t last_start = weir_fixed_start(t, period, c->wf.offset);
    if (c->wm >= sat_add(last_start, size)) { /* every window of t has fired: late (§3) */
        *dropped_some = true;
        return false;
    }
    /* earlier windows of t may have fired already: then t is dropped from those */
    int64_t first_start = first_window_start(last_start, t, size, period);
    *dropped_some = c->wm >= sat_add(first_start, size);
    int64_t *e = slice_get(c, k, weir_fixed_start(t, c->slice, c->wf.offset));
    if (!e) return fail_nomem(c), true;
    e[1] += sign;
    if (agg_add(&c->cfg->aggs, e + 2, row, sign)) fail_nomem(c);
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
            if (agg_merge(&c->cfg->aggs, acc, sl + 2)) fail_nomem(c);
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
            slice_fire(c, k, wm);
            if (k->next_due != INT64_MAX && timer_heap_push(&c->key_timers, k->next_due, k) == 0)
                k->n_timers++;
        }
        if (k->n_slices == 0 && k->n_timers == 0) key_remove(c, k);
    }
}

static int combine_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    combine *c = op->state;
    bool need_now = !c->default_trigger;
    int64_t now = need_now ? weir_operator_now(op) : 0;
    uint64_t late = 0;
    uint32_t m = 0;
    for (uint32_t r = 0; r < b->n_rows && !c->status; r++) {
        for (; m < b->n_marks && b->mark_at[m] <= r; m++) advance(c, b->mark_wm[m]);
        if (b->wm[r] > c->wm) advance(c, b->wm[r]);
        const weir_value *row = weir_batch_row(b, r);
        bool dropped_some;
        bool kept = handle_record(c, row, b->ts[r], now, &dropped_some);
        if (!kept) {
            late++;
            if (c->late) {
                if (weir_batch_full(c->late) && flush(c)) break;
                weir_value *lr = weir_batch_append(c->late, b->ts[r], c->out_wm);
                memcpy(lr, row, sizeof *row * b->schema->n_fields);
                if (c->late->raw && b->raw) c->late->raw[c->late->n_rows - 1] = b->raw[r];
            }
        }
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
        due_add(c, w);
        timer_done(c, w);
    }
    if (c->n_due) qsort(c->due, c->n_due, sizeof *c->due, due_cmp);
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

/* Frees every window once: live ones hang off keys, retired ones only off timer entries. */
static void free_all_windows(combine *c)
{
    size_t n = c->event_timers.n + c->proc_timers.n;
    for (size_t i = 0; i < c->table_cap; i++)
        if (c->table[i]) n += c->table[i]->n_win;
    win **all = malloc((n ? n : 1) * sizeof *all);
    size_t m = 0;
    if (!all) return; /* leak rather than crash at exit on no memory */
    for (size_t i = 0; i < c->event_timers.n; i++) all[m++] = c->event_timers.e[i].target;
    for (size_t i = 0; i < c->proc_timers.n; i++) all[m++] = c->proc_timers.e[i].target;
    for (size_t i = 0; i < c->table_cap; i++) {
        keyent *k = c->table[i];
        if (!k) continue;
        for (uint32_t j = 0; j < k->n_win; j++) all[m++] = k->wins[j];
        if (c->cfg->aggs.owns_memory)
            for (uint32_t j = 0; j < k->n_slices; j++)
                agg_finish(&c->cfg->aggs, slice_entry(c, k, j) + 2);
        free(k->wins);
        free(k->slices);
        free(k);
        c->table[i] = NULL;
    }
    qsort(all, m, sizeof *all, ptr_cmp);
    for (size_t i = 0; i < m; i++)
        if (i == 0 || all[i] != all[i - 1]) win_free(c, all[i]);
    free(all);
}

static void combine_close(weir_operator *op)
{
    combine *c = op->state;
    if (!c) return;
    if (c->table) free_all_windows(c);
    timer_heap_free(&c->event_timers);
    timer_heap_free(&c->proc_timers);
    timer_heap_free(&c->key_timers);
    if (c->scratch_block) agg_finish(&c->cfg->aggs, c->scratch_block);
    free(c->scratch_block);
    free(c->table);
    free(c->due);
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
    c->wf = cfg->windowing.window;
    c->lateness = cfg->windowing.allowed_lateness;
    c->mode = cfg->windowing.accumulation;
    c->wm = c->out_wm = c->sent_wm = WEIR_TIME_MIN;
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
    c->slicing = c->wf.type == WEIR_WINDOW_SLIDING && c->default_trigger && c->lateness == 0;
    if (c->slicing) {
        int64_t a = c->wf.size, b = c->wf.period;
        while (b) {
            int64_t r = a % b;
            a = b;
            b = r;
        }
        c->slice = a;
        c->slice_size = 2 * sizeof(int64_t) + c->agg_size;
        c->scratch_block = calloc(1, c->agg_size);
        if (!c->scratch_block) return WEIR_ENOMEM;
    }
    c->n_blocks = c->mode == WEIR_RETRACTING ? 2 : 1;
    c->tstate_off = sizeof(win) + (size_t)c->n_blocks * c->agg_size;
    c->win_size = c->tstate_off + (c->default_trigger ? 0 : c->n_nodes * sizeof(tstate));
    c->out = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!c->out) return WEIR_ENOMEM;
    if (cfg->late_output && weir_operator_port_used(op, 1)) {
        /* the late port carries the input's rows unchanged */
        c->late = weir_batch_create(cfg->in_schema, weir_operator_batch_size(op));
        if (!c->late) return WEIR_ENOMEM;
    }
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
};
