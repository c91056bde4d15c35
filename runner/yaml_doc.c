/* runner/yaml_doc.c: YAML pipeline files to a small tree with positions (yaml_doc.h).
 *
 * libyaml's event parser builds the tree, so that every node keeps the line and column where it
 * starts (libyaml's marks are 0-based; ours are 1-based) and every scalar remembers whether it was
 * quoted ("5" stays a string). Anchors become shared nodes, registered only once complete, so an
 * alias can never make a cycle and never copies (no alias bombs). Duplicate keys, several
 * documents and empty files are errors. After loading, ${VAR} and ${VAR:-default} in scalars are
 * replaced from the environment ($$ is a literal dollar). */
#include "yaml_doc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode_s {
    int kind;
    uint32_t line, column;
    char *text;
    bool quoted;
    uint32_t n, cap;
    ynode_s **keys; /* maps */
    ynode_s **vals; /* map values, sequence items */
    char *anchor;
    ynode_s *next_alloc; /* every node of the document, for freeing */
};

struct weir__yaml_doc {
    ynode_s *root;
    ynode_s *all;
};

static ynode_s *new_node(weir__yaml_doc *doc, int kind, const yaml_mark_t *mark)
{
    ynode_s *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->line = mark ? (uint32_t)mark->line + 1 : 1;
    n->column = mark ? (uint32_t)mark->column + 1 : 1;
    n->next_alloc = doc->all;
    doc->all = n;
    return n;
}

static int add_child(ynode_s *parent, ynode_s *key, ynode_s *val)
{
    if (parent->n == parent->cap) {
        uint32_t cap = parent->cap ? parent->cap * 2 : 4;
        ynode_s **v = realloc(parent->vals, cap * sizeof *v);
        if (!v) return -1;
        parent->vals = v;
        if (parent->kind == Y_MAP) {
            ynode_s **k = realloc(parent->keys, cap * sizeof *k);
            if (!k) return -1;
            parent->keys = k;
        }
        parent->cap = cap;
    }
    if (parent->kind == Y_MAP) parent->keys[parent->n] = key;
    parent->vals[parent->n++] = val;
    return 0;
}

void y_doc_destroy(weir__yaml_doc *doc)
{
    if (!doc) return;
    ynode_s *n = doc->all;
    while (n) {
        ynode_s *next = n->next_alloc;
        free(n->text);
        free(n->keys);
        free(n->vals);
        free(n->anchor);
        free(n);
        n = next;
    }
    free(doc);
}

/* ---- building from events ---- */

typedef struct frame {
    ynode_s *node;
    ynode_s *pending_key; /* maps: a key waiting for its value */
} frame;

typedef struct loader {
    weir__yaml_doc *doc;
    weir__diag *d;
    frame stack[256];
    int depth;
    ynode_s **anchors;
    uint32_t n_anchors, cap_anchors;
    int documents;
} loader;

static int attach(loader *l, ynode_s *n)
{
    if (l->depth == 0) {
        l->doc->root = n;
        return 0;
    }
    frame *f = &l->stack[l->depth - 1];
    if (f->node->kind == Y_SEQ) return add_child(f->node, NULL, n);
    if (!f->pending_key) {
        if (n->kind != Y_SCALAR) {
            y_diag_add(l->d, n->line, n->column, "a map key must be a plain value, not a %s",
                       n->kind == Y_MAP ? "map" : "list");
            return -1;
        }
        for (uint32_t i = 0; i < f->node->n; i++)
            if (!strcmp(f->node->keys[i]->text, n->text)) {
                y_diag_add(l->d, n->line, n->column, "duplicate key '%s' (first at line %u)",
                           n->text, f->node->keys[i]->line);
                return -1;
            }
        f->pending_key = n;
        return 0;
    }
    int rc = add_child(f->node, f->pending_key, n);
    f->pending_key = NULL;
    return rc;
}

static int register_anchor(loader *l, ynode_s *n, const yaml_char_t *anchor)
{
    if (!anchor) return 0;
    n->anchor = strdup((const char *)anchor);
    if (!n->anchor) return -1;
    if (l->n_anchors == l->cap_anchors) {
        uint32_t cap = l->cap_anchors ? l->cap_anchors * 2 : 8;
        ynode_s **a = realloc(l->anchors, cap * sizeof *a);
        if (!a) return -1;
        l->anchors = a;
        l->cap_anchors = cap;
    }
    l->anchors[l->n_anchors++] = n;
    return 0;
}

static ynode_s *find_anchor(loader *l, const char *name)
{
    for (uint32_t i = l->n_anchors; i-- > 0;)
        if (!strcmp(l->anchors[i]->anchor, name)) return l->anchors[i];
    return NULL;
}

static int substitute_env(weir__diag *d, ynode_s *n)
{
    if (n->kind != Y_SCALAR || !strchr(n->text, '$')) return 0;
    size_t cap = strlen(n->text) + 64, len = 0;
    char *out = malloc(cap);
    if (!out) return -1;
    const char *p = n->text;
    char name[256]; /* the variable's name, and its default after ":-" */
    while (*p) {
        const char *val = NULL;
        size_t vlen = 0;
        char one = 0;
        if (p[0] == '$' && p[1] == '$') {
            one = '$';
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            if (!end) {
                y_diag_add(d, n->line, n->column, "unterminated ${...} in '%s'", n->text);
                free(out);
                return -1;
            }
            size_t nl = (size_t)(end - p - 2);
            if (nl >= sizeof name) nl = sizeof name - 1;
            memcpy(name, p + 2, nl);
            name[nl] = 0;
            char *def = strstr(name, ":-");
            if (def) {
                *def = 0;
                def += 2;
            }
            val = getenv(name);
            if (!val || (def && !*val)) val = def;
            if (!val) {
                y_diag_add(d, n->line, n->column, "environment variable '%s' is not set", name);
                free(out);
                return -1;
            }
            vlen = strlen(val);
            p = end + 1;
        } else {
            one = *p++;
        }
        size_t need = len + (val ? vlen : 1) + 1;
        if (need > cap) {
            cap = need * 2;
            char *o = realloc(out, cap);
            if (!o) {
                free(out);
                return -1;
            }
            out = o;
        }
        if (val) {
            memcpy(out + len, val, vlen);
            len += vlen;
        } else {
            out[len++] = one;
        }
    }
    out[len] = 0;
    free(n->text);
    n->text = out;
    return 0;
}

int y_load_string(const char *name, const char *text, size_t len, weir__yaml_doc **out,
                  weir__diag *d)
{
    (void)name;
    *out = NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return -1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    loader l = {.d = d};
    l.doc = calloc(1, sizeof *l.doc);
    int rc = l.doc ? 0 : -1;
    bool done = false;
    while (!rc && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            const char *problem = parser.problem ? parser.problem : "syntax error";
            yaml_mark_t m = parser.problem_mark;
            if (parser.context)
                y_diag_add(d, (uint32_t)m.line + 1, (uint32_t)m.column + 1, "%s %s", problem,
                           parser.context);
            else
                y_diag_add(d, (uint32_t)m.line + 1, (uint32_t)m.column + 1, "%s", problem);
            rc = -1;
            break;
        }
        ynode_s *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_DOCUMENT_START_EVENT:
            if (++l.documents > 1) {
                y_diag_add(d, (uint32_t)ev.start_mark.line + 1, (uint32_t)ev.start_mark.column + 1,
                           "a pipeline file holds one YAML document");
                rc = -1;
            }
            break;
        case YAML_SCALAR_EVENT:
            n = new_node(l.doc, Y_SCALAR, &ev.start_mark);
            if (!n ||
                !(n->text = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length))) {
                rc = -1;
                break;
            }
            n->quoted = ev.data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                        ev.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ||
                        ev.data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                        ev.data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
            if (register_anchor(&l, n, ev.data.scalar.anchor) || attach(&l, n)) rc = -1;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            n = new_node(l.doc, ev.type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP,
                         &ev.start_mark);
            if (!n || l.depth == 256) {
                if (n) y_diag_add(d, n->line, n->column, "nested too deeply");
                rc = -1;
                break;
            }
            if (attach(&l, n)) {
                rc = -1;
                break;
            }
            {
                const yaml_char_t *anchor = ev.type == YAML_SEQUENCE_START_EVENT
                                                ? ev.data.sequence_start.anchor
                                                : ev.data.mapping_start.anchor;
                n->anchor =
                    anchor ? strdup((const char *)anchor) : NULL; /* registered at its end */
            }
            l.stack[l.depth++] = (frame){n, NULL};
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            ynode_s *done_node = l.stack[--l.depth].node;
            if (done_node->anchor) {
                char *a = done_node->anchor;
                done_node->anchor = NULL;
                if (register_anchor(&l, done_node, (const yaml_char_t *)a)) rc = -1;
                free(a);
            }
            break;
        }
        case YAML_ALIAS_EVENT: {
            ynode_s *target = find_anchor(&l, (const char *)ev.data.alias.anchor);
            if (!target) {
                y_diag_add(d, (uint32_t)ev.start_mark.line + 1, (uint32_t)ev.start_mark.column + 1,
                           "unknown or unfinished anchor '%s'", ev.data.alias.anchor);
                rc = -1;
            } else if (attach(&l, target)) {
                rc = -1;
            }
            break;
        }
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    free(l.anchors);
    if (!rc && (!l.doc->root || (l.doc->root->kind == Y_SCALAR && !l.doc->root->text[0]))) {
        y_diag_add(d, 1, 1, "the file is empty (expected a map with 'pipeline')");
        rc = -1;
    }
    for (ynode_s *n = l.doc ? l.doc->all : NULL; !rc && n; n = n->next_alloc)
        if (substitute_env(d, n)) rc = -1;
    if (rc) {
        y_doc_destroy(l.doc);
        return -1;
    }
    *out = l.doc;
    return 0;
}

int y_load(const char *path, weir__yaml_doc **out, weir__diag *d)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        y_diag_add(d, 1, 1, "cannot open the file: %s", strerror(errno));
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        y_diag_add(d, 1, 1, "cannot read the file%s", buf ? "" : " (too large or out of memory)");
        return -1;
    }
    int rc = y_load_string(path, buf, len, out, d);
    free(buf);
    return rc;
}

ynode y_root(const weir__yaml_doc *doc)
{
    return doc ? doc->root : NULL;
}

/* ---- --set ---- */

int y_set(weir__yaml_doc *doc, const char *assignment, weir__diag *d)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        y_diag_add(d, 1, 1, "--set %s: expected PATH=VALUE", assignment);
        return -1;
    }
    char path[512];
    size_t pl = (size_t)(eq - assignment);
    if (pl >= sizeof path) pl = sizeof path - 1;
    memcpy(path, assignment, pl);
    path[pl] = 0;
    /* normalize a[0].b into a.0.b */
    char norm[1024];
    size_t k = 0;
    for (size_t i = 0; path[i] && k < sizeof norm - 2; i++) {
        if (path[i] == '[')
            norm[k++] = '.';
        else if (path[i] != ']')
            norm[k++] = path[i];
    }
    norm[k] = 0;
    ynode_s *cur = doc->root;
    char *save = NULL, *seg = strtok_r(norm, ".", &save);
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        if (cur->kind == Y_SEQ) {
            char *end;
            long i = strtol(seg, &end, 10);
            if (*end || i < 0 || (uint32_t)i >= cur->n) {
                y_diag_add(d, cur->line, cur->column, "--set %s: no item %s in this list", path,
                           seg);
                return -1;
            }
            if (!next) {
                ynode_s *v = new_node(doc, Y_SCALAR, NULL);
                if (!v || !(v->text = strdup(eq + 1))) return -1;
                v->line = cur->vals[i]->line;
                v->column = cur->vals[i]->column;
                cur->vals[i] = v;
                return 0;
            }
            cur = cur->vals[i];
        } else if (cur->kind == Y_MAP) {
            ynode_s *child = NULL;
            uint32_t at = 0;
            for (uint32_t i = 0; i < cur->n; i++)
                if (!strcmp(cur->keys[i]->text, seg)) child = cur->vals[at = i];
            if (!next) {
                ynode_s *v = new_node(doc, Y_SCALAR, NULL);
                if (!v || !(v->text = strdup(eq + 1))) return -1;
                if (child) {
                    v->line = child->line;
                    v->column = child->column;
                    cur->vals[at] = v;
                    return 0;
                }
                ynode_s *key = new_node(doc, Y_SCALAR, NULL);
                if (!key || !(key->text = strdup(seg))) return -1;
                return add_child(cur, key, v);
            }
            if (!child) {
                ynode_s *key = new_node(doc, Y_SCALAR, NULL);
                child = new_node(doc, Y_MAP, NULL);
                if (!key || !child || !(key->text = strdup(seg)) || add_child(cur, key, child))
                    return -1;
            }
            cur = child;
        } else {
            y_diag_add(d, cur->line, cur->column, "--set %s: '%s' is not inside a map or a list",
                       path, seg);
            return -1;
        }
        seg = next;
    }
    return 0;
}

/* ---- access ---- */

bool y_is_map(ynode n)
{
    return n && n->kind == Y_MAP;
}
bool y_is_seq(ynode n)
{
    return n && n->kind == Y_SEQ;
}
bool y_is_scalar(ynode n)
{
    return n && n->kind == Y_SCALAR;
}
bool y_is_null(ynode n)
{
    if (!n) return true;
    if (n->kind != Y_SCALAR || n->quoted) return false;
    return !n->text[0] || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
           !strcmp(n->text, "Null") || !strcmp(n->text, "NULL");
}
const char *y_text(ynode n)
{
    return n && n->kind == Y_SCALAR ? n->text : "";
}
bool y_quoted(ynode n)
{
    return n && n->quoted;
}
uint32_t y_line(ynode n)
{
    return n ? n->line : 1;
}
uint32_t y_column(ynode n)
{
    return n ? n->column : 1;
}
uint32_t y_len(ynode n)
{
    return n && n->kind != Y_SCALAR ? n->n : 0;
}
ynode y_key(ynode map, uint32_t i)
{
    return map->keys[i];
}
ynode y_val(ynode map, uint32_t i)
{
    return map->vals[i];
}
ynode y_item(ynode seq, uint32_t i)
{
    return seq->vals[i];
}

ynode y_get(ynode map, const char *key)
{
    if (!y_is_map(map)) return NULL;
    for (uint32_t i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i]->text, key)) return map->vals[i];
    return NULL;
}

void y_error(weir__diag *d, ynode n, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    y_diag_add(d, y_line(n), y_column(n), "%s", buf);
}

void y_error_at(weir__diag *d, ynode n, size_t column, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* a one-line scalar: point at the character; a quoted one starts after its quote */
    uint32_t col = y_column(n);
    if (n && !strchr(n->text, '\n') && column > 0)
        col += (uint32_t)(column - 1) + (n->quoted ? 1 : 0);
    y_diag_add(d, y_line(n), col, "%s", buf);
}

int y_check_keys(weir__diag *d, ynode map, const char *const *allowed)
{
    int bad = 0;
    for (uint32_t i = 0; y_is_map(map) && i < map->n; i++) {
        const char *k = map->keys[i]->text;
        bool ok = false;
        for (size_t j = 0; allowed[j] && !ok; j++) ok = !strcmp(allowed[j], k);
        if (ok) continue;
        bad++;
        const char *hint = y_did_you_mean(k, allowed);
        if (hint) {
            y_error(d, map->keys[i], "unknown key '%s' (did you mean '%s'?)", k, hint);
        } else {
            char list[512] = "";
            size_t len = 0;
            for (size_t j = 0; allowed[j] && len < sizeof list - 64; j++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "",
                                        allowed[j]);
            if (allowed[0])
                y_error(d, map->keys[i], "unknown key '%s' (expected one of: %s)", k, list);
            else
                y_error(d, map->keys[i], "unknown key '%s' (this takes no keys)", k);
        }
    }
    return bad;
}
