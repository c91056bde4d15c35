/* operators/join.h: what tests see of the Join (operators/join.c) beyond weir/join.h.
 *
 * Tests only: a Join opened with WEIR_TEST_SNAPSHOT_BUDGET=N in the environment writes at most
 * N keys per snapshot_more call, so that its lazy snapshots span many batches, and counts here
 * (over all instances) what its lazy snapshots did. Nothing is counted without it. */
#ifndef WEIR_OPERATORS_JOIN_H
#define WEIR_OPERATORS_JOIN_H
#include <stdatomic.h>
#include <stdint.h>

typedef struct join_test_stats {
    _Atomic uint64_t calls;   /* snapshot_more calls */
    _Atomic uint64_t keys;    /* keys they wrote */
    _Atomic uint64_t retired; /* windows that fired before the walk wrote them */
} join_test_stats;
extern join_test_stats weir__join_test;

#endif
