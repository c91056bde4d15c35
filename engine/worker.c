/* engine/worker.c: workers: each owns one libuv loop on its own thread and one instance of
 * every node of the graph, and drives data from its sources to its sinks.
 *
 * Driving is push-based and synchronous inside a worker: the worker asks a source for a batch
 * (pull); the source emits it, and each operator's process() hands its output straight to its
 * consumers before returning. So a batch is borrowed for the duration of a call and never needs
 * reference counting. Where the key changes (a keyed input), rows cross to the worker that owns
 * their key through the exchange (engine/exchange.c). Sources are pulled from a uv_idle_t while
 * they have data and no exchange queue is full; a source that is IDLE (waiting on I/O) wakes the
 * worker when data arrives. One uv_async_t per worker carries every cross-thread signal: data or
 * room in a ring, a stop request, another worker's failure. Processing-time deadlines of the
 * operators are served by one uv_timer_t.
 *
 * A worker finishes when its sources ended, every exchange delivered its END and nothing waits
 * to be sent. Worker 0 runs on the calling thread; the others on threads of their own. */
#include "engine.h"
#include "weir/error.h"

#include <pthread.h>
#include <sched.h>
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

static uv_mutex_t error_lock; /* the pipeline's first error, set by any worker */
static uv_once_t error_once = UV_ONCE_INIT;
static void error_lock_init(void)
{
    uv_mutex_init(&error_lock);
}

int weir_operator_fail(weir_operator *op, int code, const char *fmt, ...)
{
    weir_pipeline *p = op->worker->p;
    if (!op->worker->status) op->worker->status = code;
    uv_once(&error_once, error_lock_init);
    uv_mutex_lock(&error_lock);
    if (!p->status) {
        p->status = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->error, sizeof p->error, fmt, ap);
        va_end(ap);
    }
    uv_mutex_unlock(&error_lock);
    return code;
}

int weir__run_fail(weir__run *run, int code, const char *fmt, ...)
{
    weir_pipeline *p = run->p;
    uv_once(&error_once, error_lock_init);
    uv_mutex_lock(&error_lock);
    if (!p->status) {
        p->status = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->error, sizeof p->error, fmt, ap);
        va_end(ap);
    }
    uv_mutex_unlock(&error_lock);
    atomic_store(&run->failed, 1);
    atomic_thread_fence(memory_order_seq_cst);
    for (uint32_t i = 0; i < run->n_workers; i++)
        if (run->workers[i] && run->workers[i]->handles_open) uv_async_send(&run->workers[i]->wake);
    return code;
}

void weir_pipeline_checkpoint_stats(const weir_pipeline *p, weir_checkpoint_stats *out)
{
    if (!out) return;
    if (!p) {
        *out = (weir_checkpoint_stats){0};
        return;
    }
    *out = p->ck_stats;
}

static int64_t real_clock(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool weir_operator_downstream_watermark_blind(const weir_operator *op)
{
    const weir_pipeline *p = op->worker->p;
    const weir__run *run = op->worker->run;
    uint32_t from = op->index;
    for (uint32_t xi = 0; xi < run->n_xchg; xi++) /* a lifted combiner: its node's downstream */
        if (run->xchg[xi].lift_op >= 0 && (uint32_t)run->xchg[xi].lift_op == op->index)
            from = run->xchg[xi].consumer;
    if (from >= p->n_nodes) return false;
    /* the nodes reachable from `from`, each looked at once */
    bool *seen = calloc(p->n_nodes, sizeof *seen);
    uint32_t *stack = malloc(p->n_nodes * sizeof *stack), n = 0;
    bool blind = seen && stack;
    if (blind) stack[n++] = from, seen[from] = true;
    while (blind && n) {
        uint32_t i = stack[--n];
        for (uint32_t j = 0; j < p->n_nodes && blind; j++) {
            const weir__node *d = &p->nodes[j];
            for (uint32_t k = 0; k < d->n_inputs; k++) {
                if (d->in_node[k] != i || seen[j]) continue;
                seen[j] = true;
                if (!d->cls->watermark_blind) blind = false;
                stack[n++] = j;
                break;
            }
        }
    }
    free(seen);
    free(stack);
    return blind;
}

int64_t weir_operator_now(const weir_operator *op)
{
    return op->worker->clock(op->worker->clock_ctx);
}

uint32_t weir_operator_worker_index(const weir_operator *op)
{
    return op->worker->id;
}
uint32_t weir_operator_worker_count(const weir_operator *op)
{
    return op->worker->run ? op->worker->run->n_workers : 1;
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
    atomic_store_explicit(&op->worker->source_wm, wm, memory_order_relaxed);
    /* the run's watermark: the minimum over the workers' partitions */
    weir__run *run = op->worker->run;
    int64_t m = WEIR_TIME_MAX;
    for (uint32_t i = 0; run && i < run->n_workers; i++) {
        int64_t v = atomic_load_explicit(&run->workers[i]->source_wm, memory_order_relaxed);
        if (v < m) m = v;
    }
    atomic_store_explicit(&op->worker->p->counters.watermark, m, memory_order_relaxed);
}
bool weir_operator_checkpointing(const weir_operator *op)
{
    return op->worker->opt && op->worker->opt->checkpoint.dir;
}
const char *weir_operator_checkpoint_dir(const weir_operator *op)
{
    return op->worker->opt ? op->worker->opt->checkpoint.dir : NULL;
}
uint64_t weir_operator_checkpoint_id(const weir_operator *op)
{
    return op->worker->ck_active;
}
bool weir_operator_restored(const weir_operator *op)
{
    return op->worker->run && op->worker->run->restored;
}
uint32_t weir_operator_batch_size(const weir_operator *op)
{
    return op->worker->batch_size;
}

/* ---- instantiation ---- */

static bool exchanged(const weir__run *run, uint32_t node, uint32_t input, uint32_t *xi)
{
    for (uint32_t i = 0; i < run->n_xchg; i++)
        if (run->xchg[i].consumer == node && run->xchg[i].input == input) {
            *xi = i;
            return true;
        }
    return false;
}

/* The configuration of the node whose lifted combiner is ops[i]. */
static const void *lifted_config(const weir__run *run, uint32_t i)
{
    for (uint32_t xi = 0; xi < run->n_xchg; xi++)
        if (run->xchg[xi].lift_op == (int32_t)i)
            return run->p->nodes[run->xchg[xi].consumer].config;
    return NULL;
}

bool weir_operator_input_lifted(const weir_operator *op, uint32_t input)
{
    const weir__run *run = op->worker->run;
    uint32_t xi;
    return run && op->index < run->p->n_nodes && exchanged(run, op->index, input, &xi) &&
           run->xchg[xi].lift_op >= 0;
}

static int worker_instantiate(weir_worker *w)
{
    weir_pipeline *p = w->p;
    weir__run *run = w->run;
    uint32_t n_nodes = p->n_nodes;
    w->n_ops = n_nodes + run->n_xchg + run->n_lift;
    w->ops = calloc(w->n_ops, sizeof *w->ops);
    w->sources = calloc(n_nodes, sizeof *w->sources);
    w->source_idle = calloc(n_nodes, sizeof *w->source_idle);
    w->recv = calloc(run->n_xchg + 1, sizeof *w->recv);
    if (!w->ops || !w->sources || !w->source_idle || !w->recv) return WEIR_ENOMEM;
    for (uint32_t i = 0; i < w->n_ops; i++) {
        weir_operator *op = &w->ops[i];
        op->worker = w;
        op->index = i;
        op->deadline = WEIR_TIME_MAX;
        if (i < n_nodes) {
            op->cls = p->nodes[i].cls;
            op->out_schema = p->nodes[i].schema[0];
            op->name = p->nodes[i].name;
            op->n_inputs = p->nodes[i].n_inputs;
        } else if (i < n_nodes + run->n_xchg) {
            op->cls = &weir__xchg_send_class;
            op->name = "Exchange";
            op->n_inputs = 1;
        }
    }
    for (uint32_t xi = 0; xi < run->n_xchg; xi++) { /* lifted combiners: named as their node */
        const weir__xchg *x = &run->xchg[xi];
        if (x->lift_op < 0) continue;
        weir_operator *op = &w->ops[x->lift_op];
        op->cls = p->nodes[x->consumer].lift_cls;
        op->out_schema = x->schema;
        op->name = p->nodes[x->consumer].name;
        op->n_inputs = 1;
    }
    for (uint32_t xi = 0; xi < run->n_xchg; xi++) {
        weir__xrecv *r = &w->recv[xi];
        r->chan_wm = malloc(run->n_workers * sizeof *r->chan_wm);
        r->ended = calloc(run->n_workers, sizeof *r->ended);
        r->started = calloc(run->n_workers, sizeof *r->started);
        r->idle = calloc(run->n_workers, sizeof *r->idle);
        r->barrier = calloc(run->n_workers, sizeof *r->barrier);
        r->end_seen = calloc(run->n_workers, sizeof *r->end_seen);
        r->emitted = WEIR_TIME_MIN;
        if (!r->chan_wm || !r->ended || !r->started || !r->idle || !r->barrier || !r->end_seen)
            return WEIR_ENOMEM;
        for (uint32_t k = 0; k < run->n_workers; k++) r->chan_wm[k] = WEIR_TIME_MIN;
    }
    /* edges: a keyed input is fed by its exchange sender; count consumers, then fill */
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < n_nodes; i++)
            for (uint32_t k = 0; k < p->nodes[i].n_inputs; k++) {
                weir_operator *from = &w->ops[p->nodes[i].in_node[k]];
                uint32_t xi;
                weir__edge e = {.to = &w->ops[i], .input = k, .port = p->nodes[i].in_port[k]};
                if (exchanged(run, i, k, &xi)) {
                    weir_operator *send = &w->ops[n_nodes + xi];
                    e = (weir__edge){.to = send, .port = e.port};
                    if (run->xchg[xi].lift_op >= 0) { /* producer -> lifted -> sender */
                        weir_operator *lift = &w->ops[run->xchg[xi].lift_op];
                        e.to = lift;
                        if (pass == 0)
                            lift->n_out++;
                        else
                            lift->out[lift->n_out++] = (weir__edge){.to = send};
                    }
                }
                if (pass == 0)
                    from->n_out++;
                else
                    from->out[from->n_out++] = e;
            }
        if (pass == 0)
            for (uint32_t i = 0; i < w->n_ops; i++) {
                w->ops[i].out = calloc(w->ops[i].n_out + 1, sizeof *w->ops[i].out);
                if (!w->ops[i].out) return WEIR_ENOMEM;
                w->ops[i].n_out = 0;
            }
    }
    for (uint32_t i = 0; i < w->n_ops; i++) {
        weir_operator *op = &w->ops[i];
        char errbuf[512] = "";
        int rc;
        if (i < n_nodes)
            rc = op->cls->open ? op->cls->open(op, p->nodes[i].config, errbuf, sizeof errbuf) : 0;
        else if (i < n_nodes + run->n_xchg)
            rc = weir__xchg_send_open(op, &run->xchg[i - n_nodes]);
        else
            rc =
                op->cls->open ? op->cls->open(op, lifted_config(run, i), errbuf, sizeof errbuf) : 0;
        if (rc) {
            if (errbuf[0])
                weir_operator_fail(op, rc, "%s", errbuf);
            else
                weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc));
            return rc;
        }
        if (i < n_nodes && op->cls->pull) w->sources[w->n_sources++] = i;
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
    if (w->recv && w->run)
        for (uint32_t xi = 0; xi < w->run->n_xchg; xi++) {
            free(w->recv[xi].chan_wm);
            free(w->recv[xi].ended);
            free(w->recv[xi].started);
            free(w->recv[xi].idle);
            free(w->recv[xi].barrier);
            free(w->recv[xi].end_seen);
            for (uint32_t i = 0; i < w->recv[xi].n_held; i++)
                weir_batch_destroy(w->recv[xi].held[i]);
            free(w->recv[xi].held);
            free(w->recv[xi].held_from);
        }
    free(w->recv);
    free(w->ops);
    free(w->sources);
    free(w->source_idle);
}

/* ---- the loop ---- */

static void close_all(weir_worker *w)
{
    if (!w->handles_open) return;
    w->handles_open = false;
    uv_idle_stop(&w->pump);
    uv_timer_stop(&w->timer);
    uv_timer_stop(&w->progress);
    uv_close((uv_handle_t *)&w->pump, NULL);
    uv_close((uv_handle_t *)&w->timer, NULL);
    uv_close((uv_handle_t *)&w->progress, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    /* handles operators own (a Kafka consumer's poll) may still be active: the loop returns
     * anyway, and the operators close them in their close calls */
    uv_stop(&w->loop);
}

/* A failed worker stops every worker. */
static void fail_all(weir_worker *w)
{
    weir__run *run = w->run;
    atomic_store(&run->failed, 1);
    weir__ck_notify(run, false);
    for (uint32_t i = 0; i < run->n_workers; i++)
        if (run->workers[i] != w && run->workers[i]->handles_open)
            uv_async_send(&run->workers[i]->wake);
    close_all(w);
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

static void on_pump(uv_idle_t *h);
static void retry_pending(weir_worker *w);

/* Finishes the worker when everything is done; restarts the pump when sources can run. */
static void settle(weir_worker *w)
{
    if (!w->handles_open) return;
    if (w->status || atomic_load(&w->run->failed)) {
        fail_all(w);
        return;
    }
    if (weir__ck_closed(w->run)) { /* the last checkpoint is published */
        weir__ck_step(w);          /* its checkpoint_complete calls */
        if (w->status) {
            fail_all(w);
            return;
        }
        w->finished = true;
        close_all(w);
        return;
    }
    if (w->n_pending) {
        /* `blocked` is set: one more try, after a fence, so that a receiver that popped before
         * it saw the flag cannot leave us waiting for a wake-up it never sends (the receiver
         * fences between its pop and its read of the flag, engine/exchange.c) */
        atomic_thread_fence(memory_order_seq_cst);
        retry_pending(w);
    }
    if (w->n_pending == 0) atomic_store(&w->blocked, 0);
    bool exchanges_done = true;
    for (uint32_t xi = 0; xi < w->run->n_xchg; xi++)
        exchanges_done = exchanges_done && w->recv[xi].delivered_end;
    if (w->n_sources == 0 && exchanges_done && w->n_pending == 0) {
        run_due(w); /* processing-time work already due */
        if (w->status) {
            fail_all(w);
            return;
        }
        if (weir__ck_keep_running(w)) { /* up until the last checkpoint is published */
            if (weir__ck_lazy(w))
                uv_idle_start(&w->pump, on_pump);
            else
                uv_idle_stop(&w->pump);
            arm_timer(w);
            return;
        }
        w->finished = true;
        close_all(w);
        return;
    }
    bool runnable = false;
    for (uint32_t i = 0; i < w->n_sources; i++) runnable = runnable || !w->source_idle[i];
    if ((runnable && !atomic_load(&w->blocked) && !weir__ck_paused(w)) || weir__ck_lazy(w))
        uv_idle_start(&w->pump, on_pump);
    else
        uv_idle_stop(&w->pump);
    arm_timer(w);
}

static void on_timer(uv_timer_t *t)
{
    weir_worker *w = t->data;
    run_due(w);
    settle(w);
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
}

static void retry_pending(weir_worker *w)
{
    if (!w->n_pending) return;
    for (uint32_t xi = 0; xi < w->run->n_xchg; xi++)
        weir__xchg_send_retry(&w->ops[w->p->n_nodes + xi]);
}

static void on_wake(uv_async_t *a)
{
    weir_worker *w = a->data;
    if (atomic_load(&w->run->failed)) {
        close_all(w);
        return;
    }
    if (atomic_load(&w->p->stop_requested) && !w->run->ck) stop_sources(w);
    retry_pending(w);
    weir__xchg_drain(w);
    weir__ck_step(w);
    settle(w);
}

/* One turn of the pump: every runnable source pulled once, then the exchanges served. */
static bool pump_round(weir_worker *w)
{
    bool more = false; /* some source has more right away */
    if (atomic_load(&w->p->stop_requested) && !w->run->ck) stop_sources(w);
    weir__ck_step(w);
    for (uint32_t i = 0;
         i < w->n_sources && !w->status && !atomic_load(&w->blocked) && !weir__ck_paused(w);) {
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
            more = true;
        i++;
    }
    if (!w->ck_active) w->pumped = true;
    if (!w->status && w->run->n_xchg) {
        retry_pending(w);
        weir__xchg_drain(w);
    }
    weir__ck_step(w);
    return more && !w->status && !atomic_load(&w->blocked) && !weir__ck_paused(w);
}

/* The pump (an idle handle: it runs while sources have records). Each call turns it a few
 * times, PUMP_ROUNDS or PUMP_SLICE_NS at most, before the loop polls again: a poll is a system
 * call (epoll_wait), which at one per batch cost about as much as the Combine's work on a
 * batch of a simple pipeline. Other events (another worker's rows, a timer, a stop) wait at
 * most the slice. */
enum { PUMP_ROUNDS = 16 };
#define PUMP_SLICE_NS 200000 /* 0.2 ms */

static void on_pump(uv_idle_t *h)
{
    weir_worker *w = h->data;
    uint64_t start = uv_hrtime();
    for (int round = 0; round < PUMP_ROUNDS && pump_round(w); round++)
        if (uv_hrtime() - start >= PUMP_SLICE_NS) break;
    settle(w);
}

static void on_progress(uv_timer_t *t)
{
    weir_worker *w = t->data;
    weir_run_stats s;
    weir_pipeline_stats(w->p, &s);
    w->opt->progress(&s, w->opt->progress_ctx);
}

/* options.pin_workers: worker i runs on the i-th CPU (mod their number) of those this process
 * may use. A failure stops the run with a message rather than running unpinned unannounced. */
static void pin(weir_worker *w)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed)) return;
    int n = CPU_COUNT(&allowed), k = (int)(w->id % (uint32_t)(n > 0 ? n : 1)), cpu = -1;
    for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++)
        if (CPU_ISSET(c, &allowed) && k-- == 0) cpu = c;
    if (cpu < 0) return;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    if (rc && !w->status) {
        uv_once(&error_once, error_lock_init);
        uv_mutex_lock(&error_lock);
        if (!w->p->status) {
            w->p->status = WEIR_EIO;
            snprintf(w->p->error, sizeof w->p->error, "cannot pin worker %u to CPU %d: %s", w->id,
                     cpu, strerror(rc));
        }
        uv_mutex_unlock(&error_lock);
        w->status = WEIR_EIO;
        atomic_store(&w->run->failed, 1);
    }
}

static void worker_main(void *arg)
{
    weir_worker *w = arg;
    if (w->opt->pin_workers) pin(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* ---- a run ---- */

/* One exchange per keyed input of every node (a Join has two). */
static int plan_exchanges(weir__run *run)
{
    weir_pipeline *p = run->p;
    if (run->n_workers == 1) return 0;
    for (uint32_t i = 0; i < p->n_nodes; i++)
        for (uint32_t in = 0; in < p->nodes[i].n_inputs; in++)
            if (p->nodes[i].in_keyed[in]) run->n_xchg++;
    if (!run->n_xchg) return 0;
    run->xchg = calloc(run->n_xchg, sizeof *run->xchg);
    if (!run->xchg) return WEIR_ENOMEM;
    uint32_t k = 0, n = run->n_workers;
    for (uint32_t i = 0; i < p->n_nodes; i++) {
        weir__node *node = &p->nodes[i];
        for (uint32_t in = 0; in < node->n_inputs; in++) {
            if (!node->in_keyed[in]) continue;
            weir__xchg *x = &run->xchg[k++];
            x->producer = node->in_node[in];
            x->port = node->in_port[in];
            x->consumer = i;
            x->input = in;
            x->key_fields = node->in_key_fields[in];
            x->n_key_fields = node->in_n_key_fields[in];
            x->schema = p->nodes[x->producer].schema[x->port];
            x->lift_op = -1;
            if (in == 0 && node->lift_cls && !run->opt->no_combiner_lifting) {
                x->lift_op = (int32_t)(p->n_nodes + run->n_xchg + run->n_lift++);
                x->key_fields = node->lift_key_fields;
                x->n_key_fields = node->lift_n_key_fields;
                x->schema = node->lift_schema;
            }
            x->data = calloc((size_t)n * n, sizeof *x->data);
            x->free = calloc((size_t)n * n, sizeof *x->free);
            if (!x->data || !x->free) return WEIR_ENOMEM;
            for (size_t r = 0; r < (size_t)n * n; r++)
                if (weir__ring_init(&x->data[r], 16) || weir__ring_init(&x->free[r], 32))
                    return WEIR_ENOMEM;
        }
    }
    return 0;
}

static uint32_t default_workers(void)
{
    uv_cpu_info_t *cpus;
    int n = 0;
    if (uv_cpu_info(&cpus, &n) == 0) uv_free_cpu_info(cpus, n);
    return n > 0 ? (uint32_t)n : 1;
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
    uint32_t n = opt->workers ? opt->workers : default_workers();
    if (n > 256) return weir_pipeline_set_error(p, WEIR_EINVAL, "workers must be at most 256");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    weir__run *run = calloc(1, sizeof *run);
    if (!run) return weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    run->p = p;
    run->opt = opt;
    run->n_workers = n;
    run->workers = calloc(n, sizeof *run->workers);
    int rc = run->workers ? plan_exchanges(run) : WEIR_ENOMEM;
    for (uint32_t i = 0; i < n && !rc; i++) {
        weir_worker *w = run->workers[i] = calloc(1, sizeof *w);
        if (!w) {
            rc = WEIR_ENOMEM;
            break;
        }
        w->p = p;
        w->run = run;
        w->id = i;
        w->opt = opt;
        w->batch_size = opt->batch_size ? opt->batch_size : WEIR_BATCH_DEFAULT_CAPACITY;
        w->clock = opt->clock ? opt->clock : real_clock;
        w->clock_ctx = opt->clock_ctx;
        if ((rc = uv_loop_init(&w->loop))) {
            rc = weir_pipeline_set_error(p, WEIR_EIO, "cannot start an event loop: %s",
                                         uv_strerror(rc));
            free(w);
            run->workers[i] = NULL;
            break;
        }
        uv_idle_init(&w->loop, &w->pump);
        uv_timer_init(&w->loop, &w->timer);
        uv_timer_init(&w->loop, &w->progress);
        uv_async_init(&w->loop, &w->wake, on_wake);
        w->pump.data = w->timer.data = w->progress.data = w->wake.data = w;
        w->handles_open = true;
        atomic_init(&w->source_wm, WEIR_TIME_MIN);
    }
    /* the checkpoint directory is locked before any operator opens (a sink may fence an earlier
     * run's producers), and restored into the instances once they are open */
    if (!rc) rc = weir__ck_open(run);
    for (uint32_t i = 0; i < n && !rc; i++) rc = worker_instantiate(run->workers[i]);
    if (!rc) rc = weir__ck_restore(run);
    if (!rc) rc = weir__ck_start(run);
    if (!rc) {
        atomic_store(&p->run, run);
        for (uint32_t i = 0; i < n; i++) uv_idle_start(&run->workers[i]->pump, on_pump);
        if (opt->progress) uv_timer_start(&run->workers[0]->progress, on_progress, 100, 100);
        if (atomic_load(&p->stop_requested)) weir_pipeline_stop(p);
        for (uint32_t i = 1; i < n && !rc; i++)
            if (uv_thread_create(&run->workers[i]->thread, worker_main, run->workers[i])) {
                rc = weir_pipeline_set_error(p, WEIR_EIO, "cannot start worker thread %u", i);
                /* the ones started stop with the failure flag */
                atomic_store(&run->failed, 1);
                n = i; /* join only those started */
                break;
            }
        cpu_set_t caller;
        bool restore =
            opt->pin_workers && !pthread_getaffinity_np(pthread_self(), sizeof caller, &caller);
        worker_main(run->workers[0]);
        if (restore) pthread_setaffinity_np(pthread_self(), sizeof caller, &caller);
        for (uint32_t i = 1; i < n; i++) uv_thread_join(&run->workers[i]->thread);
        atomic_store(&p->run, NULL);
    }
    weir__ck_finish(run, &p->ck_stats);
    if (!rc && p->status) rc = p->status; /* a failure recorded by the coordinator */
    for (uint32_t i = 0; i < run->n_workers; i++) {
        weir_worker *w = run->workers ? run->workers[i] : NULL;
        if (!w) continue;
        if (!rc && w->status) rc = w->status;
        if (w->handles_open) { /* never ran (setup failed): close, then let the loop finish */
            close_all(w);
            uv_run(&w->loop, UV_RUN_DEFAULT);
        }
    }
    /* every worker's operators are closed before any worker is freed: a close may still look
     * at the run (a Kafka consumer's last revoke reports its watermark over every worker) */
    for (uint32_t i = 0; i < run->n_workers; i++) {
        weir_worker *w = run->workers ? run->workers[i] : NULL;
        if (!w) continue;
        worker_finish(w);
        uv_run(&w->loop, UV_RUN_DEFAULT); /* close callbacks of handles the operators closed */
    }
    for (uint32_t i = 0; i < run->n_workers; i++) {
        weir_worker *w = run->workers ? run->workers[i] : NULL;
        if (!w) continue;
        uv_loop_close(&w->loop);
        free(w);
    }
    weir__xchg_finish(run);
    free(run->workers);
    free(run);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    p->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc && !p->status) weir_pipeline_set_error(p, rc, "%s", weir_strerror(rc));
    return rc ? p->status : 0;
}

void weir_pipeline_stop(weir_pipeline *p)
{
    if (!p) return;
    atomic_store(&p->stop_requested, 1);
    weir__run *run = atomic_load(&p->run);
    if (!run)
        return; /* (the checkpoint coordinator polls stop_requested: this may run in a
                   signal handler, where it must not take a lock) */
    for (uint32_t i = 0; i < run->n_workers; i++)
        if (run->workers[i] && run->workers[i]->handles_open) uv_async_send(&run->workers[i]->wake);
}

/* Wakes the worker of op after its source went IDLE (from the worker's own thread). */
void weir_worker_wake(weir_operator *op)
{
    weir_worker *w = op->worker;
    for (uint32_t i = 0; i < w->n_sources; i++)
        if (w->sources[i] == op->index) w->source_idle[i] = false;
    settle(w);
}

struct uv_loop_s *weir_worker_loop(weir_operator *op)
{
    return &op->worker->loop;
}
