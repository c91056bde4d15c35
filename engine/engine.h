/* engine/engine.h: private structures of the engine shared by its files (pipeline.c builds the
 * logical graph, worker.c instantiates and drives it). Nothing outside engine/ includes this. */
#ifndef WEIR_ENGINE_PRIVATE_H
#define WEIR_ENGINE_PRIVATE_H

#include "weir/graph.h"
#include "weir/pipeline.h"

#include <stdatomic.h>
#include <uv.h>

#define WEIR__MAX_PORTS 5

typedef struct weir__node {
    char *kind, *name;
    const weir_operator_class *cls;
    void *config;
    void (*config_free)(void *);
    uint32_t n_inputs;
    uint32_t *in_node, *in_port; /* producers of each input */
    weir_schema *schema[WEIR__MAX_PORTS];
    uint32_t n_ports; /* 1 + extra outputs (0 for sinks) */
    bool keyed;
} weir__node;

struct weir_stream {
    weir_pipeline *p;
    uint32_t node;
    uint32_t port;
    bool failed;
};

typedef struct weir__counters {
    _Atomic uint64_t read, written, late, errors;
    _Atomic int64_t watermark;
} weir__counters;

struct weir_pipeline {
    weir__node *nodes;
    uint32_t n_nodes, cap_nodes;
    weir_stream **streams; /* every stream handed out, freed with the pipeline */
    uint32_t n_streams, cap_streams;
    weir_stream failed;
    int status;
    char error[1024];
    bool ran;
    weir__counters counters;
    double seconds;
    _Atomic int stop_requested;
    uv_async_t *stop_async; /* set while running */
    _Atomic(uv_async_t *) stop_async_live;
};

struct weir_worker {
    weir_pipeline *p;
    uint32_t id;
    uv_loop_t loop;
    uv_idle_t pump;
    uv_timer_t timer;    /* processing-time deadlines */
    uv_timer_t progress; /* progress callback */
    uv_async_t stop;
    weir_operator *ops;
    uint32_t n_ops;
    uint32_t *sources;  /* indexes of source operators still running */
    uint32_t n_sources;
    bool *source_idle;
    uint32_t batch_size;
    weir_clock_fn clock;
    void *clock_ctx;
    const weir_run_options *opt;
    int status; /* first error */
    bool stopping;
    bool any_deadline; /* some operator asked for a processing-time wake-up */
};

#endif
