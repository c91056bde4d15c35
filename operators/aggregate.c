/* operators/aggregate.c: the combiners behind Combine (see aggregate.h).
 *
 * sum keeps an exact integer part and a float part so that a sum of integers stays an integer
 * (and is exact), and switches to float once a float (or an integer overflow) is seen.
 * stddev uses Welford's update and Chan's parallel merge, numerically stable, as windowing.md
 * §7 requires. min/max of strings own a malloc'd copy (a state outlives the batches). */
#include "aggregate.h"
#include "weir/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    weir_value v;
} minmax_state; /* v.as.s malloc'd for strings */
typedef struct {
    int64_t n;
    double mean, m2;
} stddev_state;

static const char *names[] = {"count", "sum", "min", "max", "mean", "stddev"};

int agg_kind_parse(const char *name)
{
    for (int i = 0; i < 6; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}
const char *agg_kind_name(agg_kind k)
{
    return names[k];
}
bool agg_kind_retractable(agg_kind k)
{
    return k == AGG_COUNT || k == AGG_SUM || k == AGG_MEAN;
}

static uint32_t state_size(agg_kind k)
{
    switch (k) {
    case AGG_COUNT: return sizeof(agg_count_state);
    case AGG_SUM:
    case AGG_MEAN: return sizeof(agg_sum_state);
    case AGG_MIN:
    case AGG_MAX: return sizeof(minmax_state);
    case AGG_STDDEV: return sizeof(stddev_state);
    }
    return 8;
}

int agg_set_init(agg_set *s, uint32_t n, const agg_def *defs)
{
    memset(s, 0, sizeof *s);
    s->defs = calloc(n ? n : 1, sizeof *s->defs);
    if (!s->defs) return WEIR_ENOMEM;
    s->n = n;
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        s->defs[i] = defs[i];
        s->defs[i].offset = off;
        off += (state_size(defs[i].kind) + 7) & ~7u;
        if (defs[i].kind == AGG_MIN || defs[i].kind == AGG_MAX) s->owns_memory = true;
    }
    s->n_plan = n <= AGG_PLAN_MAX ? n : 0;
    for (uint32_t i = 0; i < n && s->n_plan; i++) {
        const agg_def *d = &s->defs[i];
        if (d->kind != AGG_COUNT && d->kind != AGG_SUM) s->n_plan = 0;
        /* a count of a field (its non-null values) is left to agg_add_one */
        s->plan[i] = (agg_step){.field = d->field, .offset = d->offset, .sum = d->kind == AGG_SUM};
    }
    s->state_size = off ? off : 8;
    return 0;
}

void agg_set_finish(agg_set *s)
{
    free(s->defs);
    memset(s, 0, sizeof *s);
}

void agg_init(const agg_set *s, void *block)
{
    memset(block, 0, s->state_size);
}

void agg_finish(const agg_set *s, void *block)
{
    if (!s->owns_memory) return;
    for (uint32_t i = 0; i < s->n; i++) {
        const agg_def *d = &s->defs[i];
        if (d->kind != AGG_MIN && d->kind != AGG_MAX) continue;
        minmax_state *m = (minmax_state *)((char *)block + d->offset);
        if (m->v.type >= WEIR_TYPE_STRING && m->v.type <= WEIR_TYPE_JSON) free((void *)m->v.as.s);
        m->v = WEIR_NULL_VALUE;
    }
}

static void sum_add(agg_sum_state *st, const weir_value *v, int sign)
{
    st->n += sign;
    if (v->type == WEIR_TYPE_INT) {
        int64_t x = v->as.i, r;
        if (sign < 0 ? __builtin_sub_overflow(st->i, x, &r)
                     : __builtin_add_overflow(st->i, x, &r)) {
            st->d += sign * (double)x;
            st->n_float += 1;
        } else {
            st->i = r;
        }
    } else {
        st->d += sign * v->as.d;
        st->n_float += sign;
    }
}

static int minmax_set(minmax_state *m, const weir_value *v)
{
    weir_value c = *v;
    if (v->type >= WEIR_TYPE_STRING && v->type <= WEIR_TYPE_JSON) {
        char *p = malloc(v->len + 1);
        if (!p) return WEIR_ENOMEM;
        memcpy(p, v->as.s, v->len);
        p[v->len] = 0;
        c.as.s = p;
    }
    if (m->v.type >= WEIR_TYPE_STRING && m->v.type <= WEIR_TYPE_JSON) free((void *)m->v.as.s);
    m->v = c;
    return 0;
}

static int minmax_add(minmax_state *m, const weir_value *v, bool is_min)
{
    if (v->type == WEIR_TYPE_NULL) return 0;
    if (m->v.type != WEIR_TYPE_NULL) {
        int c = weir_value_compare(v, &m->v);
        if (is_min ? c >= 0 : c <= 0) return 0;
    }
    return minmax_set(m, v);
}

static void stddev_add(stddev_state *st, double x)
{
    st->n++;
    double delta = x - st->mean;
    st->mean += delta / (double)st->n;
    st->m2 += delta * (x - st->mean);
}

int agg_add_one(const agg_def *d, void *st, const weir_value *v, int sign)
{
    if (d->kind == AGG_COUNT) {
        if (!v || v->type != WEIR_TYPE_NULL) ((agg_count_state *)st)->n += sign;
        return 0;
    }
    if (!v || v->type == WEIR_TYPE_NULL) return 0; /* skipped by every aggregate */
    switch (d->kind) {
    case AGG_SUM:
    case AGG_MEAN:
        if (v->type == WEIR_TYPE_INT || v->type == WEIR_TYPE_DOUBLE) sum_add(st, v, sign);
        break;
    case AGG_MIN:
    case AGG_MAX:
        if (minmax_add(st, v, d->kind == AGG_MIN)) return WEIR_ENOMEM;
        break;
    case AGG_STDDEV:
        if (v->type == WEIR_TYPE_INT)
            stddev_add(st, (double)v->as.i);
        else if (v->type == WEIR_TYPE_DOUBLE)
            stddev_add(st, v->as.d);
        break;
    default: break;
    }
    return 0;
}

int agg_merge(const agg_set *s, void *dst, const void *src)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const agg_def *d = &s->defs[i];
        void *a = (char *)dst + d->offset;
        const void *b = (const char *)src + d->offset;
        switch (d->kind) {
        case AGG_COUNT: ((agg_count_state *)a)->n += ((const agg_count_state *)b)->n; break;
        case AGG_SUM:
        case AGG_MEAN: agg_sum_merge(a, b); break;
        case AGG_MIN:
        case AGG_MAX:
            if (minmax_add(a, &((const minmax_state *)b)->v, d->kind == AGG_MIN))
                return WEIR_ENOMEM;
            break;
        case AGG_STDDEV: {
            stddev_state *x = a;
            const stddev_state *y = b;
            if (y->n == 0) break;
            if (x->n == 0) {
                *x = *y;
                break;
            }
            int64_t n = x->n + y->n;
            double delta = y->mean - x->mean;
            x->mean += delta * (double)y->n / (double)n;
            x->m2 += y->m2 + delta * delta * (double)x->n * (double)y->n / (double)n;
            x->n = n;
            break;
        }
        }
    }
    return 0;
}

int agg_copy(const agg_set *s, void *dst, const void *src)
{
    agg_finish(s, dst);
    memcpy(dst, src, s->state_size);
    if (!s->owns_memory) return 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const agg_def *d = &s->defs[i];
        if (d->kind != AGG_MIN && d->kind != AGG_MAX) continue;
        minmax_state *m = (minmax_state *)((char *)dst + d->offset);
        weir_value v = m->v;
        m->v = WEIR_NULL_VALUE;
        if (minmax_set(m, &v)) return WEIR_ENOMEM;
    }
    return 0;
}

int agg_result(const agg_set *s, const void *block, weir_value *out, weir_arena *arena)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const agg_def *d = &s->defs[i];
        const void *st = (const char *)block + d->offset;
        switch (d->kind) {
        case AGG_COUNT: out[i] = weir_value_int(((const agg_count_state *)st)->n); break;
        case AGG_SUM: {
            const agg_sum_state *x = st;
            out[i] = x->n_float ? weir_value_double((double)x->i + x->d) : weir_value_int(x->i);
            break;
        }
        case AGG_MEAN: {
            const agg_sum_state *x = st;
            out[i] =
                x->n ? weir_value_double(((double)x->i + x->d) / (double)x->n) : WEIR_NULL_VALUE;
            break;
        }
        case AGG_MIN:
        case AGG_MAX: {
            weir_value v = ((const minmax_state *)st)->v;
            if (v.type >= WEIR_TYPE_STRING && v.type <= WEIR_TYPE_JSON) {
                char *p = weir_arena_strdup(arena, v.as.s, v.len);
                if (!p) return WEIR_ENOMEM;
                v.as.s = p;
            }
            out[i] = v;
            break;
        }
        case AGG_STDDEV: {
            const stddev_state *x = st;
            out[i] = x->n ? weir_value_double(sqrt(x->m2 > 0 ? x->m2 / (double)x->n : 0.0))
                          : WEIR_NULL_VALUE;
            break;
        }
        }
    }
    return 0;
}

int agg_snapshot(const agg_set *s, const void *block, weir_snap_writer *w)
{
    /* counts and sums only: the block is their fields in this very order, 8 bytes each */
    if (s->n_plan) return weir_snap_put(w, block, s->state_size);
    int rc = 0;
    for (uint32_t i = 0; i < s->n && !rc; i++) {
        const agg_def *d = &s->defs[i];
        const void *st = (const char *)block + d->offset;
        switch (d->kind) {
        case AGG_COUNT: rc = weir_snap_i64(w, ((const agg_count_state *)st)->n); break;
        case AGG_SUM:
        case AGG_MEAN: {
            const agg_sum_state *x = st;
            weir_snap_i64(w, x->i);
            weir_snap_f64(w, x->d);
            weir_snap_i64(w, x->n_float);
            rc = weir_snap_i64(w, x->n); /* a failed writer fails every later put */
            break;
        }
        case AGG_MIN:
        case AGG_MAX: rc = weir_snap_value(w, &((const minmax_state *)st)->v); break;
        case AGG_STDDEV: {
            const stddev_state *x = st;
            weir_snap_i64(w, x->n);
            weir_snap_f64(w, x->mean);
            rc = weir_snap_f64(w, x->m2);
            break;
        }
        }
    }
    return rc;
}

int agg_restore(const agg_set *s, void *block, weir_snap_reader *r)
{
    agg_finish(s, block);
    agg_init(s, block);
    for (uint32_t i = 0; i < s->n; i++) {
        const agg_def *d = &s->defs[i];
        void *st = (char *)block + d->offset;
        switch (d->kind) {
        case AGG_COUNT: ((agg_count_state *)st)->n = weir_snap_get_i64(r); break;
        case AGG_SUM:
        case AGG_MEAN: {
            agg_sum_state *x = st;
            x->i = weir_snap_get_i64(r);
            x->d = weir_snap_get_f64(r);
            x->n_float = weir_snap_get_i64(r);
            x->n = weir_snap_get_i64(r);
            break;
        }
        case AGG_MIN:
        case AGG_MAX: {
            weir_value v = weir_snap_get_value(r);
            if (v.type != WEIR_TYPE_NULL && minmax_set(st, &v)) return WEIR_ENOMEM;
            break;
        }
        case AGG_STDDEV: {
            stddev_state *x = st;
            x->n = weir_snap_get_i64(r);
            x->mean = weir_snap_get_f64(r);
            x->m2 = weir_snap_get_f64(r);
            break;
        }
        }
    }
    return 0;
}
