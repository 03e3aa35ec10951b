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


for name, fn in [("linux-5.18", linux_5_18), ("linux-6.12", linux_6_12), ("linux-6.18", linux_6_18)]:
    root = os.path.join(HERE, name)
    shutil.rmtree(root, ignore_errors=True)
    fn(root)
