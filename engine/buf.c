/* engine/buf.c: the growable byte buffer (see weir/buf.h). */
#include "weir/buf.h"
#include "weir/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void weir_buf_init(weir_buf *b)
{
    memset(b, 0, sizeof *b);
}

void weir_buf_finish(weir_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int weir_buf_reserve(weir_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return WEIR_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int weir_buf_append(weir_buf *b, const void *p, size_t n)
{
    if (weir_buf_reserve(b, n)) return WEIR_ENOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int weir_buf_putc(weir_buf *b, char c)
{
    if (b->len + 2 > b->cap && weir_buf_reserve(b, 1)) return WEIR_ENOMEM;
    b->data[b->len++] = c;
    b->data[b->len] = 0;
    return 0;
}

int weir_buf_puts(weir_buf *b, const char *s)
{
    return weir_buf_append(b, s, strlen(s));
}

int weir_buf_printf(weir_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return WEIR_EINVAL;
    if ((size_t)n < sizeof tmp) return weir_buf_append(b, tmp, (size_t)n);
    if (weir_buf_reserve(b, (size_t)n)) return WEIR_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int weir_buf_put_int(weir_buf *b, int64_t v)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    if (b->len + 22 > b->cap && weir_buf_reserve(b, 21)) return WEIR_ENOMEM;
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) { /* two digits per division */
        p -= 2;
        memcpy(p, pairs + (u % 100) * 2, 2);
        u /= 100;
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, pairs + u * 2, 2);
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0) *--p = '-';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}
