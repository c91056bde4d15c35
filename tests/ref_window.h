/* tests/ref_window.h: a small, obviously-correct reference model of ../shared/spec/windowing.md,
 * written for clarity, not speed. The randomized differential test runs the same event streams
 * through it and through the engine's window operator and compares the output row by row.
 *
 * Input: a sequence of events. A record event has a key (a short string), an event time t, an
 * optional integer value v, and happens at the current processing time. An ADVANCE event moves
 * processing time forward (processing-time triggers fire). END is the end of a bounded input
 * (watermark +infinity). The watermark follows bounded out-of-orderness B over the records
 * (spec §2): -infinity before the first record, max(t seen) - B after each record; a record is
 * handled against the watermark as it stood before its own update.
 *
 * Aggregates of every pane: n = count(records), sum = sum(v), min(v), max(v) over records whose
 * v is present (min/max null, sum 0 when none). */
#ifndef WEIR_TEST_REF_WINDOW_H
#define WEIR_TEST_REF_WINDOW_H

#include "weir/window.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum ref_event_kind { REF_RECORD = 0, REF_ADVANCE, REF_END } ref_event_kind;

typedef struct ref_event {
    ref_event_kind kind;
    const char *key; /* REF_RECORD */
    int64_t t;       /* REF_RECORD: event time */
    bool has_v;      /* REF_RECORD: v present (else null) */
    int64_t v;
    int64_t proc_time; /* REF_ADVANCE: the new processing time (never decreases) */
} ref_event;

typedef struct ref_config {
    weir_windowing windowing; /* window fn, allowed lateness, trigger (NULL = default), mode */
    int64_t bound;            /* max_out_of_orderness B */
    int64_t start_proc_time;  /* processing time before the first event */
} ref_config;

typedef struct ref_row {
    char key[32];
    bool global; /* the global window: start/end are not meaningful */
    int64_t start, end;
    int64_t n, sum;
    bool has_min, has_max; /* false: null */
    int64_t min, max;
    weir_pane_timing timing;
    int64_t index;
    bool last;
    weir_op op;
} ref_row;

typedef struct ref_result {
    ref_row *rows; /* in emission order */
    uint32_t n_rows;
    uint32_t *late; /* indexes (into the events array) of records sent to late output, in order */
    uint32_t n_late;
    uint64_t dropped; /* records dropped from at least one of their windows */
} ref_result;

/* Runs the model. Returns 0, or -1 on no memory. Free the result with ref_result_free. */
int ref_window_run(const ref_config *cfg, const ref_event *events, uint32_t n, ref_result *out);
void ref_result_free(ref_result *r);

/* ---- random cases for the differential test ---- */

#define REF_MAX_EVENTS 96

typedef struct ref_case {
    ref_config config; /* the trigger tree is owned by the case */
    uint32_t n_events;
} ref_case;

/* A reproducible case from seed: a configuration (every window type, trigger shape, mode,
 * lateness) and up to max events written to events (keys point to static strings), ending
 * with END. */
void ref_random_case(uint64_t seed, ref_case *c, ref_event *events, uint32_t max);
void ref_case_free(ref_case *c);

#endif
