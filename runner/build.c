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
 * - WindowInto sets the windowing of the Combines and Joins downstream of it that have no
 *   `windowing:` of their own.
 * - Flatten takes a list of inputs with the same fields (weir/join.h). Join takes a map of two
 *   tags to transforms; the first tag is the left input of `type: left`. `equalities` is a list
 *   of maps naming a field of each tag, or one field name for both (Beam YAML's shorthand). A
 *   Join needs windowing (its own or a WindowInto's upstream of both inputs, the same on both),
 *   fixed or sliding, with the default trigger and no allowed lateness. An expression after a
 *   Join reads `TAG.FIELD`: the sources then extract FIELD.
 * - CSV files (format csv): ReadFromFile takes `delimiter` (one character, default ',') and
 *   `columns`, a map of column to type (int, float, string, bool, timestamp; the other columns are
 *   typed per cell, connectors/csv_codec.h). WriteToFile takes `delimiter` and `columns`, the list
 *   of fields to write in order (the sources extract them, as fields a transform reads); without
 *   it every field of its input, which must then have no pass-through fields.
 * - ReadFromNexmark takes max_out_of_orderness either at the top of its config or under
 *   `watermark:` (not both), and `base_time` as ms since the epoch or an RFC 3339 string. */
#include "build.h"
#include "expr.h"
#include "expr_ops.h"
#include "weir/buf.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/json.h"
#include "weir/timestamp.h"
#include "weir/weir.h"
#include "yaml_doc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
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
    K_READ_KAFKA,
    K_WRITE_KAFKA,
    K_NEXMARK,
    K_FLATTEN,
    K_JOIN,
    K_UNSUPPORTED,
} kind;

typedef struct tdesc {
    const char *type;
    kind k;
    bool source, sink;
    const char *const *config_keys;
} tdesc;

static const char *const read_file_keys[] = {"path",      "format",  "timestamp",
                                             "watermark", "follow",  "error_handling",
                                             "delimiter", "columns", NULL};
static const char *const write_file_keys[] = {"path", "format", "delimiter", "columns", NULL};
static const char *const create_keys[] = {"elements", "timestamp", "watermark", "error_handling",
                                          NULL};
static const char *const generator_keys[] = {"count", "keys", "per_ms", NULL};
static const char *const no_keys[] = {NULL};
static const char *const nexmark_keys[] = {"events",
                                           "rate",
                                           "seed",
                                           "base_time",
                                           "max_out_of_orderness",
                                           "watermark",
                                           "partitions",
                                           "num_active_people",
                                           "num_in_flight_auctions",
                                           "hot_auction_ratio",
                                           "hot_sellers_ratio",
                                           "hot_bidders_ratio",
                                           NULL};
static const char *const read_kafka_keys[] = {
    "topic",     "bootstrap_servers", "format",          "group_id",       "timestamp",
    "watermark", "bounded",           "consumer_config", "error_handling", NULL};
static const char *const write_kafka_keys[] = {
    "topic", "bootstrap_servers", "format", "key", "exactly_once", "producer_config_updates", NULL};
static const char *const filter_keys[] = {"keep", "error_handling", NULL};
static const char *const map_keys[] = {"fields", "append", "error_handling", NULL};
static const char *const combine_keys[] = {"group_by", "combine", "late_output", NULL};
static const char *const join_keys[] = {"type", "equalities", NULL};

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
    {"ReadFromKafka", K_READ_KAFKA, true, false, read_kafka_keys},
    {"WriteToKafka", K_WRITE_KAFKA, false, true, write_kafka_keys},
    {"ReadFromNexmark", K_NEXMARK, true, false, nexmark_keys},
    {"Flatten", K_FLATTEN, false, false, no_keys},
    {"Join", K_JOIN, false, false, join_keys},
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
    bool pin_workers;
    bool combiner_lifting;
    const char *checkpoint_dir; /* options.checkpoint (borrowed from the document) */
    int64_t checkpoint_interval;
    uint32_t checkpoint_retain;
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

/* ReadFromKafka / WriteToKafka settings whose shapes the build step relies on. */
static void check_kafka(builder *b, transform *t)
{
    ynode c = t->config;
    const char *s;
    bool v;
    static const char *const strings[] = {"topic", "bootstrap_servers", "group_id", "key", NULL};
    for (int i = 0; strings[i]; i++) {
        ynode n = y_get(c, strings[i]);
        if (n && get_string(b, n, strings[i], &s) && !s[0])
            y_error(b->d, n, "%s must not be empty", strings[i]);
    }
    ynode n;
    if ((n = y_get(c, "bounded"))) get_bool(b, n, "bounded", &v);
    if ((n = y_get(c, "key")) && get_string(b, n, "key", &s)) add_field(b, s);
    ynode fn = y_get(c, "format");
    bool raw = fn && y_is_scalar(fn) && !strcmp(y_text(fn), "raw");
    if ((n = y_get(c, "timestamp")) && get_string(b, n, "timestamp", &s) && strcmp(s, "kafka")) {
        if (raw)
            y_error(b->d, n,
                    "with format raw, timestamp can only be 'kafka' (the record's "
                    "timestamp)");
        else
            add_field(b, s);
    }
    if (raw && t->desc->k == K_WRITE_KAFKA) add_field(b, "value");
    if ((n = y_get(c, "exactly_once")) && get_bool(b, n, "exactly_once", &v) && v &&
        !b->checkpoint_dir)
        y_error(b->d, n,
                "exactly_once commits a Kafka transaction with each checkpoint: it needs "
                "options.checkpoint (e.g. checkpoint: {dir: state/}); without it, leave "
                "exactly_once out for the idempotent, at-least-once producer");
    static const char *const maps[] = {"consumer_config", "producer_config_updates", NULL};
    for (int i = 0; maps[i]; i++) {
        if (!(n = y_get(c, maps[i]))) continue;
        if (!y_is_map(n)) {
            y_error(b->d, n, "%s must be a map of librdkafka settings", maps[i]);
            continue;
        }
        for (uint32_t k = 0; k < y_len(n); k++)
            if (!y_is_scalar(y_val(n, k)) || y_is_null(y_val(n, k)))
                y_error(b->d, y_val(n, k), "the value of %s must be a string or number",
                        y_text(y_key(n, k)));
    }
}

/* ReadFromFile / WriteToFile: the keys of format csv (reported when the format is another). */
static void check_csv(builder *b, transform *t, bool csv)
{
    ynode c = t->config, n;
    const char *s;
    static const char *const csv_keys[] = {"delimiter", "columns", NULL};
    for (int i = 0; !csv && csv_keys[i]; i++)
        if ((n = y_get(c, csv_keys[i])))
            y_error(b->d, n, "%s is a setting of format csv", csv_keys[i]);
    if (!csv) return;
    if ((n = y_get(c, "delimiter")) && get_string(b, n, "delimiter", &s) &&
        (strlen(s) != 1 || s[0] == '"' || s[0] == '\r' || s[0] == '\n'))
        y_error(b->d, n,
                "delimiter must be one character other than a quote, CR or LF (e.g. ';' or "
                "\"\\t\")");
    if (!(n = y_get(c, "columns"))) return;
    if (t->desc->k == K_READ_FILE) {
        static const char *const types[] = {"int", "float", "string", "bool", "timestamp", NULL};
        if (!y_is_map(n)) {
            y_error(b->d, n, "columns must be a map of column name to type (%s)",
                    "int, float, string, bool, timestamp");
            return;
        }
        for (uint32_t i = 0; i < y_len(n); i++) {
            ynode v = y_val(n, i);
            const char *ty = y_is_scalar(v) && !y_is_null(v) ? y_text(v) : "";
            bool known = false;
            for (int k = 0; types[k]; k++) known = known || !strcmp(types[k], ty);
            const char *hint = known ? NULL : y_did_you_mean(ty, types);
            if (!y_text(y_key(n, i))[0])
                y_error(b->d, y_key(n, i), "a column name must not be empty");
            else if (hint)
                y_error(b->d, v, "unknown column type '%s' (did you mean '%s'?)", ty, hint);
            else if (!known)
                y_error(b->d, v, "unknown column type '%s' (int, float, string, bool, timestamp)",
                        ty);
        }
        return;
    }
    if (!y_is_seq(n) || !y_len(n)) {
        y_error(b->d, n, "columns must be a list of the fields to write, in order");
        return;
    }
    for (uint32_t i = 0; i < y_len(n); i++) {
        ynode v = y_item(n, i);
        if (!get_string(b, v, "a column", &s)) continue;
        bool twice = false;
        for (uint32_t k = 0; k < i; k++)
            twice = twice || (y_is_scalar(y_item(n, k)) && !strcmp(y_text(y_item(n, k)), s));
        if (!s[0])
            y_error(b->d, v, "a column name must not be empty");
        else if (twice)
            y_error(b->d, v, "column '%s' is listed twice", s);
        else
            add_field(b, s);
    }
}

static int64_t watermark_bound(ynode config);

/* ReadFromNexmark's config into o (weir/nexmark.h); problems are reported, false on one. */
static bool nexmark_config(builder *b, ynode c, weir_nexmark_source *o)
{
    static const struct {
        const char *key;
        int64_t min;
        size_t off;
    } ints[] = {
        {"events", 1, offsetof(weir_nexmark_source, events)},
        {"rate", 1, offsetof(weir_nexmark_source, rate)},
        {"seed", 0, offsetof(weir_nexmark_source, seed)},
        {"partitions", 1, offsetof(weir_nexmark_source, partitions)},
        {"num_active_people", 1, offsetof(weir_nexmark_source, num_active_people)},
        {"num_in_flight_auctions", 1, offsetof(weir_nexmark_source, num_in_flight_auctions)},
        {"hot_auction_ratio", 1, offsetof(weir_nexmark_source, hot_auction_ratio)},
        {"hot_sellers_ratio", 1, offsetof(weir_nexmark_source, hot_sellers_ratio)},
        {"hot_bidders_ratio", 1, offsetof(weir_nexmark_source, hot_bidders_ratio)},
    };
    bool ok = true;
    *o = (weir_nexmark_source){0};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        ynode n = y_get(c, ints[i].key);
        int64_t v;
        if (!n) continue;
        if (get_int(b, n, ints[i].key, ints[i].min, &v))
            memcpy((char *)o + ints[i].off, &v, sizeof v);
        else
            ok = false;
    }
    ynode rate = y_get(c, "rate");
    if (rate && o->rate > 1000000) {
        y_error(b->d, rate, "rate must be at most 1000000 (events per second of event time)");
        ok = false;
    }
    ynode bt = y_get(c, "base_time");
    if (bt) {
        const char *s = y_is_scalar(bt) ? y_text(bt) : "";
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*s && !*end && !y_quoted(bt))
            o->base_time = v;
        else if (weir_timestamp_parse_rfc3339(s, strlen(s), &o->base_time)) {
            y_error(b->d, bt, "base_time must be ms since the epoch or an RFC 3339 date-time");
            ok = false;
        }
    }
    ynode top = y_get(c, "max_out_of_orderness"), wm = y_get(c, "watermark");
    ynode in_wm = wm && y_is_map(wm) ? y_get(wm, "max_out_of_orderness") : NULL;
    if (wm && y_is_map(wm) && y_get(wm, "idle_timeout")) {
        y_error(b->d, y_get(wm, "idle_timeout"),
                "ReadFromNexmark never idles: idle_timeout does not apply to it");
        ok = false;
    }
    if (top && in_wm) {
        y_error(b->d, top, "max_out_of_orderness is given twice (here and under watermark)");
        ok = false;
    } else if (top) {
        ok = get_duration(b, top, "max_out_of_orderness", &o->max_out_of_orderness) && ok;
    } else if (in_wm) { /* its shape is checked (and reported) with every source's watermark */
        o->max_out_of_orderness = watermark_bound(c);
    }
    return ok;
}

/* ---- Flatten and Join ---- */

/* Join's `type` and the shape of its `equalities` (their tags are checked against the inputs by
 * check_join_inputs); records the fields they name. */
static void check_join_config(builder *b, transform *t)
{
    static const char *const types[] = {"inner", "left", NULL};
    ynode ty = y_get(t->config, "type"), eq = y_get(t->config, "equalities");
    const char *s;
    if (ty && get_string(b, ty, "Join type", &s) && strcmp(s, "inner") && strcmp(s, "left")) {
        const char *hint = y_did_you_mean(s, types);
        if (!strcmp(s, "right") || !strcmp(s, "outer"))
            y_error(b->d, ty,
                    "Join type '%s' is not available in this version of weir (inner or "
                    "left)",
                    s);
        else if (hint)
            y_error(b->d, ty, "unknown Join type '%s' (did you mean '%s'?)", s, hint);
        else
            y_error(b->d, ty, "unknown Join type '%s' (inner or left)", s);
    }
    if (!eq) return;
    if (y_is_scalar(eq)) {
        if (get_string(b, eq, "equalities", &s)) add_field(b, s);
        return;
    }
    if (!y_is_seq(eq) || y_len(eq) == 0 || y_len(eq) > 32) {
        y_error(b->d, eq,
                "equalities must be a field name, or a list (at most 32) of maps from input tag "
                "to field");
        return;
    }
    for (uint32_t i = 0; i < y_len(eq); i++) {
        ynode e = y_item(eq, i);
        if (!y_is_map(e)) {
            y_error(b->d, e,
                    "an equality is a map from input tag to field (e.g. {person: id, auction: "
                    "seller})");
            continue;
        }
        for (uint32_t k = 0; k < y_len(e); k++)
            if (get_string(b, y_val(e, k), "equality field", &s)) add_field(b, s);
    }
}

/* A Join's input map (two tags) against its equalities. Fields read downstream as TAG.FIELD are
 * columns of the Join's output: the sources extract FIELD. */
static void check_join_inputs(builder *b, transform *t)
{
    ynode in = t->input;
    if (y_len(in) != 2) {
        y_error(b->d, in, "Join takes two inputs, a map of two tags to transforms (%u given)",
                y_len(in));
        return;
    }
    const char *tags[3] = {y_text(y_key(in, 0)), y_text(y_key(in, 1)), NULL};
    ynode eq = t->config ? y_get(t->config, "equalities") : NULL;
    for (uint32_t i = 0; eq && y_is_seq(eq) && i < y_len(eq); i++) {
        ynode e = y_item(eq, i);
        if (!y_is_map(e)) continue;
        for (uint32_t k = 0; k < y_len(e); k++) {
            const char *tag = y_text(y_key(e, k));
            if (!strcmp(tag, tags[0]) || !strcmp(tag, tags[1])) continue;
            const char *hint = y_did_you_mean(tag, tags);
            if (hint)
                y_error(b->d, y_key(e, k), "no input tagged '%s' in this Join (did you mean '%s'?)",
                        tag, hint);
            else
                y_error(b->d, y_key(e, k),
                        "no input tagged '%s' in this Join (its inputs are '%s' "
                        "and '%s')",
                        tag, tags[0], tags[1]);
        }
        for (int k = 0; k < 2; k++)
            if (!y_get(e, tags[k]))
                y_error(b->d, e, "this equality names no field of input '%s'", tags[k]);
    }
    for (uint32_t i = 0, n = b->n_fields; i < n; i++)
        for (int k = 0; k < 2; k++) {
            size_t len = strlen(tags[k]);
            if (!strncmp(b->fields[i], tags[k], len) && b->fields[i][len] == '.' &&
                b->fields[i][len + 1])
                add_field(b, b->fields[i] + len + 1);
        }
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
    if (t->windowing && d->k != K_COMBINE && d->k != K_WINDOW_INTO && d->k != K_JOIN) {
        y_error(b->d, t->windowing,
                "%s does not take windowing (only Combine, Join and WindowInto do)", d->type);
        return;
    }
    static const char *const required[][2] = {{"ReadFromFile", "path"},
                                              {"WriteToFile", "path"},
                                              {"Create", "elements"},
                                              {"ReadFromGenerator", "count"},
                                              {"Filter", "keep"},
                                              {"MapToFields", "fields"},
                                              {"Combine", "combine"},
                                              {"ReadFromKafka", "topic"},
                                              {"ReadFromKafka", "bootstrap_servers"},
                                              {"WriteToKafka", "topic"},
                                              {"WriteToKafka", "bootstrap_servers"},
                                              {"Join", "equalities"}};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!strcmp(required[i][0], d->type) && (!t->config || !y_get(t->config, required[i][1])))
            y_error(b->d, t->config ? t->config : t->node, "%s needs '%s' in its config", d->type,
                    required[i][1]);
    if (d->k == K_NEXMARK && (!t->config || !y_get(t->config, "events")))
        y_error(b->d, t->config ? t->config : t->node,
                "ReadFromNexmark needs 'events' in its config (the number of events to make)");
    if (d->k == K_WINDOW_INTO && !t->windowing)
        y_error(b->d, t->node, "WindowInto needs windowing");
    if (t->windowing) {
        t->has_windowing = parse_windowing(b, t->windowing, &t->windowing_parsed);
    }
    if (!t->config) return;
    if (d->k == K_JOIN) check_join_config(b, t);
    /* values that the build step reads: check their shapes now */
    ynode fmt = y_get(t->config, "format");
    const char *f;
    bool kafka = d->k == K_READ_KAFKA || d->k == K_WRITE_KAFKA;
    bool file = d->k == K_READ_FILE || d->k == K_WRITE_FILE;
    if (fmt && get_string(b, fmt, "format", &f) && strcmp(f, "json") &&
        !(kafka && !strcmp(f, "raw")) && !(file && !strcmp(f, "csv"))) {
        if (kafka)
            y_error(b->d, fmt, "unknown format '%s' (json or raw)", f);
        else
            y_error(b->d, fmt, "unknown format '%s' (json or csv)", f);
    }
    if (file) check_csv(b, t, fmt && y_is_scalar(fmt) && !strcmp(y_text(fmt), "csv"));
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
    if (d->k == K_READ_FILE || d->k == K_CREATE || d->k == K_FILTER || d->k == K_MAP ||
        d->k == K_READ_KAFKA)
        error_handling(b, t);
    if (kafka) check_kafka(b, t);
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
    if (d->k == K_NEXMARK) {
        weir_nexmark_source o;
        nexmark_config(b, t->config, &o);
    }
}

/* ---- building ---- */

/* A map of librdkafka settings as key, value, ..., NULL (values as their text); NULL if absent.
 * Free with free() (the strings belong to the document). */
static const char **kafka_settings(ynode c, const char *key)
{
    ynode m = c ? y_get(c, key) : NULL;
    if (!m || !y_is_map(m)) return NULL;
    const char **kv = calloc(2 * y_len(m) + 1, sizeof *kv);
    for (uint32_t i = 0; kv && i < y_len(m); i++) {
        kv[2 * i] = y_text(y_key(m, i));
        kv[2 * i + 1] = y_text(y_val(m, i));
    }
    return kv;
}

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

static int64_t watermark_idle(ynode config)
{
    ynode wm = config ? y_get(config, "watermark") : NULL;
    ynode m = wm ? y_get(wm, "idle_timeout") : NULL;
    int64_t v = 0;
    char err[64];
    if (m) weir__duration_parse(y_text(m), &v, err, sizeof err);
    return v;
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

/* format csv: the delimiter (0: the default), and ReadFromFile's column types (free with free();
 * the strings belong to the document). */
static char csv_delimiter(ynode config)
{
    const char *s = opt_text(config, "delimiter");
    return s ? s[0] : 0;
}

static weir_csv_column *csv_types(ynode config)
{
    ynode m = config ? y_get(config, "columns") : NULL;
    if (!m || !y_is_map(m)) return NULL;
    weir_csv_column *cols = calloc(y_len(m) + 1, sizeof *cols);
    for (uint32_t i = 0; cols && i < y_len(m); i++)
        cols[i] = (weir_csv_column){y_text(y_key(m, i)), y_text(y_val(m, i))};
    return cols;
}

static weir_stream *input_stream(builder *b, transform *t, uint32_t k)
{
    transform *src = &b->t[t->in[k]];
    return t->in_extra[k] ? weir_stream_port(src->stream, 1) : src->stream;
}

static bool default_trigger(const weir_trigger *t)
{
    return !t || t->type == WEIR_TRIGGER_DEFAULT;
}

static bool same_windowing(const weir_windowing *a, const weir_windowing *b)
{
    return !memcmp(&a->window, &b->window, sizeof a->window) &&
           a->allowed_lateness == b->allowed_lateness && a->accumulation == b->accumulation &&
           default_trigger(a->trigger) && default_trigger(b->trigger);
}

/* The transform whose windowing input k of t inherits (a WindowInto or windowed transform
 * upstream, along first inputs), or NULL. */
static const transform *windowed_by(builder *b, const transform *t, uint32_t k)
{
    for (const transform *u = &b->t[t->in[k]];; u = &b->t[u->in[0]]) {
        if (u->has_windowing) return u;
        if (!u->n_inputs) return NULL;
    }
}

/* Builds a Join: its windowing (its own, or the same inherited by both inputs) and key fields,
 * checked against its inputs' schemas. Problems are reported; false on one. */
static bool build_join(builder *b, transform *t)
{
    ynode c = t->config, in = t->input;
    const char *tag[2] = {y_text(y_key(in, 0)), y_text(y_key(in, 1))};
    weir_stream *s[2] = {input_stream(b, t, 0), input_stream(b, t, 1)};
    const weir_windowing *w = t->has_windowing ? &t->windowing_parsed : NULL;
    ynode wnode = t->windowing;
    if (!w) {
        const transform *u[2] = {windowed_by(b, t, 0), windowed_by(b, t, 1)};
        if (!u[0] && !u[1]) {
            y_error(b->d, t->node,
                    "Join needs windowing: a `windowing:` of its own, or a WindowInto upstream of "
                    "both inputs");
            return false;
        }
        if (!u[0] || !u[1] ||
            (u[0] != u[1] && !same_windowing(&u[0]->windowing_parsed, &u[1]->windowing_parsed))) {
            int k = u[0] ? 1 : 0;
            if (u[0] && u[1])
                y_error(b->d, t->node,
                        "the inputs of a Join must be windowed alike: '%s' is windowed by '%s', "
                        "'%s' by '%s', differently",
                        tag[0], u[0]->name, tag[1], u[1]->name);
            else
                y_error(b->d, t->node,
                        "the inputs of a Join must be windowed alike: '%s' is windowed by '%s', "
                        "'%s' is not (give the Join its own windowing)",
                        tag[1 - k], u[1 - k]->name, tag[k]);
            return false;
        }
        w = &u[0]->windowing_parsed;
        wnode = u[0]->windowing;
    }
    bool ok = true;
    if (w->window.type != WEIR_WINDOW_FIXED && w->window.type != WEIR_WINDOW_SLIDING) {
        y_error(b->d, wnode,
                "Join '%s' needs fixed or sliding windows (%s windows are not supported by Join "
                "in this version)",
                t->name, w->window.type == WEIR_WINDOW_GLOBAL ? "global" : "session");
        ok = false;
    }
    if (w->allowed_lateness) {
        y_error(b->d, wnode,
                "Join '%s' takes no allowed_lateness in this version: each window fires once, "
                "when the watermark passes its end, and later records are dropped",
                t->name);
        ok = false;
    }
    if (!default_trigger(w->trigger) || w->accumulation != WEIR_DISCARDING) {
        y_error(b->d, wnode,
                "Join '%s' supports only the default trigger and discarding accumulation in this "
                "version",
                t->name);
        ok = false;
    }
    ynode eq = y_get(c, "equalities");
    const char *keys[2][33] = {{0}};
    ynode knode[2][32];
    uint32_t nk = 0;
    if (y_is_scalar(eq)) {
        keys[0][0] = keys[1][0] = y_text(eq);
        knode[0][0] = knode[1][0] = eq;
        nk = 1;
    }
    for (uint32_t i = 0; y_is_seq(eq) && i < y_len(eq) && nk < 32; i++, nk++)
        for (int k = 0; k < 2; k++) {
            knode[k][nk] = y_get(y_item(eq, i), tag[k]);
            keys[k][nk] = y_text(knode[k][nk]);
        }
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < nk; i++) {
            const weir_schema *sc = weir_stream_schema(s[k]);
            if (weir_schema_find(sc, keys[k][i]) >= 0) continue;
            char list[256] = "";
            for (uint32_t f = 0; f < sc->n_fields && strlen(list) < 200; f++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", f ? ", " : "",
                         sc->names[f]);
            y_error(b->d, knode[k][i], "no field '%s' in input '%s' (its fields: %s)", keys[k][i],
                    tag[k], list);
            ok = false;
        }
    if (!ok) return false;
    const char *type = opt_text(c, "type");
    t->stream = weir_join(
        s[0], s[1],
        &(weir_join_spec){.type = type && !strcmp(type, "left") ? WEIR_JOIN_LEFT : WEIR_JOIN_INNER,
                          .left_tag = tag[0],
                          .right_tag = tag[1],
                          .left_keys = keys[0],
                          .right_keys = keys[1],
                          .window = w->window});
    return true;
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
        weir_csv_column *cols = csv_types(c);
        t->stream =
            weir_read_file(p, &(weir_file_source){.path = opt_text(c, "path"),
                                                  .format = opt_text(c, "format"),
                                                  .timestamp = opt_text(c, "timestamp"),
                                                  .max_out_of_orderness = watermark_bound(c),
                                                  .fields = fields,
                                                  .error_output = eh,
                                                  .follow = follow && !strcmp(follow, "true"),
                                                  .idle_timeout = watermark_idle(c),
                                                  .delimiter = csv_delimiter(c),
                                                  .columns = cols});
        free(cols);
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
    case K_NEXMARK: {
        weir_nexmark_source o;
        if (!nexmark_config(b, c, &o)) return false;
        t->stream = weir_read_nexmark(p, &o);
        break;
    }
    case K_READ_KAFKA: {
        const char **fields = field_list(b);
        const char **conf = kafka_settings(c, "consumer_config");
        const char *bounded = opt_text(c, "bounded");
        t->stream = weir_read_kafka(
            p, &(weir_kafka_source){.topic = opt_text(c, "topic"),
                                    .bootstrap_servers = opt_text(c, "bootstrap_servers"),
                                    .format = opt_text(c, "format"),
                                    .group_id = opt_text(c, "group_id"),
                                    .timestamp = opt_text(c, "timestamp"),
                                    .max_out_of_orderness = watermark_bound(c),
                                    .idle_timeout = watermark_idle(c),
                                    .bounded = bounded && !strcmp(bounded, "true"),
                                    .fields = fields,
                                    .config = conf,
                                    .error_output = eh});
        free(conf);
        free(fields);
        break;
    }
    case K_WRITE_KAFKA: {
        const char **conf = kafka_settings(c, "producer_config_updates");
        weir_write_kafka(
            in, &(weir_kafka_sink){.topic = opt_text(c, "topic"),
                                   .bootstrap_servers = opt_text(c, "bootstrap_servers"),
                                   .format = opt_text(c, "format"),
                                   .key = opt_text(c, "key"),
                                   .config = conf,
                                   .exactly_once = opt_text(c, "exactly_once") &&
                                                   !strcmp(opt_text(c, "exactly_once"), "true")});
        free(conf);
        break;
    }
    case K_WRITE_FILE: {
        ynode cl = y_get(c, "columns");
        uint32_t n = cl && y_is_seq(cl) ? y_len(cl) : 0;
        const char **cols = n ? calloc(n + 1, sizeof *cols) : NULL;
        for (uint32_t i = 0; cols && i < n; i++) cols[i] = y_text(y_item(cl, i));
        weir_write_file(in, &(weir_file_sink){.path = opt_text(c, "path"),
                                              .format = opt_text(c, "format"),
                                              .delimiter = csv_delimiter(c),
                                              .columns = cols});
        free(cols);
        break;
    }
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
    case K_FLATTEN: {
        weir_stream *ins[MAX_INPUTS];
        for (uint32_t k = 0; k < t->n_inputs; k++) ins[k] = input_stream(b, t, k);
        t->stream = weir_flatten(ins, t->n_inputs);
        break;
    }
    case K_JOIN:
        if (!build_join(b, t)) return false;
        break;
    case K_UNSUPPORTED: return false;
    }
    if (weir_pipeline_status(p)) {
        /* a DSL message names its operator's type ("Combine: no aggregates given"): that prefix
         * gives way to the transform's name, so it is not said twice */
        const char *msg = weir_pipeline_error(p), *type = t->desc->type;
        size_t n = strlen(type);
        if (!strncmp(msg, type, n) && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
        y_error(b->d, t->node, "%s: %s", t->name, msg);
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
    static const char *const keys[] = {"workers", "checkpoint", "pin_workers", "combiner_lifting",
                                       NULL};
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
    static const char *const ck_keys[] = {"dir", "interval", "retain", NULL};
    if (c && check_map(b, c, "checkpoint", ck_keys)) {
        ynode dir = y_get(c, "dir"), iv = y_get(c, "interval"), rt = y_get(c, "retain");
        const char *d = NULL;
        if (!dir)
            y_error(b->d, c, "checkpoint needs dir (the directory checkpoints are kept in)");
        else if (get_string(b, dir, "dir", &d) && !*d)
            y_error(b->d, dir, "dir must not be empty");
        else if (d)
            b->checkpoint_dir = d;
        int64_t ms = 10000, keep = 3;
        if (iv && get_duration(b, iv, "interval", &ms) && ms <= 0)
            y_error(b->d, iv, "interval must be more than 0");
        if (rt) get_int(b, rt, "retain", 1, &keep);
        b->checkpoint_interval = ms;
        b->checkpoint_retain = (uint32_t)(keep > 1000000 ? 1000000 : keep);
    }
    ynode pin = y_get(opts, "pin_workers");
    if (pin) get_bool(b, pin, "pin_workers", &b->pin_workers);
    ynode lift = y_get(opts, "combiner_lifting");
    if (lift) get_bool(b, lift, "combiner_lifting", &b->combiner_lifting);
}

void weir__built_free(weir__built *b)
{
    weir_pipeline_destroy(b->pipeline);
    free(b->checkpoint_dir);
    *b = (weir__built){0};
}

int weir__build(const weir__build_options *opt, weir__built *out, FILE *err)
{
    weir__diag *d = y_diag_create(opt->path);
    if (!d) {
        fprintf(err, "weir: error: out of memory\n");
        return 2;
    }
    builder b = {.path = opt->path, .d = d, .combiner_lifting = true};
    weir__yaml_doc *doc = NULL;
    int status = 2;
    *out = (weir__built){0};
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
            else if (y_is_map(t->input) && t->desc->k == K_JOIN)
                for (uint32_t k = 0; k < y_len(t->input); k++) add_input(&b, t, y_val(t->input, k));
            else if (y_is_map(t->input))
                y_error(d, t->input, "inputs given as a map (tag: transform) are for Join");
            else
                add_input(&b, t, t->input);
        }
        if (t->desc->k == K_JOIN && (t->input || chain)) {
            if (t->input && y_is_map(t->input))
                check_join_inputs(&b, t);
            else
                y_error(d, t->input ? t->input : t->node,
                        "Join takes its inputs as a map of tag to transform (e.g. input: {person: "
                        "Persons, auction: Auctions})");
        }
        if (t->desc->source && t->n_inputs)
            y_error(d, t->node, "%s is a source: it takes no input", t->desc->type);
        if (!t->desc->source && t->n_inputs == 0 && !(chain && i > 0))
            y_error(d, t->node, "%s needs an input", t->desc->type);
        if (!t->desc->source && t->n_inputs > 1 && t->desc->k != K_FLATTEN && t->desc->k != K_JOIN)
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
    out->pin_workers = b.pin_workers;
    out->combiner_lifting = b.combiner_lifting;
    if (b.checkpoint_dir) {
        out->checkpoint_dir = strdup(b.checkpoint_dir);
        out->checkpoint_interval = b.checkpoint_interval;
        out->checkpoint_retain = b.checkpoint_retain;
    }
    status = 0;
done:
    y_print(d, err);
    builder_finish(&b);
    if (doc) y_doc_destroy(doc);
    y_diag_destroy(d);
    return status;
}
