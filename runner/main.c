/* runner/main.c: the `weir` command: run, validate, help, --version. Parses arguments, hands
 * the YAML file to the builder, runs the pipeline with signal handling and progress, and maps
 * outcomes to exit statuses: 0 done, 1 runtime failure, 2 invalid pipeline or usage. */
#include "build.h"
#include "checkpoints_cmd.h"
#include "kafka_dev.h"
#include "progress.h"
#include "weir/graph.h"
#include "weir/weir.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_main[] =
    "weir: a streaming dataflow engine (event-time windows, triggers, retractions)\n"
    "\n"
    "Usage:\n"
    "  weir run FILE.yaml [--set path=value ...] [--progress=auto|always|never] [--stats FILE]\n"
    "           [--fresh] [--from-checkpoint N]\n"
    "  weir validate FILE.yaml [--set path=value ...]\n"
    "  weir graph FILE.yaml [--set path=value ...]\n"
    "  weir kafka-dev [--brokers N] [--topic NAME:PARTITIONS ...]\n"
    "  weir checkpoints DIR\n"
    "  weir help [COMMAND]\n"
    "  weir --version\n"
    "\n"
    "Commands:\n"
    "  run       run the pipeline until its bounded inputs end (or SIGINT/SIGTERM)\n"
    "  validate  check a pipeline file without running it; every problem is reported\n"
    "  graph     print the operator graph in Graphviz DOT (weir graph p.yaml | dot -Tpng)\n"
    "  kafka-dev serve a local Kafka-protocol cluster (librdkafka's mock) for development\n"
    "  checkpoints  list the checkpoints in DIR (options.checkpoint.dir) and check them\n"
    "  help      show help for a command\n"
    "\n"
    "Exit status: 0 done, 1 runtime failure, 2 invalid pipeline or usage.\n"
    "The pipeline format is described in docs/pipeline.md (see README.md).\n";

static const char usage_run[] =
    "Usage: weir run FILE.yaml [options]\n"
    "\n"
    "Runs the pipeline in FILE.yaml until its bounded inputs end. SIGINT or SIGTERM end the\n"
    "inputs as if they were bounded: every window fires what it owes, sinks flush, exit 0.\n"
    "At exit a one-line summary goes to standard error.\n"
    "\n"
    "With options.checkpoint {dir, interval (default 10s), retain (default 3)}, the run takes a\n"
    "checkpoint every interval and resumes from the newest complete one in dir, so the same\n"
    "command restarts it after a crash or a stop with exactly-once file output: WriteToFile\n"
    "appends each checkpoint's results when it completes. SIGINT or SIGTERM then take a last\n"
    "checkpoint and exit 0 without firing open windows: the next run resumes them.\n"
    "\n"
    "Options:\n"
    "  --set PATH=VALUE   override a value of the file, e.g. --set options.workers=1 or\n"
    "                     --set pipeline.transforms[0].config.path=in.jsonl (repeatable)\n"
    "  --progress=WHEN    one-line progress display on standard error: auto (on a terminal,\n"
    "                     the default), always, never\n"
    "  --stats FILE       write the run's counters as JSON to FILE\n"
    "  --fresh            with checkpoints: delete those in dir and start over (outputs are\n"
    "                     truncated)\n"
    "  --from-checkpoint N  with checkpoints: resume from checkpoint N (see weir checkpoints\n"
    "                     DIR) instead of the newest; later ones are deleted and file outputs\n"
    "                     cut back to what N had published (Kafka output cannot be: its\n"
    "                     consumers may see those results twice)\n"
    "\n"
    "Exit status: 0 done, 1 runtime failure (one line: weir: error: PATH:LINE: what is wrong),\n"
    "2 invalid pipeline (FILE:LINE:COLUMN: error: ...) or usage.\n";

static const char usage_validate[] =
    "Usage: weir validate FILE.yaml [--set PATH=VALUE ...]\n"
    "\n"
    "Checks the pipeline file without running it or opening any data file. Every problem is\n"
    "printed as FILE:LINE:COLUMN: error: message. Exit status: 0 valid, 2 invalid.\n";

static const char usage_graph[] =
    "Usage: weir graph FILE.yaml [--set PATH=VALUE ...]\n"
    "\n"
    "Prints the operator graph of the pipeline in Graphviz DOT: one node per transform (its\n"
    "kind and name), an edge per stream (labelled with the output when it is an error or late\n"
    "output), and keyed inputs marked as exchanges (rows move to the worker that owns their key).\n"
    "Render it with: weir graph p.yaml | dot -Tpng -o p.png. Exit status: 0, or 2 when invalid.\n";

static const char usage_checkpoints[] =
    "Usage: weir checkpoints DIR\n"
    "\n"
    "Lists the checkpoints in DIR (a pipeline's options.checkpoint.dir), oldest first: id,\n"
    "completion time (UTC), size, worker count and state: complete, final (stopped): taken\n"
    "at SIGINT/SIGTERM, final (inputs ended): the run is done, a restart does nothing,\n"
    "incomplete (never completed: a restart skips it) or damaged (with\n"
    "the file and what is wrong: a restart refuses it; use weir run --from-checkpoint N with an\n"
    "older one). Every file's checksum is verified. Exit status: 0, 1 when one is damaged,\n"
    "2 on usage errors.\n";

static weir_pipeline *running;

static void on_signal(int sig)
{
    (void)sig;
    if (running) weir_pipeline_stop(running);
}

static int help(const char *cmd)
{
    if (!cmd) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "run"))
        fputs(usage_run, stdout);
    else if (!strcmp(cmd, "validate"))
        fputs(usage_validate, stdout);
    else if (!strcmp(cmd, "help"))
        fputs(usage_main, stdout);
    else if (!strcmp(cmd, "kafka-dev"))
        fputs(weir__kafka_dev_usage, stdout);
    else if (!strcmp(cmd, "graph"))
        fputs(usage_graph, stdout);
    else if (!strcmp(cmd, "checkpoints"))
        fputs(usage_checkpoints, stdout);
    else {
        fprintf(stderr,
                "weir: no help for '%s' (commands: run, validate, graph, kafka-dev, checkpoints, "
                "help)\n",
                cmd);
        return 2;
    }
    return 0;
}

typedef struct args {
    const char *file;
    const char **sets;
    uint32_t n_sets;
    const char *progress;
    const char *stats;
    bool fresh;
    uint64_t from_checkpoint;
} args;

static int parse_args(int argc, char **argv, args *a, bool run, const char *usage)
{
    memset(a, 0, sizeof *a);
    a->progress = "auto";
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    if (!a->sets) return 1;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--set") || !strncmp(s, "--set=", 6)) {
            const char *v = s[5] == '=' ? s + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !strchr(v, '=')) {
                fprintf(stderr, "weir: --set needs PATH=VALUE\n");
                return 2;
            }
            a->sets[a->n_sets++] = v;
        } else if (run && !strncmp(s, "--progress=", 11)) {
            a->progress = s + 11;
            if (strcmp(a->progress, "auto") && strcmp(a->progress, "always") &&
                strcmp(a->progress, "never")) {
                fprintf(stderr, "weir: --progress takes auto, always or never, not '%s'\n",
                        a->progress);
                return 2;
            }
        } else if (run && (!strcmp(s, "--stats") || !strncmp(s, "--stats=", 8))) {
            a->stats = s[7] == '=' ? s + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!a->stats) {
                fprintf(stderr, "weir: --stats needs a file name\n");
                return 2;
            }
        } else if (run && !strcmp(s, "--fresh")) {
            a->fresh = true;
        } else if (run &&
                   (!strcmp(s, "--from-checkpoint") || !strncmp(s, "--from-checkpoint=", 18))) {
            const char *v = s[17] == '=' ? s + 18 : (i + 1 < argc ? argv[++i] : NULL);
            char *end = NULL;
            unsigned long long id = v ? strtoull(v, &end, 10) : 0;
            if (!v || !*v || *end || !id || v[0] == '-') {
                fprintf(stderr, "weir: --from-checkpoint needs a checkpoint number (weir "
                                "checkpoints DIR lists them)\n");
                return 2;
            }
            a->from_checkpoint = id;
        } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            fputs(usage, stdout);
            exit(0);
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "weir: unknown option '%s'\n\n%s", s, usage);
            return 2;
        } else if (!a->file) {
            a->file = s;
        } else {
            fprintf(stderr, "weir: one pipeline file at a time ('%s' and '%s')\n", a->file, s);
            return 2;
        }
    }
    if (!a->file) {
        fprintf(stderr, "weir: no pipeline file given\n\n%s", usage);
        return 2;
    }
    return 0;
}

static int cmd_validate(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a, false, usage_validate);
    if (rc) return free(a.sets), rc;
    weir__built b;
    rc = weir__build(&(weir__build_options){a.file, a.sets, a.n_sets}, &b, stderr);
    free(a.sets);
    if (rc) return 2;
    weir__built_free(&b);
    printf("%s: valid\n", a.file);
    return 0;
}

static void dot_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static int cmd_graph(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a, false, usage_graph);
    if (rc) return free(a.sets), rc;
    weir__built b;
    rc = weir__build(&(weir__build_options){a.file, a.sets, a.n_sets}, &b, stderr);
    free(a.sets);
    if (rc) return 2;
    weir_pipeline *p = b.pipeline;
    printf("digraph weir {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    uint32_t n = weir_pipeline_node_count(p);
    for (uint32_t i = 0; i < n; i++) {
        char label[512];
        const char *kind = weir_pipeline_node_kind(p, i), *name = weir_pipeline_node_name(p, i);
        if (strcmp(kind, name))
            snprintf(label, sizeof label, "%s\\n%s", name, kind);
        else
            snprintf(label, sizeof label, "%s", kind);
        printf("  n%u [label=", i);
        dot_string(label);
        printf("];\n");
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t nodes[16], ports[16];
        uint32_t k = weir_pipeline_node_inputs(p, i, nodes, ports, 16);
        for (uint32_t j = 0; j < k && j < 16; j++) {
            printf("  n%u -> n%u", nodes[j], i);
            if (ports[j])
                printf(" [label=\"output %u\", style=dashed]", ports[j]);
            else if (weir_pipeline_node_input_keyed(p, i, j))
                printf(" [label=\"exchange (by key%s)\", style=bold]",
                       j == 0 && weir_pipeline_node_lifted(p, i)
                           ? "; pre-aggregated per worker when several run"
                           : "");
            printf(";\n");
        }
    }
    printf("}\n");
    weir__built_free(&b);
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a, true, usage_run);
    if (rc) return free(a.sets), rc;
    weir__built b;
    rc = weir__build(&(weir__build_options){a.file, a.sets, a.n_sets}, &b, stderr);
    free(a.sets);
    if (rc) return 2;

    weir__progress prog;
    weir__progress_init(&prog, stderr);
    bool show = !strcmp(a.progress, "always") || (!strcmp(a.progress, "auto") && isatty(2));
    weir_run_options ro = {.workers = b.workers,
                           .pin_workers = b.pin_workers,
                           .no_combiner_lifting = !b.combiner_lifting,
                           .checkpoint = {.dir = b.checkpoint_dir,
                                          .interval = b.checkpoint_interval,
                                          .retain = b.checkpoint_retain,
                                          .fresh = a.fresh,
                                          .from = a.from_checkpoint}};
    if ((a.fresh || a.from_checkpoint) && !b.checkpoint_dir) {
        fprintf(stderr, "weir: %s needs options.checkpoint in %s\n",
                a.fresh ? "--fresh" : "--from-checkpoint", a.file);
        weir__built_free(&b);
        return 2;
    }
    if (a.fresh && a.from_checkpoint) {
        fprintf(stderr, "weir: --fresh and --from-checkpoint exclude each other\n");
        weir__built_free(&b);
        return 2;
    }
    if (show) {
        ro.progress = weir__progress_update;
        ro.progress_ctx = &prog;
    }
    running = b.pipeline;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int err = weir_run(b.pipeline, &ro);
    running = NULL;
    weir__progress_clear(&prog);
    weir_run_stats st;
    weir_pipeline_stats(b.pipeline, &st);
    if (err) fprintf(stderr, "weir: error: %s\n", weir_pipeline_error(b.pipeline));
    weir__progress_summary(stderr, &st);
    int status = err ? 1 : 0;
    if (a.stats && weir__progress_write_stats(a.stats, &st, err)) {
        fprintf(stderr, "weir: error: %s: cannot write the stats file\n", a.stats);
        status = 1;
    }
    weir__built_free(&b);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("weir %s\n", weir_version());
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
        return help(argc > 2 ? argv[2] : NULL);
    if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "validate")) return cmd_validate(argc - 2, argv + 2);
    if (!strcmp(cmd, "graph")) return cmd_graph(argc - 2, argv + 2);
    if (!strcmp(cmd, "kafka-dev")) return weir__kafka_dev_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "checkpoints"))
        return weir__checkpoints_main(argc - 2, argv + 2, usage_checkpoints);
    fprintf(stderr, "weir: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
