/* connectors/kafka_conf.c: librdkafka configuration and the wake-up pipe shared by the Kafka
 * source and sink (see kafka_conf.h). */
#include "kafka_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char **weir__kafka_pairs_copy(const char *const *pairs, int *odd)
{
    *odd = 0;
    if (!pairs) return NULL;
    size_t n = 0, bytes = 0;
    while (pairs[n]) bytes += strlen(pairs[n++]) + 1;
    if (n % 2) {
        *odd = 1;
        return NULL;
    }
    char **out = malloc((n + 1) * sizeof *out + bytes);
    if (!out) return NULL;
    char *p = (char *)(out + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(pairs[i]) + 1;
        memcpy(p, pairs[i], len);
        out[i] = p;
        p += len;
    }
    out[n] = NULL;
    return out;
}

static int set(rd_kafka_conf_t *c, const char *what, const char *k, const char *v, char *errbuf,
               size_t errlen)
{
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) == RD_KAFKA_CONF_OK) return 0;
    snprintf(errbuf, errlen, "%s: %s: %s", what, k, err);
    return -1;
}

rd_kafka_conf_t *weir__kafka_conf(const char *what, const char *bootstrap,
                                  const char *const *defaults, char *const *user, char *errbuf,
                                  size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!c) {
        snprintf(errbuf, errlen, "%s: out of memory", what);
        return NULL;
    }
    for (size_t i = 0; defaults && defaults[i]; i += 2)
        if (set(c, what, defaults[i], defaults[i + 1], errbuf, errlen)) goto fail;
    if (set(c, what, "bootstrap.servers", bootstrap, errbuf, errlen)) goto fail;
    for (size_t i = 0; user && user[i]; i += 2)
        if (set(c, what, user[i], user[i + 1], errbuf, errlen)) goto fail;
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

int weir__kafka_event_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -errno;
    return 0;
}

void weir__kafka_event_drain(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}
