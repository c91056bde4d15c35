/* runner/build.c: from a YAML pipeline file (pipeline.md) to a weir pipeline.
 *
 * Works like a compiler: load the tree (runner/yaml_tree.c), apply --set overrides, then check
 * everything, collecting every problem with its position (runner/diag.c) before anything runs:
 * unknown keys and transform types (with "did you mean"), missing or ill-typed values, bad
 * durations, dangling inputs, cycles, expressions that do not compile. Only a file with no error
 * is built, in dependency order, through the C DSL; `weir validate` stops before that.
 *
 * Fields: JSON sources extract only the fields the pipeline reads (others are passed through as
 * text). Which those are is known only once every expression is parsed, so expressions are
 * compiled twice: first with a resolver that records every field name, then for real against the
 * schema of their input.
 *
 * Decisions where pipeline.md is silent:
 * - `type: chain` runs the transforms in order; a transform in a chain may not name an `input`.
 *   Without `type`, every transform but the sources names its `input`.
 * - An empty line in a JSON-lines file is skipped (it holds no record); every other line must be
 *   one JSON object.
 * - Create elements are YAML maps, turned into JSON objects (plain scalars typed as YAML 1.2's
 *   core schema: null, true/false, integers, floats; everything else a string).
 * - WindowInto sets the windowing of the Combines downstream of it that have no `windowing:` of
 *   their own.
 * - Transforms of pipeline.md this version does not run yet (Kafka, Nexmark, Flatten, Join, CSV)
 *   are reported as errors at their position, never ignored. */
#include "build.h"
#include "expr.h"
#include "expr_ops.h"
#include "weir/buf.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/json.h"
#include "weir/weir.h"
#include "yaml_doc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- transforms ---- */

enum { MAX_INPUTS = 16, MAX_FIELDS = 1024 };

typedef enum kind {
    K_READ_FILE,
    K_WRITE_FILE,
    K_CREATE,
    K_GENERATOR,
    K_LOG,
    K_FILTER,
    K_MAP,
    K_COMBINE,
    K_WINDOW_INTO,
    K_UNSUPPORTED,
} kind;

typedef struct tdesc {
    const char *type;
    kind k;
    bool source, sink;
    const char *const *config_keys;
} tdesc;

static const char *const read_file_keys[] = {"path",   "format",         "timestamp", "watermark",
                                             "follow", "error_handling", NULL};
static const char *const write_file_keys[] = {"path", "format", NULL};
static const char *const create_keys[] = {"elements", "timestamp", "watermark", "error_handling",
                                          NULL};
static const char *const generator_keys[] = {"count", "keys", "per_ms", NULL};
static const char *const no_keys[] = {NULL};
static const char *const filter_keys[] = {"keep", "error_handling", NULL};
static const char *const map_keys[] = {"fields", "append", "error_handling", NULL};
static const char *const combine_keys[] = {"group_by", "combine", "late_output", NULL};

static const tdesc transforms[] = {
    {"ReadFromFile", K_READ_FILE, true, false, read_file_keys},
    {"WriteToFile", K_WRITE_FILE, false, true, write_file_keys},
    {"Create", K_CREATE, true, false, create_keys},
    {"ReadFromGenerator", K_GENERATOR, true, false, generator_keys},
    {"LogForTesting", K_LOG, false, true, no_keys},
    {"Filter", K_FILTER, false, false, filter_keys},
    {"MapToFields", K_MAP, false, false, map_keys},
    {"Combine", K_COMBINE, false, false, combine_keys},
    {"WindowInto", K_WINDOW_INTO, false, false, no_keys},
    {"ReadFromKafka", K_UNSUPPORTED, true, false, no_keys},
    {"WriteToKafka", K_UNSUPPORTED, false, true, no_keys},
    {"ReadFromNexmark", K_UNSUPPORTED, true, false, no_keys},
    {"Flatten", K_UNSUPPORTED, false, false, no_keys},
    {"Join", K_UNSUPPORTED, false, false, no_keys},
};
#define N_TRANSFORMS (sizeof transforms / sizeof *transforms)

typedef struct transform {
    ynode node, type_node, config, windowing, input;
    const tdesc *desc;
    char *name;
    uint32_t n_inputs;
    int32_t in[MAX_INPUTS];    /* producing transform */
    bool in_extra[MAX_INPUTS]; /* its extra output (error / late) */
    ynode in_node[MAX_INPUTS];
    char *extra_output; /* name of this transform's error_handling / late_output */
    int mark;           /* topological sort */
    weir_stream *stream;
    bool has_windowing;
    weir_windowing windowing_parsed; /* own or inherited (WindowInto) */
} transform;

typedef struct builder {
    const char *path;
    weir__diag *d;
    transform *t;
    uint32_t n;
    uint32_t *order;
    char *fields[MAX_FIELDS]; /* every field name the pipeline reads */
    uint32_t n_fields;
    uint32_t workers;
} builder;

static void add_field(builder *b, const char *name)
{
    for (uint32_t i = 0; i < b->n_fields; i++)
        if (!strcmp(b->fields[i], name)) return;
    if (b->n_fields < MAX_FIELDS) b->fields[b->n_fields++] = strdup(name);
}

/* ---- small typed readers (they report at the node and return false on a problem) ---- */

static bool get_string(builder *b, ynode n, const char *what, const char **out)
{
    if (!y_is_scalar(n) || y_is_null(n)) {
        y_error(b->d, n, "%s must be a string", what);
        return false;
    }
    *out = y_text(n);
    return true;
}

static bool get_int(builder *b, ynode n, const char *what, int64_t min, int64_t *out)
{
    const char *s = y_is_scalar(n) ? y_text(n) : NULL;
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || y_quoted(n)) {
        y_error(b->d, n, "%s must be an integer", what);
        return false;
    }
    if (v < min) {
        y_error(b->d, n, "%s must be at least %" PRId64, what, min);
        return false;
    }
    *out = v;
    return true;
}

static bool get_bool(builder *b, ynode n, const char *what, bool *out)
{
    const char *s = y_is_scalar(n) ? y_text(n) : "";
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *out = false;
    else {
        y_error(b->d, n, "%s must be true or false", what);
        return false;
    }
    return true;
}

static bool get_duration(builder *b, ynode n, const char *what, int64_t *out)
{
    char err[256];
    if (!y_is_scalar(n) || y_is_null(n)) {
        y_error(b->d, n, "%s must be a duration (e.g. 500ms, 10s, 1m)", what);
        return false;
    }
    if (weir__duration_parse(y_text(n), out, err, sizeof err)) {
        y_error(b->d, n, "%s: %s", what, err);
        return false;
    }
    return true;
}

/* Checks a map's keys; reports a non-map. */
static bool check_map(builder *b, ynode n, const char *what, const char *const *keys)
{
    if (!y_is_map(n)) {
        y_error(b->d, n, "%s must be a map", what);
        return false;
    }
    return y_check_keys(b->d, n, keys) == 0;
}

/* ---- windowing ---- */

static weir_trigger *parse_trigger(builder *b, ynode n, int depth);

static weir_trigger *sub_trigger(builder *b, ynode map, const char *key, int depth)
{
    ynode s = y_get(map, key);
    return s ? parse_trigger(b, s, depth + 1) : NULL;
}

static const char *const trigger_types[] = {"default",         "after_watermark", "count",
                                            "processing_time", "repeat",          "after_first",
                                            "after_all",       "after_each",      NULL};

static weir_trigger *parse_trigger(builder *b, ynode n, int depth)
{
    if (depth > 32) {
        y_error(b->d, n, "trigger nested too deeply");
        return NULL;
    }
    if (y_is_scalar(n)) {
        if (!strcmp(y_text(n), "default")) return weir_trigger_default();
        const char *hint = y_did_you_mean(y_text(n), trigger_types);
        if (hint)
            y_error(b->d, n, "unknown trigger '%s' (did you mean '%s'?)", y_text(n), hint);
        else
            y_error(b->d, n, "a trigger is 'default' or a map with a type");
        return NULL;
    }
    if (!y_is_map(n)) {
        y_error(b->d, n, "a trigger is 'default' or a map with a type");
        return NULL;
    }
    ynode tn = y_get(n, "type");
    const char *type;
    if (!tn) {
        y_error(b->d, n,
                "trigger needs a type (one of after_watermark, count, processing_time, repeat, "
                "after_first, after_all, after_each)");
        return NULL;
    }
    if (!get_string(b, tn, "trigger type", &type)) return NULL;
    if (!strcmp(type, "default")) {
        static const char *const k[] = {"type", NULL};
        check_map(b, n, "trigger", k);
        return weir_trigger_default();
    }
    if (!strcmp(type, "after_watermark")) {
        static const char *const k[] = {"type", "early", "late", NULL};
        check_map(b, n, "trigger", k);
        weir_trigger *early = sub_trigger(b, n, "early", depth);
        weir_trigger *late = sub_trigger(b, n, "late", depth);
        return weir_trigger_after_watermark(early, late);
    }
    if (!strcmp(type, "count")) {
        static const char *const k[] = {"type", "count", NULL};
        check_map(b, n, "trigger", k);
        ynode c = y_get(n, "count");
        int64_t v;
        if (!c) {
            y_error(b->d, n, "count trigger needs 'count'");
            return NULL;
        }
        return get_int(b, c, "count", 1, &v) ? weir_trigger_count(v) : NULL;
    }
    if (!strcmp(type, "processing_time")) {
        static const char *const k[] = {"type", "delay", NULL};
        check_map(b, n, "trigger", k);
        ynode c = y_get(n, "delay");
        int64_t v;
        if (!c) {
            y_error(b->d, n, "processing_time trigger needs 'delay'");
            return NULL;
        }
        return get_duration(b, c, "delay", &v) ? weir_trigger_processing_time(v) : NULL;
    }
    if (!strcmp(type, "repeat")) {
        static const char *const k[] = {"type", "of", NULL};
        check_map(b, n, "trigger", k);
        ynode of = y_get(n, "of");
        if (!of) {
            y_error(b->d, n, "repeat trigger needs 'of'");
            return NULL;
        }
        weir_trigger *t = parse_trigger(b, of, depth + 1);
        return t ? weir_trigger_repeat(t) : NULL;
    }
    weir_trigger *(*list_fn)(weir_trigger **, uint32_t) =
        !strcmp(type, "after_first")  ? weir_trigger_after_first
        : !strcmp(type, "after_all")  ? weir_trigger_after_all
        : !strcmp(type, "after_each") ? weir_trigger_after_each
                                      : NULL;
    if (list_fn) {
        static const char *const k[] = {"type", "of", NULL};
        check_map(b, n, "trigger", k);
        ynode of = y_get(n, "of");
        if (!of || !y_is_seq(of) || y_len(of) == 0) {
            y_error(b->d, of ? of : n, "%s needs 'of': a list of triggers", type);
            return NULL;
        }
        uint32_t m = y_len(of);
        weir_trigger **list = calloc(m, sizeof *list);
        bool ok = list != NULL;
        for (uint32_t i = 0; ok && i < m; i++)
            ok = (list[i] = parse_trigger(b, y_item(of, i), depth + 1)) != NULL;
        weir_trigger *t = NULL;
        if (ok)
            t = list_fn(list, m);
        else
            for (uint32_t i = 0; list && i < m; i++) weir_trigger_destroy(list[i]);
        free(list);
        return t;
    }
    const char *hint = y_did_you_mean(type, trigger_types);
    if (hint)
        y_error(b->d, tn, "unknown trigger type '%s' (did you mean '%s'?)", type, hint);
    else
        y_error(b->d, tn, "unknown trigger type '%s'", type);
    return NULL;
}

static bool parse_windowing(builder *b, ynode n, weir_windowing *w)
{
    static const char *const keys[] = {"type",    "size",
                                       "period",  "offset",
                                       "gap",     "allowed_lateness",
                                       "trigger", "accumulation_mode",
                                       NULL};
    static const char *const types[] = {"fixed", "sliding", "sessions", "global", NULL};
    memset(w, 0, sizeof *w);
    if (!check_map(b, n, "windowing", keys)) return false;
    bool ok = true;
    ynode tn = y_get(n, "type");
    const char *type = "global";
    if (tn && !get_string(b, tn, "window type", &type)) return false;
    ynode size = y_get(n, "size"), period = y_get(n, "period"), offset = y_get(n, "offset"),
          gap = y_get(n, "gap");
    if (!strcmp(type, "fixed") || !strcmp(type, "sliding")) {
        w->window.type = type[0] == 'f' ? WEIR_WINDOW_FIXED : WEIR_WINDOW_SLIDING;
        if (!size) {
            y_error(b->d, n, "%s windows need a size", type);
            ok = false;
        } else
            ok &= get_duration(b, size, "size", &w->window.size);
        if (w->window.type == WEIR_WINDOW_SLIDING) {
            if (!period) {
                y_error(b->d, n, "sliding windows need a period");
                ok = false;
            } else
                ok &= get_duration(b, period, "period", &w->window.period);
        } else if (period) {
            y_error(b->d, period, "fixed windows have no period (did you mean type: sliding?)");
            ok = false;
        }
        if (offset) ok &= get_duration(b, offset, "offset", &w->window.offset);
        if (gap) {
            y_error(b->d, gap, "only session windows have a gap");
            ok = false;
        }
    } else if (!strcmp(type, "sessions")) {
        w->window.type = WEIR_WINDOW_SESSIONS;
        if (!gap) {
            y_error(b->d, n, "session windows need a gap");
            ok = false;
        } else
            ok &= get_duration(b, gap, "gap", &w->window.gap);
        ynode extra = size ? size : period ? period : offset;
        if (extra) {
            y_error(b->d, extra, "session windows take only a gap");
            ok = false;
        }
    } else if (!strcmp(type, "global")) {
        w->window.type = WEIR_WINDOW_GLOBAL;
        ynode extra = size ? size : period ? period : offset ? offset : gap;
        if (extra) {
            y_error(b->d, extra, "the global window takes no size, period, offset or gap");
            ok = false;
        }
    } else {
        const char *hint = y_did_you_mean(type, types);
        if (hint)
            y_error(b->d, tn, "unknown window type '%s' (did you mean '%s'?)", type, hint);
        else
            y_error(b->d, tn, "unknown window type '%s' (fixed, sliding, sessions or global)",
                    type);
        return false;
    }
    char err[256];
    if (ok && weir_window_fn_validate(&w->window, err, sizeof err)) {
        y_error(b->d, n, "%s", err);
        ok = false;
    }
    ynode lat = y_get(n, "allowed_lateness");
    if (lat) ok &= get_duration(b, lat, "allowed_lateness", &w->allowed_lateness);
    ynode mode = y_get(n, "accumulation_mode");
    if (mode) {
        static const char *const modes[] = {"discarding", "accumulating", "retracting", NULL};
        const char *m = "";
        if (get_string(b, mode, "accumulation_mode", &m)) {
            if (!strcmp(m, "discarding"))
                w->accumulation = WEIR_DISCARDING;
            else if (!strcmp(m, "accumulating"))
                w->accumulation = WEIR_ACCUMULATING;
            else if (!strcmp(m, "retracting"))
                w->accumulation = WEIR_RETRACTING;
            else {
                const char *hint = y_did_you_mean(m, modes);
                if (hint)
                    y_error(b->d, mode, "unknown accumulation_mode '%s' (did you mean '%s'?)", m,
                            hint);
                else
                    y_error(b->d, mode,
                            "accumulation_mode is discarding, accumulating or retracting");
                ok = false;
            }
        } else
            ok = false;
    }
    ynode trig = y_get(n, "trigger");
    if (trig) {
        w->trigger = parse_trigger(b, trig, 0);
        if (!w->trigger) return false;
        if (weir_trigger_validate(w->trigger, err, sizeof err)) {
            y_error(b->d, trig, "%s", err);
            ok = false;
        }
    }
    return ok;
}

/* ---- expressions ---- */

typedef struct resolve_ctx {
    builder *b;
    const weir_schema *schema; /* NULL: recording pass */
} resolve_ctx;

static int resolve_field(void *ctx, const char *name, uint32_t *index, weir_type *type)
{
    resolve_ctx *r = ctx;
    if (!r->schema) {
        add_field(r->b, name);
        *index = 0;
        *type = WEIR_TYPE_ANY;
        return 0;
    }
    int i = weir_schema_find(r->schema, name);
    if (i < 0) return -1;
    *index = (uint32_t)i;
    *type = r->schema->types[i];
    return 0;
}

/* Compiles the expression in scalar node n; reports at the exact column. NULL on error. */
static weir_expr *compile(builder *b, ynode n, const weir_schema *schema, const char *what)
{
    if (!y_is_scalar(n) || y_is_null(n)) {
        y_error(b->d, n, "%s must be an expression", what);
        return NULL;
    }
    resolve_ctx r = {b, schema};
    weir_expr *e = NULL;
    size_t col = 0;
    char err[256];
    if (weir_expr_compile(y_text(n), resolve_field, &r, &e, &col, err, sizeof err)) {
        y_error_at(b->d, n, col, "%s: %s", what, err);
        return NULL;
    }
    return e;
}

/* ---- the graph of transforms ---- */

static const tdesc *find_desc(const char *type)
{
    for (size_t i = 0; i < N_TRANSFORMS; i++)
        if (!strcmp(transforms[i].type, type)) return &transforms[i];
    return NULL;
}

static int32_t find_transform(builder *b, const char *name, size_t len)
{
    for (uint32_t i = 0; i < b->n; i++)
        if (b->t[i].name && strlen(b->t[i].name) == len && !strncmp(b->t[i].name, name, len))
            return (int32_t)i;
    return -1;
}

static void add_input(builder *b, transform *t, ynode n)
{
    const char *ref;
    if (!get_string(b, n, "input", &ref)) return;
    if (t->n_inputs == MAX_INPUTS) {
        y_error(b->d, n, "too many inputs (at most %d)", MAX_INPUTS);
        return;
    }
    const char *dot = strrchr(ref, '.');
    int32_t i = find_transform(b, ref, strlen(ref));
    bool extra = false;
    if (i < 0 && dot) {
        i = find_transform(b, ref, (size_t)(dot - ref));
        if (i >= 0) {
            transform *src = &b->t[i];
            if (!src->extra_output || strcmp(src->extra_output, dot + 1)) {
                y_error(b->d, n, "%s has no output '%s'%s%s%s", src->name, dot + 1,
                        src->extra_output ? " (its extra output is '" : "",
                        src->extra_output ? src->extra_output : "", src->extra_output ? "')" : "");
                return;
            }
            extra = true;
        }
    }
    if (i < 0) {
        const char **names = calloc(b->n + 1, sizeof *names);
        for (uint32_t k = 0; names && k < b->n; k++) names[k] = b->t[k].name;
        const char *hint = names ? y_did_you_mean(ref, names) : NULL;
        if (hint)
            y_error(b->d, n, "no transform named '%s' (did you mean '%s'?)", ref, hint);
        else
            y_error(b->d, n, "no transform named '%s'", ref);
        free(names);
        return;
    }
    if (b->t[i].desc && b->t[i].desc->sink) {
        y_error(b->d, n, "'%s' is a sink: it has no output", ref);
        return;
    }
    t->in_node[t->n_inputs] = n;
    t->in_extra[t->n_inputs] = extra;
    t->in[t->n_inputs++] = i;
}

/* Depth-first topological sort; reports a cycle at the transform that closes it. */
static bool visit(builder *b, uint32_t i, uint32_t *n_order)
{
    transform *t = &b->t[i];
    if (t->mark == 2) return true;
    if (t->mark == 1) {
        y_error(b->d, t->node, "the pipeline has a cycle through '%s'", t->name);
        return false;
    }
    t->mark = 1;
    for (uint32_t k = 0; k < t->n_inputs; k++)
        if (!visit(b, (uint32_t)t->in[k], n_order)) return false;
    t->mark = 2;
    b->order[(*n_order)++] = i;
    return true;
}

/* Reads error_handling: {output: NAME}; returns whether it is set. */
static bool error_handling(builder *b, transform *t)
{
    ynode eh = t->config ? y_get(t->config, "error_handling") : NULL;
    if (!eh) return false;
    static const char *const keys[] = {"output", NULL};
    if (!check_map(b, eh, "error_handling", keys)) return false;
    ynode out = y_get(eh, "output");
    const char *name;
    if (!out) {
        y_error(b->d, eh, "error_handling needs an output name");
        return false;
    }
    if (!get_string(b, out, "error_handling output", &name)) return false;
    t->extra_output = strdup(name);
    return true;
}

static void check_transform(builder *b, transform *t)
{
    const tdesc *d = t->desc;
    if (t->config && !y_is_map(t->config)) {
        y_error(b->d, t->config, "config must be a map");
        return;
    }
    if (t->config) y_check_keys(b->d, t->config, d->config_keys); /* reported; checking goes on */
    if (d->k == K_UNSUPPORTED) {
        y_error(b->d, t->type_node, "transform '%s' is not available in this version of weir",
                d->type);
        return;
    }
    if (t->windowing && d->k != K_COMBINE && d->k != K_WINDOW_INTO) {
        y_error(b->d, t->windowing, "%s does not take windowing (only Combine and WindowInto do)",
                d->type);
        return;
    }
    static const char *const required[][2] = {
        {"ReadFromFile", "path"},       {"WriteToFile", "path"}, {"Create", "elements"},
        {"ReadFromGenerator", "count"}, {"Filter", "keep"},      {"MapToFields", "fields"},
        {"Combine", "combine"}};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!strcmp(required[i][0], d->type) && (!t->config || !y_get(t->config, required[i][1])))
            y_error(b->d, t->config ? t->config : t->node, "%s needs '%s' in its config", d->type,
                    required[i][1]);
    if (d->k == K_WINDOW_INTO && !t->windowing)
        y_error(b->d, t->node, "WindowInto needs windowing");
    if (t->windowing) {
        t->has_windowing = parse_windowing(b, t->windowing, &t->windowing_parsed);
    }
    if (!t->config) return;
    /* values that the build step reads: check their shapes now */
    ynode fmt = y_get(t->config, "format");
    const char *f;
    if (fmt && get_string(b, fmt, "format", &f) && strcmp(f, "json")) {
        if (!strcmp(f, "csv"))
            y_error(b->d, fmt, "format csv is not available in this version of weir (json is)");
        else
            y_error(b->d, fmt, "unknown format '%s' (json)", f);
    }
    ynode wm = y_get(t->config, "watermark");
    if (wm) {
        static const char *const keys[] = {"max_out_of_orderness", "idle_timeout", NULL};
        if (check_map(b, wm, "watermark", keys)) {
            int64_t v;
            ynode m = y_get(wm, "max_out_of_orderness"), it = y_get(wm, "idle_timeout");
            if (m) get_duration(b, m, "max_out_of_orderness", &v);
            if (it) get_duration(b, it, "idle_timeout", &v);
        }
    }
    if (d->k == K_READ_FILE || d->k == K_CREATE || d->k == K_FILTER || d->k == K_MAP)
        error_handling(b, t);
    if (d->k == K_COMBINE) {
        ynode lo = y_get(t->config, "late_output");
        const char *name;
        if (lo && get_string(b, lo, "late_output", &name)) t->extra_output = strdup(name);
        ynode gb = y_get(t->config, "group_by");
        if (gb) {
            if (y_is_scalar(gb))
                add_field(b, y_text(gb));
            else if (y_is_seq(gb))
                for (uint32_t i = 0; i < y_len(gb); i++) {
                    const char *s;
                    if (get_string(b, y_item(gb, i), "group_by field", &s)) add_field(b, s);
                }
            else
                y_error(b->d, gb, "group_by must be a field name or a list of them");
        }
        ynode cb = y_get(t->config, "combine");
        if (cb && !y_is_map(cb))
            y_error(b->d, cb, "combine must be a map of output name to aggregate");
        for (uint32_t i = 0; cb && y_is_map(cb) && i < y_len(cb); i++) {
            ynode v = y_val(cb, i);
            static const char *const fns[] = {"count", "sum", "min", "max", "mean", "stddev", NULL};
            const char *fn = NULL;
            ynode fn_node = v;
            if (y_is_scalar(v)) {
                fn = y_text(v);
            } else if (y_is_map(v)) {
                static const char *const keys[] = {"fn", "value", NULL};
                if (!check_map(b, v, "aggregate", keys)) continue;
                fn_node = y_get(v, "fn");
                ynode val = y_get(v, "value");
                if (!fn_node) {
                    y_error(b->d, v, "aggregate needs 'fn'");
                    continue;
                }
                fn = y_is_scalar(fn_node) ? y_text(fn_node) : "";
                const char *vs;
                if (val && get_string(b, val, "value", &vs)) add_field(b, vs);
                if (!val && strcmp(fn, "count")) y_error(b->d, v, "%s needs a value field", fn);
            } else {
                y_error(b->d, v, "an aggregate is count or {fn: ..., value: ...}");
                continue;
            }
            bool known = false;
            for (int k = 0; fns[k]; k++) known = known || !strcmp(fns[k], fn);
            if (!known) {
                const char *hint = y_did_you_mean(fn, fns);
                if (hint)
                    y_error(b->d, fn_node, "unknown aggregate '%s' (did you mean '%s'?)", fn, hint);
                else
                    y_error(b->d, fn_node,
                            "unknown aggregate '%s' (count, sum, min, max, mean, stddev)", fn);
            } else if (y_is_scalar(v) && strcmp(fn, "count")) {
                y_error(b->d, v, "%s needs a value field: {fn: %s, value: FIELD}", fn, fn);
            }
        }
    }
    /* first pass over expressions: which fields are read, and syntax errors */
    if (d->k == K_FILTER) {
        ynode keep = y_get(t->config, "keep");
        weir_expr_destroy(keep ? compile(b, keep, NULL, "keep") : NULL);
    }
    if (d->k == K_MAP) {
        ynode fields = y_get(t->config, "fields");
        if (fields && !y_is_map(fields))
            y_error(b->d, fields, "fields must be a map of name to expression");
        for (uint32_t i = 0; fields && y_is_map(fields) && i < y_len(fields); i++)
            weir_expr_destroy(compile(b, y_val(fields, i), NULL, y_text(y_key(fields, i))));
        ynode ap = y_get(t->config, "append");
        bool v;
        if (ap) get_bool(b, ap, "append", &v);
    }
    if (d->k == K_READ_FILE || d->k == K_CREATE) {
        ynode ts = y_get(t->config, "timestamp");
        const char *s;
        if (ts && get_string(b, ts, "timestamp", &s)) add_field(b, s);
    }
    if (d->k == K_CREATE) {
        ynode el = y_get(t->config, "elements");
        if (el && !y_is_seq(el)) y_error(b->d, el, "elements must be a list of records");
        for (uint32_t i = 0; el && y_is_seq(el) && i < y_len(el); i++)
            if (!y_is_map(y_item(el, i)))
                y_error(b->d, y_item(el, i), "each element must be a map (a record)");
    }
    if (d->k == K_GENERATOR) {
        int64_t v;
        ynode c = y_get(t->config, "count"), k = y_get(t->config, "keys"),
              p = y_get(t->config, "per_ms");
        if (c) get_int(b, c, "count", 1, &v);
        if (k) get_int(b, k, "keys", 1, &v);
        if (p) get_int(b, p, "per_ms", 1, &v);
    }
}

/* ---- building ---- */

static void yaml_to_json(ynode n, weir_buf *out)
{
    if (y_is_map(n)) {
        weir_buf_putc(out, '{');
        for (uint32_t i = 0; i < y_len(n); i++) {
            if (i) weir_buf_putc(out, ',');
            const char *k = y_text(y_key(n, i));
            weir_json_write_string(out, k, strlen(k));
            weir_buf_putc(out, ':');
            yaml_to_json(y_val(n, i), out);
        }
        weir_buf_putc(out, '}');
    } else if (y_is_seq(n)) {
        weir_buf_putc(out, '[');
        for (uint32_t i = 0; i < y_len(n); i++) {
            if (i) weir_buf_putc(out, ',');
            yaml_to_json(y_item(n, i), out);
        }
        weir_buf_putc(out, ']');
    } else {
        const char *s = y_text(n);
        if (!y_quoted(n)) {
            if (y_is_null(n)) {
                weir_buf_puts(out, "null");
                return;
            }
            if (!strcmp(s, "true") || !strcmp(s, "false")) {
                weir_buf_puts(out, s);
                return;
            }
            char *end;
            if (*s) {
                strtoll(s, &end, 10);
                if (!*end && strspn(s, "-+0123456789") == strlen(s)) {
                    weir_buf_puts(out, s[0] == '+' ? s + 1 : s);
                    return;
                }
                double d = strtod(s, &end);
                if (!*end && strspn(s, "-+0123456789.eE") == strlen(s)) {
                    weir_json_write_double(out, d);
                    return;
                }
            }
        }
        weir_json_write_string(out, s, strlen(s));
    }
}

static const char **field_list(builder *b)
{
    const char **f = calloc(b->n_fields + 1, sizeof *f);
    for (uint32_t i = 0; f && i < b->n_fields; i++) f[i] = b->fields[i];
    return f;
}

static int64_t watermark_bound(ynode config)
{
    ynode wm = config ? y_get(config, "watermark") : NULL;
    ynode m = wm ? y_get(wm, "max_out_of_orderness") : NULL;
    int64_t v = 0;
    char err[64];
    if (m) weir__duration_parse(y_text(m), &v, err, sizeof err);
    return v;
}

static const char *opt_text(ynode config, const char *key)
{
    ynode n = config ? y_get(config, key) : NULL;
    return n && y_is_scalar(n) && !y_is_null(n) ? y_text(n) : NULL;
}

static weir_stream *input_stream(builder *b, transform *t, uint32_t k)
{
    transform *src = &b->t[t->in[k]];
    return t->in_extra[k] ? weir_stream_port(src->stream, 1) : src->stream;
}

/* Builds transform t (its inputs are built). Problems found here (schema-dependent expression
 * types, unknown fields) are reported; returns false on one. */
static bool build_one(builder *b, weir_pipeline *p, transform *t)
{
    ynode c = t->config;
    weir_stream *in = t->n_inputs ? input_stream(b, t, 0) : NULL;
    bool eh = t->extra_output != NULL;
    switch (t->desc->k) {
    case K_READ_FILE: {
        const char **fields = field_list(b);
        const char *follow = opt_text(c, "follow");
        t->stream =
            weir_read_file(p, &(weir_file_source){.path = opt_text(c, "path"),
                                                  .timestamp = opt_text(c, "timestamp"),
                                                  .max_out_of_orderness = watermark_bound(c),
                                                  .fields = fields,
                                                  .error_output = eh,
                                                  .follow = follow && !strcmp(follow, "true")});
        free(fields);
        break;
    }
    case K_CREATE: {
        ynode el = y_get(c, "elements");
        uint32_t n = y_len(el);
        char **elements = calloc(n + 1, sizeof *elements);
        for (uint32_t i = 0; elements && i < n; i++) {
            weir_buf buf;
            weir_buf_init(&buf);
            yaml_to_json(y_item(el, i), &buf);
            elements[i] = buf.data ? buf.data : strdup("{}");
        }
        const char **fields = field_list(b);
        char origin[512];
        snprintf(origin, sizeof origin, "%s:%u (Create element)", b->path, y_line(el));
        t->stream = weir_create(p, &(weir_create_source){.elements = (const char *const *)elements,
                                                         .timestamp = opt_text(c, "timestamp"),
                                                         .max_out_of_orderness = watermark_bound(c),
                                                         .fields = fields,
                                                         .origin = t->name});
        for (uint32_t i = 0; elements && i < n; i++) free(elements[i]);
        free(elements);
        free(fields);
        break;
    }
    case K_GENERATOR: {
        int64_t count = 0, keys = 0, per_ms = 0;
        const char *s;
        if ((s = opt_text(c, "count"))) count = strtoll(s, NULL, 10);
        if ((s = opt_text(c, "keys"))) keys = strtoll(s, NULL, 10);
        if ((s = opt_text(c, "per_ms"))) per_ms = strtoll(s, NULL, 10);
        t->stream = weir_read_generator(p, &(weir_generator_source){count, keys, per_ms});
        break;
    }
    case K_WRITE_FILE: weir_write_file(in, &(weir_file_sink){.path = opt_text(c, "path")}); break;
    case K_LOG: weir_log_for_testing(in); break;
    case K_FILTER: {
        weir_expr *keep = compile(b, y_get(c, "keep"), weir_stream_schema(in), "keep");
        if (!keep) return false;
        if (weir_expr_type(keep) != WEIR_TYPE_BOOL && weir_expr_type(keep) != WEIR_TYPE_ANY &&
            weir_expr_type(keep) != WEIR_TYPE_NULL) {
            y_error(b->d, y_get(c, "keep"), "keep must be a boolean expression, not %s",
                    weir_type_name(weir_expr_type(keep)));
            weir_expr_destroy(keep);
            return false;
        }
        t->stream = weir__expr_filter(in, t->name, keep, eh);
        break;
    }
    case K_MAP: {
        ynode fields = y_get(c, "fields");
        uint32_t n = y_len(fields);
        const char **names = calloc(n + 1, sizeof *names);
        weir_expr **exprs = calloc(n + 1, sizeof *exprs);
        bool ok = names && exprs;
        for (uint32_t i = 0; ok && i < n; i++) {
            names[i] = y_text(y_key(fields, i));
            exprs[i] = compile(b, y_val(fields, i), weir_stream_schema(in), names[i]);
            ok = exprs[i] != NULL;
        }
        const char *append = opt_text(c, "append");
        if (ok)
            t->stream =
                weir__expr_map(in, t->name, n, names, exprs, append && !strcmp(append, "true"), eh);
        else
            for (uint32_t i = 0; exprs && i < n; i++) weir_expr_destroy(exprs[i]);
        free(names);
        free(exprs);
        if (!ok) return false;
        break;
    }
    case K_WINDOW_INTO: t->stream = in; break;
    case K_COMBINE: {
        if (!t->has_windowing) { /* inherit from a WindowInto upstream, else the global window */
            for (transform *u = t; u->n_inputs;) {
                u = &b->t[u->in[0]];
                if (u->has_windowing) {
                    t->windowing_parsed = u->windowing_parsed;
                    t->windowing_parsed.trigger = weir_trigger_copy(u->windowing_parsed.trigger);
                    break;
                }
            }
        }
        ynode gb = y_get(c, "group_by"), cb = y_get(c, "combine");
        const char *group[64] = {0};
        uint32_t ng = 0;
        if (gb && y_is_scalar(gb)) group[ng++] = y_text(gb);
        for (uint32_t i = 0; gb && y_is_seq(gb) && i < y_len(gb) && ng < 63; i++)
            group[ng++] = y_text(y_item(gb, i));
        uint32_t na = y_len(cb);
        weir_aggregate *aggs = calloc(na + 1, sizeof *aggs);
        for (uint32_t i = 0; aggs && i < na; i++) {
            ynode v = y_val(cb, i);
            aggs[i].name = y_text(y_key(cb, i));
            if (y_is_scalar(v)) {
                aggs[i].fn = y_text(v);
            } else {
                aggs[i].fn = y_text(y_get(v, "fn"));
                ynode val = y_get(v, "value");
                aggs[i].value = val ? y_text(val) : NULL;
            }
        }
        const char *late = opt_text(c, "late_output");
        t->stream = weir_combine(
            in, &(weir_combine_spec){.group_by = ng ? group : NULL,
                                     .window = t->windowing_parsed.window,
                                     .allowed_lateness = t->windowing_parsed.allowed_lateness,
                                     .trigger = t->windowing_parsed.trigger,
                                     .accumulation = t->windowing_parsed.accumulation,
                                     .aggregates = aggs,
                                     .late_output = late != NULL});
        t->windowing_parsed.trigger = NULL; /* taken over */
        free(aggs);
        break;
    }
    case K_UNSUPPORTED: return false;
    }
    if (weir_pipeline_status(p)) {
        y_error(b->d, t->node, "%s: %s", t->name, weir_pipeline_error(p));
        return false;
    }
    return true;
}

static void builder_finish(builder *b)
{
    for (uint32_t i = 0; i < b->n; i++) {
        free(b->t[i].name);
        free(b->t[i].extra_output);
        weir_trigger_destroy(b->t[i].windowing_parsed.trigger);
    }
    free(b->t);
    free(b->order);
    for (uint32_t i = 0; i < b->n_fields; i++) free(b->fields[i]);
}

static void check_options(builder *b, ynode opts)
{
    static const char *const keys[] = {"workers", "checkpoint", "pin_workers", NULL};
    if (!check_map(b, opts, "options", keys)) return;
    ynode w = y_get(opts, "workers");
    int64_t v;
    if (w && get_int(b, w, "workers", 1, &v)) {
        if (v > 256)
            y_error(b->d, w, "workers must be at most 256");
        else
            b->workers = (uint32_t)v;
    }
    ynode c = y_get(opts, "checkpoint");
    if (c) y_error(b->d, c, "checkpoints are not available in this version of weir");
    ynode pin = y_get(opts, "pin_workers");
    if (pin) y_error(b->d, pin, "pin_workers is not available in this version of weir");
}

int weir__build(const weir__build_options *opt, weir__built *out, FILE *err)
{
    weir__diag *d = y_diag_create(opt->path);
    if (!d) {
        fprintf(err, "weir: error: out of memory\n");
        return 2;
    }
    builder b = {.path = opt->path, .d = d};
    weir__yaml_doc *doc = NULL;
    int status = 2;
    if (y_load(opt->path, &doc, d)) goto done;
    for (uint32_t i = 0; i < opt->n_sets; i++) y_set(doc, opt->sets[i], d);
    if (y_errors(d)) goto done;
    ynode root = y_root(doc);
    static const char *const root_keys[] = {"pipeline", "options", NULL};
    if (!check_map(&b, root, "the file", root_keys)) goto done;
    ynode pl = y_get(root, "pipeline");
    if (!pl) {
        y_error(d, root, "the file needs a 'pipeline'");
        goto done;
    }
    ynode opts = y_get(root, "options");
    if (opts) check_options(&b, opts);
    static const char *const pl_keys[] = {"type", "transforms", NULL};
    if (!check_map(&b, pl, "pipeline", pl_keys)) goto done;
    ynode ptype = y_get(pl, "type");
    bool chain = false;
    if (ptype) {
        const char *s;
        if (get_string(&b, ptype, "pipeline type", &s)) {
            if (!strcmp(s, "chain"))
                chain = true;
            else
                y_error(d, ptype, "pipeline type must be 'chain' (or left out, with inputs named)");
        }
    }
    ynode ts = y_get(pl, "transforms");
    if (!ts || !y_is_seq(ts) || y_len(ts) == 0) {
        y_error(d, ts ? ts : pl, "pipeline needs a non-empty list of transforms");
        goto done;
    }
    b.n = y_len(ts);
    b.t = calloc(b.n, sizeof *b.t);
    b.order = calloc(b.n, sizeof *b.order);
    if (!b.t || !b.order) goto done;
    /* names and types first, so inputs can refer to any transform */
    static const char *const t_keys[] = {"type", "name", "input", "config", "windowing", NULL};
    const char *type_names[N_TRANSFORMS + 1] = {0};
    for (size_t i = 0; i < N_TRANSFORMS; i++) type_names[i] = transforms[i].type;
    for (uint32_t i = 0; i < b.n; i++) {
        transform *t = &b.t[i];
        t->node = y_item(ts, i);
        if (!y_is_map(t->node)) {
            y_error(d, t->node, "a transform must be a map");
            continue;
        }
        y_check_keys(d, t->node, t_keys); /* reported; the rest is still checked */
        t->type_node = y_get(t->node, "type");
        t->config = y_get(t->node, "config");
        t->windowing = y_get(t->node, "windowing");
        t->input = y_get(t->node, "input");
        const char *type = NULL;
        if (!t->type_node)
            y_error(d, t->node, "transform needs a type");
        else if (get_string(&b, t->type_node, "type", &type) && !(t->desc = find_desc(type))) {
            const char *hint = y_did_you_mean(type, type_names);
            if (hint)
                y_error(d, t->type_node, "unknown transform type '%s' (did you mean '%s'?)", type,
                        hint);
            else
                y_error(d, t->type_node, "unknown transform type '%s'", type);
        }
        ynode nn = y_get(t->node, "name");
        const char *name = type ? type : "transform";
        if (nn) get_string(&b, nn, "name", &name);
        char buf[256];
        snprintf(buf, sizeof buf, "%s", name);
        for (int k = 2; find_transform(&b, buf, strlen(buf)) >= 0; k++) {
            if (nn) {
                y_error(d, nn, "two transforms are named '%s'", name);
                break;
            }
            snprintf(buf, sizeof buf, "%s_%d", name, k);
        }
        t->name = strdup(buf);
    }
    for (uint32_t i = 0; i < b.n; i++)
        if (b.t[i].desc) check_transform(&b, &b.t[i]);
    /* inputs */
    for (uint32_t i = 0; i < b.n; i++) {
        transform *t = &b.t[i];
        if (!t->desc) continue;
        if (chain) {
            if (t->input)
                y_error(d, t->input,
                        "in a chain, transforms take the previous one as input (remove 'input', or "
                        "the pipeline's 'type: chain')");
            if (i > 0 && !t->desc->source) {
                if (b.t[i - 1].desc && b.t[i - 1].desc->sink)
                    y_error(d, t->node, "'%s' follows the sink '%s' in the chain", t->name,
                            b.t[i - 1].name);
                else {
                    t->in[0] = (int32_t)i - 1;
                    t->n_inputs = 1;
                }
            } else if (i > 0 && t->desc->source) {
                y_error(d, t->node, "a source (%s) can only start a chain", t->desc->type);
            }
        } else if (t->input) {
            if (y_is_seq(t->input))
                for (uint32_t k = 0; k < y_len(t->input); k++)
                    add_input(&b, t, y_item(t->input, k));
            else if (y_is_map(t->input))
                y_error(d, t->input,
                        "inputs given as a map are for Join, which this version does not run");
            else
                add_input(&b, t, t->input);
        }
        if (t->desc->source && t->n_inputs)
            y_error(d, t->node, "%s is a source: it takes no input", t->desc->type);
        if (!t->desc->source && t->n_inputs == 0 && !(chain && i > 0))
            y_error(d, t->node, "%s needs an input", t->desc->type);
        if (!t->desc->source && t->n_inputs > 1)
            y_error(d, t->input, "%s takes one input", t->desc->type);
    }
    if (y_errors(d)) goto done;
    uint32_t n_order = 0;
    for (uint32_t i = 0; i < b.n; i++)
        if (!visit(&b, i, &n_order)) goto done;
    /* build, in dependency order */
    weir_pipeline *p = weir_pipeline_create();
    if (!p) goto done;
    for (uint32_t k = 0; k < n_order; k++)
        if (!build_one(&b, p, &b.t[b.order[k]])) break;
    if (y_errors(d)) {
        weir_pipeline_destroy(p);
        goto done;
    }
    out->pipeline = p;
    out->workers = b.workers;
    status = 0;
done:
    y_print(d, err);
    builder_finish(&b);
    if (doc) y_doc_destroy(doc);
    y_diag_destroy(d);
    return status;
}
