/* engine/batch.c: schemas and batches (see weir/batch.h). A batch's arrays are allocated once
 * at creation; weir_batch_clear keeps them and the arena's first chunk, so a reused batch costs
 * no allocation per row. */
#include "weir/batch.h"
#include "weir/error.h"

#include <stdlib.h>
#include <string.h>

weir_schema *weir_schema_create(uint32_t n, const char *const *names, const weir_type *types)
{
    weir_schema *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->refs = 1;
    s->n_fields = n;
    s->names = calloc(n ? n : 1, sizeof *s->names);
    s->types = calloc(n ? n : 1, sizeof *s->types);
    if (!s->names || !s->types) goto fail;
    for (uint32_t i = 0; i < n; i++) {
        s->names[i] = strdup(names[i]);
        if (!s->names[i]) goto fail;
        s->types[i] = types ? types[i] : WEIR_TYPE_ANY;
    }
    return s;
fail:
    s->refs = 1;
    weir_schema_unref(s);
    return NULL;
}

weir_schema *weir_schema_ref(weir_schema *s)
{
    if (s) s->refs++;
    return s;
}

void weir_schema_unref(weir_schema *s)
{
    if (!s || --s->refs) return;
    if (s->names)
        for (uint32_t i = 0; i < s->n_fields; i++) free(s->names[i]);
    free(s->names);
    free(s->types);
    free(s);
}

int weir_schema_find(const weir_schema *s, const char *name)
{
    for (uint32_t i = 0; i < s->n_fields; i++)
        if (strcmp(s->names[i], name) == 0) return (int)i;
    return -1;
}

weir_batch *weir_batch_create(const weir_schema *schema, uint32_t capacity)
{
    if (!capacity) capacity = WEIR_BATCH_DEFAULT_CAPACITY;
    weir_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->schema = schema;
    b->capacity = capacity;
    b->wm_after = WEIR_TIME_MIN;
    b->last_wm = WEIR_TIME_MIN;
    b->ts = malloc(sizeof *b->ts * capacity);
    b->wm = malloc(sizeof *b->wm * capacity);
    b->pos = malloc(sizeof *b->pos * capacity);
    size_t nv = (size_t)capacity * (schema->n_fields ? schema->n_fields : 1);
    b->values = malloc(sizeof *b->values * nv);
    if (schema->has_raw) b->raw = calloc(capacity, sizeof *b->raw);
    weir_arena_init(&b->arena, 0);
    if (!b->ts || !b->wm || !b->pos || !b->values || (schema->has_raw && !b->raw)) {
        weir_batch_destroy(b);
        return NULL;
    }
    return b;
}

void weir_batch_destroy(weir_batch *b)
{
    if (!b) return;
    free(b->ts);
    free(b->wm);
    free(b->pos);
    free(b->mark_at);
    free(b->mark_wm);
    free(b->values);
    free(b->raw);
    weir_arena_finish(&b->arena);
    free(b);
}

void weir_batch_clear(weir_batch *b)
{
    b->n_rows = 0;
    b->flags = 0;
    b->wm_after = WEIR_TIME_MIN;
    b->origin = NULL;
    b->n_marks = 0;
    b->last_wm = WEIR_TIME_MIN;
    b->pos_step = b->pos_base = 0;
    weir_arena_reset(&b->arena);
}

weir_value *weir_batch_append(weir_batch *b, int64_t ts, int64_t wm)
{
    if (b->n_rows == b->capacity) return NULL;
    if (b->pos_step) { /* the positions so far become an array again */
        for (uint32_t i = 0; i < b->n_rows; i++) b->pos[i] = weir_batch_pos(b, i);
        b->pos_step = b->pos_base = 0;
    }
    uint32_t r = b->n_rows++;
    b->ts[r] = ts;
    b->wm[r] = wm;
    b->pos[r] = 0;
    if (wm > b->last_wm) b->last_wm = wm;
    if (b->raw) b->raw[r] = (weir_raw){0};
    weir_value *v = weir_batch_row(b, r);
    memset(v, 0, sizeof *v * b->schema->n_fields);
    return v;
}

int weir_batch_mark(weir_batch *b, int64_t wm)
{
    if (wm <= b->last_wm) return 0;
    if (b->n_marks == b->cap_marks) {
        uint32_t cap = b->cap_marks ? b->cap_marks * 2 : 16;
        uint32_t *at = realloc(b->mark_at, cap * sizeof *at);
        if (!at) return WEIR_ENOMEM;
        b->mark_at = at;
        int64_t *w = realloc(b->mark_wm, cap * sizeof *w);
        if (!w) return WEIR_ENOMEM;
        b->mark_wm = w;
        b->cap_marks = cap;
    }
    b->mark_at[b->n_marks] = b->n_rows;
    b->mark_wm[b->n_marks++] = wm;
    b->last_wm = wm;
    return 0;
}

int weir_batch_copy_marks(weir_batch *out, const weir_batch *in, uint32_t r, uint32_t *next)
{
    while (*next < in->n_marks && in->mark_at[*next] <= r) {
        if (weir_batch_mark(out, in->mark_wm[*next])) return WEIR_ENOMEM;
        (*next)++;
    }
    return 0;
}
