/* operators/window.c: window functions and trigger trees (the descriptors of weir/window.h):
 * constructors, validation, copies. The windowing operator itself is operators/combine.c. */
#include "weir/window.h"
#include "weir/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

weir_window_fn weir_fixed(int64_t size)
{
    return (weir_window_fn){WEIR_WINDOW_FIXED, size, 0, 0, 0};
}
weir_window_fn weir_fixed_offset(int64_t size, int64_t offset)
{
    return (weir_window_fn){WEIR_WINDOW_FIXED, size, 0, offset, 0};
}
weir_window_fn weir_sliding(int64_t size, int64_t period)
{
    return (weir_window_fn){WEIR_WINDOW_SLIDING, size, period, 0, 0};
}
weir_window_fn weir_sliding_offset(int64_t size, int64_t period, int64_t offset)
{
    return (weir_window_fn){WEIR_WINDOW_SLIDING, size, period, offset, 0};
}
weir_window_fn weir_sessions(int64_t gap)
{
    return (weir_window_fn){WEIR_WINDOW_SESSIONS, 0, 0, 0, gap};
}
weir_window_fn weir_global(void)
{
    return (weir_window_fn){WEIR_WINDOW_GLOBAL, 0, 0, 0, 0};
}

int weir_window_fn_validate(const weir_window_fn *w, char *errbuf, size_t errlen)
{
    switch (w->type) {
    case WEIR_WINDOW_GLOBAL: return 0;
    case WEIR_WINDOW_FIXED:
        if (w->size <= 0) goto bad_size;
        return 0;
    case WEIR_WINDOW_SLIDING:
        if (w->size <= 0) goto bad_size;
        if (w->period <= 0) {
            snprintf(errbuf, errlen, "sliding window period must be positive");
            return WEIR_EINVAL;
        }
        if (w->period > w->size) {
            snprintf(errbuf, errlen, "sliding window period must not exceed its size");
            return WEIR_EINVAL;
        }
        return 0;
    case WEIR_WINDOW_SESSIONS:
        if (w->gap <= 0) {
            snprintf(errbuf, errlen, "session gap must be positive");
            return WEIR_EINVAL;
        }
        return 0;
    }
    snprintf(errbuf, errlen, "unknown window type");
    return WEIR_EINVAL;
bad_size:
    snprintf(errbuf, errlen, "window size must be positive");
    return WEIR_EINVAL;
}

static weir_trigger *new_trigger(weir_trigger_type type)
{
    weir_trigger *t = calloc(1, sizeof *t);
    if (t) t->type = type;
    return t;
}

weir_trigger *weir_trigger_default(void)
{
    return new_trigger(WEIR_TRIGGER_DEFAULT);
}

weir_trigger *weir_trigger_after_watermark(weir_trigger *early, weir_trigger *late)
{
    weir_trigger *t = new_trigger(WEIR_TRIGGER_AFTER_WATERMARK);
    if (!t) {
        weir_trigger_destroy(early);
        weir_trigger_destroy(late);
        return NULL;
    }
    t->early = early;
    t->late = late;
    return t;
}

weir_trigger *weir_trigger_count(int64_t count)
{
    if (count <= 0) return NULL;
    weir_trigger *t = new_trigger(WEIR_TRIGGER_COUNT);
    if (t) t->count = count;
    return t;
}

weir_trigger *weir_trigger_processing_time(int64_t delay_ms)
{
    if (delay_ms < 0) return NULL;
    weir_trigger *t = new_trigger(WEIR_TRIGGER_PROCESSING_TIME);
    if (t) t->delay = delay_ms;
    return t;
}

weir_trigger *weir_trigger_repeat(weir_trigger *of)
{
    if (!of) return NULL;
    weir_trigger *t = new_trigger(WEIR_TRIGGER_REPEAT);
    if (!t) {
        weir_trigger_destroy(of);
        return NULL;
    }
    t->of = of;
    return t;
}

static weir_trigger *list_trigger(weir_trigger_type type, weir_trigger **list, uint32_t n)
{
    weir_trigger *t = n ? new_trigger(type) : NULL;
    weir_trigger **copy = t ? calloc(n, sizeof *copy) : NULL;
    bool ok = copy != NULL;
    for (uint32_t i = 0; i < n; i++) ok = ok && list[i];
    if (!ok) {
        for (uint32_t i = 0; i < n; i++) weir_trigger_destroy(list[i]);
        free(copy);
        free(t);
        return NULL;
    }
    memcpy(copy, list, n * sizeof *copy);
    t->list = copy;
    t->n_list = n;
    return t;
}

weir_trigger *weir_trigger_after_first(weir_trigger **list, uint32_t n)
{
    return list_trigger(WEIR_TRIGGER_AFTER_FIRST, list, n);
}
weir_trigger *weir_trigger_after_all(weir_trigger **list, uint32_t n)
{
    return list_trigger(WEIR_TRIGGER_AFTER_ALL, list, n);
}
weir_trigger *weir_trigger_after_each(weir_trigger **list, uint32_t n)
{
    return list_trigger(WEIR_TRIGGER_AFTER_EACH, list, n);
}

void weir_trigger_destroy(weir_trigger *t)
{
    if (!t) return;
    weir_trigger_destroy(t->early);
    weir_trigger_destroy(t->late);
    weir_trigger_destroy(t->of);
    for (uint32_t i = 0; i < t->n_list; i++) weir_trigger_destroy(t->list[i]);
    free(t->list);
    free(t);
}

weir_trigger *weir_trigger_copy(const weir_trigger *t)
{
    if (!t) return NULL;
    weir_trigger *c = new_trigger(t->type);
    if (!c) return NULL;
    c->count = t->count;
    c->delay = t->delay;
    bool ok = true;
    if (t->early) ok = ok && (c->early = weir_trigger_copy(t->early));
    if (t->late) ok = ok && (c->late = weir_trigger_copy(t->late));
    if (t->of) ok = ok && (c->of = weir_trigger_copy(t->of));
    if (ok && t->n_list) {
        c->list = calloc(t->n_list, sizeof *c->list);
        ok = c->list != NULL;
        for (uint32_t i = 0; ok && i < t->n_list; i++, c->n_list++)
            ok = (c->list[i] = weir_trigger_copy(t->list[i])) != NULL;
    }
    if (!ok) {
        weir_trigger_destroy(c);
        return NULL;
    }
    return c;
}

static int validate(const weir_trigger *t, int depth, char *errbuf, size_t errlen)
{
    if (!t) {
        snprintf(errbuf, errlen, "trigger is missing (out of memory or an invalid argument)");
        return WEIR_EINVAL;
    }
    if (depth > 32) {
        snprintf(errbuf, errlen, "trigger nested too deeply");
        return WEIR_EINVAL;
    }
    switch (t->type) {
    case WEIR_TRIGGER_DEFAULT: return 0;
    case WEIR_TRIGGER_AFTER_WATERMARK:
        if (t->early && validate(t->early, depth + 1, errbuf, errlen)) return WEIR_EINVAL;
        if (t->late && validate(t->late, depth + 1, errbuf, errlen)) return WEIR_EINVAL;
        if ((t->early && weir_trigger_has_watermark(t->early)) ||
            (t->late && weir_trigger_has_watermark(t->late))) {
            snprintf(errbuf, errlen, "early and late triggers cannot contain a watermark trigger");
            return WEIR_EINVAL;
        }
        return 0;
    case WEIR_TRIGGER_COUNT:
        if (t->count <= 0) {
            snprintf(errbuf, errlen, "count trigger needs a positive count");
            return WEIR_EINVAL;
        }
        return 0;
    case WEIR_TRIGGER_PROCESSING_TIME:
        if (t->delay < 0) {
            snprintf(errbuf, errlen, "processing_time trigger needs a delay >= 0");
            return WEIR_EINVAL;
        }
        return 0;
    case WEIR_TRIGGER_REPEAT: return validate(t->of, depth + 1, errbuf, errlen);
    case WEIR_TRIGGER_AFTER_FIRST:
    case WEIR_TRIGGER_AFTER_ALL:
    case WEIR_TRIGGER_AFTER_EACH:
        if (!t->n_list) {
            snprintf(errbuf, errlen, "trigger list is empty");
            return WEIR_EINVAL;
        }
        for (uint32_t i = 0; i < t->n_list; i++)
            if (validate(t->list[i], depth + 1, errbuf, errlen)) return WEIR_EINVAL;
        for (uint32_t i = 0; i < t->n_list; i++)
            if (weir_trigger_has_watermark(t->list[i])) {
                snprintf(errbuf, errlen,
                         "a watermark trigger is only allowed at the top level of a trigger");
                return WEIR_EINVAL;
            }
        return 0;
    }
    snprintf(errbuf, errlen, "unknown trigger type");
    return WEIR_EINVAL;
}

int weir_trigger_validate(const weir_trigger *t, char *errbuf, size_t errlen)
{
    if (!t) return 0;
    return validate(t, 0, errbuf, errlen);
}

bool weir_trigger_has_watermark(const weir_trigger *t)
{
    if (!t) return true;
    if (t->type == WEIR_TRIGGER_DEFAULT || t->type == WEIR_TRIGGER_AFTER_WATERMARK) return true;
    if (t->type == WEIR_TRIGGER_REPEAT) return weir_trigger_has_watermark(t->of);
    return false;
}

const char *weir_pane_timing_name(weir_pane_timing t)
{
    return t == WEIR_PANE_EARLY ? "EARLY" : t == WEIR_PANE_ON_TIME ? "ON_TIME" : "LATE";
}

const char *weir_op_name(weir_op op)
{
    static const char *names[] = {"+I", "-U", "+U", "-D"};
    return (unsigned)op < 4 ? names[op] : "?";
}
