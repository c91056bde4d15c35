#!/usr/bin/env python3
"""tests/nexmark_ref.py: an independent reference for ReadFromNexmark and the Nexmark examples.

It re-implements, from Beam's Nexmark sources and weir/nexmark.h (not from connectors/nexmark.c),
the generator (java.util.Random, the person / auction / bid formulas, event times, out-of-order
delays, channel urls) and each query of examples/nexmark_q*.yaml as a plain batch computation
(windows as in windowing.md: no event of this generator is ever late, so each window fires once,
ON_TIME, with everything it holds). It writes the rows as weir's JSON writer does (pipeline.md,
"Output format").

    tests/nexmark_ref.py QUERY                  expected rows of examples/nexmark_QUERY.yaml
    tests/nexmark_ref.py QUERY --check FILE     exit 1 unless FILE holds the same rows (any order)
    tests/nexmark_ref.py QUERY --order-like FILE
        the reference rows, in the order of FILE's lines (exit 1 unless FILE holds exactly the
        same rows): for the windowed queries, whose order across keys the spec leaves to the
        engine, this makes an expected file that run_e2e.sh can compare byte for byte while
        every row in it still comes from this script.

QUERY is q0, q1, q2, q5, q7, q8 or q11. The settings of each query (events, rate, ...) are in QUERIES
below and must match the example's YAML.
"""
import math
import sys

MASK48 = (1 << 48) - 1
MULT = 0x5DEECE66D


def s32(x):
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


def s64(x):
    x &= (1 << 64) - 1
    return x - (1 << 64) if x >= 1 << 63 else x


class JavaRandom:
    """java.util.Random (the JDK documents the algorithm exactly)."""

    def __init__(self, seed):
        self.seed = (seed ^ MULT) & MASK48

    def next(self, bits):
        self.seed = (self.seed * MULT + 0xB) & MASK48
        return s32(self.seed >> (48 - bits))

    def next_int(self, bound=None):
        if bound is None:
            return self.next(32)
        r = self.next(31)
        m = bound - 1
        if bound & m == 0:
            return (bound * r) >> 31
        u = r
        while True:
            r = u % bound
            if s32(u - r + m) >= 0:
                return r
            u = self.next(31)

    def next_long(self):
        return s64((self.next(32) << 32) + self.next(32))

    def next_double(self):
        return ((self.next(26) << 27) + self.next(27)) * (1.0 / (1 << 53))


def mix64(x):
    """weir's 64-bit mixer (the splitmix64 finalizer), weir/value.h."""
    m = (1 << 64) - 1
    x &= m
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & m
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & m
    x ^= x >> 31
    return x


FIRST_NAMES = "Peter,Paul,Luke,John,Saul,Vicky,Kate,Julie,Sarah,Deiter,Walter".split(",")
LAST_NAMES = "Shultz,Abrams,Spencer,White,Bartels,Walton,Smith,Jones,Noris".split(",")
CITIES = "Phoenix,Los Angeles,San Francisco,Boise,Portland,Bend,Redmond,Seattle,Kent,Cheyenne".split(",")
STATES = "AZ,CA,ID,OR,WA,WY".split(",")
HOT_CHANNELS = ["Google", "Facebook", "Baidu", "Apple"]
FIELDS = ["event_type", "ts", "id", "name", "email_address", "credit_card", "city", "state",
          "item_name", "description", "initial_bid", "reserve", "expires", "seller", "category",
          "auction", "bidder", "price", "channel", "url"]


def next_long_bounded(r, n):  # Beam's LongGenerator.nextLong
    if n < 2**31 - 1:
        return r.next_int(n)
    return abs(math.fmod(r.next_long(), n))


def next_price(r):
    return math.floor(math.pow(10.0, r.next_double() * 6.0) * 100.0 + 0.5)


def next_string(r, max_len):
    n = 3 + r.next_int(max_len - 3)
    out = []
    for _ in range(n):
        out.append(" " if r.next_int(13) == 0 else chr(ord("a") + r.next_int(26)))
    return "".join(out).strip(" ")


def url_for(k):
    """Channel k's url (k < 10000), or hot channel k - 10000's."""
    r = JavaRandom(k)
    parts = []
    for _ in range(3):
        n = 3 + r.next_int(2)
        parts.append("".join("_" if r.next_int(13) == 0 else chr(ord("a") + r.next_int(26))
                             for _ in range(n)))
    u = "https://www.nexmark.com/" + "/".join(parts) + "/item.htm?query=1"
    if k < 10000 and r.next_int(10) > 0:
        rev = int("{:032b}".format(k)[::-1], 2)
        u += "&channel_id=%d" % abs(s32(rev))
    return u


def last_person(n):
    epoch, off = divmod(n, 50)
    if off >= 1:
        off = 0
    return epoch + off


def last_auction(n):
    epoch, off = divmod(n, 50)
    if off < 1:
        epoch, off = epoch - 1, 2
    elif off >= 4:
        off = 2
    else:
        off -= 1
    return epoch * 3 + off


def generate(events, rate=10000, seed=0, base_time=1436918400000, bound=0, active_people=1000,
             in_flight=100, hot_auctions=2, hot_sellers=4, hot_bidders=4):
    delay_us = (1000000 + rate // 2) // rate
    seed_key = mix64(seed) | 1 if seed else 0
    delay_key = mix64(seed + 0x632BE59BD9B4E019)
    urls = {}

    def base_ts(n):
        return base_time + n * delay_us // 1000

    def person_id(n, r):
        people = last_person(n) + 1
        active = min(people, active_people)
        return people - active + next_long_bounded(r, active + 10)

    for n in range(events):
        r = JavaRandom(s64(mix64(n ^ seed_key)) if seed_key else n)
        ts = base_ts(n)
        if bound:
            ts -= mix64(delay_key ^ n) % (bound + 1)
        e = dict.fromkeys(FIELDS)
        e["ts"] = ts
        rem = n % 50
        if rem < 1:
            e["event_type"] = "person"
            e["id"] = last_person(n) + 1000
            e["name"] = FIRST_NAMES[r.next_int(11)] + " " + LAST_NAMES[r.next_int(9)]
            e["email_address"] = next_string(r, 7) + "@" + next_string(r, 5) + ".com"
            e["credit_card"] = " ".join("%04d" % r.next_int(10000) for _ in range(4))
            e["city"] = CITIES[r.next_int(10)]
            e["state"] = STATES[r.next_int(6)]
        elif rem < 4:
            e["event_type"] = "auction"
            e["id"] = last_auction(n) + 1000
            if r.next_int(hot_sellers) > 0:
                seller = (last_person(n) // 100) * 100
            else:
                seller = person_id(n, r)
            e["category"] = 10 + r.next_int(5)
            e["initial_bid"] = next_price(r)
            horizon = base_ts(n + in_flight * 50 // 3) - ts
            e["expires"] = ts + 1 + next_long_bounded(r, max(horizon * 2, 1))
            e["item_name"] = next_string(r, 20)
            e["description"] = next_string(r, 100)
            e["reserve"] = e["initial_bid"] + next_price(r)
            e["seller"] = seller + 1000
        else:
            e["event_type"] = "bid"
            if r.next_int(hot_auctions) > 0:
                auction = (last_auction(n) // 100) * 100
            else:
                hi = last_auction(n)
                lo = max(hi - in_flight, 0)
                auction = lo + next_long_bounded(r, hi - lo + 1 + 10)
            if r.next_int(hot_bidders) > 0:
                bidder = (last_person(n) // 100) * 100 + 1
            else:
                bidder = person_id(n, r)
            e["auction"] = auction + 1000
            e["bidder"] = bidder + 1000
            e["price"] = next_price(r)
            if r.next_int(2) > 0:
                i = r.next_int(4)
                e["channel"], k = HOT_CHANNELS[i], 10000 + i
            else:
                k = r.next_int(10000)
                e["channel"] = "channel-%d" % k
            if k not in urls:
                urls[k] = url_for(k)
            e["url"] = urls[k]
        yield e


# ---- output as weir's JSON writer ----

def jstr(s):
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20:
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b",
                        "\f": "\\f"}.get(ch, "\\u%04x" % ord(ch)))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jval(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "null"
        return repr(v)  # shortest round trip, always with '.' or 'e' (fixed below 1e16)
    return jstr(v)


def jline(row):
    return "{" + ",".join(jstr(k) + ":" + jval(v) for k, v in row) + "}"


# ---- windows (windowing.md §1) and the Combine's output (§7) ----

def pane(start, end):
    return [("window_start", start), ("window_end", end), ("pane_timing", "ON_TIME"),
            ("pane_index", 0), ("pane_last", True), ("op", "+I")]


def fixed(t, size):
    s = (t // size) * size
    return [(s, s + size)]


def sliding(t, size, period):
    last = (t // period) * period
    out = []
    s = last
    while s > t - size:
        out.append((s, s + size))
        s -= period
    return out


def windowed(rows, key, assign):
    """{(key, start, end): [rows]} for fixed or sliding windows."""
    groups = {}
    for e in rows:
        for w in assign(e["ts"]):
            groups.setdefault((key(e),) + w, []).append(e)
    return groups


def sessions(rows, key, gap):
    """{(key, start, end): [rows]}: each record's [t, t+gap) merged with every overlapping one."""
    by_key = {}
    for e in rows:
        by_key.setdefault(key(e), []).append(e)
    groups = {}
    for k, es in by_key.items():
        es = sorted(es, key=lambda e: e["ts"])
        cur, start, end = [], None, None
        for e in es:
            t = e["ts"]
            if cur and t < end:  # overlaps (touching windows stay apart)
                cur.append(e)
                end = max(end, t + gap)
            else:
                if cur:
                    groups[(k, start, end)] = cur
                cur, start, end = [e], t, t + gap
        if cur:
            groups[(k, start, end)] = cur
    return groups


def bids(events):
    return [e for e in events if e["event_type"] == "bid"]


# ---- the queries, as examples/nexmark_q*.yaml write them ----

def q0(ev):
    return [[(f, e[f]) for f in FIELDS] for e in ev]


def q1(ev):
    return [[("auction", e["auction"]), ("bidder", e["bidder"]), ("price", 0.908 * e["price"]),
             ("ts", e["ts"])] for e in bids(ev)]


def q2(ev):
    return [[("auction", e["auction"]), ("price", e["price"])]
            for e in bids(ev) if e["auction"] % 123 == 0]


def q5(ev):
    g = windowed(bids(ev), lambda e: e["auction"], lambda t: sliding(t, 10000, 5000))
    return [[("auction", k), ("num_bids", len(rs))] + pane(s, e) for (k, s, e), rs in g.items()]


def q7(ev):
    g = windowed(bids(ev), lambda e: None, lambda t: fixed(t, 10000))
    return [[("max_price", max(r["price"] for r in rs)), ("bids", len(rs))] + pane(s, e)
            for (_, s, e), rs in g.items()]


def q11(ev):
    g = sessions(bids(ev), lambda e: e["bidder"], 10000)
    return [[("bidder", k), ("bid_count", len(rs)), ("max_price", max(r["price"] for r in rs))] +
            pane(s, e) for (k, s, e), rs in g.items()]


def q8(ev):
    """New users: a person and an auction they opened in the same fixed 10 s window (an inner
    join of person.id with auction.seller), as id, name, reserve and the window."""
    people = windowed([e for e in ev if e["event_type"] == "person"], lambda e: e["id"],
                      lambda t: fixed(t, 10000))
    auctions = windowed([e for e in ev if e["event_type"] == "auction"], lambda e: e["seller"],
                        lambda t: fixed(t, 10000))
    return [[("id", p["id"]), ("name", p["name"]), ("reserve", a["reserve"]),
             ("window_start", s), ("window_end", e)]
            for (k, s, e), ps in people.items() for p in ps for a in auctions.get((k, s, e), [])]


QUERIES = {  # query: (function, generator settings of its example)
    "q0": (q0, dict(events=500)),
    "q1": (q1, dict(events=1000)),
    "q2": (q2, dict(events=5000, seed=42)),
    "q5": (q5, dict(events=2000, rate=100, seed=42)),
    "q7": (q7, dict(events=5000, rate=100, bound=2000)),
    "q11": (q11, dict(events=3000, rate=10, seed=42)),
    "q8": (q8, dict(events=10000, rate=100, seed=42, bound=1000)),
}


def main(argv):
    if len(argv) < 2 or argv[1] not in QUERIES:
        sys.exit(__doc__)
    fn, settings = QUERIES[argv[1]]
    lines = [jline(r) for r in fn(list(generate(**settings)))]
    if len(argv) == 2:
        sys.stdout.write("".join(l + "\n" for l in lines))
        return 0
    if len(argv) != 4 or argv[2] not in ("--check", "--order-like"):
        sys.exit(__doc__)
    with open(argv[3]) as f:
        got = [l.rstrip("\n") for l in f]
    if sorted(got) != sorted(lines):
        want, have = set(lines), set(got)
        print("%s: %d rows, the reference has %d; %d differ" %
              (argv[3], len(got), len(lines), len(want ^ have)), file=sys.stderr)
        for l in sorted(have - want)[:3]:
            print("  only in the file:      " + l, file=sys.stderr)
        for l in sorted(want - have)[:3]:
            print("  only in the reference: " + l, file=sys.stderr)
        return 1
    if argv[2] == "--order-like":
        sys.stdout.write("".join(l + "\n" for l in got))  # the same rows, in the file's order
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
