/* tests/test_yaml_doc.c: the YAML tree (positions, quoting, aliases, duplicate keys, errors),
 * --set, ${ENV} substitution, "did you mean", key checks and durations. Positions are worked out
 * by hand from the test texts. */
#include "yaml_doc.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static weir__yaml_doc *load(const char *text, weir__diag *d)
{
    weir__yaml_doc *doc = NULL;
    y_load_string("t.yaml", text, strlen(text), &doc, d);
    return doc;
}

static char *printed(weir__diag *d)
{
    static char buf[4096];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    y_print(d, f);
    fclose(f);
    return buf;
}

Test(yaml_doc, positions_and_scalars)
{
    weir__diag *d = y_diag_create("t.yaml");
    weir__yaml_doc *doc =
        load("pipeline:\n  transforms:\n    - type: Create\n      n: \"5\"\n      m: 5\n", d);
    cr_assert_not_null(doc, "%s", printed(d));
    ynode t = y_item(y_get(y_get(y_root(doc), "pipeline"), "transforms"), 0);
    cr_assert(y_is_map(t));
    ynode type = y_get(t, "type");
    cr_assert_str_eq(y_text(type), "Create");
    cr_assert_eq(y_line(type), 3);
    cr_assert_eq(y_column(type), 13, "'Create' starts at column 13 of '    - type: Create'");
    cr_assert_eq(y_line(y_key(t, 1)), 4);
    cr_assert_eq(y_column(y_key(t, 1)), 7);
    cr_assert(y_quoted(y_get(t, "n")), "\"5\" is quoted: a string");
    cr_assert(!y_quoted(y_get(t, "m")));
    cr_assert_null(y_get(t, "absent"));
    y_doc_destroy(doc);
    y_diag_destroy(d);
}

Test(yaml_doc, syntax_error_has_position)
{
    weir__diag *d = y_diag_create("t.yaml");
    weir__yaml_doc *doc = load("a: [1, 2\nb: 3\n", d);
    cr_assert_null(doc);
    cr_assert_eq(y_errors(d), 1);
    cr_assert(strncmp(printed(d), "t.yaml:", 7) == 0);
    cr_assert_not_null(strstr(printed(d), ": error: "), "%s", printed(d));
    y_diag_destroy(d);
}

Test(yaml_doc, duplicate_key_and_empty)
{
    weir__diag *d = y_diag_create("t.yaml");
    cr_assert_null(load("a: 1\nb: 2\na: 3\n", d));
    cr_assert_str_eq(printed(d), "t.yaml:3:1: error: duplicate key 'a' (first at line 1)\n");
    y_diag_destroy(d);
    d = y_diag_create("t.yaml");
    cr_assert_null(load("", d));
    cr_assert_eq(y_errors(d), 1);
    y_diag_destroy(d);
    d = y_diag_create("t.yaml");
    cr_assert_null(load("a: 1\n---\nb: 2\n", d), "two documents are refused");
    y_diag_destroy(d);
}

Test(yaml_doc, aliases_share_and_cannot_cycle)
{
    weir__diag *d = y_diag_create("t.yaml");
    weir__yaml_doc *doc = load("w: &w {type: fixed, size: 10s}\nx: *w\n", d);
    cr_assert_not_null(doc, "%s", printed(d));
    cr_assert_str_eq(y_text(y_get(y_get(y_root(doc), "x"), "size")), "10s");
    y_doc_destroy(doc);
    cr_assert_null(load("a: &a [1, *a]\n", d), "an alias inside its own anchor is refused");
    y_diag_destroy(d);
}

Test(yaml_doc, set_overrides)
{
    weir__diag *d = y_diag_create("t.yaml");
    weir__yaml_doc *doc = load("pipeline:\n  transforms:\n    - {type: A, config: {path: a}}\n", d);
    cr_assert_eq(y_set(doc, "pipeline.transforms[0].config.path=b.jsonl", d), 0);
    cr_assert_eq(y_set(doc, "options.workers=4", d), 0, "missing maps are created");
    cr_assert_eq(y_set(doc, "pipeline.transforms.0.type=B", d), 0);
    ynode root = y_root(doc);
    ynode t0 = y_item(y_get(y_get(root, "pipeline"), "transforms"), 0);
    cr_assert_str_eq(y_text(y_get(y_get(t0, "config"), "path")), "b.jsonl");
    cr_assert_str_eq(y_text(y_get(t0, "type")), "B");
    cr_assert_str_eq(y_text(y_get(y_get(root, "options"), "workers")), "4");
    cr_assert_neq(y_set(doc, "pipeline.transforms[3].type=C", d), 0, "no item 3");
    cr_assert_neq(y_set(doc, "novalue", d), 0);
    y_doc_destroy(doc);
    y_diag_destroy(d);
}

Test(yaml_doc, environment)
{
    setenv("WEIR_TEST_DIR", "/data", 1);
    unsetenv("WEIR_TEST_UNSET");
    weir__diag *d = y_diag_create("t.yaml");
    weir__yaml_doc *doc =
        load("a: ${WEIR_TEST_DIR}/in.jsonl\nb: ${WEIR_TEST_UNSET:-x}\nc: $$5\n", d);
    cr_assert_not_null(doc, "%s", printed(d));
    cr_assert_str_eq(y_text(y_get(y_root(doc), "a")), "/data/in.jsonl");
    cr_assert_str_eq(y_text(y_get(y_root(doc), "b")), "x");
    cr_assert_str_eq(y_text(y_get(y_root(doc), "c")), "$5");
    y_doc_destroy(doc);
    cr_assert_null(load("a: ${WEIR_TEST_UNSET}\n", d));
    cr_assert_not_null(
        strstr(printed(d), "t.yaml:1:4: error: environment variable 'WEIR_TEST_UNSET' is not set"),
        "%s", printed(d));
    y_diag_destroy(d);
}

Test(yaml_doc, did_you_mean_and_keys)
{
    static const char *const keys[] = {"type", "name", "input", "config", "windowing", NULL};
    cr_assert_str_eq(y_did_you_mean("windowng", keys), "windowing");
    cr_assert_str_eq(y_did_you_mean("confg", keys), "config");
    cr_assert_str_eq(y_did_you_mean("Type", keys), "type", "case does not count");
    cr_assert_str_eq(y_did_you_mean("nmae", keys), "name", "a transposition is one edit");
    cr_assert_null(y_did_you_mean("zzzzzz", keys));
    weir__diag *d = y_diag_create("t.yaml");
    weir__yaml_doc *doc = load("type: A\nwindowng: {}\nbogus: 1\n", d);
    cr_assert_eq(y_check_keys(d, y_root(doc), keys), 2);
    cr_assert_str_eq(printed(d),
                     "t.yaml:2:1: error: unknown key 'windowng' (did you mean 'windowing'?)\n"
                     "t.yaml:3:1: error: unknown key 'bogus' (expected one of: type, name, input, "
                     "config, windowing)\n");
    y_doc_destroy(doc);
    y_diag_destroy(d);
}

Test(durations, parse)
{
    int64_t ms;
    char err[256];
    struct {
        const char *text;
        int64_t ms;
    } ok[] = {{"1500", 1500},   {"1500ms", 1500}, {"10s", 10000}, {"1m", 60000},   {"2h", 7200000},
              {"1d", 86400000}, {"1.5s", 1500},   {"0", 0},       {"0.25m", 15000}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        cr_assert_eq(weir__duration_parse(ok[i].text, &ms, err, sizeof err), 0, "%s: %s",
                     ok[i].text, err);
        cr_assert_eq(ms, ok[i].ms, "%s", ok[i].text);
    }
    const char *bad[] = {"10x", "", "s", "-5s", "1.0001s", "99999999999999999999", "10 s", "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_neq(weir__duration_parse(bad[i], &ms, err, sizeof err), 0, "'%s' must be refused",
                      bad[i]);
}
