/* weir/graph.h: adding nodes to a pipeline, for operator and connector authors.
 *
 * The DSL calls (weir_read_file, weir_combine, ...) are thin wrappers over
 * weir_pipeline_add_node: a node is an operator class, its configuration, its inputs and the
 * schemas of its outputs. The engine knows nothing of particular operators. */
#ifndef WEIR_GRAPH_H
#define WEIR_GRAPH_H

#include "weir/operator.h"
#include "weir/pipeline.h"

/* How one input of a node is partitioned: by key (an exchange when several workers run, so that
 * all rows of a key meet in one worker), or not. */
typedef struct weir_input_key {
    bool keyed;
    const int32_t *fields; /* key columns of that input (copied); with n_fields 0 every row goes
                              to one worker */
    uint32_t n_fields;
} weir_input_key;

/* A combiner lifted before the exchange of a node's input 0 (Beam's combiner lifting, Spark's
 * map-side combine). When several workers run, every worker runs an instance of `cls` between
 * that input's producer and the exchange: it reduces its worker's rows to fewer partial rows of
 * `schema`, keyed by `key_fields` (columns of schema), and the exchange moves those instead. The
 * keyed node then receives the partial rows, and weir_operator_input_lifted tells it so. With
 * one worker there is no exchange, nothing is lifted and the node receives the producer's rows.
 * The lifted instance is opened with the node's configuration; before a checkpoint barrier
 * leaves its worker its `flush` is called (it emits everything it holds, so that it has no
 * state of its own to checkpoint), and its END batch must come after everything it held. */
typedef struct weir_lift_spec {
    const weir_operator_class *cls;
    weir_schema *schema;       /* of the partial rows; taken over */
    const int32_t *key_fields; /* key columns of schema (copied) */
    uint32_t n_key_fields;
} weir_lift_spec;

typedef struct weir_node_spec {
    const char *kind; /* e.g. "ReadFromFile", for messages and graphs */
    const char *name; /* node name (NULL: kind, made unique) */
    const weir_operator_class *cls;
    void *config; /* taken over, also on failure */
    void (*config_free)(void *config);
    weir_stream *const *inputs; /* n_inputs streams of this pipeline */
    uint32_t n_inputs;
    weir_schema *schema;   /* main output (NULL for sinks); taken over */
    weir_schema *extra[4]; /* extra output ports 1..n_extra; taken over */
    uint32_t n_extra;
    bool keyed;                /* input 0 must be partitioned by key (an exchange) */
    const int32_t *key_fields; /* with keyed: key columns of input 0 (copied) */
    uint32_t n_key_fields;     /* 0: everything goes to one worker */
    /* Optional, for nodes keyed on several inputs (a Join): input_keys[i] for each of the
     * n_inputs inputs (copied). When set, it replaces keyed / key_fields / n_key_fields. */
    const weir_input_key *input_keys;
    /* Optional: a combiner lifted before the exchange of input 0 (see weir_lift_spec), which
     * must then be keyed. NULL: none. Its schema is taken over, also on failure. */
    const weir_lift_spec *lift;
} weir_node_spec;

/* Adds a node; returns its main output stream, or the pipeline's failed stream (with the error
 * recorded) when p is failed already or the spec is invalid. Never NULL if p is not NULL. */
weir_stream *weir_pipeline_add_node(weir_pipeline *p, const weir_node_spec *spec);
/* The pipeline's failed stream (what builder calls return after an error). */
weir_stream *weir_pipeline_failed_stream(weir_pipeline *p);
/* The pipeline a stream belongs to (NULL for NULL). */
weir_pipeline *weir_stream_pipeline(const weir_stream *s);
/* Whether s is the failed stream (a builder call before failed). */
bool weir_stream_failed(const weir_stream *s);
/* Output `port` of the node that produces s (port 0 is s itself's node main output). */
weir_stream *weir_stream_port(weir_stream *s, uint32_t port);
/* Kind and name of the node producing s. */
const char *weir_stream_kind(const weir_stream *s);

/* Read-only walk over the graph for front ends (weir graph). */
uint32_t weir_pipeline_node_count(const weir_pipeline *p);
const char *weir_pipeline_node_kind(const weir_pipeline *p, uint32_t i);
const char *weir_pipeline_node_name(const weir_pipeline *p, uint32_t i);
/* Whether node i's first input is partitioned by key (an exchange when several workers run). */
bool weir_pipeline_node_keyed(const weir_pipeline *p, uint32_t i);
/* Whether input `input` of node i is partitioned by key (false for an input it does not have). */
bool weir_pipeline_node_input_keyed(const weir_pipeline *p, uint32_t i, uint32_t input);
/* Whether node i has a combiner lifted before the exchange of its input 0 (weir_lift_spec): used
 * when several workers run. */
bool weir_pipeline_node_lifted(const weir_pipeline *p, uint32_t i);
/* Inputs of node i as (node index, port) pairs; returns their number. */
uint32_t weir_pipeline_node_inputs(const weir_pipeline *p, uint32_t i, uint32_t *nodes,
                                   uint32_t *ports, uint32_t max);

#endif
