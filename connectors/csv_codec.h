/* connectors/csv_codec.h: the CSV codec (RFC 4180): cutting a byte stream into records and
 * cells, typing a cell, and writing cells back. Pure functions on memory the caller owns, no
 * I/O, no allocation except the cell array the caller lends (grown with realloc): the file source
 * (csv_rows.c), the file sink and the fuzz target use them. Private to connectors/ (and tests).
 *
 * Reading (csv_read.c). A record ends at a line feed outside quotes; a carriage return just
 * before it belongs to the line end (CRLF or LF). Cells are separated by the delimiter (one byte,
 * default ','). A cell that starts with '"' is quoted: it ends at the next lone '"', a '""' in it
 * stands for one '"', and it may hold delimiters, CR and LF (so a record can span lines). Spaces
 * are part of a cell (RFC 4180 §2.4). Strict, so that bad input is an error rather than a
 * silently altered record: a '"' inside an unquoted cell, anything but a delimiter or the line end
 * after a closing quote, a carriage return outside quotes that does not end the line, and a quote
 * still open at the end of the input are errors of the record (which still ends where it would,
 * so one bad record does not swallow the next ones; an open quote does run to the end of input,
 * as in every CSV reader).
 *
 * Typing (weir__csv_cell_value). A column is declared (int, float, string, bool, timestamp) or
 * inferred per cell. An empty unquoted cell is null whatever the type; a quoted empty cell ("")
 * is the empty string in a string or inferred column (the PostgreSQL COPY convention, so null and
 * "" survive a round trip) and null otherwise. Inference, as a JSON reader would type the cell's
 * text (quoting does not matter, as in pandas, Spark and DuckDB): a JSON number is an int (no
 * fraction or exponent, within int64) or a float (finite); true/false (also True/False, TRUE/
 * FALSE) a bool; anything else a string (bytes when it is not valid UTF-8). So "007" and "+5"
 * stay strings (a JSON number has neither), "1e3" is the float 1000.0. Declared types: int is
 * [+-]digits within int64; float is [+-] digits with an optional fraction and exponent (".5",
 * "5." and "1e3" too; no hex, inf or nan), finite; bool as above; timestamp an integer (ms since
 * the epoch) or an RFC 3339 date-time, stored as int ms; string the text as it is.
 *
 * Writing (csv_write.c). Null is an empty cell, a bool true/false, numbers as the JSON writer
 * writes them (NaN and infinities, which JSON writes as null, as an empty cell), strings and
 * bytes as they are, nested JSON as its text. A cell is quoted when it holds the delimiter, '"',
 * CR or LF, and an empty string is written "" so that it reads back as "" and not null. Lines end
 * with LF. What the writer writes, the reader reads back to the same values when the columns are
 * declared (inference types a string "12" as the int 12: CSV has no types of its own). */
#ifndef WEIR_CONNECTORS_CSV_CODEC_H
#define WEIR_CONNECTORS_CSV_CODEC_H

#include "weir/arena.h"
#include "weir/buf.h"
#include "weir/value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One cell of a record: text[off .. off + len) of the record (inside the quotes of a quoted
 * cell, with its '""' pairs still doubled when escapes). */
typedef struct weir__csv_cell {
    uint32_t off, len;
    bool quoted, escapes;
} weir__csv_cell;

typedef struct weir__csv_record {
    size_t len;        /* bytes the record takes, its line end included */
    size_t text_len;   /* bytes of the record without its line end */
    uint32_t newlines; /* line feeds in len (those in quoted cells and the line end) */
    uint32_t n_cells;
    const char *error;   /* NULL, or what is wrong with the record (a static string) */
    uint32_t error_cell; /* 1-based cell of the error */
} weir__csv_record;

/* Result of weir__csv_scan besides negative codes. */
enum { WEIR__CSV_RECORD = 0, WEIR__CSV_MORE = 1 };

/* Scans the record at the start of p[0..n). Returns WEIR__CSV_RECORD with *rec and the cells in
 * (*cells)[0 .. rec->n_cells) (the array is the caller's, grown with realloc as needed, *cap its
 * length); WEIR__CSV_MORE when the record may go on past n and eof is false (nothing is consumed:
 * scan again from the same start with more input); WEIR_ENOMEM. With eof, the end of p ends the
 * record (an open quote is then rec->error). n must be > 0 and below 4 GiB. */
int weir__csv_scan(const char *p, size_t n, bool eof, char delimiter, weir__csv_cell **cells,
                   uint32_t *cap, weir__csv_record *rec);

/* The text of a cell of record text: borrowed from text when it has no escapes, else decoded
 * into arena (NULL with *len unset on no memory). */
const char *weir__csv_cell_text(const char *text, const weir__csv_cell *c, weir_arena *arena,
                                size_t *len);

/* Column types: declared, or inferred per cell. */
typedef enum weir__csv_type {
    WEIR__CSV_INFER = 0,
    WEIR__CSV_INT,
    WEIR__CSV_FLOAT,
    WEIR__CSV_STRING,
    WEIR__CSV_BOOL,
    WEIR__CSV_TIMESTAMP,
} weir__csv_type;

/* "int", "float", "string", "bool", "timestamp" to the type; -1 for anything else. */
int weir__csv_type_parse(const char *name);
/* The type's name ("inferred" for WEIR__CSV_INFER). */
const char *weir__csv_type_name(weir__csv_type t);

/* The value of the cell s[0..len) (its text, decoded) in a column of type t, quoted as it was.
 * Strings point into s. 0, or WEIR_EPARSE with "what is wrong" in errbuf (e.g. `"abc" is not an
 * int`). */
int weir__csv_cell_value(const char *s, size_t len, bool quoted, weir__csv_type t, weir_value *out,
                         char *errbuf, size_t errlen);

/* Whether d can separate cells (0 means the default ','): not '"', CR, LF. */
static inline bool weir__csv_delimiter_ok(char d)
{
    return d != '"' && d != '\r' && d != '\n';
}

/* ---- writing: each appends to b and returns 0 or WEIR_ENOMEM (b then keeps its length) ---- */

/* s[0..len) as one cell, quoted when needed (see the file comment; empty: ""). */
int weir__csv_write_text(weir_buf *b, const char *s, size_t len, char delimiter);
/* A value as one cell. WEIR_EINVAL for WEIR_TYPE_ANY or an unknown type. */
int weir__csv_write_value(weir_buf *b, const weir_value *v, char delimiter);
/* One line: values[cols[0]], values[cols[1]], ... (n cells) and '\n'. */
int weir__csv_write_row(weir_buf *b, const weir_value *values, const int32_t *cols, uint32_t n,
                        char delimiter);

#endif
