/* engine/exchange.c: the keyed exchange between workers.
 *
 * Sending: an exchange sender is an operator instance in every worker, placed where the
 * producer's rows would go to the keyed consumer. It hashes each row's key into one of
 * WEIR_KEY_GROUPS key groups (so that state can later move between parallelisms a group at a
 * time), maps the group to its owner worker, and copies the row into that worker's outgoing
 * batch (the copy owns its strings: a batch crosses threads, so it may not borrow). A full batch,
 * and at the end of every input batch each batch with rows or with watermark progress, goes into
 * the ring of that worker pair; a batch for the sending worker itself is delivered at once. When a
 * ring is full the batch waits in a queue and the worker stops pulling its sources until there is
 * room: backpressure, nothing dropped, memory bounded by ring capacity plus one input batch.
 *
 * Receiving: each worker keeps, per exchange, a watermark per channel (sending worker). Every
 * delivered row's watermark becomes the minimum over the channels as they stand after that row,
 * so the consumer sees exactly what a single input with that watermark would show; END reaches
 * the consumer once every channel ended. Used batches go back to their sender through a free ring.
 *
 * For an input read as one partition (one file, a Create) every row travels from one worker to
 * its key's owner through one FIFO ring, in order, and the other channels end at once: results
 * are the same at any worker count (windowing.md §2). */
#include "engine.h"
#include "weir/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct pending_queue {
    weir_batch **q;
    uint32_t head, n, cap;
} pending_queue;

typedef struct xsend {
    weir__xchg *x;
    uint32_t xi; /* index of the exchange */
    weir_worker *w;
    uint32_t n; /* workers */
    weir_batch **out;
    int64_t *sent_wm;
    pending_queue *pending;
    bool ended;
    uint32_t *text_fields; /* fields that may hold a string (copied into the outgoing arena) */
    uint32_t n_text;
    int64_t all_wm; /* every destination has seen this watermark (as a row's or a mark) */
} xsend;

/* The worker that owns the row's key: its key group (weir/snapshot.h, which checkpoints use
 * to move state between workers) and that group's owner. */
static uint32_t owner_of(const xsend *s, const weir_value *row)
{
    if (s->n == 1) return 0;
    return weir_key_group_owner(weir_key_group_of_row(row, s->x->key_fields, s->x->n_key_fields),
                                s->n);
}

static weir_batch *take_batch(xsend *s, uint32_t dest)
{
    weir__ring *fr = &s->x->free[(size_t)dest * s->n + s->w->id];
    weir_batch *b = dest == s->w->id ? NULL : weir__ring_pop(fr);
    if (b) {
        weir_batch_clear(b);
        return b;
    }
    return weir_batch_create(s->x->schema, s->w->batch_size);
}

int weir__xchg_send_open(weir_operator *op, weir__xchg *x)
{
    weir_worker *w = op->worker;
    xsend *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->x = x;
    s->xi = (uint32_t)(x - w->run->xchg);
    s->w = w;
    s->n = w->run->n_workers;
    s->out = calloc(s->n, sizeof *s->out);
    s->sent_wm = calloc(s->n, sizeof *s->sent_wm);
    s->pending = calloc(s->n, sizeof *s->pending);
    s->text_fields = calloc(x->schema->n_fields + 1, sizeof *s->text_fields);
    if (!s->out || !s->sent_wm || !s->pending || !s->text_fields) return WEIR_ENOMEM;
    for (uint32_t i = 0; i < x->schema->n_fields; i++) {
        weir_type t = x->schema->types ? x->schema->types[i] : WEIR_TYPE_ANY;
        if (t == WEIR_TYPE_ANY || (t >= WEIR_TYPE_STRING && t <= WEIR_TYPE_JSON))
            s->text_fields[s->n_text++] = i;
    }
    s->all_wm = WEIR_TIME_MIN;
    for (uint32_t d = 0; d < s->n; d++) {
        s->sent_wm[d] = WEIR_TIME_MIN;
        if (!(s->out[d] = weir_batch_create(x->schema, w->batch_size))) return WEIR_ENOMEM;
    }
    return 0;
}

static void xsend_close(weir_operator *op)
{
    xsend *s = op->state;
    if (!s) return;
    for (uint32_t d = 0; s->out && d < s->n; d++) weir_batch_destroy(s->out[d]);
    for (uint32_t d = 0; s->pending && d < s->n; d++) {
        pending_queue *q = &s->pending[d];
        for (uint32_t i = 0; i < q->n; i++) weir_batch_destroy(q->q[(q->head + i) % q->cap]);
        free(q->q);
    }
    free(s->out);
    free(s->sent_wm);
    free(s->pending);
    free(s->text_fields);
    free(s);
    op->state = NULL;
}

static int deliver(weir_worker *w, uint32_t xi, uint32_t from, weir_batch *b);

/* Wakes worker w after a push into one of its rings (or a pop that made room for it).
 *
 * The fence matters: uv_async_send first reads the handle's pending flag without a barrier and
 * returns at once when a wake-up is already pending. Without a full fence, the store that
 * published our ring index may still sit in this core's store buffer while that read happens
 * (x86 lets a load pass an earlier store); the receiver can then clear the flag and drain the
 * ring without seeing our push, and nothing wakes it again: a lost wake-up that hung the
 * workers test about once in 300 runs. After the fence, either we see the flag clear and send,
 * or the receiver has not cleared it yet and its drain, which follows the clear, sees the push. */
static void wake(weir_worker *w)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (w->handles_open) uv_async_send(&w->wake);
}

/* Sends the outgoing batch for dest (rows and/or watermark, flags already set). */
static int send_to(xsend *s, uint32_t dest)
{
    weir_batch *b = s->out[dest];
    s->sent_wm[dest] = b->wm_after;
    if (dest == s->w->id) { /* to ourselves: deliver now and reuse the batch, unless held */
        int rc = deliver(s->w, s->xi, dest, b);
        if (rc < 0) return rc;
        if (rc == 1) { /* held: taken over */
            s->out[dest] = weir_batch_create(s->x->schema, s->w->batch_size);
            return s->out[dest] ? 0 : WEIR_ENOMEM;
        }
        weir_batch_clear(b);
        return 0;
    }
    weir__ring *r = &s->x->data[(size_t)s->w->id * s->n + dest];
    pending_queue *q = &s->pending[dest];
    if (q->n || !weir__ring_push(r, b)) {
        if (q->n == q->cap) {
            uint32_t cap = q->cap ? q->cap * 2 : 8;
            weir_batch **nq = malloc(cap * sizeof *nq);
            if (!nq) return WEIR_ENOMEM;
            for (uint32_t i = 0; i < q->n; i++) nq[i] = q->q[(q->head + i) % (q->cap ? q->cap : 1)];
            free(q->q);
            q->q = nq;
            q->head = 0;
            q->cap = cap;
        }
        q->q[(q->head + q->n) % q->cap] = b;
        q->n++;
        s->w->n_pending++;
        atomic_store(&s->w->blocked, 1);
    }
    wake(s->w->run->workers[dest]);
    s->out[dest] = take_batch(s, dest);
    return s->out[dest] ? 0 : WEIR_ENOMEM;
}

uint32_t weir__xchg_send_retry(weir_operator *op)
{
    xsend *s = op->state;
    uint32_t left = 0;
    for (uint32_t d = 0; d < s->n; d++) {
        pending_queue *q = &s->pending[d];
        weir__ring *r = &s->x->data[(size_t)s->w->id * s->n + d];
        bool sent = false;
        while (q->n && weir__ring_push(r, q->q[q->head])) {
            q->head = (q->head + 1) % q->cap;
            q->n--;
            s->w->n_pending--;
            sent = true;
        }
        if (sent) wake(s->w->run->workers[d]);
        left += q->n;
    }
    return left;
}

/* Copies the strings of a row into ob's arena; only the fields that may hold one are looked at
 * (s->text_fields: the schema's fields of a text type or of no declared type). */
static int copy_strings(const xsend *s, weir_batch *ob, weir_value *v)
{
    for (uint32_t k = 0; k < s->n_text; k++) {
        uint32_t i = s->text_fields[k];
        if (v[i].type < WEIR_TYPE_STRING || v[i].type > WEIR_TYPE_JSON) continue;
        char *p = weir_arena_strdup(&ob->arena, v[i].as.s, v[i].len);
        if (!p) return WEIR_ENOMEM;
        v[i].as.s = p;
    }
    return 0;
}

/* A row's values into the outgoing batch: fixed sizes inline (the call to memcpy with a
 * size known only at run time was a tenth of the exchange's cost). */
static inline void copy_values(weir_value *dst, const weir_value *src, uint32_t nf)
{
    switch (nf) {
    case 1: memcpy(dst, src, 1 * sizeof *dst); break;
    case 2: memcpy(dst, src, 2 * sizeof *dst); break;
    case 3: memcpy(dst, src, 3 * sizeof *dst); break;
    case 4: memcpy(dst, src, 4 * sizeof *dst); break;
    case 5: memcpy(dst, src, 5 * sizeof *dst); break;
    case 6: memcpy(dst, src, 6 * sizeof *dst); break;
    default: memcpy(dst, src, nf * sizeof *dst); break;
    }
}

/* Every destination but d gets watermark wm as a mark (d gets it with the row): they observe
 * every watermark value of the input, as one worker would. */
static int mark_others(xsend *s, uint32_t d, int64_t wm)
{
    int rc = 0;
    for (uint32_t o = 0; o < s->n && !rc; o++)
        if (o != d) rc = weir_batch_mark(s->out[o], wm);
    if (!rc) s->all_wm = wm;
    return rc;
}

static int xsend_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    xsend *s = op->state;
    const uint32_t nf = b->schema->n_fields;
    int rc = 0;
    uint32_t m = 0;
    for (uint32_t r = 0; r < b->n_rows && !rc; r++) {
        for (; m < b->n_marks && b->mark_at[m] <= r && !rc; m++) { /* input marks go everywhere */
            for (uint32_t d = 0; d < s->n && !rc; d++)
                rc = weir_batch_mark(s->out[d], b->mark_wm[m]);
            if (b->mark_wm[m] > s->all_wm) s->all_wm = b->mark_wm[m];
        }
        if (rc) break;
        const weir_value *row = b->values + (size_t)r * nf;
        uint32_t d = owner_of(s, row);
        weir_batch *ob = s->out[d];
        if (weir_batch_full(ob)) {
            ob->wm_after = b->wm[r];
            if ((rc = send_to(s, d))) break;
            ob = s->out[d];
        }
        uint32_t o = ob->n_rows++; /* every value is written just below: no clearing */
        int64_t wm = b->wm[r];
        ob->ts[o] = b->ts[r];
        ob->wm[o] = wm;
        ob->pos[o] = weir_batch_pos(b, r);
        ob->origin = b->origin;
        weir_value *v = ob->values + (size_t)o * nf;
        copy_values(v, row, nf);
        if (s->n_text && (rc = copy_strings(s, ob, v))) break;
        if (ob->raw) {
            ob->raw[o] = (weir_raw){0};
            if (b->raw && b->raw[r].text) {
                char *t = weir_arena_strdup(&ob->arena, b->raw[r].text, b->raw[r].len);
                if (!t) {
                    rc = WEIR_ENOMEM;
                    break;
                }
                ob->raw[o] = (weir_raw){t, b->raw[r].len, b->raw[r].compact};
            }
        }
        if (wm > ob->last_wm) ob->last_wm = wm;
        /* a watermark above what every destination has seen (it rises once in many rows) */
        if (wm > s->all_wm) rc = mark_others(s, d, wm);
    }
    for (; m < b->n_marks && !rc; m++) {
        for (uint32_t d = 0; d < s->n && !rc; d++) rc = weir_batch_mark(s->out[d], b->mark_wm[m]);
        if (b->mark_wm[m] > s->all_wm) s->all_wm = b->mark_wm[m];
    }
    bool end = b->flags & WEIR_BATCH_END, idle = b->flags & WEIR_BATCH_IDLE;
    for (uint32_t d = 0; d < s->n && !rc; d++) {
        weir_batch *ob = s->out[d];
        if (!ob->n_rows && !end && !idle && b->wm_after <= s->sent_wm[d]) {
            ob->n_marks = 0; /* nothing above what was sent */
            continue;
        }
        ob->wm_after = b->wm_after;
        ob->flags = end ? WEIR_BATCH_END : idle ? WEIR_BATCH_IDLE : 0;
        rc = send_to(s, d);
    }
    if (end) s->ended = true;
    if (rc) return weir_operator_fail(op, rc, "exchange: %s", weir_strerror(rc));
    return 0;
}

int weir__xchg_send_barrier(weir_operator *op)
{
    xsend *s = op->state;
    if (s->ended) return 0; /* its receivers count END as aligned */
    int rc = 0;
    for (uint32_t d = 0; d < s->n && !rc; d++) {
        weir_batch *ob = s->out[d];
        if (ob->n_rows || ob->n_marks) { /* never the case between two process calls */
            ob->wm_after = ob->last_wm > s->sent_wm[d] ? ob->last_wm : s->sent_wm[d];
            if ((rc = send_to(s, d))) break;
            ob = s->out[d];
        }
        ob->wm_after = s->sent_wm[d];
        ob->flags = WEIR_BATCH_BARRIER;
        rc = send_to(s, d);
    }
    if (rc) return weir_operator_fail(op, rc, "exchange: %s", weir_strerror(rc));
    return 0;
}

const weir_operator_class weir__xchg_send_class = {
    .name = "Exchange", .process = xsend_process, .close = xsend_close};

/* The minimum over the channels that are not idle (windowing.md §2); when every channel is
 * idle, the highest of their watermarks (as a source does over its idle partitions,
 * connectors/json_rows.c). It never goes back. */
static int64_t min_chan(weir__xrecv *r, uint32_t n)
{
    int64_t m = WEIR_TIME_MAX, hi = WEIR_TIME_MIN;
    bool any = false;
    for (uint32_t i = 0; i < n; i++) {
        if (r->idle[i] && !r->ended[i]) {
            if (r->chan_wm[i] > hi) hi = r->chan_wm[i];
            continue;
        }
        any = true;
        if (r->chan_wm[i] < m) m = r->chan_wm[i];
    }
    if (!any) m = hi;
    if (m < r->emitted) m = r->emitted;
    r->emitted = m;
    return m;
}

static int deliver_now(weir_worker *w, uint32_t xi, uint32_t from, weir_batch *b);

/* Marks the channel started; holds b while some channel has not started. Returns 1 when b was
 * held (taken over), 0 when it may be delivered now, or WEIR_ENOMEM. */
static int hold(weir__xrecv *r, uint32_t n, uint32_t from, weir_batch *b)
{
    if (!r->started[from]) {
        r->started[from] = true;
        r->n_started++;
    }
    if (r->n_started == n && r->n_held == 0) return 0;
    if (r->n_held == r->cap_held) {
        uint32_t cap = r->cap_held ? r->cap_held * 2 : 16;
        weir_batch **h = realloc(r->held, cap * sizeof *h);
        uint32_t *f = h ? realloc(r->held_from, cap * sizeof *f) : NULL;
        if (h) r->held = h;
        if (!h || !f) return WEIR_ENOMEM;
        r->held_from = f;
        r->cap_held = cap;
    }
    r->held[r->n_held] = b;
    r->held_from[r->n_held++] = from;
    return 1;
}

/* Returns a delivered batch to its sender (through the free ring), or frees it. */
static void give_back(weir__run *run, uint32_t xi, uint32_t to_worker, uint32_t from, weir_batch *b)
{
    uint32_t n = run->n_workers;
    if (from == to_worker || !weir__ring_push(&run->xchg[xi].free[(size_t)to_worker * n + from], b))
        weir_batch_destroy(b);
}

/* Delivers b (from channel `from`), or holds it; returns 1 if b was taken over. */
static int deliver(weir_worker *w, uint32_t xi, uint32_t from, weir_batch *b)
{
    weir__xrecv *r = &w->recv[xi];
    uint32_t n = w->run->n_workers;
    if (b->flags & WEIR_BATCH_END) r->end_seen[from] = true;
    if (b->flags & WEIR_BATCH_BARRIER) {
        /* the channel is aligned: nothing more is taken from it until the worker's snapshot
         * (engine/checkpoint.c). A barrier starts a channel that sent nothing yet, so that the
         * batches held for it are delivered before the snapshot rather than lost from it. */
        r->barrier[from] = true;
        if (r->started[from]) return 0;
        r->started[from] = true;
        r->n_started++;
        if (r->n_started < n || !r->n_held) return 0;
        b = NULL; /* release the held batches below */
    }
    int held = b ? hold(r, n, from, b) : 1;
    if (held < 0) return held;
    if (held && r->n_started == n) { /* the last channel started: release, in arrival order */
        /* a channel whose first batch is an empty END has no partition: it never held the
         * watermark back */
        for (uint32_t i = 0; i < r->n_held; i++) {
            uint32_t f = r->held_from[i];
            bool first = true;
            for (uint32_t k = 0; k < i && first; k++) first = r->held_from[k] != f;
            const weir_batch *hb = r->held[i];
            if (first && (hb->flags & WEIR_BATCH_END) && !hb->n_rows && !hb->n_marks &&
                !r->ended[f]) {
                r->ended[f] = true;
                r->n_ended++;
                r->chan_wm[f] = WEIR_TIME_MAX;
            }
        }
        for (uint32_t i = 0; i < r->n_held && !w->status; i++) {
            int rc = deliver_now(w, xi, r->held_from[i], r->held[i]);
            if (rc && !w->status) w->status = rc;
            give_back(w->run, xi, w->id, r->held_from[i], r->held[i]);
        }
        r->n_held = 0;
        if (!b) return w->status ? w->status : 0; /* the barrier: given back by the caller */
        return w->status ? w->status : 1;
    }
    if (held) return 1;
    int rc = deliver_now(w, xi, from, b);
    return rc;
}

static int deliver_now(weir_worker *w, uint32_t xi, uint32_t from, weir_batch *b)
{
    weir__run *run = w->run;
    weir__xchg *x = &run->xchg[xi];
    weir__xrecv *r = &w->recv[xi];
    uint32_t n = run->n_workers, m = 0;
    r->idle[from] = (b->flags & WEIR_BATCH_IDLE) != 0; /* any other batch: active again */
    /* rows and marks, in order: each raises its channel, then reads the minimum over channels
     * (recomputed only when the channel rose: the other channels do not move meanwhile) */
    int64_t cur = min_chan(r, n);
    for (uint32_t i = 0; i <= b->n_rows; i++) {
        for (; m < b->n_marks && b->mark_at[m] <= i; m++) {
            if (b->mark_wm[m] > r->chan_wm[from]) {
                r->chan_wm[from] = b->mark_wm[m];
                cur = min_chan(r, n);
            }
            b->mark_wm[m] = cur;
        }
        if (i == b->n_rows) break;
        if (b->wm[i] > r->chan_wm[from]) {
            r->chan_wm[from] = b->wm[i];
            cur = min_chan(r, n);
        }
        b->wm[i] = cur;
    }
    if (b->wm_after > r->chan_wm[from]) r->chan_wm[from] = b->wm_after;
    if ((b->flags & WEIR_BATCH_END) && !r->ended[from]) {
        r->ended[from] = true;
        r->n_ended++;
        r->chan_wm[from] = WEIR_TIME_MAX;
    }
    b->wm_after = min_chan(r, n);
    b->flags = 0;
    if (r->n_ended == n) {
        if (r->delivered_end) return 0;
        r->delivered_end = true;
        b->flags = WEIR_BATCH_END;
    }
    weir_operator *to = &w->ops[x->consumer];
    return to->cls->process(to, x->input, b);
}

bool weir__xchg_drain(weir_worker *w)
{
    weir__run *run = w->run;
    uint32_t n = run->n_workers;
    bool any = false;
    for (uint32_t xi = 0; xi < run->n_xchg && !w->status; xi++) {
        weir__xchg *x = &run->xchg[xi];
        for (uint32_t from = 0; from < n && !w->status; from++) {
            if (from == w->id || w->recv[xi].barrier[from]) continue;
            weir__ring *ring = &x->data[(size_t)from * n + w->id];
            weir_batch *b;
            bool popped = false;
            while (!w->status && !w->recv[xi].barrier[from] && (b = weir__ring_pop(ring))) {
                popped = any = true;
                int rc = deliver(w, xi, from, b);
                if (rc < 0 && !w->status) w->status = rc;
                if (rc != 1) give_back(run, xi, w->id, from, b);
            }
            /* the sender sets `blocked` and then retries its push; we popped and then read
             * `blocked`: with a fence on both sides one of us sees the other (Dekker) */
            atomic_thread_fence(memory_order_seq_cst);
            if (popped && atomic_load(&run->workers[from]->blocked)) wake(run->workers[from]);
        }
    }
    return any;
}

void weir__xchg_finish(weir__run *run)
{
    uint32_t n = run->n_workers;
    for (uint32_t xi = 0; xi < run->n_xchg; xi++) {
        weir__xchg *x = &run->xchg[xi];
        for (size_t i = 0; x->data && i < (size_t)n * n; i++) {
            weir_batch *b;
            while ((b = weir__ring_pop(&x->data[i]))) weir_batch_destroy(b);
            while (x->free[i].slots && (b = weir__ring_pop(&x->free[i]))) weir_batch_destroy(b);
            weir__ring_finish(&x->data[i]);
            weir__ring_finish(&x->free[i]);
        }
        free(x->data);
        free(x->free);
    }
    free(run->xchg);
}
