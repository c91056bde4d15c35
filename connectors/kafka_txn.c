/* connectors/kafka_txn.c: WriteToKafka's exactly-once mode: held segments, one transaction per
 * completed checkpoint, the commit log, and recovery on restart (see kafka_txn.h for the
 * protocol and its one limit).
 *
 * A segment's records are encoded back to back in a weir_buf: i64 timestamp, u32 key length
 * (UINT32_MAX: no key), u32 value length, the key, the value. The snapshot section (shared)
 * is: u32 old worker index, u32 segment count, then per segment its id (string), its
 * checkpoint (u64), its record count (u64) and its bytes (string). */
#include "kafka_txn.h"

#include "weir/buf.h"
#include "weir/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define KTXN_ATTEMPTS   5
#define KTXN_TIMEOUT_MS 60000

typedef struct segment {
    char *id;      /* INSTANCE.cCHECKPOINT of the instance that held it */
    uint64_t ckpt; /* committed when this checkpoint completes */
    uint64_t n;    /* records */
    weir_buf data;
} segment;

struct weir__ktxn {
    weir_operator *op;
    rd_kafka_t *rk;
    char *topic;
    char instance[17];
    uint64_t seq; /* transactions committed by this instance */
    weir_buf held;
    uint64_t n_held;
    segment *segs;
    uint32_t n_segs, cap_segs;
    char *log_path;
    char **logged; /* segment ids the log lists, sorted (read at the first restore) */
    size_t n_logged;
    bool log_read;
};

static int fail(weir__ktxn *t, int code, const char *fmt, const char *what)
{
    return weir_operator_fail(t->op, code, "%s: %s: %s", t->op->name, fmt, what);
}

/* FNV-1a, for the default transactional.id prefix. */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* DIR/kafka-txn-NODE.SUFFIX, the node's name made safe for a file name. */
static char *side_file(const weir_operator *op, const char *suffix)
{
    const char *dir = weir_operator_checkpoint_dir(op);
    weir_buf b;
    weir_buf_init(&b);
    weir_buf_printf(&b, "%s/kafka-txn-", dir);
    for (const char *c = op->name; *c; c++)
        weir_buf_putc(&b, (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                                  (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'
                              ? *c
                              : '_');
    weir_buf_printf(&b, ".%s", suffix);
    if (weir_buf_putc(&b, '\0')) {
        weir_buf_finish(&b);
        return NULL;
    }
    return (char *)b.data; /* the buffer's memory is malloc'ed: ownership passes */
}

static int set_conf(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    if (rd_kafka_conf_set(conf, k, v, err, errlen) == RD_KAFKA_CONF_OK) return 0;
    return -1;
}

/* Creates a producer with transactional.id PREFIX-wK and initialises its transactions: fences
 * the earlier producers with that id and aborts their open transaction. */
static rd_kafka_t *txn_producer(rd_kafka_conf_t *conf, const char *prefix, uint32_t k, char *err,
                                size_t errlen)
{
    char id[600];
    snprintf(id, sizeof id, "%s-w%" PRIu32, prefix, k);
    if (set_conf(conf, "transactional.id", id, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_error_t *e = rd_kafka_init_transactions(rk, KTXN_TIMEOUT_MS);
    if (e) {
        snprintf(err, errlen, "transactional.id %s: cannot initialise transactions: %s", id,
                 rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

/* Worker 0: fences the ids of the workers an earlier run had beyond this run's count (their
 * open transactions would otherwise hold read_committed consumers back until they time out),
 * then records this run's count. */
static int fence_extra(weir__ktxn *t, rd_kafka_conf_t *conf, const char *prefix, char *err,
                       size_t errlen)
{
    char *path = side_file(t->op, "workers");
    if (!path) return WEIR_ENOMEM;
    uint32_t n = weir_operator_worker_count(t->op), old = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%" SCNu32, &old) != 1) old = 0;
        fclose(f);
    }
    for (uint32_t k = n; k < old; k++) {
        rd_kafka_t *rk = txn_producer(rd_kafka_conf_dup(conf), prefix, k, err, errlen);
        if (!rk) {
            free(path);
            return WEIR_EIO;
        }
        rd_kafka_destroy(rk);
    }
    int rc = 0;
    if (old != n) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        f = fopen(tmp, "w");
        if (!f || fprintf(f, "%" PRIu32 "\n", n) < 0 || fflush(f) || fsync(fileno(f)) ||
            fclose(f) || rename(tmp, path)) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            rc = WEIR_EIO;
        }
    }
    free(path);
    return rc;
}

weir__ktxn *weir__ktxn_open(weir_operator *op, rd_kafka_conf_t *conf, const char *topic, char *err,
                            size_t errlen)
{
    weir__ktxn *t = calloc(1, sizeof *t);
    if (!t) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->op = op;
    weir_buf_init(&t->held);
    uint64_t r[1];
    if (getrandom(r, sizeof r, 0) != sizeof r) r[0] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
    snprintf(t->instance, sizeof t->instance, "%016" PRIx64, r[0]);
    t->topic = strdup(topic);
    t->log_path = side_file(op, "log");
    if (!t->topic || !t->log_path) {
        rd_kafka_conf_destroy(conf);
        weir__ktxn_free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* the prefix: the user's transactional.id, or one derived from host, directory and node
     * (stable across restarts, distinct between the processes of one deployment) */
    char prefix[512];
    size_t plen = sizeof prefix;
    if (rd_kafka_conf_get(conf, "transactional.id", prefix, &plen) != RD_KAFKA_CONF_OK ||
        !prefix[0]) {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        char dir[PATH_MAX];
        const char *d = weir_operator_checkpoint_dir(op);
        if (!realpath(d, dir)) snprintf(dir, sizeof dir, "%s", d);
        uint64_t h = fnv(fnv(fnv(0xcbf29ce484222325ull, host), dir), op->name);
        snprintf(prefix, sizeof prefix, "weir-%016" PRIx64, h);
    }
    int rc = weir_operator_worker_index(op) == 0 ? fence_extra(t, conf, prefix, err, errlen) : 0;
    if (!rc)
        t->rk = txn_producer(conf, prefix, weir_operator_worker_index(op), err, errlen);
    else
        rd_kafka_conf_destroy(conf);
    if (!t->rk) {
        weir__ktxn_free(t);
        return NULL;
    }
    return t;
}

rd_kafka_t *weir__ktxn_producer(weir__ktxn *t)
{
    return t->rk;
}

int weir__ktxn_hold(weir__ktxn *t, const void *key, size_t klen, const void *val, size_t vlen,
                    int64_t ts)
{
    uint32_t h[2] = {key ? (uint32_t)klen : UINT32_MAX, (uint32_t)vlen};
    if (weir_buf_reserve(&t->held, 16 + klen + vlen)) return WEIR_ENOMEM;
    weir_buf_append(&t->held, &ts, 8);
    weir_buf_append(&t->held, h, 8);
    if (key) weir_buf_append(&t->held, key, klen);
    weir_buf_append(&t->held, val, vlen);
    t->n_held++;
    return 0;
}

static int add_segment(weir__ktxn *t, const char *id, uint64_t ckpt)
{
    if (t->n_segs == t->cap_segs) {
        uint32_t cap = t->cap_segs ? 2 * t->cap_segs : 4;
        segment *s = realloc(t->segs, cap * sizeof *s);
        if (!s) return WEIR_ENOMEM;
        t->segs = s;
        t->cap_segs = cap;
    }
    segment *s = &t->segs[t->n_segs];
    memset(s, 0, sizeof *s);
    weir_buf_init(&s->data);
    s->ckpt = ckpt;
    if (!(s->id = strdup(id))) return WEIR_ENOMEM;
    t->n_segs++;
    return 0;
}

static void drop_segments(weir__ktxn *t, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(t->segs[i].id);
        weir_buf_finish(&t->segs[i].data);
    }
    if (t->n_segs > n) /* (segs may be NULL with none: memmove's arguments must not be) */
        memmove(t->segs, t->segs + n, (t->n_segs - n) * sizeof *t->segs);
    t->n_segs -= n;
}

int weir__ktxn_snapshot(weir__ktxn *t, weir_snap_writer *w)
{
    uint64_t ck = weir_operator_checkpoint_id(t->op);
    int rc = 0;
    if (t->n_held) {
        char id[64];
        snprintf(id, sizeof id, "%s.c%" PRIu64, t->instance, ck);
        if ((rc = add_segment(t, id, ck))) return fail(t, rc, "checkpoint", weir_strerror(rc));
        segment *s = &t->segs[t->n_segs - 1];
        s->data = t->held; /* the held buffer moves into the segment */
        s->n = t->n_held;
        weir_buf_init(&t->held);
        t->n_held = 0;
    }
    if (!t->n_segs) return 0;
    rc = weir_snap_section(w, WEIR_SNAP_SHARED);
    if (!rc) rc = weir_snap_u32(w, weir_operator_worker_index(t->op));
    if (!rc) rc = weir_snap_u32(w, t->n_segs);
    for (uint32_t i = 0; i < t->n_segs && !rc; i++) {
        const segment *s = &t->segs[i];
        rc = weir_snap_str(w, s->id, (uint32_t)strlen(s->id));
        if (!rc) rc = weir_snap_u64(w, s->ckpt);
        if (!rc) rc = weir_snap_u64(w, s->n);
        if (!rc && s->data.len > UINT32_MAX) rc = WEIR_ERANGE;
        if (!rc) rc = weir_snap_str(w, (const char *)s->data.data, (uint32_t)s->data.len);
    }
    return rc ? fail(t, rc, "checkpoint", weir_strerror(rc)) : 0;
}

/* Produces one record with its weir.txn header, waiting for room while the queue is full. */
static rd_kafka_resp_err_t produce(weir__ktxn *t, const char *txn, const uint8_t **pp,
                                   const uint8_t *end)
{
    const uint8_t *p = *pp;
    int64_t ts;
    uint32_t h[2];
    if (end - p < 16) return RD_KAFKA_RESP_ERR__BAD_MSG;
    memcpy(&ts, p, 8);
    memcpy(h, p + 8, 8);
    p += 16;
    size_t klen = h[0] == UINT32_MAX ? 0 : h[0];
    if ((size_t)(end - p) < klen + h[1]) return RD_KAFKA_RESP_ERR__BAD_MSG;
    const void *key = h[0] == UINT32_MAX ? NULL : p;
    const void *val = p + klen;
    *pp = p + klen + h[1];
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            t->rk, RD_KAFKA_V_TOPIC(t->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE((void *)val, h[1]), RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0), RD_KAFKA_V_HEADER("weir.txn", txn, -1),
            RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) return e;
        rd_kafka_poll(t->rk, 10);
    }
}

/* Appends "TXN SEGMENT...\n" to the commit log and makes it durable. */
static int log_commit(weir__ktxn *t, const char *txn, uint32_t n)
{
    weir_buf line;
    weir_buf_init(&line);
    weir_buf_puts(&line, txn);
    for (uint32_t i = 0; i < n; i++) weir_buf_printf(&line, " %s", t->segs[i].id);
    int rc = weir_buf_putc(&line, '\n');
    if (rc) {
        weir_buf_finish(&line);
        return fail(t, rc, "commit log", weir_strerror(rc));
    }
    int fd = open(t->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    /* one write(2) per line: lines of the workers sharing the log do not interleave */
    bool ok = fd >= 0 && write(fd, line.data, line.len) == (ssize_t)line.len && !fdatasync(fd);
    int e = errno;
    if (fd >= 0) close(fd);
    weir_buf_finish(&line);
    if (!ok)
        return weir_operator_fail(t->op, WEIR_EIO,
                                  "%s: transaction %s is committed but its line could not be "
                                  "written to %s: %s",
                                  t->op->name, txn, t->log_path, strerror(e));
    return 0;
}

/* Produces the first n segments in one transaction and commits it (an abortable failure is
 * aborted and tried again), then logs it. */
static int commit_first(weir__ktxn *t, uint32_t n)
{
    if (!n) return 0;
    char txn[64];
    const char *why = NULL;
    rd_kafka_error_t *e = NULL;
    for (int attempt = 1; attempt <= KTXN_ATTEMPTS; attempt++) {
        snprintf(txn, sizeof txn, "%s.t%" PRIu64, t->instance, ++t->seq);
        if ((e = rd_kafka_begin_transaction(t->rk))) break; /* not abortable: a state error */
        rd_kafka_resp_err_t pe = 0;
        for (uint32_t i = 0; i < n && !pe; i++) {
            const uint8_t *p = (const uint8_t *)t->segs[i].data.data,
                          *end = p + t->segs[i].data.len;
            while (p < end && !pe) pe = produce(t, txn, &p, end);
        }
        if (pe) {
            why = rd_kafka_err2str(pe);
            rd_kafka_error_t *a = rd_kafka_abort_transaction(t->rk, KTXN_TIMEOUT_MS);
            if (a) rd_kafka_error_destroy(a);
            break;
        }
        e = rd_kafka_commit_transaction(t->rk, KTXN_TIMEOUT_MS);
        if (!e) {
            int rc = log_commit(t, txn, n);
            if (!rc) drop_segments(t, n);
            return rc;
        }
        if (rd_kafka_error_is_retriable(e)) { /* the commit may be retried as it is */
            rd_kafka_error_destroy(e);
            e = rd_kafka_commit_transaction(t->rk, KTXN_TIMEOUT_MS);
            if (!e) {
                int rc = log_commit(t, txn, n);
                if (!rc) drop_segments(t, n);
                return rc;
            }
        }
        if (!rd_kafka_error_txn_requires_abort(e)) break; /* fatal: fenced, or worse */
        fprintf(stderr, "weir: warning: %s: transaction %s aborted (%s); trying again\n",
                t->op->name, txn, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        e = rd_kafka_abort_transaction(t->rk, KTXN_TIMEOUT_MS);
        if (e) break;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", e ? rd_kafka_error_string(e) : why ? why : "too many aborts");
    if (e) rd_kafka_error_destroy(e);
    return weir_operator_fail(t->op, WEIR_EIO,
                              "%s: %s: transaction %s could not be committed: %s (the run stops; "
                              "a restart writes these results again from the checkpoint)",
                              t->op->name, t->topic, txn, msg);
}

int weir__ktxn_commit(weir__ktxn *t, uint64_t id)
{
    uint32_t n = 0;
    while (n < t->n_segs && t->segs[n].ckpt <= id) n++;
    return commit_first(t, n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the segment ids of the commit log (every word after a line's first). */
static int read_log(weir__ktxn *t)
{
    t->log_read = true;
    FILE *f = fopen(t->log_path, "r");
    if (!f) return errno == ENOENT ? 0 : fail(t, WEIR_EIO, t->log_path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, n_cap = 0;
    int rc = 0;
    while (!rc && getline(&line, &cap, f) > 0) {
        char *save = NULL, *w = strtok_r(line, " \n", &save);
        while (w && (w = strtok_r(NULL, " \n", &save))) {
            if (t->n_logged == n_cap) {
                n_cap = n_cap ? 2 * n_cap : 64;
                char **l = realloc(t->logged, n_cap * sizeof *l);
                if (!l) {
                    rc = WEIR_ENOMEM;
                    break;
                }
                t->logged = l;
            }
            if (!(t->logged[t->n_logged] = strdup(w)))
                rc = WEIR_ENOMEM;
            else
                t->n_logged++;
        }
    }
    free(line);
    fclose(f);
    if (rc) return fail(t, rc, t->log_path, weir_strerror(rc));
    qsort(t->logged, t->n_logged, sizeof *t->logged, cmp_str);
    return 0;
}

int weir__ktxn_restore(weir__ktxn *t, weir_snap_reader *r)
{
    uint32_t old_worker = weir_snap_get_u32(r), n = weir_snap_get_u32(r);
    if (!weir_snap_ok(r)) return WEIR_ECORRUPT;
    /* the segments of old instance k are recovered by instance k mod (this run's count) */
    bool mine = old_worker % weir_operator_worker_count(t->op) == weir_operator_worker_index(t->op);
    int rc = mine && !t->log_read ? read_log(t) : 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        uint32_t idlen, len;
        const char *id = weir_snap_get_str(r, &idlen);
        uint64_t ckpt = weir_snap_get_u64(r), count = weir_snap_get_u64(r);
        const char *data = weir_snap_get_str(r, &len);
        if (!weir_snap_ok(r)) return WEIR_ECORRUPT;
        if (!mine) continue;
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)idlen, id);
        const char *k = key;
        if (bsearch(&k, t->logged, t->n_logged, sizeof *t->logged, cmp_str)) continue;
        if ((rc = add_segment(t, key, ckpt))) break;
        segment *s = &t->segs[t->n_segs - 1];
        s->n = count;
        rc = weir_buf_append(&s->data, data, len);
    }
    if (rc) return fail(t, rc, "restore", weir_strerror(rc));
    return commit_first(t, t->n_segs); /* restores come before anything is held */
}

void weir__ktxn_free(weir__ktxn *t)
{
    if (!t) return;
    drop_segments(t, t->n_segs);
    free(t->segs);
    weir_buf_finish(&t->held);
    for (size_t i = 0; i < t->n_logged; i++) free(t->logged[i]);
    free(t->logged);
    free(t->log_path);
    free(t->topic);
    if (t->rk) rd_kafka_destroy(t->rk);
    free(t);
}
