/* engine/checkpoint.c: the checkpoint coordinator, the barrier protocol of the workers, the
 * publication of sink output, and restore (ARCHITECTURE.md "How data flows" 5).
 *
 * Protocol. The coordinator (a thread of its own) asks for checkpoint n every `interval` by
 * setting `requested` and waking every worker. A worker, between two pulls of its sources,
 * stops pulling them (their positions are now those of the checkpoint) and sends barrier n on
 * each exchange it feeds, once every exchange upstream of that exchange's producer is aligned
 * in this worker; an exchange is aligned when each channel has delivered its barrier (or its
 * END). A channel that delivered its barrier is not read again until the snapshot, so what the
 * operators downstream have seen is exactly what every sender sent before its barrier. When all
 * its exchanges are aligned the worker calls `snapshot` of every operator into its writer
 * (the only pause: serialization into memory), then reads its channels and pulls its sources
 * again; the coordinator writes the writers to disk (worker-<k>.state, fsync), then the
 * MANIFEST, which makes the checkpoint complete, and then publishes it: each file sink's
 * output of the checkpoint is appended to its file. Barriers of one exchange follow those
 * upstream of it, so there is no cycle of waits: alignment of the first exchanges needs only
 * data sent before the barriers, which receivers keep reading.
 *
 * End and stop. With checkpoints a worker whose inputs ended does not exit: when every worker
 * is there, or on weir_pipeline_stop, the coordinator takes a last checkpoint ("final") after
 * which the workers stay paused; it is published and the run ends. A stop thus resumes open
 * windows on the next run instead of firing them (pipeline.md "Stopping").
 *
 * Failures. A checkpoint that cannot be written is reported on standard error and skipped; the
 * sink output it held is carried into the next one (carry.state), so nothing is lost, and the
 * previous checkpoint stays the one a restart uses. A failure to publish (append to a sink's
 * file) stops the run: the next run finishes the append from the checkpoint.
 *
 * Restore (weir__ck_restore, before the workers start): the newest checkpoint with a MANIFEST is
 * used; newer ones without are leftovers of a crash and are deleted; a damaged complete one
 * stops the run, naming the file (--from-checkpoint N picks an older one, --fresh starts over).
 * Each file sink is cut back to the length it had before the checkpoint's output and that
 * output appended again, which finishes an interrupted append or rolls back later ones. Then
 * every new instance gets the shared sections of every old instance and the key-group sections
 * of the groups it owns now (weir/snapshot.h), so a restore may use another worker count. */
#include "../state/checkpoint_store.h"
#include "engine.h"
#include "weir/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

typedef struct ck_output {
    uint32_t node;
    const char *path; /* the sink's configuration's */
    uint64_t base;    /* committed length of the file */
} ck_output;

struct weir__ckpt {
    weir__run *run;
    const weir_checkpoint_options *opt;
    const char *dir;
    int64_t interval;
    uint32_t retain;
    uv_thread_t thread;
    bool thread_started;
    uv_mutex_t lock;
    uv_cond_t cond;
    _Atomic uint64_t requested; /* the checkpoint workers are to take */
    bool final_req;             /* it is the last one */
    uint32_t n_captured;        /* workers whose snapshot of `requested` is in their writer */
    uint32_t n_ended;           /* workers whose inputs ended */
    bool stop;                  /* weir_pipeline_stop */
    _Atomic int closed;         /* the last checkpoint is published: workers exit */
    _Atomic uint64_t published; /* the last checkpoint completed and published */
    uint64_t next_id;
    uint32_t completed;        /* in this run */
    weir_snap_writer *writers; /* [worker * n_nodes + node]: one per operator instance */
    uint32_t n_nodes;
    weir_snap_writer carry; /* output of skipped checkpoints */
    ck_output *outs;
    uint32_t n_outs;
    bool *upstream; /* [xi * n_xchg + xj]: exchange xj feeds (maybe indirectly) xi's producer */
    int lock_fd;    /* DIR/LOCK, flock'ed for the run: one run per directory */
    weir__ck_stats stats;
};

/* Keys an operator writes per snapshot_more call: about 0.1-0.3 ms of work between batches. */
#define WEIR__CK_LAZY_BUDGET 2048

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake_all(weir__run *run)
{
    atomic_thread_fence(memory_order_seq_cst);
    for (uint32_t i = 0; i < run->n_workers; i++)
        if (run->workers[i]->handles_open) uv_async_send(&run->workers[i]->wake);
}

/* ---- the graph ---- */

/* Whether node `a` is `b` or feeds it (through any path). */
static bool feeds(const weir_pipeline *p, uint32_t a, uint32_t b, uint32_t depth)
{
    if (a == b) return true;
    if (depth > p->n_nodes) return false;
    const weir__node *nb = &p->nodes[b];
    for (uint32_t k = 0; k < nb->n_inputs; k++)
        if (feeds(p, a, nb->in_node[k], depth + 1)) return true;
    return false;
}

static int plan(weir__ckpt *ck)
{
    weir__run *run = ck->run;
    weir_pipeline *p = run->p;
    uint32_t nx = run->n_xchg;
    ck->upstream = calloc((size_t)nx * nx + 1, sizeof *ck->upstream);
    if (!ck->upstream) return WEIR_ENOMEM;
    for (uint32_t xi = 0; xi < nx; xi++)
        for (uint32_t xj = 0; xj < nx; xj++)
            ck->upstream[xi * nx + xj] =
                xi != xj && feeds(p, run->xchg[xj].consumer, run->xchg[xi].producer, 0);
    for (uint32_t i = 0; i < p->n_nodes; i++) {
        const weir__node *nd = &p->nodes[i];
        if (!nd->cls->output_path || !nd->cls->output_path(nd->config)) continue;
        ck_output *o = realloc(ck->outs, (ck->n_outs + 1) * sizeof *o);
        if (!o) return WEIR_ENOMEM;
        ck->outs = o;
        ck->outs[ck->n_outs++] = (ck_output){.node = i, .path = nd->cls->output_path(nd->config)};
    }
    return 0;
}

/* ---- publishing sink output ---- */

typedef struct part_src {
    const uint8_t *data;
    const weir__snap_section *sections;
    uint32_t n_sections;
} part_src;

static uint64_t output_len(const part_src *src, uint32_t n_src, uint32_t node)
{
    uint64_t len = 0;
    for (uint32_t k = 0; k < n_src; k++)
        for (uint32_t i = 0; i < src[k].n_sections; i++)
            if (src[k].sections[i].node == node && src[k].sections[i].group == WEIR_SNAP_OUTPUT)
                len += src[k].sections[i].len;
    return len;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return k < 0 ? errno : EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Cuts path to `base` bytes and appends the node's output sections of src[0..n_src) in order. */
static int publish(const char *path, uint64_t base, const part_src *src, uint32_t n_src,
                   uint32_t node, char *errbuf, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    int err = fd < 0 ? errno : 0;
    if (!err && ftruncate(fd, (off_t)base)) err = errno;
    if (!err && lseek(fd, (off_t)base, SEEK_SET) < 0) err = errno;
    for (uint32_t k = 0; k < n_src && !err; k++)
        for (uint32_t i = 0; i < src[k].n_sections && !err; i++) {
            const weir__snap_section *s = &src[k].sections[i];
            if (s->node == node && s->group == WEIR_SNAP_OUTPUT)
                err = write_all(fd, src[k].data + s->offset, s->len);
        }
    if (!err && fsync(fd)) err = errno;
    if (fd >= 0 && close(fd) && !err) err = errno;
    if (err) {
        snprintf(errbuf, errlen, "cannot publish the output of a checkpoint to %s: %s", path,
                 strerror(err));
        return WEIR_EIO;
    }
    return 0;
}

static weir_snap_writer *writer(weir__ckpt *ck, uint32_t w, uint32_t node)
{
    return &ck->writers[(size_t)w * ck->n_nodes + node];
}

/* The writers of this checkpoint as sources of output: the carry first, then worker 0, 1...
 * (src has room for 1 + n_workers * n_nodes). */
static uint32_t writer_sources(weir__ckpt *ck, part_src *src)
{
    uint32_t n = 0;
    src[n++] = (part_src){ck->carry.data, ck->carry.sections, ck->carry.n_sections};
    for (uint32_t w = 0; w < ck->run->n_workers; w++)
        for (uint32_t i = 0; i < ck->n_nodes; i++) {
            weir_snap_writer *wr = writer(ck, w, i);
            if (wr->n_sections) src[n++] = (part_src){wr->data, wr->sections, wr->n_sections};
        }
    return n;
}

/* Moves the output sections of the writers into the carry (their checkpoint was skipped). */
static int carry_over(weir__ckpt *ck)
{
    for (uint32_t k = 0; k < ck->run->n_workers * ck->n_nodes; k++) {
        weir_snap_writer *wr = &ck->writers[k];
        for (uint32_t i = 0; i < wr->n_sections; i++) {
            const weir__snap_section *s = &wr->sections[i];
            if (s->group != WEIR_SNAP_OUTPUT) continue;
            weir__snap_writer_node(&ck->carry, s->node);
            if (weir_snap_section(&ck->carry, WEIR_SNAP_OUTPUT) ||
                weir_snap_put(&ck->carry, wr->data + s->offset, s->len))
                return WEIR_ENOMEM;
        }
    }
    weir__snap_writer_close(&ck->carry);
    return 0;
}

/* ---- the coordinator ---- */

static void describe_nodes(weir__ckpt *ck, weir__ck_manifest *m)
{
    weir_pipeline *p = ck->run->p;
    m->n_nodes = p->n_nodes;
    m->node_kind = calloc(p->n_nodes + 1, sizeof *m->node_kind);
    m->node_name = calloc(p->n_nodes + 1, sizeof *m->node_name);
    for (uint32_t i = 0; m->node_kind && m->node_name && i < p->n_nodes; i++) {
        m->node_kind[i] = p->nodes[i].kind;
        m->node_name[i] = p->nodes[i].name;
    }
}

static void retain(weir__ckpt *ck)
{
    uint64_t *ids;
    uint32_t n;
    if (weir__ck_list(ck->dir, &ids, &n)) return;
    uint32_t kept = 0;
    for (uint32_t i = n; i-- > 0;) {
        weir__ck_manifest m;
        char err[256];
        bool complete = weir__ck_read_manifest(ck->dir, ids[i], &m, err, sizeof err) == 0;
        if (complete) weir__ck_manifest_free(&m);
        if (ids[i] >= ck->next_id) continue; /* being written */
        if (complete && kept < ck->retain) {
            kept++;
            continue;
        }
        if (kept) weir__ck_remove(ck->dir, ids[i]); /* older than the ones kept */
    }
    free(ids);
}

/* Writes checkpoint id from the writers and publishes it; 0, or a code with errbuf set and
 * *complete telling whether the checkpoint completed (then publishing failed). */
static int write_checkpoint(weir__ckpt *ck, uint64_t id, bool final, bool ended, bool *complete,
                            char *errbuf, size_t errlen)
{
    *complete = false;
    weir__run *run = ck->run;
    uint32_t n = run->n_workers;
    bool fail = ck->opt->fail_at && ck->opt->fail_at == id;
    int rc = weir__ck_begin(ck->dir, id, errbuf, errlen);
    weir__ck_manifest m = {.id = id, .workers = n, .final = final, .ended = ended};
    m.files = calloc(n + 1, sizeof *m.files);
    m.outputs = calloc(ck->n_outs + 1, sizeof *m.outputs);
    if (!rc && (!m.files || !m.outputs)) rc = WEIR_ENOMEM;
    for (uint32_t w = 0; w < n && !rc; w++) {
        char name[32];
        snprintf(name, sizeof name, "worker-%u.state", w);
        rc = weir__ck_write_state(ck->dir, id, name, w, writer(ck, w, 0), ck->n_nodes,
                                  &m.files[m.n_files], fail, errbuf, errlen);
        if (!rc) m.n_files++;
    }
    if (!rc && ck->carry.n_sections) {
        rc = weir__ck_write_state(ck->dir, id, "carry.state", WEIR__CK_CARRY_WORKER, &ck->carry, 1,
                                  &m.files[m.n_files], fail, errbuf, errlen);
        if (!rc) m.n_files++;
    }
    part_src *src = calloc((size_t)n * ck->n_nodes + 2, sizeof *src);
    if (!src && !rc) rc = WEIR_ENOMEM;
    uint32_t n_src = src ? writer_sources(ck, src) : 0;
    for (uint32_t j = 0; j < ck->n_outs && !rc; j++)
        m.outputs[m.n_outputs++] =
            (weir__ck_output){.node = ck->outs[j].node,
                              .base = ck->outs[j].base,
                              .len = output_len(src, n_src, ck->outs[j].node),
                              .path = (char *)ck->outs[j].path};
    if (!rc) {
        describe_nodes(ck, &m);
        m.time_ms = wall_ms();
        if (!m.node_kind || !m.node_name) rc = WEIR_ENOMEM;
        if (!rc) rc = weir__ck_write_manifest(ck->dir, &m, errbuf, errlen);
    }
    if (!rc) { /* complete: publish */
        *complete = true;
        for (uint32_t j = 0; j < ck->n_outs; j++) {
            int prc = publish(ck->outs[j].path, ck->outs[j].base, src, n_src, ck->outs[j].node,
                              errbuf, errlen);
            if (prc) {
                rc = prc;
                break;
            }
            ck->outs[j].base += m.outputs[j].len;
        }
        if (!rc) weir__snap_writer_reset(&ck->carry);
        free(src);
        free(m.node_kind);
        free(m.node_name);
        free(m.files);
        free(m.outputs);
        return rc;
    }
    free(m.node_kind);
    free(m.node_name);
    free(m.files);
    free(m.outputs);
    free(src);
    weir__ck_remove(ck->dir, id);
    return rc;
}

static void coordinator(void *arg)
{
    weir__ckpt *ck = arg;
    weir__run *run = ck->run;
    uint32_t n = run->n_workers;
    int64_t due = mono_ms() + ck->interval;
    uv_mutex_lock(&ck->lock);
    for (;;) {
        while (!atomic_load(&run->failed) && !ck->stop && ck->n_ended < n) {
            if (atomic_load(&run->p->stop_requested)) {
                ck->stop = true;
                break;
            }
            int64_t left = due - mono_ms();
            if (left <= 0) break;
            /* stop_requested is set from signal handlers, which cannot signal a condition */
            uv_cond_timedwait(&ck->cond, &ck->lock, (uint64_t)(left < 50 ? left : 50) * 1000000);
        }
        if (atomic_load(&run->failed)) break;
        bool ended = ck->n_ended == n, final = ck->stop || ended;
        uint64_t id = ck->next_id++;
        ck->final_req = final;
        ck->n_captured = 0;
        int64_t t0 = mono_ns();
        atomic_store(&ck->requested, id);
        uv_mutex_unlock(&ck->lock);
        wake_all(run);
        uv_mutex_lock(&ck->lock);
        while (!atomic_load(&run->failed) && ck->n_captured < n) uv_cond_wait(&ck->cond, &ck->lock);
        if (atomic_load(&run->failed)) break;
        int64_t t1 = mono_ns();
        uv_mutex_unlock(&ck->lock);

        char err[1024] = "";
        bool complete;
        int rc = write_checkpoint(ck, id, final, ended, &complete, err, sizeof err);
        int64_t t2 = mono_ns();
        if (rc && complete) { /* its output could not be published: stop */
            weir__run_fail(run, WEIR_EIO, "%s", err);
            uv_mutex_lock(&ck->lock);
            break;
        }
        if (rc) {
            if (final) {
                weir__run_fail(run, rc,
                               "the last checkpoint could not be written: %s (the next run "
                               "resumes from the previous one)",
                               err);
                uv_mutex_lock(&ck->lock);
                break;
            }
            fprintf(stderr,
                    "weir: warning: checkpoint %" PRIu64
                    " could not be written and is skipped: %s (the previous one stays valid; its "
                    "output goes with the next)\n",
                    id, err);
            if (carry_over(ck)) {
                weir__run_fail(run, WEIR_ENOMEM, "out of memory");
                uv_mutex_lock(&ck->lock);
                break;
            }
            ck->stats.skipped++;
        } else {
            retain(ck);
            ck->completed++;
            ck->stats.completed++;
            ck->stats.last_id = id;
            int64_t align = t1 - t0, total = t2 - t0;
            if (align > ck->stats.max_align_ns) ck->stats.max_align_ns = align;
            if (total > ck->stats.max_total_ns) ck->stats.max_total_ns = total;
            ck->stats.sum_total_ns += total;
            atomic_store(&ck->published, id);
            wake_all(run); /* checkpoint_complete of the operators */
        }
        if (!rc && ck->opt->crash_after && ck->completed == ck->opt->crash_after) {
            weir__run_fail(run, WEIR_ESTOPPED,
                           "stopped after checkpoint %" PRIu64 " as a crash would (test)", id);
            uv_mutex_lock(&ck->lock);
            break;
        }
        uv_mutex_lock(&ck->lock);
        if (final && !rc) {
            atomic_store(&ck->closed, 1);
            break;
        }
        due = mono_ms() + ck->interval;
    }
    uv_mutex_unlock(&ck->lock);
    wake_all(run);
}

/* ---- the workers' side ---- */

static bool aligned(const weir_worker *w, uint32_t xi)
{
    const weir__xrecv *r = &w->recv[xi];
    for (uint32_t f = 0; f < w->run->n_workers; f++)
        if (!r->barrier[f] && !r->end_seen[f]) return false;
    return true;
}

/* The worker's part of the checkpoint is in its writers: tell the coordinator. */
static void captured(weir_worker *w)
{
    weir__ckpt *ck = w->run->ck;
    w->ck_done = w->ck_active;
    w->ck_active = 0;
    w->ck_lazy = false;
    uv_mutex_lock(&ck->lock);
    if (w->ck_max_step > ck->stats.max_step_ns) ck->stats.max_step_ns = w->ck_max_step;
    if (ck->final_req) w->ck_hold = true;
    ck->n_captured++;
    uv_cond_signal(&ck->cond);
    uv_mutex_unlock(&ck->lock);
}

/* Calls snapshot_more of the operators that left their snapshot unfinished; `budget` keys
 * each (0: all). Reports the capture when every one is done. */
static void snapshot_rest(weir_worker *w, uint32_t budget)
{
    weir__ckpt *ck = w->run->ck;
    bool more = false;
    for (uint32_t i = 0; i < w->p->n_nodes && !w->status; i++) {
        if (!w->ck_more[i]) continue;
        weir_operator *op = &w->ops[i];
        weir_snap_writer *wr = writer(ck, w->id, i);
        int64_t t0 = mono_ns();
        int rc = op->cls->snapshot_more(op, wr, budget);
        int64_t dt = mono_ns() - t0;
        if (budget && dt > w->ck_max_step) w->ck_max_step = dt;
        weir__snap_writer_close(wr);
        if (rc >= 0 && wr->failed) rc = WEIR_ENOMEM;
        if (rc < 0) {
            if (!w->status)
                weir_operator_fail(op, rc, "%s: checkpoint: %s", op->name, weir_strerror(rc));
            return;
        }
        w->ck_more[i] = rc == WEIR_SNAP_MORE;
        more = more || w->ck_more[i];
    }
    if (!more && !w->status) captured(w);
}

/* Every channel is aligned: each operator writes its state (those that write it lazily start
 * here, and the rest goes on between batches), and the channels are read again. */
static void capture(weir_worker *w)
{
    weir__ckpt *ck = w->run->ck;
    int64_t t0 = mono_ns();
    int rc = 0;
    bool lazy = false;
    for (uint32_t i = 0; i < w->p->n_nodes && !rc && !w->status; i++) {
        weir_operator *op = &w->ops[i];
        weir_snap_writer *wr = writer(ck, w->id, i);
        weir__snap_writer_reset(wr);
        w->ck_more[i] = false;
        if (!op->cls->snapshot) continue;
        weir__snap_writer_node(wr, i);
        rc = op->cls->snapshot(op, wr);
        weir__snap_writer_close(wr);
        if (rc == WEIR_SNAP_MORE && op->cls->snapshot_more) {
            w->ck_more[i] = lazy = true;
            rc = 0;
        } else if (rc == WEIR_SNAP_MORE) {
            rc = WEIR_ESTATE; /* a lazy snapshot without snapshot_more */
        }
        if (!rc && wr->failed) rc = WEIR_ENOMEM;
        if (rc && !w->status)
            weir_operator_fail(op, rc, "%s: checkpoint: %s", op->name, weir_strerror(rc));
    }
    for (uint32_t xi = 0; xi < w->run->n_xchg; xi++) {
        weir__xrecv *r = &w->recv[xi];
        memset(r->barrier, 0, w->run->n_workers * sizeof *r->barrier);
    }
    int64_t t1 = mono_ns();
    uv_mutex_lock(&ck->lock);
    if (t1 - t0 > ck->stats.max_capture_ns) ck->stats.max_capture_ns = t1 - t0;
    if (t1 - w->ck_began > ck->stats.max_pause_ns) ck->stats.max_pause_ns = t1 - w->ck_began;
    bool final = ck->final_req;
    uv_mutex_unlock(&ck->lock);
    if (w->status) return;
    w->ck_lazy = lazy;
    if (lazy && final) /* nothing runs after the last checkpoint: finish at once */
        snapshot_rest(w, 0);
    else if (!lazy)
        captured(w);
    if (!w->status) weir__xchg_drain(w); /* what waited behind the barriers */
}

void weir__ck_step(weir_worker *w)
{
    weir__ckpt *ck = w->run->ck;
    if (!ck || w->status || atomic_load(&w->run->failed)) return;
    uint64_t pub = atomic_load(&ck->published);
    if (pub > w->ck_notified && pub <= w->ck_done) {
        w->ck_notified = pub;
        for (uint32_t i = 0; i < w->p->n_nodes && !w->status; i++) {
            weir_operator *op = &w->ops[i];
            if (!op->cls->checkpoint_complete) continue;
            int rc = op->cls->checkpoint_complete(op, pub);
            if (rc && !w->status)
                weir_operator_fail(op, rc, "%s: checkpoint %" PRIu64 ": %s", op->name, pub,
                                   weir_strerror(rc));
        }
    }
    if (w->ck_lazy) { /* the snapshot goes on between batches */
        snapshot_rest(w, WEIR__CK_LAZY_BUDGET);
        return;
    }
    if (!w->ck_active) {
        uint64_t req = atomic_load(&ck->requested);
        if (req <= w->ck_done) return;
        if (w->n_sources && !w->pumped) return; /* every source pulled once first */
        w->ck_active = req;
        w->ck_began = mono_ns();
        memset(w->ck_sent, 0, (w->run->n_xchg + 1) * sizeof *w->ck_sent);
    }
    uint32_t nx = w->run->n_xchg;
    for (bool more = true; more && !w->status;) {
        more = false;
        for (uint32_t xi = 0; xi < nx && !w->status; xi++) {
            if (w->ck_sent[xi]) continue;
            bool ready = true;
            for (uint32_t xj = 0; xj < nx && ready; xj++)
                if (ck->upstream[xi * nx + xj]) ready = aligned(w, xj);
            if (!ready) continue;
            int rc = 0;
            int32_t lift = w->run->xchg[xi].lift_op; /* emits what it holds before the barrier */
            if (lift >= 0 && w->ops[lift].cls->flush) rc = w->ops[lift].cls->flush(&w->ops[lift]);
            if (!rc) rc = weir__xchg_send_barrier(&w->ops[w->p->n_nodes + xi]);
            if (rc && !w->status) w->status = rc;
            w->ck_sent[xi] = more = true;
        }
    }
    for (uint32_t xi = 0; xi < nx; xi++)
        if (!w->ck_sent[xi] || !aligned(w, xi)) return;
    capture(w);
}

bool weir__ck_paused(const weir_worker *w)
{
    return (w->ck_active && !w->ck_lazy) || w->ck_hold;
}

bool weir__ck_lazy(const weir_worker *w)
{
    return w->ck_lazy;
}

bool weir__ck_keep_running(weir_worker *w)
{
    weir__ckpt *ck = w->run->ck;
    if (!ck || atomic_load(&ck->closed)) return false;
    if (!w->ck_ended) {
        w->ck_ended = true;
        uv_mutex_lock(&ck->lock);
        ck->n_ended++;
        uv_cond_signal(&ck->cond);
        uv_mutex_unlock(&ck->lock);
    }
    return true;
}

bool weir__ck_closed(const weir__run *run)
{
    return run->ck && atomic_load(&run->ck->closed);
}

void weir__ck_notify(weir__run *run, bool stop)
{
    weir__ckpt *ck = run->ck;
    if (!ck) return;
    uv_mutex_lock(&ck->lock);
    if (stop) ck->stop = true;
    uv_cond_signal(&ck->cond);
    uv_mutex_unlock(&ck->lock);
}

/* ---- restore ---- */

static int restore_from(weir__ckpt *ck, uint64_t id, const weir__ck_manifest *m)
{
    weir__run *run = ck->run;
    weir_pipeline *p = run->p;
    char err[1024];
    if (m->n_nodes != p->n_nodes)
        return weir_pipeline_set_error(p, WEIR_EINVAL,
                                       "checkpoint %" PRIu64 " in %s is of another pipeline (%u "
                                       "operators, this one has %u); start over with --fresh",
                                       id, ck->dir, m->n_nodes, p->n_nodes);
    for (uint32_t i = 0; i < p->n_nodes; i++)
        if (strcmp(m->node_kind[i], p->nodes[i].kind) || strcmp(m->node_name[i], p->nodes[i].name))
            return weir_pipeline_set_error(p, WEIR_EINVAL,
                                           "checkpoint %" PRIu64
                                           " in %s is of another pipeline: its operator %u is %s "
                                           "\"%s\", here it is %s \"%s\"; start over with --fresh",
                                           id, ck->dir, i, m->node_kind[i], m->node_name[i],
                                           p->nodes[i].kind, p->nodes[i].name);
    weir__ck_state *st = calloc(m->n_files + 1, sizeof *st);
    if (!st) return weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    int rc = 0;
    uint32_t loaded = 0;
    for (; loaded < m->n_files && !rc; loaded++) {
        rc = weir__ck_read_state(ck->dir, id, &m->files[loaded], &st[loaded], err, sizeof err);
        if (rc) {
            rc = weir_pipeline_set_error(p, rc,
                                         "checkpoint %" PRIu64 " is damaged: %s; restore an older "
                                         "one with --from-checkpoint N or start over with --fresh",
                                         id, err);
            break;
        }
    }
    /* the outputs: cut back and append this checkpoint's part again */
    part_src *src = calloc(m->n_files + 1, sizeof *src);
    uint32_t n_src = 0;
    if (!src && !rc) rc = weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    for (uint32_t k = 0; !rc && k < m->n_files; k++) /* carry first, then workers in order */
        if (st[k].worker == WEIR__CK_CARRY_WORKER)
            src[n_src++] = (part_src){st[k].data, st[k].sections, st[k].n_sections};
    for (uint32_t k = 0; !rc && k < m->n_files; k++)
        if (st[k].worker != WEIR__CK_CARRY_WORKER)
            src[n_src++] = (part_src){st[k].data, st[k].sections, st[k].n_sections};
    for (uint32_t j = 0; j < ck->n_outs && !rc; j++) {
        const weir__ck_output *o = NULL;
        for (uint32_t i = 0; i < m->n_outputs; i++)
            if (m->outputs[i].node == ck->outs[j].node) o = &m->outputs[i];
        if (!o || strcmp(o->path, ck->outs[j].path)) {
            rc = weir_pipeline_set_error(p, WEIR_EINVAL,
                                         "checkpoint %" PRIu64 " wrote operator %s to %s, not "
                                         "to %s; start over with --fresh",
                                         id, p->nodes[ck->outs[j].node].name,
                                         o ? o->path : "no file", ck->outs[j].path);
            break;
        }
        if (output_len(src, n_src, o->node) != o->len) {
            rc = weir_pipeline_set_error(p, WEIR_ECORRUPT,
                                         "checkpoint %" PRIu64 " is damaged: the output it holds "
                                         "for %s is not the length its manifest says",
                                         id, o->path);
            break;
        }
        if (publish(o->path, o->base, src, n_src, o->node, err, sizeof err)) {
            rc = weir_pipeline_set_error(p, WEIR_EIO, "%s", err);
            break;
        }
        ck->outs[j].base = o->base + o->len;
    }
    /* the operators: shared sections of every old instance, then the owned key groups */
    uint32_t n = run->n_workers;
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (uint32_t wi = 0; wi < n && !rc; wi++) {
            weir_worker *w = run->workers[wi];
            for (uint32_t k = 0; k < m->n_files && !rc; k++) {
                if (st[k].worker == WEIR__CK_CARRY_WORKER) continue;
                for (uint32_t s = 0; s < st[k].n_sections && !rc; s++) {
                    const weir__snap_section *sec = &st[k].sections[s];
                    if (sec->group == WEIR_SNAP_OUTPUT || sec->node >= p->n_nodes) continue;
                    bool shared = sec->group == WEIR_SNAP_SHARED;
                    if (shared != (pass == 0)) continue;
                    if (!shared && weir_key_group_owner(sec->group, n) != wi) continue;
                    weir_operator *op = &w->ops[sec->node];
                    if (!op->cls->restore) {
                        rc = weir_pipeline_set_error(p, WEIR_EINVAL,
                                                     "checkpoint %" PRIu64 " holds state of %s, "
                                                     "which cannot restore any",
                                                     id, op->name);
                        break;
                    }
                    weir_snap_reader r = {st[k].data + sec->offset,
                                          st[k].data + sec->offset + sec->len, false};
                    int orc = op->cls->restore(op, sec->group, &r);
                    if (!orc && !weir_snap_ok(&r)) orc = WEIR_ECORRUPT;
                    if (orc) {
                        if (!p->status)
                            weir_pipeline_set_error(p, orc,
                                                    "checkpoint %" PRIu64 ": %s: cannot restore "
                                                    "its state: %s",
                                                    id, op->name, weir_strerror(orc));
                        rc = p->status ? p->status : orc;
                    }
                }
            }
        }
    for (uint32_t k = 0; k < m->n_files; k++) weir__ck_state_free(&st[k]);
    free(st);
    free(src);
    if (!rc) run->restored = true;
    return rc;
}

/* Truncates every output file (a fresh run). */
static int truncate_outputs(weir__ckpt *ck)
{
    for (uint32_t j = 0; j < ck->n_outs; j++) {
        int fd = open(ck->outs[j].path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return weir_pipeline_set_error(ck->run->p, WEIR_EIO, "%s: %s", ck->outs[j].path,
                                           strerror(errno));
        close(fd);
        ck->outs[j].base = 0;
    }
    return 0;
}

static int pick_and_restore(weir__ckpt *ck)
{
    weir_pipeline *p = ck->run->p;
    const weir_checkpoint_options *o = ck->opt;
    uint64_t *ids;
    uint32_t n;
    char err[1024];
    if (weir__ck_list(ck->dir, &ids, &n))
        return weir_pipeline_set_error(p, WEIR_EIO, "cannot read %s: %s", ck->dir, strerror(errno));
    int rc = 0;
    ck->next_id = n ? ids[n - 1] + 1 : 1;
    if (o->fresh) {
        for (uint32_t i = 0; i < n; i++) weir__ck_remove(ck->dir, ids[i]);
        ck->next_id = 1;
        free(ids);
        return truncate_outputs(ck);
    }
    bool found = false;
    for (uint32_t i = n; i-- > 0 && !rc && !found;) {
        if (o->from && ids[i] > o->from) { /* later than the one asked for: history undone */
            weir__ck_remove(ck->dir, ids[i]);
            continue;
        }
        weir__ck_manifest m;
        int mrc = weir__ck_read_manifest(ck->dir, ids[i], &m, err, sizeof err);
        if (mrc == WEIR_ENOENT) {
            if (o->from == ids[i]) {
                rc = weir_pipeline_set_error(p, WEIR_ENOENT,
                                             "checkpoint %" PRIu64 " in %s never completed; "
                                             "`weir checkpoints %s` lists the complete ones",
                                             ids[i], ck->dir, ck->dir);
                break;
            }
            fprintf(stderr, "weir: note: checkpoint %" PRIu64 " never completed; skipped\n",
                    ids[i]);
            weir__ck_remove(ck->dir, ids[i]);
            continue;
        }
        if (mrc) {
            rc = weir_pipeline_set_error(p, mrc,
                                         "checkpoint %" PRIu64 " is damaged: %s; restore an older "
                                         "one with --from-checkpoint N or start over with --fresh",
                                         ids[i], err);
            break;
        }
        found = true;
        if (o->from && o->from != ids[i]) {
            weir__ck_manifest_free(&m);
            rc = weir_pipeline_set_error(p, WEIR_ENOENT, "there is no checkpoint %" PRIu64 " in %s",
                                         o->from, ck->dir);
            break;
        }
        rc = restore_from(ck, ids[i], &m);
        if (!rc && o->from && ids[n - 1] > o->from)
            for (uint32_t k = 0; k < p->n_nodes; k++)
                if (!strcmp(p->nodes[k].kind, "WriteToKafka"))
                    fprintf(stderr,
                            "weir: warning: %s: Kafka output cannot be rolled back to checkpoint "
                            "%" PRIu64 ": its consumers may see the results after it twice\n",
                            p->nodes[k].name, o->from);
        if (!rc && m.ended)
            fprintf(stderr,
                    "weir: checkpoint %" PRIu64 " in %s was taken after every input ended: "
                    "nothing is left to do (--fresh runs the pipeline again)\n",
                    ids[i], ck->dir);
        else if (!rc)
            fprintf(stderr, "weir: resuming from checkpoint %" PRIu64 " in %s\n", ids[i], ck->dir);
        weir__ck_manifest_free(&m);
    }
    if (!rc && !found) {
        if (o->from)
            rc = weir_pipeline_set_error(p, WEIR_ENOENT, "there is no checkpoint %" PRIu64 " in %s",
                                         o->from, ck->dir);
        else
            rc = truncate_outputs(ck);
    }
    free(ids);
    return rc;
}

int weir__ck_open(weir__run *run)
{
    const weir_checkpoint_options *o = &run->opt->checkpoint;
    weir_pipeline *p = run->p;
    if (!o->dir) return 0;
    for (uint32_t i = 0; i < p->n_nodes; i++) {
        const weir__node *nd = &p->nodes[i];
        if (nd->cls->pull && !nd->cls->snapshot)
            return weir_pipeline_set_error(p, WEIR_EUNSUPPORTED,
                                           "%s: this source cannot resume from a checkpoint yet; "
                                           "run without options.checkpoint",
                                           nd->name);
    }
    weir__ckpt *ck = calloc(1, sizeof *ck);
    if (!ck) return weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    run->ck = ck;
    ck->run = run;
    ck->lock_fd = -1;
    ck->opt = o;
    ck->dir = o->dir;
    ck->interval = o->interval > 0 ? o->interval : 10000;
    ck->retain = o->retain ? o->retain : 3;
    uv_mutex_init(&ck->lock);
    uv_cond_init(&ck->cond);
    weir__snap_writer_init(&ck->carry);
    ck->n_nodes = p->n_nodes;
    ck->writers = calloc((size_t)run->n_workers * p->n_nodes + 1, sizeof *ck->writers);
    if (!ck->writers || plan(ck)) return weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < run->n_workers; i++) {
        weir_worker *w = run->workers[i];
        w->ck_sent = calloc(run->n_xchg + 1, sizeof *w->ck_sent);
        w->ck_more = calloc(p->n_nodes + 1, sizeof *w->ck_more);
        if (!w->ck_sent || !w->ck_more)
            return weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    }
    char err[1024];
    if (weir__ck_mkdirs(ck->dir, err, sizeof err))
        return weir_pipeline_set_error(p, WEIR_EIO, "%s", err);
    char lock[4200];
    snprintf(lock, sizeof lock, "%s/LOCK", ck->dir);
    ck->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (ck->lock_fd < 0)
        return weir_pipeline_set_error(p, WEIR_EIO, "%s: %s", lock, strerror(errno));
    if (flock(ck->lock_fd, LOCK_EX | LOCK_NB))
        return weir_pipeline_set_error(p, WEIR_ESTATE,
                                       "another weir run uses the checkpoint directory %s (%s is "
                                       "locked); one run per directory",
                                       ck->dir, lock);
    return 0;
}

int weir__ck_restore(weir__run *run)
{
    weir__ckpt *ck = run->ck;
    if (!ck) return 0;
    int64_t t0 = mono_ns();
    int rc = pick_and_restore(ck);
    if (run->restored) {
        ck->stats.restored_id = ck->next_id - 1;
        ck->stats.restore_ns = mono_ns() - t0;
    }
    return rc;
}

int weir__ck_start(weir__run *run)
{
    weir__ckpt *ck = run->ck;
    if (!ck) return 0;
    if (uv_thread_create(&ck->thread, coordinator, ck))
        return weir_pipeline_set_error(run->p, WEIR_EIO, "cannot start the checkpoint thread");
    ck->thread_started = true;
    return 0;
}

void weir__ck_finish(weir__run *run, weir__ck_stats *stats)
{
    weir__ckpt *ck = run->ck;
    if (!ck) return;
    if (ck->thread_started) {
        weir__ck_notify(run, true);
        uv_thread_join(&ck->thread);
    }
    if (stats) *stats = ck->stats;
    for (size_t i = 0; ck->writers && i < (size_t)run->n_workers * ck->n_nodes; i++)
        weir__snap_writer_finish(&ck->writers[i]);
    for (uint32_t i = 0; i < run->n_workers; i++)
        if (run->workers[i]) {
            free(run->workers[i]->ck_sent);
            free(run->workers[i]->ck_more);
        }
    weir__snap_writer_finish(&ck->carry);
    free(ck->writers);
    free(ck->outs);
    free(ck->upstream);
    uv_cond_destroy(&ck->cond);
    uv_mutex_destroy(&ck->lock);
    if (ck->lock_fd >= 0) close(ck->lock_fd); /* releases the lock */
    free(ck);
    run->ck = NULL;
}
