/* tests/fuzz/fuzz_yaml.c: libFuzzer target for the YAML loader (runner/yaml_doc.c): any bytes
 * must load or be refused with positioned messages, never crash, leak or loop; a loaded tree is
 * walked whole, and --set and key checks are run on it. */
#include "yaml_doc.h"

#include <stddef.h>
#include <stdint.h>

static void walk(ynode n, int depth)
{
    if (!n || depth > 300) return;
    (void)y_text(n), (void)y_line(n), (void)y_column(n), (void)y_is_null(n);
    for (uint32_t i = 0; i < y_len(n); i++) {
        if (y_is_map(n)) {
            walk(y_key(n, i), depth + 1);
            walk(y_val(n, i), depth + 1);
        } else {
            walk(y_item(n, i), depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir__diag *d = y_diag_create("fuzz.yaml");
    weir__yaml_doc *doc = NULL;
    if (d && y_load_string("fuzz.yaml", (const char *)data, size, &doc, d) == 0) {
        static const char *const keys[] = {"pipeline", "options", NULL};
        walk(y_root(doc), 0);
        y_check_keys(d, y_root(doc), keys);
        y_set(doc, "options.workers=2", d);
        y_set(doc, "pipeline.transforms[0].config.path=x", d);
        walk(y_root(doc), 0);
        y_doc_destroy(doc);
    }
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        y_print(d, null);
        fclose(null);
    }
    y_diag_destroy(d);
    return 0;
}
