/* examples/clicks_per_user.c: the clicks_per_user.yaml pipeline written with weir's C DSL.
 *
 *     build/examples/clicks_per_user examples/data/clicks.jsonl out.jsonl
 *
 * Keeps clicks with a positive amount (a C filter function) and counts clicks and money spent
 * per user in fixed 10-second event-time windows, with a watermark 5 s behind the largest
 * timestamp. Its output equals examples/clicks_per_user.expected.jsonl. */
#include <weir/weir.h>

#include <stdio.h>

static bool positive_amount(const weir_row *row, void *ctx)
{
    const int *amount = ctx; /* column index, resolved once when the graph was built */
    const weir_value *v = &row->values[*amount];
    return (v->type == WEIR_TYPE_INT && v->as.i > 0) ||
           (v->type == WEIR_TYPE_DOUBLE && v->as.d > 0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s INPUT.jsonl OUTPUT.jsonl\n", argv[0]);
        return 2;
    }
    weir_pipeline *p = weir_pipeline_create();
    if (!p) return 1;
    weir_stream *clicks =
        weir_read_file(p, &(weir_file_source){.path = argv[1],
                                              .timestamp = "ts",
                                              .max_out_of_orderness = WEIR_SECONDS(5),
                                              .fields = WEIR_FIELDS("user", "amount")});
    int amount = weir_stream_field(clicks, "amount");
    weir_stream *paid = weir_filter(clicks, positive_amount, &amount);
    weir_stream *spent = weir_combine(
        paid, &(weir_combine_spec){.group_by = WEIR_FIELDS("user"),
                                   .window = weir_fixed(WEIR_SECONDS(10)),
                                   .aggregates = WEIR_AGGREGATES(weir_count("clicks"),
                                                                 weir_sum("amount", "spent"))});
    weir_write_file(spent, &(weir_file_sink){.path = argv[2]});
    int err = weir_run(p, &(weir_run_options){.workers = 1});
    if (err) fprintf(stderr, "clicks_per_user: %s\n", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    return err ? 1 : 0;
}
