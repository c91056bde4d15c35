/* engine/pipeline.c: the logical graph behind the C DSL: nodes, streams, the sticky error.
 *
 * Builder calls never fail loudly: the first error is recorded in the pipeline (Cairo-style) and
 * a "failed" stream is returned, which every later builder call accepts and passes on, so a
 * chain of DSL calls needs a single check at weir_run. */
#include "engine.h"
#include "weir/error.h"
#include "weir/weir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *weir_version(void)
{
    return WEIR_VERSION;
}

weir_pipeline *weir_pipeline_create(void)
{
    weir_pipeline *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->failed = (weir_stream){.p = p, .failed = true};
    atomic_store(&p->counters.watermark, WEIR_TIME_MIN);
    return p;
}

static void node_finish(weir__node *n)
{
    free(n->kind);
    free(n->name);
    free(n->in_node);
    free(n->in_port);
    for (uint32_t i = 0; n->in_key_fields && i < n->n_inputs; i++) free(n->in_key_fields[i]);
    free(n->in_keyed);
    free(n->in_key_fields);
    free(n->in_n_key_fields);
    weir_schema_unref(n->lift_schema);
    free(n->lift_key_fields);
    if (n->config_free) n->config_free(n->config);
    for (uint32_t i = 0; i < WEIR__MAX_PORTS; i++) weir_schema_unref(n->schema[i]);
}

void weir_pipeline_destroy(weir_pipeline *p)
{
    if (!p) return;
    for (uint32_t i = 0; i < p->n_nodes; i++) node_finish(&p->nodes[i]);
    free(p->nodes);
    for (uint32_t i = 0; i < p->n_streams; i++) free(p->streams[i]);
    free(p->streams);
    free(p);
}

int weir_pipeline_status(const weir_pipeline *p)
{
    return p ? p->status : WEIR_EINVAL;
}

const char *weir_pipeline_error(const weir_pipeline *p)
{
    if (!p) return "no pipeline (out of memory?)";
    return p->error;
}

static int vset_error(weir_pipeline *p, int code, const char *fmt, va_list ap)
{
    if (p->status) return code;
    p->status = code ? code : WEIR_EINVAL;
    vsnprintf(p->error, sizeof p->error, fmt, ap);
    return code;
}

int weir_pipeline_set_error(weir_pipeline *p, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset_error(p, code, fmt, ap);
    va_end(ap);
    return code;
}

static weir_stream *new_stream(weir_pipeline *p, uint32_t node, uint32_t port)
{
    for (uint32_t i = 0; i < p->n_streams; i++)
        if (p->streams[i]->node == node && p->streams[i]->port == port) return p->streams[i];
    if (p->n_streams == p->cap_streams) {
        uint32_t cap = p->cap_streams ? p->cap_streams * 2 : 16;
        weir_stream **s = realloc(p->streams, cap * sizeof *s);
        if (!s) goto nomem;
        p->streams = s;
        p->cap_streams = cap;
    }
    weir_stream *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    *s = (weir_stream){.p = p, .node = node, .port = port};
    p->streams[p->n_streams++] = s;
    return s;
nomem:
    weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    return &p->failed;
}

static bool name_taken(const weir_pipeline *p, const char *name)
{
    for (uint32_t i = 0; i < p->n_nodes; i++)
        if (strcmp(p->nodes[i].name, name) == 0) return true;
    return false;
}

weir_stream *weir_pipeline_add_node(weir_pipeline *p, const weir_node_spec *spec)
{
    weir__node n = {0};
    n.config = spec->config;
    n.config_free = spec->config_free;
    n.schema[0] = spec->schema;
    if (spec->lift) n.lift_schema = spec->lift->schema;
    for (uint32_t i = 0; i < spec->n_extra && i + 1 < WEIR__MAX_PORTS; i++)
        n.schema[i + 1] = spec->extra[i];
    if (!p) goto fail;
    if (p->status) goto fail;
    if (!spec->cls) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "%s: no operator class", spec->kind);
        goto fail;
    }
    for (uint32_t i = 0; i < spec->n_inputs; i++) {
        const weir_stream *in = spec->inputs[i];
        if (!in || in->p != p) {
            weir_pipeline_set_error(p, WEIR_EINVAL, "%s: input %u is not a stream of this pipeline",
                                    spec->kind, i);
            goto fail;
        }
        if (in->failed) goto fail;
    }
    if (p->n_nodes == p->cap_nodes) {
        uint32_t cap = p->cap_nodes ? p->cap_nodes * 2 : 16;
        weir__node *nodes = realloc(p->nodes, cap * sizeof *nodes);
        if (!nodes) goto nomem;
        p->nodes = nodes;
        p->cap_nodes = cap;
    }
    n.cls = spec->cls;
    n.n_inputs = spec->n_inputs;
    n.in_keyed = calloc(spec->n_inputs + 1, sizeof *n.in_keyed);
    n.in_key_fields = calloc(spec->n_inputs + 1, sizeof *n.in_key_fields);
    n.in_n_key_fields = calloc(spec->n_inputs + 1, sizeof *n.in_n_key_fields);
    if (!n.in_keyed || !n.in_key_fields || !n.in_n_key_fields) goto nomem;
    for (uint32_t i = 0; i < spec->n_inputs; i++) {
        /* input_keys[i], or for input 0 the older keyed / key_fields */
        weir_input_key k = {0};
        if (spec->input_keys)
            k = spec->input_keys[i];
        else if (i == 0)
            k = (weir_input_key){spec->keyed, spec->key_fields, spec->n_key_fields};
        n.in_keyed[i] = k.keyed;
        if (!k.keyed || !k.n_fields) continue;
        n.in_key_fields[i] = malloc(k.n_fields * sizeof *n.in_key_fields[i]);
        if (!n.in_key_fields[i]) goto nomem;
        memcpy(n.in_key_fields[i], k.fields, k.n_fields * sizeof *k.fields);
        n.in_n_key_fields[i] = k.n_fields;
    }
    if (spec->lift) {
        const weir_lift_spec *l = spec->lift;
        if (!l->cls || !l->schema || !n.n_inputs || !n.in_keyed[0]) {
            weir_pipeline_set_error(p, WEIR_EINVAL,
                                    "%s: a lifted combiner needs a class, a schema and a keyed "
                                    "input 0",
                                    spec->kind);
            goto fail;
        }
        n.lift_cls = l->cls;
        n.lift_key_fields = malloc((l->n_key_fields + 1) * sizeof *n.lift_key_fields);
        if (!n.lift_key_fields) goto nomem;
        memcpy(n.lift_key_fields, l->key_fields, l->n_key_fields * sizeof *l->key_fields);
        n.lift_n_key_fields = l->n_key_fields;
    }
    n.n_ports = spec->schema ? 1 + spec->n_extra : 0;
    n.kind = strdup(spec->kind ? spec->kind : "Node");
    const char *base = spec->name ? spec->name : n.kind;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", base ? base : "Node");
    for (int k = 2; name_taken(p, buf); k++) snprintf(buf, sizeof buf, "%s_%d", base, k);
    n.name = strdup(buf);
    n.in_node = calloc(spec->n_inputs + 1, sizeof *n.in_node);
    n.in_port = calloc(spec->n_inputs + 1, sizeof *n.in_port);
    if (!n.kind || !n.name || !n.in_node || !n.in_port) goto nomem;
    for (uint32_t i = 0; i < spec->n_inputs; i++) {
        n.in_node[i] = spec->inputs[i]->node;
        n.in_port[i] = spec->inputs[i]->port;
    }
    uint32_t idx = p->n_nodes++;
    p->nodes[idx] = n;
    return new_stream(p, idx, 0);
nomem:
    weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
fail:
    node_finish(&n);
    return p ? &p->failed : NULL;
}

weir_stream *weir_pipeline_failed_stream(weir_pipeline *p)
{
    return p ? &p->failed : NULL;
}
weir_pipeline *weir_stream_pipeline(const weir_stream *s)
{
    return s ? s->p : NULL;
}
bool weir_stream_failed(const weir_stream *s)
{
    return !s || s->failed;
}

weir_stream *weir_stream_port(weir_stream *s, uint32_t port)
{
    if (!s) return NULL;
    if (s->failed) return s;
    weir__node *n = &s->p->nodes[s->node];
    if (port >= n->n_ports || !n->schema[port]) {
        weir_pipeline_set_error(s->p, WEIR_EINVAL, "%s has no output %u", n->name, port);
        return &s->p->failed;
    }
    return new_stream(s->p, s->node, port);
}

const char *weir_stream_kind(const weir_stream *s)
{
    return s && !s->failed ? s->p->nodes[s->node].kind : "failed";
}

const weir_schema *weir_stream_schema(const weir_stream *s)
{
    if (!s || s->failed) return NULL;
    return s->p->nodes[s->node].schema[s->port];
}

int weir_stream_field(weir_stream *s, const char *name)
{
    const weir_schema *sc = weir_stream_schema(s);
    if (!sc) return -1;
    int i = weir_schema_find(sc, name);
    if (i < 0)
        weir_pipeline_set_error(s->p, WEIR_EINVAL, "%s: no field '%s' in its output",
                                s->p->nodes[s->node].name, name);
    return i;
}

uint32_t weir_pipeline_node_count(const weir_pipeline *p)
{
    return p ? p->n_nodes : 0;
}
const char *weir_pipeline_node_kind(const weir_pipeline *p, uint32_t i)
{
    return p->nodes[i].kind;
}
const char *weir_pipeline_node_name(const weir_pipeline *p, uint32_t i)
{
    return p->nodes[i].name;
}

bool weir_pipeline_node_keyed(const weir_pipeline *p, uint32_t i)
{
    return weir_pipeline_node_input_keyed(p, i, 0);
}

bool weir_pipeline_node_lifted(const weir_pipeline *p, uint32_t i)
{
    return p && i < p->n_nodes && p->nodes[i].lift_cls;
}

bool weir_pipeline_node_input_keyed(const weir_pipeline *p, uint32_t i, uint32_t input)
{
    const weir__node *n = &p->nodes[i];
    return input < n->n_inputs && n->in_keyed[input];
}

uint32_t weir_pipeline_node_inputs(const weir_pipeline *p, uint32_t i, uint32_t *nodes,
                                   uint32_t *ports, uint32_t max)
{
    const weir__node *n = &p->nodes[i];
    for (uint32_t k = 0; k < n->n_inputs && k < max; k++) {
        nodes[k] = n->in_node[k];
        ports[k] = n->in_port[k];
    }
    return n->n_inputs;
}

void weir_pipeline_stats(const weir_pipeline *p, weir_run_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p) return;
    out->records_read = atomic_load(&p->counters.read);
    out->records_written = atomic_load(&p->counters.written);
    out->dropped_late = atomic_load(&p->counters.late);
    out->errors = atomic_load(&p->counters.errors);
    out->watermark = atomic_load(&p->counters.watermark);
    out->seconds = p->seconds;
}
