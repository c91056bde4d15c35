/* connectors/file_source.c: ReadFromFile for JSON lines.
 *
 * A path with glob characters (`logs/day-*.jsonl`) names several files: each file is one partition
 * with its own watermark, and the files are dealt to the workers in turn (file i to worker
 * i mod N). A worker reads its files round robin, a batch from each, and what it emits carries
 * the minimum of their watermarks (json_rows' partition set), so no file's records are late
 * because another file is ahead. A single file is one partition, read by worker 0.
 *
 * Files are read in large chunks with read(2) on the worker thread (regular files do not block
 * for long; a thread pool would add a hop per chunk), cut into lines, and each line handed to
 * json_rows. Rows point into the read buffer, so a batch is emitted before the buffer is compacted
 * or refilled. With `follow`, end of file is not the end of input: the source goes idle and looks
 * again every 100 ms. */
#include "json_rows.h"
#include "weir/error.h"
#include "weir/graph.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct file_part {
    json_rows rows;
    char *path;
    int fd;
    char *buf;
    size_t cap, start, end; /* unread bytes are buf[start..end) */
    int64_t line;           /* number of the last line cut */
    bool eof, ended;
} file_part;

typedef struct file_source {
    const json_source_config *cfg;
    file_part *parts;
    uint32_t n_parts, next, n_ended;
    json_parts set;
    bool stopping, all_ended;
    uv_timer_t *poll; /* follow mode */
} file_source;

static bool has_glob(const char *p)
{
    return strpbrk(p, "*?[") != NULL;
}

static int open_part(weir_operator *op, file_source *s, file_part *f, const char *path,
                     char *errbuf, size_t errlen)
{
    f->fd = -1;
    f->path = strdup(path);
    if (!f->path) return WEIR_ENOMEM;
    int rc = weir__json_rows_init(&f->rows, op, s->cfg, errbuf, errlen);
    if (rc) return rc;
    f->rows.origin = f->path;
    f->rows.batch->origin = f->path;
    if (s->n_parts > 1) {
        f->rows.parts = &s->set;
        f->rows.part = (uint32_t)(f - s->parts);
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? WEIR_ENOENT : WEIR_EIO;
    }
    f->cap = 1 << 20;
    f->buf = malloc(f->cap);
    return f->buf ? 0 : WEIR_ENOMEM;
}

static int fs_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    const json_source_config *cfg = config;
    file_source *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = cfg;
    uint32_t w = weir_operator_worker_index(op), nw = weir_operator_worker_count(op);
    glob_t g = {0};
    const char *single[1] = {cfg->path};
    char **paths = (char **)single;
    size_t n_paths = 1;
    if (has_glob(cfg->path)) {
        int grc = glob(cfg->path, GLOB_ERR, NULL, &g);
        if (grc == GLOB_NOMATCH) {
            snprintf(errbuf, errlen, "%s: no file matches", cfg->path);
            return WEIR_ENOENT;
        }
        if (grc) {
            snprintf(errbuf, errlen, "%s: cannot list the files (%s)", cfg->path,
                     grc == GLOB_NOSPACE ? "out of memory" : "read error");
            globfree(&g);
            return WEIR_EIO;
        }
        paths = g.gl_pathv;
        n_paths = g.gl_pathc;
    }
    for (size_t i = 0; i < n_paths; i++) /* file i goes to worker i mod N */
        if (i % nw == w) s->n_parts++;
    int rc = 0;
    if (s->n_parts) {
        s->parts = calloc(s->n_parts, sizeof *s->parts);
        s->set.n = s->n_parts;
        s->set.wm = malloc(s->n_parts * sizeof *s->set.wm);
        if (!s->parts || !s->set.wm) rc = WEIR_ENOMEM;
        for (uint32_t k = 0; !rc && k < s->n_parts; k++) s->set.wm[k] = WEIR_TIME_MIN;
        for (size_t i = 0, k = 0; !rc && i < n_paths; i++)
            if (i % nw == w) rc = open_part(op, s, &s->parts[k++], paths[i], errbuf, errlen);
    } else {
        /* no file for this worker: end at once (an empty partition set) */
        s->parts = calloc(1, sizeof *s->parts);
        if (!s->parts)
            rc = WEIR_ENOMEM;
        else {
            s->n_parts = 1;
            rc = weir__json_rows_init(&s->parts[0].rows, op, cfg, errbuf, errlen);
            s->parts[0].fd = -1;
            s->parts[0].eof = true;
            s->stopping = true;
        }
    }
    if (paths != (char **)single) globfree(&g);
    return rc;
}

static void on_poll_close(uv_handle_t *h)
{
    free(h);
}

static void fs_close(weir_operator *op)
{
    file_source *s = op->state;
    if (!s) return;
    for (uint32_t k = 0; s->parts && k < s->n_parts; k++) {
        file_part *f = &s->parts[k];
        weir__json_rows_finish(&f->rows);
        if (f->fd >= 0) close(f->fd);
        free(f->buf);
        free(f->path);
    }
    if (s->poll) uv_close((uv_handle_t *)s->poll, on_poll_close);
    free(s->parts);
    free(s->set.wm);
    free(s);
}

static void on_poll(uv_timer_t *t)
{
    weir_worker_wake(t->data);
}

/* Makes room and reads more; only called when no row references the buffer. */
static int fill(weir_operator *op, file_part *f)
{
    if (f->start > 0) {
        memmove(f->buf, f->buf + f->start, f->end - f->start);
        f->end -= f->start;
        f->start = 0;
    }
    if (f->end == f->cap) { /* a line longer than the buffer */
        char *nb = realloc(f->buf, f->cap * 2);
        if (!nb) return weir_operator_fail(op, WEIR_ENOMEM, "%s: out of memory", f->path);
        f->buf = nb;
        f->cap *= 2;
    }
    ssize_t n;
    do n = read(f->fd, f->buf + f->end, f->cap - f->end);
    while (n < 0 && errno == EINTR);
    if (n < 0) return weir_operator_fail(op, WEIR_EIO, "%s: %s", f->path, strerror(errno));
    if (n == 0) f->eof = true;
    f->end += (size_t)n;
    return 0;
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
    return true;
}

static int end_part(file_source *s, file_part *f)
{
    f->ended = true;
    s->n_ended++;
    return weir__json_rows_flush(&f->rows, true);
}

/* Reads up to about max_rows lines of f and emits them. Returns WEIR_PULL_MORE, WEIR_PULL_IDLE
 * (at the end of a followed file), WEIR_PULL_END (f ended) or an error. */
static int pull_part(weir_operator *op, file_source *s, file_part *f, uint32_t max_rows)
{
    json_rows *j = &f->rows;
    int rc;
    if (s->stopping) return (rc = end_part(s, f)) ? rc : WEIR_PULL_END;
    uint64_t before = j->n_read;
    while (j->batch->n_rows < max_rows && j->n_read - before < max_rows) {
        char *p = f->buf + f->start;
        size_t avail = f->end - f->start;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - p);
            f->line++;
            f->start += len + 1;
            if (!blank(p, len) && (rc = weir__json_rows_line(j, p, len, f->line))) return rc;
            continue;
        }
        if (f->eof) {
            if (avail && !s->cfg->follow) { /* a last line without a newline */
                f->line++;
                f->start = f->end;
                if (!blank(p, avail) && (rc = weir__json_rows_line(j, p, avail, f->line)))
                    return rc;
            }
            if (!s->cfg->follow) return (rc = end_part(s, f)) ? rc : WEIR_PULL_END;
            if ((rc = weir__json_rows_flush(j, false))) return rc;
            f->eof = false; /* look again later */
            return WEIR_PULL_IDLE;
        }
        if (j->batch->n_rows) break; /* rows point into the buffer: emit them first */
        if ((rc = fill(op, f))) return rc;
    }
    if ((rc = weir__json_rows_flush(j, false))) return rc;
    return WEIR_PULL_MORE;
}

static int fs_pull(weir_operator *op, uint32_t max_rows)
{
    file_source *s = op->state;
    if (s->all_ended) return WEIR_PULL_END;
    bool any_more = false;
    /* a batch from each file in turn, so that their watermarks advance together */
    for (uint32_t k = 0; k < s->n_parts; k++) {
        file_part *f = &s->parts[k];
        if (f->ended) continue;
        int rc = pull_part(op, s, f, max_rows);
        if (rc < 0) return rc;
        if (rc == WEIR_PULL_MORE) any_more = true;
    }
    if (s->n_ended == s->n_parts) {
        s->all_ended = true;
        if (s->poll) { /* closed while the loop runs, so its memory is given back */
            uv_close((uv_handle_t *)s->poll, on_poll_close);
            s->poll = NULL;
        }
        return WEIR_PULL_END;
    }
    if (any_more) return WEIR_PULL_MORE;
    /* every remaining file is followed and at its end: look again in 100 ms */
    if (!s->poll) {
        s->poll = malloc(sizeof *s->poll);
        if (!s->poll) return weir_operator_fail(op, WEIR_ENOMEM, "out of memory");
        uv_timer_init(weir_worker_loop(op), s->poll);
        s->poll->data = op;
    }
    uv_timer_start(s->poll, on_poll, 100, 0);
    return WEIR_PULL_IDLE;
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
