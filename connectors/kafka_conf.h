/* connectors/kafka_conf.h: librdkafka configuration shared by the Kafka source and sink:
 * weir's defaults, then the user's settings, with errors that name the setting. Private to
 * connectors/. */
#ifndef WEIR_CONNECTORS_KAFKA_CONF_H
#define WEIR_CONNECTORS_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* A NULL-terminated list of key, value pairs copied into one allocation (NULL for NULL; the
 * result is NULL on no memory, or for an odd count with *odd set). Free with free(). */
char **weir__kafka_pairs_copy(const char *const *pairs, int *odd);

/* A configuration with defaults[] (key, value, ..., NULL), bootstrap.servers, then user[]
 * applied in order. NULL with a message in errbuf naming the setting ("what: key: error"). */
rd_kafka_conf_t *weir__kafka_conf(const char *what, const char *bootstrap,
                                  const char *const *defaults, char *const *user, char *errbuf,
                                  size_t errlen);

/* A pipe whose read end a uv_poll_t watches and whose write end librdkafka writes to when the
 * queue becomes non-empty (rd_kafka_queue_io_event_enable). 0 or -errno. */
int weir__kafka_event_pipe(int fds[2]);
/* Empties the read end (after it polled readable). */
void weir__kafka_event_drain(int fd);

#endif
