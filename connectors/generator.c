/* connectors/generator.c: ReadFromGenerator, the synthetic source of the benchmarks: record i
 * (from 0) is {ts: floor(i / per_ms), k: (i * 7919) mod keys, v: i mod 1000} and the watermark
 * after it is its ts (pipeline.md). Values are computed straight into the batch: no parsing, no
 * allocation, so a benchmark measures the engine and not its input.
 *
 * Partitions: P of them (`partitions`, at most one per worker; default one per worker), record i
 * in partition i mod P, each with its own watermark (the ts of its last record). A fresh run
 * gives each worker below P one; a run restored from a checkpoint keeps the checkpoint's P and
 * gives worker w of n the partitions p with p mod n = w (connectors/strided_parts.h), emitting the
 * minimum of their watermarks. */
#include "strided_parts.h"
#include "weir/error.h"
#include "weir/graph.h"

#include <stdlib.h>
#include <string.h>

typedef struct gen_config {
    int64_t count, keys, per_ms, partitions;
} gen_config;

#define GEN_SNAP_VERSION 1u /* of the checkpoint's shared section */

typedef strided_part gen_part; /* max_ts: the ts of its last record */

typedef struct gen_state {
    const gen_config *cfg;
    weir_batch *batch;
    strided_parts parts; /* this instance's, by p (connectors/strided_parts.h) */
    bool stopping;
} gen_state;

static int gen_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    gen_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = config;
    if (strided_parts_open(&s->parts, op, "ReadFromGenerator", "another count", s->cfg->count,
                           s->cfg->partitions, GEN_SNAP_VERSION))
        return WEIR_ENOMEM;
    s->batch = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!s->batch) return WEIR_ENOMEM;
    /* every value is an integer: the type words are written once, here, and the fills write
     * only the payloads (consumers borrow a batch read-only, so the words stay) */
    for (size_t i = 0; i < (size_t)s->batch->capacity * 3; i++)
        s->batch->values[i] = weir_value_int(0);
    s->batch->origin = "ReadFromGenerator";
    return 0;
}

static void gen_close(weir_operator *op)
{
    gen_state *s = op->state;
    if (!s) return;
    weir_batch_destroy(s->batch);
    strided_parts_finish(&s->parts);
    free(s);
}

/* The instance's watermark: the minimum over its partitions that have not ended. */
static int64_t parts_wm(const gen_state *s)
{
    int64_t m = WEIR_TIME_MAX;
    for (uint32_t k = 0; k < s->parts.n; k++)
        if (s->parts.v[k].next < s->cfg->count && s->parts.v[k].max_ts < m)
            m = s->parts.v[k].max_ts;
    return m;
}

static void put_row(weir_batch *b, uint32_t r, const gen_config *c, int64_t i, uint64_t k,
                    int64_t wm)
{
    int64_t ts = i / c->per_ms;
    b->ts[r] = ts;
    b->wm[r] = wm;
    b->pos[r] = i + 1;
    weir_value *v = b->values + (size_t)r * 3; /* the type words are set (gen_open) */
    v[0].as.i = ts;
    v[1].as.i = (int64_t)k;
    v[2].as.i = i % 1000;
}

/* One partition (every instance of a fresh run): the records of f in order. No division per
 * record: the key, ts = i / per_ms and v = i mod 1000 are stepped along with i. */
static uint32_t fill_one(gen_state *s, gen_part *f, uint32_t limit)
{
    const gen_config *c = s->cfg;
    weir_batch *b = s->batch;
    int64_t wm = f->max_ts, i = f->next, step = s->parts.n_total;
    uint64_t k = (uint64_t)((__int128)i * 7919 % c->keys);
    const uint64_t dk = (uint64_t)((__int128)7919 * step % c->keys);
    int64_t ts = i / c->per_ms, ts_r = i % c->per_ms, v = i % 1000;
    const int64_t d_ts = step / c->per_ms, d_ts_r = step % c->per_ms, d_v = step % 1000;
    uint32_t n = limit;
    if (i >= c->count)
        n = 0;
    else if ((c->count - i - 1) / step + 1 < (int64_t)n) /* records left, without overflow */
        n = (uint32_t)((c->count - i - 1) / step + 1);
    /* Three passes, each simple enough to stay in registers or be vectorized: event times (in
     * runs of one instant when several records share one), then the watermark before each row
     * (its predecessor's ts), then the values' payloads (gen_open set their types). Positions
     * are affine (weir_batch_pos), not written. */
    int64_t *restrict ts_out = b->ts, *restrict wm_out = b->wm;
    const int64_t per_ms = c->per_ms, pos0 = i + 1;
    if (d_ts == 0) { /* step < per_ms: d_ts_r = step records of an instant go by per step */
        for (uint32_t r = 0; r < n;) {
            int64_t same = (per_ms - ts_r + d_ts_r - 1) / d_ts_r; /* records left at ts */
            uint32_t e = same < (int64_t)(n - r) ? r + (uint32_t)same : n;
            ts_r += (int64_t)(e - r) * d_ts_r;
            for (; r < e; r++) ts_out[r] = ts;
            if (ts_r >= per_ms) ts_r -= per_ms, ts++;
        }
    } else {
        for (uint32_t r = 0; r < n; r++) {
            ts_out[r] = ts;
            ts += d_ts;
            ts_r += d_ts_r;
            if (ts_r >= per_ms) ts_r -= per_ms, ts++;
        }
    }
    if (n) {
        wm_out[0] = wm;
        memcpy(wm_out + 1, ts_out, (size_t)(n - 1) * sizeof *wm_out);
        wm = ts_out[n - 1];
    }
    b->pos_base = pos0; /* row r is record pos0 + r * step (counted from 1) */
    b->pos_step = step;
    weir_value *restrict row = b->values;
    const uint64_t keys = (uint64_t)c->keys;
    for (uint32_t r = 0; r < n; r++, row += 3) {
        row[0].as.i = ts_out[r];
        row[1].as.i = (int64_t)k;
        row[2].as.i = v;
        k += dk;
        if (k >= keys) k -= keys;
        v += d_v;
        if (v >= 1000) v -= 1000;
    }
    i += (int64_t)n * step;
    f->next = i;
    f->max_ts = wm;
    return n;
}

/* Several partitions (a restore at fewer workers than the checkpoint's partitions): merged by
 * record index, so they move through event time together; each row's watermark is the minimum
 * over the partitions before it. */
static uint32_t fill_merged(gen_state *s, uint32_t limit)
{
    const gen_config *c = s->cfg;
    weir_batch *b = s->batch;
    uint32_t r = 0;
    for (; r < limit; r++) {
        gen_part *f = NULL;
        for (uint32_t k = 0; k < s->parts.n; k++)
            if (s->parts.v[k].next < c->count && (!f || s->parts.v[k].next < f->next))
                f = &s->parts.v[k];
        if (!f) break;
        int64_t i = f->next;
        put_row(b, r, c, i, (uint64_t)((__int128)i * 7919 % c->keys), parts_wm(s));
        f->max_ts = i / c->per_ms;
        f->next = i + s->parts.n_total;
    }
    return r;
}

static int gen_pull(weir_operator *op, uint32_t max_rows)
{
    gen_state *s = op->state;
    weir_batch *b = s->batch;
    int rc;
    if (!s->parts.checked && (rc = strided_parts_check(&s->parts, op))) return rc;
    uint32_t limit = max_rows < b->capacity ? max_rows : b->capacity, r = 0;
    if (!s->stopping && s->parts.n == 1)
        r = fill_one(s, &s->parts.v[0], limit);
    else if (!s->stopping)
        r = fill_merged(s, limit);
    b->n_rows = r;
    weir_operator_count_read(op, r);
    int64_t wm = parts_wm(s);
    bool done = wm == WEIR_TIME_MAX || s->stopping;
    b->wm_after = done ? WEIR_TIME_MAX : wm;
    b->flags = done ? WEIR_BATCH_END : 0;
    weir_operator_report_watermark(op, b->wm_after);
    rc = weir_operator_emit(op, b);
    weir_batch_clear(b);
    b->origin = "ReadFromGenerator";
    if (rc) return rc;
    return done ? WEIR_PULL_END : WEIR_PULL_MORE;
}

/* ---- checkpoints ---- */

/* The shared section: connectors/strided_parts.h (its i64 per partition: the ts of its last
 * record). */
static int gen_snapshot(weir_operator *op, weir_snap_writer *w)
{
    return strided_parts_snapshot(&((gen_state *)op->state)->parts, op, w);
}

static int gen_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    if (group != WEIR_SNAP_SHARED) return 0;
    return strided_parts_restore(&((gen_state *)op->state)->parts, op, r);
}

static void gen_stop(weir_operator *op)
{
    ((gen_state *)op->state)->stopping = true;
}

static const weir_operator_class gen_class = {.name = "ReadFromGenerator",
                                              .open = gen_open,
                                              .pull = gen_pull,
                                              .stop = gen_stop,
                                              .close = gen_close,
                                              .snapshot = gen_snapshot,
                                              .restore = gen_restore};

weir_stream *weir_read_generator(weir_pipeline *p, const weir_generator_source *opt)
{
    if (!p) return NULL;
    if (weir_pipeline_status(p)) return weir_pipeline_failed_stream(p);
    gen_config c = {opt ? opt->count : 0, opt && opt->keys ? opt->keys : 1000,
                    opt && opt->per_ms ? opt->per_ms : 100, opt ? opt->partitions : 0};
    if (c.count <= 0 || c.keys <= 0 || c.per_ms <= 0 || c.partitions < 0) {
        weir_pipeline_set_error(p, WEIR_EINVAL,
                                "ReadFromGenerator: count, keys and per_ms must be positive, "
                                "partitions not negative");
        return weir_pipeline_failed_stream(p);
    }
    gen_config *cfg = malloc(sizeof *cfg);
    static const char *const names[] = {"ts", "k", "v"};
    static const weir_type types[] = {WEIR_TYPE_INT, WEIR_TYPE_INT, WEIR_TYPE_INT};
    weir_schema *schema = weir_schema_create(3, names, types);
    if (!cfg || !schema) {
        free(cfg);
        weir_schema_unref(schema);
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return weir_pipeline_failed_stream(p);
    }
    *cfg = c;
    return weir_pipeline_add_node(p, &(weir_node_spec){.kind = "ReadFromGenerator",
                                                       .cls = &gen_class,
                                                       .config = cfg,
                                                       .config_free = free,
                                                       .schema = schema});
}
