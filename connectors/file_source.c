/* connectors/file_source.c: ReadFromFile for JSON lines: reads the file in large chunks with
 * read(2) on the worker thread (regular files do not block for long; a thread pool would add a
 * hop per chunk), cuts lines, and hands each to json_rows. Rows point into the read buffer, so a
 * batch is emitted before the buffer is compacted or refilled. With `follow`, end of file is not
 * the end of input: the source goes idle and looks again every 100 ms. */
#include "json_rows.h"
#include "weir/error.h"
#include "weir/graph.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct file_source {
    json_rows rows;
    const json_source_config *cfg;
    int fd;
    char *buf;
    size_t cap, start, end; /* unread bytes are buf[start..end) */
    int64_t line;           /* number of the last line cut */
    bool eof, stopping, ended;
    uv_timer_t *poll; /* follow mode */
} file_source;

static int fs_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    const json_source_config *cfg = config;
    file_source *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = cfg;
    s->fd = -1;
    int rc = weir__json_rows_init(&s->rows, op, cfg, errbuf, errlen);
    if (rc) return rc;
    if (weir_operator_worker_index(op) != 0) { /* one file is one partition: worker 0 reads it */
        s->eof = true;
        s->stopping = true;
        return 0;
    }
    s->fd = open(cfg->path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        snprintf(errbuf, errlen, "%s: %s", cfg->path, strerror(errno));
        return errno == ENOENT ? WEIR_ENOENT : WEIR_EIO;
    }
    s->cap = 1 << 20;
    s->buf = malloc(s->cap);
    return s->buf ? 0 : WEIR_ENOMEM;
}

static void on_poll_close(uv_handle_t *h)
{
    free(h);
}

static void fs_close(weir_operator *op)
{
    file_source *s = op->state;
    if (!s) return;
    weir__json_rows_finish(&s->rows);
    if (s->fd >= 0) close(s->fd);
    if (s->poll) uv_close((uv_handle_t *)s->poll, on_poll_close);
    free(s->buf);
    free(s);
}

static void on_poll(uv_timer_t *t)
{
    weir_worker_wake(t->data);
}

/* Makes room and reads more; only called when no row references the buffer. */
static int fill(weir_operator *op, file_source *s)
{
    if (s->start > 0) {
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->end -= s->start;
        s->start = 0;
    }
    if (s->end == s->cap) { /* a line longer than the buffer */
        char *nb = realloc(s->buf, s->cap * 2);
        if (!nb) return weir_operator_fail(op, WEIR_ENOMEM, "%s: out of memory", s->cfg->path);
        s->buf = nb;
        s->cap *= 2;
    }
    ssize_t n;
    do n = read(s->fd, s->buf + s->end, s->cap - s->end);
    while (n < 0 && errno == EINTR);
    if (n < 0) return weir_operator_fail(op, WEIR_EIO, "%s: %s", s->cfg->path, strerror(errno));
    if (n == 0) s->eof = true;
    s->end += (size_t)n;
    return 0;
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
    return true;
}

static int fs_pull(weir_operator *op, uint32_t max_rows)
{
    file_source *s = op->state;
    json_rows *j = &s->rows;
    int rc;
    if (s->ended) return WEIR_PULL_END;
    if (s->stopping) goto end;
    uint64_t before = j->n_read;
    while (j->batch->n_rows < max_rows && j->n_read - before < max_rows) {
        char *p = s->buf + s->start;
        size_t avail = s->end - s->start;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - p);
            s->line++;
            s->start += len + 1;
            if (!blank(p, len) && (rc = weir__json_rows_line(j, p, len, s->line))) return rc;
            continue;
        }
        if (s->eof) {
            if (avail) { /* a last line without a newline */
                s->line++;
                s->start = s->end;
                if (!blank(p, avail) && (rc = weir__json_rows_line(j, p, avail, s->line)))
                    return rc;
            }
            if (!s->cfg->follow) goto end;
            if ((rc = weir__json_rows_flush(j, false))) return rc;
            s->eof = false; /* look again later */
            if (!s->poll) {
                s->poll = malloc(sizeof *s->poll);
                if (!s->poll) return weir_operator_fail(op, WEIR_ENOMEM, "out of memory");
                uv_timer_init(weir_worker_loop(op), s->poll);
                s->poll->data = op;
            }
            uv_timer_start(s->poll, on_poll, 100, 0);
            return WEIR_PULL_IDLE;
        }
        if (j->batch->n_rows) break; /* rows point into the buffer: emit them first */
        if ((rc = fill(op, s))) return rc;
    }
    if ((rc = weir__json_rows_flush(j, false))) return rc;
    return WEIR_PULL_MORE;
end:
    if (s->poll) { /* closed while the loop runs, so its memory is given back */
        uv_close((uv_handle_t *)s->poll, on_poll_close);
        s->poll = NULL;
    }
    s->ended = true;
    if ((rc = weir__json_rows_flush(j, true))) return rc;
    return WEIR_PULL_END;
}

static void fs_stop(weir_operator *op)
{
    file_source *s = op->state;
    s->stopping = true;
}

static const weir_operator_class file_source_class = {
    .name = "ReadFromFile", .open = fs_open, .pull = fs_pull, .stop = fs_stop, .close = fs_close};

weir_stream *weir__json_source_add(weir_pipeline *p, json_source_config *cfg, const char *kind,
                                   const weir_operator_class *cls)
{
    weir_schema *schema = weir__json_source_schema(cfg);
    weir_schema *errs = cfg->error_output ? weir_record_error_schema() : NULL;
    if (!schema || (cfg->error_output && !errs)) {
        weir_schema_unref(schema);
        weir__json_source_config_free(cfg);
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return weir_pipeline_failed_stream(p);
    }
    weir_node_spec node = {.kind = kind,
                           .cls = cls,
                           .config = cfg,
                           .config_free = weir__json_source_config_free,
                           .schema = schema};
    if (errs) {
        node.extra[0] = errs;
        node.n_extra = 1;
    }
    return weir_pipeline_add_node(p, &node);
}

weir_stream *weir_read_file(weir_pipeline *p, const weir_file_source *opt)
{
    if (!p) return NULL;
    if (p && weir_pipeline_status(p)) return weir_pipeline_failed_stream(p);
    if (!opt || !opt->path || !opt->path[0]) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "ReadFromFile: a path is required");
        return weir_pipeline_failed_stream(p);
    }
    if (opt->format && strcmp(opt->format, "json") != 0) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "ReadFromFile: format '%s' is not supported (json)",
                                opt->format);
        return weir_pipeline_failed_stream(p);
    }
    if (opt->max_out_of_orderness < 0) {
        weir_pipeline_set_error(p, WEIR_EINVAL,
                                "ReadFromFile: max_out_of_orderness must not be negative");
        return weir_pipeline_failed_stream(p);
    }
    json_source_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) goto nomem;
    cfg->path = strdup(opt->path);
    cfg->origin = strdup(opt->path);
    cfg->timestamp = opt->timestamp ? strdup(opt->timestamp) : NULL;
    cfg->bound = opt->max_out_of_orderness;
    cfg->error_output = opt->error_output;
    cfg->follow = opt->follow;
    if (!cfg->path || !cfg->origin || (opt->timestamp && !cfg->timestamp) ||
        weir__json_source_fields(cfg, opt->fields))
        goto nomem;
    return weir__json_source_add(p, cfg, "ReadFromFile", &file_source_class);
nomem:
    weir__json_source_config_free(cfg);
    weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    return weir_pipeline_failed_stream(p);
}
