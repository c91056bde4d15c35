/* runner/yaml_doc.h: what the YAML front end needs: a document tree with positions
 * (runner/yaml_doc.c), compiler-style diagnostics with "did you mean" (runner/diagnostics.c) and
 * durations (runner/durations.c). Private to the runner. */
#ifndef WEIR_RUNNER_YAML_DOC_H
#define WEIR_RUNNER_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- diagnostics ---- */

typedef struct weir__diag weir__diag;
/* A collector of problems in file `path` (copied). NULL on no memory. */
weir__diag *y_diag_create(const char *path);
void y_diag_destroy(weir__diag *d);
/* Adds "PATH:LINE:COLUMN: error: message". */
void y_diag_add(weir__diag *d, uint32_t line, uint32_t column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
uint32_t y_errors(const weir__diag *d);
/* Prints every problem, in source order. */
void y_print(const weir__diag *d, FILE *out);
/* The candidate closest to word when close enough to be a likely misspelling, else NULL.
 * candidates: NULL-terminated. */
const char *y_did_you_mean(const char *word, const char *const *candidates);

/* ---- the tree ---- */

typedef struct ynode_s ynode_s;
typedef const ynode_s *ynode;
typedef struct weir__yaml_doc weir__yaml_doc;

/* Loads a file of one YAML document; ${VAR} and ${VAR:-default} in scalars are replaced from the
 * environment ($$ is a dollar). Problems go to d. 0, or -1 (then *out is NULL). */
int y_load(const char *path, weir__yaml_doc **out, weir__diag *d);
/* The same from memory (name is used in messages). */
int y_load_string(const char *name, const char *text, size_t len, weir__yaml_doc **out,
                  weir__diag *d);
void y_doc_destroy(weir__yaml_doc *doc);
ynode y_root(const weir__yaml_doc *doc);
/* --set: "a.b[0].c=value" (or a.b.0.c); creates missing map keys; the value is a plain scalar.
 * 0, or -1 with a diagnostic. */
int y_set(weir__yaml_doc *doc, const char *assignment, weir__diag *d);

bool y_is_map(ynode n);
bool y_is_seq(ynode n);
bool y_is_scalar(ynode n);
/* A plain scalar null, ~, or empty (and no node at all). */
bool y_is_null(ynode n);
const char *y_text(ynode n); /* scalar text ("" for others) */
bool y_quoted(ynode n);      /* a quoted scalar: always a string */
uint32_t y_line(ynode n);    /* 1-based */
uint32_t y_column(ynode n);  /* 1-based */
uint32_t y_len(ynode n);     /* entries of a map, items of a sequence */
ynode y_key(ynode map, uint32_t i);
ynode y_val(ynode map, uint32_t i);
ynode y_item(ynode seq, uint32_t i);
ynode y_get(ynode map, const char *key); /* NULL when absent or not a map */

/* Diagnostics at a node; y_error_at points at a 1-based column inside a scalar's text. */
void y_error(weir__diag *d, ynode n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void y_error_at(weir__diag *d, ynode n, size_t column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Every key of map not in allowed (NULL-terminated) is an error with a hint; returns how many. */
int y_check_keys(weir__diag *d, ynode map, const char *const *allowed);

/* ---- durations ---- */

/* An integer is milliseconds; otherwise a number followed by ms, s, m, h or d ("1500ms", "10s",
 * "1.5s" when it lands on whole milliseconds). Negative values are refused. 0, or -1 with a
 * message in errbuf. */
int weir__duration_parse(const char *text, int64_t *ms, char *errbuf, size_t errlen);

#endif
