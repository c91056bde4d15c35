/* engine/worker.c: a worker owns one libuv loop and one instance of every node of the graph,
 * and drives data from its sources to its sinks.
 *
 * Driving is push-based and synchronous inside a worker: the worker asks a source for a batch
 * (pull); the source emits it, and each operator's process() hands its output straight to its
 * consumers before returning. So a batch is borrowed for the duration of a call and never needs
 * reference counting. Sources are pulled from a uv_idle_t while they have data; a source that is
 * IDLE (waiting on I/O) wakes the worker when data arrives. Processing-time deadlines of the
 * operators are served by one uv_timer_t. A stop request (signal) arrives through uv_async_t.
 *
 * weir_run runs a single worker on the calling thread for now; the structure (one loop and one
 * set of instances per worker, counters shared atomically) is what several workers will use. */
#include "engine.h"
#include "weir/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- operator services ---- */

int weir_operator_emit_port(weir_operator *op, uint32_t port, const weir_batch *b)
{
    for (uint32_t i = 0; i < op->n_out; i++) {
        if (op->out[i].port != port) continue;
        weir_operator *to = op->out[i].to;
        int rc = to->cls->process(to, op->out[i].input, b);
        if (rc) return rc;
    }
    return 0;
}

int weir_operator_emit(weir_operator *op, const weir_batch *b)
{
    return weir_operator_emit_port(op, 0, b);
}

bool weir_operator_port_used(const weir_operator *op, uint32_t port)
{
    for (uint32_t i = 0; i < op->n_out; i++)
        if (op->out[i].port == port) return true;
    return false;
}

int weir_operator_fail(weir_operator *op, int code, const char *fmt, ...)
{
    weir_pipeline *p = op->worker->p;
    if (!op->worker->status) op->worker->status = code;
    if (!p->status) {
        p->status = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->error, sizeof p->error, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int64_t real_clock(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t weir_operator_now(const weir_operator *op)
{
    return op->worker->clock(op->worker->clock_ctx);
}

void weir_operator_wake_at(weir_operator *op, int64_t t)
{
    op->deadline = t;
    if (t != WEIR_TIME_MAX) op->worker->any_deadline = true;
}

void weir_operator_count_late(weir_operator *op, uint64_t n)
{
    atomic_fetch_add_explicit(&op->worker->p->counters.late, n, memory_order_relaxed);
}
void weir_operator_count_errors(weir_operator *op, uint64_t n)
{
    atomic_fetch_add_explicit(&op->worker->p->counters.errors, n, memory_order_relaxed);
}
void weir_operator_count_read(weir_operator *op, uint64_t n)
{
    atomic_fetch_add_explicit(&op->worker->p->counters.read, n, memory_order_relaxed);
}
void weir_operator_count_written(weir_operator *op, uint64_t n)
{
    atomic_fetch_add_explicit(&op->worker->p->counters.written, n, memory_order_relaxed);
}
void weir_operator_report_watermark(weir_operator *op, int64_t wm)
{
    atomic_store_explicit(&op->worker->p->counters.watermark, wm, memory_order_relaxed);
}
uint32_t weir_operator_batch_size(const weir_operator *op) { return op->worker->batch_size; }

/* ---- instantiation ---- */

static int worker_instantiate(weir_worker *w)
{
    weir_pipeline *p = w->p;
    w->n_ops = p->n_nodes;
    w->ops = calloc(p->n_nodes, sizeof *w->ops);
    w->sources = calloc(p->n_nodes, sizeof *w->sources);
    w->source_idle = calloc(p->n_nodes, sizeof *w->source_idle);
    if (!w->ops || !w->sources || !w->source_idle) return WEIR_ENOMEM;
    for (uint32_t i = 0; i < p->n_nodes; i++) {
        weir_operator *op = &w->ops[i];
        op->cls = p->nodes[i].cls;
        op->worker = w;
        op->out_schema = p->nodes[i].schema[0];
        op->name = p->nodes[i].name;
        op->n_inputs = p->nodes[i].n_inputs;
        op->index = i;
        op->deadline = WEIR_TIME_MAX;
    }
    /* edges: count consumers per producer, then fill */
    for (uint32_t i = 0; i < p->n_nodes; i++)
        for (uint32_t k = 0; k < p->nodes[i].n_inputs; k++) w->ops[p->nodes[i].in_node[k]].n_out++;
    for (uint32_t i = 0; i < p->n_nodes; i++) {
        w->ops[i].out = calloc(w->ops[i].n_out + 1, sizeof *w->ops[i].out);
        if (!w->ops[i].out) return WEIR_ENOMEM;
        w->ops[i].n_out = 0;
    }
    for (uint32_t i = 0; i < p->n_nodes; i++)
        for (uint32_t k = 0; k < p->nodes[i].n_inputs; k++) {
            weir_operator *from = &w->ops[p->nodes[i].in_node[k]];
            from->out[from->n_out++] =
                (weir__edge){.to = &w->ops[i], .input = k, .port = p->nodes[i].in_port[k]};
        }
    for (uint32_t i = 0; i < p->n_nodes; i++) {
        weir_operator *op = &w->ops[i];
        char errbuf[512] = "";
        int rc = op->cls->open ? op->cls->open(op, p->nodes[i].config, errbuf, sizeof errbuf) : 0;
        if (rc) {
            weir_pipeline_set_error(p, rc, "%s", errbuf[0] ? errbuf : weir_strerror(rc));
            return rc;
        }
        if (op->cls->pull) w->sources[w->n_sources++] = i;
    }
    return 0;
}

static void worker_finish(weir_worker *w)
{
    if (w->ops) {
        for (uint32_t i = 0; i < w->n_ops; i++) {
            if (w->ops[i].cls && w->ops[i].cls->close) w->ops[i].cls->close(&w->ops[i]);
            free(w->ops[i].out);
        }
    }
    free(w->ops);
    free(w->sources);
    free(w->source_idle);
}

/* ---- the loop ---- */

static void close_all(weir_worker *w)
{
    uv_idle_stop(&w->pump);
    uv_timer_stop(&w->timer);
    uv_timer_stop(&w->progress);
    uv_close((uv_handle_t *)&w->pump, NULL);
    uv_close((uv_handle_t *)&w->timer, NULL);
    uv_close((uv_handle_t *)&w->progress, NULL);
    atomic_store(&w->p->stop_async_live, NULL);
    uv_close((uv_handle_t *)&w->stop, NULL);
}

static void arm_timer(weir_worker *w);

/* Calls on_time of every operator whose processing-time deadline has passed. Called from the
 * timer and after every pull, so that an injected clock moved by a source (tests) takes effect
 * exactly between the batches it separates. */
static void run_due(weir_worker *w)
{
    int64_t now = w->clock(w->clock_ctx);
    for (uint32_t i = 0; i < w->n_ops && !w->status; i++) {
        weir_operator *op = &w->ops[i];
        if (op->deadline <= now && op->cls->on_time) {
            op->deadline = WEIR_TIME_MAX;
            int rc = op->cls->on_time(op, now);
            if (rc && !w->status) w->status = rc;
        }
    }
}

static void on_timer(uv_timer_t *t)
{
    weir_worker *w = t->data;
    run_due(w);
    if (w->status) {
        close_all(w);
        return;
    }
    arm_timer(w);
}

static void arm_timer(weir_worker *w)
{
    int64_t next = WEIR_TIME_MAX;
    for (uint32_t i = 0; i < w->n_ops; i++)
        if (w->ops[i].deadline < next) next = w->ops[i].deadline;
    if (next == WEIR_TIME_MAX) {
        uv_timer_stop(&w->timer);
        return;
    }
    int64_t now = w->clock(w->clock_ctx);
    uint64_t delay = next > now ? (uint64_t)(next - now) : 0;
    uv_timer_start(&w->timer, on_timer, delay, 0);
}

static void stop_sources(weir_worker *w)
{
    if (w->stopping) return;
    w->stopping = true;
    for (uint32_t i = 0; i < w->n_sources; i++) {
        weir_operator *op = &w->ops[w->sources[i]];
        if (op->cls->stop) op->cls->stop(op);
        w->source_idle[i] = false;
    }
    uv_idle_start(&w->pump, NULL); /* re-armed below by the caller */
}

static void on_pump(uv_idle_t *h);

static void on_stop(uv_async_t *a)
{
    weir_worker *w = a->data;
    stop_sources(w);
    uv_idle_start(&w->pump, on_pump);
}

static void on_pump(uv_idle_t *h)
{
    weir_worker *w = h->data;
    if (atomic_load(&w->p->stop_requested) && !w->stopping) stop_sources(w), uv_idle_start(h, on_pump);
    bool any_active = false;
    for (uint32_t i = 0; i < w->n_sources && !w->status;) {
        if (w->source_idle[i]) {
            i++;
            continue;
        }
        weir_operator *op = &w->ops[w->sources[i]];
        int rc = op->cls->pull(op, w->batch_size);
        if (rc < 0) {
            if (!w->status) w->status = rc;
            break;
        }
        if (w->any_deadline) run_due(w);
        if (rc == WEIR_PULL_END) {
            w->sources[i] = w->sources[--w->n_sources];
            w->source_idle[i] = w->source_idle[w->n_sources];
            continue;
        }
        if (rc == WEIR_PULL_IDLE)
            w->source_idle[i] = true;
        else
            any_active = true;
        i++;
    }
    if (w->status || w->n_sources == 0) {
        if (!w->status) {
            /* drain processing-time work that is already due, then finish */
            on_timer(&w->timer);
            if (uv_is_closing((uv_handle_t *)&w->pump)) return;
        }
        close_all(w);
        return;
    }
    if (!any_active) uv_idle_stop(&w->pump);
    arm_timer(w);
}

static void on_progress(uv_timer_t *t)
{
    weir_worker *w = t->data;
    weir_run_stats s;
    weir_pipeline_stats(w->p, &s);
    w->opt->progress(&s, w->opt->progress_ctx);
}

int weir_run(weir_pipeline *p, const weir_run_options *opt)
{
    static const weir_run_options defaults = {0};
    if (!p) return WEIR_EINVAL;
    if (!opt) opt = &defaults;
    if (p->status) return p->status;
    if (p->ran) return weir_pipeline_set_error(p, WEIR_ESTATE, "a pipeline runs only once");
    p->ran = true;
    if (p->n_nodes == 0) return weir_pipeline_set_error(p, WEIR_EINVAL, "the pipeline is empty");

    weir_worker *w = calloc(1, sizeof *w);
    if (!w) return weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    w->p = p;
    w->opt = opt;
    w->batch_size = opt->batch_size ? opt->batch_size : WEIR_BATCH_DEFAULT_CAPACITY;
    w->clock = opt->clock ? opt->clock : real_clock;
    w->clock_ctx = opt->clock_ctx;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    int rc = uv_loop_init(&w->loop);
    if (rc) {
        free(w);
        return weir_pipeline_set_error(p, WEIR_EIO, "cannot start the event loop: %s",
                                       uv_strerror(rc));
    }
    rc = worker_instantiate(w);
    if (rc) {
        if (!p->status) weir_pipeline_set_error(p, rc, "%s", weir_strerror(rc));
        worker_finish(w);
        uv_loop_close(&w->loop);
        free(w);
        return p->status;
    }
    uv_idle_init(&w->loop, &w->pump);
    uv_timer_init(&w->loop, &w->timer);
    uv_timer_init(&w->loop, &w->progress);
    uv_async_init(&w->loop, &w->stop, on_stop);
    w->pump.data = w->timer.data = w->progress.data = w->stop.data = w;
    atomic_store(&p->stop_async_live, &w->stop);
    uv_idle_start(&w->pump, on_pump);
    if (opt->progress) uv_timer_start(&w->progress, on_progress, 100, 100);
    if (atomic_load(&p->stop_requested)) uv_async_send(&w->stop);

    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    rc = w->status ? w->status : 0;
    worker_finish(w);
    free(w);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    p->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc && !p->status) weir_pipeline_set_error(p, rc, "%s", weir_strerror(rc));
    return rc ? p->status : 0;
}

void weir_pipeline_stop(weir_pipeline *p)
{
    if (!p) return;
    atomic_store(&p->stop_requested, 1);
    uv_async_t *a = atomic_load(&p->stop_async_live);
    if (a) uv_async_send(a);
}

/* Wakes the worker of op after its source went IDLE (from the worker's own thread). */
void weir_worker_wake(weir_operator *op)
{
    weir_worker *w = op->worker;
    for (uint32_t i = 0; i < w->n_sources; i++)
        if (w->sources[i] == op->index) w->source_idle[i] = false;
    uv_idle_start(&w->pump, on_pump);
}

struct uv_loop_s *weir_worker_loop(weir_operator *op) { return &op->worker->loop; }
