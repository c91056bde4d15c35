/* operators/combine_dsl.c: weir_combine(), the C DSL's entry to the windowed aggregation:
 * checks the spec against the input schema, resolves field names to columns once, builds the
 * output schema of windowing.md §7 and adds the Combine node. */
#include "combine.h"
#include "weir/error.h"
#include "weir/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void weir__combine_config_free(void *config)
{
    combine_config *c = config;
    if (!c) return;
    free(c->group);
    agg_set_finish(&c->aggs);
    weir_trigger_destroy(c->windowing.trigger);
    free(c);
}

static const char *const window_fields[] = {"window_start", "window_end", "pane_timing",
                                            "pane_index",   "pane_last",  "op"};
static const weir_type window_types[] = {WEIR_TYPE_INT, WEIR_TYPE_INT,  WEIR_TYPE_STRING,
                                         WEIR_TYPE_INT, WEIR_TYPE_BOOL, WEIR_TYPE_STRING};

weir_stream *weir_combine(weir_stream *in, const weir_combine_spec *spec)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    weir_trigger *trigger = spec ? spec->trigger : NULL;
    combine_config *cfg = NULL;
    const char **names = NULL;
    weir_type *types = NULL;
    agg_def *defs = NULL;
    char err[256];
    if (!p) goto fail;
    if (weir_stream_failed(in)) goto fail;
    if (!spec || !spec->aggregates || !spec->aggregates[0].fn) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "Combine: no aggregates given");
        goto fail;
    }
    const weir_schema *is = weir_stream_schema(in);
    if (weir_window_fn_validate(&spec->window, err, sizeof err) ||
        weir_trigger_validate(trigger, err, sizeof err)) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "Combine: %s", err);
        goto fail;
    }
    if (spec->allowed_lateness < 0) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "Combine: allowed_lateness must not be negative");
        goto fail;
    }
    cfg = calloc(1, sizeof *cfg);
    if (!cfg) goto nomem;
    cfg->windowing.window = spec->window;
    cfg->windowing.allowed_lateness = spec->allowed_lateness;
    cfg->windowing.accumulation = spec->accumulation;
    cfg->windowing.trigger = trigger;
    trigger = NULL;
    cfg->late_output = spec->late_output;
    cfg->in_schema = is;
    cfg->op_field = weir_schema_find(is, "op");
    uint32_t ng = 0, na = 0;
    while (spec->group_by && spec->group_by[ng]) ng++;
    while (spec->aggregates[na].fn) na++;
    cfg->n_group = ng;
    cfg->group = calloc(ng + 1, sizeof *cfg->group);
    defs = calloc(na, sizeof *defs);
    uint32_t nf = ng + na + 6;
    names = calloc(nf, sizeof *names);
    types = calloc(nf, sizeof *types);
    if (!cfg->group || !defs || !names || !types) goto nomem;
    for (uint32_t i = 0; i < ng; i++) {
        int f = weir_schema_find(is, spec->group_by[i]);
        if (f < 0) {
            weir_pipeline_set_error(p, WEIR_EINVAL,
                                    "Combine: group_by field '%s' is not in its input",
                                    spec->group_by[i]);
            goto fail;
        }
        cfg->group[i] = f;
        names[i] = spec->group_by[i];
        types[i] = is->types[f];
    }
    for (uint32_t i = 0; i < na; i++) {
        const weir_aggregate *a = &spec->aggregates[i];
        int k = agg_kind_parse(a->fn);
        if (k < 0) {
            weir_pipeline_set_error(
                p, WEIR_EINVAL,
                "Combine: unknown aggregate '%s' (expected count, sum, min, max, "
                "mean or stddev)",
                a->fn);
            goto fail;
        }
        defs[i].kind = (agg_kind)k;
        defs[i].field = -1;
        if (a->value) {
            defs[i].field = weir_schema_find(is, a->value);
            if (defs[i].field < 0) {
                weir_pipeline_set_error(p, WEIR_EINVAL,
                                        "Combine: field '%s' of %s is not in its input", a->value,
                                        a->fn);
                goto fail;
            }
        } else if (k != AGG_COUNT) {
            weir_pipeline_set_error(p, WEIR_EINVAL, "Combine: %s needs a value field", a->fn);
            goto fail;
        }
        if (cfg->op_field >= 0 && !agg_kind_retractable((agg_kind)k)) {
            weir_pipeline_set_error(p, WEIR_EINVAL,
                                    "Combine: %s cannot be computed over a change log with "
                                    "retractions (only count, sum and mean can)",
                                    a->fn);
            goto fail;
        }
        if (!a->name || !a->name[0]) {
            weir_pipeline_set_error(p, WEIR_EINVAL, "Combine: aggregate %u has no output name", i);
            goto fail;
        }
        names[ng + i] = a->name;
        types[ng + i] = k == AGG_COUNT                     ? WEIR_TYPE_INT
                        : k == AGG_MEAN || k == AGG_STDDEV ? WEIR_TYPE_DOUBLE
                        : defs[i].field >= 0               ? is->types[defs[i].field]
                                                           : WEIR_TYPE_ANY;
        if (k == AGG_SUM) types[ng + i] = WEIR_TYPE_ANY;
    }
    for (uint32_t i = 0; i < 6; i++) {
        names[ng + na + i] = window_fields[i];
        types[ng + na + i] = window_types[i];
    }
    for (uint32_t i = 0; i < nf; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) {
                weir_pipeline_set_error(p, WEIR_EINVAL,
                                        "Combine: output field '%s' is defined twice", names[i]);
                goto fail;
            }
    if (agg_set_init(&cfg->aggs, na, defs)) goto nomem;
    weir_schema *os = weir_schema_create(nf, names, types);
    if (!os) goto nomem;
    weir_node_spec node = {
        .kind = "Combine",
        .cls = &weir__combine_class,
        .config = cfg,
        .config_free = weir__combine_config_free,
        .inputs = &in,
        .n_inputs = 1,
        .schema = os,
        .keyed = true,
        .key_fields = cfg->group,
        .n_key_fields = cfg->n_group,
    };
    if (spec->late_output) {
        node.extra[0] = weir_schema_ref((weir_schema *)is);
        node.n_extra = 1;
    }
    /* with several workers, pre-aggregated before the exchange (operators/combine_lift.c) */
    weir_lift_spec lift = {.cls = &weir__combine_lift_class};
    int32_t *lift_keys = NULL;
    if (weir__combine_liftable(cfg)) {
        lift.schema = weir__combine_lift_schema(cfg);
        lift_keys = calloc(ng + 1, sizeof *lift_keys);
        if (!lift.schema || !lift_keys) {
            weir_schema_unref(lift.schema);
            free(lift_keys);
            weir_schema_unref(os);
            for (uint32_t i = 0; i < node.n_extra; i++) weir_schema_unref(node.extra[i]);
            goto nomem;
        }
        for (uint32_t i = 0; i < ng; i++) lift_keys[i] = (int32_t)i;
        lift.key_fields = lift_keys;
        lift.n_key_fields = ng;
        node.lift = &lift;
    }
    free(names);
    free(types);
    free(defs);
    weir_stream *out = weir_pipeline_add_node(p, &node);
    free(lift_keys);
    return out;
nomem:
    weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
fail:
    weir_trigger_destroy(trigger);
    weir__combine_config_free(cfg);
    free(names);
    free(types);
    free(defs);
    return p ? weir_pipeline_failed_stream(p) : NULL;
}

weir_stream *weir_late_output(weir_stream *combined)
{
    return weir_stream_port(combined, 1);
}
