/* runner/progress.c: what `weir run` shows about a run: a one-line progress display on a
 * terminal (records in, records/s, watermark), redrawn in place with \r about every 100 ms;
 * the summary line at exit; and the same counters as JSON for --stats. */
#include "progress.h"
#include "weir/timestamp.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void weir__progress_init(weir__progress *p, FILE *out)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->t0 = p->last_secs = mono();
}

static void format_wm(int64_t wm, char *buf, size_t n)
{
    if (wm == INT64_MIN)
        snprintf(buf, n, "-inf");
    else if (wm == INT64_MAX)
        snprintf(buf, n, "+inf");
    else
        weir_timestamp_format(wm, buf, n);
}

void weir__progress_update(const weir_run_stats *s, void *ctx)
{
    weir__progress *p = ctx;
    double now = mono();
    double dt = now - p->last_secs;
    double rate = dt > 0 ? (double)(s->records_read - p->last_read) / dt : 0;
    p->last_secs = now;
    p->last_read = s->records_read;
    char wm[64];
    format_wm(s->watermark, wm, sizeof wm);
    fprintf(p->out, "\r\033[K%" PRIu64 " records in, %.0f records/s, watermark %s", s->records_read,
            rate, wm);
    fflush(p->out);
    p->shown = true;
}

void weir__progress_clear(weir__progress *p)
{
    if (!p->shown) return;
    fprintf(p->out, "\r\033[K");
    fflush(p->out);
    p->shown = false;
}

void weir__progress_summary(FILE *out, const weir_run_stats *s)
{
    double rate = s->seconds > 0 ? (double)s->records_read / s->seconds : 0;
    fprintf(out,
            "weir: read %" PRIu64 " records, wrote %" PRIu64 ", dropped %" PRIu64
            " as late, %" PRIu64 " errors in %.2f s (%.0f records/s)\n",
            s->records_read, s->records_written, s->dropped_late, s->errors, s->seconds, rate);
}

int weir__progress_write_stats(const char *path, const weir_run_stats *s, int status)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f,
            "{\"records_read\":%" PRIu64 ",\"records_written\":%" PRIu64
            ",\"dropped_late\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"seconds\":%.6f,\"status\":\"%s\"}\n",
            s->records_read, s->records_written, s->dropped_late, s->errors, s->seconds,
            status ? "failed" : "ok");
    return fclose(f) == 0 ? 0 : -1;
}
