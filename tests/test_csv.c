/* tests/test_csv.c: CSV (connectors/csv_read.c, csv_write.c, csv_rows.c): the scanner, the types
 * of cells, the writer, a round trip, and ReadFromFile / WriteToFile with format csv run through
 * the C DSL (pass-through to JSON, declared types, every class of bad input as a stop with
 * PATH:LINE and as error rows, header errors, globs, the CSV sink).
 *
 * Expected values are written by hand from RFC 4180 and the decisions in csv_codec.h and
 * csv_rows.h (positions counted by hand, RFC 3339 instants computed by hand), never from this
 * code's own output. */
#include "../connectors/csv_codec.h"
#include "weir/error.h"
#include "weir/weir.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static weir__csv_cell *cells;
static uint32_t cap;
static weir__csv_record rec;
static weir_arena arena;
static char err[256];
static char dir[64];

static void setup(void)
{
    weir_arena_init(&arena, 0);
    strcpy(dir, "/tmp/weir_csv_XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    weir_arena_finish(&arena);
    free(cells);
    cells = NULL;
    cap = 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(csv, .init = setup, .fini = teardown);

static int scan(const char *s, bool eof, char d)
{
    return weir__csv_scan(s, strlen(s), eof, d, &cells, &cap, &rec);
}

/* cell k of text, decoded, as a NUL-terminated string in the arena */
static const char *cell(const char *text, uint32_t k)
{
    size_t len;
    const char *s = weir__csv_cell_text(text, &cells[k], &arena, &len);
    cr_assert(s);
    return weir_arena_strdup(&arena, s, len);
}

/* ---- the scanner ---- */

Test(csv, scan_simple)
{
    const char *t = "a,bc,d\nnext\n";
    cr_assert_eq(scan(t, false, ','), WEIR__CSV_RECORD);
    cr_assert_eq(rec.n_cells, 3);
    cr_assert_eq(rec.len, 7);
    cr_assert_eq(rec.text_len, 6);
    cr_assert_eq(rec.newlines, 1);
    cr_assert_null(rec.error);
    cr_assert_str_eq(cell(t, 0), "a");
    cr_assert_str_eq(cell(t, 1), "bc");
    cr_assert_str_eq(cell(t, 2), "d");
    cr_assert(!cells[0].quoted);
}

Test(csv, scan_crlf)
{
    const char *t = "a,b\r\nc\r\n";
    cr_assert_eq(scan(t, false, ','), WEIR__CSV_RECORD);
    cr_assert_eq(rec.len, 5);
    cr_assert_eq(rec.text_len, 3);
    cr_assert_str_eq(cell(t, 1), "b");
    cr_assert_eq(scan(t + 5, true, ','), WEIR__CSV_RECORD);
    cr_assert_eq(rec.text_len, 1);
    cr_assert_eq(rec.len, 3);
}

Test(csv, scan_quoted)
{
    const char *t = "\"x,y\",\"he said \"\"hi\"\"\",z,\"\"\n";
    cr_assert_eq(scan(t, false, ','), WEIR__CSV_RECORD);
    cr_assert_null(rec.error);
    cr_assert_eq(rec.n_cells, 4);
    cr_assert_str_eq(cell(t, 0), "x,y");
    cr_assert(cells[0].quoted && !cells[0].escapes);
    cr_assert_str_eq(cell(t, 1), "he said \"hi\"");
    cr_assert(cells[1].escapes);
    cr_assert_str_eq(cell(t, 2), "z");
    cr_assert_str_eq(cell(t, 3), "");
    cr_assert(cells[3].quoted);
    cr_assert_eq(rec.len, strlen(t));
}

Test(csv, scan_record_over_lines)
{
    const char *t = "1,\"line one\nline two\r\nthree\",x\nnext\n";
    cr_assert_eq(scan(t, false, ','), WEIR__CSV_RECORD);
    cr_assert_null(rec.error);
    cr_assert_eq(rec.n_cells, 3);
    cr_assert_str_eq(cell(t, 1), "line one\nline two\r\nthree");
    cr_assert_eq(rec.newlines, 3); /* two in the cell, one ending the record */
    cr_assert_str_eq(t + rec.len, "next\n");
}

Test(csv, scan_needs_more)
{
    cr_assert_eq(scan("a,b", false, ','), WEIR__CSV_MORE);
    cr_assert_eq(scan("a,\"b\nc", false, ','), WEIR__CSV_MORE);
    cr_assert_eq(scan("a,b\r", false, ','), WEIR__CSV_MORE);   /* CR LF cut in two? */
    cr_assert_eq(scan("a,\"b\"", false, ','), WEIR__CSV_MORE); /* "" cut in two? */
    cr_assert_eq(scan("a,b", true, ','), WEIR__CSV_RECORD);    /* at the end of input */
    cr_assert_eq(rec.len, 3);
    cr_assert_eq(rec.n_cells, 2);
    cr_assert_eq(rec.newlines, 0);
    cr_assert_eq(scan("a,\"b\"", true, ','), WEIR__CSV_RECORD);
    cr_assert_null(rec.error);
    cr_assert_eq(scan("a,b\r", true, ','), WEIR__CSV_RECORD);
    cr_assert_eq(rec.text_len, 3);
}

Test(csv, scan_errors)
{
    const char *t = "a\"b,c\nnext\n";
    cr_assert_eq(scan(t, false, ','), WEIR__CSV_RECORD);
    cr_assert_not_null(rec.error);
    cr_assert(strstr(rec.error, "quote inside an unquoted cell"));
    cr_assert_eq(rec.error_cell, 1);
    cr_assert_eq(rec.len, 6); /* the record still ends at its line end */

    cr_assert_eq(scan("x,\"a\"b,c\n", false, ','), WEIR__CSV_RECORD);
    cr_assert(rec.error && strstr(rec.error, "after a closing quote"));
    cr_assert_eq(rec.error_cell, 2);
    cr_assert_eq(rec.n_cells, 3);

    cr_assert_eq(scan("a\rb,c\n", false, ','), WEIR__CSV_RECORD);
    cr_assert(rec.error && strstr(rec.error, "carriage return"));

    t = "a,\"open\nb,c\n";
    cr_assert_eq(scan(t, false, ','), WEIR__CSV_MORE);
    cr_assert_eq(scan(t, true, ','), WEIR__CSV_RECORD);
    cr_assert(rec.error && strstr(rec.error, "not closed"));
    cr_assert_eq(rec.error_cell, 2);
    cr_assert_eq(rec.len, strlen(t)); /* an open quote runs to the end of input */
}

Test(csv, scan_delimiters_and_empty_cells)
{
    const char *t = "a;b,c;\"d;e\"\n";
    cr_assert_eq(scan(t, false, ';'), WEIR__CSV_RECORD);
    cr_assert_eq(rec.n_cells, 3);
    cr_assert_str_eq(cell(t, 1), "b,c");
    cr_assert_str_eq(cell(t, 2), "d;e");
    t = "a\tb c\n";
    cr_assert_eq(scan(t, false, '\t'), WEIR__CSV_RECORD);
    cr_assert_eq(rec.n_cells, 2);
    cr_assert_str_eq(cell(t, 1), "b c");
    cr_assert_eq(scan(",,\n", false, ','), WEIR__CSV_RECORD);
    cr_assert_eq(rec.n_cells, 3);
    for (int k = 0; k < 3; k++) cr_assert_eq(cells[k].len, 0);
    cr_assert_eq(scan("\n", false, ','), WEIR__CSV_RECORD);
    cr_assert_eq(rec.n_cells, 1);
    cr_assert_eq(rec.text_len, 0);
    /* spaces are part of a cell (RFC 4180 2.4) */
    t = " a , b\n";
    cr_assert_eq(scan(t, false, ','), WEIR__CSV_RECORD);
    cr_assert_str_eq(cell(t, 0), " a ");
}

Test(csv, scan_many_cells_grows_the_array)
{
    char line[4001];
    for (int i = 0; i < 2000; i++) {
        line[2 * i] = 'x';
        line[2 * i + 1] = i == 1999 ? '\n' : ',';
    }
    line[4000] = 0;
    cr_assert_eq(scan(line, false, ','), WEIR__CSV_RECORD);
    cr_assert_eq(rec.n_cells, 2000);
    cr_assert_geq(cap, 2000);
}

/* ---- types ---- */

static weir_value val(const char *s, bool quoted, weir__csv_type t)
{
    weir_value v;
    int rc = weir__csv_cell_value(s, strlen(s), quoted, t, &v, err, sizeof err);
    cr_assert_eq(rc, 0, "'%s' as %s: %s", s, weir__csv_type_name(t), err);
    return v;
}

static void bad_val(const char *s, weir__csv_type t, const char *msg)
{
    weir_value v;
    err[0] = 0;
    cr_assert_eq(weir__csv_cell_value(s, strlen(s), false, t, &v, err, sizeof err), WEIR_EPARSE,
                 "'%s' as %s", s, weir__csv_type_name(t));
    cr_assert(strstr(err, msg), "'%s': got '%s', expected '%s'", s, err, msg);
}

Test(csv, inference)
{
    weir_value v = val("42", false, WEIR__CSV_INFER);
    cr_assert(v.type == WEIR_TYPE_INT && v.as.i == 42);
    v = val("-7", true, WEIR__CSV_INFER); /* quoting does not matter */
    cr_assert(v.type == WEIR_TYPE_INT && v.as.i == -7);
    v = val("3.5", false, WEIR__CSV_INFER);
    cr_assert(v.type == WEIR_TYPE_DOUBLE && v.as.d == 3.5);
    v = val("1e3", false, WEIR__CSV_INFER);
    cr_assert(v.type == WEIR_TYPE_DOUBLE && v.as.d == 1000.0);
    v = val("9223372036854775808", false, WEIR__CSV_INFER); /* beyond int64: a float, as JSON */
    cr_assert(v.type == WEIR_TYPE_DOUBLE && v.as.d == 9223372036854775808.0);
    v = val("-9223372036854775808", false, WEIR__CSV_INFER);
    cr_assert(v.type == WEIR_TYPE_INT && v.as.i == INT64_MIN);
    static const char *const strings[] = {"007",  "+5",   " 12", "1.",
                                          ".5",   "NaN",  "inf", "1e999",
                                          "0x10", "null", "abc", "2024-01-02T03:04:05Z"};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        v = val(strings[i], false, WEIR__CSV_INFER);
        cr_assert_eq(v.type, WEIR_TYPE_STRING, "'%s' should stay a string", strings[i]);
        cr_assert_eq(v.len, strlen(strings[i]));
    }
    v = val("true", false, WEIR__CSV_INFER);
    cr_assert(v.type == WEIR_TYPE_BOOL && v.as.b);
    v = val("FALSE", false, WEIR__CSV_INFER);
    cr_assert(v.type == WEIR_TYPE_BOOL && !v.as.b);
    v = val("tRUE", false, WEIR__CSV_INFER);
    cr_assert_eq(v.type, WEIR_TYPE_STRING);
    v = val("", false, WEIR__CSV_INFER);
    cr_assert_eq(v.type, WEIR_TYPE_NULL);
    v = val("", true, WEIR__CSV_INFER);
    cr_assert(v.type == WEIR_TYPE_STRING && v.len == 0);
    v = val("caf\xc3\xa9", false, WEIR__CSV_INFER);
    cr_assert_eq(v.type, WEIR_TYPE_STRING);
    v = val("\xff\xfe", false, WEIR__CSV_INFER);
    cr_assert_eq(v.type, WEIR_TYPE_BYTES);
}

Test(csv, declared_types)
{
    weir_value v = val("+5", false, WEIR__CSV_INT);
    cr_assert(v.type == WEIR_TYPE_INT && v.as.i == 5);
    v = val("007", true, WEIR__CSV_INT);
    cr_assert(v.type == WEIR_TYPE_INT && v.as.i == 7);
    v = val("-9223372036854775808", false, WEIR__CSV_INT);
    cr_assert_eq(v.as.i, INT64_MIN);
    bad_val("1.5", WEIR__CSV_INT, "\"1.5\" is not an int");
    bad_val("9223372036854775808", WEIR__CSV_INT, "out of range");
    bad_val(" 1", WEIR__CSV_INT, "is not an int");
    v = val("", false, WEIR__CSV_INT);
    cr_assert_eq(v.type, WEIR_TYPE_NULL);
    v = val("", true, WEIR__CSV_INT); /* "" is null outside strings */
    cr_assert_eq(v.type, WEIR_TYPE_NULL);

    static const struct {
        const char *s;
        double d;
    } floats[] = {{".5", 0.5}, {"5.", 5.0}, {"1e3", 1000.0}, {"-2", -2.0}, {"+0.25", 0.25}};
    for (size_t i = 0; i < sizeof floats / sizeof *floats; i++) {
        v = val(floats[i].s, false, WEIR__CSV_FLOAT);
        cr_assert(v.type == WEIR_TYPE_DOUBLE && v.as.d == floats[i].d, "%s", floats[i].s);
    }
    bad_val("abc", WEIR__CSV_FLOAT, "is not a float");
    bad_val("inf", WEIR__CSV_FLOAT, "is not a float");
    bad_val("0x10", WEIR__CSV_FLOAT, "is not a float");
    bad_val(".", WEIR__CSV_FLOAT, "is not a float");
    bad_val("1e999", WEIR__CSV_FLOAT, "out of range for a float");

    v = val("True", false, WEIR__CSV_BOOL);
    cr_assert(v.type == WEIR_TYPE_BOOL && v.as.b);
    bad_val("1", WEIR__CSV_BOOL, "is not a bool");

    v = val("1000", true, WEIR__CSV_TIMESTAMP);
    cr_assert(v.type == WEIR_TYPE_INT && v.as.i == 1000);
    /* 2024-01-01 is day 19723 of the epoch: 1704067200 s; + 1 day 03:04:05.678 */
    v = val("2024-01-02T03:04:05.678Z", false, WEIR__CSV_TIMESTAMP);
    cr_assert(v.type == WEIR_TYPE_INT && v.as.i == 1704164645678LL, "%lld", (long long)v.as.i);
    bad_val("yesterday", WEIR__CSV_TIMESTAMP, "is not a timestamp");
    bad_val("2024-13-01T00:00:00Z", WEIR__CSV_TIMESTAMP, "is not a timestamp");

    v = val(" spaced ", false, WEIR__CSV_STRING);
    cr_assert(v.type == WEIR_TYPE_STRING && v.len == 8);
    v = val("12", false, WEIR__CSV_STRING);
    cr_assert_eq(v.type, WEIR_TYPE_STRING);
    v = val("", true, WEIR__CSV_STRING);
    cr_assert(v.type == WEIR_TYPE_STRING && v.len == 0);
    v = val("", false, WEIR__CSV_STRING);
    cr_assert_eq(v.type, WEIR_TYPE_NULL);

    /* a long cell is shown cut, and control characters do not break the one-line message */
    bad_val("abcdefghijklmnopqrstuvwxyz\nabcdefghijklmnopqrstuvwxyz", WEIR__CSV_INT,
            "\"abcdefghijklmnopqrstuvwxyz?abcdefghijklm...\" is not an int");

    cr_assert_eq(weir__csv_type_parse("int"), WEIR__CSV_INT);
    cr_assert_eq(weir__csv_type_parse("timestamp"), WEIR__CSV_TIMESTAMP);
    cr_assert_eq(weir__csv_type_parse("integer"), -1);
}

/* ---- the writer ---- */

static const char *written(const weir_value *v, char d)
{
    static weir_buf b;
    weir_buf_clear(&b);
    cr_assert_eq(weir__csv_write_value(&b, v, d), 0);
    weir_buf_putc(&b, 0);
    return b.data;
}

Test(csv, writer_cells)
{
    weir_value s = weir_value_string("plain", 5);
    cr_assert_str_eq(written(&s, ','), "plain");
    s = weir_value_string("a,b", 3);
    cr_assert_str_eq(written(&s, ','), "\"a,b\"");
    cr_assert_str_eq(written(&s, ';'), "a,b");
    s = weir_value_string("say \"hi\"", 8);
    cr_assert_str_eq(written(&s, ','), "\"say \"\"hi\"\"\"");
    s = weir_value_string("l1\nl2", 5);
    cr_assert_str_eq(written(&s, ','), "\"l1\nl2\"");
    s = weir_value_string("a\rb", 3);
    cr_assert_str_eq(written(&s, ','), "\"a\rb\"");
    s = weir_value_string("", 0);
    cr_assert_str_eq(written(&s, ','), "\"\"");
    weir_value v = WEIR_NULL_VALUE;
    cr_assert_str_eq(written(&v, ','), "");
    v = weir_value_bool(true);
    cr_assert_str_eq(written(&v, ','), "true");
    v = weir_value_bool(false);
    cr_assert_str_eq(written(&v, ','), "false");
    v = weir_value_int(-42);
    cr_assert_str_eq(written(&v, ','), "-42");
    v = weir_value_double(2.0);
    cr_assert_str_eq(written(&v, ','), "2.0");
    v = weir_value_double(0.1);
    cr_assert_str_eq(written(&v, ','), "0.1");
    v = weir_value_double(1e300);
    cr_assert_str_eq(written(&v, ','), "1e+300");
    v = weir_value_double(NAN);
    cr_assert_str_eq(written(&v, ','), "");
    v = weir_value_double(-INFINITY);
    cr_assert_str_eq(written(&v, ','), "");
    v = weir_value_double(2.5);
    cr_assert_str_eq(written(&v, '.'), "\"2.5\""); /* the delimiter inside a number */
    v = (weir_value){.type = WEIR_TYPE_JSON, .len = 13, .as.s = "{\"a\":1,\"b\":2}"};
    cr_assert_str_eq(written(&v, ','), "\"{\"\"a\"\":1,\"\"b\"\":2}\"");
    v = (weir_value){.type = WEIR_TYPE_JSON, .len = 3, .as.s = "[1]"};
    cr_assert_str_eq(written(&v, ','), "[1]");
    v = (weir_value){.type = WEIR_TYPE_BYTES, .len = 2, .as.s = "\xff,"};
    cr_assert_str_eq(written(&v, ','), "\"\xff,\"");
    v = (weir_value){.type = WEIR_TYPE_ANY};
    weir_buf b;
    weir_buf_init(&b);
    cr_assert_eq(weir__csv_write_value(&b, &v, ','), WEIR_EINVAL);
    weir_buf_finish(&b);
}

Test(csv, writer_rows)
{
    weir_value row[3] = {weir_value_int(1), weir_value_string("x,y", 3), WEIR_NULL_VALUE};
    int32_t cols[] = {2, 0, 1};
    weir_buf b;
    weir_buf_init(&b);
    cr_assert_eq(weir__csv_write_row(&b, row, cols, 3, ','), 0);
    cr_assert_eq(weir__csv_write_row(&b, row, cols, 1, ','), 0); /* one null: an empty line */
    cr_assert_eq(b.len, strlen(",1,\"x,y\"\n\n"));
    cr_assert_eq(memcmp(b.data, ",1,\"x,y\"\n\n", b.len), 0);
    weir_buf_finish(&b);
}

/* ---- round trip: what the writer writes reads back to the same values ---- */

static uint64_t rng = 42;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

Test(csv, round_trip)
{
    enum { ROWS = 2000, COLS = 6 };
    static const weir__csv_type types[COLS] = {WEIR__CSV_INT,    WEIR__CSV_FLOAT,
                                               WEIR__CSV_STRING, WEIR__CSV_BOOL,
                                               WEIR__CSV_STRING, WEIR__CSV_TIMESTAMP};
    static const char *const pieces[] = {"a",  "b",  " ",  ",", ";",       "\"",
                                         "\r", "\n", "\t", "'", "\xc3\xa9"};
    weir_value *rows = calloc((size_t)ROWS * COLS, sizeof *rows);
    int32_t cols[COLS] = {0, 1, 2, 3, 4, 5};
    weir_buf b;
    weir_buf_init(&b);
    for (int r = 0; r < ROWS; r++) {
        weir_value *v = rows + (size_t)r * COLS;
        v[0] = weir_value_int((int64_t)next());
        uint64_t bits = next();
        double d;
        memcpy(&d, &bits, sizeof d);
        v[1] = isfinite(d) ? weir_value_double(d) : weir_value_double((double)(int32_t)bits / 7);
        size_t n = next() % 8, len = 0;
        char *s = weir_arena_alloc(&arena, 2 * n + 1);
        for (size_t i = 0; i < n; i++) {
            const char *piece = pieces[next() % (sizeof pieces / sizeof *pieces)];
            memcpy(s + len, piece, strlen(piece));
            len += strlen(piece);
        }
        v[2] = weir_value_string(s, len); /* "" included */
        v[3] = weir_value_bool(next() & 1);
        v[4] = next() % 3 ? weir_value_string("plain", 5) : WEIR_NULL_VALUE;
        v[5] = weir_value_int((int64_t)(next() % 4000000000000LL));
        if (next() % 5 == 0) v[next() % COLS] = WEIR_NULL_VALUE;
        cr_assert_eq(weir__csv_write_row(&b, v, cols, COLS, ','), 0);
    }
    size_t at = 0;
    for (int r = 0; r < ROWS; r++) {
        int rc = weir__csv_scan(b.data + at, b.len - at, true, ',', &cells, &cap, &rec);
        cr_assert_eq(rc, WEIR__CSV_RECORD);
        cr_assert_null(rec.error, "row %d: %s", r, rec.error);
        cr_assert_eq(rec.n_cells, COLS, "row %d", r);
        const char *text = b.data + at;
        for (int k = 0; k < COLS; k++) {
            size_t len;
            const char *s = weir__csv_cell_text(text, &cells[k], &arena, &len);
            weir_value got;
            cr_assert_eq(
                weir__csv_cell_value(s, len, cells[k].quoted, types[k], &got, err, sizeof err), 0,
                "row %d cell %d: %s", r, k, err);
            const weir_value *want = &rows[(size_t)r * COLS + k];
            cr_assert(weir_value_equal(&got, want), "row %d cell %d differs", r, k);
        }
        at += rec.len;
    }
    cr_assert_eq(at, b.len);
    weir_buf_finish(&b);
    free(rows);
}

/* ---- ReadFromFile / WriteToFile with format csv ---- */

static char *path_of(const char *name)
{
    static char buf[4][128];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 128, "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const char *content)
{
    FILE *f = fopen(path_of(name), "wb");
    cr_assert(f);
    fputs(content, f);
    fclose(f);
}

static char *slurp(const char *name)
{
    FILE *f = fopen(path_of(name), "rb");
    if (!f) return strdup("(no file)");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    cr_assert(buf);
    size_t n = fread(buf, 1, (size_t)size, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static char msg[1024];

/* Reads in.csv with opt (path and format set here) into out.jsonl (and bad records into
 * bad.jsonl when opt->error_output); returns weir_run's result, the message in msg. */
static int run(weir_file_source opt)
{
    char in[128];
    snprintf(in, sizeof in, "%s", opt.path ? path_of(opt.path) : path_of("in.csv"));
    opt.path = in;
    opt.format = "csv";
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *s = weir_read_file(p, &opt);
    weir_write_file(s, &(weir_file_sink){.path = path_of("out.jsonl")});
    if (opt.error_output)
        weir_write_file(weir_error_output(s), &(weir_file_sink){.path = path_of("bad.jsonl")});
    int rc = weir_pipeline_status(p);
    if (!rc) rc = weir_run(p, &(weir_run_options){.workers = 1});
    snprintf(msg, sizeof msg, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    return rc;
}

static void same(const char *name, const char *want)
{
    char *got = slurp(name);
    cr_assert_str_eq(got, want);
    free(got);
}

Test(csv, pass_through_to_json)
{
    put("in.csv", "ts,user,amount,ok,note\n"
                  "1000,alice,5,true,\"hello, \"\"world\"\"\"\n"
                  "2000,bob,,false,\"\"\r\n"
                  "\n"
                  "3000,\"multi\nline\",1.5,x,caf\xc3\xa9\n"
                  "4000,dave,007,TRUE,\\");
    cr_assert_eq(run((weir_file_source){.timestamp = "ts"}), 0, "%s", msg);
    same("out.jsonl", "{\"ts\":1000,\"user\":\"alice\",\"amount\":5,\"ok\":true,\"note\":\"hello, "
                      "\\\"world\\\"\"}\n"
                      "{\"ts\":2000,\"user\":\"bob\",\"amount\":null,\"ok\":false,\"note\":\"\"}\n"
                      "{\"ts\":3000,\"user\":\"multi\\nline\",\"amount\":1.5,\"ok\":\"x\",\"note\":"
                      "\"caf\xc3\xa9\"}\n"
                      "{\"ts\":4000,\"user\":\"dave\",\"amount\":\"007\",\"ok\":true,\"note\":"
                      "\"\\\\\"}\n");
}

Test(csv, declared_columns_and_delimiter)
{
    put("in.csv", "when;amount;user;flag\n"
                  "2024-01-02T03:04:05.678Z;5;7;True\n"
                  "1000;2.5;x;false\n");
    cr_assert_eq(run((weir_file_source){
                     .timestamp = "when",
                     .delimiter = ';',
                     .columns = WEIR_CSV_COLUMNS({"amount", "float"}, {"user", "string"},
                                                 {"flag", "bool"}, {"when", "timestamp"})}),
                 0, "%s", msg);
    same("out.jsonl", "{\"when\":1704164645678,\"amount\":5.0,\"user\":\"7\",\"flag\":true}\n"
                      "{\"when\":1000,\"amount\":2.5,\"user\":\"x\",\"flag\":false}\n");
}

Test(csv, fields_read_and_absent_columns)
{
    /* a field read by the pipeline but not a column is null, as an absent JSON member */
    put("in.csv", "a,b\n1,2\n");
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *s = weir_read_file(p, &(weir_file_source){.path = path_of("in.csv"),
                                                           .format = "csv",
                                                           .fields = WEIR_FIELDS("b", "zz")});
    cr_assert_eq(weir_stream_field(s, "b"), 0);
    cr_assert_eq(weir_stream_field(s, "zz"), 1);
    weir_write_file(s, &(weir_file_sink){.path = path_of("out.csv"),
                                         .format = "csv",
                                         .columns = WEIR_FIELDS("zz", "b")});
    cr_assert_eq(weir_run(p, &(weir_run_options){.workers = 1}), 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    same("out.csv", "zz,b\n,2\n");
}

/* Each class of bad input stops the run with PATH:LINE (the line where the record starts). */
Test(csv, bad_records_stop_the_run)
{
    static const struct {
        const char *csv, *columns_type; /* a declared type for column b, or NULL */
        int line;
        const char *what;
    } cases[] = {
        {"ts,b\n1,2\n2,3,4\n", NULL, 3, "3 cells, but the header has 2 columns"},
        {"ts,b\n1,2\n2\n", NULL, 3, "1 cell, but the header has 2 columns"},
        {"ts,b\n1,\"two\nlines\"\n2,\"open\n3,4\n", NULL, 4, "cell 2: a quoted cell is not closed"},
        {"ts,b\n1,x\"y\n", NULL, 2, "cell 2: a quote inside an unquoted cell"},
        {"ts,b\n1,\"x\"y\n", NULL, 2, "cell 2: text after a closing quote"},
        {"ts,b\n1,2\n2,abc\n", "int", 3, "column 'b': \"abc\" is not an int"},
        {"ts,b\n\"1\",2\n\n2,1.5.\n", "float", 4, "column 'b': \"1.5.\" is not a float"},
        {"ts,b\n1,2\n,3\n", NULL, 3, "missing timestamp field 'ts'"},
        {"ts,b\n1,2\nyesterday,3\n", NULL, 3, "neither an integer nor RFC 3339"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        put("in.csv", cases[i].csv);
        weir_csv_column cols[2] = {{"b", cases[i].columns_type}, {0}};
        int rc = run(
            (weir_file_source){.timestamp = "ts", .columns = cases[i].columns_type ? cols : NULL});
        cr_assert_eq(rc, WEIR_EPARSE, "case %zu: %d %s", i, rc, msg);
        char want[256];
        snprintf(want, sizeof want, "%s:%d: ", path_of("in.csv"), cases[i].line);
        cr_assert(!strncmp(msg, want, strlen(want)), "case %zu: '%s' does not start with '%s'", i,
                  msg, want);
        cr_assert(strstr(msg, cases[i].what), "case %zu: '%s' lacks '%s'", i, msg, cases[i].what);
    }
}

Test(csv, error_handling_rows)
{
    put("in.csv", "ts,b\n"
                  "1,2\n"
                  "2,3,4\n"
                  "3,\"x\n"
                  "y\"\n"
                  "4,\"ok\"x\n"
                  ",5\n"
                  "6,7\n");
    cr_assert_eq(run((weir_file_source){.timestamp = "ts",
                                        .error_output = true,
                                        .columns = WEIR_CSV_COLUMNS({"b", "int"})}),
                 0, "%s", msg);
    same("out.jsonl", "{\"ts\":1,\"b\":2}\n{\"ts\":6,\"b\":7}\n");
    char want[2048];
    const char *in = path_of("in.csv");
    snprintf(want, sizeof want,
             "{\"error\":\"3 cells, but the header has 2 columns\",\"source\":\"%s:3\","
             "\"record\":\"2,3,4\"}\n"
             "{\"error\":\"column 'b': \\\"x?y\\\" is not an int\",\"source\":\"%s:4\","
             "\"record\":\"3,\\\"x\\ny\\\"\"}\n"
             "{\"error\":\"cell 2: text after a closing quote (a quoted cell must end at a "
             "delimiter)\",\"source\":\"%s:6\",\"record\":\"4,\\\"ok\\\"x\"}\n"
             "{\"error\":\"missing timestamp field 'ts'\",\"source\":\"%s:7\",\"record\":\",5\"}\n",
             in, in, in, in);
    same("bad.jsonl", want);
}

Test(csv, header_errors_name_the_file)
{
    static const struct {
        const char *csv;
        const char *what;
    } cases[] = {
        {"", ": no header line (the file is empty)"},
        {"\n\n", ": no header line (the file is empty)"},
        {"ts,a,a\n1,2,3\n", ":1: the header names column 'a' twice (columns 2 and 3)"},
        {"\nts,,b\n", ":2: column 2 of the header has no name"},
        {"t,a\n1,2\n", ":1: the header has no column 'ts' (the timestamp)"},
        {"ts,\"a\n", ":1: the header, cell 2: a quoted cell is not closed"},
        {"ts,b\n1,2\n", ":1: column 'a' (declared in columns) is not in the header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        put("in.csv", cases[i].csv);
        int rc = run((weir_file_source){.timestamp = "ts",
                                        .error_output = true, /* still a stop */
                                        .columns = i == 6 ? WEIR_CSV_COLUMNS({"a", "int"}) : NULL});
        cr_assert_eq(rc, WEIR_EPARSE, "case %zu: %s", i, msg);
        char want[256];
        snprintf(want, sizeof want, "%s%s", path_of("in.csv"), cases[i].what);
        cr_assert(!strncmp(msg, want, strlen(want)), "case %zu: '%s', expected '%s'", i, msg, want);
    }
}

Test(csv, empty_lines_and_one_column_files)
{
    put("in.csv", "\na,b\n\n1,2\n\r\n3,4\n\n");
    cr_assert_eq(run((weir_file_source){0}), 0, "%s", msg);
    same("out.jsonl", "{\"a\":1,\"b\":2}\n{\"a\":3,\"b\":4}\n");
    /* one column: an empty line is a null cell (what the sink writes for null) */
    put("in.csv", "a\n1\n\n\"\"\n");
    cr_assert_eq(run((weir_file_source){0}), 0, "%s", msg);
    same("out.jsonl", "{\"a\":1}\n{\"a\":null}\n{\"a\":\"\"}\n");
}

Test(csv, glob_files_with_their_own_headers)
{
    put("d1.csv", "ts,user\n1,a\n");
    put("d2.csv", "user,extra,ts\nb,x,2\n");
    cr_assert_eq(
        run((weir_file_source){.path = "d*.csv", .timestamp = "ts", .fields = WEIR_FIELDS("user")}),
        0, "%s", msg);
    char *got = slurp("out.jsonl");
    cr_assert(strstr(got, "{\"ts\":1,\"user\":\"a\"}\n"), "%s", got);
    cr_assert(strstr(got, "{\"user\":\"b\",\"extra\":\"x\",\"ts\":2}\n"), "%s", got);
    cr_assert_eq(strlen(got), strlen("{\"ts\":1,\"user\":\"a\"}\n") +
                                  strlen("{\"user\":\"b\",\"extra\":\"x\",\"ts\":2}\n"));
    free(got);
}

Test(csv, big_records_across_reads)
{
    /* records longer than the 1 MiB read buffer, and a quoted cell across buffer refills */
    size_t n = 3u << 20;
    char *big = malloc(n + 64);
    strcpy(big, "a,b\n1,\"");
    size_t at = strlen(big);
    for (size_t i = 0; i < n; i++) big[at++] = i % 1000 == 999 ? '\n' : 'x';
    strcpy(big + at, "\"\n2,y\n");
    put("in.csv", big);
    free(big);
    cr_assert_eq(run((weir_file_source){.fields = WEIR_FIELDS("a")}), 0, "%s", msg);
    char *got = slurp("out.jsonl");
    cr_assert(strstr(got, "{\"a\":2,\"b\":\"y\"}\n"));
    free(got);
    /* lines are counted through quoted line feeds */
    put("in.csv", "a,b\n1,\"x\ny\nz\"\n2,3,4\n");
    cr_assert_eq(run((weir_file_source){0}), WEIR_EPARSE);
    cr_assert(strstr(msg, "in.csv:5: 3 cells"), "%s", msg);
}

Test(csv, sink_writes_header_and_rows)
{
    /* a Combine's output has no pass-through fields: every field is a column */
    put("in.csv", "ts,user,amount\n1000,\"a,b\",5\n2000,\"a,b\",2.5\n3000,c,1\n");
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *s =
        weir_read_file(p, &(weir_file_source){.path = path_of("in.csv"),
                                              .format = "csv",
                                              .timestamp = "ts",
                                              .fields = WEIR_FIELDS("user", "amount")});
    weir_stream *c = weir_combine(
        s, &(weir_combine_spec){.group_by = WEIR_FIELDS("user"),
                                .window = weir_fixed(WEIR_SECONDS(10)),
                                .aggregates = WEIR_AGGREGATES(weir_sum("amount", "spent"))});
    weir_write_file(c, &(weir_file_sink){.path = path_of("out.csv"), .format = "csv"});
    weir_write_file(s, &(weir_file_sink){.path = path_of("copy.csv"),
                                         .format = "csv",
                                         .delimiter = '\t',
                                         .columns = WEIR_FIELDS("user", "amount", "ts")});
    cr_assert_eq(weir_run(p, &(weir_run_options){.workers = 1}), 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    same("out.csv", "user,spent,window_start,window_end,pane_timing,pane_index,pane_last,op\n"
                    "\"a,b\",7.5,0,10000,ON_TIME,0,true,+I\n"
                    "c,1,0,10000,ON_TIME,0,true,+I\n");
    same("copy.csv", "user\tamount\tts\na,b\t5\t1000\na,b\t2.5\t2000\nc\t1\t3000\n");
}

Test(csv, sink_round_trip_through_files)
{
    const char *csv =
        "k,s,n,f\n1,\"x, \"\"y\"\"\",,0.5\n2,\"\",true,\n3,\"two\nlines\",false,1e+300\n";
    put("in.csv", csv);
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *s =
        weir_read_file(p, &(weir_file_source){.path = path_of("in.csv"),
                                              .format = "csv",
                                              .fields = WEIR_FIELDS("k", "s", "n", "f")});
    weir_write_file(s, &(weir_file_sink){.path = path_of("out.csv"),
                                         .format = "csv",
                                         .columns = WEIR_FIELDS("k", "s", "n", "f")});
    cr_assert_eq(weir_run(p, &(weir_run_options){.workers = 1}), 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    /* the same text, but for the canonical spelling of the float */
    same("out.csv", csv);
}

Test(csv, configuration_errors)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_read_file(p, &(weir_file_source){.path = "x.csv", .format = "xml"});
    cr_assert_str_eq(weir_pipeline_error(p), "ReadFromFile: format 'xml' is not supported (json "
                                             "or csv)");
    weir_pipeline_destroy(p);
    p = weir_pipeline_create();
    weir_read_file(p, &(weir_file_source){.path = "x.csv", .format = "csv", .delimiter = '"'});
    cr_assert(strstr(weir_pipeline_error(p), "delimiter cannot be"));
    weir_pipeline_destroy(p);
    p = weir_pipeline_create();
    weir_read_file(p, &(weir_file_source){.path = "x.csv",
                                          .format = "csv",
                                          .columns = WEIR_CSV_COLUMNS({"a", "integer"})});
    cr_assert_str_eq(weir_pipeline_error(p), "ReadFromFile: column 'a' has type 'integer' (int, "
                                             "float, string, bool or timestamp)");
    weir_pipeline_destroy(p);
    p = weir_pipeline_create();
    weir_read_file(p, &(weir_file_source){.path = "x.jsonl", .delimiter = ';'});
    cr_assert_str_eq(weir_pipeline_error(p),
                     "ReadFromFile: delimiter and columns are for format csv");
    weir_pipeline_destroy(p);
    /* a CSV sink over pass-through rows needs its columns */
    p = weir_pipeline_create();
    weir_stream *s = weir_read_file(p, &(weir_file_source){.path = "x.csv", .format = "csv"});
    weir_write_file(s, &(weir_file_sink){.path = "y.csv", .format = "csv"});
    cr_assert(strstr(weir_pipeline_error(p), "WriteToFile: format csv needs its columns"), "%s",
              weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    p = weir_pipeline_create();
    s = weir_read_file(p, &(weir_file_source){.path = "x.csv", .format = "csv"});
    weir_write_file(
        s, &(weir_file_sink){.path = "y.csv", .format = "csv", .columns = WEIR_FIELDS("nope")});
    cr_assert_str_eq(weir_pipeline_error(p), "WriteToFile: column 'nope' is not a field of its "
                                             "input");
    weir_pipeline_destroy(p);
}
