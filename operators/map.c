/* operators/map.c: weir_map(): a user function turns each row into a row of a new schema (or
 * drops it, or reports a record error). Record errors stop the run, or go to the error output
 * (port 1: fields error, source, record) when the map was built with error_output. */
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/record_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct map_config {
    weir_map_fn fn;
    void *ctx;
    bool error_output;
} map_config;

typedef struct map_state {
    const map_config *cfg;
    weir_batch *out;
    weir_record_errors errors;
} map_state;

static int map_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    map_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = config;
    s->out = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!s->out) return WEIR_ENOMEM;
    return weir_record_errors_init(&s->errors, op, s->cfg->error_output);
}

static int map_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    map_state *s = op->state;
    weir_batch *out = s->out;
    weir_row row = {.schema = b->schema};
    char err[512];
    int rc = 0;
    uint32_t m = 0;
    for (uint32_t r = 0; r < b->n_rows && !rc; r++) {
        if ((rc = weir_batch_copy_marks(out, b, r, &m))) break;
        if (weir_batch_full(out)) {
            out->wm_after = b->wm[r];
            rc = weir_operator_emit(op, out);
            weir_batch_clear(out);
            if (rc) break;
        }
        row.ts = b->ts[r];
        row.values = weir_batch_row(b, r);
        weir_value *v = weir_batch_append(out, b->ts[r], b->wm[r]);
        out->pos[out->n_rows - 1] = weir_batch_pos(b, r);
        out->origin = b->origin;
        err[0] = 0;
        int res = s->cfg->fn(&row, v, &out->arena, s->cfg->ctx, err, sizeof err);
        if (res == 0) continue;
        out->n_rows--; /* dropped or failed: its watermark stays (a mark) */
        if ((rc = weir_batch_mark(out, b->wm[r]))) break;
        if (res == 1) continue;
        rc = weir_record_error(&s->errors, b, r, err[0] ? err : weir_strerror(res));
    }
    if (!rc) rc = weir_batch_copy_marks(out, b, b->n_rows, &m);
    if (!rc) {
        out->wm_after = b->wm_after;
        out->flags = b->flags;
        rc = weir_operator_emit(op, out);
    }
    weir_batch_clear(out);
    if (!rc) rc = weir_record_errors_flush(&s->errors, b->wm_after, b->flags);
    return rc;
}

static void map_close(weir_operator *op)
{
    map_state *s = op->state;
    if (!s) return;
    weir_batch_destroy(s->out);
    weir_record_errors_finish(&s->errors);
    free(s);
}

static const weir_operator_class map_class = {.name = "Map",
                                              .open = map_open,
                                              .process = map_process,
                                              .close = map_close,
                                              .watermark_blind = true};

weir_stream *weir_map(weir_stream *in, const weir_map_spec *spec)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    if (!p || weir_stream_failed(in)) return p ? weir_pipeline_failed_stream(p) : NULL;
    if (!spec || !spec->fn || !spec->fields) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "Map: a function and output fields are required");
        return weir_pipeline_failed_stream(p);
    }
    uint32_t n = 0;
    while (spec->fields[n]) n++;
    map_config *cfg = malloc(sizeof *cfg);
    weir_schema *schema = weir_schema_create(n, (const char *const *)spec->fields, NULL);
    weir_schema *errs = spec->error_output ? weir_record_error_schema() : NULL;
    if (!cfg || !schema || (spec->error_output && !errs)) {
        free(cfg);
        weir_schema_unref(schema);
        weir_schema_unref(errs);
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return weir_pipeline_failed_stream(p);
    }
    *cfg = (map_config){spec->fn, spec->ctx, spec->error_output};
    weir_node_spec node = {.kind = "Map",
                           .cls = &map_class,
                           .config = cfg,
                           .config_free = free,
                           .inputs = &in,
                           .n_inputs = 1,
                           .schema = schema};
    if (errs) {
        node.extra[0] = errs;
        node.n_extra = 1;
    }
    return weir_pipeline_add_node(p, &node);
}

weir_stream *weir_error_output(weir_stream *s)
{
    return weir_stream_port(s, 1);
}
