/* connectors/record_error.c: error rows {error, source, record} for bad records, or the run's
 * stop with "PATH:LINE: what is wrong" (see weir/record_error.h). Lives with the connectors
 * because it renders records as JSON text. */
#include "weir/record_error.h"
#include "weir/buf.h"
#include "weir/error.h"
#include "weir/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

weir_schema *weir_record_error_schema(void)
{
    static const char *const names[] = {"error", "source", "record"};
    static const weir_type types[] = {WEIR_TYPE_STRING, WEIR_TYPE_STRING, WEIR_TYPE_STRING};
    return weir_schema_create(3, names, types);
}

int weir_record_errors_init(weir_record_errors *e, weir_operator *op, bool to_output)
{
    e->op = op;
    e->batch = NULL;
    if (!to_output) return 0;
    static weir_schema *schema; /* shared, immutable, lives for the process */
    if (!schema && !(schema = weir_record_error_schema())) return WEIR_ENOMEM;
    e->batch = weir_batch_create(schema, weir_operator_batch_size(op));
    return e->batch ? 0 : WEIR_ENOMEM;
}

void weir_record_errors_finish(weir_record_errors *e)
{
    weir_batch_destroy(e->batch);
    e->batch = NULL;
}

static void format_source(char *buf, size_t n, const char *origin, int64_t pos)
{
    if (!origin) origin = "input";
    size_t olen = strlen(origin);
    if (olen && origin[olen - 1] == '@' && pos > 0) /* Kafka: "TOPIC/PARTITION@", pos offset+1 */
        snprintf(buf, n, "%s%" PRId64, origin, pos - 1);
    else if (pos > 0)
        snprintf(buf, n, "%s:%" PRId64, origin, pos);
    else
        snprintf(buf, n, "%s", origin);
}

static int add_row(weir_record_errors *e, const char *source, const char *text, size_t len,
                   const char *msg, int64_t ts, int64_t wm)
{
    if (weir_batch_full(e->batch)) {
        int rc = weir_record_errors_flush(e, wm, 0);
        if (rc) return rc;
    }
    weir_value *v = weir_batch_append(e->batch, ts, wm);
    char *m = weir_arena_strdup(&e->batch->arena, msg, strlen(msg));
    char *s = weir_arena_strdup(&e->batch->arena, source, strlen(source));
    char *t = weir_arena_strdup(&e->batch->arena, text, len);
    if (!m || !s || !t) return weir_operator_fail(e->op, WEIR_ENOMEM, "out of memory");
    v[0] = weir_value_string(m, strlen(m));
    v[1] = weir_value_string(s, strlen(s));
    v[2] = weir_value_string(t, len);
    weir_operator_count_errors(e->op, 1);
    return 0;
}

int weir_record_error_raw(weir_record_errors *e, const char *origin, int64_t pos, const char *text,
                          size_t len, const char *msg, int64_t wm)
{
    char source[512];
    format_source(source, sizeof source, origin, pos);
    if (!e->batch) return weir_operator_fail(e->op, WEIR_EPARSE, "%s: %s", source, msg);
    return add_row(e, source, text, len, msg, wm, wm);
}

int weir_record_error(weir_record_errors *e, const weir_batch *b, uint32_t r, const char *msg)
{
    char source[512];
    format_source(source, sizeof source, b->origin, weir_batch_pos(b, r));
    if (!e->batch) return weir_operator_fail(e->op, WEIR_EPARSE, "%s: %s", source, msg);
    if (b->raw && b->raw[r].text)
        return add_row(e, source, b->raw[r].text, b->raw[r].len, msg, b->ts[r], b->wm[r]);
    weir_buf buf;
    weir_buf_init(&buf);
    int rc = weir_json_write_object(&buf, b->schema->n_fields, b->schema->names,
                                    weir_batch_row(b, r), NULL, 0);
    if (rc) {
        weir_buf_finish(&buf);
        return weir_operator_fail(e->op, WEIR_ENOMEM, "out of memory");
    }
    size_t len = buf.len && buf.data[buf.len - 1] == '\n' ? buf.len - 1 : buf.len;
    rc = add_row(e, source, buf.data, len, msg, b->ts[r], b->wm[r]);
    weir_buf_finish(&buf);
    return rc;
}

int weir_record_errors_flush(weir_record_errors *e, int64_t wm_after, uint32_t flags)
{
    if (!e->batch) return 0;
    if (!e->batch->n_rows && !(flags & WEIR_BATCH_END)) return 0;
    e->batch->wm_after = wm_after;
    e->batch->flags = flags;
    int rc = weir_operator_emit_port(e->op, 1, e->batch);
    weir_batch_clear(e->batch);
    return rc;
}
