/* weir/window.h: windowing descriptors: window functions, triggers, accumulation modes.
 *
 * These are plain descriptions (what ../spec/windowing.md defines), shared by the C DSL, the
 * YAML runner, the window operator and the tests' reference model. Trigger trees are heap
 * objects: the weir_trigger_* constructors allocate, weir_trigger_destroy frees a whole tree,
 * and a constructor that is given sub-triggers takes them over (also on failure), so that
 * nested constructor calls never leak. A constructor returns NULL on no memory or invalid
 * arguments; a tree containing NULL is rejected where it is used (weir_trigger_validate). */
#ifndef WEIR_WINDOW_H
#define WEIR_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEIR_MILLISECONDS(n) ((int64_t)(n))
#define WEIR_SECONDS(n)      ((int64_t)(n)*1000)
#define WEIR_MINUTES(n)      ((int64_t)(n)*60000)
#define WEIR_HOURS(n)        ((int64_t)(n)*3600000)

typedef enum weir_window_type {
    WEIR_WINDOW_GLOBAL = 0,
    WEIR_WINDOW_FIXED,
    WEIR_WINDOW_SLIDING,
    WEIR_WINDOW_SESSIONS,
} weir_window_type;

typedef struct weir_window_fn {
    weir_window_type type;
    int64_t size;   /* fixed, sliding */
    int64_t period; /* sliding */
    int64_t offset; /* fixed, sliding */
    int64_t gap;    /* sessions */
} weir_window_fn;

typedef enum weir_trigger_type {
    WEIR_TRIGGER_DEFAULT = 0, /* Repeatedly(AfterWatermark) */
    WEIR_TRIGGER_AFTER_WATERMARK,
    WEIR_TRIGGER_COUNT,
    WEIR_TRIGGER_PROCESSING_TIME,
    WEIR_TRIGGER_REPEAT,
    WEIR_TRIGGER_AFTER_FIRST,
    WEIR_TRIGGER_AFTER_ALL,
    WEIR_TRIGGER_AFTER_EACH,
} weir_trigger_type;

typedef struct weir_trigger weir_trigger;
struct weir_trigger {
    weir_trigger_type type;
    int64_t count;       /* COUNT: records in the pane */
    int64_t delay;       /* PROCESSING_TIME: ms after the pane's first record */
    weir_trigger *early; /* AFTER_WATERMARK: optional, repeated */
    weir_trigger *late;  /* AFTER_WATERMARK: optional, repeated */
    weir_trigger *of;    /* REPEAT */
    weir_trigger **list; /* AFTER_FIRST / AFTER_ALL / AFTER_EACH */
    uint32_t n_list;
};

typedef enum weir_accumulation {
    WEIR_DISCARDING = 0,
    WEIR_ACCUMULATING,
    WEIR_RETRACTING,
} weir_accumulation;

typedef struct weir_windowing {
    weir_window_fn window;    /* default: global */
    int64_t allowed_lateness; /* ms, default 0 */
    weir_trigger *trigger;    /* NULL means default; owned by whoever owns the struct */
    weir_accumulation accumulation;
} weir_windowing;

/* Window function constructors (values, nothing allocated). */
weir_window_fn weir_fixed(int64_t size);
weir_window_fn weir_fixed_offset(int64_t size, int64_t offset);
weir_window_fn weir_sliding(int64_t size, int64_t period);
weir_window_fn weir_sliding_offset(int64_t size, int64_t period, int64_t offset);
weir_window_fn weir_sessions(int64_t gap);
weir_window_fn weir_global(void);

/* Checks a window function; 0, or WEIR_EINVAL with a reason in errbuf. */
int weir_window_fn_validate(const weir_window_fn *w, char *errbuf, size_t errlen);

/* Mathematical floor division (C's `/` truncates toward zero, wrong for negative times). */
static inline int64_t weir_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
/* Start of the fixed window holding t: floor((t - offset) / size) * size + offset. */
static inline int64_t weir_fixed_start(int64_t t, int64_t size, int64_t offset)
{
    return weir_floor_div(t - offset, size) * size + offset;
}

/* Trigger constructors: see the file comment for ownership. */
weir_trigger *weir_trigger_default(void);
weir_trigger *weir_trigger_after_watermark(weir_trigger *early, weir_trigger *late);
weir_trigger *weir_trigger_count(int64_t count);
weir_trigger *weir_trigger_processing_time(int64_t delay_ms);
weir_trigger *weir_trigger_repeat(weir_trigger *of);
/* list[0..n) are taken over. */
weir_trigger *weir_trigger_after_first(weir_trigger **list, uint32_t n);
weir_trigger *weir_trigger_after_all(weir_trigger **list, uint32_t n);
weir_trigger *weir_trigger_after_each(weir_trigger **list, uint32_t n);
/* A deep copy, or NULL on no memory (NULL for NULL). */
weir_trigger *weir_trigger_copy(const weir_trigger *t);
void weir_trigger_destroy(weir_trigger *t);
/* Checks a trigger tree (NULL is the default trigger); 0, or WEIR_EINVAL with a reason. */
int weir_trigger_validate(const weir_trigger *t, char *errbuf, size_t errlen);
/* Whether the tree has a watermark part (default, after_watermark) at its top level. */
bool weir_trigger_has_watermark(const weir_trigger *t);

/* Pane timing and change-log kinds of windowed output (windowing.md §4, §6). */
typedef enum weir_pane_timing {
    WEIR_PANE_EARLY = 0,
    WEIR_PANE_ON_TIME,
    WEIR_PANE_LATE
} weir_pane_timing;
typedef enum weir_op {
    WEIR_OP_INSERT = 0,
    WEIR_OP_UPDATE_BEFORE,
    WEIR_OP_UPDATE_AFTER,
    WEIR_OP_DELETE
} weir_op;
const char *weir_pane_timing_name(weir_pane_timing t); /* "EARLY", "ON_TIME", "LATE" */
const char *weir_op_name(weir_op op);                  /* "+I", "-U", "+U", "-D" */

#endif
