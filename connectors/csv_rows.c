/* connectors/csv_rows.c: CSV records to rows (see csv_rows.h).
 *
 * Per record: the scan (csv_read.c) notes the cells, each cell is typed into colv (strings point
 * into the read buffer, or into the batch arena when they had '""' escapes), the fields the
 * pipeline reads are copied out of colv by the column map built from the header, and the row's
 * pass-through object {"name":value,...} is rendered from colv with the JSON writer (the names
 * already escaped, once per file) and kept in the batch arena. json_rows does the rest. */
#include "csv_rows.h"
#include "weir/error.h"
#include "weir/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void weir__csv_rows_init(csv_rows *c, const json_source_config *cfg, const char *path)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->path = path;
    weir_buf_init(&c->names_json);
    weir_buf_init(&c->scratch);
}

void weir__csv_rows_finish(csv_rows *c)
{
    for (uint32_t i = 0; c->names && i < c->n_columns; i++) free(c->names[i]);
    free(c->names);
    free(c->types);
    free(c->field_col);
    free(c->name_end);
    free(c->colv);
    free(c->cells);
    weir_buf_finish(&c->names_json);
    weir_buf_finish(&c->scratch);
}

int weir__csv_rows_scan(csv_rows *c, const char *p, size_t n, bool eof, weir__csv_record *rec)
{
    return weir__csv_scan(p, n, eof, c->cfg->csv_delimiter, &c->cells, &c->cap_cells, rec);
}

static bool valid_name(const char *s, size_t len)
{
    if (memchr(s, 0, len)) return false;
    weir_value v = {0};
    char err[8];
    /* a string (not bytes) when inferred as text: valid UTF-8 */
    return weir__csv_cell_value(s, len, true, WEIR__CSV_STRING, &v, err, sizeof err) == 0 &&
           v.type == WEIR_TYPE_STRING;
}

static int header(csv_rows *c, json_rows *j, const char *text, const weir__csv_record *rec,
                  int64_t pos)
{
    weir_operator *op = j->op;
    const json_source_config *cfg = c->cfg;
    const char *path = c->path;
    if (rec->error)
        return weir_operator_fail(op, WEIR_EPARSE, "%s:%lld: the header, cell %u: %s", path,
                                  (long long)pos, rec->error_cell, rec->error);
    uint32_t n = rec->n_cells;
    c->names = calloc(n, sizeof *c->names);
    c->types = calloc(n, sizeof *c->types);
    c->name_end = calloc(n, sizeof *c->name_end);
    c->colv = calloc(n, sizeof *c->colv);
    c->field_col = calloc(cfg->n_fields + 1, sizeof *c->field_col);
    if (!c->names || !c->types || !c->name_end || !c->colv || !c->field_col) goto nomem;
    c->n_columns = n;
    for (uint32_t k = 0; k < n; k++) {
        const weir__csv_cell *cell = &c->cells[k];
        const char *s = text + cell->off;
        char *name = malloc((size_t)cell->len + 1);
        if (!name) goto nomem;
        size_t len = 0;
        for (uint32_t i = 0; i < cell->len; i++) {
            name[len++] = s[i];
            if (s[i] == '"' && cell->escapes) i++;
        }
        name[len] = 0;
        c->names[k] = name;
        if (!len)
            return weir_operator_fail(op, WEIR_EPARSE,
                                      "%s:%lld: column %u of the header has no name", path,
                                      (long long)pos, k + 1);
        if (!valid_name(name, len))
            return weir_operator_fail(op, WEIR_EPARSE,
                                      "%s:%lld: column %u of the header is not a name (not valid "
                                      "UTF-8)",
                                      path, (long long)pos, k + 1);
        for (uint32_t i = 0; i < k; i++)
            if (!strcmp(c->names[i], name))
                return weir_operator_fail(op, WEIR_EPARSE,
                                          "%s:%lld: the header names column '%s' twice (columns "
                                          "%u and %u)",
                                          path, (long long)pos, name, i + 1, k + 1);
        if (weir_json_write_string(&c->names_json, name, len) || weir_buf_putc(&c->names_json, ':'))
            goto nomem;
        c->name_end[k] = (uint32_t)c->names_json.len;
    }
    for (uint32_t d = 0; d < cfg->n_csv_columns; d++) {
        bool found = false;
        for (uint32_t k = 0; k < n && !found; k++)
            if (!strcmp(c->names[k], cfg->csv_columns[d])) {
                c->types[k] = cfg->csv_types[d];
                found = true;
            }
        if (!found)
            return weir_operator_fail(op, WEIR_EPARSE,
                                      "%s:%lld: column '%s' (declared in columns) is not in the "
                                      "header",
                                      path, (long long)pos, cfg->csv_columns[d]);
    }
    for (uint32_t i = 0; i < cfg->n_fields; i++) {
        c->field_col[i] = -1;
        for (uint32_t k = 0; k < n; k++)
            if (!strcmp(c->names[k], cfg->fields[i])) c->field_col[i] = (int32_t)k;
    }
    if (j->ts_index >= 0 && c->field_col[j->ts_index] < 0)
        return weir_operator_fail(op, WEIR_EPARSE,
                                  "%s:%lld: the header has no column '%s' (the timestamp)", path,
                                  (long long)pos, cfg->timestamp);
    c->have_header = true;
    return 0;
nomem:
    return weir_operator_fail(op, WEIR_ENOMEM, "%s: out of memory", path);
}

/* The record's pass-through JSON object, in the batch arena. */
static int render(csv_rows *c, weir_arena *arena, const char **out, size_t *len)
{
    weir_buf *b = &c->scratch;
    weir_buf_clear(b);
    int rc = weir_buf_putc(b, '{');
    for (uint32_t k = 0; !rc && k < c->n_columns; k++) {
        uint32_t from = k ? c->name_end[k - 1] : 0;
        if (k) rc = weir_buf_putc(b, ',');
        if (!rc) rc = weir_buf_append(b, c->names_json.data + from, c->name_end[k] - from);
        if (!rc) rc = weir_json_write_value(b, &c->colv[k]);
    }
    if (!rc) rc = weir_buf_putc(b, '}');
    if (rc) return rc;
    char *s = weir_arena_strdup(arena, b->data, b->len);
    if (!s) return WEIR_ENOMEM;
    *out = s;
    *len = b->len;
    return 0;
}

int weir__csv_rows_record(csv_rows *c, json_rows *j, const char *text, const weir__csv_record *rec,
                          int64_t pos)
{
    size_t tlen = rec->text_len;
    if (tlen == 0 && (!c->have_header || c->n_columns != 1)) return 0; /* an empty line */
    if (!c->have_header) return header(c, j, text, rec, pos);
    char msg[320];
    if (rec->error) {
        snprintf(msg, sizeof msg, "cell %u: %s", rec->error_cell, rec->error);
        return weir_record_error_raw(&j->errors, j->origin, pos, text, tlen, msg, j->wm);
    }
    if (rec->n_cells != c->n_columns) {
        snprintf(msg, sizeof msg, "%u cell%s, but the header has %u columns", rec->n_cells,
                 rec->n_cells == 1 ? "" : "s", c->n_columns);
        return weir_record_error_raw(&j->errors, j->origin, pos, text, tlen, msg, j->wm);
    }
    int rc;
    weir_value *v = weir__json_rows_begin(j, &rc);
    if (!v) return rc;
    weir_arena *arena = &j->batch->arena;
    for (uint32_t k = 0; k < c->n_columns; k++) {
        const weir__csv_cell *cell = &c->cells[k];
        size_t len;
        const char *s = weir__csv_cell_text(text, cell, arena, &len);
        if (!s) return weir_operator_fail(j->op, WEIR_ENOMEM, "%s: out of memory", c->path);
        char err[256];
        if (weir__csv_cell_value(s, len, cell->quoted, (weir__csv_type)c->types[k], &c->colv[k],
                                 err, sizeof err)) {
            snprintf(msg, sizeof msg, "column '%s': %s", c->names[k], err);
            return weir__json_rows_reject(j, pos, text, tlen, msg);
        }
    }
    for (uint32_t i = 0; i < c->cfg->n_fields; i++)
        if (c->field_col[i] >= 0) v[i] = c->colv[c->field_col[i]];
    const char *raw = NULL;
    size_t raw_len = 0;
    if (j->batch->raw && render(c, arena, &raw, &raw_len))
        return weir_operator_fail(j->op, WEIR_ENOMEM, "%s: out of memory", c->path);
    return weir__json_rows_end(j, pos, raw, raw_len, text, tlen, 0);
}

int weir__csv_rows_at_end(csv_rows *c, json_rows *j)
{
    if (c->have_header) return 0;
    return weir_operator_fail(j->op, WEIR_EPARSE, "%s: no header line (the file is empty)",
                              c->path);
}
