/* connectors/kafka_txn.h: the exactly-once mode of WriteToKafka (`exactly_once: true`): output
 * held per checkpoint and written to Kafka in one transaction when that checkpoint completes.
 *
 * The sink hands every record to weir__ktxn_hold instead of producing it. At a checkpoint the
 * records held since the previous one become a segment named "INSTANCE.cCHECKPOINT" (INSTANCE: 16
 * random hex digits drawn when the sink opens, so every run attempt of every worker has its own)
 * and the snapshot holds every segment not yet committed. When the checkpoint completes the
 * segments up to it are produced in one transaction of the worker's transactional producer,
 * each record with a header `weir.txn` naming the transaction ("INSTANCE.tN"), and committed;
 * then a line "TXN SEGMENT..." is appended (and fdatasync'ed) to the commit log
 * DIR/kafka-txn-NODE.log beside the checkpoints. A commit that fails with an abortable error is
 * aborted and tried again (the records are still held), up to 5 times, then the run stops.
 *
 * Restart: each worker's producer has the transactional.id PREFIX-wWORKER; its
 * rd_kafka_init_transactions fences any producer of an earlier run with that id and aborts its
 * open transaction. (Worker 0 also fences the ids of the workers an earlier run had beyond this
 * run's count, recorded in DIR/kafka-txn-NODE.workers.) The restored snapshot holds the segments
 * that were not committed when it was taken; those the commit log does not list are produced
 * again, at once, in a transaction of their own: the results of a complete checkpoint are never
 * lost, and never written twice by a transaction the log lists.
 *
 * The limit: a crash after the broker committed a transaction and before its log line was
 * written makes the restart write those segments again (at-least-once for that checkpoint);
 * librdkafka cannot resume another producer's transaction to learn its outcome. A consumer that
 * keeps only the records whose `weir.txn` the log lists sees each result exactly once always,
 * and so does a read_committed consumer on a real cluster but for that window. librdkafka
 * 2.0.2's mock cluster (`weir kafka-dev`) does not hide aborted or open transactions from
 * read_committed consumers, so on it only the first way shows exactly-once. */
#ifndef WEIR_CONNECTORS_KAFKA_TXN_H
#define WEIR_CONNECTORS_KAFKA_TXN_H

#include "weir/operator.h"
#include "weir/snapshot.h"

#include <librdkafka/rdkafka.h>

typedef struct weir__ktxn weir__ktxn;

/* Creates the worker's transactional producer (conf is consumed) and initialises its
 * transactions (fencing earlier runs). NULL on failure, with the message in err. */
weir__ktxn *weir__ktxn_open(weir_operator *op, rd_kafka_conf_t *conf, const char *topic,
                            char *err, size_t errlen);
rd_kafka_t *weir__ktxn_producer(weir__ktxn *t);
/* Holds one record for the next checkpoint (key NULL: none). 0 or WEIR_ENOMEM. */
int weir__ktxn_hold(weir__ktxn *t, const void *key, size_t klen, const void *val, size_t vlen,
                    int64_t ts);
/* At a checkpoint: seals what is held into the checkpoint's segment, writes the uncommitted
 * segments into w. */
int weir__ktxn_snapshot(weir__ktxn *t, weir_snap_writer *w);
/* Checkpoint `id` completed: commits the segments up to it. 0 or a code (message set). */
int weir__ktxn_commit(weir__ktxn *t, uint64_t id);
/* Restores a shared section: the segments of the old instance it names that this instance
 * recovers and the commit log does not list are committed now. */
int weir__ktxn_restore(weir__ktxn *t, weir_snap_reader *r);
void weir__ktxn_free(weir__ktxn *t);

#endif
