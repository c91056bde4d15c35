/* runner/expr_ops.h: the YAML transforms that evaluate expressions: Filter (keep) and
 * MapToFields (fields, append). Private to the runner. */
#ifndef WEIR_RUNNER_EXPR_OPS_H
#define WEIR_RUNNER_EXPR_OPS_H

#include "expr.h"
#include "weir/pipeline.h"

/* keep is taken over (also on failure). */
weir_stream *weir__expr_filter(weir_stream *in, const char *name, weir_expr *keep,
                               bool error_output);
/* exprs[0..n) are taken over (also on failure); names are copied. */
weir_stream *weir__expr_map(weir_stream *in, const char *name, uint32_t n, const char *const *names,
                            weir_expr **exprs, bool append, bool error_output);

#endif
