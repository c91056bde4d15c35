/* connectors/strided_parts.c: the partitions of the strided synthetic sources, dealt and
 * checkpointed (connectors/strided_parts.h). */
#include "strided_parts.h"
#include "weir/error.h"

#include <stdlib.h>

static int add(strided_parts *s, int64_t p, int64_t next, int64_t max_ts)
{
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        strided_part *v = realloc(s->v, cap * sizeof *v);
        if (!v) return WEIR_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (strided_part){p, next, max_ts};
    return 0;
}

int strided_parts_open(strided_parts *s, weir_operator *op, const char *source, const char *what,
                       int64_t count, int64_t partitions, uint32_t version)
{
    *s = (strided_parts){.source = source, .what = what, .count = count, .version = version};
    /* worker i of n makes records i, i+n, i+2n, ...: one partition each, interleaved so that
     * every partition moves through event time together (contiguous ranges would put one
     * partition far ahead, and its windows would wait for the slowest partition's watermark) */
    int64_t parts = weir_operator_worker_count(op), w = weir_operator_worker_index(op);
    if (partitions > 0 && partitions < parts) parts = partitions;
    s->n_total = parts;
    /* workers beyond the partitions have none */
    return w < parts ? add(s, w, w, WEIR_TIME_MIN) : 0;
}

void strided_parts_finish(strided_parts *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

int strided_parts_check(strided_parts *s, weir_operator *op)
{
    s->checked = true;
    if (!s->restoring) return 0;
    int64_t n = weir_operator_worker_count(op), w = weir_operator_worker_index(op), want = 0;
    for (int64_t p = w; p < s->n_total; p += n) want++;
    bool dup = false;
    for (uint32_t a = 0; a < s->n; a++)
        for (uint32_t b = a + 1; b < s->n; b++) dup = dup || s->v[a].p == s->v[b].p;
    if (dup || want != s->n)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: the checkpoint has %s of the %lld partitions of worker %lld",
                                  s->source, dup ? "a partition twice instead" : "not every one",
                                  (long long)want, (long long)w);
    return 0;
}

int strided_parts_snapshot(const strided_parts *s, weir_operator *op, weir_snap_writer *w)
{
    int rc = weir_snap_section(w, WEIR_SNAP_SHARED);
    if (!rc) rc = weir_snap_u32(w, s->version);
    if (!rc) rc = weir_snap_i64(w, s->n_total);
    if (!rc) rc = weir_snap_u32(w, s->n);
    for (uint32_t k = 0; !rc && k < s->n; k++) {
        rc = weir_snap_i64(w, s->v[k].p);
        if (!rc) rc = weir_snap_i64(w, s->v[k].next);
        if (!rc) rc = weir_snap_i64(w, s->v[k].max_ts);
    }
    return rc ? weir_operator_fail(op, rc, "%s: out of memory", s->source) : 0;
}

int strided_parts_restore(strided_parts *s, weir_operator *op, weir_snap_reader *r)
{
    uint32_t version = weir_snap_get_u32(r);
    if (weir_snap_ok(r) && version != s->version)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: the checkpoint holds this source's state in format version "
                                  "%u; this weir reads version %u",
                                  s->source, version, s->version);
    int64_t total = weir_snap_get_i64(r);
    uint32_t n = weir_snap_get_u32(r);
    if (!weir_snap_ok(r) || total <= 0 || total > INT32_MAX ||
        (s->restoring && total != s->n_total))
        goto bad;
    if (!s->restoring) { /* the partitions dealt at open give way to the checkpoint's */
        s->restoring = true;
        s->n = 0;
        s->n_total = total;
    }
    int64_t nw = weir_operator_worker_count(op), w = weir_operator_worker_index(op);
    for (uint32_t k = 0; k < n; k++) {
        int64_t p = weir_snap_get_i64(r), next = weir_snap_get_i64(r),
                max_ts = weir_snap_get_i64(r);
        if (!weir_snap_ok(r) || p < 0 || p >= total || next < p ||
            (next < s->count && (next - p) % total != 0))
            goto bad;
        if (p % nw == w && add(s, p, next, max_ts))
            return weir_operator_fail(op, WEIR_ENOMEM, "%s: out of memory", s->source);
    }
    if (!weir_snap_done(r)) goto bad;
    return 0;
bad:
    return weir_operator_fail(op, WEIR_ECORRUPT,
                              "%s: this source's state in the checkpoint is damaged, or was taken "
                              "with %s",
                              s->source, s->what);
}
