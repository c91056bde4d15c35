/* tests/test_checkpoint_combine.c: checkpoints of the windowed Combine. Every case runs a
 * stream once uninterrupted, then again with a checkpoint every few ms and a crash after the
 * 1st, 2nd, 3rd... checkpoint of each run (weir_checkpoint_options.crash_after), restarting a new,
 * identical pipeline on the same directory until a run finishes, and the output files of both
 * (the results and the late records, JSON lines written by the exactly-once file sink) must hold
 * the same lines, as multisets. The restarts change the worker count (1 -> 2 -> 3 ...) in most
 * schedules, so state moves between workers by key group.
 *
 * Streams come from the generator of the differential test (tests/ref_model.c: several keys,
 * out-of-order and very late records, processing-time advances), with more keys, a string
 * value for min/max of strings and aggregates of every kind. Configurations: the generator's
 * random ones, and a fixed list covering fixed, sliding (fast slicing and sliced, with and
 * without lateness), sessions, the global window with count triggers, early and late firings,
 * and the three accumulation modes; also without group fields and with two of them. The
 * "lifted" test runs the fixed list with liftable aggregates (count, sum, mean) and no late
 * output, so that at 2 and 3 workers the Combine is lifted (operators/combine_lift.c) and each
 * checkpoint must first flush what the workers pre-aggregated.
 *
 * The source emits one event per pull and sleeps a little, so that checkpoints (taken at pull
 * boundaries) fall all over the stream. It checkpoints its position, watermark and the injected
 * processing-time clock (weir_run_options.clock), so processing-time triggers fire at the same
 * point of the stream after a restore; those cases run on one worker only (as in
 * tests/test_window_diff.c, a firing on another worker's thread cannot be ordered against the
 * stream).
 *
 * The Combine writes its keys lazily, between batches, while records keep changing them
 * (copy-on-write: operators/combine.c, "checkpoints"). The cases make these snapshots span
 * many events with a budget of 1 or 2 keys per snapshot_more call
 * (WEIR_TEST_SNAPSHOT_BUDGET, one case in three runs with the engine's budget), and check by
 * the Combine's test counters that keys were written by copy-on-write. One more case has 1700
 * keys at once, created and removed all along: the table grows and removals move keys during
 * snapshots.
 *
 * Checkpoint directories go under /dev/shm when there is one (the store fsyncs every file).
 *
 * WEIR_CK_CASES (default 120) sets the number of random cases, WEIR_CK_SEED (default 1) the
 * first seed. */
#include "combine.h"
#include "ref_window.h"

#include <criterion/criterion.h>
#include <weir/error.h>
#include <weir/graph.h>
#include <weir/weir.h>

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_EVENTS    320  /* of a generated case */
#define MAX_CK_EVENTS 3000 /* of any case */

/* ---- the test source ---- */

typedef struct ck_event {
    bool advance; /* processing time moves to t */
    char key[8];
    int64_t t;
    bool has_v;
    int64_t v;
} ck_event;

typedef struct ck_source {
    const ck_event *events;
    uint32_t n;
    int64_t bound;
    int64_t *clock;
    uint32_t sleep_us;
    bool int_keys; /* k is an integer (int_key), not the key's string */
} ck_source;

/* The integer standing for key "a0".."c2" (letter and digit), for the Combine's fast paths,
 * which take one integer group field only. */
static int64_t int_key(const char *key)
{
    return (int64_t)(key[0] - 'a') * 10 + (key[1] - '0') - 7; /* some negative */
}

typedef struct cs_state {
    const ck_source *cfg;
    uint32_t next;
    int64_t max_t, wm;
    bool seen;
    weir_batch *batch;
    char s[32];
} cs_state;

static int cs_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    cs_state *s = calloc(1, sizeof *s);
    op->state = s;
    s->cfg = config;
    s->wm = WEIR_TIME_MIN;
    if (weir_operator_worker_index(op) != 0) s->next = s->cfg->n; /* one partition: worker 0 */
    s->batch = weir_batch_create(op->out_schema, 1);
    return s->batch ? 0 : WEIR_ENOMEM;
}

static void cs_close(weir_operator *op)
{
    cs_state *s = op->state;
    weir_batch_destroy(s->batch);
    free(s);
}

static int cs_pull(weir_operator *op, uint32_t max_rows)
{
    (void)max_rows;
    cs_state *s = op->state;
    weir_batch *b = s->batch;
    weir_batch_clear(b);
    if (s->next >= s->cfg->n) {
        b->flags = WEIR_BATCH_END;
        b->wm_after = WEIR_TIME_MAX;
        int rc = weir_operator_emit(op, b);
        return rc ? rc : WEIR_PULL_END;
    }
    if (s->cfg->sleep_us) usleep(s->cfg->sleep_us);
    const ck_event *e = &s->cfg->events[s->next++];
    if (e->advance) {
        *s->cfg->clock = e->t;
        return WEIR_PULL_MORE;
    }
    weir_value *v = weir_batch_append(b, e->t, s->wm);
    v[0] = s->cfg->int_keys ? weir_value_int(int_key(e->key))
                            : weir_value_string(e->key, strlen(e->key));
    v[1] = weir_value_int(e->t);
    v[2] = e->has_v ? weir_value_int(e->v) : WEIR_NULL_VALUE;
    int len = snprintf(s->s, sizeof s->s, "x%" PRId64, e->v * 7 % 100);
    v[3] = e->has_v ? weir_value_string(s->s, (size_t)len) : WEIR_NULL_VALUE;
    v[4] = weir_value_int(e->has_v ? (e->v & 1) : 0);
    b->pos[0] = s->next;
    if (!s->seen || e->t > s->max_t) s->max_t = e->t;
    s->seen = true;
    if (s->max_t - s->cfg->bound > s->wm) s->wm = s->max_t - s->cfg->bound;
    b->wm_after = s->wm;
    int rc = weir_operator_emit(op, b);
    return rc ? rc : WEIR_PULL_MORE;
}

/* Its position, watermark and the clock, under the instance's shared section; on a restore the
 * new worker 0 takes old worker 0's (the only one that reads). */
static int cs_snapshot(weir_operator *op, weir_snap_writer *w)
{
    cs_state *s = op->state;
    weir_snap_section(w, WEIR_SNAP_SHARED);
    weir_snap_u32(w, weir_operator_worker_index(op));
    weir_snap_u32(w, s->next);
    weir_snap_i64(w, s->max_t);
    weir_snap_i64(w, s->wm);
    weir_snap_u8(w, s->seen);
    return weir_snap_i64(w, *s->cfg->clock);
}

static int cs_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    cs_state *s = op->state;
    if (group != WEIR_SNAP_SHARED)
        return weir_operator_fail(op, WEIR_ECORRUPT, "source: keyed section");
    uint32_t worker = weir_snap_get_u32(r), next = weir_snap_get_u32(r);
    int64_t max_t = weir_snap_get_i64(r), wm = weir_snap_get_i64(r);
    bool seen = weir_snap_get_u8(r) != 0;
    int64_t clock = weir_snap_get_i64(r);
    if (!weir_snap_done(r)) return weir_operator_fail(op, WEIR_ECORRUPT, "source: bad section");
    if (worker != 0 || weir_operator_worker_index(op) != 0) return 0;
    s->next = next;
    s->max_t = max_t;
    s->wm = wm;
    s->seen = seen;
    *s->cfg->clock = clock;
    return 0;
}

static const weir_operator_class ck_source_class = {.name = "CkSource",
                                                    .open = cs_open,
                                                    .pull = cs_pull,
                                                    .close = cs_close,
                                                    .snapshot = cs_snapshot,
                                                    .restore = cs_restore};

/* ---- cases ---- */

typedef enum { GROUP_K, GROUP_NONE, GROUP_K_G } group_mode;

typedef struct ck_case {
    uint64_t seed;
    weir_windowing windowing; /* trigger borrowed: each run takes a copy */
    int64_t bound, start_proc_time;
    ck_event ev[MAX_CK_EVENTS];
    uint32_t n;
    group_mode group;
    bool proc_time; /* the trigger uses processing time: one worker only */
} ck_case;

static bool uses_processing_time(const weir_trigger *t)
{
    if (!t) return false;
    if (t->type == WEIR_TRIGGER_PROCESSING_TIME) return true;
    bool any = uses_processing_time(t->early) || uses_processing_time(t->late) ||
               uses_processing_time(t->of);
    for (uint32_t i = 0; i < t->n_list; i++) any = any || uses_processing_time(t->list[i]);
    return any;
}

/* The events of seed's generated case, its keys spread over a..c x 0..2. */
static void make_events(uint64_t seed, ck_case *c, ref_case *rc)
{
    static ref_event ev[MAX_EVENTS];
    ref_random_case(seed, rc, ev, MAX_EVENTS);
    c->seed = seed;
    c->bound = rc->config.bound;
    c->start_proc_time = rc->config.start_proc_time;
    c->n = 0;
    uint64_t h = seed * 0x9E3779B97F4A7C15ULL;
    for (uint32_t i = 0; i < rc->n_events; i++) {
        if (ev[i].kind == REF_END) break;
        ck_event *e = &c->ev[c->n++];
        memset(e, 0, sizeof *e);
        if (ev[i].kind == REF_ADVANCE) {
            e->advance = true;
            e->t = ev[i].proc_time;
            continue;
        }
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9ULL;
        snprintf(e->key, sizeof e->key, "%s%u", ev[i].key, (unsigned)(h >> 40) % 3);
        e->t = ev[i].t;
        e->has_v = ev[i].has_v;
        e->v = ev[i].v;
    }
}

/* Events nearly in order, many per key and window: what the fast paths and their hot slots are
 * for (a key's records in its open window, one after another). 600 records, 6 per instant, over
 * keys a0..b2, with some out of order by up to 2 and one in 40 late by 12 to 30. */
static void make_ordered_events(uint64_t seed, ck_case *c)
{
    static const char *const keys[] = {"a0", "a1", "a2", "b0", "b1", "b2"};
    uint64_t h = seed * 0x9E3779B97F4A7C15ULL + 1;
    c->bound = 3;
    c->start_proc_time = 0;
    c->n = 600;
    for (uint32_t i = 0; i < c->n; i++) {
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 32;
        ck_event *e = &c->ev[i];
        memset(e, 0, sizeof *e);
        snprintf(e->key, sizeof e->key, "%s", keys[(h >> 8) % 6]);
        e->t = (int64_t)(i / 6) - (int64_t)((h >> 16) % 3);
        if ((h >> 24) % 40 == 0) e->t -= 12 + (int64_t)((h >> 32) % 19);
        e->has_v = (h >> 40) % 10 != 0;
        e->v = (int64_t)((h >> 44) % 200) - 50;
    }
}

static void describe_trigger(const weir_trigger *t, char *buf, size_t n)
{
    if (!t) {
        snprintf(buf, n, "default");
        return;
    }
    static const char *names[] = {"default", "after_watermark", "count",     "processing_time",
                                  "repeat",  "after_first",     "after_all", "after_each"};
    size_t len = (size_t)snprintf(buf, n, "%s", names[t->type]);
    if (t->type == WEIR_TRIGGER_COUNT)
        len += (size_t)snprintf(buf + len, n - len, "(%" PRId64 ")", t->count);
    if (t->type == WEIR_TRIGGER_PROCESSING_TIME)
        len += (size_t)snprintf(buf + len, n - len, "(%" PRId64 "ms)", t->delay);
    const weir_trigger *subs[2] = {t->early ? t->early : t->of, t->late};
    for (int i = 0; i < 2; i++) {
        if (!subs[i] || len >= n) continue;
        len +=
            (size_t)snprintf(buf + len, n - len, i == 0 ? (t->early ? "{early " : "{") : "{late ");
        describe_trigger(subs[i], buf + len, n - len);
        len = strlen(buf);
        len += (size_t)snprintf(buf + len, n - len, "}");
    }
    for (uint32_t i = 0; i < t->n_list && len < n; i++) {
        len += (size_t)snprintf(buf + len, n - len, i ? ", " : "[");
        describe_trigger(t->list[i], buf + len, n - len);
        len = strlen(buf);
        if (i + 1 == t->n_list) len += (size_t)snprintf(buf + len, n - len, "]");
    }
}

static void describe(const ck_case *c, const uint32_t *sched, uint32_t n_sched)
{
    static const char *wt[] = {"global", "fixed", "sliding", "sessions"};
    static const char *modes[] = {"discarding", "accumulating", "retracting"};
    static const char *groups[] = {"k", "none", "k,g"};
    char trig[512];
    describe_trigger(c->windowing.trigger, trig, sizeof trig);
    const weir_window_fn *w = &c->windowing.window;
    fprintf(
        stderr,
        "seed %" PRIu64 ": %s size=%" PRId64 " period=%" PRId64 " offset=%" PRId64 " gap=%" PRId64
        " lateness=%" PRId64 " bound=%" PRId64 " trigger=%s mode=%s group=%s workers:",
        c->seed, wt[w->type], w->size, w->period, w->offset, w->gap, c->windowing.allowed_lateness,
        c->bound, trig, modes[c->windowing.accumulation], groups[c->group]);
    for (uint32_t i = 0; i < n_sched; i++) fprintf(stderr, " %u", sched[i]);
    fprintf(stderr, "\nevents:");
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->ev[i].advance)
            fprintf(stderr, " @%" PRId64, c->ev[i].t);
        else
            fprintf(stderr, " %s(%" PRId64 ",%s%" PRId64 ")", c->ev[i].key, c->ev[i].t,
                    c->ev[i].has_v ? "" : "null/", c->ev[i].v);
    }
    fprintf(stderr, "\n");
}

/* ---- running ---- */

static int64_t fake_clock(void *ctx)
{
    return *(int64_t *)ctx;
}

/* One run of the case's pipeline writing dir/out.jsonl and dir/late.jsonl; ck NULL: without
 * checkpoints. Returns weir_run's code. */
/* The lifted tests: aggregates that can be lifted (count, sum, mean) and no late output, so
 * that at several workers each worker pre-aggregates before the exchange
 * (operators/combine_lift.c) and a checkpoint flushes what it holds. */
static bool liftable;
/* The fast-path tests: k is an integer, so that the Combine's fast paths (fixed windows and
 * fast slicing with the default trigger, one integer group field) and their hot slots take the
 * records, and a checkpoint must make them go through copy-on-write first. */
static bool int_keys;

static int run_once(const ck_case *c, const char *dir, uint32_t workers, const char *ck,
                    uint32_t crash_after, char *err, size_t errlen)
{
    int64_t clock = c->start_proc_time;
    ck_source src = {c->ev, c->n, c->bound, &clock, ck ? 40 : 0, int_keys};
    weir_pipeline *p = weir_pipeline_create();
    static const char *const names[] = {"k", "t", "v", "s", "g"};
    const weir_type types[] = {int_keys ? WEIR_TYPE_INT : WEIR_TYPE_STRING, WEIR_TYPE_INT,
                               WEIR_TYPE_ANY, WEIR_TYPE_ANY, WEIR_TYPE_INT};
    weir_stream *in =
        weir_pipeline_add_node(p, &(weir_node_spec){.kind = "CkSource",
                                                    .cls = &ck_source_class,
                                                    .config = &src,
                                                    .schema = weir_schema_create(5, names, types)});
    const char *const *group = c->group == GROUP_K     ? WEIR_FIELDS("k")
                               : c->group == GROUP_K_G ? WEIR_FIELDS("k", "g")
                                                       : NULL;
    weir_stream *res = weir_combine(
        in,
        &(weir_combine_spec){
            .group_by = group,
            .window = c->windowing.window,
            .allowed_lateness = c->windowing.allowed_lateness,
            .trigger = weir_trigger_copy(c->windowing.trigger),
            .accumulation = c->windowing.accumulation,
            .aggregates =
                liftable ? WEIR_AGGREGATES(weir_count("n"), weir_count("nv"), weir_sum("v", "sum"),
                                           weir_mean("v", "mean"))
                         : WEIR_AGGREGATES(weir_count("n"), weir_count("nv"), weir_sum("v", "sum"),
                                           weir_min("v", "min"), weir_max("v", "max"),
                                           weir_mean("v", "mean"), weir_stddev("v", "sd"),
                                           weir_min("s", "smin"), weir_max("s", "smax")),
            .late_output = !liftable});
    char out[600], late[600];
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    snprintf(late, sizeof late, "%s/late.jsonl", dir);
    weir_write_file(res, &(weir_file_sink){.path = out});
    if (!liftable) weir_write_file(weir_late_output(res), &(weir_file_sink){.path = late});
    weir_run_options opt = {.workers = workers,
                            .batch_size = 1 + (uint32_t)(c->seed % 3) * 3,
                            .clock = fake_clock,
                            .clock_ctx = &clock};
    if (ck)
        opt.checkpoint =
            (weir_checkpoint_options){.dir = ck, .interval = 2, .crash_after = crash_after};
    int rc = weir_run(p, &opt);
    if (rc) snprintf(err, errlen, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    return rc;
}

/* ---- comparing files ---- */

typedef struct lines {
    char *text;
    char **line;
    size_t n;
} lines;

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_lines(const char *path, lines *l)
{
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    l->text = malloc((size_t)n + 1);
    size_t got = fread(l->text, 1, (size_t)n, f);
    fclose(f);
    l->text[got] = 0;
    size_t cap = 16;
    l->line = malloc(cap * sizeof *l->line);
    for (char *p = l->text; *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        if (l->n == cap) l->line = realloc(l->line, (cap *= 2) * sizeof *l->line);
        l->line[l->n++] = p;
        if (!e) break;
        p = e + 1;
    }
    qsort(l->line, l->n, sizeof *l->line, line_cmp);
}

static void free_lines(lines *l)
{
    free(l->text);
    free(l->line);
}

/* Whether the two files hold the same lines (prints the differences when not). */
static bool same_lines(const char *what, const char *a_path, const char *b_path)
{
    lines a, b;
    read_lines(a_path, &a);
    read_lines(b_path, &b);
    bool same = a.n == b.n;
    for (size_t i = 0; same && i < a.n; i++) same = !strcmp(a.line[i], b.line[i]);
    if (!same) {
        fprintf(stderr, "MISMATCH in %s: uninterrupted %zu lines, restored %zu\n", what, a.n, b.n);
        size_t i = 0, j = 0, shown = 0;
        while ((i < a.n || j < b.n) && shown < 30) {
            int c = i == a.n ? 1 : j == b.n ? -1 : strcmp(a.line[i], b.line[j]);
            if (c == 0) {
                i++, j++;
                continue;
            }
            if (c < 0)
                fprintf(stderr, "  only uninterrupted: %s\n", a.line[i++]);
            else
                fprintf(stderr, "  only restored:      %s\n", b.line[j++]);
            shown++;
        }
    }
    free_lines(&a);
    free_lines(&b);
    return same;
}

/* Where the test's files go: memory when possible (checkpoints fsync every file). */
static const char *tmp_base(void)
{
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
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

typedef struct tally {
    uint32_t cases, restarts, failed;
    const char *budget; /* WEIR_TEST_SNAPSHOT_BUDGET for every case; NULL: the default mix */
    bool expect_cow;    /* keys must have been written by copy-on-write */
    uint64_t calls, keys, cow, moved, restarts_walk; /* the Combine's counters at the start */
} tally;

static void tally_start(tally *t, const char *budget)
{
    *t = (tally){.budget = budget,
                 .expect_cow = true,
                 .calls = atomic_load(&weir__combine_test.calls),
                 .keys = atomic_load(&weir__combine_test.keys),
                 .cow = atomic_load(&weir__combine_test.cow),
                 .moved = atomic_load(&weir__combine_test.moved),
                 .restarts_walk = atomic_load(&weir__combine_test.restarts)};
}

/* Runs c uninterrupted (1 worker, no checkpoints) and crashing/restoring with the worker counts
 * of sched in turn; returns whether the outputs are the same. */
static bool check_case(const ck_case *c, const uint32_t *sched, uint32_t n_sched, tally *t)
{
    char base[64];
    snprintf(base, sizeof base, "%s/weir_ck_combine_XXXXXX", tmp_base());
    cr_assert_not_null(mkdtemp(base));
    char ref[600], rst[600], ck[600], err[512] = "";
    /* lazy snapshots of 1 or 2 keys per call, and the engine's budget in one case of three */
    static const char *const budgets[] = {"1", "2", ""};
    const char *budget = t->budget ? t->budget : budgets[t->cases % 3];
    setenv("WEIR_TEST_SNAPSHOT_BUDGET", budget, 1);
    snprintf(ref, sizeof ref, "%s/ref", base);
    snprintf(rst, sizeof rst, "%s/restored", base);
    snprintf(ck, sizeof ck, "%s/ck", base);
    mkdir(ref, 0700);
    mkdir(rst, 0700);
    bool ok = true;
    int rc = run_once(c, ref, 1, NULL, 0, err, sizeof err);
    if (rc) {
        fprintf(stderr, "uninterrupted run failed: %s\n", err);
        ok = false;
    }
    uint32_t runs = 0;
    for (uint32_t crash_after = 1; ok; crash_after++) {
        uint32_t workers = sched[runs % n_sched];
        rc = run_once(c, rst, workers, ck, crash_after, err, sizeof err);
        runs++;
        if (rc == 0) break;
        if (rc != WEIR_ESTOPPED || runs > 60) {
            fprintf(stderr, "run %u (%u workers) failed: %s\n", runs, workers, err);
            ok = false;
        }
    }
    t->cases++;
    t->restarts += runs - 1;
    if (ok) {
        char a[700], b[700];
        snprintf(a, sizeof a, "%s/out.jsonl", ref);
        snprintf(b, sizeof b, "%s/out.jsonl", rst);
        ok = same_lines("results", a, b);
        snprintf(a, sizeof a, "%s/late.jsonl", ref);
        snprintf(b, sizeof b, "%s/late.jsonl", rst);
        if (!liftable) ok = same_lines("late records", a, b) && ok;
    }
    if (!ok) {
        fprintf(stderr, "(%u runs, snapshot budget %s)\n", runs, *budget ? budget : "default");
        describe(c, sched, n_sched);
        t->failed++;
    }
    rm_tree(base);
    return ok;
}

static const uint32_t schedules[][4] = {{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3},
                                        {1, 2, 3, 1}, {3, 2, 1, 2}, {2, 1, 3, 2}};
static const uint32_t one_worker[] = {1};

static bool check_with_schedule(const ck_case *c, uint32_t which, tally *t)
{
    if (c->proc_time) return check_case(c, one_worker, 1, t);
    return check_case(c, schedules[which % 6], 4, t);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : def;
}

static void report(const char *what, const tally *t)
{
    uint64_t calls = atomic_load(&weir__combine_test.calls) - t->calls,
             keys = atomic_load(&weir__combine_test.keys) - t->keys,
             cow = atomic_load(&weir__combine_test.cow) - t->cow;
    fprintf(stderr,
            "checkpoint_combine %s: %u cases, %u restarts, %u failed; lazy snapshots: %" PRIu64
            " calls, %" PRIu64 " keys written by them, %" PRIu64 " by copy-on-write\n",
            what, t->cases, t->restarts, t->failed, calls, keys, cow);
    cr_assert_eq(t->failed, 0, "%u of %u cases differ after restores (see above)", t->failed,
                 t->cases);
    cr_assert_gt(t->restarts, t->cases, "too few restarts: checkpoints were not exercised");
    /* (one key, without group fields: it may well be written each time before it changes) */
    if (t->expect_cow)
        cr_assert_gt(cow, 0,
                     "no key was written by copy-on-write: lazy snapshots were not exercised");
}

/* ---- the tests ---- */

Test(checkpoint_combine, random_configurations, .timeout = 900)
{
    uint64_t first = env_u64("WEIR_CK_SEED", 1), n = env_u64("WEIR_CK_CASES", 120);
    static ck_case c;
    tally t;
    tally_start(&t, NULL);
    for (uint64_t seed = first; seed < first + n && t.failed < 3; seed++) {
        ref_case rc;
        make_events(seed, &c, &rc);
        char err[256];
        if (weir_trigger_validate(rc.config.windowing.trigger, err, sizeof err)) {
            ref_case_free(&rc);
            continue;
        }
        c.windowing = rc.config.windowing;
        c.group = seed % 7 == 0 ? GROUP_K_G : GROUP_K;
        c.proc_time = uses_processing_time(c.windowing.trigger);
        check_with_schedule(&c, (uint32_t)seed, &t);
        ref_case_free(&rc);
    }
    report("random configurations", &t);
}

typedef struct fixed_config {
    weir_window_fn window;
    int64_t lateness;
    weir_accumulation mode;
    weir_trigger *(*trigger)(void);
    group_mode group;
} fixed_config;

static weir_trigger *t_default(void)
{
    return NULL;
}
static weir_trigger *t_early_late_counts(void)
{
    return weir_trigger_after_watermark(weir_trigger_count(2), weir_trigger_count(1));
}
static weir_trigger *t_early_count(void)
{
    return weir_trigger_after_watermark(weir_trigger_count(3), NULL);
}
static weir_trigger *t_late_count(void)
{
    return weir_trigger_after_watermark(NULL, weir_trigger_count(2));
}
static weir_trigger *t_repeat_count3(void)
{
    return weir_trigger_repeat(weir_trigger_count(3));
}
static weir_trigger *t_repeat_count2(void)
{
    return weir_trigger_repeat(weir_trigger_count(2));
}
static weir_trigger *t_count_once(void)
{
    return weir_trigger_count(4);
}
static weir_trigger *t_early_processing(void)
{
    return weir_trigger_after_watermark(weir_trigger_processing_time(15), weir_trigger_count(1));
}
static weir_trigger *t_repeat_first_of(void)
{
    weir_trigger *l[] = {weir_trigger_count(3), weir_trigger_processing_time(20)};
    return weir_trigger_repeat(weir_trigger_after_first(l, 2));
}

/* only_fast: just the configurations the Combine has a fast path for (fixed windows or fast
 * slicing, the default trigger) */
static void fixed_configs(group_mode only, bool only_fast, const char *what)
{
    const fixed_config configs[] = {
        {weir_fixed(10), 0, WEIR_DISCARDING, t_default, GROUP_K},
        {weir_fixed(10), 20, WEIR_ACCUMULATING, t_default, GROUP_K},
        {weir_fixed(7), 15, WEIR_RETRACTING, t_default, GROUP_K},
        {weir_sliding(20, 5), 0, WEIR_DISCARDING, t_default, GROUP_K},  /* fast slicing */
        {weir_sliding(12, 8), 0, WEIR_DISCARDING, t_default, GROUP_K},  /* fast, gcd 4 */
        {weir_sliding(20, 5), 15, WEIR_DISCARDING, t_default, GROUP_K}, /* sliced */
        {weir_sliding(20, 5), 15, WEIR_ACCUMULATING, t_default, GROUP_K},
        {weir_sliding_offset(12, 4, 1), 10, WEIR_RETRACTING, t_early_late_counts, GROUP_K},
        {weir_sliding(30, 10), 25, WEIR_DISCARDING, t_early_late_counts, GROUP_K},
        {weir_sessions(8), 10, WEIR_RETRACTING, t_default, GROUP_K},
        {weir_sessions(6), 0, WEIR_ACCUMULATING, t_early_count, GROUP_K},
        {weir_sessions(5), 20, WEIR_DISCARDING, t_late_count, GROUP_K},
        {weir_global(), 0, WEIR_ACCUMULATING, t_repeat_count3, GROUP_K},
        {weir_global(), 0, WEIR_RETRACTING, t_repeat_count2, GROUP_K},
        {weir_global(), 0, WEIR_DISCARDING, t_count_once, GROUP_K},
        {weir_fixed(15), 10, WEIR_DISCARDING, t_early_late_counts, GROUP_K},
        {weir_fixed(15), 30, WEIR_RETRACTING, t_late_count, GROUP_K},
        {weir_fixed(20), 10, WEIR_ACCUMULATING, t_early_processing, GROUP_K},
        {weir_sessions(10), 10, WEIR_RETRACTING, t_repeat_first_of, GROUP_K},
        {weir_fixed(10), 10, WEIR_RETRACTING, t_early_late_counts, GROUP_NONE},
        {weir_sliding(20, 5), 0, WEIR_DISCARDING, t_default, GROUP_NONE},
        {weir_sessions(7), 5, WEIR_ACCUMULATING, t_default, GROUP_NONE},
        {weir_sliding(15, 5), 10, WEIR_RETRACTING, t_default, GROUP_K_G},
        {weir_sessions(9), 10, WEIR_RETRACTING, t_early_count, GROUP_K_G},
    };
    uint64_t seeds = env_u64("WEIR_CK_SEEDS", 4);
    static ck_case c;
    tally t;
    tally_start(&t, NULL);
    t.expect_cow = only != GROUP_NONE;
    for (size_t i = 0; i < sizeof configs / sizeof *configs && t.failed < 3; i++) {
        if (configs[i].group != only) continue;
        weir_window_type wt = configs[i].window.type;
        if (only_fast &&
            (configs[i].trigger != t_default ||
             !(wt == WEIR_WINDOW_FIXED || (wt == WEIR_WINDOW_SLIDING && configs[i].lateness == 0))))
            continue;
        for (uint64_t s = 0; s < seeds; s++) {
            ref_case rc;
            uint64_t seed = 1000 + i * 100 + s;
            make_events(seed, &c, &rc);
            ref_case_free(&rc);
            if (only_fast) make_ordered_events(seed, &c);
            c.windowing = (weir_windowing){.window = configs[i].window,
                                           .allowed_lateness = configs[i].lateness,
                                           .accumulation = configs[i].mode,
                                           .trigger = configs[i].trigger()};
            c.group = configs[i].group;
            c.proc_time = uses_processing_time(c.windowing.trigger);
            check_with_schedule(&c, (uint32_t)(i + s), &t);
            weir_trigger_destroy(c.windowing.trigger);
        }
    }
    report(what, &t);
}

Test(checkpoint_combine, fixed_configurations, .timeout = 900)
{
    fixed_configs(GROUP_K, false, "fixed configurations");
}

Test(checkpoint_combine, fast_paths_integer_keys, .timeout = 900)
{
    uint64_t hot = atomic_load(&weir__combine_test.hot);
    int_keys = true;
    fixed_configs(GROUP_K, true, "integer keys (the fast paths)");
    int_keys = false;
    hot = atomic_load(&weir__combine_test.hot) - hot;
    fprintf(stderr, "checkpoint_combine integer keys: %" PRIu64 " records by the hot slots\n", hot);
    cr_assert_gt(hot, 0, "the fast paths' hot slots took no record");
}

Test(checkpoint_combine, fixed_configurations_lifted, .timeout = 900)
{
    liftable = true;
    fixed_configs(GROUP_K, false, "fixed configurations, lifted at several workers");
    fixed_configs(GROUP_K_G, false, "two group fields, lifted at several workers");
    liftable = false;
}

Test(checkpoint_combine, without_group_fields, .timeout = 600)
{
    fixed_configs(GROUP_NONE, false, "without group fields");
}

Test(checkpoint_combine, two_group_fields, .timeout = 600)
{
    fixed_configs(GROUP_K_G, false, "two group fields");
}

/* A checkpoint of a Combine is refused by a Combine of another configuration (here: another
 * window size), with a message that says so, rather than misread. */
Test(checkpoint_combine, other_configuration_refused, .timeout = 60)
{
    static ck_case c;
    ref_case rc;
    make_events(7, &c, &rc);
    ref_case_free(&rc);
    c.windowing = (weir_windowing){.window = weir_fixed(10), .allowed_lateness = 5};
    c.group = GROUP_K;
    char base[64];
    snprintf(base, sizeof base, "%s/weir_ck_combine_XXXXXX", tmp_base());
    cr_assert_not_null(mkdtemp(base));
    char ck[600], err[512] = "";
    snprintf(ck, sizeof ck, "%s/ck", base);
    int r = run_once(&c, base, 2, ck, 1, err, sizeof err);
    cr_assert_eq(r, WEIR_ESTOPPED, "the first run should crash after its first checkpoint: %d %s",
                 r, err);
    c.windowing.window = weir_fixed(20);
    r = run_once(&c, base, 2, ck, 0, err, sizeof err);
    cr_expect_neq(r, 0, "a Combine of another configuration restored the checkpoint");
    cr_expect(strstr(err, "another configuration of this Combine") != NULL, "message: %s", err);
    rm_tree(base);
}

/* 1700 keys at once, created and removed all along (sessions of gap 850 over keys k0 .. k1799
 * in turn, two records per ms: each key's session closes before its next record), with
 * snapshots of 2 keys per call: the table grows twice, most likely during snapshots (the walk
 * starts over), and removals move keys behind the walk (they are written first). */
Test(checkpoint_combine, many_keys, .timeout = 600)
{
    static ck_case c;
    memset(&c, 0, sizeof c);
    c.seed = 77;
    c.bound = 3;
    c.n = MAX_CK_EVENTS;
    for (uint32_t i = 0; i < c.n; i++) {
        ck_event *e = &c.ev[i];
        snprintf(e->key, sizeof e->key, "k%u", i % 1800);
        e->t = i / 2;
        e->has_v = i % 5 != 0;
        e->v = (int64_t)(i * 37 % 101) - 50;
    }
    c.windowing = (weir_windowing){.window = weir_sessions(850), .accumulation = WEIR_RETRACTING};
    c.group = GROUP_K;
    /* tables at up to 3/4 full, not 1/4 as small ones are: runs of keys long enough for a
     * removal to move one behind the walk */
    setenv("WEIR_TEST_DENSE_TABLE", "1", 1);
    tally t;
    tally_start(&t, "2");
    /* whether a removal moves a key behind the walk depends on when the checkpoints fall (the
     * run's timing): three schedules always, more (up to 12) until both have happened */
    uint64_t moved = 0, grown = 0;
    for (uint32_t s = 0; (s < 3 || !moved || !grown) && s < 12 && !t.failed; s++) {
        check_with_schedule(&c, 3 + s % 3, &t);
        moved = atomic_load(&weir__combine_test.moved) - t.moved;
        grown = atomic_load(&weir__combine_test.restarts) - t.restarts_walk;
    }
    fprintf(stderr,
            "checkpoint_combine many keys: %" PRIu64 " keys moved behind the walk, %" PRIu64
            " walks started over\n",
            moved, grown);
    report("many keys", &t);
    unsetenv("WEIR_TEST_DENSE_TABLE");
    cr_expect_gt(moved, 0, "no removal moved a key behind a snapshot's walk");
    cr_expect_gt(grown, 0, "the table never grew during a snapshot");
}
