/* state/checkpoint_store.h: checkpoints on disk: writing, reading, listing and deleting them.
 *
 * Layout. A checkpoint n is the directory DIR/chk-<n>/ holding
 *   worker-<k>.state  one per worker: the snapshot sections of its operators;
 *   carry.state       output of earlier checkpoints that could not be written (see below);
 *   MANIFEST          written last (temporary file, fsync, rename, fsync of the directory): a
 *                     checkpoint is complete exactly when its MANIFEST exists and is intact.
 *
 * A .state file (format version 1, integers little-endian):
 *   "WEIRSTAT"            8 bytes
 *   u32 version           1
 *   u32 worker            the worker that wrote it (0xffffffff for carry.state)
 *   u64 checkpoint        n
 *   u32 n_sections
 *   u32 0                 reserved
 *   n_sections x {u32 node, u32 group, u64 offset, u64 length}
 *                         node: index of the operator in the graph; group: a key group
 *                         (0..127), 128 for the instance's shared state, 129 for sink output;
 *                         offset: from the start of the data
 *   data                  the sections' bytes, each in its operator's own encoding
 *   u32 crc32c            of every byte before it
 *
 * MANIFEST is text, one item per line:
 *   weir-checkpoint 1
 *   id N
 *   time MS               completion time, ms since the epoch
 *   workers W             worker count of the run that wrote it
 *   key_groups 128
 *   final 0|1             1: taken at the end of the run (inputs ended or the run was stopped)
 *   ended 0|1             1: final, and every input had ended (a restart has nothing to do)
 *   node I KIND NAME      one per graph node: a restore checks that the pipeline is the same
 *   file NAME SIZE CRC    one per .state file, CRC as 8 hex digits
 *   output NODE BASE LENGTH PATH
 *                         a file sink: the length its file had before this checkpoint's output
 *                         (BASE) and the bytes this checkpoint appends (LENGTH): the sections
 *                         of group 129 of that node in carry.state, then worker 0, 1, ...
 *   crc C                 crc32c of every byte before this line
 *
 * Sink output of a checkpoint that could not be written is carried into the next one
 * (carry.state), so a failed checkpoint loses nothing. */
#ifndef WEIR_STATE_CHECKPOINT_STORE_H
#define WEIR_STATE_CHECKPOINT_STORE_H

#include "snapshot_writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEIR__CK_CARRY_WORKER 0xffffffffu

typedef struct weir__ck_file {
    char name[48];
    uint64_t size;
    uint32_t crc;
} weir__ck_file;

typedef struct weir__ck_output {
    uint32_t node;
    uint64_t base, len;
    char *path;
} weir__ck_output;

typedef struct weir__ck_manifest {
    uint64_t id;
    int64_t time_ms;
    uint32_t workers;
    bool final;
    bool ended; /* final, taken after every input ended (not a stop) */
    uint32_t n_nodes;
    char **node_kind, **node_name;
    uint32_t n_files;
    weir__ck_file *files;
    uint32_t n_outputs;
    weir__ck_output *outputs;
} weir__ck_manifest;

void weir__ck_manifest_free(weir__ck_manifest *m);

/* A loaded .state file. */
typedef struct weir__ck_state {
    uint8_t *raw; /* the whole file */
    const uint8_t *data;
    size_t data_len;
    uint32_t worker;
    uint32_t n_sections;
    weir__snap_section *sections;
} weir__ck_state;

void weir__ck_state_free(weir__ck_state *s);

/* Creates DIR (and its parents) if missing. 0 or WEIR_EIO with a message. */
int weir__ck_mkdirs(const char *dir, char *errbuf, size_t errlen);
/* Creates DIR/chk-<id>/ (removing a leftover of that name first). */
int weir__ck_begin(const char *dir, uint64_t id, char *errbuf, size_t errlen);
/* Writes the sections of ws[0..n_ws) (one writer per operator) as DIR/chk-<id>/NAME, durable
 * when it returns 0; fills f. On failure, WEIR_EIO and the path and reason in errbuf. `fail`
 * (tests): fail as a full disk would. */
int weir__ck_write_state(const char *dir, uint64_t id, const char *name, uint32_t worker,
                         const weir_snap_writer *ws, uint32_t n_ws, weir__ck_file *f, bool fail,
                         char *errbuf, size_t errlen);
/* Writes DIR/chk-<m->id>/MANIFEST: the checkpoint is complete when this returns 0. */
int weir__ck_write_manifest(const char *dir, const weir__ck_manifest *m, char *errbuf,
                            size_t errlen);
/* Reads and checks the manifest of checkpoint id. WEIR_ENOENT: none (the checkpoint never
 * completed); WEIR_ECORRUPT: damaged (errbuf names the file and what is wrong). */
int weir__ck_read_manifest(const char *dir, uint64_t id, weir__ck_manifest *m, char *errbuf,
                           size_t errlen);
/* Reads and checks one .state file listed in a manifest. WEIR_ECORRUPT when damaged. */
int weir__ck_read_state(const char *dir, uint64_t id, const weir__ck_file *f, weir__ck_state *s,
                        char *errbuf, size_t errlen);
/* The ids of the chk-<n> directories in dir, ascending (*ids malloc'ed; 0 when dir is missing). */
int weir__ck_list(const char *dir, uint64_t **ids, uint32_t *n);
/* Deletes checkpoint id's directory and what it holds. */
int weir__ck_remove(const char *dir, uint64_t id);
/* Bytes held by checkpoint id's files. */
uint64_t weir__ck_size(const char *dir, uint64_t id);

#endif
