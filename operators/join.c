/* operators/join.c: weir_join(), the windowed equi-join of two keyed inputs (semantics in
 * weir/join.h).
 *
 * State. Fixed and sliding windows of one size all end size after they start, so every (key,
 * window) state of a window fires at the same watermark: the state is kept per window, each
 * window with one arena that holds copies of its rows (values, strings, pass-through text) and a
 * hash table of its keys. A window fires, emits and is freed as a whole, in order of window end,
 * when the Join's watermark (the minimum of its inputs', operators/input_wm.h) reaches its end:
 * no per-key timers, no per-row malloc. Open windows sit in an array sorted by start (a handful:
 * one for fixed windows, size / period for sliding ones, more only when inputs run apart).
 *
 * Lateness is judged per input (weir/join.h): a row is dropped from a window when its own input's
 * watermark already stood at or past the window's end. Since the Join's watermark is the minimum
 * of the two, a window never fires before every row it will accept has arrived, whatever the
 * interleaving of the two inputs; with the output order of weir/join.h (windows by end, keys by
 * first left row, rows by arrival within their input) the output at one worker is the same at any
 * batch size, and at several workers the same within every key.
 *
 * Output. Columns "tag.field" for both inputs, then window_start and window_end; the schema says
 * its first columns came from the row's pass-through text (has_raw, n_raw), and that text is
 * {"LEFT":{..},"RIGHT":{..}}: each side's own pass-through object merged with its other fields
 * (weir_json_write_object), made once per stored row when it first appears in output. So a JSON
 * sink writes the sides nested under their tags, and expressions read the columns.
 *
 * Checkpoints (weir/snapshot.h). A key's rows live in the worker that owns the key group the
 * keyed exchange sent them to: the exchange hashes row[key_fields[i]] in order, and the key
 * fields of each input are this Join's, so a left and a right row of one key both have the group
 * weir_key_group gives for the key's values. The snapshot writes the watermarks under
 * WEIR_SNAP_SHARED and, per key group, the rows of that group's keys in every window. Each
 * section starts with the format version (JOIN_SNAP_VERSION; a restore refuses others):
 *
 *   shared       u32 version, i64 watermark of the left input, i64 of the right input,
 *                i64 the minimum given so far (input_wm.out), i64 the output's watermark
 *                (the windows ending at or before it have fired)
 *   key group g  u32 version, u32 fields of a left row, u32 fields of a right row; then, until
 *                the section ends, per window that holds keys of g (by start):
 *                  i64 start, u32 keys, per key (those with left rows in output order, then
 *                  those with right rows only): u32 left rows, u32 right rows, then the rows,
 *                  left then right, each side in arrival order: i64 event time, its fields
 *                  (weir_snap_value each), then u8 1 and the pass-through text (a string), or u8 0
 *
 * A left row with a null key field (it matches nothing) is a key of its own, written as one.
 * Restore adds the rows back to their windows as if they arrived (copied into the window's
 * arena) and takes the minimum of every old instance's watermarks; the instance then keeps the
 * maximum of that and what arrives, so what fired before the checkpoint (its rows are gone from
 * the state) never fires again, and a row is judged late against at least the watermark its
 * input had at the checkpoint. There are no timers to rebuild: windows fire on the watermark,
 * by their ends. The output text cached per row (side_json) is not written: it is made again.
 *
 * Lazy snapshots (weir_operator_class.snapshot_more). The pause at the checkpoint writes only
 * the shared section; the windows' keys follow in snapshot_more calls between batches, a walk
 * of the windows by start and, within one, of its keys in the encoding's order, each call's
 * keys grouped by key group into one section per group (a group has many sections, each
 * restored on its own; a window whose keys span calls appears in several). The state is
 * append-only until a window fires, so the snapshot needs no copies: every row and key carries
 * the epoch it arrived in (each snapshot bumps the epoch), and the walk writes only what came
 * before the checkpoint. Rows of a key arrive in order and keys join the left-key list in order
 * of their first left row, so what came before is a prefix of each list: a key whose first left
 * row came after is written with the right-only keys (it was one then), and keys born after
 * are skipped. The one change that destroys state is a window firing, which frees it: a window
 * the walk has not finished is retired instead (off the open windows, its rows already
 * emitted, nothing added to it since: rows for it are late) and freed once the walk, which
 * takes retired windows first, has written it. Nothing is written in the pause or while a
 * batch waits: processing only ever waits for one snapshot_more call. */
#include "weir/join.h"
#include "input_wm.h"
#include "join.h"
#include "weir/buf.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS          32
#define JOIN_SNAP_VERSION 1u /* of the snapshot encoding above */

typedef struct join_config {
    weir_join_type type;
    weir_window_fn window;
    uint32_t n_keys;
    int32_t keys[2][MAX_KEYS]; /* key columns of each input */
    char *tag[2];
    weir_schema *in_schema[2]; /* of the inputs (references) */
} join_config;

typedef struct jrow {
    struct jrow *next;
    int64_t ts;
    weir_raw raw;     /* the input row's pass-through text (copied) */
    const char *json; /* the side's object for the output text, made on first use */
    uint32_t json_len;
    uint32_t epoch; /* join_state.epoch when it arrived (lazy snapshots) */
    weir_value v[]; /* the input's fields; strings in the window's arena */
} jrow;

typedef struct jkey {
    struct jkey *chain;     /* hash bucket */
    struct jkey *next_left; /* keys in order of their first left row */
    struct jkey *next_key;  /* every key of the window, in order of creation */
    uint64_t hash;
    jrow *head[2], *tail[2];
    uint32_t epoch; /* join_state.epoch when it was created */
    bool nomatch;   /* a left row with a null key field: matches nothing */
    weir_value k[]; /* n_keys values (strings point into a stored row) */
} jkey;

typedef struct jwin {
    int64_t start, end;
    weir_arena arena;
    jkey **buckets;
    uint32_t n_buckets, n_keys;
    jkey *first_left, *last_left;
    jkey *first_key, *last_key;
    uint32_t snapped; /* the epoch it was last written in, or born in: written when current */
} jwin;

/* Where a walk of a window's keys for a snapshot stands (the order of the encoding). */
typedef struct snap_cursor {
    jwin *w;    /* NULL: none */
    bool right; /* past the keys with left rows: the right-only ones (next_key order) */
    jkey *at;   /* the next key to look at */
} snap_cursor;

typedef struct snap_key {
    const jkey *k;
    const jwin *w;
    uint32_t group; /* weir_key_group of its values */
} snap_key;

typedef struct join_state {
    const join_config *cfg;
    weir_operator *op;
    const weir_schema *in_schema[2];
    weir_batch *out;
    input_wm wm;
    int64_t out_wm;  /* watermark of the rows emitted */
    int64_t sent_wm; /* wm_after of the last batch emitted */
    bool sent_end;
    jwin **wins; /* open windows, sorted by start */
    uint32_t n_wins, cap_wins;
    weir_buf scratch;
    int status;
    bool restored_shared; /* a shared section was restored (the next ones: the minimum) */
    weir_value *row_buf;  /* [widest input + 1]: a row read back (restore) */
    /* a lazy snapshot ("checkpoints" below): in progress while snap_w is set */
    uint32_t epoch; /* bumped by each snapshot: what it writes arrived in an earlier one */
    weir_snap_writer *snap_w;
    snap_cursor snap_cur; /* the walk's window and key */
    jwin **retired;       /* windows that fired before the walk wrote them, by start */
    uint32_t n_retired, cap_retired;
    snap_key *snap_keys; /* one call's keys, then the same by group */
    size_t cap_snap_keys;
    uint32_t test_budget; /* WEIR_TEST_SNAPSHOT_BUDGET: at most this many keys per call */
} join_state;

join_test_stats weir__join_test;

#define TEST_COUNT(s, what, n)                                                                     \
    ((s)->test_budget                                                                              \
         ? (void)atomic_fetch_add_explicit(&weir__join_test.what, (n), memory_order_relaxed)       \
         : (void)0)

/* ---- windows ---- */

static void win_free(jwin *w)
{
    if (!w) return;
    weir_arena_finish(&w->arena);
    free(w->buckets);
    free(w);
}

/* The window starting at start, created if absent; NULL on no memory. */
static jwin *win_get(join_state *s, int64_t start)
{
    uint32_t lo = 0, hi = s->n_wins;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->wins[mid]->start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n_wins && s->wins[lo]->start == start) return s->wins[lo];
    if (s->n_wins == s->cap_wins) {
        uint32_t cap = s->cap_wins ? s->cap_wins * 2 : 16;
        jwin **ws = realloc(s->wins, cap * sizeof *ws);
        if (!ws) return NULL;
        s->wins = ws;
        s->cap_wins = cap;
    }
    jwin *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->start = start;
    w->end = start + s->cfg->window.size;
    w->snapped = s->epoch; /* not part of a snapshot in progress */
    weir_arena_init(&w->arena, 16384);
    w->n_buckets = 64;
    w->buckets = calloc(w->n_buckets, sizeof *w->buckets);
    if (!w->buckets) {
        free(w);
        return NULL;
    }
    memmove(s->wins + lo + 1, s->wins + lo, (s->n_wins - lo) * sizeof *s->wins);
    s->wins[lo] = w;
    s->n_wins++;
    return w;
}

static int grow_buckets(jwin *w)
{
    uint32_t n = w->n_buckets * 2;
    jkey **b = calloc(n, sizeof *b);
    if (!b) return WEIR_ENOMEM;
    for (uint32_t i = 0; i < w->n_buckets; i++)
        for (jkey *k = w->buckets[i], *next; k; k = next) {
            next = k->chain;
            /* not the low 7 bits: those are the key group, the same for every key of a
             * worker's share when several run */
            k->chain = b[(k->hash >> 7) & (n - 1)];
            b[(k->hash >> 7) & (n - 1)] = k;
        }
    free(w->buckets);
    w->buckets = b;
    w->n_buckets = n;
    return 0;
}

/* A copy of a row of input side in w's arena, its strings and pass-through text (raw: NULL or
 * without text for none) included. NULL on no memory. */
static jrow *copy_row(join_state *s, jwin *w, uint32_t side, int64_t ts, const weir_value *row,
                      const weir_raw *raw)
{
    uint32_t nf = s->in_schema[side]->n_fields;
    jrow *jr = weir_arena_alloc(&w->arena, sizeof *jr + nf * sizeof(weir_value));
    if (!jr) return NULL;
    *jr = (jrow){.ts = ts, .epoch = s->epoch};
    memcpy(jr->v, row, nf * sizeof(weir_value));
    for (uint32_t i = 0; i < nf; i++) {
        weir_value *v = &jr->v[i];
        if (v->type < WEIR_TYPE_STRING || v->type > WEIR_TYPE_JSON) continue;
        char *c = weir_arena_strdup(&w->arena, v->as.s, v->len);
        if (!c) return NULL;
        v->as.s = c;
    }
    if (raw && raw->text) {
        char *t = weir_arena_strdup(&w->arena, raw->text, raw->len);
        if (!t) return NULL;
        jr->raw = (weir_raw){t, raw->len};
    }
    return jr;
}

static uint64_t key_hash(const weir_value *row, const int32_t *cols, uint32_t n, bool *has_null)
{
    uint64_t h = 0x2545f4914f6cdd1dULL;
    *has_null = false;
    for (uint32_t i = 0; i < n; i++) {
        const weir_value *v = &row[cols[i]];
        if (v->type == WEIR_TYPE_NULL) *has_null = true;
        h = weir_value_hash(v, h);
    }
    return h;
}

/* Adds a row of input `side` (event time ts, pass-through text raw or NULL) to window w, as a
 * copy. 0 or WEIR_ENOMEM. */
static int win_add(join_state *s, jwin *w, uint32_t side, int64_t ts, const weir_value *row,
                   const weir_raw *raw)
{
    const join_config *cfg = s->cfg;
    const int32_t *cols = cfg->keys[side];
    bool has_null;
    uint64_t h = key_hash(row, cols, cfg->n_keys, &has_null);
    jkey *k = NULL;
    if (has_null) {
        /* matches nothing: only an unmatched left row of a left join is ever output */
        if (side == 1 || cfg->type != WEIR_JOIN_LEFT) return 0;
    } else {
        for (k = w->buckets[(h >> 7) & (w->n_buckets - 1)]; k; k = k->chain) {
            if (k->hash != h) continue;
            uint32_t i = 0;
            while (i < cfg->n_keys && weir_value_equal(&k->k[i], &row[cols[i]])) i++;
            if (i == cfg->n_keys) break;
        }
    }
    jrow *jr = copy_row(s, w, side, ts, row, raw);
    if (!jr) return WEIR_ENOMEM;
    if (!k) {
        k = weir_arena_alloc(&w->arena, sizeof *k + cfg->n_keys * sizeof(weir_value));
        if (!k) return WEIR_ENOMEM;
        *k = (jkey){.hash = h, .epoch = s->epoch, .nomatch = has_null};
        if (w->last_key)
            w->last_key->next_key = k;
        else
            w->first_key = k;
        w->last_key = k;
        for (uint32_t i = 0; i < cfg->n_keys; i++) k->k[i] = jr->v[cols[i]];
        if (!has_null) {
            if (w->n_keys >= w->n_buckets && grow_buckets(w)) return WEIR_ENOMEM;
            k->chain = w->buckets[(h >> 7) & (w->n_buckets - 1)];
            w->buckets[(h >> 7) & (w->n_buckets - 1)] = k;
            w->n_keys++;
        }
    }
    if (side == 0 && !k->head[0]) { /* the key's first left row: its place in the output */
        if (w->last_left)
            w->last_left->next_left = k;
        else
            w->first_left = k;
        w->last_left = k;
    }
    if (k->tail[side])
        k->tail[side]->next = jr;
    else
        k->head[side] = jr;
    k->tail[side] = jr;
    return 0;
}

/* ---- output ---- */

static int flush(join_state *s, uint32_t flags)
{
    weir_batch *out = s->out;
    out->wm_after = s->out_wm;
    out->flags = flags;
    s->sent_wm = s->out_wm;
    int rc = weir_operator_emit(s->op, out);
    weir_batch_clear(out);
    return rc;
}

/* The side's object text for the output's pass-through text (NULL: no memory). */
static const char *side_json(join_state *s, jwin *w, uint32_t side, jrow *jr, uint32_t *len)
{
    if (jr->json) {
        *len = jr->json_len;
        return jr->json;
    }
    const weir_schema *sc = s->in_schema[side];
    uint32_t skip = sc->has_raw && jr->raw.text ? sc->n_raw : 0;
    weir_buf_clear(&s->scratch);
    if (weir_json_write_object(&s->scratch, sc->n_fields - skip, sc->names + skip, jr->v + skip,
                               jr->raw.text, jr->raw.len))
        return NULL;
    size_t n = s->scratch.len;
    if (n && s->scratch.data[n - 1] == '\n') n--;
    char *t = weir_arena_strdup(&w->arena, s->scratch.data, n);
    if (!t) return NULL;
    jr->json = t;
    jr->json_len = (uint32_t)n;
    *len = jr->json_len;
    return t;
}

static int emit_pair(join_state *s, jwin *w, jrow *l, jrow *r)
{
    weir_batch *out = s->out;
    int rc;
    if (weir_batch_full(out) && (rc = flush(s, 0))) return rc;
    uint32_t nl = s->in_schema[0]->n_fields, nr = s->in_schema[1]->n_fields;
    weir_value *v = weir_batch_append(out, w->end - 1, s->out_wm);
    memcpy(v, l->v, nl * sizeof *v);
    if (r) memcpy(v + nl, r->v, nr * sizeof *v); /* else: nulls already */
    v[nl + nr] = weir_value_int(w->start);
    v[nl + nr + 1] = weir_value_int(w->end);
    uint32_t ll = 0, rl = 4;
    const char *lj = side_json(s, w, 0, l, &ll), *rj = r ? side_json(s, w, 1, r, &rl) : "null";
    if (!lj || !rj) return WEIR_ENOMEM;
    weir_buf *b = &s->scratch;
    weir_buf_clear(b);
    const char *tag[2] = {s->cfg->tag[0], s->cfg->tag[1]};
    if (weir_buf_putc(b, '{') || weir_json_write_string(b, tag[0], strlen(tag[0])) ||
        weir_buf_putc(b, ':') || weir_buf_append(b, lj, ll) || weir_buf_putc(b, ',') ||
        weir_json_write_string(b, tag[1], strlen(tag[1])) || weir_buf_putc(b, ':') ||
        weir_buf_append(b, rj, rl) || weir_buf_putc(b, '}'))
        return WEIR_ENOMEM;
    char *t = weir_arena_strdup(&out->arena, b->data, b->len);
    if (!t) return WEIR_ENOMEM;
    out->raw[out->n_rows - 1] = (weir_raw){t, (uint32_t)b->len};
    return 0;
}

/* Emits the pairs of window w (weir/join.h gives the order), then the batch (its rows point into
 * w's arena, which is freed next). */
static int win_fire(join_state *s, jwin *w)
{
    bool left = s->cfg->type == WEIR_JOIN_LEFT;
    int rc = 0;
    for (jkey *k = w->first_left; k && !rc; k = k->next_left)
        for (jrow *l = k->head[0]; l && !rc; l = l->next) {
            if (!k->head[1]) {
                if (left) rc = emit_pair(s, w, l, NULL);
                continue;
            }
            for (jrow *r = k->head[1]; r && !rc; r = r->next) rc = emit_pair(s, w, l, r);
        }
    if (!rc && s->out->n_rows) rc = flush(s, 0);
    return rc;
}

static int snap_retire(join_state *s, jwin *w);

/* The Join's watermark rose to wm: fires the windows that end at or before it, in order. */
static int advance(join_state *s, int64_t wm)
{
    if (wm <= s->out_wm) return 0;
    uint32_t n = 0;
    int rc = 0;
    while (n < s->n_wins && s->wins[n]->end <= wm && !rc) {
        rc = win_fire(s, s->wins[n]);
        if (s->snap_w && s->wins[n]->snapped != s->epoch) { /* kept for the snapshot */
            int rrc = snap_retire(s, s->wins[n]); /* even after a failed firing: no leak */
            if (!rc) rc = rrc;
        } else {
            win_free(s->wins[n]);
        }
        s->wins[n++] = NULL;
    }
    if (n) memmove(s->wins, s->wins + n, (s->n_wins - n) * sizeof *s->wins);
    s->n_wins -= n;
    s->out_wm = wm;
    if (!rc && weir_batch_mark(s->out, wm)) rc = WEIR_ENOMEM;
    return rc;
}

/* ---- the operator ---- */

static int join_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    join_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = config;
    s->op = op;
    s->in_schema[0] = s->cfg->in_schema[0];
    s->in_schema[1] = s->cfg->in_schema[1];
    s->out_wm = s->sent_wm = WEIR_TIME_MIN;
    weir_buf_init(&s->scratch);
    s->out = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!s->out || input_wm_init(&s->wm, 2)) return WEIR_ENOMEM;
    const char *tb = getenv("WEIR_TEST_SNAPSHOT_BUDGET");
    if (tb && *tb) s->test_budget = (uint32_t)strtoul(tb, NULL, 10);
    return 0;
}

/* Handles row r of input side (its input's watermark before it is wm_in); returns whether it was
 * kept in some window. */
static int add_row(join_state *s, uint32_t side, const weir_batch *b, uint32_t r, int64_t wm_in,
                   bool *kept)
{
    const weir_window_fn *wf = &s->cfg->window;
    int64_t t = b->ts[r];
    int64_t period = wf->type == WEIR_WINDOW_SLIDING ? wf->period : wf->size;
    int64_t last = weir_fixed_start(t, period, wf->offset);
    *kept = false;
    for (int64_t st = last; st > t - wf->size; st -= period) {
        if (wm_in >= st + wf->size) break; /* this window and earlier ones: late */
        jwin *w = win_get(s, st);
        if (!w) return WEIR_ENOMEM;
        int rc = win_add(s, w, side, t, weir_batch_row(b, r), b->raw ? &b->raw[r] : NULL);
        if (rc) return rc;
        *kept = true;
    }
    return 0;
}

static int join_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    join_state *s = op->state;
    if (s->sent_end || input > 1) return 0;
    input_wm_flags(&s->wm, input, b->flags);
    uint64_t late = 0;
    uint32_t m = 0;
    int rc = 0;
    for (uint32_t r = 0; r <= b->n_rows && !rc; r++) {
        for (; m < b->n_marks && b->mark_at[m] <= r && !rc; m++)
            rc = advance(s, input_wm_raise(&s->wm, input, b->mark_wm[m]));
        if (r == b->n_rows || rc) break;
        rc = advance(s, input_wm_raise(&s->wm, input, b->wm[r]));
        bool kept = false;
        if (!rc) rc = add_row(s, input, b, r, s->wm.wm[input], &kept);
        if (!kept) late++;
    }
    if (late) weir_operator_count_late(op, late);
    if (!rc) rc = advance(s, input_wm_raise(&s->wm, input, b->wm_after));
    uint32_t flags = 0;
    if (!rc && (b->flags & WEIR_BATCH_END) && input_wm_end(&s->wm, input)) {
        rc = advance(s, WEIR_TIME_MAX);
        flags = WEIR_BATCH_END;
        s->sent_end = true;
    } else if (!rc && (b->flags & WEIR_BATCH_END)) {
        rc = advance(s, input_wm_min(&s->wm));
    } else if (!rc && input_wm_all_idle(&s->wm)) {
        flags = WEIR_BATCH_IDLE;
    }
    if (rc == WEIR_ENOMEM) return weir_operator_fail(op, rc, "%s: out of memory", op->name);
    if (rc) return rc;
    if (!s->out->n_rows && !s->out->n_marks && !flags && s->out_wm <= s->sent_wm) return 0;
    return flush(s, flags);
}

static void join_close(weir_operator *op)
{
    join_state *s = op->state;
    if (!s) return;
    for (uint32_t i = 0; i < s->n_wins; i++) win_free(s->wins[i]);
    free(s->wins);
    for (uint32_t i = 0; i < s->n_retired; i++) win_free(s->retired[i]);
    free(s->retired);
    weir_batch_destroy(s->out);
    input_wm_finish(&s->wm);
    weir_buf_finish(&s->scratch);
    free(s->row_buf);
    free(s->snap_keys);
    free(s);
}

/* ---- checkpoints (the encoding and the lazy walk are described at the top) ---- */

/* Whether r (a row, or NULL) arrived before the snapshot in progress. */
static bool before(const join_state *s, const jrow *r)
{
    return r && r->epoch != s->epoch;
}

static uint32_t side_rows(const join_state *s, const jkey *k, uint32_t side)
{
    uint32_t n = 0;
    for (const jrow *r = k->head[side]; before(s, r); r = r->next) n++;
    return n;
}

static int snap_rows(const join_state *s, weir_snap_writer *wr, const jkey *k, uint32_t side)
{
    uint32_t nf = s->in_schema[side]->n_fields;
    int rc = 0;
    for (const jrow *r = k->head[side]; before(s, r) && !rc; r = r->next) {
        rc = weir_snap_i64(wr, r->ts);
        for (uint32_t i = 0; i < nf && !rc; i++) rc = weir_snap_value(wr, &r->v[i]);
        if (!rc) rc = weir_snap_u8(wr, r->raw.text != NULL);
        if (!rc && r->raw.text) rc = weir_snap_str(wr, r->raw.text, r->raw.len);
    }
    return rc;
}

/* The next key of cur's window that the snapshot in progress writes, the cursor moved past it,
 * looking at no more than *scan keys (*scan counts down). NULL when the window has no more
 * (cur->w is then NULL and the window marked written), or when *scan reached 0. */
static const jkey *snap_next(join_state *s, snap_cursor *cur, size_t *scan)
{
    jwin *w = cur->w;
    while (!cur->right) { /* keys whose first left row came before: a prefix of the list */
        jkey *k = cur->at;
        if (k && before(s, k->head[0])) {
            cur->at = k->next_left;
            --*scan;
            return k;
        }
        cur->right = true;
        cur->at = w->first_key;
    }
    /* then those with right rows only, then (keys born after: at the end) */
    for (jkey *k; *scan && (k = cur->at) && k->epoch != s->epoch;) {
        cur->at = k->next_key;
        --*scan;
        if (!before(s, k->head[0]) && before(s, k->head[1])) return k;
    }
    if (!*scan) return NULL;
    w->snapped = s->epoch;
    cur->w = NULL;
    return NULL;
}

static void snap_start(snap_cursor *cur, jwin *w)
{
    *cur = (snap_cursor){.w = w, .at = w->first_left};
}

/* Room for n more keys in s->snap_keys (twice: the keys, then the same by group). */
static int snap_reserve(join_state *s, size_t n)
{
    if (n <= s->cap_snap_keys) return 0;
    size_t cap = s->cap_snap_keys ? s->cap_snap_keys : 256;
    while (cap < n) cap *= 2;
    snap_key *ks = realloc(s->snap_keys, 2 * cap * sizeof *ks);
    if (!ks) return WEIR_ENOMEM;
    s->snap_keys = ks;
    s->cap_snap_keys = cap;
    return 0;
}

/* Writes keys[0..n) (windows by start, each window's keys in the encoding's order), one section
 * per key group, the order kept within each. */
static int snap_write(const join_state *s, weir_snap_writer *wr, const snap_key *keys,
                      snap_key *sorted, size_t n)
{
    size_t at[WEIR_KEY_GROUPS + 1] = {0};
    for (size_t i = 0; i < n; i++) at[keys[i].group + 1]++;
    for (uint32_t g = 0; g < WEIR_KEY_GROUPS; g++) at[g + 1] += at[g];
    for (size_t i = 0; i < n; i++) sorted[at[keys[i].group]++] = keys[i];
    int rc = 0;
    size_t from = 0; /* at[g] is now where group g ends */
    for (uint32_t g = 0; g < WEIR_KEY_GROUPS && !rc; from = at[g++]) {
        if (at[g] == from) continue;
        rc = weir_snap_section(wr, g);
        if (!rc) rc = weir_snap_u32(wr, JOIN_SNAP_VERSION);
        if (!rc) rc = weir_snap_u32(wr, s->in_schema[0]->n_fields);
        if (!rc) rc = weir_snap_u32(wr, s->in_schema[1]->n_fields);
        for (size_t i = from; i < at[g] && !rc;) { /* the keys of one window */
            size_t end = i + 1;
            while (end < at[g] && sorted[end].w == sorted[i].w) end++;
            rc = weir_snap_i64(wr, sorted[i].w->start);
            if (!rc) rc = weir_snap_u32(wr, (uint32_t)(end - i));
            for (; i < end && !rc; i++) {
                const jkey *k = sorted[i].k;
                rc = weir_snap_u32(wr, side_rows(s, k, 0));
                if (!rc) rc = weir_snap_u32(wr, side_rows(s, k, 1));
                if (!rc) rc = snap_rows(s, wr, k, 0);
                if (!rc) rc = snap_rows(s, wr, k, 1);
            }
        }
    }
    return rc;
}

/* The first window the walk has not written: retired ones first, then the open ones, by start
 * (NULL: none). */
static jwin *snap_pending(const join_state *s)
{
    for (uint32_t i = 0; i < s->n_retired; i++)
        if (s->retired[i]->snapped != s->epoch) return s->retired[i];
    for (uint32_t i = 0; i < s->n_wins; i++)
        if (s->wins[i]->snapped != s->epoch) return s->wins[i];
    return NULL;
}

/* Writes up to max keys from the walk's cursor on, looking at no more than 4 x max + 256 keys
 * (the walk past the keys with left rows, to the right-only ones, stays short), then frees the
 * retired windows it finished. Sets *n to the keys written; 0 or WEIR_ENOMEM. */
static int snap_walk(join_state *s, weir_snap_writer *wr, size_t max, size_t *n)
{
    snap_cursor *cur = &s->snap_cur;
    size_t got = 0, scan = max < SIZE_MAX / 8 ? max * 4 + 256 : SIZE_MAX;
    int rc = 0;
    while (got < max && scan && !rc) {
        if (!cur->w) {
            jwin *w = snap_pending(s);
            if (!w) break;
            snap_start(cur, w);
        }
        const jwin *w = cur->w;
        const jkey *k = snap_next(s, cur, &scan);
        if (!k) continue;
        if ((rc = snap_reserve(s, got + 1))) break;
        s->snap_keys[got++] = (snap_key){k, w, weir_key_group(k->k, s->cfg->n_keys)};
    }
    if (!rc && got) rc = snap_write(s, wr, s->snap_keys, s->snap_keys + s->cap_snap_keys, got);
    *n = got;
    uint32_t kept = 0; /* the retired windows written now: their keys are in wr */
    for (uint32_t i = 0; i < s->n_retired; i++) {
        if (s->retired[i]->snapped == s->epoch)
            win_free(s->retired[i]);
        else
            s->retired[kept++] = s->retired[i];
    }
    s->n_retired = kept;
    return rc;
}

/* Window w fired before the walk wrote it: kept until it has. 0 or WEIR_ENOMEM. */
static int snap_retire(join_state *s, jwin *w)
{
    if (s->n_retired == s->cap_retired) {
        uint32_t cap = s->cap_retired ? s->cap_retired * 2 : 8;
        jwin **rs = realloc(s->retired, cap * sizeof *rs);
        if (!rs) { /* the run fails: the snapshot is abandoned */
            if (s->snap_cur.w == w) s->snap_cur = (snap_cursor){0};
            win_free(w);
            return WEIR_ENOMEM;
        }
        s->retired = rs;
        s->cap_retired = cap;
    }
    s->retired[s->n_retired++] = w; /* windows fire by start: the order stays */
    TEST_COUNT(s, retired, 1);
    return 0;
}

/* The snapshot is complete (or abandoned: the retired windows go). */
static void snap_end(join_state *s)
{
    s->snap_w = NULL;
    s->snap_cur = (snap_cursor){0};
    free(s->snap_keys);
    s->snap_keys = NULL;
    s->cap_snap_keys = 0;
    for (uint32_t i = 0; i < s->n_retired; i++) win_free(s->retired[i]);
    s->n_retired = 0;
}

/* Writes the shared section and starts a lazy snapshot of the windows (snapshot_more). */
static int join_snapshot(weir_operator *op, weir_snap_writer *wr)
{
    join_state *s = op->state;
    snap_end(s); /* an unfinished one (there is none: the engine finishes each first) */
    int rc = weir_snap_section(wr, WEIR_SNAP_SHARED);
    if (!rc) rc = weir_snap_u32(wr, JOIN_SNAP_VERSION);
    if (!rc) rc = weir_snap_i64(wr, s->wm.wm[0]);
    if (!rc) rc = weir_snap_i64(wr, s->wm.wm[1]);
    if (!rc) rc = weir_snap_i64(wr, s->wm.out);
    if (!rc) rc = weir_snap_i64(wr, s->out_wm);
    if (rc || !s->n_wins) return rc;
    s->epoch++; /* what is there now has an older epoch */
    s->snap_w = wr;
    return WEIR_SNAP_MORE;
}

/* Writes about `budget` more keys (0: all) of the windows not written yet, by start. */
static int join_snapshot_more(weir_operator *op, weir_snap_writer *wr, uint32_t budget)
{
    join_state *s = op->state;
    if (!s->snap_w) return 0;
    s->snap_w = wr;
    if (s->test_budget && budget > s->test_budget) budget = s->test_budget;
    size_t n;
    int rc = snap_walk(s, wr, budget ? budget : SIZE_MAX, &n);
    TEST_COUNT(s, calls, 1);
    TEST_COUNT(s, keys, n);
    if (rc) {
        snap_end(s);
        return rc;
    }
    if (s->snap_cur.w || snap_pending(s)) return WEIR_SNAP_MORE;
    snap_end(s);
    return 0;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int restore_shared(weir_operator *op, join_state *s, weir_snap_reader *r)
{
    int64_t left = weir_snap_get_i64(r), right = weir_snap_get_i64(r);
    int64_t given = weir_snap_get_i64(r), out = weir_snap_get_i64(r);
    if (!weir_snap_done(r))
        return weir_operator_fail(
            op, WEIR_ECORRUPT, "%s: damaged checkpoint: its watermarks do not read back", op->name);
    if (s->restored_shared) { /* the minimum over the old instances */
        left = min64(left, s->wm.wm[0]);
        right = min64(right, s->wm.wm[1]);
        given = min64(given, s->wm.out);
        out = min64(out, s->out_wm);
    }
    s->restored_shared = true;
    s->wm.wm[0] = left;
    s->wm.wm[1] = right;
    s->wm.out = given;
    s->out_wm = out;
    return 0;
}

/* Reads a row of input side back into window w; *group: the key group of its key. 0,
 * WEIR_ECORRUPT or WEIR_ENOMEM. */
static int restore_row(join_state *s, weir_snap_reader *r, jwin *w, uint32_t side, uint32_t *group)
{
    uint32_t nf = s->in_schema[side]->n_fields;
    int64_t ts = weir_snap_get_i64(r);
    for (uint32_t i = 0; i < nf; i++) s->row_buf[i] = weir_snap_get_value(r);
    weir_raw raw = {0};
    if (weir_snap_get_u8(r)) raw.text = weir_snap_get_str(r, &raw.len);
    if (!weir_snap_ok(r)) return WEIR_ECORRUPT;
    *group = weir_key_group_of_row(s->row_buf, s->cfg->keys[side], s->cfg->n_keys);
    return win_add(s, w, side, ts, s->row_buf, &raw);
}

static int restore_group(weir_operator *op, join_state *s, uint32_t group, weir_snap_reader *r)
{
    uint32_t nf[2] = {weir_snap_get_u32(r), weir_snap_get_u32(r)};
    if (weir_snap_ok(r) &&
        (nf[0] != s->in_schema[0]->n_fields || nf[1] != s->in_schema[1]->n_fields))
        return weir_operator_fail(op, WEIR_EINVAL,
                                  "%s: the checkpoint does not match this pipeline: its rows have "
                                  "%u and %u fields, the inputs have %u and %u",
                                  op->name, nf[0], nf[1], s->in_schema[0]->n_fields,
                                  s->in_schema[1]->n_fields);
    uint32_t widest = s->in_schema[0]->n_fields > s->in_schema[1]->n_fields
                          ? s->in_schema[0]->n_fields
                          : s->in_schema[1]->n_fields;
    if (!s->row_buf && !(s->row_buf = calloc(widest + 1, sizeof *s->row_buf)))
        return weir_operator_fail(op, WEIR_ENOMEM, "%s: out of memory", op->name);
    int rc = 0;
    while (!rc && weir_snap_ok(r) && r->p < r->end) {
        int64_t start = weir_snap_get_i64(r);
        uint32_t n_keys = weir_snap_get_u32(r);
        jwin *w = weir_snap_ok(r) ? win_get(s, start) : NULL;
        if (weir_snap_ok(r) && !w) rc = WEIR_ENOMEM;
        for (uint32_t k = 0; k < n_keys && !rc && weir_snap_ok(r); k++) {
            uint32_t n[2] = {weir_snap_get_u32(r), weir_snap_get_u32(r)};
            for (uint32_t side = 0; side < 2 && !rc; side++)
                for (uint32_t i = 0; i < n[side] && !rc && weir_snap_ok(r); i++) {
                    uint32_t g = group;
                    rc = restore_row(s, r, w, side, &g);
                    if (!rc && g != group) rc = WEIR_ECORRUPT; /* a key of another group */
                }
        }
    }
    if (rc == WEIR_ENOMEM) return weir_operator_fail(op, rc, "%s: out of memory", op->name);
    if (rc || !weir_snap_done(r))
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: damaged checkpoint: the state of key group %u does not "
                                  "read back",
                                  op->name, group);
    return 0;
}

static int join_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    join_state *s = op->state;
    uint32_t version = weir_snap_get_u32(r);
    if (!weir_snap_ok(r))
        return weir_operator_fail(op, WEIR_ECORRUPT, "%s: damaged checkpoint: an empty section",
                                  op->name);
    if (version != JOIN_SNAP_VERSION)
        return weir_operator_fail(op, WEIR_EUNSUPPORTED,
                                  "%s: the checkpoint holds Join state in format version %u; this "
                                  "weir reads version %u only",
                                  op->name, version, JOIN_SNAP_VERSION);
    if (group == WEIR_SNAP_SHARED) return restore_shared(op, s, r);
    if (group >= WEIR_KEY_GROUPS)
        return weir_operator_fail(op, WEIR_ECORRUPT, "%s: damaged checkpoint: section %u", op->name,
                                  group);
    return restore_group(op, s, group, r);
}

static const weir_operator_class join_class = {.name = "Join",
                                               .open = join_open,
                                               .process = join_process,
                                               .close = join_close,
                                               .snapshot = join_snapshot,
                                               .snapshot_more = join_snapshot_more,
                                               .restore = join_restore};

/* ---- the DSL ---- */

static void config_free(void *p)
{
    join_config *c = p;
    if (!c) return;
    free(c->tag[0]);
    free(c->tag[1]);
    weir_schema_unref(c->in_schema[0]);
    weir_schema_unref(c->in_schema[1]);
    free(c);
}

/* Records the error in p and returns its failed stream. Messages do not start with "Join:": the
 * caller names the transform (the YAML runner prefixes its name). */
#define FAIL(p, code, ...)                                                                         \
    (weir_pipeline_set_error((p), (code), __VA_ARGS__), weir_pipeline_failed_stream(p))

weir_stream *weir_join(weir_stream *left, weir_stream *right, const weir_join_spec *spec)
{
    weir_pipeline *p = weir_stream_pipeline(left);
    if (!p) return NULL;
    if (weir_stream_failed(left) || weir_stream_failed(right))
        return weir_pipeline_failed_stream(p);
    if (weir_stream_pipeline(right) != p)
        return FAIL(p, WEIR_EINVAL, "the right input is not a stream of this pipeline");
    if (!spec) return FAIL(p, WEIR_EINVAL, "no spec given");
    char err[256];
    const weir_window_fn *wf = &spec->window;
    if (wf->type != WEIR_WINDOW_FIXED && wf->type != WEIR_WINDOW_SLIDING)
        return FAIL(p, WEIR_EINVAL,
                    "windows must be fixed or sliding (%s are not supported by Join in this "
                    "version)",
                    wf->type == WEIR_WINDOW_GLOBAL
                        ? "global windows: a Join of unbounded inputs would never emit; they"
                        : "session windows");
    if (weir_window_fn_validate(wf, err, sizeof err)) return FAIL(p, WEIR_EINVAL, "%s", err);
    const char *tag[2] = {spec->left_tag ? spec->left_tag : "left",
                          spec->right_tag ? spec->right_tag : "right"};
    if (!tag[0][0] || !tag[1][0] || !strcmp(tag[0], tag[1]))
        return FAIL(p, WEIR_EINVAL,
                    "the tags of its inputs must differ and not be empty "
                    "('%s', '%s')",
                    tag[0], tag[1]);
    uint32_t nk = 0, nr = 0;
    while (spec->left_keys && spec->left_keys[nk]) nk++;
    while (spec->right_keys && spec->right_keys[nr]) nr++;
    if (nk == 0 || nk != nr)
        return FAIL(p, WEIR_EINVAL,
                    "each side needs the same number of key fields, at least one (%u and %u "
                    "given)",
                    nk, nr);
    if (nk > MAX_KEYS) return FAIL(p, WEIR_EINVAL, "at most %d key fields", MAX_KEYS);
    join_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return FAIL(p, WEIR_ENOMEM, "out of memory");
    cfg->type = spec->type;
    cfg->window = *wf;
    cfg->n_keys = nk;
    cfg->tag[0] = strdup(tag[0]);
    cfg->tag[1] = strdup(tag[1]);
    const weir_schema *sc[2] = {weir_stream_schema(left), weir_stream_schema(right)};
    const char *const *keys[2] = {spec->left_keys, spec->right_keys};
    cfg->in_schema[0] = weir_schema_ref((weir_schema *)sc[0]);
    cfg->in_schema[1] = weir_schema_ref((weir_schema *)sc[1]);
    for (int side = 0; side < 2; side++)
        for (uint32_t i = 0; i < nk; i++) {
            int c = weir_schema_find(sc[side], keys[side][i]);
            if (c < 0) {
                config_free(cfg);
                return FAIL(p, WEIR_EINVAL, "no field '%s' in input '%s'", keys[side][i],
                            tag[side]);
            }
            cfg->keys[side][i] = c;
        }
    /* output schema: tag.field for both sides, then the window fields */
    uint32_t nf = sc[0]->n_fields + sc[1]->n_fields + 2, o = 0;
    char **names = calloc(nf, sizeof *names);
    weir_type *types = calloc(nf, sizeof *types);
    bool ok = names && types && cfg->tag[0] && cfg->tag[1];
    for (int side = 0; side < 2 && ok; side++)
        for (uint32_t i = 0; i < sc[side]->n_fields && ok; i++, o++) {
            size_t len = strlen(tag[side]) + strlen(sc[side]->names[i]) + 2;
            ok = (names[o] = malloc(len)) != NULL;
            if (ok) snprintf(names[o], len, "%s.%s", tag[side], sc[side]->names[i]);
            types[o] = sc[side]->types[i]; /* a typed field may hold null */
        }
    weir_schema *schema = NULL;
    if (ok) {
        names[o] = "window_start";
        types[o++] = WEIR_TYPE_INT;
        names[o] = "window_end";
        types[o++] = WEIR_TYPE_INT;
        schema = weir_schema_create(nf, (const char *const *)names, types);
    }
    for (uint32_t i = 0; names && i + 2 < nf; i++) free(names[i]);
    free(names);
    free(types);
    if (!schema) {
        config_free(cfg);
        return FAIL(p, WEIR_ENOMEM, "out of memory");
    }
    schema->has_raw = true;
    schema->n_raw = nf - 2;
    weir_input_key ik[2] = {{true, cfg->keys[0], nk}, {true, cfg->keys[1], nk}};
    weir_stream *in[2] = {left, right};
    return weir_pipeline_add_node(p, &(weir_node_spec){.kind = "Join",
                                                       .cls = &join_class,
                                                       .config = cfg,
                                                       .config_free = config_free,
                                                       .inputs = in,
                                                       .n_inputs = 2,
                                                       .schema = schema,
                                                       .input_keys = ik});
}
