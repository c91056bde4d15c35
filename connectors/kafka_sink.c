/* connectors/kafka_sink.c: WriteToKafka (see weir/kafka.h for what it does).
 *
 * Each worker's instance owns one idempotent librdkafka producer. Rows are rendered into a
 * reusable buffer (JSON, as WriteToFile writes them) and handed to librdkafka with
 * RD_KAFKA_MSG_F_COPY, so no row memory outlives the call. The message timestamp is the row's
 * event time. Delivery reports arrive on the producer's main queue, which wakes the worker loop
 * through a pipe and a uv_poll_t; a failed delivery (after librdkafka's own retries, within
 * message.timeout.ms) stops the run with its error. A full producer queue is backpressure: the
 * worker waits in rd_kafka_poll until librdkafka has room, which stops its sources too. At the
 * end of the input the producer is flushed; the run ends only when every message is
 * acknowledged. */
#include "kafka_conf.h"
#include "kafka_txn.h"
#include "weir/buf.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/json.h"
#include "weir/kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct ksink_config {
    char *topic, *bootstrap, *key;
    bool raw;
    bool exactly_once;
    char **user;
} ksink_config;

typedef struct ksink {
    const ksink_config *cfg;
    weir_operator *op;
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    rd_kafka_queue_t *q;
    int fds[2];
    uv_poll_t *poll;
    weir_buf buf, keybuf;
    weir_json_names_cache names; /* the input's member names, encoded once */
    weir__ktxn *txn;             /* exactly_once: the held output and the transactional producer */
    int err;                     /* a failed delivery (reported by the next call) */
    int64_t last_log;            /* processing time of the last warning printed */
    bool ended;
} ksink;

static void on_handle_close(uv_handle_t *h)
{
    free(h);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ksink *s = opaque;
    if (!m->err || s->err || s->txn) return; /* in a transaction its commit reports it */
    char fatal[512];
    const char *why =
        m->err == RD_KAFKA_RESP_ERR__FATAL && rd_kafka_fatal_error(s->rk, fatal, sizeof fatal)
            ? fatal
            : rd_kafka_err2str(m->err);
    s->err = weir_operator_fail(s->op, WEIR_EIO,
                                "WriteToKafka: %s/%" PRId32 ": a record could not be delivered: "
                                "%s",
                                s->cfg->topic, m->partition, why);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ksink *s = opaque;
    char fatal[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL && rd_kafka_fatal_error(rk, fatal, sizeof fatal)) {
        if (!s->err)
            s->err =
                weir_operator_fail(s->op, WEIR_EIO, "WriteToKafka: %s: %s", s->cfg->topic, fatal);
        return;
    }
    /* transient trouble: librdkafka retries; say so, at most once a second */
    int64_t now = weir_operator_now(s->op);
    if (now - s->last_log < 1000) return;
    s->last_log = now;
    fprintf(stderr, "weir: warning: WriteToKafka %s: %s (retrying)\n", s->cfg->topic, reason);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    weir_operator *op = h->data;
    ksink *s = op->state;
    weir__kafka_event_drain(s->fds[0]);
    rd_kafka_poll(s->rk, 0);
    if (s->err) weir_worker_wake(op); /* lets the worker see the failure and stop */
}

// clang-format off
static const char *const sink_defaults[] = {
    "enable.idempotence", "true",
    "partitioner", "murmur2_random",
    "linger.ms", "5",
    "socket.nagle.disable", "true",
    "client.id", "weir",
    "delivery.report.only.error", "true",
    NULL};
// clang-format on

static int ksink_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    const ksink_config *cfg = config;
    ksink *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = cfg;
    s->op = op;
    s->fds[0] = s->fds[1] = -1;
    s->last_log = 0; /* the epoch: long enough ago, without overflow in now - last_log */
    weir_buf_init(&s->buf);
    weir_buf_init(&s->keybuf);
    rd_kafka_conf_t *conf =
        weir__kafka_conf("WriteToKafka", cfg->bootstrap, sink_defaults, cfg->user, errbuf, errlen);
    if (!conf) return WEIR_EINVAL;
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    char err[512];
    if (cfg->exactly_once) {
        if (!weir_operator_checkpointing(op)) {
            rd_kafka_conf_destroy(conf);
            snprintf(errbuf, errlen,
                     "WriteToKafka: exactly_once needs checkpoints (its transactions are "
                     "committed with them)");
            return WEIR_EINVAL;
        }
        s->txn = weir__ktxn_open(op, conf, cfg->topic, err, sizeof err);
        if (!s->txn) {
            snprintf(errbuf, errlen, "WriteToKafka: %s: %s", cfg->topic, err);
            return WEIR_EIO;
        }
        s->rk = weir__ktxn_producer(s->txn);
    } else if (!(s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err))) {
        rd_kafka_conf_destroy(conf);
        snprintf(errbuf, errlen, "WriteToKafka: %s", err);
        return WEIR_EINVAL;
    }
    s->topic = rd_kafka_topic_new(s->rk, cfg->topic, NULL);
    s->q = rd_kafka_queue_get_main(s->rk);
    if (!s->topic || !s->q || weir__kafka_event_pipe(s->fds)) {
        snprintf(errbuf, errlen, "WriteToKafka: %s: cannot set up the producer", cfg->topic);
        return WEIR_EIO;
    }
    rd_kafka_queue_io_event_enable(s->q, s->fds[1], "1", 1);
    s->poll = malloc(sizeof *s->poll);
    if (!s->poll) return WEIR_ENOMEM;
    if (uv_poll_init(weir_worker_loop(op), s->poll, s->fds[0])) {
        free(s->poll);
        s->poll = NULL;
        snprintf(errbuf, errlen, "WriteToKafka: cannot watch its wake-up pipe");
        return WEIR_EIO;
    }
    s->poll->data = op;
    uv_poll_start(s->poll, UV_READABLE, on_readable);
    return 0;
}

static void ksink_close(weir_operator *op)
{
    ksink *s = op->state;
    if (!s) return;
    if (s->poll) uv_close((uv_handle_t *)s->poll, on_handle_close);
    if (s->q) {
        rd_kafka_queue_io_event_enable(s->q, -1, NULL, 0);
        rd_kafka_queue_destroy(s->q);
    }
    if (s->topic) rd_kafka_topic_destroy(s->topic);
    if (s->txn)
        weir__ktxn_free(s->txn); /* destroys the producer too */
    else if (s->rk)
        rd_kafka_destroy(s->rk); /* after a failure: what is queued is dropped */
    for (int i = 0; i < 2; i++)
        if (s->fds[i] >= 0) close(s->fds[i]);
    weir_buf_finish(&s->buf);
    weir_json_names_cache_finish(&s->names);
    weir_buf_finish(&s->keybuf);
    free(s);
}

/* The key of a row: a string's bytes, any other value as JSON text; NULL for null. */
static int render_key(ksink *s, const weir_value *v, const void **key, size_t *len)
{
    *key = NULL;
    *len = 0;
    if (v->type == WEIR_TYPE_NULL) return 0;
    if (v->type == WEIR_TYPE_STRING || v->type == WEIR_TYPE_BYTES) {
        *key = v->as.s;
        *len = v->len;
        return 0;
    }
    weir_buf_clear(&s->keybuf);
    int rc = weir_json_write_value(&s->keybuf, v);
    *key = s->keybuf.data;
    *len = s->keybuf.len;
    return rc;
}

/* Hands one message to librdkafka, waiting for room while its queue is full. */
static int produce(ksink *s, const void *val, size_t vlen, const void *key, size_t klen, int64_t ts)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_RKT(s->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0), RD_KAFKA_V_END);
        if (!e) return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return weir_operator_fail(s->op, WEIR_EIO, "WriteToKafka: %s: %s", s->cfg->topic,
                                      rd_kafka_err2str(e));
        rd_kafka_poll(s->rk, 10); /* backpressure: wait for acknowledgements */
        if (s->err) return s->err;
    }
}

/* Waits until every message is acknowledged or has failed. */
static int flush_all(ksink *s)
{
    while (rd_kafka_outq_len(s->rk) > 0 && !s->err) rd_kafka_flush(s->rk, 100);
    rd_kafka_poll(s->rk, 0);
    return s->err;
}

static int ksink_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    ksink *s = op->state;
    if (s->err) return s->err;
    const weir_schema *sc = b->schema;
    int key_index = s->cfg->key ? weir_schema_find(sc, s->cfg->key) : -1;
    int value_index = s->cfg->raw ? weir_schema_find(sc, "value") : -1;
    for (uint32_t r = 0; r < b->n_rows; r++) {
        const weir_value *row = weir_batch_row(b, r);
        const void *key = NULL, *val;
        size_t klen = 0, vlen;
        int rc = key_index >= 0 ? render_key(s, &row[key_index], &key, &klen) : 0;
        if (rc) return weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc));
        if (s->cfg->raw) {
            const weir_value *v = value_index >= 0 ? &row[value_index] : NULL;
            bool text = v && (v->type == WEIR_TYPE_STRING || v->type == WEIR_TYPE_BYTES ||
                              v->type == WEIR_TYPE_JSON);
            weir_buf_clear(&s->buf);
            if (v && !text && v->type != WEIR_TYPE_NULL && (rc = weir_json_write_value(&s->buf, v)))
                return weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc));
            val = text ? v->as.s : s->buf.len ? s->buf.data : NULL;
            vlen = text ? v->len : s->buf.len;
        } else {
            const weir_raw *raw = b->raw ? &b->raw[r] : NULL;
            uint32_t skip = sc->has_raw && raw && raw->text ? sc->n_raw : 0;
            if (weir_raw_is_row(sc, raw)) {
                val = raw->text; /* the record as read: nothing changed it */
                vlen = raw->len;
            } else {
                weir_buf_clear(&s->buf);
                rc = weir_json_write_object_cached(&s->buf, &s->names, sc->n_fields - skip,
                                                   sc->names + skip, row + skip,
                                                   raw ? raw->text : NULL, raw ? raw->len : 0);
                if (rc) return weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc));
                val = s->buf.data;
                vlen = s->buf.len;
                if (vlen && ((const char *)val)[vlen - 1] == '\n') vlen--; /* a line without \n */
            }
        }
        rc = s->txn ? weir__ktxn_hold(s->txn, key, klen, val, vlen, b->ts[r])
                    : produce(s, val, vlen, key, klen, b->ts[r]);
        if (rc)
            return s->txn ? weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc)) : rc;
    }
    weir_operator_count_written(op, b->n_rows);
    rd_kafka_poll(s->rk, 0); /* delivery reports so far */
    if (s->err) return s->err;
    if ((b->flags & WEIR_BATCH_END) && !s->ended) {
        s->ended = true;
        int rc = s->txn ? 0 : flush_all(s); /* held output goes with the last checkpoint */
        if (s->poll) {
            uv_close((uv_handle_t *)s->poll, on_handle_close);
            s->poll = NULL;
        }
        return rc;
    }
    return 0;
}

/* exactly_once: the output held since the previous checkpoint goes into the snapshot, and is
 * committed to Kafka in a transaction when the checkpoint completes (connectors/kafka_txn.c) */
static int ksink_snapshot(weir_operator *op, weir_snap_writer *w)
{
    ksink *s = op->state;
    if (s->txn) return weir__ktxn_snapshot(s->txn, w);
    /* at-least-once: what came before the barrier is acknowledged before the checkpoint is */
    return s->ended ? 0 : flush_all(s);
}
static int ksink_checkpoint_complete(weir_operator *op, uint64_t id)
{
    ksink *s = op->state;
    return s->txn ? weir__ktxn_commit(s->txn, id) : 0;
}
static int ksink_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    ksink *s = op->state;
    if (!s->txn || group != WEIR_SNAP_SHARED)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: the checkpoint holds transactions of exactly_once, which "
                                  "this pipeline does not set",
                                  op->name);
    return weir__ktxn_restore(s->txn, r);
}

static const weir_operator_class kafka_sink_class = {.name = "WriteToKafka",
                                                     .open = ksink_open,
                                                     .process = ksink_process,
                                                     .close = ksink_close,
                                                     .snapshot = ksink_snapshot,
                                                     .restore = ksink_restore,
                                                     .checkpoint_complete =
                                                         ksink_checkpoint_complete,
                                                     .watermark_blind = true};

static void ksink_config_free(void *p)
{
    ksink_config *c = p;
    if (!c) return;
    free(c->topic);
    free(c->bootstrap);
    free(c->key);
    free(c->user);
    free(c);
}

void weir_write_kafka(weir_stream *in, const weir_kafka_sink *opt)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    if (!p || weir_stream_failed(in)) return;
    const char *why = !opt || !opt->topic || !opt->topic[0] ? "a topic is required"
                      : !opt->bootstrap_servers || !opt->bootstrap_servers[0]
                          ? "bootstrap_servers is required"
                      : opt->format && strcmp(opt->format, "json") && strcmp(opt->format, "raw")
                          ? "format must be json or raw"
                          : NULL;
    if (why) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "WriteToKafka: %s", why);
        return;
    }
    /* the fields it reads must exist (sticky error naming the field otherwise) */
    if (opt->key && weir_stream_field(in, opt->key) < 0) return;
    if (opt->format && !strcmp(opt->format, "raw") && weir_stream_field(in, "value") < 0) return;
    int odd = 0;
    ksink_config *c = calloc(1, sizeof *c);
    if (c) {
        c->topic = strdup(opt->topic);
        c->bootstrap = strdup(opt->bootstrap_servers);
        c->key = opt->key ? strdup(opt->key) : NULL;
        c->raw = opt->format && !strcmp(opt->format, "raw");
        c->exactly_once = opt->exactly_once;
        c->user = weir__kafka_pairs_copy(opt->config, &odd);
    }
    if (odd) {
        ksink_config_free(c);
        weir_pipeline_set_error(p, WEIR_EINVAL, "WriteToKafka: config must hold key, value pairs");
        return;
    }
    if (!c || !c->topic || !c->bootstrap || (opt->key && !c->key) || (opt->config && !c->user)) {
        ksink_config_free(c);
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return;
    }
    weir_pipeline_add_node(p, &(weir_node_spec){.kind = "WriteToKafka",
                                                .cls = &kafka_sink_class,
                                                .config = c,
                                                .config_free = ksink_config_free,
                                                .inputs = &in,
                                                .n_inputs = 1});
}
