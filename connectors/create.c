/* connectors/create.c: Create: a bounded, single-partition source of records given in the
 * pipeline itself (JSON objects, one per element). It goes through json_rows like a file, so
 * elements behave exactly as lines of a file would (timestamps, errors, pass-through).
 *
 * Checkpoints: the shared section is u32 version, u8 whether this instance reads the elements
 * (worker 0), u32 the index of the next element, and json_rows' watermark state. On a restore
 * the instance of worker 0 takes the state of the old worker 0's instance, at any worker count. */
#include "json_rows.h"
#include "weir/error.h"
#include "weir/graph.h"

#include <stdlib.h>
#include <string.h>

typedef struct create_source {
    json_rows rows;
    const json_source_config *cfg;
    uint32_t next;
    bool stopping;
} create_source;

static int cr_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    create_source *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = config;
    s->stopping = weir_operator_worker_index(op) != 0; /* one partition: worker 0 reads it */
    return weir__json_rows_init(&s->rows, op, s->cfg, errbuf, errlen);
}

static void cr_close(weir_operator *op)
{
    create_source *s = op->state;
    if (!s) return;
    weir__json_rows_finish(&s->rows);
    free(s);
}

static int cr_pull(weir_operator *op, uint32_t max_rows)
{
    create_source *s = op->state;
    int rc;
    for (uint32_t n = 0; n < max_rows && s->next < s->cfg->n_elements && !s->stopping; n++) {
        const char *e = s->cfg->elements[s->next];
        s->next++;
        if ((rc = weir__json_rows_line(&s->rows, e, strlen(e), s->next))) return rc;
    }
    bool end = s->stopping || s->next == s->cfg->n_elements;
    if ((rc = weir__json_rows_flush(&s->rows, end))) return rc;
    return end ? WEIR_PULL_END : WEIR_PULL_MORE;
}

static void cr_stop(weir_operator *op)
{
    ((create_source *)op->state)->stopping = true;
}

#define CR_SNAP_VERSION 1u

static int cr_snapshot(weir_operator *op, weir_snap_writer *w)
{
    create_source *s = op->state;
    bool reads = weir_operator_worker_index(op) == 0;
    int rc = weir_snap_section(w, WEIR_SNAP_SHARED);
    if (!rc) rc = weir_snap_u32(w, CR_SNAP_VERSION);
    if (!rc) rc = weir_snap_u8(w, reads);
    if (!rc) rc = weir_snap_u32(w, s->next);
    if (!rc && reads) rc = weir__json_rows_snapshot(&s->rows, w);
    return rc ? weir_operator_fail(op, rc, "%s: out of memory", s->cfg->origin) : 0;
}

static int cr_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    create_source *s = op->state;
    if (group != WEIR_SNAP_SHARED) return 0;
    uint32_t version = weir_snap_get_u32(r);
    if (weir_snap_ok(r) && version != CR_SNAP_VERSION)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: the checkpoint holds this source's state in format "
                                  "version %u; this weir reads version %u",
                                  s->cfg->origin, version, CR_SNAP_VERSION);
    bool read = weir_snap_get_u8(r) != 0;
    uint32_t next = weir_snap_get_u32(r);
    if (read) {
        json_rows scratch = {0};
        bool mine = weir_operator_worker_index(op) == 0;
        weir__json_rows_restore(mine ? &s->rows : &scratch, r);
        if (mine && weir_snap_ok(r)) {
            if (next > s->cfg->n_elements)
                return weir_operator_fail(op, WEIR_ECORRUPT,
                                          "%s: the checkpoint resumes at element %u, but there "
                                          "are %u: the pipeline is not the one checkpointed",
                                          s->cfg->origin, next + 1, s->cfg->n_elements);
            s->next = next;
        }
    }
    if (!weir_snap_done(r))
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: this source's state in the checkpoint is damaged",
                                  s->cfg->origin);
    return 0;
}

static const weir_operator_class create_class = {.name = "Create",
                                                 .open = cr_open,
                                                 .pull = cr_pull,
                                                 .stop = cr_stop,
                                                 .close = cr_close,
                                                 .snapshot = cr_snapshot,
                                                 .restore = cr_restore};

weir_stream *weir_create(weir_pipeline *p, const weir_create_source *opt)
{
    if (!p) return NULL;
    if (weir_pipeline_status(p)) return weir_pipeline_failed_stream(p);
    if (!opt || !opt->elements) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "Create: elements are required");
        return weir_pipeline_failed_stream(p);
    }
    json_source_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) goto nomem;
    uint32_t n = 0;
    while (opt->elements[n]) n++;
    cfg->elements = calloc(n + 1, sizeof *cfg->elements);
    if (!cfg->elements) goto nomem;
    for (; cfg->n_elements < n; cfg->n_elements++)
        if (!(cfg->elements[cfg->n_elements] = strdup(opt->elements[cfg->n_elements]))) goto nomem;
    cfg->origin = strdup(opt->origin ? opt->origin : "Create");
    cfg->timestamp = opt->timestamp ? strdup(opt->timestamp) : NULL;
    cfg->bound = opt->max_out_of_orderness;
    if (!cfg->origin || (opt->timestamp && !cfg->timestamp) ||
        weir__json_source_fields(cfg, opt->fields))
        goto nomem;
    return weir__json_source_add(p, cfg, "Create", &create_class);
nomem:
    weir__json_source_config_free(cfg);
    weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    return weir_pipeline_failed_stream(p);
}
