/* tests/ref_model.c: the reference model of ../shared/spec/windowing.md (API in ref_window.h),
 * written for clarity, not speed, so that the engine's optimized Combine can be diffed against it.
 *
 * Everything is a plain array and a linear scan. A window keeps the list of records it holds
 * (all of them, and those since its last pane), and every pane's aggregates are recomputed
 * from those lists. There are no heaps, no slices, no incremental aggregates. Trigger state is
 * kept per window beside each node of the trigger tree. The model's own decisions are marked
 * DECISION.
 *
 * Order of events (§2): for each record, first the watermark as it stood before the record has
 * been reached (every window it makes due has fired), then the record is handled, then the
 * watermark is updated and what that makes due fires right away. At the end, the watermark is
 * +infinity. */
#include "ref_window.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_NODES = 32, MAX_WINDOWS = 4096, MAX_RECS = 256 };

typedef struct nstate {
    int64_t count;
    int64_t deadline; /* INT64_MAX: unset */
    bool finished;
    uint32_t idx;
    int phase; /* after_watermark / default: 0 before the on-time firing, 1 after */
} nstate;

typedef struct rwin {
    char key[32];
    uint32_t key_order;
    bool global;
    int64_t start, end;
    bool alive, closed;
    bool end_seen; /* the watermark passed end since the watermark part (re)started */
    uint32_t recs[MAX_RECS], n_recs; /* every record the window holds (event indexes) */
    uint32_t pend[MAX_RECS], n_pend; /* those no pane has emitted yet */
    int64_t next_index;
    bool emitted_nonearly, emitted_bounds;
    ref_row last; /* the last emitted value and its pane fields (for -U and -D rows) */
    nstate st[MAX_NODES];
} rwin;

typedef struct model {
    const ref_config *cfg;
    const ref_event *ev;
    const weir_trigger *nodes[MAX_NODES]; /* trigger tree in depth-first order */
    uint32_t n_nodes;
    weir_trigger default_node;
    rwin *w;
    uint32_t n_w;
    int64_t wm, now;
    char keys[16][32];
    uint32_t n_keys;
    ref_result *out;
    uint32_t cap_rows, cap_late;
    int failed;
} model;

static int64_t sadd(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (a > 0 ? INT64_MAX : INT64_MIN) : r;
}

static void number(model *m, const weir_trigger *t)
{
    if (!t || m->n_nodes == MAX_NODES) return;
    m->nodes[m->n_nodes++] = t;
    number(m, t->early);
    number(m, t->late);
    number(m, t->of);
    for (uint32_t i = 0; i < t->n_list; i++) number(m, t->list[i]);
}

static nstate *S(model *m, rwin *w, const weir_trigger *t)
{
    for (uint32_t i = 0; i < m->n_nodes; i++)
        if (m->nodes[i] == t) return &w->st[i];
    return &w->st[0];
}

static void reset(model *m, rwin *w, const weir_trigger *t)
{
    if (!t) return;
    *S(m, w, t) = (nstate){.deadline = INT64_MAX};
    reset(m, w, t->early);
    reset(m, w, t->late);
    reset(m, w, t->of);
    for (uint32_t i = 0; i < t->n_list; i++) reset(m, w, t->list[i]);
}

/* ---- trigger semantics: Beam's trigger state machines ---- */

static void on_element(model *m, rwin *w, const weir_trigger *t)
{
    nstate *s = S(m, w, t);
    if (s->finished) return;
    switch (t->type) {
    case WEIR_TRIGGER_DEFAULT: break;
    case WEIR_TRIGGER_COUNT: s->count++; break;
    case WEIR_TRIGGER_PROCESSING_TIME: /* the delay runs from the pane's first record */
        if (s->deadline == INT64_MAX) s->deadline = sadd(m->now, t->delay);
        break;
    case WEIR_TRIGGER_REPEAT: on_element(m, w, t->of); break;
    case WEIR_TRIGGER_AFTER_FIRST:
    case WEIR_TRIGGER_AFTER_ALL:
        for (uint32_t i = 0; i < t->n_list; i++) on_element(m, w, t->list[i]);
        break;
    case WEIR_TRIGGER_AFTER_EACH:
        if (s->idx < t->n_list) on_element(m, w, t->list[s->idx]);
        break;
    case WEIR_TRIGGER_AFTER_WATERMARK:
        if (s->phase == 0 && t->early) on_element(m, w, t->early);
        if (s->phase == 1 && t->late) on_element(m, w, t->late);
        break;
    }
}

static bool should_fire(model *m, rwin *w, const weir_trigger *t)
{
    nstate *s = S(m, w, t);
    if (s->finished) return false;
    switch (t->type) {
    case WEIR_TRIGGER_DEFAULT: /* once at W >= e, then for every late record (§4) */
        return s->phase == 0 ? m->wm >= w->end : w->n_pend > 0;
    case WEIR_TRIGGER_COUNT: return s->count >= t->count;
    case WEIR_TRIGGER_PROCESSING_TIME: return s->deadline != INT64_MAX && s->deadline <= m->now;
    case WEIR_TRIGGER_REPEAT: return should_fire(m, w, t->of);
    case WEIR_TRIGGER_AFTER_FIRST:
        for (uint32_t i = 0; i < t->n_list; i++)
            if (should_fire(m, w, t->list[i])) return true;
        return false;
    case WEIR_TRIGGER_AFTER_ALL: {
        bool any = false;
        for (uint32_t i = 0; i < t->n_list; i++) {
            if (S(m, w, t->list[i])->finished) continue;
            if (!should_fire(m, w, t->list[i])) return false;
            any = true;
        }
        return any;
    }
    case WEIR_TRIGGER_AFTER_EACH: return s->idx < t->n_list && should_fire(m, w, t->list[s->idx]);
    case WEIR_TRIGGER_AFTER_WATERMARK:
        if (s->phase == 0) return m->wm >= w->end || (t->early && should_fire(m, w, t->early));
        return t->late && should_fire(m, w, t->late);
    }
    return false;
}

static void on_fire(model *m, rwin *w, const weir_trigger *t)
{
    nstate *s = S(m, w, t);
    switch (t->type) {
    case WEIR_TRIGGER_DEFAULT:
        if (s->phase == 0 && m->wm >= w->end) s->phase = 1;
        break;
    case WEIR_TRIGGER_COUNT:
    case WEIR_TRIGGER_PROCESSING_TIME: s->finished = true; break;
    case WEIR_TRIGGER_REPEAT:
        on_fire(m, w, t->of);
        reset(m, w, t->of);
        break;
    case WEIR_TRIGGER_AFTER_FIRST:
        for (uint32_t i = 0; i < t->n_list; i++)
            if (should_fire(m, w, t->list[i])) on_fire(m, w, t->list[i]);
        s->finished = true;
        break;
    case WEIR_TRIGGER_AFTER_ALL:
        for (uint32_t i = 0; i < t->n_list; i++)
            if (!S(m, w, t->list[i])->finished) on_fire(m, w, t->list[i]);
        s->finished = true;
        break;
    case WEIR_TRIGGER_AFTER_EACH:
        on_fire(m, w, t->list[s->idx]);
        if (S(m, w, t->list[s->idx])->finished) s->idx++;
        if (s->idx >= t->n_list) s->finished = true;
        break;
    case WEIR_TRIGGER_AFTER_WATERMARK:
        if (s->phase == 0) {
            if (m->wm >= w->end) { /* the on-time firing ends the early phase */
                s->phase = 1;
                reset(m, w, t->early);
                if (!t->late)
                    s->finished = true; /* without late firings the window closes (§4) */
                else
                    reset(m, w, t->late);
            } else if (t->early) {
                on_fire(m, w, t->early); /* early firings repeat */
                reset(m, w, t->early);
            }
        } else if (t->late) {
            on_fire(m, w, t->late); /* late firings repeat */
            reset(m, w, t->late);
        }
        break;
    }
}

/* ---- panes ---- */

static void aggregate(model *m, const uint32_t *recs, uint32_t n, ref_row *r)
{
    r->n = n;
    r->sum = 0;
    r->has_min = r->has_max = false;
    for (uint32_t i = 0; i < n; i++) {
        const ref_event *e = &m->ev[recs[i]];
        if (!e->has_v) continue;
        r->sum += e->v;
        if (!r->has_min || e->v < r->min) r->min = e->v, r->has_min = true;
        if (!r->has_max || e->v > r->max) r->max = e->v, r->has_max = true;
    }
    if (!r->has_min) r->min = 0;
    if (!r->has_max) r->max = 0;
}

static void emit(model *m, const ref_row *r)
{
    ref_result *o = m->out;
    if (o->n_rows == m->cap_rows) {
        m->cap_rows = m->cap_rows ? m->cap_rows * 2 : 64;
        ref_row *nr = realloc(o->rows, m->cap_rows * sizeof *nr);
        if (!nr) {
            m->failed = 1;
            return;
        }
        o->rows = nr;
    }
    o->rows[o->n_rows++] = *r;
}

static void fire(model *m, rwin *w, bool finished)
{
    /* §4 pane_timing */
    weir_pane_timing timing = w->emitted_nonearly ? WEIR_PANE_LATE
                              : m->wm < w->end    ? WEIR_PANE_EARLY
                                                  : WEIR_PANE_ON_TIME;
    /* DECISION: a pane with no new record is emitted only when it is the on-time pane (§4 "On-time
     * pane always fires"); other empty firings emit nothing, as Beam's FIRE_IF_NON_EMPTY. */
    if (w->n_pend == 0 && timing != WEIR_PANE_ON_TIME) return;
    ref_row r = {0};
    memcpy(r.key, w->key, sizeof r.key);
    r.global = w->global;
    r.start = w->start;
    r.end = w->end;
    r.timing = timing;
    r.index = w->next_index;
    /* pane_last: the state is discarded right after: the trigger finished, or GC is due (§4) */
    r.last = finished || m->wm >= sadd(w->end, m->cfg->windowing.allowed_lateness);
    weir_accumulation mode = m->cfg->windowing.accumulation;
    if (mode == WEIR_DISCARDING)
        aggregate(m, w->pend, w->n_pend, &r);
    else
        aggregate(m, w->recs, w->n_recs, &r);
    if (mode == WEIR_DISCARDING || !w->emitted_bounds) {
        r.op = WEIR_OP_INSERT;
        emit(m, &r);
    } else if (mode == WEIR_ACCUMULATING) {
        r.op = WEIR_OP_UPDATE_AFTER;
        emit(m, &r);
    } else { /* retracting: the previous value with the new pane's fields, then the new one */
        ref_row before = w->last;
        before.timing = r.timing;
        before.index = r.index;
        before.last = r.last;
        before.op = WEIR_OP_UPDATE_BEFORE;
        emit(m, &before);
        r.op = WEIR_OP_UPDATE_AFTER;
        emit(m, &r);
    }
    w->last = r;
    w->n_pend = 0;
    w->next_index++;
    w->emitted_bounds = true;
    if (timing != WEIR_PANE_EARLY) w->emitted_nonearly = true;
}

static const weir_trigger *root(model *m)
{
    return m->nodes[0];
}

static void evaluate(model *m, rwin *w)
{
    if (!w->alive || w->closed) return;
    if (!should_fire(m, w, root(m))) return;
    on_fire(m, w, root(m));
    bool finished = S(m, w, root(m))->finished;
    fire(m, w, finished);
    if (finished) w->closed = true; /* later records for it are dropped (§4) */
}

/* ---- windows ---- */

static uint32_t key_order(model *m, const char *key)
{
    for (uint32_t i = 0; i < m->n_keys; i++)
        if (!strcmp(m->keys[i], key)) return i;
    strncpy(m->keys[m->n_keys], key, 31);
    return m->n_keys++;
}

static rwin *find(model *m, const char *key, int64_t s, int64_t e)
{
    for (uint32_t i = 0; i < m->n_w; i++)
        if (m->w[i].alive && !strcmp(m->w[i].key, key) && m->w[i].start == s && m->w[i].end == e)
            return &m->w[i];
    return NULL;
}

static rwin *create(model *m, const char *key, int64_t s, int64_t e, bool global)
{
    if (m->n_w == MAX_WINDOWS) {
        m->failed = 1;
        return NULL;
    }
    rwin *w = &m->w[m->n_w++];
    memset(w, 0, sizeof *w);
    strncpy(w->key, key, 31);
    w->key_order = key_order(m, key);
    w->global = global;
    w->start = s;
    w->end = e;
    w->alive = true;
    reset(m, w, root(m));
    return w;
}

static void add(model *m, rwin *w, uint32_t rec)
{
    if (w->n_recs == MAX_RECS || w->n_pend == MAX_RECS) {
        m->failed = 1;
        return;
    }
    w->recs[w->n_recs++] = rec;
    w->pend[w->n_pend++] = rec;
    on_element(m, w, root(m));
    evaluate(m, w);
}

static int by_end(const void *a, const void *b)
{
    const rwin *x = *(rwin *const *)a, *y = *(rwin *const *)b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    if (x->key_order != y->key_order) return x->key_order < y->key_order ? -1 : 1;
    return (x->start > y->start) - (x->start < y->start);
}

/* The watermark moves to wm: windows whose end or GC time passed are handled, per key in
 * order of window end, each its on-time pane then its GC pane (§4). */
static void advance(model *m, int64_t wm)
{
    if (wm <= m->wm) return;
    m->wm = wm;
    int64_t L = m->cfg->windowing.allowed_lateness;
    rwin **due = malloc((m->n_w + 1) * sizeof *due);
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_w; i++) {
        rwin *w = &m->w[i];
        if (!w->alive) continue;
        if ((!w->end_seen && w->end <= wm) || sadd(w->end, L) <= wm) due[n++] = w;
    }
    qsort(due, n, sizeof *due, by_end);
    for (uint32_t i = 0; i < n; i++) {
        rwin *w = due[i];
        if (!w->end_seen && w->end <= wm) {
            w->end_seen = true;
            evaluate(m, w);
        }
        if (sadd(w->end, L) <= wm) { /* garbage collection fires only if non-empty */
            if (w->n_pend > 0 && !w->closed) fire(m, w, true);
            w->alive = false;
        }
    }
    free(due);
}

static void processing_time(model *m, int64_t now)
{
    m->now = now;
    rwin **due = malloc((m->n_w + 1) * sizeof *due);
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_w; i++) {
        rwin *w = &m->w[i];
        if (!w->alive || w->closed) continue;
        bool any = false;
        for (uint32_t k = 0; k < m->n_nodes; k++)
            if (m->nodes[k]->type == WEIR_TRIGGER_PROCESSING_TIME && w->st[k].deadline <= now)
                any = true;
        if (any) due[n++] = w;
    }
    qsort(due, n, sizeof *due, by_end);
    for (uint32_t i = 0; i < n; i++) evaluate(m, due[i]);
    free(due);
}

/* §5: the record's window [t, t+gap) merges with every session of its key it overlaps. */
static bool session_record(model *m, const ref_event *e, uint32_t rec)
{
    int64_t s = e->t, en = sadd(e->t, m->cfg->windowing.window.gap);
    if (m->wm >= sadd(en, m->cfg->windowing.allowed_lateness)) return false;
    rwin *over[64];
    uint32_t n = 0;
    int64_t ms = s, me = en;
    for (uint32_t i = 0; i < m->n_w; i++) {
        rwin *w = &m->w[i];
        if (!w->alive || strcmp(w->key, e->key) || !(w->start < en && s < w->end)) continue;
        if (w->closed) return false; /* overlaps a session closed by a finished trigger */
        if (n < 64) over[n++] = w;
        if (w->start < ms) ms = w->start;
        if (w->end > me) me = w->end;
    }
    rwin *target = NULL;
    if (n == 0) {
        target = create(m, e->key, s, en, false);
        if (!target) return true;
    } else {
        qsort(over, n, sizeof *over, by_end); /* sessions of a key never overlap: also by start */
        for (uint32_t i = 0; i < n; i++)
            if (over[i]->start == ms && over[i]->end == me) target = over[i];
        if (!target && !(target = create(m, e->key, ms, me, false))) return true;
        for (uint32_t i = 0; i < n; i++) {
            rwin *p = over[i];
            if (p == target) continue;
            /* §6: retracting mode deletes a part that emitted under other bounds, first */
            if (m->cfg->windowing.accumulation == WEIR_RETRACTING && p->emitted_bounds) {
                ref_row d = p->last;
                d.op = WEIR_OP_DELETE;
                emit(m, &d);
            }
            for (uint32_t k = 0; k < p->n_recs && target->n_recs < MAX_RECS; k++)
                target->recs[target->n_recs++] = p->recs[k];
            for (uint32_t k = 0; k < p->n_pend && target->n_pend < MAX_RECS; k++)
                target->pend[target->n_pend++] = p->pend[k];
            if (p->next_index > target->next_index) target->next_index = p->next_index;
            target->emitted_nonearly |= p->emitted_nonearly;
            for (uint32_t k = 0; k < m->n_nodes; k++) { /* counts add up, earliest deadline */
                target->st[k].count += p->st[k].count;
                if (p->st[k].deadline < target->st[k].deadline)
                    target->st[k].deadline = p->st[k].deadline;
                target->st[k].finished |= p->st[k].finished;
                if (p->st[k].idx > target->st[k].idx) target->st[k].idx = p->st[k].idx;
            }
            p->alive = false;
        }
        /* the merged window's watermark part starts over (§5) */
        target->end_seen = false;
        for (uint32_t k = 0; k < m->n_nodes; k++) {
            const weir_trigger *t = m->nodes[k];
            if (t->type == WEIR_TRIGGER_DEFAULT || t->type == WEIR_TRIGGER_AFTER_WATERMARK) {
                target->st[k].phase = 0;
                target->st[k].finished = false;
                if (t->late) reset(m, target, t->late);
            }
        }
    }
    add(m, target, rec);
    return true;
}

/* Returns whether the record was kept in a window; *dropped_some: dropped from one. */
static bool record(model *m, uint32_t rec, bool *dropped_some)
{
    const ref_event *e = &m->ev[rec];
    const weir_window_fn *wf = &m->cfg->windowing.window;
    int64_t L = m->cfg->windowing.allowed_lateness;
    *dropped_some = false;
    if (wf->type == WEIR_WINDOW_SESSIONS) {
        bool kept = session_record(m, e, rec);
        *dropped_some = !kept;
        return kept;
    }
    int64_t starts[256];
    uint32_t ns = 0;
    bool global = wf->type == WEIR_WINDOW_GLOBAL;
    if (global) {
        starts[ns++] = INT64_MIN;
    } else if (wf->type == WEIR_WINDOW_FIXED) {
        starts[ns++] = weir_fixed_start(e->t, wf->size, wf->offset);
    } else { /* §1: every s ≡ offset (mod period) with t - size < s <= t, oldest first */
        int64_t last = weir_fixed_start(e->t, wf->period, wf->offset);
        for (int64_t s = last; s > e->t - wf->size && ns < 256; s -= wf->period) starts[ns++] = s;
        for (uint32_t i = 0; i < ns / 2; i++) {
            int64_t x = starts[i];
            starts[i] = starts[ns - 1 - i];
            starts[ns - 1 - i] = x;
        }
    }
    bool kept = false;
    for (uint32_t i = 0; i < ns; i++) {
        int64_t s = starts[i], en = global ? INT64_MAX : s + wf->size;
        if (m->wm >= sadd(en, L)) { /* §3: dropped from this window */
            *dropped_some = true;
            continue;
        }
        rwin *w = find(m, e->key, s, en);
        if (w && w->closed) {
            *dropped_some = true;
            continue;
        }
        if (!w && !(w = create(m, e->key, s, en, global))) return true;
        add(m, w, rec);
        kept = true;
    }
    return kept;
}

int ref_window_run(const ref_config *cfg, const ref_event *events, uint32_t n, ref_result *out)
{
    memset(out, 0, sizeof *out);
    model m = {.cfg = cfg, .ev = events, .out = out, .wm = INT64_MIN, .now = cfg->start_proc_time};
    m.default_node.type = WEIR_TRIGGER_DEFAULT;
    number(&m, cfg->windowing.trigger ? cfg->windowing.trigger : &m.default_node);
    m.w = calloc(MAX_WINDOWS, sizeof *m.w);
    if (!m.w) return -1;
    int64_t max_t = INT64_MIN;
    bool seen = false;
    for (uint32_t i = 0; i < n && !m.failed; i++) {
        const ref_event *e = &events[i];
        if (e->kind == REF_ADVANCE) {
            processing_time(&m, e->proc_time);
        } else if (e->kind == REF_END) {
            advance(&m, INT64_MAX);
        } else {
            bool dropped_some;
            if (!record(&m, i, &dropped_some)) {
                if (out->n_late == m.cap_late) {
                    m.cap_late = m.cap_late ? m.cap_late * 2 : 16;
                    uint32_t *l = realloc(out->late, m.cap_late * sizeof *l);
                    if (!l) break;
                    out->late = l;
                }
                out->late[out->n_late++] = i;
            }
            if (dropped_some) out->dropped++;
            /* §2: dropped records still advance the watermark */
            if (!seen || e->t > max_t) max_t = e->t;
            seen = true;
            advance(&m, max_t - cfg->bound);
        }
    }
    free(m.w);
    if (m.failed) {
        ref_result_free(out);
        return -1;
    }
    return 0;
}

void ref_result_free(ref_result *r)
{
    free(r->rows);
    free(r->late);
    memset(r, 0, sizeof *r);
}

/* ---- random cases ---- */

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int64_t pick(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(next(s) % (uint64_t)(hi - lo + 1));
}

static weir_trigger *random_leaf(uint64_t *s, int depth);

static weir_trigger *random_sub(uint64_t *s, int depth)
{
    int k = (int)pick(s, 0, depth > 1 ? 1 : 5);
    if (k <= 1) return random_leaf(s, depth);
    if (k == 2) return weir_trigger_repeat(random_sub(s, depth + 1));
    weir_trigger *list[3];
    uint32_t n = (uint32_t)pick(s, 2, 3);
    for (uint32_t i = 0; i < n; i++) list[i] = random_sub(s, depth + 1);
    return k == 3   ? weir_trigger_after_first(list, n)
           : k == 4 ? weir_trigger_after_all(list, n)
                    : weir_trigger_after_each(list, n);
}

static weir_trigger *random_leaf(uint64_t *s, int depth)
{
    (void)depth;
    return pick(s, 0, 2) ? weir_trigger_count(pick(s, 1, 4))
                         : weir_trigger_processing_time(pick(s, 5, 60));
}

static weir_trigger *random_trigger(uint64_t *s)
{
    switch (pick(s, 0, 7)) {
    case 0:
    case 1: return NULL; /* default */
    case 2: return weir_trigger_after_watermark(NULL, NULL);
    case 3: return weir_trigger_after_watermark(random_sub(s, 1), NULL);
    case 4:
        return weir_trigger_after_watermark(pick(s, 0, 1) ? random_sub(s, 1) : NULL,
                                            random_sub(s, 1));
    case 5: return weir_trigger_repeat(weir_trigger_after_watermark(NULL, NULL));
    default: return random_sub(s, 0); /* no watermark part */
    }
}

void ref_random_case(uint64_t seed, ref_case *c, ref_event *ev, uint32_t max)
{
    static const char *const keys[] = {"a", "b", "c"};
    uint64_t s = seed * 0x2545F4914F6CDD1DULL + 1;
    memset(c, 0, sizeof *c);
    weir_windowing *w = &c->config.windowing;
    switch (pick(&s, 0, 6)) {
    case 0:
    case 1: w->window = weir_fixed_offset(pick(&s, 3, 30), 0); break;
    case 2: {
        int64_t size = pick(&s, 4, 30);
        w->window = weir_fixed_offset(size, pick(&s, 0, size - 1) - size / 2);
        break;
    }
    case 3:
    case 4: {
        int64_t period = pick(&s, 2, 10),
                size = pick(&s, 0, 1) ? period * pick(&s, 1, 4) : pick(&s, period, 3 * period);
        w->window = weir_sliding_offset(size, period, pick(&s, 0, 1) ? pick(&s, 0, period - 1) : 0);
        break;
    }
    case 5: w->window = weir_sessions(pick(&s, 2, 15)); break;
    default: w->window = weir_global(); break;
    }
    w->allowed_lateness = pick(&s, 0, 1) ? 0 : pick(&s, 1, 40);
    w->accumulation = (weir_accumulation)pick(&s, 0, 2);
    w->trigger = random_trigger(&s);
    c->config.bound = pick(&s, 0, 2) ? pick(&s, 0, 20) : 0;
    c->config.start_proc_time = 1000;
    uint32_t n = 0, records = (uint32_t)pick(&s, 5, (int64_t)max - 20);
    int64_t t = pick(&s, -50, 50), proc = 1000;
    for (uint32_t i = 0; i < records && n + 2 < max; i++) {
        if (pick(&s, 0, 6) == 0) {
            proc += pick(&s, 1, 40);
            ev[n++] = (ref_event){.kind = REF_ADVANCE, .proc_time = proc};
        }
        t += pick(&s, 0, 6);
        int64_t rt = t;
        int r = (int)pick(&s, 0, 9);
        if (r == 0)
            rt -= pick(&s, 20, 80); /* very late */
        else if (r <= 2)
            rt -= pick(&s, 0, 15); /* out of order */
        bool has_v = pick(&s, 0, 9) != 0;
        ev[n++] = (ref_event){.kind = REF_RECORD,
                              .key = keys[pick(&s, 0, 2)],
                              .t = rt,
                              .has_v = has_v,
                              .v = has_v ? pick(&s, -20, 99) : 0};
    }
    ev[n++] = (ref_event){.kind = REF_END};
    c->n_events = n;
}

void ref_case_free(ref_case *c)
{
    weir_trigger_destroy(c->config.windowing.trigger);
    c->config.windowing.trigger = NULL;
}
