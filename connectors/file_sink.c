/* connectors/file_sink.c: WriteToFile (JSON lines), LogForTesting (JSON lines to standard
 * error) and weir_collect (a callback per row): the sinks that end a pipeline in this process.
 *
 * The file sink renders rows into a buffer and writes it with write(2) when it passes 1 MiB and
 * at the end of input, so the cost per row is the JSON rendering and a memcpy. The file is
 * created (truncated) when the run starts; an unwritable path fails the run before any data
 * moves. Without checkpoints results are written as they come (pipeline.md). With several
 * workers each writes whole lines under a lock; rows of one key come from one worker, in order. */
#include "weir/buf.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* A sink node's file is shared by its instances in every worker: opened (truncated) by the
 * first, written in whole buffers of complete lines under a lock, closed by the last. */
typedef struct sink_config {
    char *path; /* NULL: standard error (LogForTesting) */
    weir_collect_fn fn;
    void *ctx;
    uv_mutex_t lock;
    int fd;
    uint32_t users;
} sink_config;

typedef struct sink_state {
    sink_config *cfg;
    int fd;
    weir_buf buf;
    bool ended;
} sink_state;

static void sink_config_free(void *p)
{
    sink_config *c = p;
    if (!c) return;
    uv_mutex_destroy(&c->lock);
    free(c->path);
    free(c);
}

static sink_config *sink_config_new(void)
{
    sink_config *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    if (uv_mutex_init(&c->lock)) {
        free(c);
        return NULL;
    }
    return c;
}

/* Drops this instance's use of the shared file; the last one closes it. 0 or errno. */
static int release_file(sink_config *c)
{
    int err = 0;
    uv_mutex_lock(&c->lock);
    if (--c->users == 0 && c->fd >= 0) {
        if (close(c->fd) != 0) err = errno;
        c->fd = -1;
    }
    uv_mutex_unlock(&c->lock);
    return err;
}

static int sink_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    sink_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = (sink_config *)config;
    s->fd = -1;
    weir_buf_init(&s->buf);
    if (s->cfg->fn) return 0;
    if (!s->cfg->path) {
        s->fd = STDERR_FILENO;
        return 0;
    }
    sink_config *c = s->cfg;
    int err = 0;
    uv_mutex_lock(&c->lock);
    if (c->users == 0) {
        c->fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (c->fd < 0) err = errno;
    }
    if (!err) c->users++;
    s->fd = c->fd;
    uv_mutex_unlock(&c->lock);
    if (err) {
        s->fd = -1;
        snprintf(errbuf, errlen, "%s: %s", c->path, strerror(err));
        return WEIR_EIO;
    }
    return 0;
}

static int write_out(weir_operator *op, sink_state *s)
{
    size_t off = 0;
    int err = 0;
    uv_mutex_lock(&s->cfg->lock);
    while (off < s->buf.len) {
        ssize_t n = write(s->fd, s->buf.data + off, s->buf.len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = errno;
            break;
        }
        off += (size_t)n;
    }
    uv_mutex_unlock(&s->cfg->lock);
    weir_buf_clear(&s->buf);
    if (err)
        return weir_operator_fail(op, WEIR_EIO, "%s: %s", s->cfg->path ? s->cfg->path : "stderr",
                                  strerror(err));
    return 0;
}

static int sink_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    sink_state *s = op->state;
    const weir_schema *sc = b->schema;
    if (s->cfg->fn) {
        weir_row row = {.schema = sc};
        for (uint32_t r = 0; r < b->n_rows; r++) {
            row.ts = b->ts[r];
            row.values = weir_batch_row(b, r);
            int rc = s->cfg->fn(&row, s->cfg->ctx);
            if (rc)
                return weir_operator_fail(op, rc < 0 ? rc : WEIR_ESTOPPED,
                                          "%s: the collect callback stopped the run", op->name);
        }
        weir_operator_count_written(op, b->n_rows);
        return 0;
    }
    for (uint32_t r = 0; r < b->n_rows; r++) {
        const weir_raw *raw = b->raw ? &b->raw[r] : NULL;
        uint32_t skip = sc->has_raw && raw && raw->text ? sc->n_raw : 0;
        int rc = weir_json_write_object(&s->buf, sc->n_fields - skip, sc->names + skip,
                                        weir_batch_row(b, r) + skip, raw ? raw->text : NULL,
                                        raw ? raw->len : 0);
        if (rc) return weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc));
    }
    weir_operator_count_written(op, b->n_rows);
    if (s->buf.len >= (1u << 20) || (b->flags & WEIR_BATCH_END) || !s->cfg->path) {
        int rc = write_out(op, s);
        if (rc) return rc;
    }
    if ((b->flags & WEIR_BATCH_END) && s->fd >= 0 && s->cfg->path) {
        s->ended = true;
        s->fd = -1;
        int err = release_file(s->cfg);
        if (err) return weir_operator_fail(op, WEIR_EIO, "%s: %s", s->cfg->path, strerror(err));
    }
    return 0;
}

static void sink_close(weir_operator *op)
{
    sink_state *s = op->state;
    if (!s) return;
    if (s->fd >= 0 && s->cfg->path) {
        if (s->buf.len) write_out(op, s);
        release_file(s->cfg);
    }
    weir_buf_finish(&s->buf);
    free(s);
}

static const weir_operator_class sink_class = {
    .name = "Sink", .open = sink_open, .process = sink_process, .close = sink_close};

static void add_sink(weir_stream *in, const char *kind, sink_config *cfg)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    if (!p || weir_stream_failed(in)) {
        sink_config_free(cfg);
        return;
    }
    weir_pipeline_add_node(p, &(weir_node_spec){.kind = kind,
                                                .cls = &sink_class,
                                                .config = cfg,
                                                .config_free = sink_config_free,
                                                .inputs = &in,
                                                .n_inputs = 1});
}

void weir_write_file(weir_stream *in, const weir_file_sink *opt)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    if (!p) return;
    if (!opt || !opt->path || !opt->path[0]) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "WriteToFile: a path is required");
        return;
    }
    if (opt->format && strcmp(opt->format, "json") != 0) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "WriteToFile: format '%s' is not supported (json)",
                                opt->format);
        return;
    }
    sink_config *cfg = sink_config_new();
    if (!cfg || !(cfg->path = strdup(opt->path))) {
        sink_config_free(cfg);
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return;
    }
    add_sink(in, "WriteToFile", cfg);
}

void weir_log_for_testing(weir_stream *in)
{
    sink_config *cfg = sink_config_new();
    if (!cfg) {
        weir_pipeline_set_error(weir_stream_pipeline(in), WEIR_ENOMEM, "out of memory");
        return;
    }
    add_sink(in, "LogForTesting", cfg);
}

void weir_collect(weir_stream *in, weir_collect_fn fn, void *ctx)
{
    sink_config *cfg = sink_config_new();
    if (!cfg) {
        weir_pipeline_set_error(weir_stream_pipeline(in), WEIR_ENOMEM, "out of memory");
        return;
    }
    cfg->fn = fn;
    cfg->ctx = ctx;
    add_sink(in, "Collect", cfg);
}
