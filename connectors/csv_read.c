/* connectors/csv_read.c: reading CSV (see csv_codec.h): records and cells, and the types of
 * cells.
 *
 * The scanner makes one pass over the record and notes where each cell is instead of copying it:
 * cells point into the input (the file source's read buffer), and only a quoted cell with '""'
 * in it is decoded, into the batch's arena. A record that may continue past the bytes at hand
 * is reported as such and scanned again from its start once more input is there: records are
 * short next to the read buffer (1 MiB), so a rescan is rare and cheap, and no state has to be
 * carried between calls. */
#include "csv_codec.h"
#include "weir/error.h"
#include "weir/timestamp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(weir__csv_cell **cells, uint32_t *cap, uint32_t need)
{
    if (need <= *cap) return 0;
    uint32_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    weir__csv_cell *c = realloc(*cells, (size_t)n * sizeof *c);
    if (!c) return WEIR_ENOMEM;
    *cells = c;
    *cap = n;
    return 0;
}

static void fail(weir__csv_record *rec, const char *what, uint32_t cell)
{
    if (rec->error) return; /* the first problem is the one reported */
    rec->error = what;
    rec->error_cell = cell;
}

int weir__csv_scan(const char *p, size_t n, bool eof, char delimiter, weir__csv_cell **cells,
                   uint32_t *cap, weir__csv_record *rec)
{
    memset(rec, 0, sizeof *rec);
    const char d = delimiter;
    size_t i = 0;
    uint32_t nc = 0, newlines = 0;
    for (;;) { /* one cell per turn; i is at its first byte */
        if (grow(cells, cap, nc + 1)) return WEIR_ENOMEM;
        weir__csv_cell *c = &(*cells)[nc++];
        *c = (weir__csv_cell){.off = (uint32_t)i};
        bool unquoted = true;
        if (i < n && p[i] == '"') {
            c->quoted = true;
            c->off = (uint32_t)++i;
            for (;;) {
                if (i == n) {
                    if (!eof) return WEIR__CSV_MORE;
                    fail(rec, "a quoted cell is not closed (its closing '\"' is missing)", nc);
                    c->len = (uint32_t)(n - c->off);
                    rec->len = rec->text_len = n;
                    goto done;
                }
                char ch = p[i];
                if (ch == '\n') newlines++;
                if (ch != '"') {
                    i++;
                    continue;
                }
                if (i + 1 == n && !eof) return WEIR__CSV_MORE; /* '"' or '""'? */
                if (i + 1 < n && p[i + 1] == '"') {
                    c->escapes = true;
                    i += 2;
                    continue;
                }
                c->len = (uint32_t)(i - c->off);
                i++;
                break;
            }
            unquoted = false; /* after the closing quote: a delimiter or the line end */
        }
        for (;;) {
            if (i == n) {
                if (!eof) return WEIR__CSV_MORE;
                if (unquoted) c->len = (uint32_t)(i - c->off);
                rec->len = rec->text_len = n;
                goto done;
            }
            char ch = p[i];
            if (ch == d) {
                if (unquoted) c->len = (uint32_t)(i - c->off);
                i++;
                break; /* the next cell */
            }
            if (ch == '\n' || (ch == '\r' && (i + 1 == n || p[i + 1] == '\n'))) {
                if (ch == '\r' && i + 1 == n && !eof) return WEIR__CSV_MORE; /* CR LF? */
                if (unquoted) c->len = (uint32_t)(i - c->off);
                rec->text_len = i;
                if (ch == '\r') i++;
                if (i < n) { /* the line feed */
                    newlines++;
                    i++;
                }
                rec->len = i;
                goto done;
            }
            if (!unquoted)
                fail(rec, "text after a closing quote (a quoted cell must end at a delimiter)", nc);
            else if (ch == '"')
                fail(rec, "a quote inside an unquoted cell (quote the cell and double the '\"')",
                     nc);
            else if (ch == '\r')
                fail(rec, "a carriage return outside quotes that does not end the line", nc);
            i++;
        }
    }
done:
    rec->n_cells = nc;
    rec->newlines = newlines;
    return WEIR__CSV_RECORD;
}

const char *weir__csv_cell_text(const char *text, const weir__csv_cell *c, weir_arena *arena,
                                size_t *len)
{
    const char *s = text + c->off;
    if (!c->escapes) {
        *len = c->len;
        return s;
    }
    char *o = weir_arena_alloc(arena, c->len ? c->len : 1);
    if (!o) return NULL;
    size_t k = 0;
    for (uint32_t i = 0; i < c->len; i++) {
        o[k++] = s[i];
        if (s[i] == '"') i++; /* "" stands for " */
    }
    *len = k;
    return o;
}

static const char *const type_names[] = {"inferred", "int", "float", "string", "bool", "timestamp"};

int weir__csv_type_parse(const char *name)
{
    for (int t = WEIR__CSV_INT; t <= WEIR__CSV_TIMESTAMP; t++)
        if (!strcmp(name, type_names[t])) return t;
    return -1;
}

const char *weir__csv_type_name(weir__csv_type t)
{
    return (unsigned)t <= WEIR__CSV_TIMESTAMP ? type_names[t] : "unknown";
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* s[0..len) is [+-]digits (sign: '-' only when json); the int64 into *v, false when it does not
 * fit or is not of that form. */
static bool parse_int(const char *s, size_t len, bool json, int64_t *v, bool *overflow)
{
    size_t i = 0;
    bool neg = false;
    *overflow = false;
    if (i < len && (s[i] == '-' || (!json && s[i] == '+'))) neg = s[i++] == '-';
    if (i == len) return false;
    if (json && s[i] == '0' && len - i > 1) return false; /* JSON: no leading zeros */
    uint64_t u = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (!digit(s[i])) {
            *overflow = false;
            return false;
        }
        unsigned dgt = (unsigned)(s[i] - '0');
        if (u > (lim - dgt) / 10) *overflow = true;
        if (!*overflow) u = u * 10 + dgt;
    }
    if (*overflow) return false;
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

/* Whether s[0..len) is a JSON number (RFC 8259 §6); *integer when it has no fraction or
 * exponent. */
static bool json_number(const char *s, size_t len, bool *integer)
{
    size_t i = 0;
    if (i < len && s[i] == '-') i++;
    if (i == len || !digit(s[i])) return false;
    if (s[i] == '0')
        i++;
    else
        while (i < len && digit(s[i])) i++;
    *integer = i == len;
    if (i < len && s[i] == '.') {
        i++;
        if (i == len || !digit(s[i])) return false;
        while (i < len && digit(s[i])) i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        if (i == len || !digit(s[i])) return false;
        while (i < len && digit(s[i])) i++;
    }
    return i == len;
}

/* Whether s[0..len) is a decimal float as a declared float column takes it: [+-], digits with an
 * optional fraction ("5", "5.", ".5", "5.25"), an optional exponent. */
static bool decimal_float(const char *s, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '-' || s[i] == '+')) i++;
    for (; i < len && digit(s[i]); i++) digits++;
    if (i < len && s[i] == '.')
        for (i++; i < len && digit(s[i]); i++) digits++;
    if (!digits) return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        if (i == len || !digit(s[i])) return false;
        while (i < len && digit(s[i])) i++;
    }
    return i == len;
}

/* strtod of s[0..len), already checked to be a decimal number; false when it is not finite or
 * too long to convert here. */
static bool to_double(const char *s, size_t len, double *out)
{
    char buf[512];
    if (len >= sizeof buf) return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    double d = strtod(buf, NULL);
    if (!isfinite(d)) return false;
    *out = d;
    return true;
}

static bool parse_bool(const char *s, size_t len, bool *out)
{
    static const char *const words[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
    for (int k = 0; k < 6; k++)
        if (len == strlen(words[k]) && !memcmp(s, words[k], len)) {
            *out = k < 3;
            return true;
        }
    return false;
}

static bool utf8_valid(const unsigned char *p, size_t len)
{
    const unsigned char *e = p + len;
    while (p < e) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!n || (size_t)(e - p) < n || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4)) return false;
        for (size_t k = 1; k < n; k++)
            if ((p[k] & 0xC0) != 0x80) return false;
        if (n == 3 && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))) return false;
        if (n == 4 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))) return false;
        p += n;
    }
    return true;
}

static weir_value text_value(const char *s, size_t len)
{
    if (utf8_valid((const unsigned char *)s, len)) return weir_value_string(s, len);
    return (weir_value){.type = WEIR_TYPE_BYTES, .len = (uint32_t)len, .as.s = s};
}

/* "what is wrong" with the cell: its text (at most 40 bytes, control characters as '?') and
 * why. */
static int bad(const char *s, size_t len, const char *why, char *errbuf, size_t errlen)
{
    char shown[48];
    size_t n = len > 40 ? 40 : len;
    for (size_t i = 0; i < n; i++) shown[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    if (errlen) snprintf(errbuf, errlen, "\"%.*s%s\" %s", (int)n, shown, len > n ? "..." : "", why);
    return WEIR_EPARSE;
}

int weir__csv_cell_value(const char *s, size_t len, bool quoted, weir__csv_type t, weir_value *out,
                         char *errbuf, size_t errlen)
{
    int64_t i;
    double d;
    bool b, integer = false, overflow = false;
    if (len == 0) {
        *out = quoted && (t == WEIR__CSV_STRING || t == WEIR__CSV_INFER) ? weir_value_string(s, 0)
                                                                         : WEIR_NULL_VALUE;
        return 0;
    }
    switch (t) {
    case WEIR__CSV_INFER:
        if (json_number(s, len, &integer)) {
            if (integer && parse_int(s, len, true, &i, &overflow)) {
                *out = weir_value_int(i);
                return 0;
            }
            if (to_double(s, len, &d)) {
                *out = weir_value_double(d);
                return 0;
            }
        } else if (parse_bool(s, len, &b)) {
            *out = weir_value_bool(b);
            return 0;
        }
        *out = text_value(s, len);
        return 0;
    case WEIR__CSV_INT:
        if (parse_int(s, len, false, &i, &overflow)) {
            *out = weir_value_int(i);
            return 0;
        }
        return bad(s, len, overflow ? "is out of range for an int" : "is not an int", errbuf,
                   errlen);
    case WEIR__CSV_FLOAT:
        if (decimal_float(s, len) && to_double(s, len, &d)) {
            *out = weir_value_double(d);
            return 0;
        }
        return bad(s, len, decimal_float(s, len) ? "is out of range for a float" : "is not a float",
                   errbuf, errlen);
    case WEIR__CSV_BOOL:
        if (parse_bool(s, len, &b)) {
            *out = weir_value_bool(b);
            return 0;
        }
        return bad(s, len, "is not a bool (true or false)", errbuf, errlen);
    case WEIR__CSV_TIMESTAMP: {
        bool ok = parse_int(s, len, false, &i, &overflow) ||
                  (!overflow && weir_timestamp_parse_rfc3339(s, len, &i) == 0);
        if (ok) {
            *out = weir_value_int(i);
            return 0;
        }
        return bad(s, len, "is not a timestamp (ms since the epoch or RFC 3339)", errbuf, errlen);
    }
    case WEIR__CSV_STRING: *out = text_value(s, len); return 0;
    }
    return bad(s, len, "has a column of unknown type", errbuf, errlen);
}
