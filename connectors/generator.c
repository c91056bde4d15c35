/* connectors/generator.c: ReadFromGenerator, the synthetic source of the benchmarks: record i
 * (from 0) is {ts: floor(i / per_ms), k: (i * 7919) mod keys, v: i mod 1000} and the watermark
 * after it is its ts (pipeline.md). Values are computed straight into the batch: no parsing, no
 * allocation, so a benchmark measures the engine and not its input. */
#include "weir/error.h"
#include "weir/graph.h"

#include <stdlib.h>

typedef struct gen_config {
    int64_t count, keys, per_ms, partitions;
} gen_config;

typedef struct gen_state {
    const gen_config *cfg;
    weir_batch *batch;
    int64_t next, end, step; /* this worker's records: next, next+step, ... < end */
    int64_t wm;
    bool stopping;
} gen_state;

static int gen_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    gen_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = config;
    s->wm = WEIR_TIME_MIN;
    /* worker i of n generates records i, i+n, i+2n, ...: one partition each, interleaved so
     * that every partition moves through event time together (contiguous ranges would put one
     * partition far ahead, and its windows would wait for the slowest partition's watermark) */
    int64_t parts = weir_operator_worker_count(op), w = weir_operator_worker_index(op);
    if (s->cfg->partitions > 0 && s->cfg->partitions < parts) parts = s->cfg->partitions;
    s->next = w;
    s->step = parts;
    s->end = w < parts ? s->cfg->count : 0; /* workers beyond the partitions have none */
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
    free(s);
}

static int gen_pull(weir_operator *op, uint32_t max_rows)
{
    gen_state *s = op->state;
    const gen_config *c = s->cfg;
    weir_batch *b = s->batch;
    uint32_t limit = max_rows < b->capacity ? max_rows : b->capacity;
    int64_t wm = s->wm, i = s->next, step = s->step;
    uint64_t k = (uint64_t)((__int128)i * 7919 % c->keys);
    const uint64_t dk = (uint64_t)((__int128)7919 * step % c->keys);
    uint32_t r = 0;
    for (; r < limit && i < s->end && !s->stopping; r++, i += step) {
        int64_t ts = i / c->per_ms;
        b->ts[r] = ts;
        b->wm[r] = wm;
        b->pos[r] = i + 1;
        weir_value *v = b->values + (size_t)r * 3;
        v[0] = weir_value_int(ts);
        v[1] = weir_value_int((int64_t)k);
        v[2] = weir_value_int(i % 1000);
        k += dk;
        if (k >= (uint64_t)c->keys) k -= (uint64_t)c->keys;
        wm = ts;
    }
    b->n_rows = r;
    weir_operator_count_read(op, r);
    s->next = i;
    s->wm = wm;
    bool done = s->next >= s->end || s->stopping;
    b->wm_after = done ? WEIR_TIME_MAX : wm;
    b->flags = done ? WEIR_BATCH_END : 0;
    weir_operator_report_watermark(op, b->wm_after);
    int rc = weir_operator_emit(op, b);
    weir_batch_clear(b);
    b->origin = "ReadFromGenerator";
    if (rc) return rc;
    return done ? WEIR_PULL_END : WEIR_PULL_MORE;
}

static void gen_stop(weir_operator *op)
{
    ((gen_state *)op->state)->stopping = true;
}

static const weir_operator_class gen_class = {.name = "ReadFromGenerator",
                                              .open = gen_open,
                                              .pull = gen_pull,
                                              .stop = gen_stop,
                                              .close = gen_close};

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
