/* tests/test_core.c: values, arenas, schemas and batches (engine/). */
#include <criterion/criterion.h>
#include <weir/weir.h>

#include <math.h>
#include <string.h>

Test(value, equality_and_order)
{
    weir_value a = weir_value_int(1), b = weir_value_double(1.0), c = weir_value_string("x", 1);
    cr_assert(!weir_value_equal(&a, &b), "1 and 1.0 are different keys");
    cr_assert_eq(weir_value_compare(&a, &b), 0, "but compare equal numerically");
    cr_assert_lt(weir_value_compare(&a, &c), 0, "numbers sort before strings");
    weir_value n1 = WEIR_NULL_VALUE, n2 = WEIR_NULL_VALUE;
    cr_assert(weir_value_equal(&n1, &n2));
    cr_assert_lt(weir_value_compare(&n1, &a), 0, "null sorts first");
    weir_value s1 = weir_value_string("abc", 3), s2 = weir_value_string("abd", 3),
               s3 = weir_value_string("ab", 2);
    cr_assert_lt(weir_value_compare(&s1, &s2), 0);
    cr_assert_gt(weir_value_compare(&s1, &s3), 0, "a prefix sorts first");
}

Test(value, hash_consistent_with_equality)
{
    char buf1[] = "hello", buf2[] = "hello";
    weir_value a = weir_value_string(buf1, 5), b = weir_value_string(buf2, 5);
    cr_assert_eq(weir_value_hash(&a, 7), weir_value_hash(&b, 7));
    weir_value z = weir_value_double(0.0), nz = weir_value_double(-0.0);
    cr_assert(weir_value_equal(&z, &nz));
    cr_assert_eq(weir_value_hash(&z, 1), weir_value_hash(&nz, 1));
    weir_value i1 = weir_value_int(1), i2 = weir_value_int(2);
    cr_assert_neq(weir_value_hash(&i1, 0), weir_value_hash(&i2, 0));
}

Test(arena, alloc_reset_large)
{
    weir_arena a;
    weir_arena_init(&a, 128);
    char *p = weir_arena_alloc(&a, 10);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 8, 0, "8-byte aligned");
    char *big = weir_arena_alloc(&a, 1000); /* larger than a chunk */
    cr_assert_not_null(big);
    memset(big, 1, 1000);
    char *q = weir_arena_alloc(&a, 16);
    cr_assert_not_null(q);
    cr_assert_eq(q, p + 16, "the head chunk is still used after an oversized allocation");
    char *s = weir_arena_strdup(&a, "abc", 3);
    cr_assert_str_eq(s, "abc");
    weir_arena_reset(&a);
    cr_assert_eq(a.used, 0);
    char *r = weir_arena_alloc(&a, 8);
    cr_assert_not_null(r);
    weir_arena_finish(&a);
}

Test(batch, append_and_rows)
{
    const char *names[] = {"a", "b"};
    weir_schema *s = weir_schema_create(2, names, NULL);
    cr_assert_eq(weir_schema_find(s, "b"), 1);
    cr_assert_eq(weir_schema_find(s, "c"), -1);
    weir_batch *b = weir_batch_create(s, 3);
    for (int i = 0; i < 3; i++) {
        weir_value *v = weir_batch_append(b, i * 10, i - 1);
        cr_assert_not_null(v);
        cr_assert_eq(v[0].type, WEIR_TYPE_NULL, "appended rows start null");
        v[0] = weir_value_int(i);
    }
    cr_assert(weir_batch_full(b));
    cr_assert_null(weir_batch_append(b, 0, 0), "a full batch refuses rows");
    cr_assert_eq(weir_batch_row(b, 2)[0].as.i, 2);
    cr_assert_eq(b->ts[1], 10);
    cr_assert_eq(b->wm[2], 1);
    weir_batch_clear(b);
    cr_assert_eq(b->n_rows, 0);
    cr_assert_eq(b->wm_after, WEIR_TIME_MIN);
    weir_batch_destroy(b);
    weir_schema_unref(s);
}

Test(error, names_and_text)
{
    cr_assert_str_eq(weir_err_name(WEIR_ENOMEM), "WEIR_ENOMEM");
    cr_assert_str_eq(weir_strerror(WEIR_ENOMEM), "out of memory");
    cr_assert_str_eq(weir_err_name(0), "WEIR_OK");
    cr_assert_str_eq(weir_strerror(12345), "unknown error");
    cr_assert_lt(WEIR_ENOMEM, 0);
}

Test(buf, printf_and_ints)
{
    weir_buf b;
    weir_buf_init(&b);
    weir_buf_put_int(&b, INT64_MIN);
    weir_buf_putc(&b, ' ');
    weir_buf_put_int(&b, 0);
    weir_buf_printf(&b, " %s-%d", "x", 42);
    cr_assert_str_eq(b.data, "-9223372036854775808 0 x-42");
    weir_buf_finish(&b);
}
