/* runner/durations.c: durations of pipeline files (pipeline.md): an integer is milliseconds; a
 * string takes ms, s, m, h or d, with an optional decimal part when the result is a whole number
 * of milliseconds (1.5s). Overflow and negative values are errors. */
#include "yaml_doc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int weir__duration_parse(const char *text, int64_t *ms, char *errbuf, size_t errlen)
{
    const char *p = text;
    int64_t whole = 0, frac = 0, frac_scale = 1;
    bool digits = false;
    if (*p == '-') {
        snprintf(errbuf, errlen, "duration '%s' is negative", text);
        return -1;
    }
    for (; isdigit((unsigned char)*p); p++, digits = true) {
        if (whole > (INT64_MAX - 9) / 10) goto overflow;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        p++;
        for (; isdigit((unsigned char)*p); p++, digits = true) {
            if (frac_scale > 1000000000000LL) goto bad;
            frac = frac * 10 + (*p - '0');
            frac_scale *= 10;
        }
    }
    if (!digits) goto bad;
    int64_t unit;
    if (!*p)
        unit = 1;
    else if (!strcmp(p, "ms"))
        unit = 1;
    else if (!strcmp(p, "s"))
        unit = 1000;
    else if (!strcmp(p, "m"))
        unit = 60000;
    else if (!strcmp(p, "h"))
        unit = 3600000;
    else if (!strcmp(p, "d"))
        unit = 86400000;
    else
        goto bad;
    if (whole > INT64_MAX / unit) goto overflow;
    int64_t v = whole * unit;
    if (frac) {
        if ((frac * unit) % frac_scale) {
            snprintf(errbuf, errlen, "duration '%s' is not a whole number of milliseconds", text);
            return -1;
        }
        v += frac * unit / frac_scale;
    }
    *ms = v;
    return 0;
bad:
    snprintf(errbuf, errlen,
             "bad duration '%s': expected a number of milliseconds or a number followed by ms, s, "
             "m, h or d",
             text);
    return -1;
overflow:
    snprintf(errbuf, errlen, "duration '%s' is too large", text);
    return -1;
}
