/* operators/filter.c: weir_filter(): keeps the rows a user function accepts. The output batch
 * shares the input's strings (it is emitted before the input batch is released), so a filter
 * copies 16 bytes per value and allocates nothing per row. A dropped row's watermark is kept as a
 * mark (weir/batch.h), so downstream windows see every watermark value. */
#include "weir/error.h"
#include "weir/graph.h"

#include <stdlib.h>
#include <string.h>

typedef struct filter_config {
    weir_filter_fn fn;
    void *ctx;
} filter_config;

typedef struct filter_state {
    const filter_config *cfg;
    weir_batch *out;
} filter_state;

static int filter_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    filter_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = config;
    s->out = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    return s->out ? 0 : WEIR_ENOMEM;
}

static int filter_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    filter_state *s = op->state;
    weir_batch *out = s->out;
    uint32_t nf = b->schema->n_fields;
    weir_row row = {.schema = b->schema};
    int rc = 0;
    weir_batch_clear(out);
    uint32_t m = 0;
    for (uint32_t r = 0; r < b->n_rows && !rc; r++) {
        rc = weir_batch_copy_marks(out, b, r, &m);
        row.ts = b->ts[r];
        row.values = weir_batch_row(b, r);
        if (!s->cfg->fn(&row, s->cfg->ctx)) { /* dropped: its watermark stays (a mark) */
            if (!rc) rc = weir_batch_mark(out, b->wm[r]);
            continue;
        }
        weir_value *v = weir_batch_append(out, b->ts[r], b->wm[r]);
        out->pos[out->n_rows - 1] = weir_batch_pos(b, r);
        out->origin = b->origin;
        memcpy(v, row.values, nf * sizeof *v);
        if (out->raw) out->raw[out->n_rows - 1] = b->raw[r];
    }
    if (!rc) rc = weir_batch_copy_marks(out, b, b->n_rows, &m);
    if (rc) return weir_operator_fail(op, rc, "%s: out of memory", op->name);
    out->wm_after = b->wm_after;
    out->flags = b->flags;
    rc = weir_operator_emit(op, out);
    weir_batch_clear(out);
    return rc;
}

static void filter_close(weir_operator *op)
{
    filter_state *s = op->state;
    if (!s) return;
    weir_batch_destroy(s->out);
    free(s);
}

static const weir_operator_class filter_class = {.name = "Filter",
                                                 .open = filter_open,
                                                 .process = filter_process,
                                                 .close = filter_close,
                                                 .watermark_blind = true};

weir_stream *weir_filter(weir_stream *in, weir_filter_fn fn, void *ctx)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    if (!p || weir_stream_failed(in)) return p ? weir_pipeline_failed_stream(p) : NULL;
    if (!fn) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "Filter: no function given");
        return weir_pipeline_failed_stream(p);
    }
    filter_config *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return weir_pipeline_failed_stream(p);
    }
    *cfg = (filter_config){fn, ctx};
    weir_schema *schema = weir_schema_ref((weir_schema *)weir_stream_schema(in));
    return weir_pipeline_add_node(p, &(weir_node_spec){.kind = "Filter",
                                                       .cls = &filter_class,
                                                       .config = cfg,
                                                       .config_free = free,
                                                       .inputs = &in,
                                                       .n_inputs = 1,
                                                       .schema = schema});
}
