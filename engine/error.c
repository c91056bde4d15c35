/* engine/error.c: weir_strerror() and weir_err_name(), generated from WEIR_ERRNO_MAP. */
#include "weir/error.h"

const char *weir_strerror(int err)
{
    switch (err) {
    case WEIR_OK: return "success";
#define WEIR__ERRNO_TEXT(name, text)                                                               \
    case WEIR_E##name: return text;
        WEIR_ERRNO_MAP(WEIR__ERRNO_TEXT)
#undef WEIR__ERRNO_TEXT
    default: return "unknown error";
    }
}

const char *weir_err_name(int err)
{
    switch (err) {
    case WEIR_OK: return "WEIR_OK";
#define WEIR__ERRNO_NAME(name, text)                                                               \
    case WEIR_E##name: return "WEIR_E" #name;
        WEIR_ERRNO_MAP(WEIR__ERRNO_NAME)
#undef WEIR__ERRNO_NAME
    default: return "WEIR_EUNKNOWN";
    }
}
