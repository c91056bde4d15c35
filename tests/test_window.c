/* tests/test_window.c: window assignment (windowing.md §1), including negative timestamps and
 * offsets, and the trigger descriptors' validation. */
#include <criterion/criterion.h>
#include <weir/weir.h>

Test(window, floor_division)
{
    cr_assert_eq(weir_floor_div(-7, 6), -2, "floor(-7/6) = -2 (spec §1)");
    cr_assert_eq(weir_floor_div(7, 6), 1);
    cr_assert_eq(weir_floor_div(-6, 6), -1);
    cr_assert_eq(weir_floor_div(-1, 10), -1);
    cr_assert_eq(weir_floor_div(0, 10), 0);
}

Test(window, fixed_start)
{
    cr_assert_eq(weir_fixed_start(15, 10, 0), 10);
    cr_assert_eq(weir_fixed_start(10, 10, 0), 10);
    cr_assert_eq(weir_fixed_start(9, 10, 0), 0);
    cr_assert_eq(weir_fixed_start(-1, 10, 0), -10, "negative times go to the window below");
    cr_assert_eq(weir_fixed_start(-10, 10, 0), -10);
    cr_assert_eq(weir_fixed_start(-11, 10, 0), -20);
    cr_assert_eq(weir_fixed_start(2, 10, 3), -7, "offset 3: windows [-7,3), [3,13)");
    cr_assert_eq(weir_fixed_start(3, 10, 3), 3);
    cr_assert_eq(weir_fixed_start(12, 10, 3), 3);
    cr_assert_eq(weir_fixed_start(13, 10, 3), 13);
}

Test(window, validate)
{
    char err[128];
    weir_window_fn ok = weir_sliding(6, 3), bad = weir_sliding(3, 6), zero = weir_fixed(0);
    cr_assert_eq(weir_window_fn_validate(&ok, err, sizeof err), 0);
    cr_assert_neq(weir_window_fn_validate(&bad, err, sizeof err), 0);
    cr_assert_neq(weir_window_fn_validate(&zero, err, sizeof err), 0);
    weir_window_fn s = weir_sessions(0);
    cr_assert_neq(weir_window_fn_validate(&s, err, sizeof err), 0);
}

Test(trigger, constructors_and_validation)
{
    char err[128];
    weir_trigger *list[] = {weir_trigger_count(10), weir_trigger_processing_time(1000)};
    weir_trigger *t =
        weir_trigger_after_watermark(weir_trigger_after_first(list, 2), weir_trigger_count(1));
    cr_assert_not_null(t);
    cr_assert_eq(weir_trigger_validate(t, err, sizeof err), 0, "%s", err);
    cr_assert(weir_trigger_has_watermark(t));
    weir_trigger *c = weir_trigger_copy(t);
    cr_assert_not_null(c);
    cr_assert_eq(c->early->n_list, 2);
    cr_assert_eq(c->early->list[1]->delay, 1000);
    weir_trigger_destroy(t);
    weir_trigger_destroy(c);
    cr_assert_null(weir_trigger_count(0), "count must be positive");
    weir_trigger *nested[] = {weir_trigger_default()};
    weir_trigger *bad = weir_trigger_after_first(nested, 1);
    cr_assert_neq(weir_trigger_validate(bad, err, sizeof err), 0,
                  "a watermark trigger below the top level is refused");
    weir_trigger_destroy(bad);
}
