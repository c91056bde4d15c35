/* weir/arena.h: a bump allocator, one per batch (and per operator store).
 *
 * Memory is taken in chunks and given back all at once by weir_arena_reset (keeps the first
 * chunk for reuse) or weir_arena_finish. Not thread-safe: an arena belongs to one batch, and a
 * batch to one thread at a time. */
#ifndef WEIR_ARENA_H
#define WEIR_ARENA_H

#include <stddef.h>

typedef struct weir__arena_chunk weir__arena_chunk;

typedef struct weir_arena {
    weir__arena_chunk *head; /* current chunk (newest) */
    char *pos, *end;         /* free space in head */
    size_t chunk_size;       /* size of ordinary chunks */
    size_t used;             /* bytes handed out since the last reset (for metrics) */
} weir_arena;

/* Initializes caller memory; chunk_size 0 means the default (64 KiB). Allocates nothing yet. */
void weir_arena_init(weir_arena *a, size_t chunk_size);
/* Frees every chunk. The arena may be initialized again. */
void weir_arena_finish(weir_arena *a);
/* Forgets every allocation but keeps one chunk, so a reused arena does not call malloc. */
void weir_arena_reset(weir_arena *a);
/* n bytes aligned to 8, or NULL when memory is exhausted. Valid until reset/finish. */
void *weir_arena_alloc(weir_arena *a, size_t n);
/* A copy of s[0..n) (plus a terminating NUL not counted in n), or NULL on no memory. */
char *weir_arena_strdup(weir_arena *a, const char *s, size_t n);

#endif
