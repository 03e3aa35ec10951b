#!/usr/bin/env python3
"""Recomputes DAMON_STAT's published numbers from its own damon_aggregated events.

    tests/vm/facts/damon_stat_from_trace.py tests/vm/facts/<kernel>/

Reads damon-stat-trace-raw.txt (trace_pipe lines of DAMON_STAT's kdamond, captured by
tests/vm/explore.sh) and damon-stat-params-series.txt (its module parameters read every 2 s
meanwhile). For every distinct parameter sample it searches the captured aggregations for one
that reproduces the published memory_idle_ms_percentiles, and compares the bandwidth, using
DAMON_STAT's definitions (docs/kernel-7x.md):

  idle_ms(region)  = (age + 1) * aggr_us / 1000, negated when nr_accesses > 0
  percentile p     = idle_ms of the first region (sorted by idle_ms) at which the cumulative
                     size reaches p% of the total size
  bandwidth (B/s)  = sum(size * nr_accesses) * 1e6 / aggr_us

The kernel computes both from the regions as they are when its 5-second callback runs, which
may be in the middle of an aggregation interval: nr_accesses then holds a partial count, so
the bandwidth of a finished aggregation (the tracepoint's) reads higher; the percentiles only
depend on nr_accesses being zero or not, and on age.
The aggregation interval of a snapshot is 20 x the sample_us of the latest
damon_monitor_intervals_tune event before it (DAMON_STAT keeps aggr = 20 x sample), or the
parameter's value for snapshots before the first tune event of the capture. The trace clock
and /proc/uptime differ, so snapshots are matched by content, not by time.
"""
import re
import sys
from pathlib import Path

AGG = re.compile(r"\s(\d+\.\d+): damon_aggregated: target_id=(\d+) nr_regions=(\d+) (\d+)-(\d+): (\d+) (\d+)")
TUNE = re.compile(r"\s(\d+\.\d+): damon_monitor_intervals_tune: sample_us=(\d+)")
PARAMS = re.compile(r"uptime=([\d.]+) aggr_interval_us=(\d+) estimated_memory_bandwidth=(\d+)")


def snapshots(lines):
    """Complete aggregations: (timestamp, sample_us of the latest tune event or None, regions)."""
    out, cur, want, prev_start, sample_us = [], [], 0, -1, None
    for line in lines:
        m = TUNE.search(line)
        if m:
            sample_us = int(m.group(2))
            continue
        m = AGG.search(line)
        if not m:
            continue
        nr, start, end, acc, age = (int(m.group(i)) for i in (3, 4, 5, 6, 7))
        if cur and start <= prev_start:  # a new aggregation began before the last completed
            cur = []
        if not cur:
            want = nr
        cur.append((start, end, acc, age))
        prev_start = start
        if len(cur) == want:
            out.append((float(m.group(1)), sample_us, cur))
            cur = []
    return out


def idle_percentiles(regions, aggr_us):
    items = sorted(((age + 1) * aggr_us // 1000 * (-1 if acc > 0 else 1), end - start) for start, end, acc, age in regions)
    total = sum(size for _, size in items)
    result = []
    for p in range(101):
        cumulative = 0
        for idle, size in items:
            cumulative += size
            if cumulative * 100 >= p * total:
                result.append(idle)
                break
    return result


def bandwidth(regions, aggr_us):
    return sum((end - start) * acc for start, end, acc, _ in regions) * 1000000 // aggr_us


def main(facts):
    snaps = snapshots((facts / "damon-stat-trace-raw.txt").read_text().splitlines())
    lines = (facts / "damon-stat-params-series.txt").read_text().splitlines()
    samples = []
    for i, line in enumerate(lines):
        m = PARAMS.match(line)
        if m:
            pct = [int(x) for x in lines[i + 1].split("=", 1)[1].split(",")]
            samples.append((float(m.group(1)), int(m.group(2)), int(m.group(3)), pct))
    print(f"{len(snaps)} complete aggregations of DAMON_STAT's kdamond in the capture "
          f"(trace time {snaps[0][0]:.2f}..{snaps[-1][0]:.2f} s)")
    seen = set()
    matched = 0
    for uptime, aggr_param, bw_param, pct in samples:
        if (tuple(pct), bw_param) in seen:
            continue
        seen.add((tuple(pct), bw_param))
        best = None
        for ts, sample_us, regions in snaps:
            aggr_us = sample_us * 20 if sample_us else aggr_param
            mine = idle_percentiles(regions, aggr_us)
            differ = sum(1 for a, b in zip(mine, pct) if a != b)
            bw = bandwidth(regions, aggr_us)
            if best is None or (differ, abs(bw - bw_param)) < best[:2]:  # percentiles decide
                best = (differ, abs(bw - bw_param), ts, aggr_us, len(regions), bw)
        differ, _, ts, aggr_us, n, bw = best
        matched += differ == 0
        print(f"params at uptime {uptime:.2f} (aggr_interval_us {aggr_param}): best snapshot at trace time {ts:.3f} "
              f"({n} regions, aggr {aggr_us} us): {differ}/101 percentiles differ; bandwidth {bw} vs published "
              f"{bw_param} (x{bw / bw_param:.2f})")
    print(f"{matched} of {len(seen)} distinct published percentile sets reproduced exactly by a captured aggregation")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
