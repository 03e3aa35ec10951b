#!/usr/bin/env python3
"""Writes the checked-in fake kernel trees (sys/, sys/kernel/tracing/, proc/) for the
DamonOtel.Damon reader tests. Re-run after editing; commit the output.
Values are hand-chosen; the tests assert them literally.
Each fixture directory is a KernelRoots.Under(...) prefix."""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ULMAX = 18446744073709551615
UIMAX = 4294967295


def write(root, rel, value):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        f.write(value if isinstance(value, str) and (value == "" or value.endswith("\n") or "\0" in value) else f"{value}\n")


def tree(root, base, d):
    for k, v in d.items():
        rel = os.path.join(base, k)
        if isinstance(v, dict):
            tree(root, rel, v)
        else:
            write(root, rel, v)


def pattern(sz, nr, age):
    return {"sz": {"min": sz[0], "max": sz[1]}, "nr_accesses": {"min": nr[0], "max": nr[1]}, "age": {"min": age[0], "max": age[1]}}


def stats(nr_tried, sz_tried, nr_applied, sz_applied, qt, extra=None):
    s = {"nr_tried": nr_tried, "sz_tried": sz_tried, "nr_applied": nr_applied, "sz_applied": sz_applied, "qt_exceeds": qt}
    s.update(extra or {})
    return s


def numbered(items, names=None):
    names = names or [str(i) for i in range(len(items))]
    return dict(zip(names, items))


def filters_dir(filters):
    d = {"nr_filters": len(filters)}
    d.update(numbered(filters))
    return d


def admin(kdamonds):
    d = {"nr_kdamonds": len(kdamonds)}
    d.update(numbered(kdamonds))
    return {"kernel/mm/damon/admin/kdamonds": d}


def linux_5_18(root):
    ctx = {
        "operations": "vaddr",
        "monitoring_attrs": {"intervals": {"sample_us": 5000, "aggr_us": 100000, "update_us": 60000000},
                             "nr_regions": {"min": 10, "max": 1000}},
        "targets": {"nr_targets": 1, "0": {"pid_target": 1234, "regions": {"nr_regions": 0}}},
        "schemes": {"nr_schemes": 1, "0": {
            "action": "pageout",
            "access_pattern": pattern((4096, ULMAX), (0, 0), (10, UIMAX)),
            "quotas": {"ms": 10, "bytes": 134217728, "reset_interval_ms": 1000,
                       "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 1}},
            "watermarks": {"metric": "free_mem_rate", "interval_us": 5000000, "high": 500, "mid": 400, "low": 200},
            "stats": stats(5, 20480, 3, 12288, 1),
        }},
    }
    kd = {"state": "off", "pid": -1, "contexts": {"nr_contexts": 1, "0": ctx}}
    tree(root, "sys", admin([kd]))
    tree(root, "sys/module/damon_reclaim/parameters", {
        "enabled": "N", "kdamond_pid": -1, "min_age": 120000000, "quota_ms": 10, "quota_sz": 134217728,
        "quota_reset_interval_ms": 1000, "wmarks_interval": 5000000, "wmarks_high": 500, "wmarks_mid": 400,
        "wmarks_low": 200, "sample_interval": 5000, "aggr_interval": 100000, "min_nr_regions": 10,
        "max_nr_regions": 1000, "monitor_region_start": 0, "monitor_region_end": 0,
        "nr_reclaim_tried_regions": 0, "bytes_reclaim_tried_regions": 0, "nr_reclaimed_regions": 0,
        "bytes_reclaimed_regions": 0, "nr_quota_exceeds": 0})


def linux_6_12(root):
    filt = {"type": "anon", "matching": "Y", "memcg_path": "\n", "addr_start": 0, "addr_end": 0, "damon_target_idx": 0}
    regions = [(140000000000000, 140000000409600, 0, 12), (140000000409600, 140000001228800, 5, 3),
               (140737488273408, 140737488355328, 20, 0)]
    tried = {"total_bytes": 1310720}
    tried.update(numbered([{"start": s, "end": e, "nr_accesses": n, "age": a} for s, e, n, a in regions]))
    ctx = {
        "avail_operations": "vaddr\nfvaddr\npaddr\n",
        "operations": "vaddr",
        "monitoring_attrs": {"intervals": {"sample_us": 5000, "aggr_us": 100000, "update_us": 1000000},
                             "nr_regions": {"min": 10, "max": 1000}},
        "targets": {"nr_targets": 1, "0": {"pid_target": 4321, "regions": {"nr_regions": 0}}},
        "schemes": {"nr_schemes": 1, "0": {
            "action": "stat", "apply_interval_us": 5000, "target_nid": -1,
            "access_pattern": pattern((0, ULMAX), (0, UIMAX), (0, UIMAX)),
            "quotas": {"ms": 0, "bytes": 0, "reset_interval_ms": 0, "effective_bytes": 0,
                       "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 0},
                       "goals": {"nr_goals": 1, "0": {"target_metric": "some_mem_psi_us", "target_value": 1000, "current_value": 0}}},
            "watermarks": {"metric": "none", "interval_us": 0, "high": 0, "mid": 0, "low": 0},
            "filters": filters_dir([filt]),
            "stats": stats(3, 1310720, 3, 1310720, 0),
            "tried_regions": tried,
        }},
    }
    kd = {"state": "on", "pid": 4242, "contexts": {"nr_contexts": 1, "0": ctx}}
    tree(root, "sys", admin([kd]))
    tree(root, "sys/module/damon_reclaim/parameters", {
        "enabled": "Y", "kdamond_pid": 88, "min_age": 120000000, "quota_ms": 10, "quota_sz": 134217728,
        "quota_reset_interval_ms": 1000, "quota_mem_pressure_us": 0, "quota_autotune_feedback": 0,
        "wmarks_interval": 5000000, "wmarks_high": 500, "wmarks_mid": 400, "wmarks_low": 200,
        "sample_interval": 5000, "aggr_interval": 100000, "min_nr_regions": 10, "max_nr_regions": 1000,
        "monitor_region_start": 4294967296, "monitor_region_end": 8321499136, "skip_anon": "N",
        "nr_reclaim_tried_regions": 120, "bytes_reclaim_tried_regions": 503316480, "nr_reclaimed_regions": 100,
        "bytes_reclaimed_regions": 419430400, "nr_quota_exceeds": 7, "commit_inputs": "N"})
    tree(root, "sys/module/damon_lru_sort/parameters", {
        "enabled": "N", "kdamond_pid": -1, "hot_thres_access_freq": 500, "cold_min_age": 120000000,
        "quota_ms": 10, "quota_reset_interval_ms": 1000, "sample_interval": 5000, "aggr_interval": 100000,
        "nr_lru_sort_tried_hot_regions": 0, "bytes_lru_sort_tried_hot_regions": 0, "nr_lru_sorted_hot_regions": 0,
        "bytes_lru_sorted_hot_regions": 0, "nr_hot_quota_exceeds": 0, "nr_lru_sort_tried_cold_regions": 0,
        "bytes_lru_sort_tried_cold_regions": 0, "nr_lru_sorted_cold_regions": 0, "bytes_lru_sorted_cold_regions": 0,
        "nr_cold_quota_exceeds": 0})
    for ev in ["damon_aggregated", "damos_before_apply"]:
        write(root, f"sys/kernel/tracing/events/damon/{ev}/enable", "0")


def linux_6_18(root):
    def filt(t, matching, allow, addr=(0, 0)):
        return {"type": t, "matching": matching, "allow": allow, "memcg_path": "\n", "addr_start": addr[0],
                "addr_end": addr[1], "damon_target_idx": 0, "min": 0, "max": 0}

    # Region names as 6.14+ kernels make them: odd, not contiguous, and "11" sorts before "3" as text.
    regions = [("1", 4294967296, 4563402752, 0, 40, 134217728),
               ("3", 4563402752, 5100273664, 3, 2, 0),
               ("5", 5100273664, 6174015488, 0, 120, 1073741824),
               ("7", 6174015488, 6442450944, 10, 0, 4096),
               ("11", 6442450944, 8321499136, 0, 7, 0)]
    tried = {"total_bytes": 4026531840}
    for name, s, e, n, a, p in regions:
        tried[name] = {"start": s, "end": e, "nr_accesses": n, "age": a, "sz_filter_passed": p}

    def scheme(action, apply_us, pat, quotas, goals, core, ops, dests, st, tr):
        g = {"nr_goals": len(goals)}
        g.update(numbered(goals))
        q = dict(quotas)
        q["goals"] = g
        d = {"nr_dests": len(dests)}
        d.update(numbered(dests))
        return {"action": action, "apply_interval_us": apply_us, "target_nid": -1, "access_pattern": pat,
                "quotas": q, "watermarks": {"metric": "none", "interval_us": 0, "high": 0, "mid": 0, "low": 0},
                "filters": filters_dir([]), "core_filters": filters_dir(core), "ops_filters": filters_dir(ops),
                "dests": d, "stats": st, "tried_regions": tr}

    s0 = scheme("pageout", 0, pattern((0, ULMAX), (0, 1), (6, UIMAX)),
                {"ms": 800, "bytes": 2147483648, "reset_interval_ms": 1000, "effective_bytes": 0,
                 "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 1000}},
                [], [], [filt("anon", "Y", "N"), filt("unmapped", "Y", "Y")], [],
                stats(0, 0, 0, 0, 0, {"sz_ops_filter_passed": 0}), {"total_bytes": 0})
    s1 = scheme("stat", 500000, pattern((0, ULMAX), (0, UIMAX), (0, UIMAX)),
                {"ms": 0, "bytes": 0, "reset_interval_ms": 0, "effective_bytes": 0,
                 "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 0}},
                [{"target_metric": "node_mem_used_bp", "target_value": 9000, "current_value": 0, "nid": 0}],
                [filt("addr", "Y", "Y", (4294967296, 8321499136))], [], [{"id": 1, "weight": 100}],
                stats(25, 4026531840, 25, 4026531840, 0, {"sz_ops_filter_passed": 1207963648}), tried)
    ctx = {
        "avail_operations": "paddr\n",
        "operations": "paddr",
        "addr_unit": 1,
        "monitoring_attrs": {"intervals": {"sample_us": 500000, "aggr_us": 5000000, "update_us": 60000000,
                                           "intervals_goal": {"access_bp": 0, "aggrs": 0, "min_sample_us": 0, "max_sample_us": 0}},
                             "nr_regions": {"min": 1024, "max": 8192}},
        "targets": {"nr_targets": 1, "0": {"pid_target": 0, "regions": {"nr_regions": 1, "0": {"start": 4294967296, "end": 8321499136}}}},
        "schemes": {"nr_schemes": 2, "0": s0, "1": s1},
    }
    kd = {"state": "on", "pid": 77, "refresh_ms": 0, "contexts": {"nr_contexts": 1, "0": ctx}}
    tree(root, "sys", admin([kd]))
    pct = [-(20 - i) * 2000 if i < 20 else (i - 19) * 2000 for i in range(101)]
    tree(root, "sys/module/damon_stat/parameters", {
        "enabled": "Y", "estimated_memory_bandwidth": 123456789, "aggr_interval_us": 2000000,
        "memory_idle_ms_percentiles": ",".join(str(p) for p in pct)})
    tree(root, "sys/module/damon_reclaim/parameters", {
        "enabled": "N", "kdamond_pid": -1, "min_age": 120000000, "quota_ms": 10, "quota_sz": 134217728,
        "quota_reset_interval_ms": 1000, "quota_mem_pressure_us": 0, "quota_autotune_feedback": 0,
        "sample_interval": 5000, "aggr_interval": 100000, "min_nr_regions": 10, "max_nr_regions": 1000,
        "monitor_region_start": 0, "monitor_region_end": 0, "skip_anon": "N", "addr_unit": 1,
        "nr_reclaim_tried_regions": 0, "bytes_reclaim_tried_regions": 0, "nr_reclaimed_regions": 0,
        "bytes_reclaimed_regions": 0, "nr_quota_exceeds": 0})
    tree(root, "sys/module/damon_lru_sort/parameters", {
        "enabled": "Y", "kdamond_pid": 99, "hot_thres_access_freq": 500, "cold_min_age": 120000000,
        "quota_ms": 10, "quota_reset_interval_ms": 1000, "sample_interval": 5000, "aggr_interval": 100000,
        "addr_unit": 1,
        "nr_lru_sort_tried_hot_regions": 12, "bytes_lru_sort_tried_hot_regions": 49152,
        "nr_lru_sorted_hot_regions": 10, "bytes_lru_sorted_hot_regions": 40960, "nr_hot_quota_exceeds": 2,
        "nr_lru_sort_tried_cold_regions": 30, "bytes_lru_sort_tried_cold_regions": 122880,
        "nr_lru_sorted_cold_regions": 25, "bytes_lru_sorted_cold_regions": 102400, "nr_cold_quota_exceeds": 0})
    for ev in ["damon_aggregated", "damos_before_apply", "damon_monitor_intervals_tune", "damos_esz"]:
        write(root, f"sys/kernel/tracing/events/damon/{ev}/enable", "0")
    # /proc: the kdamond, a process whose comm contains ") (", and iomem with nested lines.
    tree(root, "proc/77", {
        "stat": "77 (kdamond.0) S 2 0 0 0 -1 2129984 0 0 0 0 1234 567 0 0 20 0 1 0 100 0 0 "
                "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 3 0 0 0 0 0\n",
        "comm": "kdamond.0\n", "cmdline": "", "statm": "0 0 0 0 0 0 0\n"})
    tree(root, "proc/4321", {
        "stat": "4321 (a) (b c) R 1 4321 4321 0 -1 4194304 100 0 0 0 250 130 0 0 20 0 1 0 5000 "
                "10485760 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
        "comm": "a) (b c\n", "cmdline": "/usr/bin/stress-ng\0--vm\0" "1\0--vm-bytes\0" "512M\0",
        "statm": "2621 2560 300 10 0 1500 0\n"})
    tree(root, "proc/4400", {
        "stat": "4400 (stress-ng) S 4321 4321 4321 0 -1 4194304 0 0 0 0 7 3 0 0 20 0 1 0 5001 0 0\n",
        "comm": "stress-ng\n", "cmdline": "stress-ng-vm\0", "statm": "100 50 10 10 0 40 0\n"})
    write(root, "proc/iomem", "00000000-00000fff : Reserved\n"
          "00001000-0009fbff : System RAM\n"
          "0009fc00-0009ffff : Reserved\n"
          "000a0000-000bffff : PCI Bus 0000:00\n"
          "000f0000-000fffff : System ROM\n"
          "00100000-bffdffff : System RAM\n"
          "  01000000-01ffffff : Kernel code\n"
          "  02000000-0260ffff : Kernel rodata\n"
          "  1fe00000-1fffffff : System RAM\n"
          "bffe0000-bfffffff : Reserved\n"
          "fee00000-fee00fff : Local APIC\n"
          "100000000-1efffffff : System RAM\n"
          "  1c0000000-1c0ffffff : Crash kernel\n")


# The 7.3 trees follow a real 7.3.4 tree (tests/vm/facts/7.3.4+deb13-cloud-amd64/, captured with
# `tests/vm/run --kernel newest --explore`; what each file means is in docs/kernel-7x.md): every
# file name and directory that kernel has, values hand-chosen near the captured ones.
FACTS_7_3 = os.path.join(HERE, "..", "..", "vm", "facts", "7.3.4+deb13-cloud-amd64")
DAMON_EVENTS_7_3 = ["damon_aggregated", "damon_monitor_intervals_tune", "damon_region_aggregated",
                    "damos_before_apply", "damos_esz", "damos_stat_after_apply_interval"]


def trace_formats_7_3(root):
    """events/damon/<event>/{enable,format} with the format text the real 7.3.4 kernel printed."""
    with open(os.path.join(FACTS_7_3, "trace-formats.txt")) as f:
        blocks = f.read().split("== ")[1:]
    formats = {b.split("\n", 1)[0]: b.split("\n", 1)[1] for b in blocks}
    assert sorted(formats) == DAMON_EVENTS_7_3, sorted(formats)
    for ev in DAMON_EVENTS_7_3:
        write(root, f"sys/kernel/tracing/events/damon/{ev}/enable", "0")
        write(root, f"sys/kernel/tracing/events/damon/{ev}/format", formats[ev])
    write(root, "sys/kernel/tracing/events/damon/enable", "0")


def module_params_7_3(root, stat_enabled, stat_pid):
    # 101 signed percentiles (6.18+: negative = accessed for that long), as the kernel printed
    # them at uptime 48.47 with aggr_interval_us 1039360 (tests/vm/facts/.../damon-stat-params-series.txt).
    runs = [(-6236, 1), (-3118, 6), (2078, 10), (5196, 4), (12472, 3), (16629, 10), (17669, 8), (18708, 25),
            (19747, 9), (23905, 8), (24944, 8), (27023, 9)]
    pct = [v for v, n in runs for _ in range(n)]
    assert len(pct) == 101
    tree(root, "sys/module/damon_stat/parameters", {
        "enabled": stat_enabled, "kdamond_pid": stat_pid, "aggr_interval_us": 1039360,
        "estimated_memory_bandwidth": 2338317241, "memory_idle_ms_percentiles": ",".join(str(p) for p in pct)})
    tree(root, "sys/module/damon_reclaim/parameters", {
        "enabled": "N", "kdamond_pid": -1, "addr_unit": 1, "aggr_interval": 100000,
        "autotune_monitoring_intervals": "N", "commit_inputs": "N", "max_nr_regions": 1000, "min_age": 120000000,
        "min_nr_regions": 10, "monitor_region_start": 0, "monitor_region_end": 0, "quota_autotune_feedback": 0,
        "quota_mem_pressure_us": 0, "quota_ms": 10, "quota_reset_interval_ms": 1000, "quota_sz": 134217728,
        "sample_interval": 5000, "skip_anon": "N", "wmarks_high": 500, "wmarks_interval": 5000000,
        "wmarks_low": 200, "wmarks_mid": 400,
        "nr_reclaim_tried_regions": 0, "bytes_reclaim_tried_regions": 0, "nr_reclaimed_regions": 0,
        "bytes_reclaimed_regions": 0, "nr_quota_exceeds": 0})
    tree(root, "sys/module/damon_lru_sort/parameters", {
        "enabled": "N", "kdamond_pid": -1, "active_mem_bp": 0, "addr_unit": 1, "aggr_interval": 100000,
        "autotune_monitoring_intervals": "N", "cold_min_age": 120000000, "commit_inputs": "N",
        "filter_young_pages": "N", "hot_thres_access_freq": 500, "max_nr_regions": 1000, "min_nr_regions": 10,
        "monitor_region_start": 0, "monitor_region_end": 0, "quota_ms": 10, "quota_reset_interval_ms": 1000,
        "sample_interval": 5000, "wmarks_high": 200, "wmarks_interval": 5000000, "wmarks_low": 50, "wmarks_mid": 150,
        "nr_lru_sort_tried_hot_regions": 0, "bytes_lru_sort_tried_hot_regions": 0, "nr_lru_sorted_hot_regions": 0,
        "bytes_lru_sorted_hot_regions": 0, "nr_hot_quota_exceeds": 0, "nr_lru_sort_tried_cold_regions": 0,
        "bytes_lru_sort_tried_cold_regions": 0, "nr_lru_sorted_cold_regions": 0, "bytes_lru_sorted_cold_regions": 0,
        "nr_cold_quota_exceeds": 0})


def proc_7_3(root, kdamonds):
    """/proc/<pid> of each (pid, comm) kdamond thread, of the workload, and iomem of the 2 GiB guest."""
    for pid, comm in kdamonds:
        tree(root, f"proc/{pid}", {
            "stat": f"{pid} ({comm}) S 2 0 0 0 -1 2129984 0 0 0 0 0 412 0 0 20 0 1 0 236 0 0 "
                    "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            "comm": f"{comm}\n", "cmdline": "", "statm": "0 0 0 0 0 0 0\n"})
    tree(root, "proc/156", {
        "stat": "156 (wsgen) R 1 1 0 0 -1 4194304 262400 0 0 0 9120 215 0 0 20 0 1 0 912 1078693888 262190 "
                "18446744073709551615 4194304 4881417 140730000000000 0 0 0 0 0 0 0 0 0 17 2 0 0 0 0 0\n",
        "comm": "wsgen\n", "cmdline": "/usr/bin/wsgen\0-t\0" "1G\0-p\0" "128M@0:0\0-p\0" "384M@512M\0",
        "statm": "263353 262190 69 171 0 262243 0\n"})
    write(root, "proc/iomem", "00000000-00000fff : Reserved\n"
          "00001000-0009fbff : System RAM\n"
          "0009fc00-0009ffff : Reserved\n"
          "000a0000-000bffff : PCI Bus 0000:00\n"
          "000f0000-000fffff : Reserved\n"
          "  000f0000-000fffff : System ROM\n"
          "00100000-7ffdffff : System RAM\n"
          "  2b000000-2c1fffff : Kernel code\n"
          "  2c200000-2cc8afff : Kernel rodata\n"
          "7ffe0000-7fffffff : Reserved\n"
          "fee00000-fee00fff : Local APIC\n")


def linux_7_3(root):
    """DAMON_STAT switched off (enabled=N, as an agent that took it over leaves it while its
    kdamonds run) and two sysfs kdamonds running: 0 vaddr on wsgen (intervals auto-tuned), 1 paddr
    with a data-attribute probe. Each has a match-everything stat scheme and a pageout scheme
    with quotas, a quota goal, watermarks, core and ops filters and a destination."""
    def filt(t, matching, allow, addr=(0, 0), sz=(0, 0)):
        return {"type": t, "matching": matching, "allow": allow, "memcg_path": "\n", "addr_start": addr[0],
                "addr_end": addr[1], "damon_target_idx": 0, "min": sz[0], "max": sz[1]}

    def tried(regions, probes=0):
        d = {"total_bytes": sum(e - s for s, e, _, _, _, _ in regions)}
        for i, (s, e, n, a, passed, hits) in enumerate(regions):
            r = {"start": s, "end": e, "nr_accesses": n, "age": a, "sz_filter_passed": passed}
            if probes:
                r["probes"] = {"0": {"hits": hits}}
            d[str(i)] = r
        return d

    def scheme(action, pat, quotas, goals, core, ops, dests, wmarks, st, tr, legacy=()):
        g = {"nr_goals": len(goals)}
        g.update(numbered(goals))
        q = dict(quotas)
        q["goals"] = g
        d = {"nr_dests": len(dests)}
        d.update(numbered(dests))
        return {"action": action, "apply_interval_us": 0, "target_nid": -1, "access_pattern": pat,
                "quotas": q, "watermarks": wmarks, "filters": filters_dir(list(legacy)), "core_filters": filters_dir(core),
                "ops_filters": filters_dir(ops), "dests": d, "stats": st, "tried_regions": tr}

    no_quota = {"ms": 0, "bytes": 0, "reset_interval_ms": 0, "effective_bytes": 0, "goal_tuner": "consist",
                "fail_charge_num": 0, "fail_charge_denom": 0,
                "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 0}}
    no_wmarks = {"metric": "none", "interval_us": 0, "high": 0, "mid": 0, "low": 0}
    wmarks = {"metric": "free_mem_rate", "interval_us": 1000000, "high": 950, "mid": 900, "low": 10}

    def pageout_quota(effective):
        return {"ms": 100, "bytes": 67108864, "reset_interval_ms": 1000, "effective_bytes": effective,
                "goal_tuner": "consist", "fail_charge_num": 0, "fail_charge_denom": 0,
                "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 1000}}

    def goal(metric, target, current):
        return {"target_metric": metric, "target_value": target, "current_value": current, "nid": 0, "path": "\n"}

    everything = pattern((0, ULMAX), (0, UIMAX), (0, UIMAX))
    cold = pattern((4096, ULMAX), (0, 0), (10, UIMAX))
    # vaddr regions (wsgen's 1 GiB mapping around 140468000000000; the heap and stack areas).
    vregions = [(4194304, 158666752, 0, 44, 0, 0), (158666752, 474419200, 0, 46, 0, 0),
                (140468134887424, 140468269105152, 20, 52, 0, 0), (140468269105152, 140469208629248, 0, 40, 0, 0),
                (140737488224256, 140737488355328, 1, 3, 0, 0)]
    k0_s0 = scheme("stat", everything, no_quota, [], [], [], [], no_wmarks,
                   stats(1275, 98214359040, 1275, 98214359040, 0, {"sz_ops_filter_passed": 0, "nr_snapshots": 35,
                                                                   "max_nr_snapshots": 0}), tried(vregions))
    k0_s1 = scheme("pageout", cold, pageout_quota(194), [goal("user_input", 10000, 5000)],
                   [filt("addr", "Y", "Y", (0, 140737488355328))], [filt("anon", "Y", "N")],
                   [{"id": 0, "weight": 100}], wmarks,
                   stats(0, 0, 0, 0, 9, {"sz_ops_filter_passed": 0, "nr_snapshots": 0, "max_nr_snapshots": 0}),
                   {"total_bytes": 0},
                   # The deprecated filters/ dir still exists (and takes entries) next to core/ops_filters.
                   legacy=[filt("anon", "Y", "N")])
    ctx0 = {
        "avail_operations": "vaddr\nfvaddr\npaddr\n", "operations": "vaddr", "addr_unit": 1, "pause": "N",
        "monitoring_attrs": {
            "intervals": {"sample_us": 5000, "aggr_us": 250000, "update_us": 1000000,
                          "intervals_goal": {"access_bp": 400, "aggrs": 3, "min_sample_us": 5000, "max_sample_us": 100000}},
            "nr_regions": {"min": 10, "max": 100},
            "probes": {"nr_probes": 0}},
        "targets": {"nr_targets": 1, "0": {"pid_target": 156, "obsolete_target": "N", "regions": {"nr_regions": 0}}},
        "schemes": {"nr_schemes": 2, "0": k0_s0, "1": k0_s1},
    }
    # paddr over the largest System RAM block; probe 0 counts anonymous pages (hits per region).
    pregions = [(1048576, 48971776, 0, 2, 0, 0), (48971776, 50991104, 5, 0, 0, 20),
                (50991104, 790835200, 0, 14, 0, 3), (790835200, 1202978816, 0, 16, 0, 20),
                (1202978816, 2147352576, 0, 16, 0, 0)]
    k1_s0 = scheme("stat", everything, no_quota, [], [], [], [], no_wmarks,
                   stats(259, 32836587520, 259, 32836587520, 0, {"sz_ops_filter_passed": 0, "nr_snapshots": 15,
                                                                 "max_nr_snapshots": 0}), tried(pregions, probes=1))
    k1_s1 = scheme("pageout", cold, pageout_quota(16384), [goal("some_mem_psi_us", 1000, 0)],
                   [filt("addr", "Y", "Y", (1048576, 2147352576))],
                   [filt("anon", "Y", "N"), filt("hugepage_size", "Y", "N", sz=(2097152, 2097152))],
                   [{"id": 0, "weight": 100}], wmarks,
                   stats(3, 28672, 0, 0, 14, {"sz_ops_filter_passed": 28672, "nr_snapshots": 0, "max_nr_snapshots": 0}),
                   tried([(1757184000, 1757200384, 0, 21, 16384, 0)], probes=1))
    ctx1 = {
        "avail_operations": "vaddr\nfvaddr\npaddr\n", "operations": "paddr", "addr_unit": 1, "pause": "N",
        "monitoring_attrs": {
            "intervals": {"sample_us": 50000, "aggr_us": 1000000, "update_us": 60000000,
                          "intervals_goal": {"access_bp": 0, "aggrs": 0, "min_sample_us": 0, "max_sample_us": 0}},
            "nr_regions": {"min": 10, "max": 100},
            "probes": {"nr_probes": 1, "0": {"weight": 100, "filters": filters_dir(
                [{"type": "anon", "matching": "Y", "allow": "Y", "path": "\n"}])}}},
        "targets": {"nr_targets": 1, "0": {"pid_target": 0, "obsolete_target": "N",
                                           "regions": {"nr_regions": 1, "0": {"start": 1048576, "end": 2147352576}}}},
        "schemes": {"nr_schemes": 2, "0": k1_s0, "1": k1_s1},
    }
    kd0 = {"state": "on", "pid": 1037, "refresh_ms": 0, "contexts": {"nr_contexts": 1, "0": ctx0}}
    kd1 = {"state": "on", "pid": 1039, "refresh_ms": 1000, "contexts": {"nr_contexts": 1, "0": ctx1}}
    tree(root, "sys", admin([kd0, kd1]))
    module_params_7_3(root, "N", -1)
    trace_formats_7_3(root)
    # The module's kdamond and the first sysfs kdamond share the comm "kdamond.0": comm never
    # tells them apart, the pid (kdamond_pid, kdamonds/<K>/pid) does.
    proc_7_3(root, [(1037, "kdamond.0"), (1039, "kdamond.1")])


def linux_7_3_damon_stat(root):
    """The same kernel as shipped: DAMON_STAT enabled at boot with its kdamond (pid 67, comm
    kdamond.0), no sysfs kdamond (DAMON_STAT's context has no directory there)."""
    tree(root, "sys", {"kernel/mm/damon/admin/kdamonds": {"nr_kdamonds": 0}})
    module_params_7_3(root, "Y", 67)
    trace_formats_7_3(root)
    proc_7_3(root, [(67, "kdamond.0")])


for name, fn in [("linux-5.18", linux_5_18), ("linux-6.12", linux_6_12), ("linux-6.18", linux_6_18),
                 ("linux-7.3", linux_7_3), ("linux-7.3-damon-stat", linux_7_3_damon_stat)]:
    root = os.path.join(HERE, name)
    shutil.rmtree(root, ignore_errors=True)
    fn(root)
