/* connectors/timestamp.c: event times from record values (integers, whole doubles, RFC 3339
 * strings) and their RFC 3339 display (see weir/timestamp.h).
 *
 * Dates are converted with Howard Hinnant's days-from-civil / civil-from-days algorithms
 * (proleptic Gregorian calendar, exact integer arithmetic): unlike timegm/gmtime they need no
 * time zone state, are thread-safe, and handle dates before 1970 (negative milliseconds) and
 * the whole int64 range without surprises. The RFC 3339 parser is a fixed-position scanner:
 * the format is rigid, so there is nothing to gain from anything more general. */
#include "weir/timestamp.h"
#include "weir/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);                       /* [0, 399] */
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + (int64_t)doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* n decimal digits at s into *v; false if any is not a digit. */
static bool digits(const char *s, int n, unsigned *v)
{
    unsigned x = 0;
    for (int i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i] - '0';
        if (c > 9) return false;
        x = x * 10 + c;
    }
    *v = x;
    return true;
}

int weir_timestamp_parse_rfc3339(const char *s, size_t len, int64_t *out_ms)
{
    /* 0123456789012345678 */
    /* YYYY-MM-DDThh:mm:ss then [.frac] then Z | +hh:mm */
    unsigned year, mon, day, hour, min, sec;
    if (len < 20) return WEIR_EPARSE;
    if (!digits(s, 4, &year) || s[4] != '-' || !digits(s + 5, 2, &mon) || s[7] != '-' ||
        !digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &hour) ||
        s[13] != ':' || !digits(s + 14, 2, &min) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return WEIR_EPARSE;
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 || min > 59 ||
        sec > 60)
        return WEIR_EPARSE;
    size_t i = 19;
    unsigned frac_ms = 0;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        while (i < len && (unsigned)(s[i] - '0') <= 9) {
            if (i - start < 3) frac_ms = frac_ms * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        size_t nd = i - start;
        if (nd == 0) return WEIR_EPARSE;
        for (; nd < 3; nd++) frac_ms *= 10;
    }
    if (i >= len) return WEIR_EPARSE;
    int64_t offset_s = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        unsigned oh, om;
        if (len - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return WEIR_EPARSE;
        offset_s = (int64_t)oh * 3600 + om * 60;
        if (s[i] == '-') offset_s = -offset_s;
        i += 6;
    } else {
        return WEIR_EPARSE;
    }
    if (i != len) return WEIR_EPARSE;
    int64_t days = days_from_civil(year, mon, day);
    int64_t secs = days * 86400 + (int64_t)hour * 3600 + min * 60 + sec - offset_s;
    *out_ms = secs * 1000 + frac_ms;
    return 0;
}

/* Copies s[0..len) into out for a message: at most ~60 bytes, control bytes as '?'. */
static void quote_for_message(char *out, size_t n, const char *s, size_t len)
{
    size_t max = n - 4, o = 0;
    for (size_t i = 0; i < len && o < max; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (o < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
}

__attribute__((format(printf, 3, 4))) static int fail(char *errbuf, size_t errlen, const char *fmt,
                                                      ...)
{
    if (errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return WEIR_EPARSE;
}

int weir_timestamp_from_value(const weir_value *v, int64_t *out_ms, char *errbuf, size_t errlen)
{
    switch (v->type) {
    case WEIR_TYPE_INT: *out_ms = v->as.i; return 0;
    case WEIR_TYPE_DOUBLE: {
        double d = v->as.d;
        /* [-2^63, 2^63): every whole double in this range converts exactly */
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            *out_ms = (int64_t)d;
            return 0;
        }
        char num[40];
        snprintf(num, sizeof num, "%.17g", d);
        return fail(errbuf, errlen, "timestamp %s is not a whole number of milliseconds", num);
    }
    case WEIR_TYPE_STRING: {
        if (weir_timestamp_parse_rfc3339(v->as.s, v->len, out_ms) == 0) return 0;
        char q[64];
        quote_for_message(q, sizeof q, v->as.s, v->len);
        return fail(errbuf, errlen, "timestamp \"%s\" is neither an integer nor RFC 3339", q);
    }
    case WEIR_TYPE_NULL: return fail(errbuf, errlen, "timestamp is missing (null)");
    default:
        return fail(errbuf, errlen,
                    "timestamp is a %s, expected an integer (ms since the epoch) or an RFC 3339 "
                    "string",
                    weir_type_name((weir_type)v->type));
    }
}

int weir_timestamp_format(int64_t ms, char *out, size_t n)
{
    /* floor division, so that times before 1970 give a non-negative millisecond of day */
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    int64_t year;
    unsigned mon, day;
    civil_from_days(days, &year, &mon, &day);
    unsigned msec = (unsigned)(rem % 1000), s = (unsigned)(rem / 1000);
    char tmp[WEIR_TIMESTAMP_MAX_LEN];
    int len;
    if (year >= 0 && year <= 9999)
        len = snprintf(tmp, sizeof tmp, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)year,
                       mon, day, s / 3600, s / 60 % 60, s % 60, msec);
    else
        len = snprintf(tmp, sizeof tmp, "%+lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)year,
                       mon, day, s / 3600, s / 60 % 60, s % 60, msec);
    if (len < 0) return WEIR_ERANGE;
    if ((size_t)len >= n) {
        if (n) {
            memcpy(out, tmp, n - 1);
            out[n - 1] = 0;
        }
        return WEIR_ERANGE;
    }
    memcpy(out, tmp, (size_t)len + 1);
    return len;
}
