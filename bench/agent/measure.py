#!/usr/bin/env python3
"""One measured agent run (bench/agent/run.sh calls it once per variant and round).

    measure.py --label L --port P [--duration 60] [--warmup 10] [--scrape-every 5] -- CMD...

Starts CMD (its environment plus any K=V given with --env), polls http://127.0.0.1:P/metrics
every 2 ms from the moment of the fork until it answers 200 (start to first /metrics; also the
process CPU spent by then), then until the answer holds damon_memory_working_set_bytes (start to
first data; every region source exports it, tried_bytes has no damon_region_count), lets it
run --warmup seconds, then measures --duration seconds while scraping every --scrape-every
seconds as Prometheus would: process CPU (utime+stime, /proc/<pid>/stat), the
CPU of the Simulator's real-time thread (comm ".NET Long Runni", 0 when there is none), RSS
sampled every second (median = steady RSS), peak RSS (VmHWM), threads. Prints one JSON line.
"""
import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time

TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def ticks(path):
    with open(path) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def sim_ticks(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                if f.read().strip() == ".NET Long Runni":
                    total += ticks(f"/proc/{pid}/task/{t}/stat")
        except OSError:
            pass
    return total


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_kb(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE // 1024


def get(port, timeout=2.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        r = c.getresponse()
        body = r.read()
        return r.status, body
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--scrape-every", type=float, default=5)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    env = dict(os.environ)
    for kv in a.env:
        k, v = kv.split("=", 1)
        env[k] = v
    log = open(a.log, "w")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    res = {"label": a.label, "env": a.env}
    try:
        first = first_data = None
        deadline = t0 + 120
        while time.monotonic() < deadline and p.poll() is None:
            try:
                code, body = get(a.port, timeout=1.0)
            except OSError:
                time.sleep(0.002)
                continue
            now = time.monotonic()
            if code == 200 and first is None:
                first = now
                res["start_to_metrics_ms"] = round((now - t0) * 1000, 1)
                res["start_cpu_s"] = ticks(f"/proc/{p.pid}/stat") / TCK
            if code == 200 and b"damon_memory_working_set_bytes{" in _plain(body):
                first_data = now
                res["start_to_data_ms"] = round((now - t0) * 1000, 1)
                break
            time.sleep(0.002)
        if first_data is None:
            raise RuntimeError(f"{a.label}: no /metrics with data within 120 s (exit code {p.poll()})")
        time.sleep(a.warmup)
        c0, s0, w0 = ticks(f"/proc/{p.pid}/stat"), sim_ticks(p.pid), time.monotonic()
        rss, scrapes, next_scrape = [], 0, w0
        while time.monotonic() - w0 < a.duration:
            now = time.monotonic()
            if now >= next_scrape:
                code, _ = get(a.port, timeout=5.0)
                if code != 200:
                    raise RuntimeError(f"{a.label}: scrape answered {code}")
                scrapes += 1
                next_scrape += a.scrape_every
            rss.append(rss_kb(p.pid))
            time.sleep(1.0)
        c1, s1, w1 = ticks(f"/proc/{p.pid}/stat"), sim_ticks(p.pid), time.monotonic()
        wall = w1 - w0
        cpu, sim = (c1 - c0) / TCK, (s1 - s0) / TCK
        res.update({
            "wall_s": round(wall, 1),
            "cpu_pct": round(100 * cpu / wall, 3),
            "sim_thread_pct": round(100 * sim / wall, 3),
            "agent_pct": round(100 * (cpu - sim) / wall, 3),
            "rss_median_mb": round(statistics.median(rss) / 1024, 1),
            "rss_end_mb": round(rss[-1] / 1024, 1),
            "hwm_mb": round(status(p.pid, "VmHWM") / 1024, 1),
            "rss_anon_mb": round(status(p.pid, "RssAnon") / 1024, 1),
            "rss_file_mb": round(status(p.pid, "RssFile") / 1024, 1),
            "threads": len(os.listdir(f"/proc/{p.pid}/task")),
            "scrapes": scrapes,
            "load": os.getloadavg()[0],
        })
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    print(json.dumps(res), flush=True)


def _plain(body):
    if body[:2] == b"\x1f\x8b":
        import gzip
        return gzip.decompress(body)
    return body


if __name__ == "__main__":
    main()
