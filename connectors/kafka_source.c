/* connectors/kafka_source.c: ReadFromKafka (see weir/kafka.h for what it does).
 *
 * Each worker's instance owns one librdkafka consumer. The consumer queue wakes the worker loop
 * through rd_kafka_queue_io_event_enable, which writes to a pipe a uv_poll_t watches, so the
 * worker sleeps in epoll while nothing arrives. pull() takes at most a batch of messages with
 * one rd_kafka_consume_batch_queue call (which also serves rebalances and errors), turns each into
 * a row of its partition's json_rows (one per partition, sharing a json_parts so that what this
 * instance emits carries the minimum of its partitions' watermarks), flushes, stores the offsets
 * reached and only then destroys the messages: rows point into the message payloads.
 *
 * Bounded mode assigns partitions itself (worker i of N takes p mod N == i) and ends a partition
 * at the high watermark offset it found at start. Unbounded mode subscribes with the group and
 * follows its rebalances: a revoked partition's rows are flushed and its offset stored before it
 * is given up; partitions not assigned to this instance count as idle, so they hold no
 * watermark back.
 *
 * Where a partition starts: at the group's committed offset, or at its beginning when the group
 * has none. The committed offsets must be read, never guessed: while the coordinator cannot
 * answer, the read is retried (the worker blocks, up to COMMITTED_WAIT_MS), and if it still fails
 * the run stops with an error rather than start from the beginning (a duplicate of everything).
 * A partition this instance has already read in this run (it lost it, say, when the group
 * evicted it during a broker outage, and got it back) resumes after what it read if the group's
 * committed offset is behind that: a commit failed, and going back would emit records twice.
 *
 * Commits: librdkafka's auto commit (every auto.commit.interval.ms, and when partitions are
 * revoked) of the offsets pull() stores, plus a synchronous commit at close, whose failure is
 * reported (a warning: the next run re-reads from the last committed offsets). Those commits
 * only reach the group while its coordinator connection is up and the group still counts this
 * consumer as a member: a consumer that sends no heartbeat for session.timeout.ms is evicted and
 * its commits are refused (UNKNOWN_MEMBER_ID). After a broker outage librdkafka reconnects with
 * an exponential backoff up to reconnect.backoff.max.ms, 10 s by default, which alone can outlast
 * the session; weir's consumers use 1 s (the Java client's default), so that a consumer is back
 * in touch with its coordinator about a second after the broker is. (kafka-dev's mock cluster
 * also refuses commits while its group rebalances, so with several workers a restart there can
 * re-read what was read just before a rebalance or the stop; the warning says when.)
 *
 * Checkpoints (engine/checkpoint.c). The snapshot, taken between pulls (so every record read has
 * been emitted: a pull flushes all it takes), writes per partition this instance reads or has
 * read its offset of the next record to emit and its watermark state (json_rows), in
 * WEIR_SNAP_SHARED (format: ks_snapshot). Every new instance gets every old instance's section and
 * keeps, per partition, the furthest position (in a run a partition's position only moves
 * forward: an instance taking it over starts where the last one gave it up). A partition then
 * starts at the checkpoint's offset, not at the group's committed one: bounded mode at the first
 * pull (restore comes after open; a position already at the end offset ends the partition at
 * once), group mode when the rebalance assigns it for the first time in the run; given up and
 * taken over in the same run, it starts where its last reader gave it up (kept in memory shared
 * by the node's instances, not through the group's commits). A checkpoint's offset the broker no
 * longer holds stops the run with an error naming it, as for the group's offsets. In group mode
 * an instance also keeps writing the restored positions of partitions nobody has taken yet, so a
 * checkpoint taken before the first rebalance loses none.
 *
 * With checkpoints the group's committed offsets follow them: auto commit is off (and pull
 * stores nothing); checkpoint_complete commits, asynchronously, the offsets of the snapshot of
 * that checkpoint for the partitions this instance still reads, and close commits the last
 * completed checkpoint's once more, synchronously. So monitoring tools see the group's lag, and a
 * run without a checkpoint to resume (--fresh deletes them, or a run without options.checkpoint)
 * starts from the group's committed offsets as always: where the last completed checkpoint was,
 * without the state it held (open windows, counts) — --fresh does not re-read the topic from its
 * beginning; reset the group's offsets for that. */
#include "json_rows.h"
#include "kafka_conf.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* Shared by the instances of one node (a pipeline runs once): with checkpoints, the position a
 * partition was given up at by the instance that last read it in this run (group mode). */
typedef struct ksrc_handover {
    uv_mutex_t lock;
    int64_t *at; /* [n] offset, or -1: no instance of this run has given it up */
    uint32_t n;
} ksrc_handover;

typedef struct ksrc_config {
    json_source_config *json; /* fields, timestamp, watermark, errors, raw */
    char *topic, *bootstrap, *group;
    bool bounded;
    char **user; /* consumer settings (pairs) */
    ksrc_handover *ho;
} ksrc_config;

/* A partition's json_rows state as weir__json_rows_snapshot writes it. */
typedef struct kwm {
    int64_t max_ts, wm, part_wm, last_active;
    bool seen, idle;
} kwm;

typedef struct kpart {
    json_rows rows;
    char *origin; /* "topic/partition@" */
    int64_t end;  /* bounded: the end offset found at start */
    int64_t lo;   /* bounded: the low watermark offset found at start */
    int64_t next; /* offset after the last record read */
    bool owned, ended, touched, stored;
    bool read;    /* this run has read from it: next is a position of its own */
    bool ck_have; /* the checkpoint restored holds a position of it: */
    bool ck_live; /* ... written by an instance that owned or had read it */
    bool ck_used; /* it started at ck_off */
    int64_t ck_off;
    kwm ck_wm;
    int64_t cap;  /* offset at the last snapshot (-1: not ours then), committed on completion */
    int64_t done; /* offset at the last completed checkpoint (-1: none) */
} kpart;

typedef struct ksrc {
    const ksrc_config *cfg;
    weir_operator *op;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int fds[2];
    uv_poll_t *poll;
    uv_timer_t *tick; /* idle_timeout checks */
    kpart *parts;
    uint32_t n, n_open; /* partitions of the topic; bounded: owned ones not ended */
    uint32_t n_owned;   /* bounded: partitions this instance reads */
    json_parts set;
    bool stopping, ended;
    rd_kafka_message_t **msgs;
    uint32_t n_msgs, cap_msgs;
    int err;          /* an error met in a librdkafka callback (reported by pull) */
    bool closing;     /* in close: the run is over, a revoke must not emit (the other workers,
                         and this one's consumers, may be gone) */
    int64_t last_log; /* processing time of the last warning printed */
    bool ck;          /* the run takes checkpoints: commits follow them */
    bool assigned;    /* bounded: rd_kafka_assign was called (at the first pull) */
    bool cap_pending; /* a snapshot's offsets wait for its completion */
    bool committed;   /* a checkpoint's offsets were committed (async): again at close */
} ksrc;

static void on_handle_close(uv_handle_t *h)
{
    free(h);
}

static void close_handles(ksrc *s)
{
    if (s->poll) uv_close((uv_handle_t *)s->poll, on_handle_close);
    if (s->tick) uv_close((uv_handle_t *)s->tick, on_handle_close);
    s->poll = NULL;
    s->tick = NULL;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    ksrc *s = ((weir_operator *)h->data)->state;
    weir__kafka_event_drain(s->fds[0]);
    weir_worker_wake(h->data);
}

static void on_tick(uv_timer_t *t)
{
    weir_worker_wake(t->data);
}

/* Stores the offsets reached in the touched partitions (for the group's commits). */
static void store_offsets(ksrc *s, bool only_owned)
{
    if (!s->cfg->group || s->ck) return; /* with checkpoints, commits follow them */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (uint32_t i = 0; l && i < s->n; i++) {
        kpart *k = &s->parts[i];
        if (k->stored || (only_owned && !k->owned)) continue;
        rd_kafka_topic_partition_list_add(l, s->cfg->topic, (int32_t)i)->offset = k->next;
        k->stored = true;
    }
    if (l && l->cnt) rd_kafka_offsets_store(s->rk, l); /* fails only for unassigned ones */
    if (l) rd_kafka_topic_partition_list_destroy(l);
}

/* Emits what the touched partitions hold. 0 or the run's error. */
static int flush_touched(ksrc *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        kpart *k = &s->parts[i];
        if (!k->touched) continue;
        k->touched = false;
        int rc = weir__json_rows_flush(&k->rows, false);
        if (rc) return rc;
    }
    return 0;
}

static int end_part(ksrc *s, kpart *k)
{
    k->ended = true;
    if (s->n_open) s->n_open--;
    return weir__json_rows_flush(&k->rows, true);
}

/* Errors that say the coordinator or the connection is not (yet) there: worth retrying. */
static bool retriable(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT: return true;
    default: return false;
    }
}

/* A monotonic clock in ms, for the retry deadlines below. */
static int64_t clock_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000);
}

#define COMMITTED_WAIT_MS    30000 /* reading the committed offsets, retries included */
#define CLOSE_COMMIT_WAIT_MS 10000 /* the commit at close, retries included */

/* Reads the group's committed offsets of the partitions of l into their offset fields
 * (RD_KAFKA_OFFSET_INVALID where the group has committed none). Retriable errors, of the request
 * or of a partition, are retried with a backoff for up to COMMITTED_WAIT_MS in all; this blocks
 * the worker, which cannot read these partitions before it knows where they start. 0, or
 * WEIR_EIO with the message in errbuf. */
static int read_committed(ksrc *s, rd_kafka_topic_partition_list_t *l, char *errbuf, size_t errlen)
{
    int64_t deadline = clock_ms() + COMMITTED_WAIT_MS;
    int backoff = 100;
    bool warned = false;
    for (;;) {
        for (int i = 0; i < l->cnt; i++) {
            l->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
            l->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        int64_t left = deadline - clock_ms();
        int timeout = left < 1 ? 1 : left > 10000 ? 10000 : (int)left;
        rd_kafka_resp_err_t err = rd_kafka_committed(s->rk, l, timeout);
        const rd_kafka_topic_partition_t *bad = NULL; /* a partition's error, the worst first */
        for (int i = 0; !err && i < l->cnt; i++) {
            const rd_kafka_topic_partition_t *tp = &l->elems[i];
            if (tp->err && (!bad || (retriable(bad->err) && !retriable(tp->err)))) bad = tp;
        }
        if (bad) err = bad->err;
        if (!err) return 0;
        if (!retriable(err) || clock_ms() + backoff >= deadline) {
            if (bad)
                snprintf(errbuf, errlen,
                         "ReadFromKafka: %s/%" PRId32 ": cannot read the committed offset of "
                         "group %s: %s (weir does not start from the beginning instead)",
                         s->cfg->topic, bad->partition, s->cfg->group, rd_kafka_err2str(err));
            else
                snprintf(errbuf, errlen,
                         "ReadFromKafka: %s: cannot read the committed offsets of group %s: %s "
                         "(weir does not start from the beginning instead)",
                         s->cfg->topic, s->cfg->group, rd_kafka_err2str(err));
            return WEIR_EIO;
        }
        if (!warned) {
            warned = true;
            fprintf(stderr,
                    "weir: warning: ReadFromKafka %s: cannot read the committed offsets of group "
                    "%s yet: %s (retrying)\n",
                    s->cfg->topic, s->cfg->group, rd_kafka_err2str(err));
        }
        uv_sleep((unsigned)backoff);
        backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
    }
}

#define NO_HANDOVER INT64_MIN

/* With checkpoints: the position partition p was given up at in this run, or NO_HANDOVER. */
static int64_t handover_get(ksrc *s, int32_t p)
{
    ksrc_handover *h = s->cfg->ho;
    uv_mutex_lock(&h->lock);
    int64_t at = h->at && (uint32_t)p < h->n ? h->at[p] : NO_HANDOVER;
    uv_mutex_unlock(&h->lock);
    return at;
}

static void handover_set(ksrc *s, int32_t p, int64_t at)
{
    ksrc_handover *h = s->cfg->ho;
    uv_mutex_lock(&h->lock);
    if (h->at && (uint32_t)p < h->n) h->at[p] = at;
    uv_mutex_unlock(&h->lock);
}

/* Puts a partition's watermark state restored from a checkpoint into its rows and slot. */
static void apply_wm(ksrc *s, uint32_t i, const kwm *m)
{
    json_rows *j = &s->parts[i].rows;
    j->max_ts = m->max_ts;
    j->wm = m->wm;
    j->seen = m->seen;
    s->set.wm[i] = m->part_wm;
    s->set.last_active[i] = m->last_active;
    s->set.idle[i] = m->idle;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    ksrc *s = opaque;
    int64_t now = weir_operator_now(s->op);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* resume from the group's committed offsets; a partition the group never committed
         * starts at its beginning (auto.offset.reset stays "error" for offsets out of range) */
        char msg[512];
        int rc = read_committed(s, list, msg, sizeof msg);
        if (rc) { /* take none of them: the run stops with the error */
            if (!s->err) s->err = weir_operator_fail(s->op, rc, "%s", msg);
            rd_kafka_assign(rk, NULL);
            return;
        }
        for (int i = 0; i < list->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &list->elems[i];
            if (tp->partition < 0 || (uint32_t)tp->partition >= s->n) {
                if (!s->err)
                    s->err = weir_operator_fail(s->op, WEIR_EIO,
                                                "ReadFromKafka: %s: partition %" PRId32
                                                " appeared after the run started (the topic had "
                                                "%" PRIu32 "); restart the pipeline",
                                                s->cfg->topic, tp->partition, s->n);
                continue;
            }
            kpart *k = &s->parts[tp->partition];
            k->stored = true;
            if (s->ck) { /* given up in this run, else the checkpoint's, else the group's */
                int64_t at = handover_get(s, tp->partition);
                if (at != NO_HANDOVER) {
                    tp->offset = at;
                } else if (k->ck_have) {
                    tp->offset = k->ck_off;
                    k->ck_used = true; /* for message_error */
                    apply_wm(s, (uint32_t)tp->partition, &k->ck_wm);
                }
            }
            if (k->read && tp->offset < k->next) {
                /* read before in this run, and the group's commit of it failed */
                char had[32] = "none";
                if (tp->offset >= 0) snprintf(had, sizeof had, "%" PRId64, tp->offset);
                fprintf(stderr,
                        "weir: warning: ReadFromKafka %s/%" PRId32 ": the committed offset of "
                        "group %s (%s) is behind offset %" PRId64
                        " this run has read to (a commit failed): resuming at %" PRId64 "\n",
                        s->cfg->topic, tp->partition, s->cfg->group, had, k->next, k->next);
                tp->offset = k->next;
                k->stored = false; /* to be committed again */
            } else if (tp->offset < 0) {
                tp->offset = RD_KAFKA_OFFSET_BEGINNING;
            }
            k->next = tp->offset; /* RD_KAFKA_OFFSET_BEGINNING when none is known */
            k->owned = true;
            s->set.idle[tp->partition] = false;
            s->set.last_active[tp->partition] = now;
        }
        rd_kafka_assign(rk, list);
    } else {
        int rc = s->closing ? 0 : flush_touched(s);
        if (rc && !s->err) s->err = rc;
        store_offsets(s, true);
        for (int i = 0; i < list->cnt; i++) {
            int32_t p = list->elems[i].partition;
            if (p < 0 || (uint32_t)p >= s->n) continue;
            if (s->ck && s->parts[p].owned) handover_set(s, p, s->parts[p].next);
            s->parts[p].owned = false;
            s->set.idle[p] = true; /* not ours: holds nothing back */
        }
        rd_kafka_assign(rk, NULL);
        rc = s->closing ? 0 : weir__json_rows_emit_state(&s->parts[0].rows);
        if (rc && !s->err) s->err = rc;
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    ksrc *s = opaque;
    char fatal[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL && s->rk &&
        rd_kafka_fatal_error(s->rk, fatal, sizeof fatal)) {
        if (!s->err)
            s->err =
                weir_operator_fail(s->op, WEIR_EIO, "ReadFromKafka: %s: %s", s->cfg->topic, fatal);
        return;
    }
    /* transient trouble (broker down, timeouts): librdkafka retries; say so, at most once a
     * second */
    int64_t now = weir_operator_now(s->op);
    if (now - s->last_log >= 1000) {
        s->last_log = now;
        fprintf(stderr, "weir: warning: ReadFromKafka %s: %s (retrying)\n", s->cfg->topic, reason);
    }
}

/* weir's consumer defaults (the user's consumer_config comes after them). queued.min.messages:
 * librdkafka 2.0.2 counts it over the worker's whole consumer queue (every partition's fetch
 * queue is forwarded into it), stops fetching when the queue holds more, and fetches again only
 * about 0.8 s after the queue has drained: with the default of 100000 a pipeline that drains
 * faster than that sat idle for most of the time (found by benchmarks/bench_kafka). The bytes
 * stay bounded by queued.max.messages.kbytes (64 MiB by default). */
#define SOURCE_DEFAULTS                                                                            \
    "enable.auto.offset.store", "false", "auto.offset.reset", "error", "fetch.wait.max.ms", "10",  \
        "socket.nagle.disable", "true", "client.id", "weir", "enable.partition.eof", "false",      \
        "reconnect.backoff.max.ms", "1000", "queued.min.messages", "500000"
static const char *const source_defaults_group[] = {SOURCE_DEFAULTS, "enable.auto.commit", "true",
                                                    NULL};
static const char *const source_defaults_group_ck[] = {SOURCE_DEFAULTS, "enable.auto.commit",
                                                       "false", NULL};
static const char *const source_defaults_nogroup[] = {
    SOURCE_DEFAULTS, "enable.auto.commit", "false", "group.id", "weir-unused", NULL};

/* Partition count of the topic, from the cluster's list of topics (asking for the topic alone
 * would create it on brokers that auto-create topics, and a misspelled name would read nothing). */
static int topic_partitions(ksrc *s, uint32_t *n, char *errbuf, size_t errlen)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(s->rk, 1, NULL, &md, 10000);
    if (err) {
        snprintf(errbuf, errlen, "ReadFromKafka: cannot reach %s for topic %s: %s",
                 s->cfg->bootstrap, s->cfg->topic, rd_kafka_err2str(err));
        return WEIR_EIO;
    }
    int rc = WEIR_ENOENT;
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (strcmp(t->topic, s->cfg->topic)) continue;
        if (t->err || t->partition_cnt <= 0) {
            snprintf(errbuf, errlen, "ReadFromKafka: topic %s: %s", s->cfg->topic,
                     t->err ? rd_kafka_err2str(t->err) : "no partitions");
            rc = WEIR_EIO;
        } else {
            *n = (uint32_t)t->partition_cnt;
            rc = 0;
        }
    }
    if (rc == WEIR_ENOENT) {
        size_t off =
            (size_t)snprintf(errbuf, errlen, "ReadFromKafka: topic %s does not exist on %s",
                             s->cfg->topic, s->cfg->bootstrap);
        for (int i = 0, k = 0; i < md->topic_cnt && off < errlen && k < 20; i++) {
            if (md->topics[i].topic[0] == '_') continue; /* internal topics */
            off += (size_t)snprintf(errbuf + off, errlen - off, "%s%s",
                                    k++ ? ", " : " (it has: ", md->topics[i].topic);
        }
        if (off < errlen && strstr(errbuf, "(it has")) snprintf(errbuf + off, errlen - off, ")");
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Bounded: finds this worker's partitions' start offsets (the group's committed offset, else the
 * beginning) and end offsets; a checkpoint restored may move the starts before bounded_assign
 * checks them and assigns the partitions, at the first pull. */
static int assign_bounded(ksrc *s, char *errbuf, size_t errlen)
{
    uint32_t w = weir_operator_worker_index(s->op), nw = weir_operator_worker_count(s->op);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)(s->n / nw + 1));
    if (!l) return WEIR_ENOMEM;
    for (uint32_t i = w; i < s->n; i += nw)
        rd_kafka_topic_partition_list_add(l, s->cfg->topic, (int32_t)i);
    int rc = 0;
    if (s->cfg->group && l->cnt) rc = read_committed(s, l, errbuf, errlen);
    /* the first and the end offsets of every partition, in two requests (Kafka's ListOffsets
     * with the timestamps -2, earliest, and -1, latest): rd_kafka_query_watermark_offsets asks
     * for one partition at a time and took about 40 ms each */
    rd_kafka_topic_partition_list_t *lows = NULL, *highs = NULL;
    if (!rc && l->cnt) {
        lows = rd_kafka_topic_partition_list_copy(l);
        highs = rd_kafka_topic_partition_list_copy(l);
        if (!lows || !highs) rc = WEIR_ENOMEM;
    }
    for (int pass = 0; !rc && l->cnt && pass < 2; pass++) {
        rd_kafka_topic_partition_list_t *q = pass ? highs : lows;
        for (int i = 0; i < q->cnt; i++) q->elems[i].offset = pass ? -1 : -2;
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(s->rk, q, 10000);
        for (int i = 0; !err && i < q->cnt; i++) err = q->elems[i].err;
        if (err) {
            snprintf(errbuf, errlen, "ReadFromKafka: %s: cannot read its partitions' offsets: %s",
                     s->cfg->topic, rd_kafka_err2str(err));
            rc = WEIR_EIO;
        }
    }
    for (int i = 0; !rc && i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        int64_t lo = lows->elems[i].offset, hi = highs->elems[i].offset;
        if (lo < 0 || hi < lo) {
            snprintf(errbuf, errlen,
                     "ReadFromKafka: %s/%" PRId32 ": the broker gave no valid offsets (%" PRId64
                     " to %" PRId64 ")",
                     s->cfg->topic, tp->partition, lo, hi);
            rc = WEIR_EIO;
            break;
        }
        kpart *k = &s->parts[tp->partition];
        k->owned = true;
        s->n_owned++;
        k->end = hi;
        k->lo = lo;
        k->next = s->cfg->group && tp->offset >= 0 ? tp->offset : lo;
        s->n_open++;
    }
    if (lows) rd_kafka_topic_partition_list_destroy(lows);
    if (highs) rd_kafka_topic_partition_list_destroy(highs);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* Bounded, at the first pull: checks the start offsets and assigns the partitions. */
static int bounded_assign(ksrc *s)
{
    s->assigned = true;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->n_owned + 1);
    if (!l) return weir_operator_fail(s->op, WEIR_ENOMEM, "ReadFromKafka: out of memory");
    int rc = 0;
    for (uint32_t i = 0; !rc && i < s->n; i++) {
        kpart *k = &s->parts[i];
        if (!k->owned) continue;
        if (k->next < k->lo || k->next > k->end)
            rc = weir_operator_fail(s->op, WEIR_EINVAL,
                                    "ReadFromKafka: %s/%" PRIu32 ": the %s offset %" PRId64
                                    " is not on the broker (it holds %" PRId64 " to %" PRId64
                                    "): weir does not skip data; %s",
                                    s->cfg->topic, i, k->ck_used ? "checkpoint's" : "group's",
                                    k->next, k->lo, k->end,
                                    k->ck_used ? "start over with --fresh if that is meant"
                                               : "reset the group's offsets if that is meant");
        else
            rd_kafka_topic_partition_list_add(l, s->cfg->topic, (int32_t)i)->offset = k->next;
    }
    if (!rc && l->cnt) {
        rd_kafka_resp_err_t err = rd_kafka_assign(s->rk, l);
        if (err)
            rc = weir_operator_fail(s->op, WEIR_EIO, "ReadFromKafka: %s: %s", s->cfg->topic,
                                    rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static int ks_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    const ksrc_config *cfg = config;
    ksrc *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = cfg;
    s->op = op;
    s->fds[0] = s->fds[1] = -1;
    s->last_log = 0; /* the epoch: long enough ago, without overflow in now - last_log */
    s->ck = weir_operator_checkpointing(op);
    const char *const *defaults = !cfg->group ? source_defaults_nogroup
                                  : s->ck     ? source_defaults_group_ck
                                              : source_defaults_group;
    rd_kafka_conf_t *conf =
        weir__kafka_conf("ReadFromKafka", cfg->bootstrap, defaults, cfg->user, errbuf, errlen);
    if (!conf) return WEIR_EINVAL;
    if (cfg->group) rd_kafka_conf_set(conf, "group.id", cfg->group, NULL, 0);
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_error_cb(conf, on_error);
    if (!cfg->bounded) rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    char err[512];
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errbuf, errlen, "ReadFromKafka: %s", err);
        return WEIR_EINVAL;
    }
    rd_kafka_poll_set_consumer(s->rk);
    int rc = topic_partitions(s, &s->n, errbuf, errlen);
    if (rc) return rc;
    s->parts = calloc(s->n, sizeof *s->parts);
    s->set.n = s->n;
    s->set.wm = malloc(s->n * sizeof *s->set.wm);
    s->set.last_active = malloc(s->n * sizeof *s->set.last_active);
    s->set.idle = calloc(s->n, sizeof *s->set.idle);
    s->set.emitted = WEIR_TIME_MIN;
    s->cap_msgs = weir_operator_batch_size(op);
    s->msgs = malloc(s->cap_msgs * sizeof *s->msgs);
    if (!s->parts || !s->set.wm || !s->set.last_active || !s->set.idle || !s->msgs)
        return WEIR_ENOMEM;
    uv_mutex_lock(&cfg->ho->lock);
    if (!cfg->ho->at && (cfg->ho->at = malloc(s->n * sizeof *cfg->ho->at))) {
        cfg->ho->n = s->n;
        for (uint32_t i = 0; i < s->n; i++) cfg->ho->at[i] = NO_HANDOVER;
    }
    bool ho_ok = cfg->ho->at != NULL;
    uv_mutex_unlock(&cfg->ho->lock);
    if (!ho_ok) return WEIR_ENOMEM;
    int64_t now = weir_operator_now(op);
    for (uint32_t i = 0; i < s->n; i++) {
        kpart *k = &s->parts[i];
        k->stored = true;
        k->cap = k->done = -1;
        s->set.wm[i] = WEIR_TIME_MIN;
        s->set.last_active[i] = now;
        s->set.idle[i] = !cfg->bounded; /* unbounded: idle until the group assigns it */
        if ((rc = weir__json_rows_init(&k->rows, op, cfg->json, errbuf, errlen))) return rc;
        size_t len = strlen(cfg->topic) + 16;
        if (!(k->origin = malloc(len))) return WEIR_ENOMEM;
        snprintf(k->origin, len, "%s/%" PRIu32 "@", cfg->topic, i);
        k->rows.origin = k->origin;
        k->rows.batch->origin = k->origin;
        k->rows.parts = &s->set;
        k->rows.part = i;
    }
    if (cfg->bounded) {
        if ((rc = assign_bounded(s, errbuf, errlen))) return rc;
        for (uint32_t i = 0; i < s->n; i++)
            if (!s->parts[i].owned) { /* another worker's: ended from the start */
                s->parts[i].ended = true;
                s->set.wm[i] = WEIR_TIME_MAX;
                s->set.n_ended++;
            }
    } else {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        if (!l) return WEIR_ENOMEM;
        rd_kafka_topic_partition_list_add(l, cfg->topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(s->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
            snprintf(errbuf, errlen, "ReadFromKafka: %s: cannot subscribe: %s", cfg->topic,
                     rd_kafka_err2str(e));
            return WEIR_EIO;
        }
    }
    /* wake-ups: librdkafka writes to the pipe when the consumer queue becomes non-empty */
    s->q = rd_kafka_queue_get_consumer(s->rk);
    if (!s->q || weir__kafka_event_pipe(s->fds)) {
        snprintf(errbuf, errlen, "ReadFromKafka: cannot set up its wake-ups");
        return WEIR_EIO;
    }
    rd_kafka_queue_io_event_enable(s->q, s->fds[1], "1", 1);
    s->poll = malloc(sizeof *s->poll);
    if (!s->poll) return WEIR_ENOMEM;
    if (uv_poll_init(weir_worker_loop(op), s->poll, s->fds[0])) {
        free(s->poll);
        s->poll = NULL;
        snprintf(errbuf, errlen, "ReadFromKafka: cannot watch its wake-up pipe");
        return WEIR_EIO;
    }
    s->poll->data = op;
    uv_poll_start(s->poll, UV_READABLE, on_readable);
    if (cfg->json->idle_timeout > 0) {
        s->tick = malloc(sizeof *s->tick);
        if (!s->tick) return WEIR_ENOMEM;
        uv_timer_init(weir_worker_loop(op), s->tick);
        s->tick->data = op;
        uint64_t every =
            (uint64_t)(cfg->json->idle_timeout / 4 > 10 ? cfg->json->idle_timeout / 4 : 10);
        if (every > 1000) every = 1000;
        uv_timer_start(s->tick, on_tick, every, every);
    }
    return 0;
}

/* With checkpoints: the offsets of the last completed checkpoint of the partitions this instance
 * still reads (NULL when there are none, or out of memory). */
static rd_kafka_topic_partition_list_t *done_offsets(ksrc *s)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (uint32_t i = 0; l && i < s->n; i++)
        if (s->parts[i].owned && s->parts[i].done >= 0)
            rd_kafka_topic_partition_list_add(l, s->cfg->topic, (int32_t)i)->offset =
                s->parts[i].done;
    if (l && !l->cnt) {
        rd_kafka_topic_partition_list_destroy(l);
        l = NULL;
    }
    return l;
}

/* One commit of the offsets of l (NULL: the stored ones); waits for its result until timeout_ms. */
static rd_kafka_resp_err_t commit_stored(ksrc *s, const rd_kafka_topic_partition_list_t *l,
                                         rd_kafka_queue_t *q, int timeout_ms)
{
    rd_kafka_resp_err_t err = rd_kafka_commit_queue(s->rk, l, q, NULL, NULL);
    if (err) return err;
    int64_t deadline = clock_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - clock_ms();
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, left < 0 ? 0 : (int)left);
        if (!ev) return RD_KAFKA_RESP_ERR__TIMED_OUT; /* still pending */
        if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_OFFSET_COMMIT) {
            rd_kafka_event_destroy(ev);
            continue;
        }
        err = rd_kafka_event_error(ev);
        const rd_kafka_topic_partition_list_t *l = rd_kafka_event_topic_partition_list(ev);
        for (int i = 0; !err && l && i < l->cnt; i++) err = l->elems[i].err;
        rd_kafka_event_destroy(ev);
        return err;
    }
}

/* Commits the offsets stored for the group synchronously before the consumer closes, retrying
 * retriable errors for up to CLOSE_COMMIT_WAIT_MS in all. rd_kafka_consumer_close() commits
 * them too, but says nothing when that fails: here a failure is reported, since the next run then
 * reads again what this one has read. Nothing to commit (NO_OFFSET) is fine. Not done when the
 * user's consumer_config turns enable.auto.commit off. With checkpoints it commits the offsets of
 * the last completed checkpoint again (checkpoint_complete's commit is asynchronous). */
static void commit_at_close(ksrc *s)
{
    char on[8] = "";
    size_t len = sizeof on;
    rd_kafka_topic_partition_list_t *l = NULL; /* with checkpoints: the last completed one's */
    if (s->ck) {
        if (!s->committed || !(l = done_offsets(s))) return;
    } else if (rd_kafka_conf_get(rd_kafka_conf(s->rk), "enable.auto.commit", on, &len) !=
                   RD_KAFKA_CONF_OK ||
               strcmp(on, "true")) {
        return;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(s->rk);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__NO_OFFSET;
    int64_t deadline = clock_ms() + CLOSE_COMMIT_WAIT_MS;
    int backoff = 200;
    while (q) {
        int64_t left = deadline - clock_ms();
        err = commit_stored(s, l, q, left < 1 ? 1 : (int)left);
        if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET) break;
        if (!retriable(err) || clock_ms() + backoff >= deadline) break;
        uv_sleep((unsigned)backoff);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
    if (q) rd_kafka_queue_destroy(q);
    if (l) rd_kafka_topic_partition_list_destroy(l);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        fprintf(stderr,
                "weir: warning: ReadFromKafka %s: could not commit the offsets of group %s: %s "
                "(the next run re-reads from the last committed ones)\n",
                s->cfg->topic, s->cfg->group, rd_kafka_err2str(err));
}

static void ks_close(weir_operator *op)
{
    ksrc *s = op->state;
    if (!s) return;
    for (uint32_t i = 0; i < s->n_msgs; i++) rd_kafka_message_destroy(s->msgs[i]);
    if (s->q) {
        rd_kafka_queue_io_event_enable(s->q, -1, NULL, 0);
        rd_kafka_queue_destroy(s->q);
    }
    s->closing = true;
    if (s->rk) {
        if (s->cfg->group && s->parts) commit_at_close(s);
        rd_kafka_consumer_close(s->rk); /* commits what is left, leaves the group */
        rd_kafka_destroy(s->rk);
    }
    close_handles(s);
    for (int i = 0; i < 2; i++)
        if (s->fds[i] >= 0) close(s->fds[i]);
    for (uint32_t i = 0; s->parts && i < s->n; i++) {
        weir__json_rows_finish(&s->parts[i].rows);
        free(s->parts[i].origin);
    }
    free(s->parts);
    free(s->set.wm);
    free(s->set.last_active);
    free(s->set.idle);
    free(s->msgs);
    free(s);
}

/* A consumer error carried by a message: out-of-range offsets and fatal errors stop the run,
 * transient ones are reported and retried by librdkafka. */
static int message_error(ksrc *s, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return 0;
    bool from_ck = m->partition >= 0 && (uint32_t)m->partition < s->n &&
                   s->parts[m->partition].ck_used && !s->parts[m->partition].read;
    if ((m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
         m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) &&
        from_ck)
        return weir_operator_fail(s->op, WEIR_EIO,
                                  "ReadFromKafka: %s/%" PRId32 ": the checkpoint's offset %" PRId64
                                  " is not on the broker: weir does not skip data; start over "
                                  "with --fresh if that is meant (%s)",
                                  s->cfg->topic, m->partition, s->parts[m->partition].next,
                                  rd_kafka_message_errstr(m));
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
        return weir_operator_fail(s->op, WEIR_EIO,
                                  "ReadFromKafka: %s/%" PRId32 ": offset %" PRId64
                                  " is no longer on the broker: weir does not skip data; reset "
                                  "the group's offsets if that is meant (%s)",
                                  s->cfg->topic, m->partition, m->offset,
                                  rd_kafka_message_errstr(m));
    char fatal[512];
    if (m->err == RD_KAFKA_RESP_ERR__FATAL ||
        m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
        m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
        m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        const char *why =
            m->err == RD_KAFKA_RESP_ERR__FATAL && rd_kafka_fatal_error(s->rk, fatal, sizeof fatal)
                ? fatal
                : rd_kafka_message_errstr(m);
        return weir_operator_fail(s->op, WEIR_EIO, "ReadFromKafka: %s: %s", s->cfg->topic, why);
    }
    on_error(s->rk, m->err, rd_kafka_message_errstr(m), s);
    return 0;
}

/* One message into its partition's rows. */
static int take_message(ksrc *s, rd_kafka_message_t *m)
{
    if (m->err) return message_error(s, m);
    if (m->partition < 0 || (uint32_t)m->partition >= s->n) return 0;
    kpart *k = &s->parts[m->partition];
    if (!k->owned || k->ended) return 0; /* a stale message of a revoked partition */
    if (s->cfg->bounded && m->offset >= k->end) return 0;
    int64_t ts = 0;
    if (s->cfg->json->external_ts) {
        ts = rd_kafka_message_timestamp(m, NULL);
        if (ts < 0) ts = 0; /* no timestamp on the record (very old producers) */
    }
    int64_t pos = m->offset + 1;
    int rc;
    if (s->cfg->json->raw)
        rc = weir__json_rows_raw(&k->rows, m->key, m->key_len, m->payload, m->len, pos, ts);
    else
        rc = weir__json_rows_record(&k->rows, m->payload ? m->payload : "", m->len, pos, ts);
    k->next = m->offset + 1;
    k->touched = true;
    k->stored = false;
    k->read = true;
    return rc;
}

static int finish(ksrc *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        kpart *k = &s->parts[i];
        if (k->ended) continue;
        if (!s->cfg->bounded) s->set.idle[i] = false; /* ending: counts as ended, not idle */
        int rc = end_part(s, k);
        if (rc) return rc;
    }
    s->ended = true;
    close_handles(s);
    return WEIR_PULL_END;
}

static int ks_pull(weir_operator *op, uint32_t max_rows)
{
    ksrc *s = op->state;
    if (s->ended) return WEIR_PULL_END;
    int rc = 0;
    if (s->cfg->bounded && !s->assigned && (rc = bounded_assign(s))) return rc;
    if (s->stopping) {
        rc = flush_touched(s);
        store_offsets(s, true);
        return rc ? rc : finish(s);
    }
    uint32_t limit = max_rows < s->cap_msgs ? max_rows : s->cap_msgs;
    /* one call for the lot (callbacks, rebalances included, are served in it): a
     * rd_kafka_consumer_poll per message locked the queue and read the clock each time */
    ssize_t n = rd_kafka_consume_batch_queue(s->q, 0, s->msgs, limit);
    s->n_msgs = n > 0 ? (uint32_t)n : 0;
    for (uint32_t i = 0; i < s->n_msgs && !rc && !s->err; i++) rc = take_message(s, s->msgs[i]);
    if (!rc) rc = s->err;
    if (!rc) rc = flush_touched(s);
    if (!rc) store_offsets(s, true);
    for (uint32_t i = 0; i < s->n_msgs; i++) rd_kafka_message_destroy(s->msgs[i]);
    uint32_t got = s->n_msgs;
    s->n_msgs = 0;
    if (rc) return rc;
    if (s->cfg->bounded) {
        for (uint32_t i = 0; i < s->n; i++) {
            kpart *k = &s->parts[i];
            if (!k->ended && k->next >= k->end && (rc = end_part(s, k))) return rc;
        }
        if (s->n_open == 0) {
            if (!s->n_owned) { /* no partition of its own: its END was never sent */
                s->set.n_ended = s->set.n - 1;
                if ((rc = weir__json_rows_flush(&s->parts[0].rows, true))) return rc;
            }
            s->ended = true;
            close_handles(s);
            return WEIR_PULL_END;
        }
    }
    if (got) return WEIR_PULL_MORE;
    if (s->cfg->json->idle_timeout > 0 &&
        (rc = weir__json_rows_check_idle(&s->parts[0].rows, weir_operator_now(op))))
        return rc;
    return WEIR_PULL_IDLE;
}

static void ks_stop(weir_operator *op)
{
    ((ksrc *)op->state)->stopping = true;
}

/* ---- checkpoints ---- */

#define KS_SNAP_VERSION 1u

/* Whether partition i goes into this instance's snapshot, and from where: live (its own position
 * and rows) or carried (the position restored, for a partition nobody took since). */
static bool snap_entry(const ksrc *s, uint32_t i, bool *live)
{
    const kpart *k = &s->parts[i];
    *live = k->owned || k->read;
    if (s->cfg->bounded) return k->owned;
    return *live || k->ck_have;
}

/* The shared section: u32 version, str topic, u32 partitions of the topic, u32 entries, then per
 * entry: u32 partition, i64 offset of the next record to emit (RD_KAFKA_OFFSET_BEGINNING -2:
 * none read, from its beginning), u8 live, and the partition's json_rows state
 * (weir__json_rows_snapshot's layout). Between pulls every record read has been emitted. */
static int ks_snapshot(weir_operator *op, weir_snap_writer *w)
{
    ksrc *s = op->state;
    uint32_t n = 0;
    bool live;
    for (uint32_t i = 0; i < s->n; i++) n += snap_entry(s, i, &live);
    int rc = weir_snap_section(w, WEIR_SNAP_SHARED);
    if (!rc) rc = weir_snap_u32(w, KS_SNAP_VERSION);
    if (!rc) rc = weir_snap_str(w, s->cfg->topic, (uint32_t)strlen(s->cfg->topic));
    if (!rc) rc = weir_snap_u32(w, s->n);
    if (!rc) rc = weir_snap_u32(w, n);
    for (uint32_t i = 0; !rc && i < s->n; i++) {
        kpart *k = &s->parts[i];
        k->cap = k->owned && k->next >= 0 ? k->next : -1; /* for checkpoint_complete */
        if (!snap_entry(s, i, &live)) continue;
        rc = weir_snap_u32(w, i);
        if (!rc) rc = weir_snap_i64(w, live ? k->next : k->ck_off);
        if (!rc) rc = weir_snap_u8(w, live);
        if (!rc && live) rc = weir__json_rows_snapshot(&k->rows, w);
        if (!rc && !live) {
            const kwm *m = &k->ck_wm;
            rc = weir_snap_i64(w, m->max_ts);
            if (!rc) rc = weir_snap_i64(w, m->wm);
            if (!rc) rc = weir_snap_u8(w, m->seen);
            if (!rc) rc = weir_snap_i64(w, m->part_wm);
            if (!rc) rc = weir_snap_i64(w, m->last_active);
            if (!rc) rc = weir_snap_u8(w, m->idle);
        }
    }
    s->cap_pending = true;
    return rc ? weir_operator_fail(op, rc, "ReadFromKafka %s: out of memory", s->cfg->topic) : 0;
}

/* Every old instance's section: per partition the furthest position wins (positions of a
 * partition only move forward in a run: an instance taking it over starts where the last one
 * gave it up), a live one over a carried one at the same offset. */
static int ks_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    ksrc *s = op->state;
    const char *topic = s->cfg->topic;
    if (group != WEIR_SNAP_SHARED) return 0;
    uint32_t version = weir_snap_get_u32(r);
    if (weir_snap_ok(r) && version != KS_SNAP_VERSION)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "ReadFromKafka %s: the checkpoint holds this source's state in "
                                  "format version %u; this weir reads version %u",
                                  topic, version, KS_SNAP_VERSION);
    uint32_t len;
    const char *t = weir_snap_get_str(r, &len);
    uint32_t n_parts = weir_snap_get_u32(r), n = weir_snap_get_u32(r);
    if (weir_snap_ok(r) && (len != strlen(topic) || memcmp(t, topic, len)))
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "ReadFromKafka %s: the checkpoint read topic %.*s; start over "
                                  "with --fresh to read another topic",
                                  topic, (int)len, t);
    if (weir_snap_ok(r) && n_parts > s->n)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "ReadFromKafka %s: the checkpoint read %" PRIu32
                                  " partitions, the topic has %" PRIu32 " now",
                                  topic, n_parts, s->n);
    for (uint32_t e = 0; e < n && weir_snap_ok(r); e++) {
        uint32_t i = weir_snap_get_u32(r);
        int64_t off = weir_snap_get_i64(r);
        bool live = weir_snap_get_u8(r) != 0;
        kwm m;
        m.max_ts = weir_snap_get_i64(r);
        m.wm = weir_snap_get_i64(r);
        m.seen = weir_snap_get_u8(r) != 0;
        m.part_wm = weir_snap_get_i64(r);
        m.last_active = weir_snap_get_i64(r);
        m.idle = weir_snap_get_u8(r) != 0;
        if (!weir_snap_ok(r) || i >= s->n) {
            r->bad = true;
            break;
        }
        kpart *k = &s->parts[i];
        if (k->ck_have && (off < k->ck_off || (off == k->ck_off && (!live || k->ck_live))))
            continue;
        k->ck_have = true;
        k->ck_live = live;
        k->ck_off = off;
        k->ck_wm = m;
        if (s->cfg->bounded && k->owned) { /* it starts there (checked at the first pull) */
            k->next = off;
            k->ck_used = true;
            apply_wm(s, i, &m);
        }
    }
    if (!weir_snap_done(r))
        return weir_operator_fail(
            op, WEIR_ECORRUPT, "ReadFromKafka %s: this source's state in the checkpoint is damaged",
            topic);
    return 0;
}

/* The checkpoint of the last snapshot is complete: the group's committed offsets follow it. */
static int ks_checkpoint_complete(weir_operator *op, uint64_t id)
{
    (void)id;
    ksrc *s = op->state;
    if (!s->cap_pending) return 0;
    s->cap_pending = false;
    for (uint32_t i = 0; i < s->n; i++) s->parts[i].done = s->parts[i].cap;
    if (!s->cfg->group || !s->rk) return 0;
    rd_kafka_topic_partition_list_t *l = done_offsets(s);
    if (!l) return 0;
    rd_kafka_resp_err_t err = rd_kafka_commit(s->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
    s->committed = true;
    int64_t now = weir_operator_now(op);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET && now - s->last_log >= 1000) {
        s->last_log = now;
        fprintf(stderr,
                "weir: warning: ReadFromKafka %s: cannot commit the offsets of group %s: %s "
                "(the checkpoints still hold them)\n",
                s->cfg->topic, s->cfg->group, rd_kafka_err2str(err));
    }
    return 0;
}

static const weir_operator_class kafka_source_class = {.name = "ReadFromKafka",
                                                       .open = ks_open,
                                                       .pull = ks_pull,
                                                       .stop = ks_stop,
                                                       .close = ks_close,
                                                       .snapshot = ks_snapshot,
                                                       .restore = ks_restore,
                                                       .checkpoint_complete =
                                                           ks_checkpoint_complete};

static void ksrc_config_free(void *p)
{
    ksrc_config *c = p;
    if (!c) return;
    weir__json_source_config_free(c->json);
    free(c->topic);
    free(c->bootstrap);
    free(c->group);
    free(c->user);
    if (c->ho) {
        uv_mutex_destroy(&c->ho->lock);
        free(c->ho->at);
        free(c->ho);
    }
    free(c);
}

static weir_stream *fail(weir_pipeline *p, int code, const char *msg)
{
    weir_pipeline_set_error(p, code, "ReadFromKafka: %s", msg);
    return weir_pipeline_failed_stream(p);
}

weir_stream *weir_read_kafka(weir_pipeline *p, const weir_kafka_source *opt)
{
    if (!p) return NULL;
    if (weir_pipeline_status(p)) return weir_pipeline_failed_stream(p);
    if (!opt || !opt->topic || !opt->topic[0]) return fail(p, WEIR_EINVAL, "a topic is required");
    if (!opt->bootstrap_servers || !opt->bootstrap_servers[0])
        return fail(p, WEIR_EINVAL, "bootstrap_servers is required");
    bool raw = opt->format && !strcmp(opt->format, "raw");
    if (opt->format && !raw && strcmp(opt->format, "json"))
        return fail(p, WEIR_EINVAL, "format must be json or raw");
    bool kafka_ts = opt->timestamp && !strcmp(opt->timestamp, "kafka");
    if (raw && opt->timestamp && !kafka_ts)
        return fail(p, WEIR_EINVAL, "with format raw, timestamp can only be kafka");
    if (opt->max_out_of_orderness < 0 || opt->idle_timeout < 0)
        return fail(p, WEIR_EINVAL, "max_out_of_orderness and idle_timeout must not be negative");
    int odd = 0;
    ksrc_config *c = calloc(1, sizeof *c);
    json_source_config *j = calloc(1, sizeof *j);
    if (!c || !j) {
        free(c);
        free(j);
        return fail(p, WEIR_ENOMEM, "out of memory");
    }
    c->json = j;
    c->ho = calloc(1, sizeof *c->ho);
    if (c->ho && uv_mutex_init(&c->ho->lock)) {
        free(c->ho);
        c->ho = NULL;
    }
    c->topic = strdup(opt->topic);
    c->bootstrap = strdup(opt->bootstrap_servers);
    const char *group = opt->group_id ? opt->group_id : opt->bounded ? NULL : "weir";
    c->group = group ? strdup(group) : NULL;
    c->bounded = opt->bounded;
    c->user = weir__kafka_pairs_copy(opt->config, &odd);
    j->origin = strdup(opt->topic);
    j->timestamp = opt->timestamp && !kafka_ts ? strdup(opt->timestamp) : NULL;
    j->external_ts = kafka_ts;
    j->raw = raw;
    j->bound = opt->max_out_of_orderness;
    j->idle_timeout = opt->idle_timeout;
    j->error_output = opt->error_output;
    static const char *const raw_fields[] = {"key", "value", NULL};
    int frc = weir__json_source_fields(j, raw ? raw_fields : opt->fields);
    if (odd) {
        ksrc_config_free(c);
        return fail(p, WEIR_EINVAL, "config must hold key, value pairs");
    }
    if (!c->ho || !c->topic || !c->bootstrap || (group && !c->group) || (opt->config && !c->user) ||
        !j->origin || (j->timestamp == NULL && opt->timestamp && !kafka_ts) || frc) {
        ksrc_config_free(c);
        return fail(p, WEIR_ENOMEM, "out of memory");
    }
    weir_schema *schema = weir__json_source_schema(j);
    weir_schema *errs = j->error_output ? weir_record_error_schema() : NULL;
    if (!schema || (j->error_output && !errs)) {
        weir_schema_unref(schema);
        ksrc_config_free(c);
        return fail(p, WEIR_ENOMEM, "out of memory");
    }
    weir_node_spec node = {.kind = "ReadFromKafka",
                           .cls = &kafka_source_class,
                           .config = c,
                           .config_free = ksrc_config_free,
                           .schema = schema};
    if (errs) {
        node.extra[0] = errs;
        node.n_extra = 1;
    }
    return weir_pipeline_add_node(p, &node);
}
