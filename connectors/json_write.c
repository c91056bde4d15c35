/* connectors/json_write.c: writing records as JSON lines (see weir/json.h).
 *
 * Sinks call these once per field of every output record, so the common cases are short paths:
 * a string with nothing to escape is one append (found 8 bytes at a time), an integer is
 * weir_buf_put_int, a whole double below 2^53 is its integer plus ".0", a double with few
 * decimals (an amount, 12.34) is found by exact arithmetic (~30 ns).
 *
 * Doubles are written with the fewest significant digits that read back to the same value,
 * laid out as Python's repr(float) (checked against it on a million doubles). In general the
 * digits come from the C library's correctly rounded printf: if the 15-digit rounding reads back,
 * it is the shortest once its trailing zeros are dropped (15-digit decimals are more than 2 ulps
 * apart, so a shorter decimal that reads back is also the nearest 15-digit one); else the
 * 16-digit rounding if it reads back (at a power of two, where the interval that reads back is
 * lopsided, its two 16-digit neighbours are tried too); else 17 digits, which always read back;
 * subnormals try every precision from 1. No home-grown digit generation (Ryu, Grisu) to trust:
 * correctness first. The price is ~1.6 us for a full-precision double (three printf/strtod
 * rounds); Ryu would be the next step if sinks of such values ever matter.
 *
 * Merging with a record's original text (weir_json_write_object) walks the raw object member by
 * member with a light scanner (strings and brackets only): the text was validated when it was
 * read, so only the member boundaries are needed. */
#include "weir/error.h"
#include "weir/json.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Offset of the first byte of s[0..len) that must be escaped ('"', '\', < 0x20), or len. */
static size_t plain_prefix(const char *s, size_t len)
{
    size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; len - i >= 8; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        uint64_t q = x ^ (ONES * '"'), bs = x ^ (ONES * '\\');
        uint64_t t = (((q - ONES) & ~q) | ((bs - ONES) & ~bs) | ((x - ONES * 0x20) & ~x)) & HIGHS;
        if (t) return i + ((size_t)__builtin_ctzll(t) >> 3);
    }
#endif
    for (; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == '"' || ch == '\\') return i;
    }
    return len;
}

/* The escape of the byte ch ('"', '\', or a control character) into o; returns its length. */
static size_t escape_byte(char *o, unsigned char ch)
{
    static const char hex[] = "0123456789abcdef";
    o[0] = '\\';
    switch (ch) {
    case '"': o[1] = '"'; return 2;
    case '\\': o[1] = '\\'; return 2;
    case '\b': o[1] = 'b'; return 2;
    case '\f': o[1] = 'f'; return 2;
    case '\n': o[1] = 'n'; return 2;
    case '\r': o[1] = 'r'; return 2;
    case '\t': o[1] = 't'; return 2;
    default:
        memcpy(o + 1, "u00", 3);
        o[4] = hex[ch >> 4];
        o[5] = hex[ch & 15];
        return 6;
    }
}

/* Appends the body of a JSON string (no quotes); on failure the buffer may hold part of it. */
static int string_body(weir_buf *b, const char *s, size_t len)
{
    while (len) {
        size_t run = plain_prefix(s, len);
        if (run && weir_buf_append(b, s, run)) return WEIR_ENOMEM;
        if (run == len) break;
        char esc[6];
        if (weir_buf_append(b, esc, escape_byte(esc, (unsigned char)s[run]))) return WEIR_ENOMEM;
        s += run + 1;
        len -= run + 1;
    }
    return 0;
}

static int undo(weir_buf *b, size_t len, int rc)
{
    b->len = len;
    if (b->cap) b->data[len] = 0;
    return rc;
}

int weir_json_write_string(weir_buf *b, const char *s, size_t len)
{
    size_t start = b->len;
    if (weir_buf_reserve(b, len + 2)) return WEIR_ENOMEM;
    b->data[b->len++] = '"';
    if (string_body(b, s, len) || weir_buf_putc(b, '"')) return undo(b, start, WEIR_ENOMEM);
    return 0;
}

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0 (RFC 3629 §4). */
static size_t utf8_len(const unsigned char *p, const unsigned char *e)
{
    unsigned char b0 = p[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (b0 >= 0xC2 && b0 <= 0xDF)
        n = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else
        return 0;
    if ((size_t)(e - p) < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* Bytes as a JSON string: well-formed UTF-8 copied, other bytes >= 0x80 as \u00XX. */
static int write_bytes(weir_buf *b, const char *s, size_t len)
{
    size_t start = b->len;
    const unsigned char *p = (const unsigned char *)s, *e = p + len;
    if (weir_buf_putc(b, '"')) return WEIR_ENOMEM;
    while (p < e) {
        const unsigned char *q = p;
        while (q < e && *q < 0x80) q++;
        if (string_body(b, (const char *)p, (size_t)(q - p))) return undo(b, start, WEIR_ENOMEM);
        p = q;
        while (p < e && *p >= 0x80) {
            size_t n = utf8_len(p, e);
            int rc;
            if (n) {
                rc = weir_buf_append(b, p, n);
                p += n;
            } else {
                char esc[6];
                rc = weir_buf_append(b, esc, escape_byte(esc, *p++));
            }
            if (rc) return undo(b, start, WEIR_ENOMEM);
        }
    }
    if (weir_buf_putc(b, '"')) return undo(b, start, WEIR_ENOMEM);
    return 0;
}

/* ---- doubles ---- */

/* Significant digits of d (> 0, finite) rounded to prec digits: digits into dig (no trailing
 * zeros), the decimal exponent of the first digit into *exp10. Returns the digit count. */
static int round_digits(double d, int prec, char *dig, int *exp10)
{
    char tmp[40];
    /* d.ddde[+-]XX */
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    int n = 0;
    const char *p = tmp;
    for (; *p != 'e'; p++)
        if (*p != '.') dig[n++] = *p;
    *exp10 = atoi(p + 1);
    while (n > 1 && dig[n - 1] == '0') n--;
    return n;
}

/* Whether the digits dig[0..n) with exponent exp10 read back as d. */
static bool reads_back(double d, const char *dig, int n, int exp10)
{
    char tmp[48];
    memcpy(tmp, dig, (size_t)n);
    snprintf(tmp + n, sizeof tmp - (size_t)n, "e%d", exp10 - (n - 1));
    return strtod(tmp, NULL) == d;
}

/* Adds delta (+1 or -1) to the last of the 16 digits dig (no trailing zeros stripped: all 16
 * present); returns false when the result would change the digit count. */
static bool step16(char *dig, int delta)
{
    for (int i = 15; i >= 0; i--) {
        int v = dig[i] - '0' + delta;
        if (v >= 0 && v <= 9) {
            dig[i] = (char)('0' + v);
            return dig[0] != '0';
        }
        dig[i] = delta > 0 ? '0' : '9';
    }
    return false;
}

/* Shortest digits of d (> 0, finite): returns the count, fills dig and *exp10. */
static int shortest_digits(double d, char *dig, int *exp10)
{
    if (d < DBL_MIN) {
        /* subnormal: fewer than 53 significant bits, so even 1 digit may read back; the
         * interval that reads back is symmetric, so the nearest p-digit decimal is the one to
         * try for each p */
        for (int p = 1; p < 17; p++) {
            int n = round_digits(d, p, dig, exp10);
            if (reads_back(d, dig, n, *exp10)) return n;
        }
        return round_digits(d, 17, dig, exp10);
    }
    int n = round_digits(d, 15, dig, exp10);
    if (reads_back(d, dig, n, *exp10)) return n;
    n = round_digits(d, 16, dig, exp10);
    if (reads_back(d, dig, n, *exp10)) return n;
    uint64_t bits;
    memcpy(&bits, &d, 8);
    if ((bits & ((1ULL << 52) - 1)) == 0) {
        /* a power of two: the neighbours of the nearest 16-digit decimal may read back */
        char full[32], cand[20];
        int x;
        snprintf(full, sizeof full, "%.15e", d);
        memmove(full + 1, full + 2, 15); /* drop the '.': 16 digits */
        x = atoi(full + 1 + 15 + 2);     /* the exponent after "e" */
        for (int delta = -1; delta <= 1; delta += 2) {
            memcpy(cand, full, 16);
            if (step16(cand, delta) && reads_back(d, cand, 16, x)) {
                n = 16;
                while (n > 1 && cand[n - 1] == '0') n--;
                memcpy(dig, cand, (size_t)n);
                *exp10 = x;
                return n;
            }
        }
    }
    return round_digits(d, 17, dig, exp10);
}

int weir_json_write_double(weir_buf *b, double d)
{
    if (!isfinite(d)) return weir_buf_append(b, "null", 4);
    char out[40];
    size_t o = 0;
    if (signbit(d)) {
        out[o++] = '-';
        d = -d;
    }
    if (d == 0) {
        memcpy(out + o, "0.0", 3);
        return weir_buf_append(b, out, o + 3);
    }
    if (d < 9007199254740992.0 && d == floor(d)) {
        /* a whole number below 2^53: its integer text is exact, and fixed notation is used up
         * to 1e16, so the shortest digits lay out to exactly this */
        int len = snprintf(out + o, sizeof out - o, "%.0f.0", d);
        return weir_buf_append(b, out, o + (size_t)len);
    }
    if (d >= 1e-4 && d < 1e15) {
        /* few decimals (amounts, means): the first k for which the k-decimal number nearest to
         * d reads back is the shortest (in fixed notation fewer significant digits means fewer
         * decimals). m / 10^k is one correctly rounded division of exact operands, which is
         * what strtod gives for that decimal; with m < 2^50 the rounding of d * 10^k cannot
         * pick the wrong m. */
        double p = 1;
        for (int k = 1; k <= 19; k++) {
            p *= 10;
            double prod = d * p;
            if (prod >= 1125899906842624.0) break; /* 2^50 */
            double m = floor(prod + 0.5);
            if (m / p != d) continue;
            char dig[24], *q = dig + sizeof dig;
            uint64_t u = (uint64_t)m;
            int len = 0;
            do {
                *--q = (char)('0' + u % 10);
                u /= 10;
                len++;
            } while (u);
            if (len > k) { /* ddd.ddd */
                memcpy(out + o, q, (size_t)(len - k));
                o += (size_t)(len - k);
                out[o++] = '.';
                memcpy(out + o, q + len - k, (size_t)k);
                o += (size_t)k;
            } else { /* 0.000ddd */
                out[o++] = '0';
                out[o++] = '.';
                for (int i = len; i < k; i++) out[o++] = '0';
                memcpy(out + o, q, (size_t)len);
                o += (size_t)len;
            }
            return weir_buf_append(b, out, o);
        }
    }
    char dig[20];
    int x, n = shortest_digits(d, dig, &x);
    if (x < -4 || x >= 16) {
        /* scientific: d[.ddd]e[+-]XX */
        out[o++] = dig[0];
        if (n > 1) {
            out[o++] = '.';
            memcpy(out + o, dig + 1, (size_t)n - 1);
            o += (size_t)n - 1;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d", x < 0 ? '-' : '+', abs(x));
    } else if (x < 0) {
        /* 0.000ddd */
        memcpy(out + o, "0.", 2);
        o += 2;
        for (int i = -1; i > x; i--) out[o++] = '0';
        memcpy(out + o, dig, (size_t)n);
        o += (size_t)n;
    } else {
        /* ddd.ddd, or ddd000.0 */
        for (int i = 0; i <= x; i++) out[o++] = i < n ? dig[i] : '0';
        out[o++] = '.';
        if (n > x + 1) {
            memcpy(out + o, dig + x + 1, (size_t)(n - x - 1));
            o += (size_t)(n - x - 1);
        } else {
            out[o++] = '0';
        }
    }
    return weir_buf_append(b, out, o);
}

int weir_json_write_value(weir_buf *b, const weir_value *v)
{
    switch (v->type) {
    case WEIR_TYPE_NULL: return weir_buf_append(b, "null", 4);
    case WEIR_TYPE_BOOL:
        return v->as.b ? weir_buf_append(b, "true", 4) : weir_buf_append(b, "false", 5);
    case WEIR_TYPE_INT: return weir_buf_put_int(b, v->as.i);
    case WEIR_TYPE_DOUBLE: return weir_json_write_double(b, v->as.d);
    case WEIR_TYPE_STRING: return weir_json_write_string(b, v->as.s, v->len);
    case WEIR_TYPE_BYTES: return write_bytes(b, v->as.s, v->len);
    case WEIR_TYPE_JSON: return weir_buf_append(b, v->as.s, v->len);
    default: return WEIR_EINVAL;
    }
}

/* ---- objects ---- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

/* p at an opening quote: the pointer past the closing one, or NULL. */
static const char *skip_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* p at a value: the pointer past it, or NULL when the text ends first. */
static const char *skip_value(const char *p, const char *e)
{
    if (p >= e) return NULL;
    if (*p == '"') return skip_string(p, e);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < e) {
            char ch = *p;
            if (ch == '"') {
                if (!(p = skip_string(p, e))) return NULL;
                continue;
            }
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    const char *s = p;
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\r' &&
           *p != '\n')
        p++;
    return p > s ? p : NULL;
}

/* Whether the raw key body k[0..klen) (escapes possible) equals one of names. */
static bool is_named(const char *k, size_t klen, uint32_t n, char *const *names, const size_t *lens)
{
    char small[256], *tmp = NULL;
    if (memchr(k, '\\', klen)) {
        /* decode: the text is never longer decoded (\uXXXX: 6 bytes -> at most 3) */
        tmp = klen <= sizeof small ? small : malloc(klen);
        if (!tmp) return false;
        size_t o = 0;
        for (size_t i = 0; i < klen;) {
            if (k[i] != '\\') {
                tmp[o++] = k[i++];
                continue;
            }
            char esc = k[i + 1];
            if (esc != 'u') {
                const char *from = "bfnrt", *to = "\b\f\n\r\t", *f = strchr(from, esc);
                tmp[o++] = f && *f ? to[f - from] : esc;
                i += 2;
                continue;
            }
            if (i + 6 > klen) { /* a damaged escape names nothing */
                if (tmp != small) free(tmp);
                return false;
            }
            unsigned cp =
                (unsigned)strtoul((char[5]){k[i + 2], k[i + 3], k[i + 4], k[i + 5], 0}, NULL, 16);
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= klen) {
                unsigned lo = (unsigned)strtoul(
                    (char[5]){k[i + 2], k[i + 3], k[i + 4], k[i + 5], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            if (cp < 0x80)
                tmp[o++] = (char)cp;
            else if (cp < 0x800) {
                tmp[o++] = (char)(0xC0 | cp >> 6);
                tmp[o++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                tmp[o++] = (char)(0xE0 | cp >> 12);
                tmp[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
                tmp[o++] = (char)(0x80 | (cp & 0x3F));
            } else {
                tmp[o++] = (char)(0xF0 | cp >> 18);
                tmp[o++] = (char)(0x80 | (cp >> 12 & 0x3F));
                tmp[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
                tmp[o++] = (char)(0x80 | (cp & 0x3F));
            }
        }
        k = tmp;
        klen = o;
    }
    bool found = false;
    for (uint32_t i = 0; i < n && !found; i++) {
        size_t len = lens ? lens[i] : strlen(names[i]);
        found = len == klen && !memcmp(names[i], k, klen);
    }
    if (tmp != small) free(tmp);
    return found;
}

/* raw's members except those named in names, separated by ','; *any: whether one was written. */
static int raw_members(weir_buf *b, const char *raw, size_t raw_len, uint32_t n, char *const *names,
                       bool *any)
{
    size_t lens_small[32], *lens = n <= 32 ? lens_small : NULL;
    if (lens)
        for (uint32_t i = 0; i < n; i++) lens[i] = strlen(names[i]);
    const char *p = raw, *e = raw + raw_len;
    p = skip_ws(p, e);
    if (p >= e || *p != '{') return WEIR_EPARSE;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}') return skip_ws(p + 1, e) == e ? 0 : WEIR_EPARSE;
    for (;;) {
        if (p >= e || *p != '"') return WEIR_EPARSE;
        const char *ks = p;
        if (!(p = skip_string(p, e))) return WEIR_EPARSE;
        const char *ke = p;
        p = skip_ws(p, e);
        if (p >= e || *p != ':') return WEIR_EPARSE;
        const char *vs = skip_ws(p + 1, e);
        const char *ve = skip_value(vs, e);
        if (!ve) return WEIR_EPARSE;
        if (!is_named(ks + 1, (size_t)(ke - ks) - 2, n, names, lens)) {
            if (*any && weir_buf_putc(b, ',')) return WEIR_ENOMEM;
            if (weir_buf_append(b, ks, (size_t)(ke - ks)) || weir_buf_putc(b, ':') ||
                weir_buf_append(b, vs, (size_t)(ve - vs)))
                return WEIR_ENOMEM;
            *any = true;
        }
        p = skip_ws(ve, e);
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
            continue;
        }
        if (p < e && *p == '}') return skip_ws(p + 1, e) == e ? 0 : WEIR_EPARSE;
        return WEIR_EPARSE;
    }
}

/* A member's name and colon, after a comma unless first: a name with nothing to escape (nearly
 * every one) in one copy. */
static int put_name(weir_buf *b, const char *name, bool first)
{
    size_t len = strlen(name);
    if (weir_buf_reserve(b, len + 4)) return WEIR_ENOMEM;
    if (!first) b->data[b->len++] = ',';
    if (plain_prefix(name, len) < len) {
        int rc = weir_json_write_string(b, name, len);
        return rc ? rc : weir_buf_putc(b, ':');
    }
    char *o = b->data + b->len;
    o[0] = '"';
    memcpy(o + 1, name, len);
    o[len + 1] = '"';
    o[len + 2] = ':';
    o[len + 3] = 0;
    b->len += len + 3;
    return 0;
}

static int write_object(weir_buf *b, uint32_t n, char *const *names, const weir_json_names *jn,
                        const weir_value *values, const char *raw, size_t raw_len)
{
    size_t start = b->len;
    bool any = false;
    int rc = weir_buf_putc(b, '{');
    if (!rc && raw) rc = raw_members(b, raw, raw_len, n, names, &any);
    for (uint32_t i = 0; !rc && i < n; i++) {
        if (jn) { /* ,"name": (without the comma for the first member) */
            size_t from = jn->at[i] + (any ? 0 : 1), len = jn->at[i + 1] - from;
            if (!(rc = weir_buf_reserve(b, len))) {
                memcpy(b->data + b->len, jn->text + from, len);
                b->len += len;
            }
        } else {
            rc = put_name(b, names[i], !any);
        }
        if (!rc) rc = weir_json_write_value(b, &values[i]);
        any = true;
    }
    if (!rc) rc = weir_buf_append(b, "}\n", 2);
    return rc ? undo(b, start, rc) : 0;
}

int weir_json_write_object(weir_buf *b, uint32_t n, char *const *names, const weir_value *values,
                           const char *raw, size_t raw_len)
{
    return write_object(b, n, names, NULL, values, raw, raw_len);
}

/* 0 or WEIR_ENOMEM (then jn is empty, and finishing it is safe). */
static int names_init(weir_json_names *jn, uint32_t n, char *const *names)
{
    weir_buf t;
    weir_buf_init(&t);
    memset(jn, 0, sizeof *jn);
    uint32_t *at = malloc((n + 1) * sizeof *at);
    int rc = at ? 0 : WEIR_ENOMEM;
    for (uint32_t i = 0; !rc && i < n; i++) {
        at[i] = (uint32_t)t.len;
        rc = put_name(&t, names[i], false);
    }
    if (rc) {
        free(at);
        weir_buf_finish(&t);
        return rc;
    }
    at[n] = (uint32_t)t.len;
    jn->n = n;
    jn->text = t.data; /* NULL when no names: never read then */
    jn->at = at;
    return 0;
}

static void names_finish(weir_json_names *jn)
{
    free(jn->text);
    free(jn->at);
    memset(jn, 0, sizeof *jn);
}

int weir_json_write_object_cached(weir_buf *b, weir_json_names_cache *c, uint32_t n,
                                  char *const *names, const weir_value *values, const char *raw,
                                  size_t raw_len)
{
    if (c->names != names || c->n != n || !c->jn.at) {
        names_finish(&c->jn);
        c->names = NULL;
        if (names_init(&c->jn, n, names)) return WEIR_ENOMEM;
        c->names = names;
        c->n = n;
    }
    return write_object(b, n, names, &c->jn, values, raw, raw_len);
}

void weir_json_names_cache_finish(weir_json_names_cache *c)
{
    names_finish(&c->jn);
    c->names = NULL;
}
