/* tests/fuzz/fuzz_json.c: libFuzzer target for the JSON lines reader and writer: any input must
 * be accepted or refused with a message, never crash; accepted lines merged by the writer must
 * parse again, and a line the reader calls compact is written back unchanged. */
#include "weir/error.h"
#include "weir/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static weir_json_fields *f;
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!f) {
        const char *p[] = {"a", "a.b", "b", "c.d.e", "\xC3\xA9", "x"};
        weir_json_fields_create(&f, 6, p);
    }
    char *line = malloc(size ? size : 1);
    memcpy(line, data, size);
    weir_arena a;
    weir_arena_init(&a, 256);
    weir_value out[6];
    char err[128];
    bool compact;
    int rc = weir_json_parse_object_compact(f, line, size, out, &a, err, sizeof err, &compact);
    if (rc == 0) {
        weir_buf b;
        weir_buf_init(&b);
        /* a line said to be compact is what the writer makes of it with no fields */
        if (weir_json_write_object(&b, 0, NULL, NULL, line, size)) abort();
        if (compact && (b.len != size + 1 || memcmp(b.data, line, size))) {
            fprintf(stderr, "compact, but written as\n%.*s\n", (int)b.len, b.data);
            abort();
        }
        b.len = 0;
        if (weir_json_write_object(&b, 6, (char *const[]){"a", "q", "b", "c.d.e", "z", "x"}, out,
                                   line, size))
            abort();
        /* the merged output must be a valid object again */
        weir_value o2[6];
        if (weir_json_parse_object(f, b.data, b.len - 1, o2, &a, err, sizeof err)) {
            fprintf(stderr, "%s\n%.*s\n", err, (int)b.len, b.data);
            abort();
        }
        for (int i = 0; i < 6; i++)
            if (o2[i].type != out[i].type && !(i == 1)) {
                /* a and b and x keep types; c.d.e is written under a literal "c.d.e" key so not
                 * re-read */
                if (i == 0 || i == 2 || i == 5) {
                    fprintf(stderr, "type changed %d\n", i);
                    abort();
                }
            }
        weir_buf_finish(&b);
    } else if (rc != WEIR_EPARSE)
        abort();
    else if (strncmp(err, "column ", 7))
        abort();
    weir_arena_finish(&a);
    free(line);
    return 0;
}
