/* runner/progress.h: the one-line progress display, the summary line and the --stats file of
 * `weir run`. Private to the runner. */
#ifndef WEIR_RUNNER_PROGRESS_H
#define WEIR_RUNNER_PROGRESS_H

#include "weir/pipeline.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct weir__progress {
    FILE *out;
    bool shown;       /* a progress line is on screen */
    double last_secs; /* for the rate */
    uint64_t last_read;
    double t0;
} weir__progress;

void weir__progress_init(weir__progress *p, FILE *out);
/* The progress callback of weir_run_options (ctx: a weir__progress). */
void weir__progress_update(const weir_run_stats *s, void *ctx);
/* Clears the progress line if shown. */
void weir__progress_clear(weir__progress *p);
/* "weir: read N records, wrote N, dropped N as late, N errors in S s (R records/s)" */
void weir__progress_summary(FILE *out, const weir_run_stats *s);
/* Writes the stats as JSON to path; 0 or -1 with errno set. */
int weir__progress_write_stats(const char *path, const weir_run_stats *s, int status);

#endif
