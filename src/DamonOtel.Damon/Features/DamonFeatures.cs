namespace DamonOtel.Damon.Features;

/// <summary>
/// What this kernel's DAMON offers, learnt from which files exist (never from the version
/// number: distributions backport). For every nullable member, null means "unknown": no
/// directory of that kind existed to look into (e.g. no scheme has a quota goal, so
/// whether goals have target_metric cannot be told without creating one).
/// </summary>
public sealed record DamonFeatures
{
    /// <summary>/sys/kernel/mm/damon/admin/kdamonds exists (5.18, CONFIG_DAMON_SYSFS).</summary>
    public bool Sysfs { get; init; }

    /// <summary>contexts/&lt;C&gt;/avail_operations (5.19).</summary>
    public bool? AvailOperations { get; init; }

    /// <summary>The operations sets listed in avail_operations (vaddr, fvaddr, paddr); null when unknown.</summary>
    public IReadOnlyList<string>? OperationSets { get; init; }

    /// <summary>kdamonds/&lt;K&gt;/refresh_ms (6.17).</summary>
    public bool? RefreshMs { get; init; }

    /// <summary>contexts/&lt;C&gt;/addr_unit (6.18).</summary>
    public bool? AddrUnit { get; init; }

    /// <summary>contexts/&lt;C&gt;/pause (7.2).</summary>
    public bool? Pause { get; init; }

    /// <summary>monitoring_attrs/intervals/intervals_goal/ (6.15).</summary>
    public bool? IntervalsGoal { get; init; }

    /// <summary>monitoring_attrs/probes/ (7.2).</summary>
    public bool? Probes { get; init; }

    /// <summary>targets/&lt;T&gt;/obsolete_target (6.19).</summary>
    public bool? ObsoleteTarget { get; init; }

    /// <summary>schemes/&lt;S&gt;/tried_regions/ (6.2).</summary>
    public bool? TriedRegions { get; init; }

    /// <summary>tried_regions/total_bytes (6.6).</summary>
    public bool? TriedRegionsTotalBytes { get; init; }

    /// <summary>tried_regions/&lt;R&gt;/sz_filter_passed (6.14); needs a tried region to tell.</summary>
    public bool? TriedRegionSzFilterPassed { get; init; }

    /// <summary>schemes/&lt;S&gt;/apply_interval_us (6.7).</summary>
    public bool? ApplyIntervalUs { get; init; }

    /// <summary>schemes/&lt;S&gt;/target_nid (6.11).</summary>
    public bool? TargetNid { get; init; }

    /// <summary>quotas/goals/ (6.8).</summary>
    public bool? QuotaGoals { get; init; }

    /// <summary>goals/&lt;G&gt;/target_metric (6.9).</summary>
    public bool? GoalTargetMetric { get; init; }

    /// <summary>goals/&lt;G&gt;/nid (6.16).</summary>
    public bool? GoalNid { get; init; }

    /// <summary>goals/&lt;G&gt;/path (6.19).</summary>
    public bool? GoalPath { get; init; }

    /// <summary>quotas/effective_bytes (6.9).</summary>
    public bool? EffectiveBytes { get; init; }

    /// <summary>quotas/goal_tuner (7.1).</summary>
    public bool? GoalTuner { get; init; }

    /// <summary>quotas/fail_charge_denom (7.2).</summary>
    public bool? FailCharge { get; init; }

    /// <summary>schemes/&lt;S&gt;/filters/ (6.3, deprecated since 6.15).</summary>
    public bool? Filters { get; init; }

    /// <summary>schemes/&lt;S&gt;/core_filters/ and ops_filters/ (6.15).</summary>
    public bool? CoreOpsFilters { get; init; }

    /// <summary>&lt;filters&gt;/&lt;F&gt;/allow (6.14).</summary>
    public bool? FilterAllow { get; init; }

    /// <summary>&lt;filters&gt;/&lt;F&gt;/min and max: hugepage_size filters (6.15).</summary>
    public bool? FilterHugepageSize { get; init; }

    /// <summary>stats/sz_ops_filter_passed (6.14).</summary>
    public bool? SzOpsFilterPassed { get; init; }

    /// <summary>stats/nr_snapshots (7.0).</summary>
    public bool? NrSnapshots { get; init; }

    /// <summary>stats/max_nr_snapshots (7.0).</summary>
    public bool? MaxNrSnapshots { get; init; }

    /// <summary>schemes/&lt;S&gt;/dests/ (6.17).</summary>
    public bool? Dests { get; init; }

    /// <summary>Event names under &lt;tracefs&gt;/events/damon/; null when tracefs is not mounted at the root.</summary>
    public IReadOnlyList<string>? Tracepoints { get; init; }

    /// <summary>/sys/module/damon_stat exists (6.17, built in).</summary>
    public bool? ModuleDamonStat { get; init; }

    /// <summary>/sys/module/damon_reclaim exists (5.16, built in).</summary>
    public bool? ModuleDamonReclaim { get; init; }

    /// <summary>/sys/module/damon_lru_sort exists (6.0, built in).</summary>
    public bool? ModuleDamonLruSort { get; init; }

    public bool HasTracepoint(string name) => Tracepoints?.Contains(name) ?? false;
}
