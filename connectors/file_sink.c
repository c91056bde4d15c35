/* connectors/file_sink.c: WriteToFile (JSON lines or CSV), LogForTesting (JSON lines to standard
 * error) and weir_collect (a callback per row): the sinks that end a pipeline in this process.
 *
 * The file sink renders rows into a buffer and writes it with write(2) when it passes 1 MiB and
 * at the end of input, so the cost per row is the JSON rendering and a memcpy. The file is
 * created (truncated) when the run starts; an unwritable path fails the run before any data
 * moves. Without checkpoints results are written as they come (pipeline.md). With several
 * workers each writes whole lines under a lock; rows of one key come from one worker, in order.
 *
 * With checkpoints (weir_operator_checkpointing), WriteToFile is exactly-once and never touches
 * its file: the engine owns it (engine/checkpoint.c). The sink renders lines into its buffer as
 * always but writes none of them; at each checkpoint its snapshot hands every byte rendered since
 * the previous snapshot over as a WEIR_SNAP_OUTPUT section and clears the buffer, and the engine
 * appends the sections of a checkpoint to the file (the file the class's output_path names:
 * the node's path) when the checkpoint completes, worker 0's first. A fresh run truncates the
 * file, a restore rolls it back to the committed length of the checkpoint it resumes from, so
 * what the file holds is always the output of a prefix of complete checkpoints, each once. At
 * the end of input the sink keeps what it has for the last checkpoint, the one the engine takes
 * after every input ended. Memory: the buffer holds one checkpoint interval of output.
 * LogForTesting and weir_collect have no output_path and go on writing (calling) at once.
 *
 * CSV: the columns are fixed when the graph is built (the fields `columns` names, or every field
 * of the input), and the header is written by the instance that creates the file, under the
 * lock, before any row can be. With checkpoints the header goes at the start of worker 0's first
 * OUTPUT section of a fresh run (!weir_operator_restored): that section is appended first, so the
 * header is the file's first line, once; a restored run finds it in the committed part already.
 * Rows that carry raw pass-through text are written from their
 * extracted fields: a CSV sink never looks at the raw text, so the columns it writes must be
 * fields of its input, which is why an input with pass-through fields needs `columns` (their
 * names are then extracted by the source, as any field a transform reads). DECISION: refusing
 * such an input without `columns` rather than guessing the columns from the first record: the
 * header has to be written before any record is seen, and records of a JSON source need not all
 * have the same members. */
#include "csv_codec.h"
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
    char csv_delimiter; /* 0: JSON lines */
    uint32_t n_columns; /* csv: the fields written, by index */
    int32_t *columns;
    weir_buf header; /* csv: the header line */
} sink_config;

typedef struct sink_state {
    sink_config *cfg;
    int fd;
    weir_buf buf;
    weir_json_names_cache names; /* the input's member names, encoded once */
    bool ended;
    bool held;          /* checkpoints: output goes to WEIR_SNAP_OUTPUT, not the file */
    bool header_done;   /* checkpoints, csv: the header was handed over (or is not ours) */
    int64_t last_write; /* processing time of the last write */
} sink_state;

static void sink_config_free(void *p)
{
    sink_config *c = p;
    if (!c) return;
    uv_mutex_destroy(&c->lock);
    free(c->path);
    free(c->columns);
    weir_buf_finish(&c->header);
    free(c);
}

static sink_config *sink_config_new(void)
{
    sink_config *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    weir_buf_init(&c->header);
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
    if (weir_operator_checkpointing(op)) { /* the engine creates, truncates and appends */
        s->held = true;
        return 0;
    }
    sink_config *c = s->cfg;
    int err = 0;
    uv_mutex_lock(&c->lock);
    if (c->users == 0) {
        c->fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (c->fd < 0) err = errno;
        for (size_t off = 0; !err && off < c->header.len;) { /* csv: the header first */
            ssize_t n = write(c->fd, c->header.data + off, c->header.len - off);
            if (n < 0 && errno != EINTR) err = errno;
            if (n > 0) off += (size_t)n;
        }
        if (err && c->fd >= 0) {
            close(c->fd);
            c->fd = -1;
        }
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
    for (uint32_t r = 0; s->cfg->csv_delimiter && r < b->n_rows; r++) {
        int rc = weir__csv_write_row(&s->buf, weir_batch_row(b, r), s->cfg->columns,
                                     s->cfg->n_columns, s->cfg->csv_delimiter);
        if (rc) return weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc));
    }
    for (uint32_t r = 0; !s->cfg->csv_delimiter && r < b->n_rows; r++) {
        const weir_raw *raw = b->raw ? &b->raw[r] : NULL;
        uint32_t skip = sc->has_raw && raw && raw->text ? sc->n_raw : 0;
        int rc;
        if (weir_raw_is_row(sc, raw)) /* the line as read */
            rc = weir_buf_append(&s->buf, raw->text, raw->len) || weir_buf_putc(&s->buf, '\n')
                     ? WEIR_ENOMEM
                     : 0;
        else
            rc = weir_json_write_object_cached(&s->buf, &s->names, sc->n_fields - skip,
                                               sc->names + skip, weir_batch_row(b, r) + skip,
                                               raw ? raw->text : NULL, raw ? raw->len : 0);
        if (rc) return weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc));
    }
    weir_operator_count_written(op, b->n_rows);
    if (s->held) { /* kept for the next checkpoint, END included */
        if (b->flags & WEIR_BATCH_END) s->ended = true;
        return 0;
    }
    /* written out per MiB, at the end, and when 50 ms passed since the last write: results of
     * an unbounded run reach the file promptly, dense output still goes in large writes */
    int64_t now = s->buf.len ? weir_operator_now(op) : 0;
    if (s->buf.len >= (1u << 20) || (b->flags & WEIR_BATCH_END) || !s->cfg->path ||
        (s->buf.len && now - s->last_write >= 50)) {
        int rc = write_out(op, s);
        if (rc) return rc;
        s->last_write = now;
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
    weir_json_names_cache_finish(&s->names);
    free(s);
}

/* Checkpoints: hands over what was rendered since the previous snapshot (csv: after the header,
 * the first time on worker 0 of a fresh run). Nothing for the sinks that write at once. */
static int sink_snapshot(weir_operator *op, weir_snap_writer *w)
{
    sink_state *s = op->state;
    if (!s->held) return 0;
    const weir_buf *h = &s->cfg->header;
    bool header = !s->header_done && h->len && weir_operator_worker_index(op) == 0 &&
                  !weir_operator_restored(op);
    if (!header && !s->buf.len) return 0;
    int rc = weir_snap_section(w, WEIR_SNAP_OUTPUT);
    if (!rc && header) rc = weir_snap_put(w, h->data, h->len);
    if (!rc) rc = weir_snap_put(w, s->buf.data, s->buf.len);
    if (rc) return weir_operator_fail(op, rc, "%s: %s", op->name, weir_strerror(rc));
    s->header_done = true;
    weir_buf_clear(&s->buf);
    return 0;
}

static const char *sink_output_path(const void *config)
{
    const sink_config *c = config;
    return c->fn ? NULL : c->path; /* NULL: LogForTesting, weir_collect */
}

static const weir_operator_class sink_class = {.name = "Sink",
                                               .open = sink_open,
                                               .process = sink_process,
                                               .close = sink_close,
                                               .snapshot = sink_snapshot,
                                               .output_path = sink_output_path,
                                               .watermark_blind = true};

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

/* The columns of a CSV sink over in's schema, and its header line. 0, or a pipeline error. */
static int csv_columns(weir_pipeline *p, weir_stream *in, const weir_file_sink *opt,
                       sink_config *cfg)
{
    const weir_schema *sc = weir_stream_schema(in);
    if (!weir__csv_delimiter_ok(opt->delimiter))
        return weir_pipeline_set_error(p, WEIR_EINVAL,
                                       "WriteToFile: the delimiter cannot be '\"', CR or LF");
    cfg->csv_delimiter = opt->delimiter ? opt->delimiter : ',';
    uint32_t n = 0;
    if (opt->columns)
        while (opt->columns[n]) n++;
    else if (sc->has_raw)
        return weir_pipeline_set_error(
            p, WEIR_EINVAL,
            "WriteToFile: format csv needs its columns, and its input passes fields through "
            "unread (straight from its source): list them in 'columns', or name them with a "
            "MapToFields before it");
    else
        for (uint32_t i = 0; i < sc->n_fields; i++) n += sc->names[i][0] != 0;
    if (!n) return weir_pipeline_set_error(p, WEIR_EINVAL, "WriteToFile: no column to write");
    cfg->columns = calloc(n, sizeof *cfg->columns);
    if (!cfg->columns) return weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < sc->n_fields && !opt->columns; i++)
        if (sc->names[i][0]) cfg->columns[cfg->n_columns++] = (int32_t)i; /* "": replaced */
    for (uint32_t k = 0; k < n && opt->columns; k++) {
        int at = weir_schema_find(sc, opt->columns[k]);
        if (at < 0 || !opt->columns[k][0])
            return weir_pipeline_set_error(p, WEIR_EINVAL,
                                           "WriteToFile: column '%s' is not a field of its input",
                                           opt->columns[k]);
        for (uint32_t i = 0; i < k; i++)
            if (!strcmp(opt->columns[i], opt->columns[k]))
                return weir_pipeline_set_error(
                    p, WEIR_EINVAL, "WriteToFile: column '%s' is listed twice", opt->columns[k]);
        cfg->columns[cfg->n_columns++] = at;
    }
    int rc = 0;
    for (uint32_t k = 0; !rc && k < n; k++) {
        if (k) rc = weir_buf_putc(&cfg->header, cfg->csv_delimiter);
        const char *name = sc->names[cfg->columns[k]];
        if (!rc) rc = weir__csv_write_text(&cfg->header, name, strlen(name), cfg->csv_delimiter);
    }
    if (!rc) rc = weir_buf_putc(&cfg->header, '\n');
    return rc ? weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory") : 0;
}

void weir_write_file(weir_stream *in, const weir_file_sink *opt)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    if (!p) return;
    if (!opt || !opt->path || !opt->path[0]) {
        weir_pipeline_set_error(p, WEIR_EINVAL, "WriteToFile: a path is required");
        return;
    }
    bool csv = opt->format && !strcmp(opt->format, "csv");
    if (opt->format && !csv && strcmp(opt->format, "json") != 0) {
        weir_pipeline_set_error(
            p, WEIR_EINVAL, "WriteToFile: format '%s' is not supported (json or csv)", opt->format);
        return;
    }
    if (!csv && (opt->delimiter || opt->columns)) {
        weir_pipeline_set_error(p, WEIR_EINVAL,
                                "WriteToFile: delimiter and columns are for format csv");
        return;
    }
    sink_config *cfg = sink_config_new();
    if (!cfg || !(cfg->path = strdup(opt->path))) {
        sink_config_free(cfg);
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return;
    }
    if (csv && !weir_stream_failed(in) && csv_columns(p, in, opt, cfg)) {
        sink_config_free(cfg);
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
