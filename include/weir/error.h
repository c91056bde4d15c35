/* weir/error.h: error codes shared by every module.
 *
 * A public call that can fail returns 0 or a negative WEIR_E* code. One X-macro list generates
 * the enum, weir_strerror() and weir_err_name(), so the three can never disagree. Messages meant
 * for people travel separately (an errbuf out-parameter or the pipeline's sticky error). */
#ifndef WEIR_ERROR_H
#define WEIR_ERROR_H

#define WEIR_ERRNO_MAP(X)                                                                          \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(IO, "input/output error")                                                                    \
    X(NOENT, "no such file or directory")                                                          \
    X(PARSE, "malformed input")                                                                    \
    X(TYPE, "type mismatch")                                                                       \
    X(RANGE, "value out of range")                                                                 \
    X(STATE, "operation not valid in this state")                                                  \
    X(UNSUPPORTED, "not supported")                                                                \
    X(LATE, "record is late")                                                                      \
    X(KAFKA, "kafka error")                                                                        \
    X(CORRUPT, "damaged data")                                                                     \
    X(STOPPED, "stopped")

typedef enum weir_errno {
    WEIR_OK = 0,
#define WEIR__ERRNO_ENUM(name, text) WEIR_E##name,
    WEIR__ERRNO_FIRST = -1000,
    WEIR_ERRNO_MAP(WEIR__ERRNO_ENUM)
#undef WEIR__ERRNO_ENUM
        WEIR__ERRNO_END
} weir_errno;

/* Text for a code: a static string, never NULL (unknown codes give "unknown error").
 * Any thread may call. */
const char *weir_strerror(int err);
/* Name for a code, e.g. "WEIR_ENOMEM"; "WEIR_OK" for 0. Any thread may call. */
const char *weir_err_name(int err);

#endif
