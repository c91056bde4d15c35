/* connectors/csv_rows.h: CSV records to rows, for ReadFromFile with format csv: the header of
 * each file, the type of each column, and each record handed to json_rows (which keeps the event
 * time, the watermark, the partitions and the error routing exactly as for JSON lines). Private
 * to connectors/.
 *
 * DECISIONS (README "Files"):
 * - The first record of each file is its header, naming the columns; a file may order its
 *   columns differently from another file of the same glob. No header (an empty file, read to its
 *   end without `follow`), a header with an error of form, an empty or repeated name, a declared
 *   column or the timestamp column missing from it: the run stops with "PATH:LINE: ...", even
 *   with error_handling (no record of that file could be read).
 * - Empty lines hold no record and are skipped, as in JSON lines; except in a file of one column,
 *   where an empty line is a record whose cell is null (so that what the CSV sink writes for a
 *   null reads back).
 * - Types: see csv_codec.h. Every cell of a record is typed, also those no transform reads,
 *   because a row passes them on as its raw JSON object: pass-through to a JSON sink writes the
 *   columns as typed JSON members, in header order. So a cell that does not parse as its declared
 *   type is an error whether or not the pipeline reads it.
 * - A field the pipeline reads that is not a column of the file is null (as an absent member of a
 *   JSON line), so one glob can hold files with and without an optional column.
 * - Bad records (a form error, a number of cells other than the header's, a cell that is not of
 *   its column's type, a missing or bad timestamp) are record errors at the line where the record
 *   starts, with the record's text as read. */
#ifndef WEIR_CONNECTORS_CSV_ROWS_H
#define WEIR_CONNECTORS_CSV_ROWS_H

#include "csv_codec.h"
#include "json_rows.h"

typedef struct csv_rows {
    const json_source_config *cfg;
    const char *path;
    bool have_header;
    uint32_t n_columns;
    char **names;        /* [n_columns] the header */
    uint8_t *types;      /* [n_columns] weir__csv_type of each column */
    int32_t *field_col;  /* [cfg->n_fields] column of each extracted field, or -1 */
    weir_buf names_json; /* "name": of every column, one after the other */
    uint32_t *name_end;  /* [n_columns] end of each in names_json */
    weir_value *colv;    /* [n_columns] the cells of the record at hand */
    weir__csv_cell *cells;
    uint32_t cap_cells;
    weir_buf scratch; /* the record's JSON object being rendered */
} csv_rows;

/* init/finish on caller memory; path (the file, for messages) is borrowed. */
void weir__csv_rows_init(csv_rows *c, const json_source_config *cfg, const char *path);
void weir__csv_rows_finish(csv_rows *c);
/* Scans the record at p[0..n) (eof: nothing follows n). Returns WEIR__CSV_RECORD with *rec, or
 * WEIR__CSV_MORE, or WEIR_ENOMEM (see weir__csv_scan). */
int weir__csv_rows_scan(csv_rows *c, const char *p, size_t n, bool eof, weir__csv_record *rec);
/* The record just scanned, text[0..rec->len), starting at line pos: the file's header while it
 * has none, else a row of j (or a record error). 0 or the run's error. */
int weir__csv_rows_record(csv_rows *c, json_rows *j, const char *text, const weir__csv_record *rec,
                          int64_t pos);
/* The file ended: an error when it had no header. 0 or the run's error. */
int weir__csv_rows_at_end(csv_rows *c, json_rows *j);

#endif
