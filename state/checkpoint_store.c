/* state/checkpoint_store.c: checkpoint files on disk (the format is in checkpoint_store.h).
 *
 * Every file is written to a temporary name, fsync'ed and renamed, and the directory fsync'ed,
 * so a crash leaves either the whole file or none of it under its name. Reads check magic,
 * version, bounds and the CRC32C, and name the file and what is wrong when something is off. */
#include "checkpoint_store.h"
#include "crc32c.h"
#include "weir/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define STATE_MAGIC   "WEIRSTAT"
#define STATE_VERSION 1u
#define HEADER_SIZE   32u
#define SECTION_SIZE  24u

static int fail_msg(char *errbuf, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_msg(char *errbuf, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errbuf && errlen) vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return code;
}

static void chk_path(char *out, size_t n, const char *dir, uint64_t id, const char *name)
{
    if (name)
        snprintf(out, n, "%s/chk-%" PRIu64 "/%s", dir, id, name);
    else
        snprintf(out, n, "%s/chk-%" PRIu64, dir, id);
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int weir__ck_mkdirs(const char *dir, char *errbuf, size_t errlen)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return fail_msg(errbuf, errlen, WEIR_EINVAL, "%s: path too long", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) && errno != EEXIST)
            return fail_msg(errbuf, errlen, WEIR_EIO, "cannot create %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) && errno != EEXIST)
        return fail_msg(errbuf, errlen, WEIR_EIO, "cannot create %s: %s", p, strerror(errno));
    struct stat st;
    if (stat(p, &st) || !S_ISDIR(st.st_mode))
        return fail_msg(errbuf, errlen, WEIR_EIO, "%s is not a directory", p);
    return 0;
}

int weir__ck_begin(const char *dir, uint64_t id, char *errbuf, size_t errlen)
{
    char p[4096];
    chk_path(p, sizeof p, dir, id, NULL);
    weir__ck_remove(dir, id);
    if (mkdir(p, 0755))
        return fail_msg(errbuf, errlen, WEIR_EIO, "cannot create %s: %s", p, strerror(errno));
    return 0;
}

/* Writes the iovecs to path through a temporary file; 0 or WEIR_EIO. */
static int write_file(const char *path, struct iovec *iov, int n_iov, bool fail, char *errbuf,
                      size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail_msg(errbuf, errlen, WEIR_EIO, "%s: %s", tmp, strerror(errno));
    int err = 0;
    if (fail) err = ENOSPC;
    for (int i = 0; i < n_iov && !err; i++) {
        const char *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left && !err) {
            ssize_t k = write(fd, p, left);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                err = k < 0 ? errno : EIO;
                break;
            }
            p += k;
            left -= (size_t)k;
        }
    }
    if (!err && fsync(fd)) err = errno;
    if (close(fd) && !err) err = errno;
    if (!err && rename(tmp, path)) err = errno;
    if (err) {
        unlink(tmp);
        return fail_msg(errbuf, errlen, WEIR_EIO, "%s: %s", path, strerror(err));
    }
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (slash) *slash = 0;
    if (fsync_dir(slash ? d : "."))
        return fail_msg(errbuf, errlen, WEIR_EIO, "%s: %s", d, strerror(errno));
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int weir__ck_write_state(const char *dir, uint64_t id, const char *name, uint32_t worker,
                         const weir_snap_writer *ws, uint32_t n_ws, weir__ck_file *f, bool fail,
                         char *errbuf, size_t errlen)
{
    uint32_t n_sections = 0;
    for (uint32_t k = 0; k < n_ws; k++) n_sections += ws[k].n_sections;
    size_t head_len = HEADER_SIZE + (size_t)n_sections * SECTION_SIZE;
    uint8_t *head = malloc(head_len);
    struct iovec *iov = calloc(n_ws + 2, sizeof *iov);
    if (!head || !iov) {
        free(head);
        free(iov);
        return fail_msg(errbuf, errlen, WEIR_ENOMEM, "out of memory");
    }
    memcpy(head, STATE_MAGIC, 8);
    put32(head + 8, STATE_VERSION);
    put32(head + 12, worker);
    put64(head + 16, id);
    put32(head + 24, n_sections);
    put32(head + 28, 0);
    uint64_t base = 0;
    uint32_t i = 0;
    int n_iov = 1;
    iov[0] = (struct iovec){head, head_len};
    for (uint32_t k = 0; k < n_ws; k++) {
        const weir_snap_writer *w = &ws[k];
        for (uint32_t j = 0; j < w->n_sections; j++, i++) {
            uint8_t *e = head + HEADER_SIZE + (size_t)i * SECTION_SIZE;
            put32(e, w->sections[j].node);
            put32(e + 4, w->sections[j].group);
            put64(e + 8, base + w->sections[j].offset);
            put64(e + 16, w->sections[j].len);
        }
        if (w->len) iov[n_iov++] = (struct iovec){w->data, w->len};
        base += w->len;
    }
    uint32_t crc = 0;
    for (int k = 0; k < n_iov; k++) crc = weir__crc32c(crc, iov[k].iov_base, iov[k].iov_len);
    uint8_t tail[4];
    put32(tail, crc);
    iov[n_iov++] = (struct iovec){tail, 4};
    char path[4096];
    chk_path(path, sizeof path, dir, id, name);
    int rc = write_file(path, iov, n_iov, fail, errbuf, errlen);
    free(head);
    free(iov);
    if (rc) return rc;
    snprintf(f->name, sizeof f->name, "%s", name);
    f->size = head_len + base + 4;
    f->crc = crc;
    return 0;
}

void weir__ck_state_free(weir__ck_state *s)
{
    free(s->raw);
    free(s->sections);
    memset(s, 0, sizeof *s);
}

/* Reads a whole file into memory. 0, WEIR_ENOENT or WEIR_EIO. */
static int slurp(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? WEIR_ENOENT : WEIR_EIO;
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return WEIR_EIO;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n + 1);
    if (!b) {
        close(fd);
        return WEIR_ENOMEM;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    b[got] = 0;
    *out = b;
    *len = got;
    return 0;
}

int weir__ck_read_state(const char *dir, uint64_t id, const weir__ck_file *f, weir__ck_state *s,
                        char *errbuf, size_t errlen)
{
    char path[4096];
    chk_path(path, sizeof path, dir, id, f->name);
    memset(s, 0, sizeof *s);
    uint8_t *b;
    size_t n;
    int rc = slurp(path, &b, &n);
    if (rc == WEIR_ENOENT) return fail_msg(errbuf, errlen, WEIR_ECORRUPT, "%s: missing", path);
    if (rc) return fail_msg(errbuf, errlen, rc, "%s: %s", path, strerror(errno));
    s->raw = b;
    const char *what = NULL;
    if (n != f->size)
        what = "truncated or grown: its size differs from the manifest's";
    else if (n < HEADER_SIZE + 4 || memcmp(b, STATE_MAGIC, 8))
        what = "not a weir state file";
    else if (get32(b + 8) != STATE_VERSION)
        what = "written by another version of weir's checkpoint format";
    else if (weir__crc32c(0, b, n - 4) != get32(b + n - 4) || get32(b + n - 4) != f->crc)
        what = "checksum mismatch (the file is damaged)";
    else if (get64(b + 16) != id)
        what = "belongs to another checkpoint";
    uint32_t ns = what ? 0 : get32(b + 24);
    size_t head_len = HEADER_SIZE + (size_t)ns * SECTION_SIZE;
    if (!what && head_len > n - 4) what = "its section table is cut short";
    if (!what) {
        s->worker = get32(b + 12);
        s->data = b + head_len;
        s->data_len = n - 4 - head_len;
        s->n_sections = ns;
        s->sections = calloc(ns + 1, sizeof *s->sections);
        if (!s->sections) {
            weir__ck_state_free(s);
            return fail_msg(errbuf, errlen, WEIR_ENOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < ns && !what; i++) {
            const uint8_t *e = b + HEADER_SIZE + (size_t)i * SECTION_SIZE;
            weir__snap_section *sec = &s->sections[i];
            sec->node = get32(e);
            sec->group = get32(e + 4);
            sec->offset = get64(e + 8);
            sec->len = get64(e + 16);
            if (sec->group > WEIR_SNAP_OUTPUT || sec->offset > s->data_len ||
                sec->len > s->data_len - sec->offset)
                what = "a section lies outside the file";
        }
    }
    if (what) {
        weir__ck_state_free(s);
        return fail_msg(errbuf, errlen, WEIR_ECORRUPT, "%s: %s", path, what);
    }
    return 0;
}

/* ---- manifest ---- */

void weir__ck_manifest_free(weir__ck_manifest *m)
{
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        if (m->node_kind) free(m->node_kind[i]);
        if (m->node_name) free(m->node_name[i]);
    }
    free(m->node_kind);
    free(m->node_name);
    free(m->files);
    for (uint32_t i = 0; i < m->n_outputs; i++) free(m->outputs[i].path);
    free(m->outputs);
    memset(m, 0, sizeof *m);
}

/* Appends printf output to a growing string; returns -1 on no memory. */
static int sappend(char **s, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int sappend(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(*s ? *s + *len : NULL, *s ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return -1;
        if (*s && *len + (size_t)k < *cap) {
            *len += (size_t)k;
            return 0;
        }
        size_t nc = (*cap ? *cap * 2 : 1024) + (size_t)k;
        char *ns = realloc(*s, nc);
        if (!ns) return -1;
        *s = ns;
        *cap = nc;
    }
}

/* Names and paths go at the end of their line; a newline in one would end the line early. */
static bool one_line(const char *s)
{
    return !strchr(s, '\n') && !strchr(s, '\r');
}

int weir__ck_write_manifest(const char *dir, const weir__ck_manifest *m, char *errbuf,
                            size_t errlen)
{
    char *s = NULL;
    size_t len = 0, cap = 0;
    int bad =
        sappend(&s, &len, &cap,
                "weir-checkpoint 1\nid %" PRIu64 "\ntime %" PRId64
                "\nworkers %u\nkey_groups %u\nfinal %d\nended %d\n",
                m->id, m->time_ms, m->workers, WEIR_KEY_GROUPS, m->final ? 1 : 0, m->ended ? 1 : 0);
    for (uint32_t i = 0; i < m->n_nodes && !bad; i++)
        bad = !one_line(m->node_kind[i]) || !one_line(m->node_name[i]) ||
              sappend(&s, &len, &cap, "node %u %s %s\n", i, m->node_kind[i], m->node_name[i]);
    for (uint32_t i = 0; i < m->n_files && !bad; i++)
        bad = sappend(&s, &len, &cap, "file %s %" PRIu64 " %08x\n", m->files[i].name,
                      m->files[i].size, m->files[i].crc);
    for (uint32_t i = 0; i < m->n_outputs && !bad; i++)
        bad = !one_line(m->outputs[i].path) ||
              sappend(&s, &len, &cap, "output %u %" PRIu64 " %" PRIu64 " %s\n", m->outputs[i].node,
                      m->outputs[i].base, m->outputs[i].len, m->outputs[i].path);
    if (!bad) bad = sappend(&s, &len, &cap, "crc %08x\n", weir__crc32c(0, s, len));
    if (bad) {
        free(s);
        return fail_msg(errbuf, errlen, WEIR_EINVAL,
                        "cannot write the manifest (out of memory, or a newline in a node name "
                        "or path)");
    }
    char path[4096];
    chk_path(path, sizeof path, dir, m->id, "MANIFEST");
    struct iovec iov = {s, len};
    int rc = write_file(path, &iov, 1, false, errbuf, errlen);
    free(s);
    return rc;
}

int weir__ck_read_manifest(const char *dir, uint64_t id, weir__ck_manifest *m, char *errbuf,
                           size_t errlen)
{
    char path[4096];
    chk_path(path, sizeof path, dir, id, "MANIFEST");
    memset(m, 0, sizeof *m);
    uint8_t *b;
    size_t n;
    int rc = slurp(path, &b, &n);
    if (rc == WEIR_ENOENT) return WEIR_ENOENT;
    if (rc) return fail_msg(errbuf, errlen, rc, "%s: %s", path, strerror(errno));
    char *text = (char *)b;
    const char *what = NULL;
    /* the crc line checks everything before it */
    char *crc_line = NULL;
    for (char *p = text; (p = strstr(p, "crc ")) != NULL; p++)
        if (p == text || p[-1] == '\n') crc_line = p;
    unsigned crc = 0;
    if (!crc_line || sscanf(crc_line, "crc %8x", &crc) != 1 || crc_line[12] != '\n' ||
        crc_line + 13 != text + n)
        what = "no checksum line at its end (the file is cut short or damaged)";
    else if (weir__crc32c(0, text, (size_t)(crc_line - text)) != crc)
        what = "checksum mismatch (the file is damaged)";
    if (!what) *crc_line = 0;
    uint32_t cap_nodes = 0, cap_files = 0, cap_out = 0;
    bool have_id = false;
    for (char *line = what ? NULL : text; line && *line && !what;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        unsigned u;
        int off = 0;
        uint64_t a, c;
        if (!strcmp(line, "weir-checkpoint 1")) {
        } else if (!strncmp(line, "weir-checkpoint ", 16)) {
            what = "written by another version of weir's checkpoint format";
        } else if (sscanf(line, "id %" SCNu64, &a) == 1) {
            m->id = a;
            have_id = true;
        } else if (sscanf(line, "time %" SCNd64, &m->time_ms) == 1) {
        } else if (sscanf(line, "workers %u", &m->workers) == 1) {
        } else if (sscanf(line, "key_groups %u", &u) == 1) {
            if (u != WEIR_KEY_GROUPS) what = "written with another number of key groups";
        } else if (sscanf(line, "final %u", &u) == 1) {
            m->final = u != 0;
        } else if (sscanf(line, "ended %u", &u) == 1) {
            m->ended = u != 0;
        } else if (sscanf(line, "node %u %n", &u, &off) == 1 && off) {
            char *kind = line + off, *sp = strchr(kind, ' ');
            if (u != m->n_nodes || !sp) {
                what = "a malformed node line";
                break;
            }
            *sp = 0;
            if (m->n_nodes == cap_nodes) {
                cap_nodes = cap_nodes ? cap_nodes * 2 : 16;
                char **k = realloc(m->node_kind, cap_nodes * sizeof *k);
                if (k) m->node_kind = k;
                char **nm = k ? realloc(m->node_name, cap_nodes * sizeof *nm) : NULL;
                if (nm) m->node_name = nm;
                if (!k || !nm) {
                    what = "out of memory";
                    break;
                }
            }
            m->node_kind[m->n_nodes] = strdup(kind);
            m->node_name[m->n_nodes] = strdup(sp + 1);
            m->n_nodes++;
        } else if (!strncmp(line, "file ", 5)) {
            weir__ck_file f = {0};
            char name[48];
            if (sscanf(line, "file %47s %" SCNu64 " %8x", name, &a, &u) != 3) {
                what = "a malformed file line";
                break;
            }
            snprintf(f.name, sizeof f.name, "%s", name);
            f.size = a;
            f.crc = u;
            if (m->n_files == cap_files) {
                cap_files = cap_files ? cap_files * 2 : 8;
                weir__ck_file *nf = realloc(m->files, cap_files * sizeof *nf);
                if (!nf) {
                    what = "out of memory";
                    break;
                }
                m->files = nf;
            }
            m->files[m->n_files++] = f;
        } else if (sscanf(line, "output %u %" SCNu64 " %" SCNu64 " %n", &u, &a, &c, &off) == 3 &&
                   off) {
            if (m->n_outputs == cap_out) {
                cap_out = cap_out ? cap_out * 2 : 4;
                weir__ck_output *no = realloc(m->outputs, cap_out * sizeof *no);
                if (!no) {
                    what = "out of memory";
                    break;
                }
                m->outputs = no;
            }
            m->outputs[m->n_outputs++] =
                (weir__ck_output){.node = u, .base = a, .len = c, .path = strdup(line + off)};
        } else {
            what = "a line weir does not know";
        }
        line = nl ? nl + 1 : NULL;
    }
    if (!what && (!have_id || m->id != id)) what = "it names another checkpoint";
    if (!what && !m->workers) what = "no worker count";
    free(b);
    if (what) {
        weir__ck_manifest_free(m);
        return fail_msg(errbuf, errlen, WEIR_ECORRUPT, "%s: %s", path, what);
    }
    return 0;
}

/* ---- the directory ---- */

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int weir__ck_list(const char *dir, uint64_t **ids, uint32_t *n)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : WEIR_EIO;
    uint32_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, "chk-", 4) || !e->d_name[4]) continue;
        uint64_t id = strtoull(e->d_name + 4, &end, 10);
        if (*end || !id) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *ni = realloc(*ids, cap * sizeof *ni);
            if (!ni) {
                closedir(d);
                return WEIR_ENOMEM;
            }
            *ids = ni;
        }
        (*ids)[(*n)++] = id;
    }
    closedir(d);
    if (*n) qsort(*ids, *n, sizeof **ids, cmp_id);
    return 0;
}

int weir__ck_remove(const char *dir, uint64_t id)
{
    char p[4096];
    chk_path(p, sizeof p, dir, id, NULL);
    DIR *d = opendir(p);
    if (!d) return errno == ENOENT ? 0 : WEIR_EIO;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char f[4400];
        snprintf(f, sizeof f, "%s/%s", p, e->d_name);
        unlink(f);
    }
    closedir(d);
    return rmdir(p) ? WEIR_EIO : 0;
}

uint64_t weir__ck_size(const char *dir, uint64_t id)
{
    char p[4096];
    chk_path(p, sizeof p, dir, id, NULL);
    DIR *d = opendir(p);
    if (!d) return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char f[4400];
        struct stat st;
        snprintf(f, sizeof f, "%s/%s", p, e->d_name);
        if (e->d_name[0] != '.' && !stat(f, &st) && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}
