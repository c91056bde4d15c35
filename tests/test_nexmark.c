/* tests/test_nexmark.c: ReadFromNexmark (weir/nexmark.h). The stream has Nexmark's shape (1 : 3 :
 * 46 proportions, id ranges, prices, categories, hot auction and bidder ratios), seed 0 gives
 * Beam's events (values checked against a Java program running Beam's generator model with
 * java.util.Random), a seed determines the stream, every worker and partition count gives the
 * same events, and timestamps and watermarks behave: event n at base + n * 1e6 / rate us, each
 * partition's watermark rising, never above a later row, max_ts - B with out-of-orderness B.
 * The queries themselves are checked end to end (tests/e2e/run_nexmark.sh) against an
 * independent reference, tests/nexmark_ref.py. */
#include <criterion/criterion.h>
#include <weir/graph.h>
#include <weir/weir.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- collecting events ---- */

typedef struct event {
    int64_t ts;
    weir_value v[WEIR_NEXMARK_N_FIELDS];
    char *text; /* the whole row as one line, for multiset comparisons */
} event;

typedef struct events {
    pthread_mutex_t lock;
    event *e;
    size_t n, cap;
    char *strings; /* copies of the string values (event.v points here by offset, fixed later) */
} events;

static char *row_text(const weir_row *row)
{
    char buf[1024];
    size_t len = (size_t)snprintf(buf, sizeof buf, "%" PRId64, row->ts);
    for (uint32_t i = 0; i < row->schema->n_fields; i++) {
        const weir_value *v = &row->values[i];
        if (v->type == WEIR_TYPE_INT)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "|%" PRId64, v->as.i);
        else if (v->type == WEIR_TYPE_STRING)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "|%.*s", (int)v->len, v->as.s);
        else
            len += (size_t)snprintf(buf + len, sizeof buf - len, "|~");
    }
    return strdup(buf);
}

static int collect(const weir_row *row, void *ctx)
{
    events *es = ctx;
    pthread_mutex_lock(&es->lock);
    if (es->n == es->cap) {
        es->cap = es->cap ? es->cap * 2 : 1024;
        es->e = realloc(es->e, es->cap * sizeof *es->e);
    }
    event *e = &es->e[es->n++];
    e->ts = row->ts;
    e->text = row_text(row);
    for (int i = 0; i < WEIR_NEXMARK_N_FIELDS; i++) {
        e->v[i] = row->values[i];
        if (e->v[i].type == WEIR_TYPE_STRING) { /* keep a copy past the batch */
            char *s = malloc(e->v[i].len + 1);
            memcpy(s, e->v[i].as.s, e->v[i].len);
            s[e->v[i].len] = 0;
            e->v[i].as.s = s;
        }
    }
    pthread_mutex_unlock(&es->lock);
    return 0;
}

static void events_free(events *es)
{
    for (size_t i = 0; i < es->n; i++) {
        free(es->e[i].text);
        for (int k = 0; k < WEIR_NEXMARK_N_FIELDS; k++)
            if (es->e[i].v[k].type == WEIR_TYPE_STRING) free((char *)es->e[i].v[k].as.s);
    }
    free(es->e);
    pthread_mutex_destroy(&es->lock);
}

/* Runs ReadFromNexmark with opt at `workers` workers and collects its events. */
static void run(const weir_nexmark_source *opt, uint32_t workers, uint32_t batch, events *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_init(&out->lock, NULL);
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *s = weir_read_nexmark(p, opt);
    cr_assert_eq(weir_stream_schema(s)->n_fields, WEIR_NEXMARK_N_FIELDS);
    weir_collect(s, collect, out);
    int err = weir_run(p, &(weir_run_options){.workers = workers, .batch_size = batch});
    cr_assert_eq(err, 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **sorted_texts(const events *es)
{
    char **t = malloc((es->n + 1) * sizeof *t);
    for (size_t i = 0; i < es->n; i++) t[i] = es->e[i].text;
    qsort(t, es->n, sizeof *t, cmp_text);
    return t;
}

static int64_t i64(const event *e, int f)
{
    cr_assert_eq(e->v[f].type, WEIR_TYPE_INT, "field %d is not an int", f);
    return e->v[f].as.i;
}

static const char *s(const event *e, int f)
{
    cr_assert_eq(e->v[f].type, WEIR_TYPE_STRING, "field %d is not a string", f);
    return e->v[f].as.s;
}

static bool is_null(const event *e, int f)
{
    return e->v[f].type == WEIR_TYPE_NULL;
}

/* Beam's formulas for the last person / auction id (base 0) at event n. */
static int64_t last_person(int64_t n)
{
    return n / 50;
}

static int64_t last_auction(int64_t n)
{
    int64_t epoch = n / 50, off = n % 50;
    if (off < 1) return (epoch - 1) * 3 + 2;
    if (off >= 4) return epoch * 3 + 2;
    return epoch * 3 + off - 1;
}

/* ---- the stream's shape ---- */

Test(nexmark, proportions_ids_and_fields)
{
    events es;
    const int64_t n_events = 20000;
    run(&(weir_nexmark_source){.events = n_events}, 1, 0, &es);
    cr_assert_eq(es.n, (size_t)n_events);
    int64_t persons = 0, auctions = 0, bids = 0;
    for (int64_t n = 0; n < n_events; n++) { /* one partition: in event order */
        const event *e = &es.e[n];
        const char *type = s(e, WEIR_NEXMARK_EVENT_TYPE);
        cr_assert_eq(i64(e, WEIR_NEXMARK_TS), e->ts);
        int64_t rem = n % 50;
        int person[] = {WEIR_NEXMARK_NAME, WEIR_NEXMARK_EMAIL_ADDRESS, WEIR_NEXMARK_CREDIT_CARD,
                        WEIR_NEXMARK_CITY, WEIR_NEXMARK_STATE};
        int auction[] = {WEIR_NEXMARK_ITEM_NAME, WEIR_NEXMARK_DESCRIPTION, WEIR_NEXMARK_INITIAL_BID,
                         WEIR_NEXMARK_RESERVE,   WEIR_NEXMARK_EXPIRES,     WEIR_NEXMARK_SELLER,
                         WEIR_NEXMARK_CATEGORY};
        int bid[] = {WEIR_NEXMARK_AUCTION, WEIR_NEXMARK_BIDDER, WEIR_NEXMARK_PRICE,
                     WEIR_NEXMARK_CHANNEL, WEIR_NEXMARK_URL};
        bool is_person = rem == 0, is_auction = rem >= 1 && rem <= 3, is_bid = rem >= 4;
        for (size_t k = 0; k < sizeof person / sizeof *person; k++)
            cr_assert_eq(is_null(e, person[k]), !is_person, "event %" PRId64, n);
        for (size_t k = 0; k < sizeof auction / sizeof *auction; k++)
            cr_assert_eq(is_null(e, auction[k]), !is_auction, "event %" PRId64, n);
        for (size_t k = 0; k < sizeof bid / sizeof *bid; k++)
            cr_assert_eq(is_null(e, bid[k]), !is_bid, "event %" PRId64, n);
        cr_assert_eq(is_null(e, WEIR_NEXMARK_ID), is_bid);
        if (is_person) {
            persons++;
            cr_assert_str_eq(type, "person");
            cr_assert_eq(i64(e, WEIR_NEXMARK_ID), 1000 + n / 50); /* ids count from 1000 */
            const char *cc = s(e, WEIR_NEXMARK_CREDIT_CARD);
            cr_assert_eq(strlen(cc), 19);
            for (int k = 0; k < 19; k++)
                cr_assert(k % 5 == 4 ? cc[k] == ' ' : (cc[k] >= '0' && cc[k] <= '9'));
            const char *mail = s(e, WEIR_NEXMARK_EMAIL_ADDRESS);
            cr_assert(strchr(mail, '@') && strstr(mail, ".com"), "%s", mail);
            cr_assert(strchr(s(e, WEIR_NEXMARK_NAME), ' '));
            cr_assert_eq(strlen(s(e, WEIR_NEXMARK_STATE)), 2);
        } else if (is_auction) {
            auctions++;
            cr_assert_str_eq(type, "auction");
            cr_assert_eq(i64(e, WEIR_NEXMARK_ID), 1000 + (n / 50) * 3 + rem - 1);
            int64_t cat = i64(e, WEIR_NEXMARK_CATEGORY), seller = i64(e, WEIR_NEXMARK_SELLER);
            cr_assert(cat >= 10 && cat <= 14);
            cr_assert(seller >= 1000 && seller <= 1000 + last_person(n) + 10, "seller %" PRId64,
                      seller);
            int64_t initial = i64(e, WEIR_NEXMARK_INITIAL_BID);
            cr_assert(initial >= 100 && initial <= 100000000);
            cr_assert(i64(e, WEIR_NEXMARK_RESERVE) >= initial + 100);
            cr_assert(i64(e, WEIR_NEXMARK_EXPIRES) > e->ts);
            cr_assert(strlen(s(e, WEIR_NEXMARK_ITEM_NAME)) < 20);
            cr_assert(strlen(s(e, WEIR_NEXMARK_DESCRIPTION)) < 100);
        } else {
            bids++;
            cr_assert_str_eq(type, "bid");
            int64_t a = i64(e, WEIR_NEXMARK_AUCTION), b = i64(e, WEIR_NEXMARK_BIDDER);
            int64_t hi = last_auction(n), lo = hi > 100 ? hi - 100 : 0;
            cr_assert(a == 1000 + hi / 100 * 100 || (a >= 1000 + lo && a <= 1000 + hi + 10),
                      "auction %" PRId64 " at event %" PRId64, a, n);
            int64_t people = last_person(n) + 1, active = people < 1000 ? people : 1000;
            cr_assert(b == 1000 + last_person(n) / 100 * 100 + 1 ||
                          (b >= 1000 + people - active && b < 1000 + people + 10),
                      "bidder %" PRId64 " at event %" PRId64, b, n);
            int64_t price = i64(e, WEIR_NEXMARK_PRICE);
            cr_assert(price >= 100 && price <= 100000000);
            const char *ch = s(e, WEIR_NEXMARK_CHANNEL), *url = s(e, WEIR_NEXMARK_URL);
            cr_assert(!strncmp(ch, "channel-", 8) || !strcmp(ch, "Google") ||
                      !strcmp(ch, "Facebook") || !strcmp(ch, "Baidu") || !strcmp(ch, "Apple"));
            cr_assert(!strncmp(url, "https://www.nexmark.com/", 24), "%s", url);
        }
    }
    cr_assert_eq(persons, n_events / 50);
    cr_assert_eq(auctions, n_events / 50 * 3);
    cr_assert_eq(bids, n_events / 50 * 46);
    events_free(&es);
}

/* With seed 0, the events are Beam's: these were printed by a Java transcription of Beam's
 * PersonGenerator / AuctionGenerator / BidGenerator (java.util.Random(n), NexmarkConfiguration
 * defaults, one generator at 10000 events/s). */
Test(nexmark, beam_values)
{
    events es;
    run(&(weir_nexmark_source){.events = 5}, 1, 0, &es);
    const int64_t base = WEIR_NEXMARK_BASE_TIME;
    const event *p = &es.e[0], *a = &es.e[1], *b = &es.e[4];
    cr_assert_eq(p->ts, base);
    cr_assert_str_eq(s(p, WEIR_NEXMARK_NAME), "Peter Jones");
    cr_assert_str_eq(s(p, WEIR_NEXMARK_EMAIL_ADDRESS), "nhd@xcat.com");
    cr_assert_str_eq(s(p, WEIR_NEXMARK_CREDIT_CARD), "7241 7320 9143 4888");
    cr_assert_str_eq(s(p, WEIR_NEXMARK_CITY), "Portland");
    cr_assert_str_eq(s(p, WEIR_NEXMARK_STATE), "WY");
    cr_assert_str_eq(s(a, WEIR_NEXMARK_ITEM_NAME), "wkx mgee");
    cr_assert_str_eq(s(a, WEIR_NEXMARK_DESCRIPTION), "eszpqxtdxrvwmmywkmogoahf");
    cr_assert_eq(i64(a, WEIR_NEXMARK_INITIAL_BID), 28873);
    cr_assert_eq(i64(a, WEIR_NEXMARK_RESERVE), 29448);
    cr_assert_eq(i64(a, WEIR_NEXMARK_EXPIRES), base + 11);
    cr_assert_eq(i64(a, WEIR_NEXMARK_SELLER), 1000);
    cr_assert_eq(i64(a, WEIR_NEXMARK_CATEGORY), 13);
    cr_assert_eq(i64(b, WEIR_NEXMARK_AUCTION), 1000);
    cr_assert_eq(i64(b, WEIR_NEXMARK_BIDDER), 1001);
    cr_assert_eq(i64(b, WEIR_NEXMARK_PRICE), 32530001);
    events_free(&es);
}

/* With a seed other than 0 the draws are independent between events, so the hot ratios hold on
 * a short stream: 1 - 1/2 of the bids on the hot auction, 1 - 1/4 by the hot bidder (plus the
 * few random picks that land on them), 1 - 1/4 of the auctions by the hot seller. */
Test(nexmark, hot_ratios)
{
    events es;
    run(&(weir_nexmark_source){.events = 50000, .seed = 9}, 1, 0, &es);
    int64_t bids = 0, hot_a = 0, hot_b = 0, auctions = 0, hot_s = 0, hot_channel = 0;
    for (int64_t n = 0; n < (int64_t)es.n; n++) {
        const event *e = &es.e[n];
        if (n % 50 >= 4) {
            bids++;
            hot_a += i64(e, WEIR_NEXMARK_AUCTION) == 1000 + last_auction(n) / 100 * 100;
            hot_b += i64(e, WEIR_NEXMARK_BIDDER) == 1000 + last_person(n) / 100 * 100 + 1;
            hot_channel += strncmp(s(e, WEIR_NEXMARK_CHANNEL), "channel-", 8) != 0;
        } else if (n % 50 >= 1) {
            auctions++;
            hot_s += i64(e, WEIR_NEXMARK_SELLER) == 1000 + last_person(n) / 100 * 100;
        }
    }
    double fa = (double)hot_a / (double)bids, fb = (double)hot_b / (double)bids;
    double fs = (double)hot_s / (double)auctions, fc = (double)hot_channel / (double)bids;
    cr_assert(fa > 0.48 && fa < 0.53, "hot auction %.3f", fa);
    cr_assert(fb > 0.73 && fb < 0.78, "hot bidder %.3f", fb);
    cr_assert(fs > 0.72 && fs < 0.79, "hot seller %.3f", fs);
    cr_assert(fc > 0.48 && fc < 0.52, "hot channels %.3f", fc);
    events_free(&es);
}

/* ---- determinism ---- */

static bool same_events(const events *x, const events *y)
{
    if (x->n != y->n) return false;
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->e[i].text, y->e[i].text)) return false;
    return true;
}

Test(nexmark, seed_determines_the_stream)
{
    events a, b, c, z;
    weir_nexmark_source o = {.events = 3000, .seed = 5, .max_out_of_orderness = 100};
    run(&o, 1, 0, &a);
    run(&o, 1, 7, &b); /* another batch size: the same stream */
    o.seed = 6;
    run(&o, 1, 0, &c);
    o.seed = 0;
    run(&o, 1, 0, &z);
    cr_assert(same_events(&a, &b));
    cr_assert(!same_events(&a, &c));
    cr_assert(!same_events(&a, &z));
    size_t differ = 0;
    for (size_t i = 0; i < a.n; i++) differ += strcmp(a.e[i].text, c.e[i].text) != 0;
    cr_assert_gt(differ, a.n * 9 / 10, "seeds 5 and 6 share %zu of %zu events", a.n - differ, a.n);
    events_free(&a);
    events_free(&b);
    events_free(&c);
    events_free(&z);
}

Test(nexmark, same_events_at_any_worker_and_partition_count)
{
    const weir_nexmark_source base = {.events = 7777, .seed = 3, .max_out_of_orderness = 500};
    events one;
    run(&base, 1, 0, &one);
    char **want = sorted_texts(&one);
    struct {
        uint32_t workers, batch;
        int64_t partitions;
    } cases[] = {{2, 0, 0}, {3, 100, 0}, {4, 0, 2}, {3, 1, 1}, {8, 64, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        weir_nexmark_source o = base;
        o.partitions = cases[k].partitions;
        events got;
        run(&o, cases[k].workers, cases[k].batch, &got);
        cr_assert_eq(got.n, one.n);
        char **have = sorted_texts(&got);
        for (size_t i = 0; i < got.n; i++) cr_assert_str_eq(have[i], want[i], "case %zu", k);
        if (cases[k].partitions == 1) cr_assert(same_events(&got, &one)); /* and in order */
        free(have);
        events_free(&got);
    }
    free(want);
    events_free(&one);
}

/* ---- time ---- */

Test(nexmark, timestamps_from_rate)
{
    events es;
    run(&(weir_nexmark_source){.events = 5000, .rate = 3000, .base_time = 1000}, 1, 0, &es);
    for (int64_t n = 0; n < (int64_t)es.n; n++) /* d = round(1e6 / 3000) = 333 us */
        cr_assert_eq(es.e[n].ts, 1000 + n * 333 / 1000, "event %" PRId64, n);
    events_free(&es);
    run(&(weir_nexmark_source){.events = 3000, .max_out_of_orderness = 250, .seed = 1}, 1, 0, &es);
    int64_t moved = 0;
    for (int64_t n = 0; n < (int64_t)es.n; n++) {
        int64_t in_order = WEIR_NEXMARK_BASE_TIME + n / 10, d = in_order - es.e[n].ts;
        cr_assert(d >= 0 && d <= 250, "event %" PRId64 " moved by %" PRId64, n, d);
        moved += d > 0;
    }
    cr_assert_gt(moved, 2900);
    events_free(&es);
}

/* A sink that checks each partition's watermarks (one instance per worker). */
typedef struct wm_check {
    int64_t bound;
    atomic_int bad;
    atomic_long rows, ends;
} wm_check;

typedef struct wm_state {
    wm_check *cfg;
    int64_t last_wm, max_ts, last_ts;
    bool in_order;
} wm_state;

static int wm_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    wm_state *st = calloc(1, sizeof *st);
    if (!st) return WEIR_ENOMEM;
    st->cfg = (wm_check *)config;
    st->last_wm = st->max_ts = st->last_ts = WEIR_TIME_MIN;
    st->in_order = st->cfg->bound == 0;
    op->state = st;
    return 0;
}

static int wm_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    wm_state *st = op->state;
    wm_check *c = st->cfg;
    for (uint32_t r = 0; r < b->n_rows; r++) {
        int64_t want = st->max_ts == WEIR_TIME_MIN ? WEIR_TIME_MIN : st->max_ts - c->bound;
        if (b->wm[r] != want || b->wm[r] < st->last_wm || b->ts[r] < b->wm[r]) c->bad++;
        if (st->in_order && b->ts[r] < st->last_ts) c->bad++;
        st->last_wm = b->wm[r];
        st->last_ts = b->ts[r];
        if (b->ts[r] > st->max_ts) st->max_ts = b->ts[r];
    }
    if (b->wm_after < st->last_wm) c->bad++;
    if (!(b->flags & WEIR_BATCH_END) && b->wm_after != st->max_ts - c->bound &&
        st->max_ts != WEIR_TIME_MIN)
        c->bad++;
    if (b->flags & WEIR_BATCH_END) {
        if (b->wm_after != WEIR_TIME_MAX) c->bad++;
        c->ends++;
    }
    st->last_wm = b->wm_after;
    c->rows += b->n_rows;
    return 0;
}

static void wm_close(weir_operator *op)
{
    free(op->state);
}

static void no_free(void *p)
{
    (void)p;
}

static const weir_operator_class wm_class = {
    .name = "WatermarkCheck", .open = wm_open, .process = wm_process, .close = wm_close};

static void check_watermarks(int64_t bound, uint32_t workers, int64_t partitions)
{
    wm_check c = {.bound = bound};
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *s = weir_read_nexmark(p, &(weir_nexmark_source){.events = 20000,
                                                                 .seed = 2,
                                                                 .max_out_of_orderness = bound,
                                                                 .partitions = partitions});
    weir_pipeline_add_node(p, &(weir_node_spec){.kind = "WatermarkCheck",
                                                .cls = &wm_class,
                                                .config = &c,
                                                .config_free = no_free,
                                                .inputs = &s,
                                                .n_inputs = 1});
    int err = weir_run(p, &(weir_run_options){.workers = workers, .batch_size = 333});
    cr_assert_eq(err, 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    cr_assert_eq(c.bad, 0, "%d watermark problems (bound %" PRId64 ", %u workers)", (int)c.bad,
                 bound, workers);
    cr_assert_eq(c.rows, 20000);
    cr_assert_eq(c.ends, (long)workers); /* every instance ends, also those with no partition */
}

Test(nexmark, watermarks_rise_and_no_event_is_late)
{
    check_watermarks(0, 1, 0);
    check_watermarks(0, 3, 0);
    check_watermarks(1500, 1, 0);
    check_watermarks(1500, 2, 0);
    check_watermarks(40, 3, 2);
}

/* ---- options ---- */

static void expect_invalid(weir_nexmark_source o, const char *words)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_read_nexmark(p, &o);
    cr_assert_eq(weir_pipeline_status(p), WEIR_EINVAL);
    cr_assert(strstr(weir_pipeline_error(p), words), "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
}

Test(nexmark, invalid_options)
{
    expect_invalid((weir_nexmark_source){0}, "events must be positive");
    expect_invalid((weir_nexmark_source){.events = -1}, "events must be positive");
    expect_invalid((weir_nexmark_source){.events = 10, .rate = 1000001}, "rate");
    expect_invalid((weir_nexmark_source){.events = 10, .max_out_of_orderness = -1},
                   "max_out_of_orderness");
    expect_invalid((weir_nexmark_source){.events = 10, .partitions = -2}, "partitions");
    expect_invalid((weir_nexmark_source){.events = 10, .hot_bidders_ratio = -4}, "hot ratios");
    expect_invalid((weir_nexmark_source){.events = INT64_MAX / 4, .rate = 1}, "range");
    weir_pipeline *p = weir_pipeline_create();
    weir_read_nexmark(p, NULL);
    cr_assert_eq(weir_pipeline_status(p), WEIR_EINVAL);
    weir_pipeline_destroy(p);
}
