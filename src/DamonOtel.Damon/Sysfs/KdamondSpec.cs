using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Sysfs;

/// <summary>
/// What one kdamond should look like: the input of <see cref="DamonSysfsWriter.WriteKdamond"/>.
/// Nullable members mean "leave the kernel default" (and do not require the feature).
/// </summary>
public sealed record KdamondSpec(IReadOnlyList<ContextSpec> Contexts, uint? RefreshMs = null);

/// <summary>contexts/&lt;C&gt;. <see cref="MinNrRegions"/>/<see cref="MaxNrRegions"/> default to the kernel's 10/1000.</summary>
public sealed record ContextSpec(
    string Operations,
    Intervals Intervals,
    IReadOnlyList<TargetSpec> Targets,
    IReadOnlyList<SchemeSpec> Schemes,
    ulong MinNrRegions = 10,
    ulong MaxNrRegions = 1000,
    ulong? AddrUnit = null,
    IntervalsGoal? IntervalsGoal = null);

/// <summary>
/// targets/&lt;T&gt;: a pid (vaddr) and/or fixed regions (fvaddr, paddr; sorted, non-overlapping).
/// <see cref="Obsolete"/> true marks the target for removal by the next commit (6.19+
/// <c>obsolete_target</c>); null leaves the file alone where it exists (it is reset to N with the directory).
/// </summary>
public sealed record TargetSpec(int Pid = 0, IReadOnlyList<AddressRange>? Regions = null, bool? Obsolete = null);

/// <summary>schemes/&lt;S&gt;.</summary>
public sealed record SchemeSpec(
    string Action,
    AccessPattern AccessPattern,
    ulong? ApplyIntervalUs = null,
    int? TargetNid = null,
    QuotaSpec? Quotas = null,
    DamosWatermarks? Watermarks = null,
    IReadOnlyList<FilterSpec>? Filters = null,
    IReadOnlyList<DestSpec>? Dests = null);

/// <summary>quotas/: time and size budgets per reset interval, prioritisation weights and goals (6.8).</summary>
public sealed record QuotaSpec(
    ulong Ms,
    ulong Bytes,
    ulong ResetIntervalMs,
    QuotaWeights? Weights = null,
    IReadOnlyList<QuotaGoalSpec>? Goals = null);

/// <summary>quotas/goals/&lt;G&gt;. TargetMetric null or "user_input" works on 6.8; others need target_metric (6.9).</summary>
public sealed record QuotaGoalSpec(string? TargetMetric, ulong TargetValue, ulong CurrentValue = 0, int? Nid = null, string? Path = null);

/// <summary>
/// A DAMOS filter. The writer puts it into filters/ (6.3–6.14) or, on kernels with
/// core_filters/ and ops_filters/ (6.15), into the one matching its type's layer.
/// Allow true needs the allow file (6.14); false is the pre-6.14 behaviour.
/// </summary>
public sealed record FilterSpec(
    string Type,
    bool Matching,
    bool? Allow = null,
    string? MemcgPath = null,
    AddressRange? Address = null,
    int? TargetIndex = null,
    ValueRange? HugepageSize = null)
{
    /// <summary>Types DAMON evaluates in the core layer (the rest are ops-layer filters).</summary>
    public bool IsCoreLayer => Type is "addr" or "target";
}

/// <summary>dests/&lt;D&gt; (6.17): a migration destination node and its weight.</summary>
public sealed record DestSpec(int NodeId, uint Weight);
