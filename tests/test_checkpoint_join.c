/* tests/test_checkpoint_join.c: checkpoints of the windowed Join (operators/join.c).
 *
 * A seeded random stream of two sides (string, integer and null keys; a nested JSON field; a
 * pass-through member; rows out of order and a few late) is joined once without checkpoints into
 * a file: the reference. Then the same pipeline runs with a checkpoint every few ms and
 * crash_after = 1, 2, 3, ...: each run stops abruptly after its n-th checkpoint and the next one,
 * a new pipeline on the same directory, restores the last and goes on, until a run ends. The
 * file it leaves must hold the reference's lines, as a multiset (across keys the order depends on
 * the workers): at 1, 2 and 3 workers, and with the worker count changing at every restore. A
 * slow filter in front of the Join stretches a run over many checkpoints, with windows open (and
 * rows of both sides in them) at each. Most cases write the lazy snapshots 1 or 2 keys per
 * snapshot_more call (WEIR_TEST_SNAPSHOT_BUDGET), so that each spans many batches and windows
 * fire while it is written (kept for the snapshot until written); they check by the Join's counters
 * that this happened. Last, a checkpoint whose Join state claims another format version is refused
 * with a message that says so. */
#include "../state/crc32c.h"
#include "join.h"

#include <criterion/criterion.h>
#include <weir/weir.h>

#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROWS 2500

/* ---- the input ---- */

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* ROWS elements {s, k, t, v, o, extra}: s "L" or "R"; k one of 12 strings, one of 5 integers, or
 * missing (null); t rising, out of order within 30 ms, a few 300 ms late; o a nested object
 * (a JSON value); extra a string with escapes that no transform reads (pass-through text). */
static char **make_elements(uint64_t seed)
{
    char **e = calloc(ROWS + 1, sizeof *e);
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
    int64_t t = 0;
    for (int i = 0; i < ROWS; i++) {
        uint64_t r = next(&x);
        t += (int64_t)(r % 5);
        int64_t ts = t - (int64_t)((r >> 8) % 30);
        if ((r >> 20) % 50 == 0) ts -= 300;
        char key[32];
        uint64_t kind = (r >> 40) % 20;
        if (kind == 0)
            key[0] = 0; /* no key */
        else if (kind < 4)
            snprintf(key, sizeof key, "\"k\":%d,", (int)((r >> 32) % 5));
        else
            snprintf(key, sizeof key, "\"k\":\"k%02d\",", (int)((r >> 32) % 12));
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"s\":\"%s\",%s\"t\":%" PRId64 ",\"v\":%d,\"o\":{\"i\":%d,\"a\":[%d,\"x\"]},"
                 "\"extra\":\"e\\\"%d\\\\\"}",
                 (r >> 30) % 2 ? "R" : "L", key, ts, i, i, i % 7, i);
        e[i] = strdup(buf);
    }
    return e;
}

static void free_elements(char **e)
{
    for (int i = 0; e[i]; i++) free(e[i]);
    free(e);
}

/* ---- the pipeline ---- */

typedef struct side {
    char name;
    useconds_t delay; /* per row, to make the run last */
} side;

static bool is_side(const weir_row *row, void *ctx)
{
    const side *sd = ctx;
    if (sd->delay) usleep(sd->delay);
    const weir_value *v = &row->values[0]; /* "s" */
    return v->type == WEIR_TYPE_STRING && v->len == 1 && v->as.s[0] == sd->name;
}

static side left_side = {'L', 80}, right_side = {'R', 0};

typedef struct setup {
    weir_join_type type;
    weir_window_fn window;
} setup;

static weir_pipeline *build(char **elements, const setup *su, const char *out)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in =
        weir_create(p, &(weir_create_source){.elements = (const char *const *)elements,
                                             .timestamp = "t",
                                             .max_out_of_orderness = 30,
                                             .fields = WEIR_FIELDS("s", "k", "t", "v", "o")});
    weir_stream *l = weir_filter(in, is_side, &left_side);
    weir_stream *r = weir_filter(in, is_side, &right_side);
    weir_stream *j = weir_join(l, r,
                               &(weir_join_spec){.type = su->type,
                                                 .left_tag = "l",
                                                 .right_tag = "r",
                                                 .left_keys = WEIR_FIELDS("k"),
                                                 .right_keys = WEIR_FIELDS("k"),
                                                 .window = su->window});
    weir_write_file(j, &(weir_file_sink){.path = out});
    cr_assert_eq(weir_pipeline_status(p), 0, "%s", weir_pipeline_error(p));
    return p;
}

/* ---- files ---- */

typedef struct lines {
    char **v;
    size_t n;
} lines;

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of path, sorted. */
static lines read_sorted(const char *path)
{
    lines l = {0};
    FILE *f = fopen(path, "r");
    cr_assert(f, "no output file %s", path);
    size_t cap = 0;
    char *line = NULL;
    size_t len = 0;
    ssize_t got;
    while ((got = getline(&line, &len, f)) >= 0) {
        cr_assert(got > 0 && line[got - 1] == '\n', "a line without its newline in %s", path);
        line[got - 1] = 0;
        if (l.n == cap) {
            cap = cap ? cap * 2 : 1024;
            l.v = realloc(l.v, cap * sizeof *l.v);
        }
        l.v[l.n++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (l.n) qsort(l.v, l.n, sizeof *l.v, by_text);
    return l;
}

static void free_lines(lines *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static void expect_same(const lines *want, const lines *got, const char *what)
{
    size_t i = 0, k = 0, shown = 0;
    while ((i < want->n || k < got->n) && shown < 5) {
        int c = i == want->n ? 1 : k == got->n ? -1 : strcmp(want->v[i], got->v[k]);
        if (c == 0) {
            i++, k++;
            continue;
        }
        if (c < 0)
            cr_expect(0, "%s: missing line %s", what, want->v[i++]);
        else
            cr_expect(0, "%s: extra line %s", what, got->v[k++]);
        shown++;
    }
    cr_assert_eq(got->n, want->n, "%s: %zu lines, the run without checkpoints wrote %zu", what,
                 got->n, want->n);
    cr_assert_eq(shown, 0, "%s: the output differs", what);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- runs ---- */

typedef struct scratch {
    char root[64], dir[96], ref[96], out[96];
} scratch;

static void scratch_init(scratch *s)
{
    snprintf(s->root, sizeof s->root, "/tmp/weir_ckjoin_XXXXXX");
    cr_assert(mkdtemp(s->root));
    snprintf(s->dir, sizeof s->dir, "%s/ck", s->root);
    snprintf(s->ref, sizeof s->ref, "%s/ref.jsonl", s->root);
    snprintf(s->out, sizeof s->out, "%s/out.jsonl", s->root);
}

/* The reference: no checkpoints, one worker. */
static lines reference(char **el, const setup *su, const scratch *sc)
{
    weir_pipeline *p = build(el, su, sc->ref);
    cr_assert_eq(weir_run(p, &(weir_run_options){.workers = 1, .batch_size = 16}), 0, "%s",
                 weir_pipeline_error(p));
    weir_run_stats st;
    weir_pipeline_stats(p, &st);
    cr_assert_gt(st.dropped_late, 0, "the stream has late rows");
    weir_pipeline_destroy(p);
    lines ref = read_sorted(sc->ref);
    cr_assert_gt(ref.n, 300, "too few rows to compare (%zu)", ref.n);
    return ref;
}

/* Runs with checkpoints every 4 ms, run k stopping after its k-th checkpoint, until one ends; run
 * k has workers[k % n_workers] workers. Returns the number of runs that crashed. */
static int crash_until_done(char **el, const setup *su, const scratch *sc, const uint32_t *workers,
                            uint32_t n_workers)
{
    int crashes = 0;
    for (uint32_t k = 1;; k++) {
        cr_assert_lt(k, 200, "no run ended after %u restarts", k);
        weir_pipeline *p = build(el, su, sc->out);
        uint32_t w = workers[k % n_workers];
        int rc = weir_run(p, &(weir_run_options){
                                 .workers = w,
                                 .batch_size = 16,
                                 .checkpoint = {.dir = sc->dir, .interval = 4, .crash_after = k}});
        if (rc == WEIR_ESTOPPED) {
            weir_pipeline_destroy(p);
            crashes++;
            continue;
        }
        cr_assert_eq(rc, 0, "run %u (%u workers): %s", k, w, weir_pipeline_error(p));
        weir_pipeline_destroy(p);
        return crashes;
    }
}

/* budget: WEIR_TEST_SNAPSHOT_BUDGET, keys per snapshot_more call ("": the engine's) */
static void check_restores(const setup *su, uint64_t seed, const uint32_t *workers, uint32_t n,
                           const char *budget)
{
    setenv("WEIR_TEST_SNAPSHOT_BUDGET", budget, 1);
    uint64_t calls0 = atomic_load(&weir__join_test.calls),
             keys0 = atomic_load(&weir__join_test.keys),
             retired0 = atomic_load(&weir__join_test.retired);
    char **el = make_elements(seed);
    scratch sc;
    scratch_init(&sc);
    lines ref = reference(el, su, &sc);

    /* with checkpoints and no crash: the same lines, once */
    weir_pipeline *p = build(el, su, sc.out);
    int rc = weir_run(p, &(weir_run_options){.workers = workers[0],
                                             .batch_size = 16,
                                             .checkpoint = {.dir = sc.dir, .interval = 4}});
    cr_assert_eq(rc, 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    lines got = read_sorted(sc.out);
    expect_same(&ref, &got, "checkpoints, no crash");
    free_lines(&got);
    rm_tree(sc.dir);

    int crashes = crash_until_done(el, su, &sc, workers, n);
    cr_assert_geq(crashes, 3, "only %d runs crashed: the runs are too short to test restores",
                  crashes);
    uint64_t calls = atomic_load(&weir__join_test.calls) - calls0,
             keys = atomic_load(&weir__join_test.keys) - keys0,
             retired = atomic_load(&weir__join_test.retired) - retired0;
    cr_log_info("%d crashes, %zu lines; budget %s: %" PRIu64 " snapshot_more calls, %" PRIu64
                " keys, %" PRIu64 " windows fired before they were written",
                crashes, ref.n, *budget ? budget : "default", calls, keys, retired);
    if (*budget) { /* the lazy snapshots spanned batches, and windows fired during them */
        cr_assert_gt(keys, 0, "no snapshot_more call wrote a key");
        cr_assert_geq(calls * strtoull(budget, NULL, 10), keys, "a call wrote more than %s keys",
                      budget);
        cr_assert_gt(retired, 0, "no window fired during a lazy snapshot");
    }
    got = read_sorted(sc.out);
    char what[64];
    snprintf(what, sizeof what, "after %d crashes", crashes);
    expect_same(&ref, &got, what);
    free_lines(&got);
    free_lines(&ref);
    rm_tree(sc.root);
    free_elements(el);
}

static const setup inner_fixed = {WEIR_JOIN_INNER, {WEIR_WINDOW_FIXED, 50, 0, 0, 0}};
static const setup left_sliding = {WEIR_JOIN_LEFT, {WEIR_WINDOW_SLIDING, 60, 20, 0, 0}};

Test(checkpoint_join, inner_fixed_1_worker, .timeout = 240)
{
    check_restores(&inner_fixed, 1, (const uint32_t[]){1}, 1, "1");
}
Test(checkpoint_join, inner_fixed_2_workers, .timeout = 240)
{
    check_restores(&inner_fixed, 2, (const uint32_t[]){2}, 1, "");
}
Test(checkpoint_join, inner_fixed_3_workers, .timeout = 240)
{
    check_restores(&inner_fixed, 3, (const uint32_t[]){3}, 1, "2");
}
Test(checkpoint_join, left_sliding_1_worker, .timeout = 240)
{
    check_restores(&left_sliding, 4, (const uint32_t[]){1}, 1, "1");
}
Test(checkpoint_join, left_sliding_2_workers, .timeout = 240)
{
    check_restores(&left_sliding, 5, (const uint32_t[]){2}, 1, "2");
}
Test(checkpoint_join, left_sliding_3_workers, .timeout = 240)
{
    check_restores(&left_sliding, 6, (const uint32_t[]){3}, 1, "");
}
/* every restore at another worker count than the run before it */
Test(checkpoint_join, inner_fixed_other_worker_counts, .timeout = 240)
{
    check_restores(&inner_fixed, 7, (const uint32_t[]){1, 3, 2}, 3, "1");
}
Test(checkpoint_join, left_sliding_other_worker_counts, .timeout = 240)
{
    check_restores(&left_sliding, 8, (const uint32_t[]){2, 1, 3}, 3, "1");
}

/* ---- an unknown format version is refused ---- */

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)len + 1);
    cr_assert_eq(fread(d, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    d[len] = 0;
    *n = (size_t)len;
    return d;
}

static void spit(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(d, 1, n, f), n);
    fclose(f);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The directory of the newest checkpoint in dir. */
static void newest_checkpoint(const char *dir, char *out, size_t len)
{
    DIR *d = opendir(dir);
    cr_assert(d, "no checkpoint directory %s", dir);
    unsigned long best = 0;
    for (struct dirent *e; (e = readdir(d));) {
        unsigned long n;
        char path[512];
        snprintf(path, sizeof path, "%s/%s/MANIFEST", dir, e->d_name);
        if (sscanf(e->d_name, "chk-%lu", &n) == 1 && n > best && !access(path, F_OK)) best = n;
    }
    closedir(d);
    cr_assert_gt(best, 0, "no complete checkpoint in %s", dir);
    snprintf(out, len, "%s/chk-%lu", dir, best);
}

/* Rewrites the version of every Join section of chk/worker-*.state to 99, with the files' CRCs
 * and the MANIFEST made to match (state/checkpoint_store.h gives the layout). Returns how many
 * sections it changed. */
static int bump_join_version(const char *chk)
{
    char path[512];
    snprintf(path, sizeof path, "%s/MANIFEST", chk);
    size_t mlen;
    char *man = (char *)slurp(path, &mlen);
    int join_node = -1;
    for (char *line = man; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : 0) {
        int node;
        char kind[64];
        if (sscanf(line, "node %d %63s", &node, kind) == 2 && !strcmp(kind, "Join"))
            join_node = node;
    }
    cr_assert_geq(join_node, 0, "no Join node in %s", path);
    int changed = 0;
    char out[16384];
    size_t o = 0;
    for (char *line = man; *line;) {
        char *end = strchr(line, '\n');
        cr_assert(end);
        char name[128];
        unsigned long size;
        unsigned crc;
        if (sscanf(line, "file %127s %lu %x", name, &size, &crc) == 3 &&
            !strncmp(name, "worker-", 7)) {
            char sp[640];
            snprintf(sp, sizeof sp, "%s/%s", chk, name);
            size_t n;
            uint8_t *d = slurp(sp, &n);
            cr_assert_eq(memcmp(d, "WEIRSTAT", 8), 0);
            uint32_t n_sections = get_u32(d + 24);
            const uint8_t *table = d + 32, *data = table + (size_t)n_sections * 24;
            for (uint32_t i = 0; i < n_sections; i++) {
                const uint8_t *e = table + (size_t)i * 24;
                if (get_u32(e) != (uint32_t)join_node || get_u64(e + 16) < 4) continue;
                uint8_t *at = (uint8_t *)data + get_u64(e + 8);
                cr_assert_eq(get_u32(at), 1, "the Join's sections start with version 1");
                uint32_t v = 99;
                memcpy(at, &v, 4);
                changed++;
            }
            uint32_t c = weir__crc32c(0, d, n - 4);
            memcpy(d + n - 4, &c, 4);
            spit(sp, d, n);
            free(d);
            o += (size_t)snprintf(out + o, sizeof out - o, "file %s %lu %08x\n", name, size, c);
        } else if (!strncmp(line, "crc ", 4)) {
            uint32_t c = weir__crc32c(0, out, o);
            o += (size_t)snprintf(out + o, sizeof out - o, "crc %08x\n", c);
        } else {
            memcpy(out + o, line, (size_t)(end - line + 1));
            o += (size_t)(end - line + 1);
        }
        line = end + 1;
    }
    spit(path, out, o);
    free(man);
    return changed;
}

Test(checkpoint_join, refuses_an_unknown_format_version, .timeout = 120)
{
    char **el = make_elements(9);
    scratch sc;
    scratch_init(&sc);
    weir_pipeline *p = build(el, &inner_fixed, sc.out);
    int rc = weir_run(
        p, &(weir_run_options){.workers = 2,
                               .batch_size = 16,
                               .checkpoint = {.dir = sc.dir, .interval = 4, .crash_after = 5}});
    cr_assert_eq(rc, WEIR_ESTOPPED, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    char chk[256];
    newest_checkpoint(sc.dir, chk, sizeof chk);
    cr_assert_gt(bump_join_version(chk), 0, "no Join section in %s", chk);
    p = build(el, &inner_fixed, sc.out);
    rc = weir_run(p, &(weir_run_options){.workers = 2,
                                         .batch_size = 16,
                                         .checkpoint = {.dir = sc.dir, .interval = 4}});
    cr_expect_neq(rc, 0);
    cr_expect(strstr(weir_pipeline_error(p), "format version 99"), "%s", weir_pipeline_error(p));
    cr_log_info("refused: %s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    rm_tree(sc.root);
    free_elements(el);
}
