/* tests/test_ref_model.c: the reference model itself against every worked example of
 * windowing.md §8 (rows copied from the spec), so that the differential test compares the engine
 * with something that is checked against the contract. */
#include "ref_window.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void check(const weir_windowing *w, int64_t bound, const int64_t (*tv)[2], int n,
                  const char *const *expect)
{
    ref_event ev[32];
    for (int i = 0; i < n; i++)
        ev[i] = (ref_event){
            .kind = REF_RECORD, .key = "a", .t = tv[i][0], .has_v = true, .v = tv[i][1]};
    ev[n] = (ref_event){.kind = REF_END};
    ref_config cfg = {.windowing = *w, .bound = bound};
    ref_result r;
    cr_assert_eq(ref_window_run(&cfg, ev, (uint32_t)n + 1, &r), 0);
    static const char *timing[] = {"EARLY", "ON_TIME", "LATE"}, *ops[] = {"+I", "-U", "+U", "-D"};
    int k = 0;
    for (; expect[k]; k++) {
        cr_assert_lt((uint32_t)k, r.n_rows, "missing row %d: %s", k, expect[k]);
        char got[128];
        const ref_row *x = &r.rows[k];
        snprintf(got, sizeof got, "[%lld,%lld) %lld %lld %s %lld %s", (long long)x->start,
                 (long long)x->end, (long long)x->n, (long long)x->sum, timing[x->timing],
                 (long long)x->index, ops[x->op]);
        cr_assert_str_eq(got, expect[k], "row %d", k);
    }
    cr_assert_eq(r.n_rows, (uint32_t)k, "extra rows");
    ref_result_free(&r);
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(ref_model, spec_examples)
{
    weir_windowing w = {.window = weir_fixed(10)};
    check(&w, 5, (const int64_t[][2]){{1, 1}, {12, 2}, {8, 3}, {16, 4}, {9, 5}, {30, 6}}, 6,
          LIST("[0,10) 2 4 ON_TIME 0 +I", "[10,20) 2 6 ON_TIME 0 +I", "[30,40) 1 6 ON_TIME 0 +I"));
    w = (weir_windowing){
        .window = weir_fixed(10), .allowed_lateness = 20, .accumulation = WEIR_RETRACTING};
    check(&w, 0, (const int64_t[][2]){{1, 1}, {15, 2}, {3, 3}, {25, 4}, {4, 5}}, 5,
          LIST("[0,10) 1 1 ON_TIME 0 +I", "[0,10) 1 1 LATE 1 -U", "[0,10) 2 4 LATE 1 +U",
               "[10,20) 1 2 ON_TIME 0 +I", "[0,10) 2 4 LATE 2 -U", "[0,10) 3 9 LATE 2 +U",
               "[20,30) 1 4 ON_TIME 0 +I"));
    weir_trigger *t = weir_trigger_after_watermark(weir_trigger_count(2), NULL);
    w = (weir_windowing){.window = weir_fixed(100), .trigger = t};
    check(&w, 0, (const int64_t[][2]){{1, 1}, {2, 2}, {3, 3}, {4, 4}, {150, 5}}, 5,
          LIST("[0,100) 2 3 EARLY 0 +I", "[0,100) 2 7 EARLY 1 +I", "[0,100) 0 0 ON_TIME 2 +I",
               "[100,200) 1 5 ON_TIME 0 +I"));
    weir_trigger_destroy(t);
    w = (weir_windowing){.window = weir_sessions(5)};
    check(&w, 30, (const int64_t[][2]){{0, 1}, {8, 2}, {4, 3}, {100, 4}}, 4,
          LIST("[0,13) 3 6 ON_TIME 0 +I", "[100,105) 1 4 ON_TIME 0 +I"));
    w = (weir_windowing){.window = weir_sliding(6, 3)};
    check(&w, 0, (const int64_t[][2]){{-7, 1}, {-1, 2}, {0, 3}, {2, 4}}, 4,
          LIST("[-12,-6) 1 1 ON_TIME 0 +I", "[-9,-3) 1 1 ON_TIME 0 +I", "[-6,0) 1 2 ON_TIME 0 +I",
               "[-3,3) 3 9 ON_TIME 0 +I", "[0,6) 2 7 ON_TIME 0 +I"));
}

Test(ref_model, random_cases_run)
{
    static ref_event ev[REF_MAX_EVENTS];
    for (uint64_t seed = 1; seed <= 2000; seed++) {
        ref_case c;
        ref_random_case(seed, &c, ev, REF_MAX_EVENTS);
        cr_assert_eq(ev[c.n_events - 1].kind, REF_END, "cases end with END");
        ref_result r;
        cr_assert_eq(ref_window_run(&c.config, ev, c.n_events, &r), 0, "seed %llu",
                     (unsigned long long)seed);
        ref_result_free(&r);
        ref_case_free(&c);
    }
}
