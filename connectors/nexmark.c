/* connectors/nexmark.c: ReadFromNexmark, the Nexmark auction stream (persons, auctions, bids),
 * for the Nexmark queries and their benchmark (stream and schema: weir/nexmark.h).
 *
 * Each event is a pure function of its number n, the seed and the options: its fields come
 * from a java.util.Random seeded with n (seed 0) or with a hash of n and the seed, drawn in the
 * order of Beam's PersonGenerator, AuctionGenerator and BidGenerator. So seed 0 reproduces
 * Beam's events, and any partition can make any event without the others: partitions interleave
 * (event n goes to partition n mod P) and give the same multiset at every partition count.
 *
 * As in connectors/generator.c, values are written straight into the batch: strings are
 * composed in the batch's arena (bump allocation, reset with the batch) or point at constant
 * tables (names, cities, channel urls: built once per node, read-only, shared by the workers),
 * so a row costs no malloc.
 *
 * Checkpoints keep, per partition, the next event number and the largest event time emitted (the
 * watermark is that less the bound): nothing else, since events are pure functions of their
 * number. A restore keeps the checkpoint's partition count at any worker count (worker w of n
 * runs the old partitions p with p mod n = w, merged by event number, emitting the minimum of
 * their watermarks), so the stream is the one the checkpointed run would have gone on with. */
#include "weir/nexmark.h"
#include "strided_parts.h"
#include "weir/error.h"
#include "weir/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    PERSON_PROPORTION = 1,
    AUCTION_PROPORTION = 3,
    TOTAL_PROPORTION = 50, /* 1 person : 3 auctions : 46 bids */
    FIRST_PERSON_ID = 1000,
    FIRST_AUCTION_ID = 1000,
    FIRST_CATEGORY_ID = 10,
    NUM_CATEGORIES = 5,
    PERSON_ID_LEAD = 10,
    AUCTION_ID_LEAD = 10,
    HOT_SELLER_RATIO = 100, /* hot seller/auction/bidder: first of each batch of 100 */
    HOT_AUCTION_RATIO = 100,
    HOT_BIDDER_RATIO = 100,
    HOT_CHANNELS_RATIO = 2,
    CHANNELS_NUMBER = 10000,
    N_HOT_CHANNELS = 4,
    URL_MAX = 96, /* longest url: 24 + 3 * 5 + 16 + 12 + 10 < 96 */
};

static const char *const first_names[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                          "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
static const char *const last_names[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith",  "Jones",   "Noris"};
static const char *const us_cities[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                        "Portland", "Bend",        "Redmond",       "Seattle",
                                        "Kent",     "Cheyenne"};
static const char *const us_states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const hot_channels[] = {"Google", "Facebook", "Baidu", "Apple"};
#define COUNT(a) ((int32_t)(sizeof a / sizeof *a))

/* ---- java.util.Random, bit for bit (a 48-bit LCG) ---- */

#define JR_MULT 0x5DEECE66DULL
#define JR_MASK ((1ULL << 48) - 1)

typedef struct jrandom {
    uint64_t s;
} jrandom;

static inline void jr_seed(jrandom *r, int64_t seed)
{
    r->s = ((uint64_t)seed ^ JR_MULT) & JR_MASK;
}

static inline int32_t jr_next(jrandom *r, int bits)
{
    r->s = (r->s * JR_MULT + 0xBULL) & JR_MASK;
    return (int32_t)(uint32_t)(r->s >> (48 - bits));
}

static inline int32_t jr_int(jrandom *r, int32_t bound) /* Random.nextInt(bound), bound > 0 */
{
    int32_t x = jr_next(r, 31), m = bound - 1;
    if ((bound & m) == 0) return (int32_t)(((int64_t)bound * x) >> 31);
    /* Java's `u - r + m < 0` is an int overflow test: u - r + m > INT32_MAX */
    for (int32_t u = x; (int64_t)u - (x = u % bound) + m > INT32_MAX; u = jr_next(r, 31)) {
    }
    return x;
}

static inline int64_t jr_long(jrandom *r) /* Random.nextLong() */
{
    uint64_t hi = (uint64_t)(int64_t)jr_next(r, 32), lo = (uint64_t)(int64_t)jr_next(r, 32);
    return (int64_t)((hi << 32) + lo);
}

static inline double jr_double(jrandom *r) /* Random.nextDouble() */
{
    int64_t a = jr_next(r, 26), b = jr_next(r, 27);
    return (double)((a << 27) + b) * 0x1.0p-53;
}

/* Beam's LongGenerator.nextLong: [0, n) */
static inline int64_t next_long(jrandom *r, int64_t n)
{
    if (n < INT32_MAX) return jr_int(r, (int32_t)n);
    int64_t v = jr_long(r) % n;
    return v < 0 ? -v : v;
}

/* PriceGenerator.nextPrice */
static inline int64_t next_price(jrandom *r)
{
    return (int64_t)floor(pow(10.0, jr_double(r) * 6.0) * 100.0 + 0.5);
}

/* StringsGenerator.nextString(random, max): 3 .. max-1 letters and spaces, trimmed; written to
 * out (max bytes of room), returns the length. */
static uint32_t next_string(jrandom *r, int32_t max, char *out)
{
    int32_t len = 3 + jr_int(r, max - 3);
    uint32_t n = 0;
    while (len-- > 0) out[n++] = jr_int(r, 13) == 0 ? ' ' : (char)('a' + jr_int(r, 26));
    uint32_t a = 0;
    while (a < n && out[a] == ' ') a++;
    while (n > a && out[n - 1] == ' ') n--;
    if (a) memmove(out, out + a, n - a);
    return n - a;
}

/* ---- configuration, built once per node ---- */

typedef struct nx_config {
    int64_t events, base_time, delay_us, bound, partitions;
    int64_t active_people, in_flight, hot_auctions, hot_sellers, hot_bidders;
    uint64_t seed_key;   /* 0 (seed 0): event n's Random is seeded with n; else mix(n ^ key) */
    uint64_t delay_seed; /* hash key of the out-of-order delays */
    char *urls;          /* [CHANNELS_NUMBER + N_HOT_CHANNELS][URL_MAX], NUL-terminated */
    uint32_t *url_len;
    char channel_names[CHANNELS_NUMBER][14]; /* "channel-9999" */
    uint8_t channel_len[CHANNELS_NUMBER];
} nx_config;

static void nx_config_free(void *p)
{
    nx_config *c = p;
    if (!c) return;
    free(c->urls);
    free(c->url_len);
    free(c);
}

/* "https://www.nexmark.com/xxx/xxx/xxx/item.htm?query=1", each part 3 or 4 of [a-z_], drawn
 * from r (the nexmark project's getBaseUrl). */
static int base_url(jrandom *r, char *out)
{
    int n = sprintf(out, "https://www.nexmark.com/");
    for (int k = 0; k < 3; k++) {
        int32_t len = 3 + jr_int(r, 2);
        while (len-- > 0) out[n++] = jr_int(r, 13) == 0 ? '_' : (char)('a' + jr_int(r, 26));
        out[n++] = '/';
    }
    return n + sprintf(out + n, "item.htm?query=1");
}

static uint32_t reverse_bits32(uint32_t x)
{
    uint32_t r = 0;
    for (int i = 0; i < 32; i++, x >>= 1) r = (r << 1) | (x & 1);
    return r;
}

/* Channel c's url: Random(c) draws its base url, then with odds 9 : 1 it names the channel
 * (&channel_id=|Integer.reverse(c)|, as the nexmark project does). Hot channel i's url is the
 * base url drawn from Random(CHANNELS_NUMBER + i). */
static void build_urls(nx_config *c)
{
    for (int32_t k = 0; k < CHANNELS_NUMBER + N_HOT_CHANNELS; k++) {
        char *u = c->urls + (size_t)k * URL_MAX;
        jrandom r;
        jr_seed(&r, k);
        int n = base_url(&r, u);
        if (k < CHANNELS_NUMBER) {
            if (jr_int(&r, 10) > 0) {
                int64_t id = (int32_t)reverse_bits32((uint32_t)k);
                n += sprintf(u + n, "&channel_id=%lld", (long long)(id < 0 ? -id : id));
            }
            c->channel_len[k] = (uint8_t)sprintf(c->channel_names[k], "channel-%d", (int)k);
        }
        c->url_len[k] = (uint32_t)n;
    }
}

/* ---- the formulas of GeneratorConfig, PersonGenerator, AuctionGenerator ---- */

static inline int64_t base_ts(const nx_config *c, int64_t n)
{
    return c->base_time + (int64_t)((__int128)n * c->delay_us / 1000);
}

static inline int64_t event_ts(const nx_config *c, int64_t n)
{
    int64_t t = base_ts(c, n);
    if (c->bound > 0)
        t -= (int64_t)(weir__mix64(c->delay_seed ^ (uint64_t)n) % (uint64_t)(c->bound + 1));
    return t;
}

static inline int64_t last_base0_person_id(int64_t n)
{
    int64_t epoch = n / TOTAL_PROPORTION, offset = n % TOTAL_PROPORTION;
    if (offset >= PERSON_PROPORTION) offset = PERSON_PROPORTION - 1;
    return epoch * PERSON_PROPORTION + offset;
}

static inline int64_t last_base0_auction_id(int64_t n)
{
    int64_t epoch = n / TOTAL_PROPORTION, offset = n % TOTAL_PROPORTION;
    if (offset < PERSON_PROPORTION) {
        epoch--;
        offset = AUCTION_PROPORTION - 1;
    } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
        offset = AUCTION_PROPORTION - 1;
    } else {
        offset -= PERSON_PROPORTION;
    }
    return epoch * AUCTION_PROPORTION + offset;
}

static inline int64_t next_base0_person_id(const nx_config *c, int64_t n, jrandom *r)
{
    int64_t people = last_base0_person_id(n) + 1;
    int64_t active = people < c->active_people ? people : c->active_people;
    return people - active + next_long(r, active + PERSON_ID_LEAD);
}

static inline int64_t next_base0_auction_id(const nx_config *c, int64_t n, jrandom *r)
{
    int64_t max = last_base0_auction_id(n), min = max - c->in_flight > 0 ? max - c->in_flight : 0;
    return min + next_long(r, max - min + 1 + AUCTION_ID_LEAD);
}

static inline weir_value str(const char *s, size_t n)
{
    return weir_value_string(s, n);
}

static inline weir_value cstr(const char *s)
{
    return weir_value_string(s, strlen(s));
}

/* Writes event n into v[0 .. WEIR_NEXMARK_N_FIELDS) (all null on entry); strings go to the
 * arena. Returns its event time, or WEIR_TIME_MIN on no memory. */
static int64_t make_event(const nx_config *c, int64_t n, weir_value *v, weir_arena *arena)
{
    jrandom r;
    jr_seed(&r, c->seed_key ? (int64_t)weir__mix64((uint64_t)n ^ c->seed_key) : n);
    int64_t ts = event_ts(c, n), rem = n % TOTAL_PROPORTION;
    v[WEIR_NEXMARK_TS] = weir_value_int(ts);
    if (rem < PERSON_PROPORTION) {
        char *s = weir_arena_alloc(arena, 64);
        if (!s) return WEIR_TIME_MIN;
        v[WEIR_NEXMARK_EVENT_TYPE] = str("person", 6);
        v[WEIR_NEXMARK_ID] = weir_value_int(last_base0_person_id(n) + FIRST_PERSON_ID);
        const char *first = first_names[jr_int(&r, COUNT(first_names))];
        const char *last = last_names[jr_int(&r, COUNT(last_names))];
        int len = sprintf(s, "%s %s", first, last);
        v[WEIR_NEXMARK_NAME] = str(s, (size_t)len);
        s += len;
        char *email = s;
        uint32_t e = next_string(&r, 7, email);
        email[e++] = '@';
        e += next_string(&r, 5, email + e);
        memcpy(email + e, ".com", 4);
        e += 4;
        v[WEIR_NEXMARK_EMAIL_ADDRESS] = str(email, e);
        char *cc = email + e;
        for (int i = 0; i < 4; i++) sprintf(cc + 5 * i, "%04d ", (int)jr_int(&r, 10000));
        v[WEIR_NEXMARK_CREDIT_CARD] = str(cc, 19);
        v[WEIR_NEXMARK_CITY] = cstr(us_cities[jr_int(&r, COUNT(us_cities))]);
        v[WEIR_NEXMARK_STATE] = cstr(us_states[jr_int(&r, COUNT(us_states))]);
    } else if (rem < PERSON_PROPORTION + AUCTION_PROPORTION) {
        char *s = weir_arena_alloc(arena, 128);
        if (!s) return WEIR_TIME_MIN;
        v[WEIR_NEXMARK_EVENT_TYPE] = str("auction", 7);
        v[WEIR_NEXMARK_ID] = weir_value_int(last_base0_auction_id(n) + FIRST_AUCTION_ID);
        int64_t seller;
        if (jr_int(&r, (int32_t)c->hot_sellers) > 0)
            seller = (last_base0_person_id(n) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO;
        else
            seller = next_base0_person_id(c, n, &r);
        int64_t category = FIRST_CATEGORY_ID + jr_int(&r, NUM_CATEGORIES);
        int64_t initial = next_price(&r);
        /* when will the auction num_in_flight_auctions ahead be generated? */
        int64_t ahead = c->in_flight * TOTAL_PROPORTION / AUCTION_PROPORTION;
        int64_t horizon = base_ts(c, n + ahead) - ts;
        int64_t expires = ts + 1 + next_long(&r, horizon * 2 > 1 ? horizon * 2 : 1);
        uint32_t ni = next_string(&r, 20, s);
        uint32_t nd = next_string(&r, 100, s + ni);
        int64_t reserve = initial + next_price(&r);
        v[WEIR_NEXMARK_ITEM_NAME] = str(s, ni);
        v[WEIR_NEXMARK_DESCRIPTION] = str(s + ni, nd);
        v[WEIR_NEXMARK_INITIAL_BID] = weir_value_int(initial);
        v[WEIR_NEXMARK_RESERVE] = weir_value_int(reserve);
        v[WEIR_NEXMARK_EXPIRES] = weir_value_int(expires);
        v[WEIR_NEXMARK_SELLER] = weir_value_int(seller + FIRST_PERSON_ID);
        v[WEIR_NEXMARK_CATEGORY] = weir_value_int(category);
    } else {
        v[WEIR_NEXMARK_EVENT_TYPE] = str("bid", 3);
        int64_t auction, bidder;
        if (jr_int(&r, (int32_t)c->hot_auctions) > 0)
            auction = (last_base0_auction_id(n) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO;
        else
            auction = next_base0_auction_id(c, n, &r);
        if (jr_int(&r, (int32_t)c->hot_bidders) > 0)
            bidder = (last_base0_person_id(n) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1;
        else
            bidder = next_base0_person_id(c, n, &r);
        int64_t price = next_price(&r);
        int32_t k;
        if (jr_int(&r, HOT_CHANNELS_RATIO) > 0) {
            int32_t i = jr_int(&r, N_HOT_CHANNELS);
            v[WEIR_NEXMARK_CHANNEL] = cstr(hot_channels[i]);
            k = CHANNELS_NUMBER + i;
        } else {
            k = jr_int(&r, CHANNELS_NUMBER);
            v[WEIR_NEXMARK_CHANNEL] = str(c->channel_names[k], c->channel_len[k]);
        }
        v[WEIR_NEXMARK_URL] = str(c->urls + (size_t)k * URL_MAX, c->url_len[k]);
        v[WEIR_NEXMARK_AUCTION] = weir_value_int(auction + FIRST_AUCTION_ID);
        v[WEIR_NEXMARK_BIDDER] = weir_value_int(bidder + FIRST_PERSON_ID);
        v[WEIR_NEXMARK_PRICE] = weir_value_int(price);
    }
    return ts;
}

/* ---- the source operator ---- */

#define NX_SNAP_VERSION 1u /* of the checkpoint's shared section */

typedef strided_part nx_part; /* events p, p + P, p + 2P, ... of partition p of P */

typedef struct nx_state {
    const nx_config *cfg;
    weir_batch *batch;
    strided_parts parts; /* this instance's (connectors/strided_parts.h) */
    bool stopping;
} nx_state;

static int nx_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    nx_state *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    op->state = s;
    s->cfg = config;
    if (strided_parts_open(&s->parts, op, "ReadFromNexmark", "other events", s->cfg->events,
                           s->cfg->partitions, NX_SNAP_VERSION))
        return WEIR_ENOMEM;
    s->batch = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    if (!s->batch) return WEIR_ENOMEM;
    s->batch->origin = "ReadFromNexmark";
    return 0;
}

static void nx_close(weir_operator *op)
{
    nx_state *s = op->state;
    if (!s) return;
    weir_batch_destroy(s->batch);
    strided_parts_finish(&s->parts);
    free(s);
}

static inline int64_t part_wm(const nx_config *c, const nx_part *f)
{
    return f->max_ts == WEIR_TIME_MIN ? WEIR_TIME_MIN : f->max_ts - c->bound;
}

/* The instance's watermark: the minimum over its partitions that have not ended. */
static int64_t parts_wm(const nx_state *s)
{
    int64_t m = WEIR_TIME_MAX;
    for (uint32_t k = 0; k < s->parts.n; k++)
        if (s->parts.v[k].next < s->cfg->events) {
            int64_t w = part_wm(s->cfg, &s->parts.v[k]);
            if (w < m) m = w;
        }
    return m;
}

/* Event n into row r of the batch with watermark wm before it; its time, or WEIR_TIME_MIN on
 * no memory. */
static int64_t put_event(nx_state *s, uint32_t r, int64_t n, int64_t wm)
{
    weir_batch *b = s->batch;
    weir_value *v = b->values + (size_t)r * WEIR_NEXMARK_N_FIELDS;
    memset(v, 0, WEIR_NEXMARK_N_FIELDS * sizeof *v); /* all null */
    int64_t ts = make_event(s->cfg, n, v, &b->arena);
    if (ts == WEIR_TIME_MIN) return ts;
    b->ts[r] = ts;
    b->wm[r] = wm; /* the watermark before this row */
    b->pos[r] = n + 1;
    return ts;
}

/* Up to limit events into the batch: of one partition in order, or of several merged by event
 * number (a restore at fewer workers than the checkpoint's partitions), each row's watermark
 * the minimum over the partitions before it. The rows made, or -1 on no memory. */
static int64_t fill(nx_state *s, uint32_t limit)
{
    const nx_config *c = s->cfg;
    uint32_t r = 0;
    if (s->parts.n == 1) {
        nx_part *f = &s->parts.v[0];
        int64_t n = f->next, max_ts = f->max_ts, wm = part_wm(c, f);
        for (; r < limit && n < c->events; r++, n += s->parts.n_total) {
            int64_t ts = put_event(s, r, n, wm);
            if (ts == WEIR_TIME_MIN) return -1;
            if (ts > max_ts) {
                max_ts = ts;
                wm = ts - c->bound;
            }
        }
        f->next = n;
        f->max_ts = max_ts;
        return r;
    }
    for (; r < limit; r++) {
        nx_part *f = NULL;
        for (uint32_t k = 0; k < s->parts.n; k++)
            if (s->parts.v[k].next < c->events && (!f || s->parts.v[k].next < f->next))
                f = &s->parts.v[k];
        if (!f) break;
        int64_t ts = put_event(s, r, f->next, parts_wm(s));
        if (ts == WEIR_TIME_MIN) return -1;
        if (ts > f->max_ts) f->max_ts = ts;
        f->next += s->parts.n_total;
    }
    return r;
}

static int nx_pull(weir_operator *op, uint32_t max_rows)
{
    nx_state *s = op->state;
    weir_batch *b = s->batch;
    int rc;
    if (!s->parts.checked && (rc = strided_parts_check(&s->parts, op))) return rc;
    uint32_t limit = max_rows < b->capacity ? max_rows : b->capacity;
    int64_t r = s->stopping ? 0 : fill(s, limit);
    if (r < 0) {
        weir_batch_clear(b);
        return weir_operator_fail(op, WEIR_ENOMEM, "out of memory");
    }
    b->n_rows = (uint32_t)r;
    weir_operator_count_read(op, (uint64_t)r);
    int64_t wm = parts_wm(s);
    bool done = wm == WEIR_TIME_MAX || s->stopping;
    b->wm_after = done ? WEIR_TIME_MAX : wm;
    b->flags = done ? WEIR_BATCH_END : 0;
    weir_operator_report_watermark(op, b->wm_after);
    rc = weir_operator_emit(op, b);
    weir_batch_clear(b);
    b->origin = "ReadFromNexmark";
    if (rc) return rc;
    return done ? WEIR_PULL_END : WEIR_PULL_MORE;
}

/* ---- checkpoints ---- */

/* The shared section: connectors/strided_parts.h. An event is a pure function of its number
 * and the options, so the partitions' positions are all the generator needs. */
static int nx_snapshot(weir_operator *op, weir_snap_writer *w)
{
    return strided_parts_snapshot(&((nx_state *)op->state)->parts, op, w);
}

static int nx_restore(weir_operator *op, uint32_t group, weir_snap_reader *r)
{
    if (group != WEIR_SNAP_SHARED) return 0;
    return strided_parts_restore(&((nx_state *)op->state)->parts, op, r);
}

static void nx_stop(weir_operator *op)
{
    ((nx_state *)op->state)->stopping = true;
}

static const weir_operator_class nx_class = {.name = "ReadFromNexmark",
                                             .open = nx_open,
                                             .pull = nx_pull,
                                             .stop = nx_stop,
                                             .close = nx_close,
                                             .snapshot = nx_snapshot,
                                             .restore = nx_restore};

static const char *const field_names[WEIR_NEXMARK_N_FIELDS] = {
    "event_type",  "ts",      "id",      "name",      "email_address",
    "credit_card", "city",    "state",   "item_name", "description",
    "initial_bid", "reserve", "expires", "seller",    "category",
    "auction",     "bidder",  "price",   "channel",   "url"};
static const weir_type field_types[WEIR_NEXMARK_N_FIELDS] = {
    WEIR_TYPE_STRING, WEIR_TYPE_INT,    WEIR_TYPE_INT,    WEIR_TYPE_STRING, WEIR_TYPE_STRING,
    WEIR_TYPE_STRING, WEIR_TYPE_STRING, WEIR_TYPE_STRING, WEIR_TYPE_STRING, WEIR_TYPE_STRING,
    WEIR_TYPE_INT,    WEIR_TYPE_INT,    WEIR_TYPE_INT,    WEIR_TYPE_INT,    WEIR_TYPE_INT,
    WEIR_TYPE_INT,    WEIR_TYPE_INT,    WEIR_TYPE_INT,    WEIR_TYPE_STRING, WEIR_TYPE_STRING};

static weir_stream *fail(weir_pipeline *p, const char *what)
{
    weir_pipeline_set_error(p, WEIR_EINVAL, "ReadFromNexmark: %s", what);
    return weir_pipeline_failed_stream(p);
}

weir_stream *weir_read_nexmark(weir_pipeline *p, const weir_nexmark_source *opt)
{
    if (!p) return NULL;
    if (weir_pipeline_status(p)) return weir_pipeline_failed_stream(p);
    weir_nexmark_source o = opt ? *opt : (weir_nexmark_source){0};
#define DEFAULT(f, v)                                                                              \
    if (!o.f) o.f = (v)
    DEFAULT(rate, 10000);
    DEFAULT(base_time, WEIR_NEXMARK_BASE_TIME);
    DEFAULT(num_active_people, 1000);
    DEFAULT(num_in_flight_auctions, 100);
    DEFAULT(hot_auction_ratio, 2);
    DEFAULT(hot_sellers_ratio, 4);
    DEFAULT(hot_bidders_ratio, 4);
#undef DEFAULT
    if (o.events <= 0) return fail(p, "events must be positive (the number of events to make)");
    if (o.rate < 0 || o.rate > 1000000) return fail(p, "rate must be 1 to 1000000 events/s");
    if (o.max_out_of_orderness < 0) return fail(p, "max_out_of_orderness must not be negative");
    if (o.partitions < 0) return fail(p, "partitions must not be negative");
    if (o.num_active_people < 0 || o.num_active_people > INT32_MAX - PERSON_ID_LEAD ||
        o.num_in_flight_auctions < 0 || o.num_in_flight_auctions > INT32_MAX / TOTAL_PROPORTION)
        return fail(p, "num_active_people and num_in_flight_auctions must be positive (and below "
                       "2^31 / 50)");
    if (o.hot_auction_ratio < 0 || o.hot_auction_ratio > INT32_MAX || o.hot_sellers_ratio < 0 ||
        o.hot_sellers_ratio > INT32_MAX || o.hot_bidders_ratio < 0 ||
        o.hot_bidders_ratio > INT32_MAX)
        return fail(p, "the hot ratios must be positive integers below 2^31");
    int64_t delay_us = (1000000 + o.rate / 2) / o.rate; /* Beam's RateUnit.rateToPeriodUs */
    int64_t ahead = o.num_in_flight_auctions * TOTAL_PROPORTION / AUCTION_PROPORTION;
    /* every time computed must fit: base + (events + ahead) * delay / 1000, and its delays */
    __int128 span = ((__int128)o.events + ahead) * delay_us / 1000 * 2 + 1;
    if (o.events > INT64_MAX / 2 || o.max_out_of_orderness > INT64_MAX / 4 ||
        (__int128)o.base_time + span >= (__int128)INT64_MAX / 2 ||
        (__int128)o.base_time - o.max_out_of_orderness <= (__int128)INT64_MIN / 2)
        return fail(p, "events, rate, base_time and max_out_of_orderness give times beyond the "
                       "range of int64 milliseconds");

    nx_config *c = calloc(1, sizeof *c);
    weir_schema *schema = weir_schema_create(WEIR_NEXMARK_N_FIELDS, field_names, field_types);
    if (c) {
        c->urls = malloc((size_t)(CHANNELS_NUMBER + N_HOT_CHANNELS) * URL_MAX);
        c->url_len = malloc((size_t)(CHANNELS_NUMBER + N_HOT_CHANNELS) * sizeof *c->url_len);
    }
    if (!c || !schema || !c->urls || !c->url_len) {
        nx_config_free(c);
        weir_schema_unref(schema);
        weir_pipeline_set_error(p, WEIR_ENOMEM, "out of memory");
        return weir_pipeline_failed_stream(p);
    }
    c->events = o.events;
    c->base_time = o.base_time;
    c->delay_us = delay_us;
    c->bound = o.max_out_of_orderness;
    c->partitions = o.partitions;
    c->active_people = o.num_active_people;
    c->in_flight = o.num_in_flight_auctions;
    c->hot_auctions = o.hot_auction_ratio;
    c->hot_sellers = o.hot_sellers_ratio;
    c->hot_bidders = o.hot_bidders_ratio;
    c->seed_key = o.seed ? weir__mix64(o.seed) | 1 : 0;
    c->delay_seed = weir__mix64(o.seed + 0x632BE59BD9B4E019ULL);
    build_urls(c);
    return weir_pipeline_add_node(p, &(weir_node_spec){.kind = "ReadFromNexmark",
                                                       .cls = &nx_class,
                                                       .config = c,
                                                       .config_free = nx_config_free,
                                                       .schema = schema});
}
