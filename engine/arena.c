/* engine/arena.c: the bump allocator behind batches and operator stores (see weir/arena.h).
 * Chunks are linked newest first; a request larger than a chunk gets a chunk of its own. */
#include "weir/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct weir__arena_chunk {
    weir__arena_chunk *next;
    size_t size; /* usable bytes after the header */
    /* data follows, 16-byte aligned */
    _Alignas(16) char data[];
};

void weir_arena_init(weir_arena *a, size_t chunk_size)
{
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
}

void weir_arena_finish(weir_arena *a)
{
    weir__arena_chunk *c = a->head;
    while (c) {
        weir__arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->pos = a->end = NULL;
    a->used = 0;
}

void weir_arena_reset(weir_arena *a)
{
    if (!a->head) return;
    /* keep the oldest ordinary-sized chunk, free the rest */
    weir__arena_chunk *keep = NULL, *c = a->head;
    while (c) {
        weir__arena_chunk *next = c->next;
        if (!keep && c->size == a->chunk_size)
            keep = c;
        else
            free(c);
        c = next;
    }
    a->head = keep;
    if (keep) {
        keep->next = NULL;
        a->pos = keep->data;
        a->end = keep->data + keep->size;
    } else {
        a->pos = a->end = NULL;
    }
    a->used = 0;
}

void *weir_arena_alloc(weir_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if ((size_t)(a->end - a->pos) < n || !a->pos) {
        size_t size = n > a->chunk_size ? n : a->chunk_size;
        weir__arena_chunk *c = malloc(sizeof *c + size);
        if (!c) return NULL;
        c->size = size;
        if (size > a->chunk_size && a->head) {
            /* oversized: link behind the head so the head's free space stays usable */
            c->next = a->head->next;
            a->head->next = c;
            a->used += n;
            return c->data;
        }
        c->next = a->head;
        a->head = c;
        a->pos = c->data;
        a->end = c->data + size;
    }
    void *p = a->pos;
    a->pos += n;
    a->used += n;
    return p;
}

char *weir_arena_strdup(weir_arena *a, const char *s, size_t n)
{
    char *p = weir_arena_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}
