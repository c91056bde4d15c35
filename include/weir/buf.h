/* weir/buf.h: a growable byte buffer, for writers and message building.
 * init/finish on caller memory; not thread-safe. Appends return 0 or WEIR_ENOMEM and leave the
 * buffer unchanged on failure. */
#ifndef WEIR_BUF_H
#define WEIR_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct weir_buf {
    char *data; /* NUL-terminated when len < cap */
    size_t len, cap;
} weir_buf;

void weir_buf_init(weir_buf *b);
void weir_buf_finish(weir_buf *b);
static inline void weir_buf_clear(weir_buf *b)
{
    b->len = 0;
}
/* Ensures room for n more bytes. */
int weir_buf_reserve(weir_buf *b, size_t n);
int weir_buf_append(weir_buf *b, const void *p, size_t n);
int weir_buf_putc(weir_buf *b, char c);
int weir_buf_puts(weir_buf *b, const char *s);
int weir_buf_printf(weir_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int weir_buf_put_int(weir_buf *b, int64_t v);

#endif
