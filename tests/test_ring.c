/* tests/test_ring.c: the SPSC ring between workers: order, wrap-around, full ring, and two
 * threads moving a million pointers without loss or reordering. */
#include "../engine/ring.h"

#include <criterion/criterion.h>
#include <pthread.h>

Test(ring, order_full_and_wraparound)
{
    weir__ring r;
    cr_assert_eq(weir__ring_init(&r, 3), 0);
    cr_assert_eq(r.mask, 3, "capacity rounds up to 4");
    uintptr_t next_in = 1, next_out = 1;
    for (int round = 0; round < 10; round++) { /* wraps the indexes many times */
        while (weir__ring_push(&r, (void *)next_in)) next_in++;
        cr_assert_eq(weir__ring_count(&r), 4, "a full ring holds its capacity");
        cr_assert(!weir__ring_push(&r, (void *)99), "a full ring refuses");
        for (int i = 0; i < 3; i++) cr_assert_eq((uintptr_t)weir__ring_pop(&r), next_out++);
    }
    void *p;
    while ((p = weir__ring_pop(&r))) cr_assert_eq((uintptr_t)p, next_out++);
    cr_assert_eq(next_out, next_in);
    cr_assert_null(weir__ring_pop(&r), "an empty ring gives NULL");
    weir__ring_finish(&r);
}

#define N 1000000
static void *producer(void *arg)
{
    weir__ring *r = arg;
    for (uintptr_t i = 1; i <= N;)
        if (weir__ring_push(r, (void *)i)) i++;
    return NULL;
}

Test(ring, two_threads)
{
    weir__ring r;
    cr_assert_eq(weir__ring_init(&r, 64), 0);
    pthread_t t;
    pthread_create(&t, NULL, producer, &r);
    uintptr_t expect = 1;
    while (expect <= N) {
        void *p = weir__ring_pop(&r);
        if (!p) continue;
        cr_assert_eq((uintptr_t)p, expect, "out of order or lost");
        expect++;
    }
    pthread_join(t, NULL);
    cr_assert_null(weir__ring_pop(&r));
    weir__ring_finish(&r);
}
