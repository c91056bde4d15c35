/* connectors/generator.c: ReadFromGenerator, the synthetic source of the benchmarks: record i
 * (from 0) is {ts: floor(i / per_ms), k: (i * 7919) mod keys, v: i mod 1000} and the watermark
 * after it is its ts (pipeline.md). Values are computed straight into the batch: no parsing, no
 * allocation, so a benchmark measures the engine and not its input.
 *
 * Partitions: P of them (`partitions`, at most one per worker; default one per worker), record i
 * in partition i mod P, each with its own watermark (the ts of its last record). A fresh run
 * gives each worker below P one; a run restored from a checkpoint keeps the checkpoint's P and
 * gives worker w of n the partitions p with p mod n = w (see gen_restore), emitting the minimum
 * of their watermarks. */
#include "weir/error.h"
#include "weir/graph.h"

#include <stdlib.h>

typedef struct gen_config {
    int64_t count, keys, per_ms, partitions;
} gen_config;

/* One partition p of P: records p, p + P, p + 2P, ... */
typedef struct gen_part {
    int64_t p, next; /* next record index (>= count: ended) */
    int64_t wm;      /* ts of its last record (WEIR_TIME_MIN: none yet) */
} gen_part;

typedef struct gen_state {
    const gen_config *cfg;
    weir_batch *batch;
    int64_t n_total; /* P, the partitions of the whole run (kept from the checkpoint) */
    gen_part *parts; /* this instance's, by p */
    uint32_t n_parts, cap_parts;
    bool restoring; /* a restore replaced the partitions dealt at open */
    bool checked;   /* the first pull checked what the restore gave */
    bool stopping;
} gen_state;

static int add_part(gen_state *s, int64_t p, int64_t next, int64_t wm)
{
    if (s->n_parts == s->cap_parts) {
        uint32_t cap = s->cap_parts ? s->cap_parts * 2 : 4;
        gen_part *np = realloc(s->parts, cap * sizeof *np);
        if (!np) return WEIR_ENOMEM;
        s->parts = np;
        s->cap_parts = cap;
    }
    s->parts[s->n_parts++] = (gen_part){p, next, wm};
    return 0;
}

static int gen_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    gen_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = config;
    /* worker i of n generates records i, i+n, i+2n, ...: one partition each, interleaved so
     * that every partition moves through event time together (contiguous ranges would put one
     * partition far ahead, and its windows would wait for the slowest partition's watermark) */
    int64_t parts = weir_operator_worker_count(op), w = weir_operator_worker_index(op);
    if (s->cfg->partitions > 0 && s->cfg->partitions < parts) parts = s->cfg->partitions;
    s->n_total = parts;
    /* workers beyond the partitions have none */
    if (w < parts && add_part(s, w, w, WEIR_TIME_MIN)) return WEIR_ENOMEM;
    s->batch = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!s->batch) return WEIR_ENOMEM;
    s->batch->origin = "ReadFromGenerator";
    return 0;
}

static void gen_close(weir_operator *op)
{
    gen_state *s = op->state;
    if (!s) return;
    weir_batch_destroy(s->batch);
    free(s->parts);
    free(s);
}

/* The instance's watermark: the minimum over its partitions that have not ended. */
static int64_t parts_wm(const gen_state *s)
{
    int64_t m = WEIR_TIME_MAX;
    for (uint32_t k = 0; k < s->n_parts; k++)
        if (s->parts[k].next < s->cfg->count && s->parts[k].wm < m) m = s->parts[k].wm;
    return m;
}

static void put_row(weir_batch *b, uint32_t r, const gen_config *c, int64_t i, uint64_t k,
                    int64_t wm)
{
    int64_t ts = i / c->per_ms;
    b->ts[r] = ts;
    b->wm[r] = wm;
    b->pos[r] = i + 1;
    weir_value *v = b->values + (size_t)r * 3;
    v[0] = weir_value_int(ts);
    v[1] = weir_value_int((int64_t)k);
    v[2] = weir_value_int(i % 1000);
}

/* One partition (every instance of a fresh run): the records of f in order, the keys stepped. */
static uint32_t fill_one(gen_state *s, gen_part *f, uint32_t limit)
{
    const gen_config *c = s->cfg;
    weir_batch *b = s->batch;
    int64_t wm = f->wm, i = f->next, step = s->n_total;
    uint64_t k = (uint64_t)((__int128)i * 7919 % c->keys);
    const uint64_t dk = (uint64_t)((__int128)7919 * step % c->keys);
    uint32_t r = 0;
    for (; r < limit && i < c->count; r++, i += step) {
        put_row(b, r, c, i, k, wm);
        k += dk;
        if (k >= (uint64_t)c->keys) k -= (uint64_t)c->keys;
        wm = i / c->per_ms;
    }
    f->next = i;
    f->wm = wm;
    return r;
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
        for (uint32_t k = 0; k < s->n_parts; k++)
            if (s->parts[k].next < c->count && (!f || s->parts[k].next < f->next)) f = &s->parts[k];
        if (!f) break;
        int64_t i = f->next;
        put_row(b, r, c, i, (uint64_t)((__int128)i * 7919 % c->keys), parts_wm(s));
        f->wm = i / c->per_ms;
        f->next = i + s->n_total;
    }
    return r;
}

/* After a restore: the partitions taken must be exactly those of this worker. */
static int check_restored(weir_operator *op, gen_state *s)
{
    s->checked = true;
    if (!s->restoring) return 0;
    int64_t n = weir_operator_worker_count(op), w = weir_operator_worker_index(op), want = 0;
    for (int64_t p = w; p < s->n_total; p += n) want++;
    bool dup = false;
    for (uint32_t a = 0; a < s->n_parts; a++)
        for (uint32_t b = a + 1; b < s->n_parts; b++) dup = dup || s->parts[a].p == s->parts[b].p;
    if (dup || want != s->n_parts)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "ReadFromGenerator: the checkpoint has %s of the %lld "
                                  "partitions of worker %lld",
                                  dup ? "a partition twice instead" : "not every one",
                                  (long long)want, (long long)w);
    return 0;
}

static int gen_pull(weir_operator *op, uint32_t max_rows)
{
    gen_state *s = op->state;
    weir_batch *b = s->batch;
    int rc;
    if (!s->checked && (rc = check_restored(op, s))) return rc;
    uint32_t limit = max_rows < b->capacity ? max_rows : b->capacity, r = 0;
    if (!s->stopping && s->n_parts == 1)
        r = fill_one(s, &s->parts[0], limit);
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

#define GEN_SNAP_VERSION 1u

/* The shared section: u32 version, i64 P (partitions of the run), u32 partitions of this
 * instance, then per partition i64 p, i64 next record, i64 watermark. */
static int gen_snapshot(weir_operator *op, weir_snap_writer *w)
{
    gen_state *s = op->state;
    int rc = weir_snap_section(w, WEIR_SNAP_SHARED);
    if (!rc) rc = weir_snap_u32(w, GEN_SNAP_VERSION);
    if (!rc) rc = weir_snap_i64(w, s->n_total);
    if (!rc) rc = weir_snap_u32(w, s->n_parts);
    for (uint32_t k = 0; !rc && k < s->n_parts; k++) {
        rc = weir_snap_i64(w, s->parts[k].p);
        if (!rc) rc = weir_snap_i64(w, s->parts[k].next);
        if (!rc) rc = weir_snap_i64(w, s->parts[k].wm);
    }
    return rc ? weir_operator_fail(op, rc, "ReadFromGenerator: out of memory") : 0;
}

/* DECISION: the partitions of the checkpoint are kept, whatever the worker count of the restore
 * (worker w of n runs the old partitions p with p mod n = w), so the records and their order
 * within each partition are those of the run that took the checkpoint. */
static int gen_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    gen_state *s = op->state;
    const gen_config *c = s->cfg;
    if (group != WEIR_SNAP_SHARED) return 0;
    uint32_t version = weir_snap_get_u32(r);
    if (weir_snap_ok(r) && version != GEN_SNAP_VERSION)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "ReadFromGenerator: the checkpoint holds this source's state in "
                                  "format version %u; this weir reads version %u",
                                  version, GEN_SNAP_VERSION);
    int64_t total = weir_snap_get_i64(r);
    uint32_t n = weir_snap_get_u32(r);
    if (!weir_snap_ok(r) || total <= 0 || total > INT32_MAX ||
        (s->restoring && total != s->n_total))
        goto bad;
    if (!s->restoring) { /* the partitions dealt at open give way to the checkpoint's */
        s->restoring = true;
        s->n_parts = 0;
        s->n_total = total;
    }
    int64_t nw = weir_operator_worker_count(op), w = weir_operator_worker_index(op);
    for (uint32_t k = 0; k < n; k++) {
        int64_t p = weir_snap_get_i64(r), next = weir_snap_get_i64(r), wm = weir_snap_get_i64(r);
        if (!weir_snap_ok(r) || p < 0 || p >= total || next < p ||
            (next < c->count && (next - p) % total != 0))
            goto bad;
        if (p % nw == w && add_part(s, p, next, wm))
            return weir_operator_fail(op, WEIR_ENOMEM, "ReadFromGenerator: out of memory");
    }
    if (!weir_snap_done(r)) goto bad;
    return 0;
bad:
    return weir_operator_fail(op, WEIR_ECORRUPT,
                              "ReadFromGenerator: this source's state in the checkpoint is "
                              "damaged, or was taken with another count");
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
