/* runner/kafka_dev.c: `weir kafka-dev`: serves librdkafka's mock cluster (the Kafka wire
 * protocol on loopback TCP, so any Kafka client, kcat included, can use it), creates the named
 * topics, prints the bootstrap address as the first line of standard output and serves until
 * SIGINT or SIGTERM.
 *
 * For fault-injection tests it reads control commands, one per line, from standard input when
 * standard input is not a terminal (end of input just stops reading):
 *   broker-down ID | broker-up ID | rtt ID MS | topic NAME PARTITIONS |
 *   errors API_KEY COUNT ERROR_CODE (the next COUNT requests of that API fail with that code)
 * Each command is answered on standard output with "ok" or "error: ...".
 *
 * The mock cluster of librdkafka 2.0.2 keeps about 5 MiB per partition and holds empty fetches
 * for fetch.wait.max.ms: clients should use fetch.wait.max.ms=1 against it (ARCHITECTURE.md). */
#include "kafka_dev.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char weir__kafka_dev_usage[] =
    "Usage: weir kafka-dev [--brokers N] [--topic NAME:PARTITIONS ...]\n"
    "\n"
    "Starts a local Kafka-protocol cluster (librdkafka's mock cluster) on 127.0.0.1 for\n"
    "development and tests, creates the named topics, prints its bootstrap address as the\n"
    "first line of standard output, and serves until SIGINT or SIGTERM (exit 0). Data lives in\n"
    "memory only (about 5 MiB per partition).\n"
    "\n"
    "Options:\n"
    "  --brokers N               number of brokers (default 1)\n"
    "  --topic NAME:PARTITIONS   create a topic (repeatable; PARTITIONS default 1)\n"
    "\n"
    "When standard input is not a terminal, control commands are read from it, one per line:\n"
    "  broker-down ID, broker-up ID, rtt ID MS, topic NAME PARTITIONS,\n"
    "  errors API_KEY COUNT ERROR_CODE\n";

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig, stop = 1;
}

static int parse_topic(const char *arg, char *name, size_t n, int *partitions)
{
    const char *colon = strrchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    if (len == 0 || len >= n) return -1;
    memcpy(name, arg, len);
    name[len] = 0;
    *partitions = 1;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 1 || p > 10000) return -1;
        *partitions = (int)p;
    }
    return 0;
}

static void control(rd_kafka_mock_cluster_t *mc, char *line)
{
    char cmd[32], name[256];
    long a = 0, b = 0, c = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) return;
    if (sscanf(line, "broker-down %ld", &a) == 1)
        err = rd_kafka_mock_broker_set_down(mc, (int32_t)a);
    else if (sscanf(line, "broker-up %ld", &a) == 1)
        err = rd_kafka_mock_broker_set_up(mc, (int32_t)a);
    else if (sscanf(line, "rtt %ld %ld", &a, &b) == 2)
        err = rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b);
    else if (sscanf(line, "topic %255s %ld", name, &a) == 2)
        err = rd_kafka_mock_topic_create(mc, name, (int)a, 1);
    else if (sscanf(line, "errors %ld %ld %ld", &a, &b, &c) == 3) {
        rd_kafka_resp_err_t *codes = calloc((size_t)(b > 0 ? b : 1), sizeof *codes);
        for (long i = 0; codes && i < b; i++) codes[i] = (rd_kafka_resp_err_t)c;
        if (codes) rd_kafka_mock_push_request_errors_array(mc, (int16_t)a, (size_t)b, codes);
        free(codes);
    } else {
        sscanf(line, "%31s", cmd);
        printf("error: unknown command '%s'\n", cmd);
        fflush(stdout);
        return;
    }
    if (err)
        printf("error: %s\n", rd_kafka_err2str(err));
    else
        printf("ok\n");
    fflush(stdout);
}

int weir__kafka_dev_main(int argc, char **argv)
{
    int brokers = 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(weir__kafka_dev_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 64) {
                fprintf(stderr, "weir: --brokers takes a number from 1 to 64\n");
                return 2;
            }
            brokers = (int)n;
        } else if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
            i++; /* created below, once the cluster runs */
        } else {
            fprintf(stderr, "weir: kafka-dev: unexpected argument '%s'\n\n%s", argv[i],
                    weir__kafka_dev_usage);
            return 2;
        }
    }
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "weir: error: kafka-dev: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "weir: error: kafka-dev: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--topic") || i + 1 >= argc) continue;
        char name[256];
        int partitions;
        if (parse_topic(argv[++i], name, sizeof name, &partitions)) {
            fprintf(stderr, "weir: --topic takes NAME:PARTITIONS, not '%s'\n", argv[i]);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 2;
        }
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, partitions, 1);
        if (err) {
            fprintf(stderr, "weir: error: kafka-dev: topic %s: %s\n", name, rd_kafka_err2str(err));
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 1;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool read_stdin = !isatty(0);
    char line[512];
    size_t len = 0;
    while (!stop) {
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        int n = poll(&pfd, read_stdin ? 1 : 0, 200);
        if (n <= 0 || !read_stdin) continue;
        ssize_t r = read(0, line + len, sizeof line - 1 - len);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            read_stdin = false; /* end of control input: keep serving */
            continue;
        }
        len += (size_t)r;
        line[len] = 0;
        char *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            control(mc, line);
            memmove(line, nl + 1, len - (size_t)(nl + 1 - line) + 1);
            len -= (size_t)(nl + 1 - line);
        }
        if (len == sizeof line - 1) len = 0; /* an overlong line is dropped */
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
