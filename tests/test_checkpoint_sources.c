/* tests/test_checkpoint_sources.c: the positions of the sources and the exactly-once file sink
 * under checkpoints (connectors/file_source.c, generator.c, create.c, nexmark.c, file_sink.c).
 *
 * Each case builds one pipeline (a file source, JSON or CSV, one file or a glob of three; the
 * generator; Create; Nexmark; feeding a keyed Combine or straight into WriteToFile), runs it once
 * without checkpoints, and then again and again on a NEW identical pipeline with checkpoints
 * every few ms and crash_after = 1, 2, 3, ..., each run resuming from the previous one's last
 * checkpoint, until a run ends normally. The file written must then hold exactly the lines of
 * the uninterrupted run (as multisets; a CSV header once, first), at 1, 2 and 3 workers and with
 * the worker count changing from one restart to the next. A chain that never crashed would prove
 * nothing, so each must crash at least twice. A followed file, which never ends, crashes run
 * after run while it grows, and a last run stopped once its output is all published must have
 * written the lines of a plain read of the file. And the errors: a file shrunk below the
 * position of the checkpoint, gone from its glob, or changed before that position, stops the
 * resumed run with a message naming it.
 *
 * The pipelines go through a filter that sleeps a little every few rows, so that a run lasts
 * long enough for many checkpoints whatever the machine's speed or load. */
#include <criterion/criterion.h>
#include <weir/weir.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum source { SRC_JSON, SRC_CSV, SRC_GENERATOR, SRC_CREATE, SRC_NEXMARK };

typedef struct scenario {
    enum source source;
    bool glob;    /* files: three files matched by a glob */
    bool combine; /* a keyed Combine between source and sink; else straight */
    bool csv_out; /* WriteToFile format csv */
    bool follow;  /* files: followed (the input never ends) */
} scenario;

#define INTERVAL 1 /* ms between checkpoints */

static weir_checkpoint_stats last_stats; /* of the last run */

static char tmp[64];
static char **create_elements; /* Create's elements, NULL-terminated */

static const char *path_of(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

/* A record of the test data: nearly in order (at most 6 ms back), within the bound of 10 ms, so
 * nothing is late at any worker count and the results cannot depend on it. */
static void record(int64_t i, int file, int64_t *ts, int *user, int *amount)
{
    *ts = i / 20 - (i % 7);
    if (*ts < 0) *ts = 0;
    *user = (int)((i * 31 + file * 5) % 57);
    *amount = (int)((i * 13) % 100);
}

/* Lines from .. to-1 of the JSON test data, into path opened with mode ("w" or "a"). */
static void put_json(const char *path, const char *mode, int64_t from, int64_t to, int file)
{
    FILE *f = fopen(path, mode);
    cr_assert(f, "%s: %s", path, strerror(errno));
    for (int64_t i = from; i < to; i++) {
        int64_t ts;
        int user, amount;
        record(i, file, &ts, &user, &amount);
        if (i % 997 == 5) fprintf(f, "\n"); /* blank lines count as lines */
        fprintf(f,
                "{\"ts\":%" PRId64 ",\"user\":\"u%d\",\"amount\":%d,\"note\":\"n%" PRId64 "\"}\n",
                ts, user, amount, i);
    }
    fclose(f);
}

static void write_json(const char *path, int64_t n, int file)
{
    put_json(path, "w", 0, n, file);
}

/* CSV with quoted cells, some holding the delimiter or a line feed (a record over two lines). */
static void write_csv(const char *path, int64_t n, int file)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s: %s", path, strerror(errno));
    fprintf(f, "ts,user,amount,note\n");
    for (int64_t i = 0; i < n; i++) {
        int64_t ts;
        int user, amount;
        record(i, file, &ts, &user, &amount);
        if (user % 11 == 3)
            fprintf(f, "%" PRId64 ",\"u%d, the \"\"%d\"\"\",%d,\"two\nlines %" PRId64 "\"\n", ts,
                    user, user, amount, i);
        else
            fprintf(f, "%" PRId64 ",u%d,%d,n%" PRId64 "\r\n", ts, user, amount, i);
    }
    fclose(f);
}

/* Writes the input the scenario reads (only that: the files are large). */
static void make_inputs(const scenario *sc)
{
    bool csv = sc->source == SRC_CSV;
    if (sc->source == SRC_JSON || csv) {
        if (!sc->glob)
            (csv ? write_csv : write_json)(path_of(csv ? "one.csv" : "one.jsonl"), 60000, 0);
        for (int k = 0; sc->glob && k < 3; k++) {
            char name[32];
            snprintf(name, sizeof name, csv ? "part-%d.csv" : "part-%d.jsonl", k);
            (csv ? write_csv : write_json)(path_of(name), 20000 + 5000 * k, k);
        }
    }
    if (sc->source != SRC_CREATE) return;
    int n = 40000;
    create_elements = calloc((size_t)n + 1, sizeof *create_elements);
    for (int i = 0; i < n; i++) {
        int64_t ts;
        int user, amount;
        record(i, 1, &ts, &user, &amount);
        char buf[128];
        snprintf(buf, sizeof buf, "{\"ts\":%" PRId64 ",\"user\":\"u%d\",\"amount\":%d}", ts, user,
                 amount);
        create_elements[i] = strdup(buf);
    }
}

static void setup(void)
{
    /* tmpfs when there is one: checkpoints fsync every file, which on a disk is what the
     * tests would mostly wait for */
    snprintf(tmp, sizeof tmp, "%s/weir-ck-src-XXXXXX",
             access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
    cr_assert(mkdtemp(tmp));
}

static void teardown(void)
{
    for (int i = 0; create_elements && create_elements[i]; i++) free(create_elements[i]);
    free(create_elements);
    create_elements = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) {
    }
}

/* A filter that keeps every row but sleeps 100 us every 16 rows of a worker: a run lasts long
 * enough (about 0.5 s per 60000 rows, however fast or loaded the machine) for checkpoints to
 * come many times, and the crashes to fall anywhere in the input. */
static bool slow(const weir_row *row, void *ctx)
{
    (void)row, (void)ctx;
    static _Thread_local unsigned n;
    if (++n % 16 == 0) nanosleep(&(struct timespec){0, 100000}, NULL);
    return true;
}

static void build(weir_pipeline *p, const scenario *sc, const char *out)
{
    weir_stream *s = NULL;
    const char *group = "user", *value = "amount";
    switch (sc->source) {
    case SRC_JSON:
    case SRC_CSV: {
        bool csv = sc->source == SRC_CSV;
        const char *path = sc->glob ? path_of(csv ? "part-*.csv" : "part-*.jsonl")
                                    : path_of(csv ? "one.csv" : "one.jsonl");
        s = weir_read_file(p, &(weir_file_source){.path = path,
                                                  .format = csv ? "csv" : "json",
                                                  .timestamp = "ts",
                                                  .max_out_of_orderness = 10,
                                                  .fields = WEIR_FIELDS("user", "amount"),
                                                  .follow = sc->follow});
        break;
    }
    case SRC_GENERATOR:
        s = weir_read_generator(p, &(weir_generator_source){.count = 60000, .keys = 97});
        group = "k";
        value = "v";
        break;
    case SRC_CREATE:
        s = weir_create(p, &(weir_create_source){.elements = (const char *const *)create_elements,
                                                 .timestamp = "ts",
                                                 .max_out_of_orderness = 10,
                                                 .fields = WEIR_FIELDS("user", "amount")});
        break;
    case SRC_NEXMARK:
        s = weir_read_nexmark(
            p, &(weir_nexmark_source){.events = 60000, .rate = 10000, .max_out_of_orderness = 20});
        group = "event_type";
        value = "id";
        break;
    }
    s = weir_filter(s, slow, NULL);
    if (sc->combine)
        s = weir_combine(s, &(weir_combine_spec){.group_by = WEIR_FIELDS(group),
                                                 .window = weir_fixed(WEIR_MILLISECONDS(50)),
                                                 .aggregates = WEIR_AGGREGATES(
                                                     weir_sum(value, "total"), weir_count("n"))});
    static const char *const user_amount[] = {"user", "amount", NULL};
    const char *const *columns = NULL;
    if (sc->csv_out && !sc->combine && (sc->source == SRC_JSON || sc->source == SRC_CSV))
        columns = user_amount;
    weir_write_file(
        s,
        &(weir_file_sink){.path = out, .format = sc->csv_out ? "csv" : "json", .columns = columns});
}

/* One run on a new pipeline: its code (0, WEIR_ESTOPPED after a crash, or an error, whose
 * message goes to msg). */
static int run(const scenario *sc, uint32_t workers, const char *ck, int64_t interval,
               uint32_t crash_after, char *msg, size_t msglen)
{
    weir_pipeline *p = weir_pipeline_create();
    cr_assert(p);
    build(p, sc, path_of("out"));
    int rc = weir_pipeline_status(p);
    if (!rc)
        rc = weir_run(
            p, &(weir_run_options){
                   .workers = workers,
                   .batch_size = 256,
                   .checkpoint = {.dir = ck, .interval = interval, .crash_after = crash_after}});
    if (msg) snprintf(msg, msglen, "%s", weir_pipeline_error(p));
    weir_pipeline_checkpoint_stats(p, &last_stats);
    weir_pipeline_destroy(p);
    return rc;
}

typedef struct lines {
    char **v;
    size_t n;
    char *text;
} lines;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of the output file; header: a CSV header expected first (taken out, checked once). */
static lines read_output(const char *header)
{
    const char *path = path_of("out");
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    lines l = {.text = malloc((size_t)size + 1)};
    cr_assert(fread(l.text, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    l.text[size] = 0;
    cr_assert(size == 0 || l.text[size - 1] == '\n', "the output ends in the middle of a line");
    size_t cap = 1024;
    l.v = malloc(cap * sizeof *l.v);
    for (char *p = l.text, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        *nl = 0;
        if (l.n == cap) l.v = realloc(l.v, (cap *= 2) * sizeof *l.v);
        l.v[l.n++] = p;
    }
    if (header) {
        cr_assert(l.n > 0 && !strcmp(l.v[0], header),
                  "the CSV output does not start with its "
                  "header '%s'",
                  header);
        memmove(l.v, l.v + 1, --l.n * sizeof *l.v);
        for (size_t i = 0; i < l.n; i++)
            cr_assert(strcmp(l.v[i], header) != 0, "the CSV header is repeated at line %zu", i + 2);
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_str);
    return l;
}

static void lines_free(lines *l)
{
    free(l->v);
    free(l->text);
}

static void expect_same(const lines *want, const lines *got, const char *what)
{
    size_t i = 0;
    while (i < want->n && i < got->n && !strcmp(want->v[i], got->v[i])) i++;
    cr_assert(i == want->n && i == got->n,
              "%s: %zu lines instead of %zu; first difference (sorted): '%s' instead of '%s'", what,
              got->n, want->n, i < got->n ? got->v[i] : "(none)",
              i < want->n ? want->v[i] : "(none)");
}

/* Runs to the end through crashes: run i crashes after its crash_after = 1 + i mod 3-th
 * checkpoint and the next resumes, at workers[i mod n_workers] workers. Returns the crashes. */
static int crash_chain(const scenario *sc, const uint32_t *workers, size_t n_workers,
                       const char *ck, char *log, size_t loglen)
{
    int crashes = 0;
    char msg[512];
    size_t at = 0;
    log[0] = 0;
    for (int i = 0;; i++) {
        cr_assert(i < 300, "the runs make no progress");
        uint32_t w = workers[(size_t)i % n_workers], k = 1 + (uint32_t)(i % 3);
        int rc = run(sc, w, ck, INTERVAL, k, msg, sizeof msg);
        if (at < loglen)
            at += (size_t)snprintf(log + at, loglen - at,
                                   "%s[%u workers, crash after %u: from %" PRIu64 ", %" PRIu64
                                   " done, %s]",
                                   i ? " " : "", w, k, last_stats.restored_id, last_stats.completed,
                                   rc ? weir_err_name(rc) : "ended");
        if (rc == 0) break;
        cr_assert_eq(rc, WEIR_ESTOPPED, "run %d at %u workers: %s (%s)", i + 1, w,
                     weir_strerror(rc), msg);
        crashes++;
    }
    return crashes;
}

static void check(const scenario *sc)
{
    char msg[512];
    make_inputs(sc);
    int rc = run(sc, 1, NULL, 0, 0, msg, sizeof msg);
    cr_assert_eq(rc, 0, "uninterrupted run: %s", msg);
    const char *header = NULL;
    char first[256] = "";
    if (sc->csv_out) { /* the columns: the first line of the uninterrupted run */
        FILE *f = fopen(path_of("out"), "r");
        cr_assert(f && fgets(first, sizeof first, f));
        fclose(f);
        first[strcspn(first, "\n")] = 0;
        header = first;
    }
    lines want = read_output(header);
    cr_assert(want.n > 100, "too little output (%zu lines) to test anything", want.n);

    /* uninterrupted with checkpoints, at 2 and 3 workers */
    for (uint32_t w = 2; w <= 3; w++) {
        char ck[256];
        snprintf(ck, sizeof ck, "%s/ck-plain-%u", tmp, w);
        rc = run(sc, w, ck, INTERVAL, 0, msg, sizeof msg);
        cr_assert_eq(rc, 0, "checkpointed run at %u workers: %s", w, msg);
        lines got = read_output(header);
        char what[64];
        snprintf(what, sizeof what, "uninterrupted, checkpoints, %u workers", w);
        expect_same(&want, &got, what);
        lines_free(&got);
    }

    static const uint32_t one[] = {1}, two[] = {2}, three[] = {3}, mixed[] = {3, 1, 2, 2, 1, 3};
    static const struct {
        const uint32_t *w;
        size_t n;
        const char *name;
    } chains[] = {{one, 1, "1 worker"},
                  {two, 1, "2 workers"},
                  {three, 1, "3 workers"},
                  {mixed, 6, "3, 1, 2, 2, 1, 3 workers"}};
    for (size_t c = 0; c < sizeof chains / sizeof *chains; c++) {
        char ck[256];
        snprintf(ck, sizeof ck, "%s/ck-chain-%zu", tmp, c);
        char log[2048];
        int crashes = crash_chain(sc, chains[c].w, chains[c].n, ck, log, sizeof log);
        cr_assert(crashes >= 2,
                  "%s: only %d crash(es): the input is too small to test restores: %s",
                  chains[c].name, crashes, log);
        lines got = read_output(header);
        char what[96];
        snprintf(what, sizeof what, "crashed %d times, %s", crashes, chains[c].name);
        if (getenv("WEIR_TEST_VERBOSE")) fprintf(stderr, "%s: %s\n", what, log);
        expect_same(&want, &got, what);
        lines_free(&got);
    }
    lines_free(&want);
}

TestSuite(checkpoint_sources, .init = setup, .fini = teardown, .timeout = 600);

Test(checkpoint_sources, json_file_combine)
{
    check(&(scenario){SRC_JSON, .combine = true});
}

Test(checkpoint_sources, json_file_straight)
{
    check(&(scenario){SRC_JSON});
}

Test(checkpoint_sources, json_glob_combine)
{
    check(&(scenario){SRC_JSON, .glob = true, .combine = true});
}

Test(checkpoint_sources, json_glob_straight)
{
    check(&(scenario){SRC_JSON, .glob = true});
}

Test(checkpoint_sources, csv_file_combine_to_csv)
{
    check(&(scenario){SRC_CSV, .combine = true, .csv_out = true});
}

Test(checkpoint_sources, csv_file_straight_to_csv)
{
    check(&(scenario){SRC_CSV, .csv_out = true});
}

Test(checkpoint_sources, csv_glob_combine)
{
    check(&(scenario){SRC_CSV, .glob = true, .combine = true});
}

Test(checkpoint_sources, csv_glob_straight)
{
    check(&(scenario){SRC_CSV, .glob = true});
}

Test(checkpoint_sources, generator_combine)
{
    check(&(scenario){SRC_GENERATOR, .combine = true});
}

Test(checkpoint_sources, generator_straight_to_csv)
{
    check(&(scenario){SRC_GENERATOR, .csv_out = true});
}

Test(checkpoint_sources, create_combine)
{
    check(&(scenario){SRC_CREATE, .combine = true});
}

Test(checkpoint_sources, create_straight)
{
    check(&(scenario){SRC_CREATE});
}

Test(checkpoint_sources, nexmark_combine)
{
    check(&(scenario){SRC_NEXMARK, .combine = true});
}

Test(checkpoint_sources, nexmark_straight)
{
    check(&(scenario){SRC_NEXMARK});
}

/* Crashes a run after a few checkpoints, far from the end of its input but past its start: a
 * checkpoint published output, so the source had read some of it. */
static void crash_early(const scenario *sc, const char *ck)
{
    char msg[512], cmd[300];
    for (uint32_t k = 2;; k++) {
        cr_assert(k < 40, "no checkpoint with output before the crash");
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", ck);
        cr_assert_eq(system(cmd), 0);
        int rc = run(sc, 2, ck, 10, k, msg, sizeof msg);
        cr_assert_eq(rc, WEIR_ESTOPPED, "the run was to crash: %s (%s)", weir_strerror(rc), msg);
        struct stat st;
        if (stat(path_of("out"), &st) == 0 && st.st_size > 0) return;
    }
}

Test(checkpoint_sources, file_shrunk_below_the_checkpoint)
{
    const scenario sc = {SRC_JSON, .combine = true};
    char ck[256], msg[512];
    snprintf(ck, sizeof ck, "%s/ck", tmp);
    write_json(path_of("one.jsonl"), 100000, 0); /* long enough not to end by the crash */
    crash_early(&sc, ck);
    cr_assert_eq(truncate(path_of("one.jsonl"), 0), 0);
    int rc = run(&sc, 2, ck, 20, 0, msg, sizeof msg);
    cr_assert_eq(rc, WEIR_ECORRUPT, "%s (%s)", weir_strerror(rc), msg);
    cr_assert(strstr(msg, path_of("one.jsonl")) && strstr(msg, "has only 0 bytes"), "%s", msg);
    cr_assert(strstr(msg, "truncated or replaced"), "%s", msg);
}

Test(checkpoint_sources, file_of_a_glob_gone)
{
    const scenario sc = {SRC_CSV, .glob = true};
    char ck[256], msg[512];
    snprintf(ck, sizeof ck, "%s/ck", tmp);
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "part-%d.csv", k);
        write_csv(path_of(name), 40000, k);
    }
    crash_early(&sc, ck);
    cr_assert_eq(unlink(path_of("part-1.csv")), 0);
    int rc = run(&sc, 3, ck, 20, 0, msg, sizeof msg);
    cr_assert_eq(rc, WEIR_ECORRUPT, "%s (%s)", weir_strerror(rc), msg);
    cr_assert(strstr(msg, path_of("part-1.csv")) && strstr(msg, "it is gone"), "%s", msg);
}

Test(checkpoint_sources, file_changed_before_the_checkpoint)
{
    const scenario sc = {SRC_JSON};
    char ck[256], msg[512];
    snprintf(ck, sizeof ck, "%s/ck", tmp);
    write_json(path_of("one.jsonl"), 100000, 0);
    crash_early(&sc, ck);
    /* the same size, but no line ends where the checkpoint resumes: every byte an 'x' */
    struct stat st;
    cr_assert_eq(stat(path_of("one.jsonl"), &st), 0);
    FILE *f = fopen(path_of("one.jsonl"), "w");
    for (off_t i = 0; i < st.st_size; i++) fputc('x', f);
    fclose(f);
    int rc = run(&sc, 1, ck, 20, 0, msg, sizeof msg);
    cr_assert_eq(rc, WEIR_ECORRUPT, "%s (%s)", weir_strerror(rc), msg);
    cr_assert(strstr(msg, "not a line end"), "%s", msg);
}

typedef struct follow_run {
    weir_pipeline *p;
    const char *ck;
    int rc;
} follow_run;

static void *follow_thread(void *arg)
{
    follow_run *f = arg;
    f->rc = weir_run(f->p, &(weir_run_options){.workers = 2,
                                               .batch_size = 256,
                                               .checkpoint = {.dir = f->ck, .interval = INTERVAL}});
    return NULL;
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = 0;
    for (int c; (c = getc(f)) != EOF;) n += c == '\n';
    fclose(f);
    return n;
}

/* follow: the input never ends, so every run of the chain crashes; the file grows between
 * crashes; then a last run is stopped (weir_pipeline_stop) once all the output is published. */
Test(checkpoint_sources, follow_file_straight)
{
    const scenario once = {SRC_JSON}, followed = {SRC_JSON, .follow = true};
    char ck[256], msg[512];
    snprintf(ck, sizeof ck, "%s/ck", tmp);
    write_json(path_of("one.jsonl"), 30000, 0);
    cr_assert_eq(run(&once, 1, NULL, 0, 0, msg, sizeof msg), 0, "%s", msg);
    lines want = read_output(NULL);

    put_json(path_of("one.jsonl"), "w", 0, 12000, 0);
    static const uint32_t workers[] = {2, 1, 3, 3, 2, 1};
    for (int i = 0; i < 12; i++) {
        if (i == 6) put_json(path_of("one.jsonl"), "a", 12000, 30000, 0); /* it grows */
        uint32_t w = workers[i % 6];
        int rc = run(&followed, w, ck, INTERVAL, 1 + (uint32_t)(i % 3), msg, sizeof msg);
        cr_assert_eq(rc, WEIR_ESTOPPED, "run %d at %u workers: %s (%s)", i + 1, w,
                     weir_strerror(rc), msg);
    }
    follow_run f = {.p = weir_pipeline_create(), .ck = ck};
    build(f.p, &followed, path_of("out"));
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, follow_thread, &f), 0);
    for (int waited = 0; count_lines(path_of("out")) < want.n && waited < 60000; waited += 10)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    weir_pipeline_stop(f.p);
    pthread_join(t, NULL);
    cr_assert_eq(f.rc, 0, "%s", weir_pipeline_error(f.p));
    weir_pipeline_destroy(f.p);
    lines got = read_output(NULL);
    expect_same(&want, &got, "followed, crashed 12 times, grown, stopped");
    lines_free(&got);
    lines_free(&want);
}
