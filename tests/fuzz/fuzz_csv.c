/* tests/fuzz/fuzz_csv.c: libFuzzer target for the CSV reader and writer (connectors/csv_read.c,
 * csv_write.c): any input must be cut into records that cover it exactly, each accepted or
 * refused with a message, never a crash; every cell must type (inferred or declared) without
 * harm; and a record without error, written back cell by cell by the writer, must scan again to
 * the same cells. The first byte picks the delimiter, so ';' and tab are covered too. */
#include "../../connectors/csv_codec.h"
#include "weir/error.h"
#include "weir/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static weir__csv_cell *cells, *cells2;
static uint32_t cap, cap2;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1 || size > (1u << 20)) return 0;
    static const char delims[] = {',', ';', '\t', '|'};
    char d = delims[data[0] % 4];
    /* an exact-size copy, so that reading past the end is caught */
    size_t n = size - 1;
    char *in = malloc(n ? n : 1);
    memcpy(in, data + 1, n);
    weir_arena a;
    weir_arena_init(&a, 256);
    weir_buf out, json;
    weir_buf_init(&out);
    weir_buf_init(&json);
    size_t at = 0;
    while (at < n) {
        weir__csv_record rec, rec2;
        /* not at the end: either a whole record or a request for more */
        int more = weir__csv_scan(in + at, n - at, false, d, &cells, &cap, &rec);
        if (more != WEIR__CSV_RECORD && more != WEIR__CSV_MORE) abort();
        size_t len_not_eof = more == WEIR__CSV_RECORD ? rec.len : 0;
        if (weir__csv_scan(in + at, n - at, true, d, &cells, &cap, &rec) != WEIR__CSV_RECORD)
            abort();
        if (rec.len == 0 || rec.len > n - at || rec.text_len > rec.len || rec.n_cells == 0) abort();
        if (len_not_eof && len_not_eof != rec.len) abort(); /* knowing the end changes nothing */
        const char *text = in + at;
        weir_buf_clear(&out);
        for (uint32_t k = 0; k < rec.n_cells; k++) {
            const weir__csv_cell *c = &cells[k];
            if ((size_t)c->off + c->len > rec.len) abort();
            size_t len;
            const char *s = weir__csv_cell_text(text, c, &a, &len);
            if (!s) abort();
            for (int t = WEIR__CSV_INFER; t <= WEIR__CSV_TIMESTAMP; t++) {
                weir_value v;
                char err[128];
                if (weir__csv_cell_value(s, len, c->quoted, (weir__csv_type)t, &v, err,
                                         sizeof err) == 0) {
                    weir_buf_clear(&json);
                    if (weir_json_write_value(&json, &v) || weir__csv_write_value(&out, &v, d))
                        abort();
                    out.len = 0; /* only exercised; the text round trip follows */
                } else if (!err[0]) {
                    abort(); /* a refusal says why */
                }
            }
        }
        if (!rec.error) { /* write the texts back and scan them again */
            weir_buf_clear(&out);
            for (uint32_t k = 0; k < rec.n_cells; k++) {
                size_t len;
                const char *s = weir__csv_cell_text(text, &cells[k], &a, &len);
                if (k && weir_buf_putc(&out, d)) abort();
                if (weir__csv_write_text(&out, s, len, d)) abort();
            }
            if (weir_buf_putc(&out, '\n')) abort();
            if (weir__csv_scan(out.data, out.len, true, d, &cells2, &cap2, &rec2) !=
                    WEIR__CSV_RECORD ||
                rec2.error || rec2.len != out.len || rec2.n_cells != rec.n_cells)
                abort();
            for (uint32_t k = 0; k < rec.n_cells; k++) {
                size_t l1, l2;
                const char *s1 = weir__csv_cell_text(text, &cells[k], &a, &l1);
                const char *s2 = weir__csv_cell_text(out.data, &cells2[k], &a, &l2);
                if (l1 != l2 || memcmp(s1, s2, l1)) {
                    fprintf(stderr, "cell %u differs after a round trip\n", k);
                    abort();
                }
            }
        }
        at += rec.len;
        weir_arena_reset(&a);
    }
    weir_buf_finish(&out);
    weir_buf_finish(&json);
    weir_arena_finish(&a);
    free(in);
    return 0;
}
