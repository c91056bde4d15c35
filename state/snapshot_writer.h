/* state/snapshot_writer.h: the snapshot writer's structure, for the engine and the checkpoint
 * store (operators see only the functions of weir/snapshot.h). */
#ifndef WEIR_STATE_SNAPSHOT_WRITER_H
#define WEIR_STATE_SNAPSHOT_WRITER_H

#include "weir/snapshot.h"

/* (struct weir_snap_writer is in weir/snapshot.h, for the inlined puts) */

void weir__snap_writer_init(weir_snap_writer *w);
/* Empties it for the next checkpoint (keeps its memory). */
void weir__snap_writer_reset(weir_snap_writer *w);
void weir__snap_writer_finish(weir_snap_writer *w);
/* What follows is written by node `node` (closes the open section). */
void weir__snap_writer_node(weir_snap_writer *w, uint32_t node);
/* Closes the open section: the writer holds the whole snapshot. */
void weir__snap_writer_close(weir_snap_writer *w);

#endif
