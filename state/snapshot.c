/* state/snapshot.c: the writer and reader an operator uses to put its state into a checkpoint
 * and take it back (weir/snapshot.h).
 *
 * A writer is one growable byte buffer per worker plus a list of sections (node, key group,
 * offset, length): an operator's puts append to the buffer, weir_snap_section closes the open
 * section and starts another. The buffer is what state/checkpoint_store.c writes to disk, with
 * the section table in front. Integers are little-endian fixed width: cheap to write at the
 * pause, and the format is the same on every machine weir runs on. */
#include "snapshot_writer.h"
#include "weir/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void weir__snap_writer_init(weir_snap_writer *w)
{
    memset(w, 0, sizeof *w);
}

void weir__snap_writer_reset(weir_snap_writer *w)
{
    w->len = 0;
    w->n_sections = 0;
    w->failed = false;
    w->open = false;
}

void weir__snap_writer_finish(weir_snap_writer *w)
{
    if (w->mapped)
        munmap(w->data, w->cap);
    else
        free(w->data);
    free(w->sections);
    memset(w, 0, sizeof *w);
}

static void close_section(weir_snap_writer *w)
{
    if (!w->open) return;
    weir__snap_section *s = &w->sections[w->n_sections - 1];
    s->len = w->len - s->offset;
    w->open = false;
    if (s->len == 0) w->n_sections--; /* empty sections are not kept */
}

void weir__snap_writer_node(weir_snap_writer *w, uint32_t node)
{
    close_section(w);
    w->node = node;
}

void weir__snap_writer_close(weir_snap_writer *w)
{
    close_section(w);
}

int weir_snap_section(weir_snap_writer *w, uint32_t group)
{
    if (w->failed) return WEIR_ENOMEM;
    if (group > WEIR_SNAP_OUTPUT) return WEIR_EINVAL;
    close_section(w);
    if (w->n_sections == w->cap_sections) {
        uint32_t cap = w->cap_sections ? w->cap_sections * 2 : 64;
        weir__snap_section *s = realloc(w->sections, cap * sizeof *s);
        if (!s) {
            w->failed = true;
            return WEIR_ENOMEM;
        }
        w->sections = s;
        w->cap_sections = cap;
    }
    w->sections[w->n_sections++] =
        (weir__snap_section){.node = w->node, .group = group, .offset = w->len};
    w->open = true;
    return 0;
}

/* Grows the buffer to hold `need` bytes. Past 1 MiB it lives in its own mapping, grown with
 * mremap: the kernel moves the pages instead of copying them, which a realloc of a snapshot of
 * tens of MiB did while the worker's processing waited (37 ms for 64 MiB). */
static int grow(weir_snap_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < need) cap *= 2;
    if (cap < ((size_t)1 << 20)) {
        uint8_t *d = realloc(w->data, cap);
        if (!d) return WEIR_ENOMEM;
        w->data = d;
        w->cap = cap;
        return 0;
    }
    void *d;
    if (w->mapped) {
        d = mremap(w->data, w->cap, cap, MREMAP_MAYMOVE);
    } else {
        d = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (d != MAP_FAILED && w->len) memcpy(d, w->data, w->len);
        if (d != MAP_FAILED) free(w->data);
    }
    if (d == MAP_FAILED) return WEIR_ENOMEM;
    w->data = d;
    w->cap = cap;
    w->mapped = true;
    return 0;
}

int weir__snap_put_slow(weir_snap_writer *w, const void *p, size_t n)
{
    if (w->failed) return WEIR_ENOMEM;
    if (!w->open && weir_snap_section(w, WEIR_SNAP_SHARED)) return WEIR_ENOMEM;
    if (w->len + n > w->cap && grow(w, w->len + n)) {
        w->failed = true;
        return WEIR_ENOMEM;
    }
    if (n) memcpy(w->data + w->len, p, n);
    w->len += n;
    return 0;
}

/* ---- reader ---- */

static bool take(weir_snap_reader *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return false;
    }
    return true;
}

void weir_snap_get(weir_snap_reader *r, void *p, size_t n)
{
    if (!take(r, n)) {
        memset(p, 0, n);
        return;
    }
    memcpy(p, r->p, n);
    r->p += n;
}

uint8_t weir_snap_get_u8(weir_snap_reader *r)
{
    uint8_t v;
    weir_snap_get(r, &v, 1);
    return v;
}
uint32_t weir_snap_get_u32(weir_snap_reader *r)
{
    uint32_t v;
    weir_snap_get(r, &v, 4);
    return v;
}
uint64_t weir_snap_get_u64(weir_snap_reader *r)
{
    uint64_t v;
    weir_snap_get(r, &v, 8);
    return v;
}
int64_t weir_snap_get_i64(weir_snap_reader *r)
{
    int64_t v;
    weir_snap_get(r, &v, 8);
    return v;
}
double weir_snap_get_f64(weir_snap_reader *r)
{
    double v;
    weir_snap_get(r, &v, 8);
    return v;
}

const char *weir_snap_get_str(weir_snap_reader *r, uint32_t *len)
{
    uint32_t n = weir_snap_get_u32(r);
    *len = 0;
    if (!take(r, n)) return NULL;
    const char *s = (const char *)r->p;
    r->p += n;
    *len = n;
    return s;
}

weir_value weir_snap_get_value(weir_snap_reader *r)
{
    uint8_t t = weir_snap_get_u8(r);
    weir_value v = WEIR_NULL_VALUE;
    switch (t) {
    case WEIR_TYPE_NULL: break;
    case WEIR_TYPE_BOOL: v = weir_value_bool(weir_snap_get_u8(r) != 0); break;
    case WEIR_TYPE_INT: v = weir_value_int(weir_snap_get_i64(r)); break;
    case WEIR_TYPE_DOUBLE: v = weir_value_double(weir_snap_get_f64(r)); break;
    case WEIR_TYPE_STRING:
    case WEIR_TYPE_BYTES:
    case WEIR_TYPE_JSON: {
        uint32_t len;
        const char *s = weir_snap_get_str(r, &len);
        if (s) v = (weir_value){.type = t, .len = len, .as.s = s};
        break;
    }
    default: r->bad = true;
    }
    return r->bad ? WEIR_NULL_VALUE : v;
}
