/* runner/checkpoints_cmd.c: `weir checkpoints DIR`: one line per checkpoint directory in DIR,
 * oldest first, with its completion time, size, worker count and state. Every file of a
 * complete checkpoint is read and its checksum verified, so "complete" means a restart can use
 * it; the states and what a restart does with each are those of engine/checkpoint.c. */
#include "checkpoints_cmd.h"

#include "../state/checkpoint_store.h"
#include "weir/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void human_size(char *out, size_t n, uint64_t bytes)
{
    if (bytes < 1024)
        snprintf(out, n, "%" PRIu64 " B", bytes);
    else if (bytes < 1024 * 1024)
        snprintf(out, n, "%.1f KiB", (double)bytes / 1024);
    else if (bytes < 1024ull * 1024 * 1024)
        snprintf(out, n, "%.1f MiB", (double)bytes / (1024.0 * 1024));
    else
        snprintf(out, n, "%.2f GiB", (double)bytes / (1024.0 * 1024 * 1024));
}

static void utc(char *out, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03d", (int)(ms % 1000));
}

int weir__checkpoints_main(int argc, char **argv, const char *usage)
{
    if (argc >= 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc != 1 || argv[0][0] == '-') {
        fprintf(stderr, "weir: checkpoints takes one directory\n\n%s", usage);
        return 2;
    }
    const char *dir = argv[0];
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "weir: error: %s: %s\n", dir,
                errno == ENOENT || !errno ? "no such directory" : strerror(errno));
        return 1;
    }
    uint64_t *ids;
    uint32_t n;
    if (weir__ck_list(dir, &ids, &n)) {
        fprintf(stderr, "weir: error: cannot read %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (!n) {
        printf("no checkpoints in %s\n", dir);
        free(ids);
        return 0;
    }
    int status = 0;
    printf("%-6s %-23s %10s %7s  %s\n", "ID", "COMPLETED (UTC)", "SIZE", "WORKERS", "STATE");
    for (uint32_t i = 0; i < n; i++) {
        char size[32], when[40] = "-", workers[16] = "-", state[1200];
        human_size(size, sizeof size, weir__ck_size(dir, ids[i]));
        weir__ck_manifest m;
        char err[1024];
        int rc = weir__ck_read_manifest(dir, ids[i], &m, err, sizeof err);
        if (rc == WEIR_ENOENT) {
            snprintf(state, sizeof state, "incomplete (no MANIFEST: a restart skips it)");
        } else if (rc) {
            snprintf(state, sizeof state, "damaged: %s", err);
            status = 1;
        } else {
            utc(when, sizeof when, m.time_ms);
            snprintf(workers, sizeof workers, "%u", m.workers);
            snprintf(state, sizeof state, "%s",
                     m.ended   ? "final (inputs ended)"
                     : m.final ? "final (stopped)"
                               : "complete");
            for (uint32_t f = 0; f < m.n_files; f++) {
                weir__ck_state s;
                if (weir__ck_read_state(dir, ids[i], &m.files[f], &s, err, sizeof err)) {
                    snprintf(state, sizeof state, "damaged: %s", err);
                    status = 1;
                    break;
                }
                weir__ck_state_free(&s);
            }
            weir__ck_manifest_free(&m);
        }
        printf("%-6" PRIu64 " %-23s %10s %7s  %s\n", ids[i], when, size, workers, state);
    }
    free(ids);
    return status;
}
