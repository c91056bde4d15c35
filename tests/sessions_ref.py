#!/usr/bin/env python3
"""tests/sessions_ref.py: an independent reference for examples/clickstream_sessions.yaml.

Computes, from the rules of spec/windowing.md alone (no weir code), what the example writes:
per-user session windows (sections 1 and 5), the bounded out-of-orderness watermark (2),
allowed lateness, dropping and late output (3), the default trigger with its panes (4), the
accumulating or discarding change log (6) and the output fields (7), then the example's
MapToFields (duration_s). Python 3 standard library only.

    python3 tests/sessions_ref.py examples/data/clickstream.jsonl \
        >examples/clickstream_sessions.expected.jsonl
    python3 tests/sessions_ref.py --late LATE.jsonl --trace examples/data/clickstream.jsonl

The model is written for clarity, not speed: every record is handled against the watermark as it
stood before it, and the watermark is updated after every record (section 2, "an engine that
batches internally must give the same results as one that updates the watermark after every
record"). When one watermark step makes several windows due, they fire in order of window end
(section 4); the spec leaves the order across keys open, and this model uses weir's documented
one (operators/combine.c, file comment: window end, then the order in which the keys were
created, then window start; a key whose windows are all collected is created again by its next
record). tests/e2e/run_e2e.sh also checks the part the spec fixes whatever the order across keys:
the same rows, in the same order within each user, at 1 and 3 workers.
"""
import argparse
import json
import re
import sys

INF = float("inf")
UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)\Z")


def duration(text):
    """A duration as pipeline.md writes it: an integer (ms) or a number with a unit."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", text)
    if not m:
        raise SystemExit(f"sessions_ref: bad duration {text!r}")
    return int(m.group(1)) * UNITS[m.group(2) or "ms"]


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date, by counting (no datetime)."""
    def leap(yy):
        return yy % 4 == 0 and (yy % 100 != 0 or yy % 400 == 0)
    month_days = [31, 29 if leap(y) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not 1 <= m <= 12 or not 1 <= d <= month_days[m - 1]:
        raise ValueError("no such date")
    days = sum(366 if leap(yy) else 365 for yy in range(1970, y)) if y >= 1970 else \
        -sum(366 if leap(yy) else 365 for yy in range(y, 1970))
    return days + sum(month_days[: m - 1]) + d - 1


def event_time(v):
    """pipeline.md: an integer (ms since the epoch) or an RFC 3339 string."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    m = RFC3339.match(v) if isinstance(v, str) else None
    if not m:
        raise SystemExit(f"sessions_ref: timestamp {v!r} is neither an integer nor RFC 3339")
    y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
    frac, zone = m.group(7) or "", m.group(8)
    if len(frac) > 3:  # the spec counts milliseconds; it does not say how to round finer ones
        raise SystemExit(f"sessions_ref: {v!r}: finer than a millisecond, not modelled")
    if hh > 23 or mi > 59 or ss > 59:
        raise SystemExit(f"sessions_ref: {v!r}: no such time of day")
    offset = 0
    if zone not in "Zz":
        offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * 60_000
        offset = -offset if zone[0] == "-" else offset
    ms = ((days_from_civil(y, mo, d) * 24 + hh) * 60 + mi) * 60_000 + ss * 1000
    return ms + int(frac.ljust(3, "0")) - offset


class Window:
    """A session window of one key: bounds, its records, and its pane bookkeeping."""

    def __init__(self, start, end):
        self.start, self.end = start, end
        self.records = []          # every record of the window (accumulating)
        self.pending = []          # records since the previous pane (discarding)
        self.watermark_fired = False   # the default trigger's watermark part, for these bounds
        self.emitted_bounds = False    # a pane was emitted under exactly these bounds
        self.emitted_nonearly = False  # some pane of it or of a merged part was not EARLY
        self.next_index = 0


class Model:
    def __init__(self, args, out, late, trace):
        self.gap, self.bound, self.lateness = args.gap, args.bound, args.lateness
        self.mode = args.mode
        self.out, self.late, self.trace = out, late, trace
        self.wm = -INF
        self.keys = {}      # user -> {"seq": creation order, "wins": [Window] sorted by start}
        self.next_seq = 0
        self.read = self.written = self.dropped = 0

    def log(self, msg):
        if self.trace:
            self.trace.write(msg + "\n")

    def aggregate(self, recs):
        """clicks: count; spent: sum of amount; largest: max of amount (section 7)."""
        amounts = [r["amount"] for r in recs if r.get("amount") is not None]
        if any(isinstance(a, float) for a in amounts):
            spent = float(sum(amounts))
        else:
            spent = sum(amounts)
        return {"clicks": len(recs), "spent": spent, "largest": max(amounts) if amounts else None}

    def fire(self, user, w):
        """Emits a pane of w (sections 4, 6, 7) and the example's MapToFields."""
        timing = "LATE" if w.emitted_nonearly else ("EARLY" if self.wm < w.end else "ON_TIME")
        last = self.wm >= w.end + self.lateness  # its state goes right after this pane
        if self.mode == "accumulating":
            value = self.aggregate(w.records)
            op = "+U" if w.emitted_bounds else "+I"
        else:
            value = self.aggregate(w.pending)
            op = "+I"
        row = {"user": user, **value, "window_start": w.start, "window_end": w.end,
               "pane_timing": timing, "pane_index": w.next_index, "pane_last": last, "op": op,
               "duration_s": (w.end - w.start - self.gap) / 1000}
        self.out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
        self.written += 1
        self.log(f"  pane {user} [{w.start},{w.end}) {timing} {w.next_index} {op} last={last}"
                 f" clicks={value['clicks']}")
        w.pending = []
        w.next_index += 1
        w.emitted_bounds = True
        if timing != "EARLY":
            w.emitted_nonearly = True

    def advance(self, wm):
        """The watermark moves to wm: on-time panes and garbage collection, by window end."""
        if wm <= self.wm:
            return
        self.wm = wm
        due = []
        for user, k in self.keys.items():
            for w in k["wins"]:
                if w.end <= wm and (not w.watermark_fired or w.end + self.lateness <= wm):
                    due.append((w.end, k["seq"], w.start, user, w))
        for _, _, _, user, w in sorted(due, key=lambda d: d[:3]):
            if not w.watermark_fired:
                w.watermark_fired = True
                self.fire(user, w)  # the on-time pane fires even if nothing is pending
            if w.end + self.lateness <= wm:
                if w.pending:
                    self.fire(user, w)  # garbage collection fires only if non-empty
                self.log(f"  collect {user} [{w.start},{w.end})")
                k = self.keys[user]
                k["wins"].remove(w)
                if not k["wins"]:
                    del self.keys[user]

    def record(self, line, rec):
        self.read += 1
        user, t = rec["user"], event_time(rec["ts"])
        s, e = t, t + self.gap
        self.log(f"record {self.read} {user} t={t} wm={self.wm}")
        # section 3: dropped when W >= e + L, tested on the record's own window [t, t + gap)
        if self.wm >= e + self.lateness:
            self.dropped += 1
            self.log("  dropped as late")
            if self.late:
                self.late.write(line if line.endswith("\n") else line + "\n")
            return t
        if user not in self.keys:
            self.keys[user] = {"seq": self.next_seq, "wins": []}
            self.next_seq += 1
        wins = self.keys[user]["wins"]
        # section 5: merge with every window that strictly overlaps [t, t + gap)
        parts = [w for w in wins if w.start < e and s < w.end]
        ms = min([s] + [w.start for w in parts])
        me = max([e] + [w.end for w in parts])
        same = [w for w in parts if w.start == ms and w.end == me]
        target = same[0] if same else Window(ms, me)
        for w in parts:
            if w is target:
                continue
            target.records += w.records
            target.pending += w.pending
            target.next_index = max(target.next_index, w.next_index)
            target.emitted_nonearly |= w.emitted_nonearly
            wins.remove(w)
        if target not in wins:
            wins.append(target)
            wins.sort(key=lambda w: w.start)
        if parts:
            self.log(f"  merged into [{ms},{me})" + (" (same bounds)" if same else ""))
        target.watermark_fired = False  # the merged window's watermark part starts over
        target.records.append(rec)
        target.pending.append(rec)
        # default trigger: the watermark part fires at once if the watermark is past the end
        if self.wm >= target.end:
            target.watermark_fired = True
            self.fire(user, target)
        return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("--gap", type=duration, default=duration("10m"))
    ap.add_argument("--bound", type=duration, default=duration("1m"),
                    help="max_out_of_orderness")
    ap.add_argument("--lateness", type=duration, default=duration("5m"),
                    help="allowed_lateness")
    ap.add_argument("--mode", choices=["accumulating", "discarding"], default="accumulating")
    ap.add_argument("--late", help="write the records dropped as late to this file")
    ap.add_argument("--trace", action="store_true", help="explain each step on stderr")
    args = ap.parse_args()
    late = open(args.late, "w") if args.late else None
    model = Model(args, sys.stdout, late, sys.stderr if args.trace else None)
    max_ts = -INF
    with open(args.input) as f:
        for line in f:
            if not line.strip():
                continue
            t = model.record(line, json.loads(line))
            max_ts = max(max_ts, t)
            model.advance(max_ts - args.bound)  # section 2, after every record
    model.advance(INF)  # end of the bounded input
    if late:
        late.close()
    print(f"sessions_ref: read {model.read} records, wrote {model.written}, dropped "
          f"{model.dropped} as late", file=sys.stderr)


if __name__ == "__main__":
    main()
