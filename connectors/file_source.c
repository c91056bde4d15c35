/* connectors/file_source.c: ReadFromFile, for JSON lines and CSV.
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
 * again every 100 ms (a last line, or CSV record, without its line end waits for the rest).
 *
 * With format csv the buffer is cut into CSV records instead of lines (a quoted cell may hold
 * line feeds), and csv_rows turns each into a row; the position of a record is the line where it
 * starts.
 *
 * Checkpoints: the snapshot (taken between pulls, so every line before a file's read position has
 * been emitted) writes, per file this instance reads, its path, the byte offset of its next
 * unread line, that line's number less one, whether it ended, whether its CSV header was read,
 * and its watermark state (json_rows), plus the watermark the instance emitted so far. Files are
 * named by path, not by index: on a restore every instance deals the files of the path to the
 * workers as at start (the glob again, file i to worker i mod N, at the worker count of now),
 * takes the state of the files it reads from whichever old instance had them, and seeks each
 * there; a CSV file's header is parsed again from the start of the file first. DECISIONS: a file
 * the checkpoint names that the path no longer matches, or that is shorter than its offset, or
 * whose byte before the offset is not a line end (the file was changed), stops the run with a
 * message naming it, never a silent restart from 0; except a file that had ended, which may be
 * gone (nothing of it is left to read). A file the path matches now that the checkpoint does not
 * name is new and read from its start. The emitted watermark restored is the minimum of those of
 * the old instances whose files this instance takes (exact when the worker count is the same;
 * otherwise the files' own watermarks lift it). */
#include "csv_rows.h"
#include "json_rows.h"
#include "weir/error.h"
#include "weir/graph.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

typedef struct file_part {
    json_rows rows;
    csv_rows csv; /* format csv */
    char *path;
    int fd;
    char *buf;
    size_t cap, start, end; /* unread bytes are buf[start..end) */
    uint64_t base;          /* file offset of buf[0] */
    int64_t line;           /* number of the last line cut */
    bool eof, ended;
    bool restored;     /* its state came from a checkpoint */
    bool restored_end; /* it had ended at the checkpoint: the first pull ends it again */
} file_part;

typedef struct file_source {
    const json_source_config *cfg;
    file_part *parts;
    uint32_t n_parts, next, n_ended;
    json_parts set;
    bool stopping, all_ended;
    bool real_parts;  /* parts are files (not the empty stand-in of a worker with none) */
    bool emitted_set; /* set.emitted came from a checkpoint */
    char **all_paths; /* every file the path matches now, for restore */
    size_t n_all;
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
    weir__csv_rows_init(&f->csv, s->cfg, f->path);
    int rc = weir__json_rows_init(&f->rows, op, s->cfg, errbuf, errlen);
    if (rc) return rc;
    f->rows.origin = f->path;
    f->rows.batch->origin = f->path;
    f->rows.parts = &s->set; /* each file is a partition, even alone: idleness is per file */
    f->rows.part = (uint32_t)(f - s->parts);
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
    s->all_paths = calloc(n_paths, sizeof *s->all_paths);
    if (!s->all_paths) rc = WEIR_ENOMEM;
    for (size_t i = 0; !rc && i < n_paths; i++, s->n_all++)
        if (!(s->all_paths[i] = strdup(paths[i]))) rc = WEIR_ENOMEM;
    if (rc) {
        if (paths != (char **)single) globfree(&g);
        return rc;
    }
    if (s->n_parts) {
        s->real_parts = true;
        s->parts = calloc(s->n_parts, sizeof *s->parts);
        s->set.n = s->n_parts;
        s->set.wm = malloc(s->n_parts * sizeof *s->set.wm);
        s->set.last_active = malloc(s->n_parts * sizeof *s->set.last_active);
        s->set.idle = calloc(s->n_parts, sizeof *s->set.idle);
        s->set.emitted = WEIR_TIME_MIN;
        if (!s->parts || !s->set.wm || !s->set.last_active || !s->set.idle) rc = WEIR_ENOMEM;
        int64_t now = weir_operator_now(op);
        for (uint32_t k = 0; !rc && k < s->n_parts; k++) {
            s->set.wm[k] = WEIR_TIME_MIN;
            s->set.last_active[k] = now;
        }
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
        if (f->path) weir__csv_rows_finish(&f->csv);
        if (f->fd >= 0) close(f->fd);
        free(f->buf);
        free(f->path);
    }
    if (s->poll) uv_close((uv_handle_t *)s->poll, on_poll_close);
    free(s->parts);
    free(s->set.wm);
    free(s->set.last_active);
    free(s->set.idle);
    for (size_t i = 0; i < s->n_all; i++) free(s->all_paths[i]);
    free(s->all_paths);
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
        f->base += f->start;
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

/* pull_part for CSV: the same loop over records. */
static int pull_csv(weir_operator *op, file_source *s, file_part *f, uint32_t max_rows)
{
    json_rows *j = &f->rows;
    bool follow = s->cfg->follow;
    int rc;
    uint64_t before = j->n_read;
    while (j->batch->n_rows < max_rows && j->n_read - before < max_rows) {
        char *p = f->buf + f->start;
        size_t avail = f->end - f->start;
        if (avail) {
            weir__csv_record rec;
            rc = weir__csv_rows_scan(&f->csv, p, avail, f->eof && !follow, &rec);
            if (rc < 0) return weir_operator_fail(op, rc, "%s: out of memory", f->path);
            if (rc == WEIR__CSV_RECORD) {
                int64_t pos = f->line + 1;
                f->line += rec.newlines ? rec.newlines : 1;
                f->start += rec.len;
                if ((rc = weir__csv_rows_record(&f->csv, j, p, &rec, pos))) return rc;
                continue;
            }
        }
        if (f->eof) {
            if (!follow) {
                if ((rc = weir__csv_rows_at_end(&f->csv, j))) return rc;
                return (rc = end_part(s, f)) ? rc : WEIR_PULL_END;
            }
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

/* Reads up to about max_rows lines of f and emits them. Returns WEIR_PULL_MORE, WEIR_PULL_IDLE
 * (at the end of a followed file), WEIR_PULL_END (f ended) or an error. */
static int pull_part(weir_operator *op, file_source *s, file_part *f, uint32_t max_rows)
{
    json_rows *j = &f->rows;
    int rc;
    if (s->stopping || f->restored_end) return (rc = end_part(s, f)) ? rc : WEIR_PULL_END;
    if (s->cfg->csv_delimiter) return pull_csv(op, s, f, max_rows);
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
    /* every remaining file is followed and at its end: some may have become idle */
    if (s->cfg->idle_timeout > 0) {
        int64_t now = weir_operator_now(op);
        for (uint32_t k = 0; k < s->n_parts; k++)
            if (!s->parts[k].ended) {
                int rc = weir__json_rows_check_idle(&s->parts[k].rows, now);
                if (rc) return rc;
                break; /* the set is shared: one check covers every file */
            }
    }
    /* look again in 100 ms */
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

/* ---- checkpoints ---- */

#define FS_SNAP_VERSION 1u

/* The shared section: u32 version, u8 csv, i64 emitted watermark, u32 files, then per file: str
 * path, u64 offset of the next unread byte, i64 lines cut before it, u8 ended, u8 header read
 * (csv), and json_rows' state (weir__json_rows_snapshot). */
static int fs_snapshot(weir_operator *op, weir_snap_writer *w)
{
    file_source *s = op->state;
    uint32_t n = s->real_parts ? s->n_parts : 0;
    int rc = weir_snap_section(w, WEIR_SNAP_SHARED);
    if (!rc) rc = weir_snap_u32(w, FS_SNAP_VERSION);
    if (!rc) rc = weir_snap_u8(w, s->cfg->csv_delimiter != 0);
    if (!rc) rc = weir_snap_i64(w, s->set.emitted);
    if (!rc) rc = weir_snap_u32(w, n);
    for (uint32_t k = 0; !rc && k < n; k++) {
        const file_part *f = &s->parts[k];
        rc = weir_snap_str(w, f->path, (uint32_t)strlen(f->path));
        if (!rc) rc = weir_snap_u64(w, f->base + f->start);
        if (!rc) rc = weir_snap_i64(w, f->line);
        if (!rc) rc = weir_snap_u8(w, f->ended || f->restored_end);
        if (!rc) rc = weir_snap_u8(w, f->csv.have_header);
        if (!rc) rc = weir__json_rows_snapshot(&f->rows, w);
    }
    return rc ? weir_operator_fail(op, rc, "%s: out of memory", s->cfg->origin) : 0;
}

/* Reads f's CSV header again, from the start of the file; it must end by offset. */
static int reread_header(weir_operator *op, file_part *f, uint64_t offset)
{
    if (lseek(f->fd, 0, SEEK_SET) < 0)
        return weir_operator_fail(op, WEIR_EIO, "%s: %s", f->path, strerror(errno));
    f->base = f->start = f->end = 0;
    f->eof = false;
    f->line = 0;
    int rc;
    while (!f->csv.have_header) {
        char *p = f->buf + f->start;
        size_t avail = f->end - f->start;
        if (avail) {
            weir__csv_record rec;
            rc = weir__csv_rows_scan(&f->csv, p, avail, f->eof, &rec);
            if (rc < 0) return weir_operator_fail(op, rc, "%s: out of memory", f->path);
            if (rc == WEIR__CSV_RECORD) {
                int64_t pos = f->line + 1;
                f->line += rec.newlines ? rec.newlines : 1;
                f->start += rec.len;
                if (f->base + f->start > offset) break;
                if ((rc = weir__csv_rows_record(&f->csv, &f->rows, p, &rec, pos))) return rc;
                continue;
            }
        }
        if (f->eof) break;
        if ((rc = fill(op, f))) return rc;
    }
    if (!f->csv.have_header)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: the checkpoint resumes at byte %llu, after the header, but "
                                  "the file has no header before it: it was changed or replaced",
                                  f->path, (unsigned long long)offset);
    return 0;
}

/* Puts f where the checkpoint left it: offset, line, header (csv), watermark state. */
static int resume_part(weir_operator *op, file_part *f, uint64_t offset, int64_t line, bool header)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return weir_operator_fail(op, WEIR_EIO, "%s: %s", f->path, strerror(errno));
    if ((uint64_t)st.st_size < offset)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: the checkpoint resumes at byte %llu (line %lld), but the "
                                  "file has only %llu bytes now: it was truncated or replaced",
                                  f->path, (unsigned long long)offset, (long long)line + 1,
                                  (unsigned long long)st.st_size);
    if (offset > 0) { /* a position is always just after a line end */
        char c;
        ssize_t n;
        do n = pread(f->fd, &c, 1, (off_t)offset - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0) return weir_operator_fail(op, WEIR_EIO, "%s: %s", f->path, strerror(errno));
        if (n != 1 || c != '\n')
            return weir_operator_fail(op, WEIR_ECORRUPT,
                                      "%s: the checkpoint resumes at byte %llu (line %lld), but "
                                      "the byte before it is not a line end now: the file was "
                                      "changed or replaced",
                                      f->path, (unsigned long long)offset, (long long)line + 1);
    }
    int rc;
    if (header && (rc = reread_header(op, f, offset))) return rc;
    if (lseek(f->fd, (off_t)offset, SEEK_SET) < 0)
        return weir_operator_fail(op, WEIR_EIO, "%s: %s", f->path, strerror(errno));
    f->base = offset;
    f->start = f->end = 0;
    f->eof = false;
    f->line = line;
    return 0;
}

static int fs_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    file_source *s = op->state;
    const char *origin = s->cfg->origin;
    if (group != WEIR_SNAP_SHARED) return 0;
    uint32_t version = weir_snap_get_u32(r);
    if (weir_snap_ok(r) && version != FS_SNAP_VERSION)
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: the checkpoint holds this source's state in format "
                                  "version %u; this weir reads version %u",
                                  origin, version, FS_SNAP_VERSION);
    bool csv = weir_snap_get_u8(r) != 0;
    int64_t emitted = weir_snap_get_i64(r);
    uint32_t n = weir_snap_get_u32(r);
    if (weir_snap_ok(r) && csv != (s->cfg->csv_delimiter != 0))
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: the checkpoint read these files as %s, the pipeline reads "
                                  "them as %s",
                                  origin, csv ? "csv" : "json", csv ? "json" : "csv");
    bool took = false;
    for (uint32_t i = 0; i < n && weir_snap_ok(r); i++) {
        uint32_t len;
        const char *path = weir_snap_get_str(r, &len);
        uint64_t offset = weir_snap_get_u64(r);
        int64_t line = weir_snap_get_i64(r);
        bool ended = weir_snap_get_u8(r) != 0, header = weir_snap_get_u8(r) != 0;
        json_rows scratch = {0}, *j = &scratch;
        file_part *f = NULL;
        for (uint32_t k = 0; path && s->real_parts && k < s->n_parts && !f; k++)
            if (strlen(s->parts[k].path) == len && !memcmp(s->parts[k].path, path, len))
                f = &s->parts[k];
        if (f) j = &f->rows;
        weir__json_rows_restore(j, r); /* into scratch when another worker reads the file */
        if (!weir_snap_ok(r)) break;
        if (!f) {
            bool known = false;
            for (size_t k = 0; k < s->n_all && !known; k++)
                known = strlen(s->all_paths[k]) == len && !memcmp(s->all_paths[k], path, len);
            if (!known && !ended)
                return weir_operator_fail(op, WEIR_ECORRUPT,
                                          "%.*s: the checkpoint resumes this file at byte %llu "
                                          "(line %lld), but it is gone (%s matches no such file "
                                          "now)",
                                          (int)len, path, (unsigned long long)offset,
                                          (long long)line + 1, s->cfg->path);
            continue;
        }
        if (f->restored)
            return weir_operator_fail(
                op, WEIR_ECORRUPT, "%s: the checkpoint holds this file's position twice", f->path);
        f->restored = took = true;
        int rc;
        if (ended) { /* kept as they were, for the next snapshot */
            f->restored_end = true;
            f->csv.have_header = header;
            f->base = offset;
            f->line = line;
        } else if ((rc = resume_part(op, f, offset, line, header))) {
            return rc;
        }
    }
    if (!weir_snap_done(r))
        return weir_operator_fail(op, WEIR_ECORRUPT,
                                  "%s: this source's state in the checkpoint is damaged", origin);
    if (took) {
        if (!s->emitted_set || emitted < s->set.emitted) s->set.emitted = emitted;
        s->emitted_set = true;
    }
    return 0;
}

static const weir_operator_class file_source_class = {.name = "ReadFromFile",
                                                      .open = fs_open,
                                                      .pull = fs_pull,
                                                      .stop = fs_stop,
                                                      .close = fs_close,
                                                      .snapshot = fs_snapshot,
                                                      .restore = fs_restore};

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
    bool csv = opt->format && !strcmp(opt->format, "csv");
    if (opt->format && !csv && strcmp(opt->format, "json") != 0) {
        weir_pipeline_set_error(p, WEIR_EINVAL,
                                "ReadFromFile: format '%s' is not supported (json or csv)",
                                opt->format);
        return weir_pipeline_failed_stream(p);
    }
    if (!csv && (opt->delimiter || opt->columns)) {
        weir_pipeline_set_error(p, WEIR_EINVAL,
                                "ReadFromFile: delimiter and columns are for format csv");
        return weir_pipeline_failed_stream(p);
    }
    if (csv && !weir__csv_delimiter_ok(opt->delimiter)) {
        weir_pipeline_set_error(p, WEIR_EINVAL,
                                "ReadFromFile: the delimiter cannot be '\"', CR or LF");
        return weir_pipeline_failed_stream(p);
    }
    for (uint32_t i = 0; opt->columns && opt->columns[i].name; i++) {
        const weir_csv_column *c = &opt->columns[i];
        if (!c->type || weir__csv_type_parse(c->type) < 0) {
            weir_pipeline_set_error(p, WEIR_EINVAL,
                                    "ReadFromFile: column '%s' has type '%s' (int, float, string, "
                                    "bool or timestamp)",
                                    c->name, c->type ? c->type : "(none)");
            return weir_pipeline_failed_stream(p);
        }
        for (uint32_t k = 0; k < i; k++)
            if (!strcmp(opt->columns[k].name, c->name)) {
                weir_pipeline_set_error(p, WEIR_EINVAL,
                                        "ReadFromFile: column '%s' is declared twice", c->name);
                return weir_pipeline_failed_stream(p);
            }
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
    cfg->idle_timeout = opt->idle_timeout > 0 ? opt->idle_timeout : 0;
    if (csv) {
        cfg->csv_delimiter = opt->delimiter ? opt->delimiter : ',';
        uint32_t n = 0;
        while (opt->columns && opt->columns[n].name) n++;
        cfg->csv_columns = calloc(n + 1, sizeof *cfg->csv_columns);
        cfg->csv_types = calloc(n + 1, sizeof *cfg->csv_types);
        if (!cfg->csv_columns || !cfg->csv_types) goto nomem;
        for (; cfg->n_csv_columns < n; cfg->n_csv_columns++) {
            const weir_csv_column *c = &opt->columns[cfg->n_csv_columns];
            if (!(cfg->csv_columns[cfg->n_csv_columns] = strdup(c->name))) goto nomem;
            cfg->csv_types[cfg->n_csv_columns] = (uint8_t)weir__csv_type_parse(c->type);
        }
    }
    if (!cfg->path || !cfg->origin || (opt->timestamp && !cfg->timestamp) ||
        weir__json_source_fields(cfg, opt->fields))
        goto nomem;
    return weir__json_source_add(p, cfg, "ReadFromFile", &file_source_class);
nomem:
    weir__json_source_config_free(cfg);
    weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
    return weir_pipeline_failed_stream(p);
}
