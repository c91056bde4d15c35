/* runner/expr_ops.c: Filter and MapToFields of the YAML runner, evaluating expressions compiled
 * once at load time (runner/expr.c). An expression error on a record (division by zero, a type
 * that only shows at run time) is a record error: it goes to the error output when one is
 * configured, else it stops the run with PATH:LINE of the record (pipeline.md). */
#include "expr_ops.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/record_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct expr_config {
    uint32_t n;
    weir_expr **exprs;
    int32_t *target; /* MapToFields: output column of each expression */
    bool filter, append, error_output;
    uint32_t n_in; /* input fields copied first (append) */
} expr_config;

typedef struct expr_state {
    const expr_config *cfg;
    weir_batch *out;
    weir_record_errors errors;
} expr_state;

static void expr_config_free(void *p)
{
    expr_config *c = p;
    if (!c) return;
    for (uint32_t i = 0; i < c->n; i++) weir_expr_destroy(c->exprs[i]);
    free(c->exprs);
    free(c->target);
    free(c);
}

static int eo_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    expr_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = config;
    s->out = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!s->out) return WEIR_ENOMEM;
    return weir_record_errors_init(&s->errors, op, s->cfg->error_output);
}

static void eo_close(weir_operator *op)
{
    expr_state *s = op->state;
    if (!s) return;
    weir_batch_destroy(s->out);
    weir_record_errors_finish(&s->errors);
    free(s);
}

static int eo_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    expr_state *s = op->state;
    const expr_config *c = s->cfg;
    weir_batch *out = s->out;
    uint32_t nin = b->schema->n_fields;
    char err[512];
    int rc = 0;
    out->origin = b->origin;
    uint32_t m = 0;
    for (uint32_t r = 0; r < b->n_rows && !rc; r++) {
        if ((rc = weir_batch_copy_marks(out, b, r, &m))) break;
        if (weir_batch_full(out)) {
            out->wm_after = b->wm[r];
            if ((rc = weir_operator_emit(op, out))) break;
            weir_batch_clear(out);
            out->origin = b->origin;
        }
        const weir_value *in = weir_batch_row(b, r);
        if (c->filter) {
            weir_value keep;
            err[0] = 0;
            int e = weir_expr_eval(c->exprs[0], in, &out->arena, &keep, err, sizeof err);
            if (!e && keep.type != WEIR_TYPE_BOOL && keep.type != WEIR_TYPE_NULL) {
                e = WEIR_ETYPE;
                snprintf(err, sizeof err, "keep must be a boolean, not %s",
                         weir_type_name((weir_type)keep.type));
            }
            if (e) {
                rc = weir_record_error(&s->errors, b, r, err[0] ? err : weir_strerror(e));
                if (!rc) rc = weir_batch_mark(out, b->wm[r]);
                continue;
            }
            if (keep.type != WEIR_TYPE_BOOL || !keep.as.b) { /* its watermark stays (a mark) */
                rc = weir_batch_mark(out, b->wm[r]);
                continue;
            }
            weir_value *v = weir_batch_append(out, b->ts[r], b->wm[r]);
            memcpy(v, in, nin * sizeof *v);
        } else {
            weir_value *v = weir_batch_append(out, b->ts[r], b->wm[r]);
            if (c->append) memcpy(v, in, c->n_in * sizeof *v);
            bool failed = false;
            for (uint32_t i = 0; i < c->n && !failed; i++) {
                err[0] = 0;
                int e =
                    weir_expr_eval(c->exprs[i], in, &out->arena, &v[c->target[i]], err, sizeof err);
                if (e) {
                    failed = true;
                    out->n_rows--;
                    rc = weir_record_error(&s->errors, b, r, err[0] ? err : weir_strerror(e));
                    if (!rc) rc = weir_batch_mark(out, b->wm[r]);
                }
            }
            if (failed) continue;
        }
        uint32_t o = out->n_rows - 1;
        out->pos[o] = weir_batch_pos(b, r);
        if (out->raw) out->raw[o] = b->raw ? b->raw[r] : (weir_raw){0};
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

static const weir_operator_class expr_class = {.name = "Expression",
                                               .open = eo_open,
                                               .process = eo_process,
                                               .close = eo_close,
                                               .watermark_blind = true};

static weir_stream *add(weir_stream *in, const char *kind, const char *name, expr_config *cfg,
                        weir_schema *schema)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    weir_schema *errs = cfg->error_output ? weir_record_error_schema() : NULL;
    if (!schema || (cfg->error_output && !errs)) {
        weir_schema_unref(schema);
        expr_config_free(cfg);
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return weir_pipeline_failed_stream(p);
    }
    weir_node_spec node = {.kind = kind,
                           .name = name,
                           .cls = &expr_class,
                           .config = cfg,
                           .config_free = expr_config_free,
                           .inputs = &in,
                           .n_inputs = 1,
                           .schema = schema};
    if (errs) {
        node.extra[0] = errs;
        node.n_extra = 1;
    }
    return weir_pipeline_add_node(p, &node);
}

weir_stream *weir__expr_filter(weir_stream *in, const char *name, weir_expr *keep,
                               bool error_output)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    expr_config *cfg = calloc(1, sizeof *cfg);
    if (cfg) cfg->exprs = calloc(1, sizeof *cfg->exprs);
    if (!p || weir_stream_failed(in) || !cfg || !cfg->exprs) {
        weir_expr_destroy(keep);
        expr_config_free(cfg);
        if (p && !weir_stream_failed(in)) weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return p ? weir_pipeline_failed_stream(p) : NULL;
    }
    cfg->n = 1;
    cfg->exprs[0] = keep;
    cfg->filter = true;
    cfg->error_output = error_output;
    return add(in, "Filter", name, cfg, weir_schema_ref((weir_schema *)weir_stream_schema(in)));
}

weir_stream *weir__expr_map(weir_stream *in, const char *name, uint32_t n, const char *const *names,
                            weir_expr **exprs, bool append, bool error_output)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    expr_config *cfg = calloc(1, sizeof *cfg);
    const char **onames = NULL;
    weir_type *otypes = NULL;
    if (cfg) {
        cfg->exprs = calloc(n + 1, sizeof *cfg->exprs);
        cfg->target = calloc(n + 1, sizeof *cfg->target);
    }
    if (!p || weir_stream_failed(in) || !cfg || !cfg->exprs || !cfg->target) goto fail;
    for (uint32_t i = 0; i < n; i++, cfg->n++) {
        cfg->exprs[i] = exprs[i];
        exprs[i] = NULL;
    }
    const weir_schema *is = weir_stream_schema(in);
    cfg->append = append;
    cfg->error_output = error_output;
    cfg->n_in = append ? is->n_fields : 0;
    uint32_t total = cfg->n_in + n;
    onames = calloc(total + 1, sizeof *onames);
    otypes = calloc(total + 1, sizeof *otypes);
    if (!onames || !otypes) goto fail;
    uint32_t nf = 0;
    for (uint32_t i = 0; i < cfg->n_in; i++, nf++) {
        onames[nf] = is->names[i];
        otypes[nf] = is->types[i];
    }
    for (uint32_t i = 0; i < n; i++) {
        int at = append ? weir_schema_find(is, names[i]) : -1;
        if (at >= 0 && !(is->has_raw && (uint32_t)at < is->n_raw)) {
            cfg->target[i] = at; /* replaces a computed column in place */
            otypes[at] = weir_expr_type(cfg->exprs[i]);
            continue;
        }
        if (at >= 0) onames[at] = ""; /* a raw column replaced: hide the old one */
        cfg->target[i] = (int32_t)nf;
        onames[nf] = names[i];
        otypes[nf] = weir_expr_type(cfg->exprs[i]);
        nf++;
    }
    weir_schema *schema = weir_schema_create(nf, onames, otypes);
    if (schema && append && is->has_raw) {
        schema->has_raw = true;
        schema->n_raw = is->n_raw;
    }
    free(onames);
    free(otypes);
    return add(in, "MapToFields", name, cfg, schema);
fail:
    for (uint32_t i = 0; i < n; i++) weir_expr_destroy(exprs[i]);
    expr_config_free(cfg);
    free(onames);
    free(otypes);
    if (p && !weir_stream_failed(in)) weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    return p ? weir_pipeline_failed_stream(p) : NULL;
}
