/* connectors/json_read.c: the JSON lines parser (see weir/json.h).
 *
 * Every record of a file or Kafka pipeline goes through here, so it is built for that one job:
 * a single pass over the line that validates everything strictly (RFC 8259) and extracts only
 * the few requested fields, without allocating.
 *
 *   - The requested paths are compiled once into a small tree (one node per path component);
 *     a key is matched against the children of the current node by a 64-bit signature (length
 *     and first byte) before any memcmp, so keys that are not requested cost one integer compare
 *     per candidate. Members that are not requested are only validated ("skipped").
 *   - Skipping a nested object or array is iterative (an explicit stack of WEIR_JSON_MAX_DEPTH
 *     bytes), so hostile nesting becomes an error, never a stack overflow; descending along
 *     requested paths recurses at most as deep as the longest path.
 *   - Strings are scanned 8 bytes at a time (SWAR) for the bytes that need a closer look
 *     ('"', '\', control characters, non-ASCII); non-ASCII is checked against the UTF-8 table
 *     of RFC 3629 (no overlongs, no surrogates, nothing past U+10FFFF). A requested string
 *     without escapes points into the line; with escapes it is decoded into the arena.
 *   - Numbers are validated by the grammar; requested ones are converted: integers that fit
 *     int64 exactly, other numbers by Clinger's fast path (mantissa <= 2^53, |exp10| <= 22: one
 *     correctly rounded IEEE multiplication or division) or else strtod on a NUL-terminated copy,
 *     so every double is correctly rounded. A requested number beyond the largest double is an
 *     error rather than an infinity that a sink would write as null: the record would change.
 * Nothing past line[len - 1] is ever read, so Kafka payloads need no padding (unlike simdjson). */
#include "weir/error.h"
#include "weir/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- compiled paths ---- */

typedef struct node {
    uint64_t sig;     /* name length | first byte << 32: checked before memcmp */
    const char *name; /* component name (in fields->text) */
    uint32_t len;
    int32_t target; /* index in out[] of the path ending here, or -1 */
    int32_t child;  /* first child node, or -1 */
    int32_t next;   /* next sibling, or -1 */
} node;

struct weir_json_fields {
    uint32_t n;            /* paths */
    uint32_t n_nodes;      /* nodes[0] is the root (the top-level object) */
    uint32_t max_name_len; /* longest component: longer keys cannot match */
    bool has_dups;
    node *nodes;
    int32_t *dup_of; /* [n]: -1, or the first path identical to path i */
    char *text;      /* copy of the paths, components NUL-separated */
};

static inline uint64_t signature(const char *name, size_t len)
{
    return (uint64_t)len | (uint64_t)(unsigned char)name[0] << 32;
}

int weir_json_fields_create(weir_json_fields **out, uint32_t n, const char *const *paths)
{
    if (n && !paths) return WEIR_EINVAL;
    size_t total = 0, n_components = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!paths[i]) return WEIR_EINVAL;
        size_t len = strlen(paths[i]);
        if (len == 0 || len > UINT32_MAX) return WEIR_EINVAL;
        total += len + 1;
        n_components++;
        for (size_t j = 0; j < len; j++)
            if (paths[i][j] == '.') {
                if (j == 0 || j + 1 == len || paths[i][j + 1] == '.') return WEIR_EINVAL;
                n_components++;
            }
    }
    weir_json_fields *f = calloc(1, sizeof *f);
    if (!f) return WEIR_ENOMEM;
    f->n = n;
    f->nodes = malloc((n_components + 1) * sizeof *f->nodes);
    f->dup_of = malloc((n ? n : 1) * sizeof *f->dup_of);
    f->text = malloc(total ? total : 1);
    if (!f->nodes || !f->dup_of || !f->text) {
        weir_json_fields_destroy(f);
        return WEIR_ENOMEM;
    }
    f->nodes[0] = (node){.target = -1, .child = -1, .next = -1};
    f->n_nodes = 1;
    char *t = f->text;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strlen(paths[i]);
        memcpy(t, paths[i], len + 1);
        int32_t cur = 0;
        char *c = t;
        for (;;) {
            char *dot = strchr(c, '.');
            size_t clen = dot ? (size_t)(dot - c) : strlen(c);
            if (dot) *dot = 0;
            int32_t k = f->nodes[cur].child, last = -1;
            while (k >= 0 && !(f->nodes[k].len == clen && !memcmp(f->nodes[k].name, c, clen))) {
                last = k;
                k = f->nodes[k].next;
            }
            if (k < 0) {
                k = (int32_t)f->n_nodes++;
                f->nodes[k] = (node){.sig = signature(c, clen),
                                     .name = c,
                                     .len = (uint32_t)clen,
                                     .target = -1,
                                     .child = -1,
                                     .next = -1};
                if (last >= 0)
                    f->nodes[last].next = k; /* keep the order of the paths */
                else
                    f->nodes[cur].child = k;
                if (clen > f->max_name_len) f->max_name_len = (uint32_t)clen;
            }
            cur = k;
            if (!dot) break;
            c = dot + 1;
        }
        f->dup_of[i] = -1;
        if (f->nodes[cur].target >= 0) {
            f->dup_of[i] = f->nodes[cur].target;
            f->has_dups = true;
        } else {
            f->nodes[cur].target = (int32_t)i;
        }
        t += len + 1;
    }
    *out = f;
    return 0;
}

void weir_json_fields_destroy(weir_json_fields *f)
{
    if (!f) return;
    free(f->nodes);
    free(f->dup_of);
    free(f->text);
    free(f);
}

uint32_t weir_json_fields_count(const weir_json_fields *f)
{
    return f->n;
}

/* ---- the parser ---- */

typedef struct ctx {
    const char *line, *end;
    const weir_json_fields *f;
    weir_value *out;
    weir_arena *arena;
    char *errbuf;
    size_t errlen;
    int err;
    bool spaced; /* whitespace around the object or between its members was skipped */
} ctx;

static void describe(const ctx *c, const char *p, char *out, size_t n)
{
    unsigned char ch = p < c->end ? (unsigned char)*p : 0;
    if (p >= c->end)
        snprintf(out, n, "end of line");
    else if (ch >= 0x20 && ch < 0x7f)
        snprintf(out, n, "'%c'", ch);
    else
        snprintf(out, n, "byte 0x%02X", ch);
}

/* "column N: <message>" where N is the 1-based offset of at in the line. Returns NULL. */
__attribute__((cold, noinline, format(printf, 3, 4))) static const char *
failf(ctx *c, const char *at, const char *fmt, ...)
{
    c->err = WEIR_EPARSE;
    if (c->errlen) {
        int k = snprintf(c->errbuf, c->errlen, "column %zu: ", (size_t)(at - c->line) + 1);
        if (k >= 0 && (size_t)k < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->errbuf + k, c->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return NULL;
}

/* "column N: expected <what>, found <the byte at N or end of line>". Returns NULL. */
__attribute__((cold, noinline)) static const char *expected(ctx *c, const char *at,
                                                            const char *what)
{
    char found[24];
    describe(c, at, found, sizeof found);
    return failf(c, at, "expected %s, found %s", what, found);
}

static inline const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

static inline int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller), or -1. */
static inline int hex4(const char *p)
{
    int a = hex_digit(p[0]), b = hex_digit(p[1]), c = hex_digit(p[2]), d = hex_digit(p[3]);
    if ((a | b | c | d) < 0) return -1;
    return a << 12 | b << 8 | c << 4 | d;
}

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0 (RFC 3629 §4). */
static inline size_t utf8_len(const unsigned char *p, const unsigned char *e)
{
    unsigned char b0 = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF)
        n = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F; /* no UTF-16 surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F; /* nothing past U+10FFFF */
    } else
        return 0;
    if ((size_t)(e - p) < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return n;
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Validates a string whose opening quote is just before p. Returns a pointer to its closing
 * quote (NULL on error); *escaped tells whether it holds any backslash escape. */
static const char *scan_string(ctx *c, const char *p, bool *escaped)
{
    const char *e = c->end;
    for (;;) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* 8 bytes at a time: find the first '"', '\', byte < 0x20 or byte >= 0x80. The usual
         * has-zero-byte tricks may flag false positives only above a true one, so the lowest
         * flagged byte is exact. */
        while (e - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            uint64_t q = x ^ (ONES * '"'), bs = x ^ (ONES * '\\');
            uint64_t t = ((q - ONES) & ~q) | ((bs - ONES) & ~bs) | ((x - ONES * 0x20) & ~x) | x;
            t &= HIGHS;
            if (t) {
                p += __builtin_ctzll(t) >> 3;
                break;
            }
            p += 8;
        }
#endif
        if (p >= e) return NULL; /* the caller reports the unterminated string */
        unsigned char ch = (unsigned char)*p;
        if (ch == '"') return p;
        if (ch == '\\') {
            *escaped = true;
            if (e - p < 2) return NULL;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't': p += 2; continue;
            case 'u': break;
            default: {
                char found[24];
                describe(c, p + 1, found, sizeof found);
                return failf(c, p,
                             "invalid escape in string: expected one of \\\" \\\\ \\/ \\b "
                             "\\f \\n \\r \\t \\uXXXX after '\\', found %s",
                             found);
            }
            }
            int u = e - p >= 6 ? hex4(p + 2) : -1;
            if (u < 0) return failf(c, p, "invalid \\u escape in string: expected 4 hex digits");
            if (u >= 0xDC00 && u <= 0xDFFF)
                return failf(c, p, "invalid \\u escape in string: lone low surrogate \\u%04X", u);
            if (u >= 0xD800 && u <= 0xDBFF) {
                int v = e - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
                if (v < 0xDC00 || v > 0xDFFF)
                    return failf(c, p,
                                 "invalid \\u escape in string: high surrogate \\u%04X not "
                                 "followed by a low surrogate \\uDC00..\\uDFFF",
                                 u);
                p += 12;
            } else {
                p += 6;
            }
            continue;
        }
        if (ch < 0x20)
            return failf(c, p, "control character U+%04X in string (it must be escaped)", ch);
        if (ch >= 0x80) {
            size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)e);
            if (!n) return failf(c, p, "invalid UTF-8 in string (byte 0x%02X)", ch);
            p += n;
            continue;
        }
        p++;
    }
}

/* Scans a string at p (the opening quote); returns the pointer past its closing quote. */
static inline const char *string_token(ctx *c, const char *p, bool *escaped)
{
    const char *q = scan_string(c, p + 1, escaped);
    if (!q) {
        if (!c->err)
            return failf(c, c->end, "unterminated string (it starts at column %zu)",
                         (size_t)(p - c->line) + 1);
        return NULL;
    }
    return q + 1;
}

static inline size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the validated string body s[0..len) into o (room for cap bytes). Returns the decoded
 * length, or SIZE_MAX when it would exceed cap. The decoded text is never longer than len. */
static size_t decode_string(char *o, size_t cap, const char *s, size_t len)
{
    size_t n = 0, i = 0;
    while (i < len) {
        const char *bsl = memchr(s + i, '\\', len - i);
        size_t run = bsl ? (size_t)(bsl - (s + i)) : len - i;
        if (n + run > cap) return SIZE_MAX;
        memcpy(o + n, s + i, run);
        n += run;
        i += run;
        if (!bsl) break;
        char esc = s[i + 1], ch;
        char tmp[4];
        size_t k = 1;
        switch (esc) {
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': ch = 0; break;
        default: ch = esc; break; /* " \ / */
        }
        if (esc == 'u') {
            uint32_t cp = (uint32_t)hex4(s + i + 2);
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(s + i + 2) - 0xDC00);
                i += 6;
            }
            k = put_utf8(tmp, cp);
        } else {
            tmp[0] = ch;
            i += 2;
        }
        if (n + k > cap) return SIZE_MAX;
        memcpy(o + n, tmp, k);
        n += k;
    }
    return n;
}

/* Validates the number at p (a '-' or a digit); returns the pointer past it. *is_int: no
 * fraction and no exponent. */
static inline const char *scan_number(ctx *c, const char *p, bool *is_int)
{
    const char *e = c->end;
    if (*p == '-') {
        p++;
        if (p >= e || (unsigned char)(*p - '0') > 9) return expected(c, p, "a digit after '-'");
    }
    if (*p == '0') {
        p++;
        if (p < e && (unsigned char)(*p - '0') <= 9)
            return failf(c, p - 1, "invalid number: leading zeros are not allowed");
    } else {
        while (p < e && (unsigned char)(*p - '0') <= 9) p++;
    }
    *is_int = true;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || (unsigned char)(*p - '0') > 9)
            return expected(c, p, "a digit after the decimal point");
        while (p < e && (unsigned char)(*p - '0') <= 9) p++;
        *is_int = false;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || (unsigned char)(*p - '0') > 9)
            return expected(c, p, "a digit in the exponent");
        while (p < e && (unsigned char)(*p - '0') <= 9) p++;
        *is_int = false;
    }
    return p;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The validated number s[0..len) as a value (see weir_json_parse_object). 0, WEIR_ENOMEM, or
 * WEIR_ERANGE when its magnitude is beyond the largest double. */
static int convert_number(ctx *c, const char *s, size_t len, bool is_int, weir_value *v)
{
    const char *p = s, *e = s + len;
    bool neg = *p == '-';
    p += neg;
    /* significant digits into a uint64 while they fit (19 digits always do) */
    uint64_t mant = 0;
    int nd = 0, exp10 = 0;
    bool truncated = false;
    while (p < e && (unsigned char)(*p - '0') <= 9) {
        if (nd < 19)
            mant = mant * 10 + (uint64_t)(*p - '0'), nd += mant != 0;
        else
            truncated = true, exp10++;
        p++;
    }
    if (is_int && !truncated) {
        if (!neg && mant <= (uint64_t)INT64_MAX) {
            *v = weir_value_int((int64_t)mant);
            return 0;
        }
        if (neg && mant <= (uint64_t)INT64_MAX + 1) {
            *v = weir_value_int(mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mant);
            return 0;
        }
    }
    if (!truncated && p < e && *p == '.') {
        p++;
        while (p < e && (unsigned char)(*p - '0') <= 9) {
            if (nd < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                nd += mant != 0;
                exp10--;
            } else if (*p != '0') {
                truncated = true;
            }
            p++;
        }
    }
    if (!truncated && (p == e || *p == 'e' || *p == 'E')) {
        int x = 0;
        bool xneg = false;
        if (p < e) {
            p++;
            if (*p == '+' || *p == '-') xneg = *p++ == '-';
            while (p < e && x < 100000) x = x * 10 + (*p++ - '0');
            if (p < e) x = 100000; /* absurd exponent: leave it to strtod */
        }
        exp10 += xneg ? -x : x;
        /* Clinger's fast path: mant and 10^|exp10| are exact doubles, so one IEEE operation
         * gives the correctly rounded result. */
        if (mant <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
            double d = (double)mant;
            d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
            *v = weir_value_double(neg ? -d : d);
            return 0;
        }
    }
    char tmp[128], *buf = tmp;
    if (len >= sizeof tmp) {
        buf = weir_arena_alloc(c->arena, len + 1);
        if (!buf) return WEIR_ENOMEM;
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    double d = strtod(buf, NULL);
    if (isinf(d)) return WEIR_ERANGE; /* beyond DBL_MAX: refused, never made up */
    *v = weir_value_double(d);
    return 0;
}

/* Reports the literal lit at p that does not match, at its first wrong byte. Returns NULL. */
__attribute__((cold, noinline)) static const char *bad_literal(ctx *c, const char *p,
                                                               const char *lit)
{
    size_t i = 0;
    while (lit[i] && p + i < c->end && p[i] == lit[i]) i++;
    char found[24];
    describe(c, p + i, found, sizeof found);
    return failf(c, p + i, "invalid literal: expected %s, found %s", lit, found);
}

/* Validates the literal lit (n bytes) at p; returns the pointer past it. */
static inline const char *literal(ctx *c, const char *p, const char *lit, size_t n)
{
    if ((size_t)(c->end - p) >= n && !memcmp(p, lit, n)) return p + n;
    return bad_literal(c, p, lit);
}

/* Validates a nested object or array at p ('{' or '['), opened inside `depth` containers,
 * without recursion. Returns the pointer past its end. */
static const char *skip_container(ctx *c, const char *p, int depth)
{
    const char *e = c->end;
    char stack[WEIR_JSON_MAX_DEPTH];
    int sp = 0;
    bool escaped, is_int;
open:
    if (depth + sp >= WEIR_JSON_MAX_DEPTH)
        return failf(c, p, "nesting deeper than %d objects and arrays", WEIR_JSON_MAX_DEPTH);
    stack[sp++] = *p;
    p = skip_ws(p + 1, e);
    if (stack[sp - 1] == '{') {
        if (p < e && *p == '}') {
            p++;
            goto close;
        }
        if (p >= e || *p != '"') return expected(c, p, "a string key or '}'");
        goto key;
    }
    if (p < e && *p == ']') {
        p++;
        goto close;
    }
    goto value;
key:
    if (!(p = string_token(c, p, &escaped))) return NULL;
    p = skip_ws(p, e);
    if (p >= e || *p != ':') return expected(c, p, "':' after object key");
    p = skip_ws(p + 1, e);
value:
    if (p >= e) return expected(c, p, "a value");
    switch (*p) {
    case '{':
    case '[': goto open;
    case '"':
        if (!(p = string_token(c, p, &escaped))) return NULL;
        break;
    case 't':
        if (!(p = literal(c, p, "true", 4))) return NULL;
        break;
    case 'f':
        if (!(p = literal(c, p, "false", 5))) return NULL;
        break;
    case 'n':
        if (!(p = literal(c, p, "null", 4))) return NULL;
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        if (!(p = scan_number(c, p, &is_int))) return NULL;
        break;
    default: return expected(c, p, "a value");
    }
after:
    p = skip_ws(p, e);
    if (stack[sp - 1] == '{') {
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
            if (p >= e || *p != '"') return expected(c, p, "a string key after ','");
            goto key;
        }
        if (p < e && *p == '}') {
            p++;
            goto close;
        }
        return expected(c, p, "',' or '}' after object member");
    }
    if (p < e && *p == ',') {
        p = skip_ws(p + 1, e);
        goto value;
    }
    if (p < e && *p == ']') {
        p++;
        goto close;
    }
    return expected(c, p, "',' or ']' after array element");
close:
    if (--sp == 0) return p;
    goto after;
}

/* Validates the value at p, inside `depth` containers, and stores it in *dst when dst is not
 * NULL. Returns the pointer past it. */
static const char *value(ctx *c, const char *p, int depth, weir_value *dst)
{
    const char *e = c->end, *s = p;
    if (p >= e) return expected(c, p, "a value");
    switch (*p) {
    case '"': {
        bool escaped = false;
        if (!(p = string_token(c, p, &escaped))) return NULL;
        if (dst) {
            size_t len = (size_t)(p - s) - 2;
            if (!escaped) {
                *dst = weir_value_string(s + 1, len);
            } else {
                char *o = weir_arena_alloc(c->arena, len ? len : 1);
                if (!o) {
                    c->err = WEIR_ENOMEM;
                    return NULL;
                }
                *dst = weir_value_string(o, decode_string(o, len, s + 1, len));
            }
        }
        return p;
    }
    case '{':
    case '[':
        if (!(p = skip_container(c, p, depth))) return NULL;
        if (dst) *dst = (weir_value){.type = WEIR_TYPE_JSON, .len = (uint32_t)(p - s), .as.s = s};
        return p;
    case 't':
        if ((p = literal(c, p, "true", 4)) && dst) *dst = weir_value_bool(true);
        return p;
    case 'f':
        if ((p = literal(c, p, "false", 5)) && dst) *dst = weir_value_bool(false);
        return p;
    case 'n':
        if ((p = literal(c, p, "null", 4)) && dst) *dst = WEIR_NULL_VALUE;
        return p;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9': {
        bool is_int = false; /* set by scan_number (gcc -O3 cannot tell) */
        if (!(p = scan_number(c, p, &is_int))) return NULL;
        if (dst) {
            int rc = convert_number(c, s, (size_t)(p - s), is_int, dst);
            if (rc == WEIR_ERANGE)
                return failf(c, s,
                             "number out of range: its magnitude exceeds the largest "
                             "double (1.7976931348623157e308)");
            if (rc) {
                c->err = rc;
                return NULL;
            }
        }
        return p;
    }
    default: return expected(c, p, "a value");
    }
}

/* The child of parent named by the key body k[0..klen) (raw text; escaped: it holds escapes),
 * or NULL. */
static inline const node *match(const ctx *c, const node *parent, const char *k, size_t klen,
                                bool escaped)
{
    const node *nodes = c->f->nodes;
    char tmp[256];
    if (escaped) {
        size_t cap = c->f->max_name_len;
        char *buf = cap <= sizeof tmp ? tmp : NULL;
        if (!buf) {
            /* a very long requested name: decode into the arena (rare) */
            buf = weir_arena_alloc(c->arena, klen ? klen : 1);
            if (!buf) return NULL;
            cap = klen;
        }
        klen = decode_string(buf, cap, k, klen);
        if (klen == SIZE_MAX) return NULL;
        k = buf;
    }
    if (klen == 0 || klen > c->f->max_name_len) return NULL;
    uint64_t sig = signature(k, klen);
    for (int32_t i = parent->child; i >= 0; i = nodes[i].next)
        if (nodes[i].sig == sig && !memcmp(nodes[i].name, k, klen)) return &nodes[i];
    return NULL;
}

/* Sets every path below n to null (a repeated member replaces an earlier one wholly). */
static void reset_below(ctx *c, const node *n)
{
    for (int32_t i = n->child; i >= 0; i = c->f->nodes[i].next) {
        const node *k = &c->f->nodes[i];
        if (k->target >= 0) c->out[k->target] = WEIR_NULL_VALUE;
        if (k->child >= 0) reset_below(c, k);
    }
}

/* Parses the object at p ('{'), the value of node n (the root for the top level), opened
 * inside `depth` containers; extracts the requested members. Returns the pointer past it. */
/* skip_ws in the object at the given depth, noting whitespace between the record's members */
static inline const char *member_ws(ctx *c, const char *p, const char *e, int depth)
{
    const char *q = skip_ws(p, e);
    if (q != p && depth == 1) c->spaced = true;
    return q;
}

static const char *object(ctx *c, const char *p, const node *n, int depth)
{
    const char *e = c->end;
    if (depth >= WEIR_JSON_MAX_DEPTH)
        return failf(c, p, "nesting deeper than %d objects and arrays", WEIR_JSON_MAX_DEPTH);
    depth++;
    p = member_ws(c, p + 1, e, depth);
    if (p < e && *p == '}') return p + 1;
    if (p >= e || *p != '"') return expected(c, p, "a string key or '}'");
    for (;;) {
        const char *k = p + 1;
        bool escaped = false;
        if (!(p = string_token(c, p, &escaped))) return NULL;
        const node *m = n->child >= 0 ? match(c, n, k, (size_t)(p - k) - 1, escaped) : NULL;
        p = member_ws(c, p, e, depth);
        if (p >= e || *p != ':') return expected(c, p, "':' after object key");
        p = member_ws(c, p + 1, e, depth);
        if (!m) {
            p = value(c, p, depth, NULL);
        } else if (m->child < 0) {
            p = value(c, p, depth, &c->out[m->target]);
        } else {
            /* a member on the way to requested paths */
            const char *s = p;
            reset_below(c, m);
            if (p < e && *p == '{')
                p = object(c, p, m, depth);
            else
                p = value(c, p, depth, NULL);
            if (p && m->target >= 0) {
                if (*s == '{')
                    c->out[m->target] =
                        (weir_value){.type = WEIR_TYPE_JSON, .len = (uint32_t)(p - s), .as.s = s};
                else
                    value(c, s, depth, &c->out[m->target]); /* scalar or array: cheap again */
            }
        }
        if (!p) return NULL;
        p = member_ws(c, p, e, depth);
        if (p < e && *p == ',') {
            p = member_ws(c, p + 1, e, depth);
            if (p >= e || *p != '"') return expected(c, p, "a string key after ','");
            continue;
        }
        if (p < e && *p == '}') return p + 1;
        return expected(c, p, "',' or '}' after object member");
    }
}

int weir_json_parse_object(const weir_json_fields *f, const char *line, size_t len, weir_value *out,
                           weir_arena *arena, char *errbuf, size_t errlen)
{
    bool compact;
    return weir_json_parse_object_compact(f, line, len, out, arena, errbuf, errlen, &compact);
}

int weir_json_parse_object_compact(const weir_json_fields *f, const char *line, size_t len,
                                   weir_value *out, weir_arena *arena, char *errbuf, size_t errlen,
                                   bool *compact)
{
    *compact = false;
    if (len > UINT32_MAX) {
        if (errlen) snprintf(errbuf, errlen, "line of %zu bytes is too long (limit 4 GiB)", len);
        return WEIR_ERANGE;
    }
    ctx c = {.line = line,
             .end = line + len,
             .f = f,
             .out = out,
             .arena = arena,
             .errbuf = errbuf,
             .errlen = errlen};
    for (uint32_t i = 0; i < f->n; i++) out[i] = WEIR_NULL_VALUE;
    const char *p = skip_ws(line, c.end);
    c.spaced = p != line;
    if (p >= c.end || *p != '{') {
        expected(&c, p, "'{' (a JSON lines record is an object)");
        return c.err;
    }
    p = object(&c, p, &f->nodes[0], 0);
    if (!p) return c.err ? c.err : WEIR_EPARSE;
    const char *after = p;
    p = skip_ws(p, c.end);
    if (p != c.end) {
        expected(&c, p, "end of line after the object");
        return c.err;
    }
    *compact = !c.spaced && p == after;
    if (f->has_dups)
        for (uint32_t i = 0; i < f->n; i++)
            if (f->dup_of[i] >= 0) out[i] = out[f->dup_of[i]];
    return 0;
}
