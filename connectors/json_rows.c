/* connectors/json_rows.c: JSON lines to rows (see json_rows.h). The line text stays referenced
 * by the row (raw pass-through of unread fields), so the caller keeps the line's memory alive
 * until the batch is emitted: sources flush before they reuse their read buffer. */
#include "json_rows.h"
#include "weir/error.h"
#include "weir/timestamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void weir__json_source_config_free(void *config)
{
    json_source_config *c = config;
    if (!c) return;
    free(c->path);
    for (uint32_t i = 0; i < c->n_elements; i++) free(c->elements[i]);
    free(c->elements);
    free(c->origin);
    free(c->timestamp);
    for (uint32_t i = 0; i < c->n_fields; i++) free(c->fields[i]);
    free(c->fields);
    free(c);
}

int weir__json_source_fields(json_source_config *cfg, const char *const *fields)
{
    uint32_t n = 0;
    while (fields && fields[n]) n++;
    cfg->fields = calloc(n + 2, sizeof *cfg->fields);
    if (!cfg->fields) return WEIR_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        bool dup = false;
        for (uint32_t k = 0; k < cfg->n_fields; k++)
            dup = dup || !strcmp(cfg->fields[k], fields[i]);
        if (dup) continue;
        if (!(cfg->fields[cfg->n_fields] = strdup(fields[i]))) return WEIR_ENOMEM;
        cfg->n_fields++;
    }
    if (cfg->timestamp) {
        bool have = false;
        for (uint32_t k = 0; k < cfg->n_fields; k++)
            have = have || !strcmp(cfg->fields[k], cfg->timestamp);
        if (!have) {
            if (!(cfg->fields[cfg->n_fields] = strdup(cfg->timestamp))) return WEIR_ENOMEM;
            cfg->n_fields++;
        }
    }
    return 0;
}

weir_schema *weir__json_source_schema(const json_source_config *cfg)
{
    weir_schema *s = weir_schema_create(cfg->n_fields, (const char *const *)cfg->fields, NULL);
    if (s) {
        s->has_raw = true;
        s->n_raw = s->n_fields;
    }
    return s;
}

int weir__json_rows_init(json_rows *j, weir_operator *op, const json_source_config *cfg,
                         char *errbuf, size_t errlen)
{
    memset(j, 0, sizeof *j);
    j->op = op;
    j->cfg = cfg;
    j->ts_index = -1;
    j->wm = WEIR_TIME_MIN;
    j->max_ts = WEIR_TIME_MIN;
    if (cfg->timestamp)
        for (uint32_t i = 0; i < cfg->n_fields; i++)
            if (!strcmp(cfg->fields[i], cfg->timestamp)) j->ts_index = (int32_t)i;
    int rc = weir_json_fields_create(&j->fields, cfg->n_fields, (const char *const *)cfg->fields);
    if (rc) {
        snprintf(errbuf, errlen, "%s: %s", cfg->origin, weir_strerror(rc));
        return rc;
    }
    j->batch = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!j->batch) return WEIR_ENOMEM;
    j->origin = cfg->origin;
    j->batch->origin = cfg->origin;
    return weir_record_errors_init(&j->errors, op, cfg->error_output);
}

void weir__json_rows_finish(json_rows *j)
{
    weir_json_fields_destroy(j->fields);
    weir_batch_destroy(j->batch);
    weir_record_errors_finish(&j->errors);
}

static int64_t parts_min(const json_parts *p)
{
    int64_t m = WEIR_TIME_MAX;
    for (uint32_t i = 0; i < p->n; i++)
        if (p->wm[i] < m) m = p->wm[i];
    return m;
}

static int emit(json_rows *j, uint32_t flags)
{
    weir_batch *b = j->batch;
    uint32_t out_flags = flags;
    b->wm_after = j->wm;
    if (j->parts) { /* several partitions: every watermark becomes their minimum */
        json_parts *p = j->parts;
        for (uint32_t r = 0; r < b->n_rows; r++) {
            if (b->wm[r] > p->wm[j->part]) p->wm[j->part] = b->wm[r];
            b->wm[r] = parts_min(p);
        }
        int64_t own = (flags & WEIR_BATCH_END) ? WEIR_TIME_MAX : j->wm;
        if (own > p->wm[j->part]) p->wm[j->part] = own;
        b->wm_after = parts_min(p);
        if ((flags & WEIR_BATCH_END) && ++p->n_ended < p->n) out_flags = 0;
    }
    b->flags = out_flags;
    b->origin = j->origin;
    int rc = 0;
    if (b->n_rows || flags) {
        weir_operator_count_read(j->op, b->n_rows);
        weir_operator_report_watermark(j->op, b->wm_after);
        rc = weir_operator_emit(j->op, b);
    }
    int64_t wm_after = b->wm_after;
    weir_batch_clear(b);
    b->origin = j->origin;
    if (!rc) rc = weir_record_errors_flush(&j->errors, wm_after, out_flags);
    return rc;
}

int weir__json_rows_line(json_rows *j, const char *line, size_t len, int64_t pos)
{
    weir_batch *b = j->batch;
    if (weir_batch_full(b)) {
        int rc = emit(j, 0);
        if (rc) return rc;
    }
    char err[256];
    uint32_t r = b->n_rows;
    weir_value *v = weir_batch_append(b, 0, j->wm);
    int rc = weir_json_parse_object(j->fields, line, len, v, &b->arena, err, sizeof err);
    if (rc) {
        b->n_rows--;
        return weir_record_error_raw(&j->errors, j->origin, pos, line, len, err, j->wm);
    }
    int64_t ts;
    if (j->ts_index >= 0) {
        const weir_value *tv = &v[j->ts_index];
        if (tv->type == WEIR_TYPE_NULL) {
            b->n_rows--;
            snprintf(err, sizeof err, "missing timestamp field '%s'", j->cfg->timestamp);
            return weir_record_error_raw(&j->errors, j->origin, pos, line, len, err, j->wm);
        }
        if (weir_timestamp_from_value(tv, &ts, err, sizeof err)) {
            b->n_rows--;
            return weir_record_error_raw(&j->errors, j->origin, pos, line, len, err, j->wm);
        }
        if (!j->seen || ts > j->max_ts) j->max_ts = ts;
        j->seen = true;
        int64_t w = j->max_ts - j->cfg->bound;
        if (j->cfg->bound > 0 && j->max_ts < WEIR_TIME_MIN + j->cfg->bound) w = WEIR_TIME_MIN;
        if (w > j->wm) j->wm = w;
    } else {
        ts = weir_operator_now(j->op);
        if (ts > j->wm) j->wm = ts;
    }
    b->ts[r] = ts;
    b->pos[r] = pos;
    b->raw[r] = (weir_raw){line, (uint32_t)len};
    j->n_read++;
    return 0;
}

int weir__json_rows_flush(json_rows *j, bool end)
{
    if (end) j->wm = WEIR_TIME_MAX;
    return emit(j, end ? WEIR_BATCH_END : 0);
}
