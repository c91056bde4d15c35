/* operators/flatten.c: weir_flatten(), the union of several inputs of the same fields.
 *
 * Rows pass unchanged (16 bytes per value copied, strings shared with the input batch, which
 * outlives the call), in their order within each input. Time: each input has its watermark
 * (operators/input_wm.h) and every row, mark and batch end leaves with the minimum over the
 * inputs as it stands after that input's watermark moved, exactly as the exchange merges its
 * channels; so a window downstream sees one input with that watermark. An input's END raises its
 * watermark to +infinity; the output's END goes out once every input ended.
 *
 * Schemas: Beam's Flatten needs compatible inputs; weir asks for the same field names in the same
 * order and the same pass-through layout (has_raw, n_raw), which is what every branch of one
 * source has in the YAML runner. Types may differ: such a field is ANY in the output. A union by
 * name with nulls for missing fields would hide a misspelt field; an explicit MapToFields in front
 * of the Flatten says what is meant. */
#include "input_wm.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/join.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct flatten_state {
    weir_batch *out;
    input_wm wm;
    int64_t sent_wm; /* wm_after of the last batch emitted */
    bool sent_end;
} flatten_state;

static int flatten_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)config, (void)errbuf, (void)errlen;
    flatten_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->sent_wm = WEIR_TIME_MIN;
    s->out = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!s->out || input_wm_init(&s->wm, op->n_inputs)) return WEIR_ENOMEM;
    return 0;
}

static int emit(weir_operator *op, flatten_state *s, int64_t wm_after, uint32_t flags)
{
    weir_batch *out = s->out;
    out->wm_after = wm_after;
    out->flags = flags;
    s->sent_wm = wm_after;
    int rc = weir_operator_emit(op, out);
    weir_batch_clear(out);
    return rc;
}

static int flatten_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    flatten_state *s = op->state;
    weir_batch *out = s->out;
    uint32_t nf = b->schema->n_fields;
    int rc = 0;
    if (s->sent_end) return 0;
    input_wm_flags(&s->wm, input, b->flags);
    weir_batch_clear(out);
    uint32_t m = 0;
    for (uint32_t r = 0; r <= b->n_rows && !rc; r++) {
        for (; m < b->n_marks && b->mark_at[m] <= r && !rc; m++)
            rc = weir_batch_mark(out, input_wm_raise(&s->wm, input, b->mark_wm[m]));
        if (r == b->n_rows || rc) break;
        int64_t wm = input_wm_raise(&s->wm, input, b->wm[r]);
        if (weir_batch_full(out) && (rc = emit(op, s, wm, 0))) break;
        weir_value *v = weir_batch_append(out, b->ts[r], wm);
        memcpy(v, weir_batch_row(b, r), nf * sizeof *v);
        out->pos[out->n_rows - 1] = weir_batch_pos(b, r);
        out->origin = b->origin;
        if (out->raw) out->raw[out->n_rows - 1] = b->raw ? b->raw[r] : (weir_raw){0};
    }
    if (rc) return weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc));
    int64_t wm = input_wm_raise(&s->wm, input, b->wm_after);
    uint32_t flags = 0;
    if (b->flags & WEIR_BATCH_END) {
        if (input_wm_end(&s->wm, input)) {
            flags = WEIR_BATCH_END;
            s->sent_end = true;
        }
        wm = input_wm_min(&s->wm);
    } else if (input_wm_all_idle(&s->wm)) {
        flags = WEIR_BATCH_IDLE;
    }
    if (!out->n_rows && !out->n_marks && !flags && wm <= s->sent_wm) return 0;
    return emit(op, s, wm, flags);
}

static void flatten_close(weir_operator *op)
{
    flatten_state *s = op->state;
    if (!s) return;
    weir_batch_destroy(s->out);
    input_wm_finish(&s->wm);
    free(s);
}

static const weir_operator_class flatten_class = {.name = "Flatten",
                                                  .open = flatten_open,
                                                  .process = flatten_process,
                                                  .close = flatten_close,
                                                  .watermark_blind = true};

static bool same_fields(const weir_schema *a, const weir_schema *b)
{
    if (a->n_fields != b->n_fields || a->has_raw != b->has_raw) return false;
    if (a->has_raw && a->n_raw != b->n_raw) return false;
    for (uint32_t i = 0; i < a->n_fields; i++)
        if (strcmp(a->names[i], b->names[i])) return false;
    return true;
}

weir_stream *weir_flatten(weir_stream *const *inputs, uint32_t n)
{
    weir_pipeline *p = n && inputs ? weir_stream_pipeline(inputs[0]) : NULL;
    if (!p) return NULL;
    for (uint32_t i = 0; i < n; i++)
        if (weir_stream_failed(inputs[i])) return weir_pipeline_failed_stream(p);
    const weir_schema *first = weir_stream_schema(inputs[0]);
    for (uint32_t i = 1; i < n; i++) {
        const weir_schema *sc = weir_stream_schema(inputs[i]);
        /* no "Flatten:" in the messages: the caller names the transform (runner/build.c) */
        if (weir_stream_pipeline(inputs[i]) != p) {
            weir_pipeline_set_error(p, WEIR_EINVAL, "input %u is not a stream of this pipeline",
                                    i + 1);
            return weir_pipeline_failed_stream(p);
        }
        if (!same_fields(first, sc)) {
            char a[256] = "", bb[256] = "";
            for (uint32_t k = 0; k < first->n_fields; k++)
                snprintf(a + strlen(a), sizeof a - strlen(a), "%s%s", k ? ", " : "",
                         first->names[k]);
            for (uint32_t k = 0; k < sc->n_fields; k++)
                snprintf(bb + strlen(bb), sizeof bb - strlen(bb), "%s%s", k ? ", " : "",
                         sc->names[k]);
            weir_pipeline_set_error(p, WEIR_EINVAL,
                                    "its inputs must have the same fields: input 1 has "
                                    "(%s), input %u has (%s)",
                                    a, i + 1, bb);
            return weir_pipeline_failed_stream(p);
        }
    }
    weir_type *types = malloc((first->n_fields + 1) * sizeof *types);
    if (!types) {
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return weir_pipeline_failed_stream(p);
    }
    for (uint32_t k = 0; k < first->n_fields; k++) {
        types[k] = first->types[k];
        for (uint32_t i = 1; i < n; i++)
            if (weir_stream_schema(inputs[i])->types[k] != types[k]) types[k] = WEIR_TYPE_ANY;
    }
    weir_schema *schema =
        weir_schema_create(first->n_fields, (const char *const *)first->names, types);
    free(types);
    if (!schema) {
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return weir_pipeline_failed_stream(p);
    }
    schema->has_raw = first->has_raw;
    schema->n_raw = first->n_raw;
    return weir_pipeline_add_node(p, &(weir_node_spec){.kind = "Flatten",
                                                       .cls = &flatten_class,
                                                       .inputs = inputs,
                                                       .n_inputs = n,
                                                       .schema = schema});
}
