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
    int32_t *key_fields;
    uint32_t n_key_fields;
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
    _Atomic(struct weir__run *) run; /* set while running */
};

#include "ring.h"

#define WEIR__KEY_GROUPS 128

/* An exchange: the edge from a producer to a keyed input, repartitioned by key. Rows travel in
 * batches through one ring per ordered worker pair; used batches come back through a free ring
 * in the other direction so they are reused without allocation. */
typedef struct weir__xchg {
    uint32_t producer, port;  /* producing node and its output port */
    uint32_t consumer, input; /* keyed node and its input */
    const int32_t *key_fields;
    uint32_t n_key_fields;
    const weir_schema *schema;
    weir__ring *data; /* [from * n + to] */
    weir__ring *free; /* [to * n + from]: batches going back to their sender */
} weir__xchg;

/* Receiving side of an exchange in one worker: a watermark per channel (sending worker). */
typedef struct weir__xrecv {
    int64_t *chan_wm;
    bool *ended;
    uint32_t n_ended;
    bool delivered_end;
    /* Until every channel has sent its first batch, nothing is delivered: a worker without a
     * partition of the input sends END first, and only once that is known does the minimum over
     * channels equal the watermark of the partitions that exist. So a single-partition input gives
     * the same results at any worker count. */
    bool *started;
    uint32_t n_started;
    struct weir_batch **held; /* batches waiting for that, in arrival order */
    uint32_t *held_from;
    uint32_t n_held, cap_held;
} weir__xrecv;

/* One run: the workers and the exchanges between them. */
typedef struct weir__run {
    weir_pipeline *p;
    uint32_t n_workers;
    struct weir_worker **workers;
    weir__xchg *xchg;
    uint32_t n_xchg;
    _Atomic int failed;
    _Atomic uint32_t running; /* workers whose loop still runs */
    const weir_run_options *opt;
} weir__run;

struct weir_worker {
    weir_pipeline *p;
    weir__run *run;
    uint32_t id;
    uv_loop_t loop;
    uv_idle_t pump;
    uv_timer_t timer;    /* processing-time deadlines */
    uv_timer_t progress; /* progress callback (worker 0) */
    uv_async_t wake;     /* data or room in a ring, a stop request, another worker's failure */
    bool handles_open;
    weir_operator *ops; /* the graph's nodes, then one exchange sender per exchange */
    uint32_t n_ops;
    uint32_t *sources; /* indexes of source operators still running */
    uint32_t n_sources;
    bool *source_idle;
    weir__xrecv *recv; /* [n_xchg] */
    uint32_t batch_size;
    weir_clock_fn clock;
    void *clock_ctx;
    const weir_run_options *opt;
    int status; /* first error */
    bool stopping;
    bool finished;
    bool any_deadline;         /* some operator asked for a processing-time wake-up */
    _Atomic int64_t source_wm; /* watermark its sources last reported (progress display) */
    _Atomic int blocked;       /* batches wait for room in a ring: sources are not pulled */
    uint32_t n_pending;        /* batches waiting for room, over every exchange sender */
    uv_thread_t thread;
};

/* engine/exchange.c */
extern const weir_operator_class weir__xchg_send_class;
/* Creates the sender state of exchange x in worker w (op->state). 0 or WEIR_ENOMEM. */
int weir__xchg_send_open(weir_operator *op, weir__xchg *x);
/* Retries batches waiting for room; returns how many still wait. */
uint32_t weir__xchg_send_retry(weir_operator *op);
/* Delivers what arrived for worker w: returns whether anything was delivered; errors are
 * recorded in w->status. */
bool weir__xchg_drain(struct weir_worker *w);
/* Frees what an exchange still holds after the run. */
void weir__xchg_finish(weir__run *run);

#endif
