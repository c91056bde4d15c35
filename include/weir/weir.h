/* weir/weir.h: everything public, for programs that build pipelines in C. */
#ifndef WEIR_WEIR_H
#define WEIR_WEIR_H

#include "weir/arena.h"
#include "weir/batch.h"
#include "weir/buf.h"
#include "weir/error.h"
#include "weir/join.h"
#include "weir/kafka.h"
#include "weir/nexmark.h"
#include "weir/operator.h"
#include "weir/pipeline.h"
#include "weir/value.h"
#include "weir/window.h"

#define WEIR_VERSION "0.1.0"
/* The library's version string. */
const char *weir_version(void);

#endif
