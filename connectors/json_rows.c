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
    for (uint32_t i = 0; i < c->n_csv_columns; i++) free(c->csv_columns[i]);
    free(c->csv_columns);
    free(c->csv_types);
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
    if (s && !cfg->raw) {
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

/* The minimum over the partitions that are not idle (ended ones count as +infinity). DECISION:
 * when every partition is idle, the highest of their watermarks (the minimum over no partition
 * would be +infinity and close every window; holding still would never fire what the quiet
 * partitions already passed). It never goes back. */
static int64_t parts_min(json_parts *p)
{
    int64_t m = WEIR_TIME_MAX, hi = WEIR_TIME_MIN;
    bool any = false;
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->idle && p->idle[i]) {
            if (p->wm[i] > hi) hi = p->wm[i];
            continue;
        }
        any = true;
        if (p->wm[i] < m) m = p->wm[i];
    }
    if (!any) m = hi;
    if (m < p->emitted) m = p->emitted;
    p->emitted = m;
    return m;
}

static bool all_idle(const json_parts *p)
{
    bool any_open = false;
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->wm[i] == WEIR_TIME_MAX) continue; /* ended */
        any_open = true;
        if (!p->idle || !p->idle[i]) return false;
    }
    return any_open;
}

static int emit_batch(json_rows *j, uint32_t flags, bool force)
{
    weir_batch *b = j->batch;
    uint32_t out_flags = flags;
    b->wm_after = j->wm;
    if (j->parts) { /* several partitions: every watermark becomes their minimum */
        json_parts *p = j->parts;
        if (b->n_rows && p->idle && p->idle[j->part]) p->idle[j->part] = false; /* active again */
        for (uint32_t r = 0; r < b->n_rows; r++) {
            if (b->wm[r] > p->wm[j->part]) p->wm[j->part] = b->wm[r];
            b->wm[r] = parts_min(p);
        }
        int64_t own = (flags & WEIR_BATCH_END) ? WEIR_TIME_MAX : j->wm;
        if (own > p->wm[j->part]) p->wm[j->part] = own;
        b->wm_after = parts_min(p);
        if ((flags & WEIR_BATCH_END) && ++p->n_ended < p->n) out_flags = 0;
        if (!(out_flags & WEIR_BATCH_END) && all_idle(p)) out_flags |= WEIR_BATCH_IDLE;
    }
    b->flags = out_flags;
    b->origin = j->origin;
    int rc = 0;
    if (b->n_rows || flags || force) {
        weir_operator_count_read(j->op, b->n_rows);
        weir_operator_report_watermark(j->op, b->wm_after);
        rc = weir_operator_emit(j->op, b);
    }
    int64_t wm_after = b->wm_after;
    weir_batch_clear(b);
    b->origin = j->origin;
    if (!rc) rc = weir_record_errors_flush(&j->errors, wm_after, out_flags & WEIR_BATCH_END);
    return rc;
}

static int emit(json_rows *j, uint32_t flags)
{
    return emit_batch(j, flags, false);
}

int weir__json_rows_check_idle(json_rows *j, int64_t now)
{
    json_parts *p = j->parts;
    if (!p || !p->idle || j->cfg->idle_timeout <= 0) return 0;
    bool changed = false;
    for (uint32_t i = 0; i < p->n; i++)
        if (!p->idle[i] && p->wm[i] != WEIR_TIME_MAX &&
            now - p->last_active[i] >= j->cfg->idle_timeout) {
            p->idle[i] = true;
            changed = true;
        }
    return changed ? emit_batch(j, 0, true) : 0;
}

/* Event time of the row just appended (values v) and the watermark after it; on a bad or missing
 * timestamp the row is taken back and reported. 0, or what the error routing returned (with
 * *bad set). */
static int take_time(json_rows *j, const weir_value *v, int64_t given, int64_t pos,
                     const char *text, size_t len, int64_t *out, bool *bad)
{
    weir_batch *b = j->batch;
    char err[256];
    int64_t ts;
    *bad = false;
    if (j->cfg->external_ts || j->ts_index >= 0) {
        if (j->cfg->external_ts) {
            ts = given;
        } else {
            const weir_value *tv = &v[j->ts_index];
            if (tv->type == WEIR_TYPE_NULL) {
                snprintf(err, sizeof err, "missing timestamp field '%s'", j->cfg->timestamp);
                goto bad;
            }
            if (weir_timestamp_from_value(tv, &ts, err, sizeof err)) goto bad;
        }
        if (!j->seen || ts > j->max_ts) j->max_ts = ts;
        j->seen = true;
        int64_t w = j->max_ts - j->cfg->bound;
        if (j->cfg->bound > 0 && j->max_ts < WEIR_TIME_MIN + j->cfg->bound) w = WEIR_TIME_MIN;
        if (w > j->wm) j->wm = w;
    } else {
        /* processing time, read once per batch: a batch is read in one pull, well within a
         * millisecond, and a clock read per record cost 5% of a Kafka pass-through */
        if (b->n_rows == 1) j->now = weir_operator_now(j->op);
        ts = j->now;
        if (ts > j->wm) j->wm = ts;
    }
    *out = ts;
    return 0;
bad:
    b->n_rows--;
    *bad = true;
    return weir_record_error_raw(&j->errors, j->origin, pos, text, len, err, j->wm);
}

/* Completes row r after its values are in place. */
static void row_done(json_rows *j, uint32_t r, int64_t ts, int64_t pos)
{
    weir_batch *b = j->batch;
    b->ts[r] = ts;
    b->pos[r] = pos;
    j->n_read++;
    if (j->parts && j->parts->last_active && r == 0) /* once per batch: a clock read is not free */
        j->parts->last_active[j->part] = weir_operator_now(j->op);
}

weir_value *weir__json_rows_begin(json_rows *j, int *rc)
{
    weir_batch *b = j->batch;
    *rc = 0;
    if (weir_batch_full(b) && (*rc = emit(j, 0))) return NULL;
    return weir_batch_append(b, 0, j->wm);
}

int weir__json_rows_reject(json_rows *j, int64_t pos, const char *text, size_t len, const char *msg)
{
    j->batch->n_rows--;
    return weir_record_error_raw(&j->errors, j->origin, pos, text, len, msg, j->wm);
}

static int rows_end(json_rows *j, int64_t pos, const char *raw, size_t raw_len, bool compact,
                    const char *text, size_t len, int64_t ts)
{
    weir_batch *b = j->batch;
    uint32_t r = b->n_rows - 1;
    bool bad;
    int rc = take_time(j, weir_batch_row(b, r), ts, pos, text, len, &ts, &bad);
    if (rc || bad) return rc;
    if (b->raw) b->raw[r] = (weir_raw){raw, (uint32_t)raw_len, compact};
    row_done(j, r, ts, pos);
    return 0;
}

int weir__json_rows_end(json_rows *j, int64_t pos, const char *raw, size_t raw_len,
                        const char *text, size_t len, int64_t ts)
{
    return rows_end(j, pos, raw, raw_len, false, text, len, ts);
}

int weir__json_rows_record(json_rows *j, const char *line, size_t len, int64_t pos, int64_t ts)
{
    int rc;
    weir_value *v = weir__json_rows_begin(j, &rc);
    if (!v) return rc;
    char err[256];
    bool compact;
    rc = weir_json_parse_object_compact(j->fields, line, len, v, &j->batch->arena, err, sizeof err,
                                        &compact);
    if (rc) return weir__json_rows_reject(j, pos, line, len, err);
    return rows_end(j, pos, line, len, compact, line, len, ts);
}

int weir__json_rows_line(json_rows *j, const char *line, size_t len, int64_t pos)
{
    return weir__json_rows_record(j, line, len, pos, 0);
}

int weir__json_rows_raw(json_rows *j, const char *key, size_t klen, const char *value, size_t vlen,
                        int64_t pos, int64_t ts)
{
    weir_batch *b = j->batch;
    if (weir_batch_full(b)) {
        int rc = emit(j, 0);
        if (rc) return rc;
    }
    uint32_t r = b->n_rows;
    weir_value *v = weir_batch_append(b, 0, j->wm);
    v[0] = key ? weir__json_rows_text(key, klen) : WEIR_NULL_VALUE;
    v[1] = value ? weir__json_rows_text(value, vlen) : WEIR_NULL_VALUE;
    bool bad;
    int rc = take_time(j, v, ts, pos, value ? value : "", value ? vlen : 0, &ts, &bad);
    if (rc || bad) return rc;
    row_done(j, r, ts, pos);
    return 0;
}

weir_value weir__json_rows_text(const char *s, size_t len)
{
    /* valid UTF-8 is a string, anything else bytes */
    const unsigned char *p = (const unsigned char *)s, *e = p + len;
    while (p < e) {
        unsigned c = *p;
        size_t n = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (!n || (size_t)(e - p) < n || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4)) goto bytes;
        for (size_t k = 1; k < n; k++)
            if ((p[k] & 0xC0) != 0x80) goto bytes;
        if (n == 3 && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))) goto bytes;
        if (n == 4 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))) goto bytes;
        p += n;
    }
    return weir_value_string(s, len);
bytes:
    return (weir_value){.type = WEIR_TYPE_BYTES, .len = (uint32_t)len, .as.s = s};
}

int weir__json_rows_emit_state(json_rows *j)
{
    return emit_batch(j, 0, true);
}

int weir__json_rows_flush(json_rows *j, bool end)
{
    if (end) j->wm = WEIR_TIME_MAX;
    return emit(j, end ? WEIR_BATCH_END : 0);
}

int weir__json_rows_snapshot(const json_rows *j, weir_snap_writer *w)
{
    const json_parts *p = j->parts;
    int rc = weir_snap_i64(w, j->max_ts);
    if (!rc) rc = weir_snap_i64(w, j->wm);
    if (!rc) rc = weir_snap_u8(w, j->seen);
    if (!rc) rc = weir_snap_i64(w, p ? p->wm[j->part] : j->wm);
    if (!rc) rc = weir_snap_i64(w, p && p->last_active ? p->last_active[j->part] : 0);
    if (!rc) rc = weir_snap_u8(w, p && p->idle ? p->idle[j->part] : 0);
    return rc;
}

void weir__json_rows_restore(json_rows *j, weir_snap_reader *r)
{
    j->max_ts = weir_snap_get_i64(r);
    j->wm = weir_snap_get_i64(r);
    j->seen = weir_snap_get_u8(r) != 0;
    int64_t part_wm = weir_snap_get_i64(r), last_active = weir_snap_get_i64(r);
    bool idle = weir_snap_get_u8(r) != 0;
    json_parts *p = j->parts;
    if (!p || !weir_snap_ok(r)) return;
    p->wm[j->part] = part_wm;
    if (p->last_active) p->last_active[j->part] = last_active;
    if (p->idle) p->idle[j->part] = idle;
}
