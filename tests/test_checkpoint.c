/* tests/test_checkpoint.c: the checkpoint protocol of the engine (engine/checkpoint.c) with
 * operators of the test's own: a source that counts, a keyed running count (state per key,
 * under its key group) behind one or two exchanges, and a sink that publishes at checkpoints.
 * A run is crashed after each of its checkpoints (crash_after) and restarted, at changing worker
 * counts, until it ends; the published file must then hold exactly the rows a model computes
 * (a lost or repeated record changes a running count). Also: the store's corruption checks,
 * skipped checkpoints (injected write failures), stop with a last checkpoint, retention. */
#include "../state/checkpoint_store.h"
#include "../state/crc32c.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/pipeline.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a source: record i (0 <= i < n) is {k: i mod keys, v: i}, event time i ---- */

typedef struct cnt_cfg {
    int64_t n, keys;
} cnt_cfg;

typedef struct cnt_state {
    const cnt_cfg *cfg;
    int64_t next;
    bool mine; /* worker 0 reads the one partition */
    weir_batch *b;
} cnt_state;

static int cnt_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    cnt_state *s = calloc(1, sizeof *s);
    op->state = s;
    s->cfg = config;
    s->mine = weir_operator_worker_index(op) == 0;
    s->b = weir_batch_create(op->out_schema, 64);
    return s->b ? 0 : WEIR_ENOMEM;
}

static void cnt_close(weir_operator *op)
{
    cnt_state *s = op->state;
    if (s) weir_batch_destroy(s->b);
    free(s);
}

static int cnt_pull(weir_operator *op, uint32_t max_rows)
{
    cnt_state *s = op->state;
    weir_batch *b = s->b;
    weir_batch_clear(b);
    if (!s->mine || s->next >= s->cfg->n) {
        b->flags = WEIR_BATCH_END;
        b->wm_after = WEIR_TIME_MAX;
        int rc = weir_operator_emit(op, b);
        return rc ? rc : WEIR_PULL_END;
    }
    uint32_t k = (uint32_t)(rand() % 7) + 1; /* batch boundaries vary from run to run */
    if (k > max_rows) k = max_rows;
    for (uint32_t r = 0; r < k && s->next < s->cfg->n && !weir_batch_full(b); r++, s->next++) {
        weir_value *v = weir_batch_append(b, s->next, s->next - 1);
        v[0] = weir_value_int(s->next % s->cfg->keys);
        v[1] = weir_value_int(s->next);
    }
    b->wm_after = s->next - 1;
    int rc = weir_operator_emit(op, b);
    return rc ? rc : WEIR_PULL_MORE;
}

static int cnt_snapshot(weir_operator *op, weir_snap_writer *w)
{
    cnt_state *s = op->state;
    if (!s->mine) return 0;
    return weir_snap_u32(w, 1) || weir_snap_i64(w, s->next) ? WEIR_ENOMEM : 0;
}

static int cnt_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    cnt_state *s = op->state;
    cr_assert_eq(group, WEIR_SNAP_SHARED);
    if (weir_snap_get_u32(r) != 1) return WEIR_ECORRUPT;
    int64_t next = weir_snap_get_i64(r);
    if (s->mine) s->next = next;
    return 0;
}

static const weir_operator_class cnt_class = {.name = "CountingSource",
                                              .open = cnt_open,
                                              .pull = cnt_pull,
                                              .close = cnt_close,
                                              .snapshot = cnt_snapshot,
                                              .restore = cnt_restore};

/* ---- a keyed running count: for each row, emits {k: key, n: rows of that key so far} ---- */

#define MAX_KEYS 4096

typedef struct run_state {
    int64_t count[MAX_KEYS];
    bool seen[MAX_KEYS];
    weir_batch *b;
} run_state;

static int run_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)config, (void)errbuf, (void)errlen;
    run_state *s = calloc(1, sizeof *s);
    op->state = s;
    s->b = s ? weir_batch_create(op->out_schema, 1024) : NULL;
    return s && s->b ? 0 : WEIR_ENOMEM;
}

static void run_close(weir_operator *op)
{
    run_state *s = op->state;
    if (s) weir_batch_destroy(s->b);
    free(s);
}

static int run_process(weir_operator *op, uint32_t input, const weir_batch *in)
{
    (void)input;
    run_state *s = op->state;
    weir_batch *b = s->b;
    weir_batch_clear(b);
    for (uint32_t r = 0; r < in->n_rows; r++) {
        int64_t k = weir_batch_row(in, r)[0].as.i;
        cr_assert(k >= 0 && k < MAX_KEYS);
        s->seen[k] = true;
        weir_value *v = weir_batch_append(b, in->ts[r], in->wm[r]);
        v[0] = weir_value_int(k);
        v[1] = weir_value_int(++s->count[k]);
    }
    b->wm_after = in->wm_after;
    b->flags = in->flags;
    return weir_operator_emit(op, b);
}

static int run_snapshot(weir_operator *op, weir_snap_writer *w)
{
    run_state *s = op->state;
    for (int64_t k = 0; k < MAX_KEYS; k++) {
        if (!s->seen[k]) continue;
        weir_value key = weir_value_int(k);
        if (weir_snap_section(w, weir_key_group(&key, 1)) || weir_snap_i64(w, k) ||
            weir_snap_i64(w, s->count[k]))
            return WEIR_ENOMEM;
    }
    return 0;
}

static int run_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    run_state *s = op->state;
    cr_assert(group < WEIR_KEY_GROUPS, "no shared state was written");
    while (weir_snap_ok(r) && r->p < r->end) {
        int64_t k = weir_snap_get_i64(r), c = weir_snap_get_i64(r);
        weir_value key = weir_value_int(k);
        cr_assert_eq(weir_key_group(&key, 1), group, "key %lld restored in the wrong group",
                     (long long)k);
        cr_assert(k >= 0 && k < MAX_KEYS);
        cr_assert(!s->seen[k], "key %lld restored twice", (long long)k);
        s->seen[k] = true;
        s->count[k] = c;
    }
    return 0;
}

static const weir_operator_class run_class = {.name = "RunningCount",
                                              .open = run_open,
                                              .process = run_process,
                                              .close = run_close,
                                              .snapshot = run_snapshot,
                                              .restore = run_restore};

/* ---- a sink that publishes "k n\n" lines at checkpoints ---- */

typedef struct pub_cfg {
    char path[512];
} pub_cfg;

typedef struct pub_state {
    char *buf;
    size_t len, cap;
    uint64_t last_complete;
} pub_state;

static int pub_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)config, (void)errbuf, (void)errlen;
    cr_assert(weir_operator_checkpointing(op));
    op->state = calloc(1, sizeof(pub_state));
    return op->state ? 0 : WEIR_ENOMEM;
}

static void pub_close(weir_operator *op)
{
    pub_state *s = op->state;
    if (s) free(s->buf);
    free(s);
}

static int pub_process(weir_operator *op, uint32_t input, const weir_batch *in)
{
    (void)input;
    pub_state *s = op->state;
    for (uint32_t r = 0; r < in->n_rows; r++) {
        const weir_value *v = weir_batch_row(in, r);
        if (s->len + 64 > s->cap) {
            s->cap = s->cap ? s->cap * 2 : 4096;
            s->buf = realloc(s->buf, s->cap);
            cr_assert(s->buf);
        }
        s->len += (size_t)snprintf(s->buf + s->len, 64, "%lld %lld\n", (long long)v[0].as.i,
                                   (long long)v[1].as.i);
    }
    return 0;
}

static int pub_snapshot(weir_operator *op, weir_snap_writer *w)
{
    pub_state *s = op->state;
    if (!s->len) return 0;
    int rc = weir_snap_section(w, WEIR_SNAP_OUTPUT) || weir_snap_put(w, s->buf, s->len);
    s->len = 0;
    return rc ? WEIR_ENOMEM : 0;
}

/* checkpoint_complete: called once per completed checkpoint per instance, in order */
static _Atomic uint64_t completions;
static int pub_complete(weir_operator *op, uint64_t id)
{
    pub_state *s = op->state;
    cr_assert_gt(id, s->last_complete, "checkpoint_complete out of order");
    s->last_complete = id;
    atomic_fetch_add(&completions, 1);
    return 0;
}

static const char *pub_path(const void *config)
{
    return ((const pub_cfg *)config)->path;
}

static const weir_operator_class pub_class = {.name = "PublishingSink",
                                              .open = pub_open,
                                              .process = pub_process,
                                              .close = pub_close,
                                              .snapshot = pub_snapshot,
                                              .output_path = pub_path,
                                              .checkpoint_complete = pub_complete};

/* ---- the pipeline ---- */

static weir_pipeline *build(cnt_cfg *cc, pub_cfg *pc, int stages)
{
    weir_pipeline *p = weir_pipeline_create();
    static const char *const src_names[] = {"k", "v"}, *const run_names[] = {"k", "n"};
    static const weir_type types[] = {WEIR_TYPE_INT, WEIR_TYPE_INT};
    static const int32_t key0[] = {0};
    weir_stream *s = weir_pipeline_add_node(
        p, &(weir_node_spec){.kind = "CountingSource",
                             .cls = &cnt_class,
                             .config = cc,
                             .schema = weir_schema_create(2, src_names, types)});
    for (int i = 0; i < stages; i++)
        s = weir_pipeline_add_node(
            p, &(weir_node_spec){.kind = "RunningCount",
                                 .cls = &run_class,
                                 .inputs = &s,
                                 .n_inputs = 1,
                                 .keyed = true,
                                 .key_fields = key0,
                                 .n_key_fields = 1,
                                 .schema = weir_schema_create(2, run_names, types)});
    weir_pipeline_add_node(p, &(weir_node_spec){.kind = "PublishingSink",
                                                .cls = &pub_class,
                                                .config = pc,
                                                .inputs = &s,
                                                .n_inputs = 1});
    cr_assert_eq(weir_pipeline_status(p), 0, "%s", weir_pipeline_error(p));
    return p;
}

/* The lines the pipeline must publish, sorted: with one stage, key k's rows counted 1..c_k;
 * with two, the second stage counts the first stage's output rows by their key again, which is
 * again 1..c_k per key. */
static char *expected(int64_t n, int64_t keys)
{
    size_t cap = (size_t)n * 24 + 1, len = 0;
    char *out = malloc(cap);
    for (int64_t k = 0; k < keys; k++) {
        int64_t c = n / keys + (k < n % keys);
        for (int64_t i = 1; i <= c; i++)
            len +=
                (size_t)snprintf(out + len, cap - len, "%lld %lld\n", (long long)k, (long long)i);
    }
    out[len] = 0;
    return out;
}

static int cmp_line(const void *a, const void *b)
{
    long long x1, y1, x2, y2;
    sscanf(*(char *const *)a, "%lld %lld", &x1, &y1);
    sscanf(*(char *const *)b, "%lld %lld", &x2, &y2);
    return x1 != x2 ? (x1 < x2 ? -1 : 1) : (y1 < y2 ? -1 : y1 > y2);
}

/* The file's lines sorted by (k, n), as one string. */
static char *sorted_file(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s missing", path);
    char **lines = NULL, buf[128];
    size_t n = 0, cap = 0, total = 1;
    while (fgets(buf, sizeof buf, f)) {
        if (n == cap) lines = realloc(lines, (cap = cap ? cap * 2 : 1024) * sizeof *lines);
        lines[n++] = strdup(buf);
        total += strlen(buf);
    }
    fclose(f);
    qsort(lines, n, sizeof *lines, cmp_line);
    char *out = malloc(total);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(lines[i]);
        memcpy(out + len, lines[i], l);
        len += l;
        free(lines[i]);
    }
    out[len] = 0;
    free(lines);
    return out;
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void tmpdir(char *out, size_t n, const char *what)
{
    /* tmpfs when there is one: checkpoints fsync every file */
    snprintf(out, n, "%s/weir-test-ck-%s-%d", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm", what,
             (int)getpid());
    rm_rf(out);
    cr_assert_eq(mkdir(out, 0755), 0);
}

/* Runs until done, crashing after each checkpoint; returns the number of crashes. */
static int run_with_crashes(int64_t n, int64_t keys, int stages, const uint32_t *workers,
                            int n_workers, const char *dir, const char *out)
{
    cnt_cfg cc = {n, keys};
    int crashes = 0;
    for (int attempt = 0;; attempt++) {
        cr_assert(attempt < 3000, "the run never finished");
        pub_cfg pc;
        snprintf(pc.path, sizeof pc.path, "%s", out);
        weir_pipeline *p = build(&cc, &pc, stages);
        weir_run_options o = {.workers = workers[attempt % n_workers],
                              .checkpoint = {.dir = dir,
                                             .interval = 1 + attempt % 3,
                                             .crash_after = 1 + (uint32_t)attempt % 4}};
        int rc = weir_run(p, &o);
        if (rc == 0) {
            weir_pipeline_destroy(p);
            return crashes;
        }
        cr_assert_eq(rc, WEIR_ESTOPPED, "run failed: %s", weir_pipeline_error(p));
        crashes++;
        weir_pipeline_destroy(p);
    }
}

static void crash_case(int64_t n, int64_t keys, int stages, const uint32_t *workers, int nw)
{
    char dir[256], out[300];
    tmpdir(dir, sizeof dir, "crash");
    snprintf(out, sizeof out, "%s.out", dir);
    int crashes = run_with_crashes(n, keys, stages, workers, nw, dir, out);
    cr_expect_geq(crashes, 1, "the run should have crashed a few times (got %d)", crashes);
    char *want = expected(n, keys), *got = sorted_file(out);
    cr_expect(strcmp(want, got) == 0, "published output differs from the model (%zu vs %zu bytes)",
              strlen(got), strlen(want));
    free(want);
    free(got);
    rm_rf(dir);
    unlink(out);
}

Test(checkpoint, crash_restart_one_worker)
{
    static const uint32_t w[] = {1};
    crash_case(200000, 37, 1, w, 1);
}

Test(checkpoint, crash_restart_changing_workers)
{
    static const uint32_t w[] = {1, 2, 4, 3};
    crash_case(20000, 101, 1, w, 4);
}

Test(checkpoint, crash_restart_two_exchanges)
{
    static const uint32_t w[] = {2, 3, 1};
    crash_case(8000, 53, 2, w, 3);
}

/* Without crashes: the same output, and the checkpoints in dir are complete and at most
 * `retain`. */
Test(checkpoint, uninterrupted_and_retention)
{
    char dir[256], out[300];
    tmpdir(dir, sizeof dir, "plain");
    snprintf(out, sizeof out, "%s.out", dir);
    cnt_cfg cc = {50000, 10};
    pub_cfg pc;
    snprintf(pc.path, sizeof pc.path, "%s", out);
    weir_pipeline *p = build(&cc, &pc, 1);
    atomic_store(&completions, 0);
    int rc = weir_run(p, &(weir_run_options){
                             .workers = 2, .checkpoint = {.dir = dir, .interval = 1, .retain = 2}});
    cr_assert_eq(rc, 0, "%s", weir_pipeline_error(p));
    weir_checkpoint_stats st;
    weir_pipeline_checkpoint_stats(p, &st);
    cr_expect_geq(st.completed, 1);
    cr_expect_eq(atomic_load(&completions), 2 * st.completed,
                 "checkpoint_complete: %llu calls for %llu checkpoints at 2 workers",
                 (unsigned long long)atomic_load(&completions), (unsigned long long)st.completed);
    weir_pipeline_destroy(p);
    char *want = expected(50000, 10), *got = sorted_file(out);
    cr_expect(strcmp(want, got) == 0);
    free(want);
    free(got);
    uint64_t *ids;
    uint32_t n;
    cr_assert_eq(weir__ck_list(dir, &ids, &n), 0);
    cr_expect_leq(n, 2, "%u checkpoints kept, retain is 2", n);
    cr_assert_geq(n, 1);
    weir__ck_manifest m;
    char err[512];
    cr_expect_eq(weir__ck_read_manifest(dir, ids[n - 1], &m, err, sizeof err), 0, "%s", err);
    cr_expect(m.final, "the last checkpoint is marked final");
    weir__ck_manifest_free(&m);
    free(ids);
    rm_rf(dir);
    unlink(out);
}

/* A write failure skips a checkpoint; its output goes with the next one; nothing is lost. When
 * the last checkpoint fails the run fails, and the next run resumes from the one before. */
Test(checkpoint, write_failure_is_skipped)
{
    char dir[256], out[300];
    tmpdir(dir, sizeof dir, "fail");
    snprintf(out, sizeof out, "%s.out", dir);
    cnt_cfg cc = {300000, 10};
    for (uint64_t fail = 1; fail <= 3; fail++) {
        pub_cfg pc;
        snprintf(pc.path, sizeof pc.path, "%s", out);
        weir_pipeline *p = build(&cc, &pc, 1);
        int rc = weir_run(
            p, &(weir_run_options){
                   .workers = 2,
                   .checkpoint = {.dir = dir, .interval = 1, .fail_at = fail, .fresh = true}});
        weir_checkpoint_stats st;
        weir_pipeline_checkpoint_stats(p, &st);
        if (rc) {
            cr_assert(strstr(weir_pipeline_error(p), "last checkpoint could not be written"), "%s",
                      weir_pipeline_error(p));
            weir_pipeline_destroy(p);
            p = build(&cc, &pc, 1); /* resumes from the one before (or from the start) */
            rc = weir_run(
                p, &(weir_run_options){.workers = 2, .checkpoint = {.dir = dir, .interval = 1}});
            cr_assert_eq(rc, 0, "%s", weir_pipeline_error(p));
        } else {
            cr_expect_eq(st.skipped, 1, "checkpoint %llu skipped", (unsigned long long)fail);
        }
        weir_pipeline_destroy(p);
        char *want = expected(cc.n, 10), *got = sorted_file(out);
        cr_expect(strcmp(want, got) == 0, "output with checkpoint %llu failing",
                  (unsigned long long)fail);
        free(want);
        free(got);
    }
    rm_rf(dir);
    unlink(out);
}

/* ---- the store ---- */

Test(checkpoint, crc32c_known_value)
{
    cr_expect_eq(weir__crc32c(0, "123456789", 9), 0xE3069283u);
    uint32_t c = weir__crc32c(0, "1234", 4);
    cr_expect_eq(weir__crc32c(c, "56789", 5), 0xE3069283u, "incremental");
}

static void corrupt(const char *path, long at, int truncate_to)
{
    if (truncate_to >= 0) {
        cr_assert_eq(truncate(path, truncate_to), 0);
        return;
    }
    FILE *f = fopen(path, "r+");
    cr_assert(f, "%s", path);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
}

/* Leaves a crashed run's checkpoints in dir; returns the newest id. */
#define STORE_N 400000

static uint64_t crashed_run(const char *dir, const char *out, uint32_t crash_after)
{
    cnt_cfg cc = {STORE_N, 10};
    pub_cfg pc;
    snprintf(pc.path, sizeof pc.path, "%s", out);
    weir_pipeline *p = build(&cc, &pc, 1);
    int rc = weir_run(p, &(weir_run_options){.workers = 2,
                                             .checkpoint = {.dir = dir,
                                                            .interval = 1,
                                                            .crash_after = crash_after,
                                                            .retain = 5,
                                                            .fresh = true}});
    cr_assert_eq(rc, WEIR_ESTOPPED, "%s", weir_pipeline_error(p));
    weir_checkpoint_stats st;
    weir_pipeline_checkpoint_stats(p, &st);
    weir_pipeline_destroy(p);
    return st.last_id;
}

static int resume(const char *dir, const char *out, uint64_t from, char *err, size_t errlen)
{
    cnt_cfg cc = {STORE_N, 10};
    pub_cfg pc;
    snprintf(pc.path, sizeof pc.path, "%s", out);
    weir_pipeline *p = build(&cc, &pc, 1);
    int rc =
        weir_run(p, &(weir_run_options){.workers = 3,
                                        .checkpoint = {.dir = dir, .interval = 5, .from = from}});
    snprintf(err, errlen, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    return rc;
}

static void check_output(const char *out)
{
    char *want = expected(STORE_N, 10), *got = sorted_file(out);
    cr_expect(strcmp(want, got) == 0, "final output differs from the model");
    free(want);
    free(got);
}

Test(checkpoint, damaged_state_file_is_refused_then_older_one_restores)
{
    char dir[256], out[300], path[600], err[1024];
    tmpdir(dir, sizeof dir, "damaged");
    snprintf(out, sizeof out, "%s.out", dir);
    uint64_t last = crashed_run(dir, out, 3);
    cr_assert_geq(last, 3);
    snprintf(path, sizeof path, "%s/chk-%llu/worker-0.state", dir, (unsigned long long)last);
    corrupt(path, 40, -1);
    int rc = resume(dir, out, 0, err, sizeof err);
    cr_expect_eq(rc, WEIR_ECORRUPT, "got %d: %s", rc, err);
    cr_expect(strstr(err, path) != NULL, "the message names the file: %s", err);
    cr_expect(strstr(err, "--from-checkpoint") != NULL, "%s", err);
    rc = resume(dir, out, last - 1, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    check_output(out);
    rm_rf(dir);
    unlink(out);
}

Test(checkpoint, truncated_manifest_is_refused)
{
    char dir[256], out[300], path[600], err[1024];
    tmpdir(dir, sizeof dir, "trunc");
    snprintf(out, sizeof out, "%s.out", dir);
    uint64_t last = crashed_run(dir, out, 2);
    snprintf(path, sizeof path, "%s/chk-%llu/MANIFEST", dir, (unsigned long long)last);
    corrupt(path, 0, 30);
    int rc = resume(dir, out, 0, err, sizeof err);
    cr_expect_eq(rc, WEIR_ECORRUPT, "got %d: %s", rc, err);
    cr_expect(strstr(err, "MANIFEST") != NULL, "%s", err);
    rm_rf(dir);
    unlink(out);
}

/* A checkpoint without its manifest never completed: the previous one is used. */
Test(checkpoint, missing_manifest_falls_back)
{
    char dir[256], out[300], path[600], err[1024];
    tmpdir(dir, sizeof dir, "nomanifest");
    snprintf(out, sizeof out, "%s.out", dir);
    uint64_t last = crashed_run(dir, out, 3);
    snprintf(path, sizeof path, "%s/chk-%llu/MANIFEST", dir, (unsigned long long)last);
    cr_assert_eq(unlink(path), 0);
    /* the output already holds what `last` published: the restore of last-1 cuts it back */
    int rc = resume(dir, out, 0, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    check_output(out);
    rm_rf(dir);
    unlink(out);
}

/* An interrupted append (the file cut in the middle of the last checkpoint's part, or with
 * garbage after it) is finished on restore. */
Test(checkpoint, interrupted_append_is_finished)
{
    char dir[256], out[300], err[1024];
    tmpdir(dir, sizeof dir, "append");
    snprintf(out, sizeof out, "%s.out", dir);
    crashed_run(dir, out, 3);
    struct stat st;
    cr_assert_eq(stat(out, &st), 0);
    cr_assert_gt(st.st_size, 10);
    cr_assert_eq(truncate(out, st.st_size - 7), 0);
    int rc = resume(dir, out, 0, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    check_output(out);
    crashed_run(dir, out, 2);
    FILE *f = fopen(out, "a");
    fputs("garbage that was never committed\n", f);
    fclose(f);
    rc = resume(dir, out, 0, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    check_output(out);
    rm_rf(dir);
    unlink(out);
}

/* weir_pipeline_stop with checkpoints: a last checkpoint, exit 0, and the next run finishes. */
static void *stopper(void *arg)
{
    usleep(20000);
    weir_pipeline_stop(arg);
    return NULL;
}

Test(checkpoint, stop_takes_a_last_checkpoint)
{
    char dir[256], out[300], err[1024];
    tmpdir(dir, sizeof dir, "stop");
    snprintf(out, sizeof out, "%s.out", dir);
    cnt_cfg cc = {40000000, 10};
    pub_cfg pc;
    snprintf(pc.path, sizeof pc.path, "%s", out);
    weir_pipeline *p = build(&cc, &pc, 1);
    pthread_t t;
    pthread_create(&t, NULL, stopper, p);
    int rc = weir_run(
        p, &(weir_run_options){.workers = 2, .checkpoint = {.dir = dir, .interval = 100000}});
    pthread_join(t, NULL);
    cr_assert_eq(rc, 0, "%s", weir_pipeline_error(p));
    weir_checkpoint_stats st;
    weir_pipeline_checkpoint_stats(p, &st);
    cr_expect_eq(st.completed, 1, "one checkpoint, the last");
    weir_pipeline_destroy(p);
    (void)err;
    rm_rf(dir);
    unlink(out);
}
