/* runner/kafka_dev.h: `weir kafka-dev`, a local Kafka-protocol cluster for development and
 * tests. Private to the runner. */
#ifndef WEIR_RUNNER_KAFKA_DEV_H
#define WEIR_RUNNER_KAFKA_DEV_H

/* Runs the command with its arguments (after "kafka-dev"); returns the exit status. */
int weir__kafka_dev_main(int argc, char **argv);
extern const char weir__kafka_dev_usage[];

#endif
