/* runner/build.h: YAML pipeline file to weir pipeline (the DSL calls), with compiler-style
 * diagnostics. Private to the runner. */
#ifndef WEIR_RUNNER_BUILD_H
#define WEIR_RUNNER_BUILD_H

#include "weir/pipeline.h"

#include <stdio.h>

typedef struct weir__build_options {
    const char *path;
    const char *const *sets; /* "path=value" overrides */
    uint32_t n_sets;
} weir__build_options;

typedef struct weir__built {
    weir_pipeline *pipeline;
    uint32_t workers;            /* options.workers (0: default) */
    bool pin_workers;            /* options.pin_workers */
    bool combiner_lifting;       /* options.combiner_lifting (default true) */
    char *checkpoint_dir;        /* options.checkpoint.dir (malloc'ed), or NULL */
    int64_t checkpoint_interval; /* ms */
    uint32_t checkpoint_retain;
} weir__built;

/* Loads and checks the file; on success builds the pipeline into out (destroy with
 * weir_pipeline_destroy). Every problem is printed to err as FILE:LINE:COLUMN: error: ...
 * Returns 0, or 2 when the file is invalid (nothing built). */
int weir__build(const weir__build_options *opt, weir__built *out, FILE *err);
/* Destroys what weir__build built. */
void weir__built_free(weir__built *b);

#endif
