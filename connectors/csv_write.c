/* connectors/csv_write.c: writing CSV (see csv_codec.h): cells quoted when they must be, values
 * in the JSON writer's notation.
 *
 * A cell is appended as it is and then looked at: only when it holds the delimiter, a quote, CR
 * or LF (rare in data) is it rewritten in place, quoted and with its quotes doubled, so the common
 * cell costs one append and one scan. */
#include "csv_codec.h"
#include "weir/error.h"
#include "weir/json.h"

#include <math.h>
#include <string.h>

static bool special(char c, char delimiter)
{
    return c == delimiter || c == '"' || c == '\r' || c == '\n';
}

/* Quotes b->data[from .. b->len) in place when it needs it (or always, with force). */
static int quote_tail(weir_buf *b, size_t from, char delimiter, bool force)
{
    size_t quotes = 0;
    bool need = force;
    for (size_t i = from; i < b->len; i++) {
        char c = b->data[i];
        if (special(c, delimiter)) need = true;
        if (c == '"') quotes++;
    }
    if (!need) return 0;
    size_t n = b->len - from, grow = quotes + 2;
    if (weir_buf_reserve(b, grow)) return WEIR_ENOMEM;
    /* from the end backwards: every byte moves right by the quotes (and the opening one) before
     * it */
    char *s = b->data + from;
    size_t o = n + grow; /* one past the end of the quoted text */
    s[--o] = '"';
    for (size_t i = n; i-- > 0;) {
        s[--o] = s[i];
        if (s[i] == '"') s[--o] = '"';
    }
    s[--o] = '"';
    b->len += grow;
    if (b->len < b->cap) b->data[b->len] = 0;
    return 0;
}

int weir__csv_write_text(weir_buf *b, const char *s, size_t len, char delimiter)
{
    size_t from = b->len;
    if (len && weir_buf_append(b, s, len)) return WEIR_ENOMEM;
    if (quote_tail(b, from, delimiter, len == 0)) {
        b->len = from;
        return WEIR_ENOMEM;
    }
    return 0;
}

int weir__csv_write_value(weir_buf *b, const weir_value *v, char delimiter)
{
    size_t from = b->len;
    int rc = 0;
    switch ((weir_type)v->type) {
    case WEIR_TYPE_NULL: return 0;
    case WEIR_TYPE_BOOL: rc = weir_buf_puts(b, v->as.b ? "true" : "false"); break;
    case WEIR_TYPE_INT: rc = weir_buf_put_int(b, v->as.i); break;
    case WEIR_TYPE_DOUBLE:
        if (!isfinite(v->as.d)) return 0; /* JSON writes null */
        rc = weir_json_write_double(b, v->as.d);
        break;
    case WEIR_TYPE_STRING:
    case WEIR_TYPE_BYTES: return weir__csv_write_text(b, v->as.s, v->len, delimiter);
    case WEIR_TYPE_JSON: rc = weir_buf_append(b, v->as.s, v->len); break;
    default: return WEIR_EINVAL;
    }
    if (!rc) rc = quote_tail(b, from, delimiter, false); /* a delimiter such as '.' or 'e' */
    if (rc) b->len = from;
    return rc;
}

int weir__csv_write_row(weir_buf *b, const weir_value *values, const int32_t *cols, uint32_t n,
                        char delimiter)
{
    size_t from = b->len;
    int rc = 0;
    for (uint32_t k = 0; !rc && k < n; k++) {
        if (k) rc = weir_buf_putc(b, delimiter);
        if (!rc) rc = weir__csv_write_value(b, &values[cols[k]], delimiter);
    }
    if (!rc) rc = weir_buf_putc(b, '\n');
    if (rc) b->len = from;
    return rc;
}
