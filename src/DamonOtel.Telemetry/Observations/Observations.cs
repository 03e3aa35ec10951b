using DamonOtel.Analysis;
using DamonOtel.Damon.Model;

namespace DamonOtel.Telemetry.Observations;

// What the collection loop publishes and the instruments read. One KdamondObservation per
// kdamond (or per special-purpose module, e.g. Kdamond = "damon_reclaim"), replaced as a
// whole by its source. Names are the config's names (or indexes when none is configured).

/// <summary>The latest state of one kdamond (or DAMON module) as seen by one source.</summary>
/// <param name="Source">The failure domain that produced it (e.g. "kdamond/web", "module/damon_stat").</param>
/// <param name="Kdamond">The `kdamond` attribute value.</param>
/// <param name="Up">Whether the kdamond runs.</param>
/// <param name="CpuSeconds">Cumulative CPU time of the kdamond thread (utime+stime), when known.</param>
/// <param name="Intervals">Intervals in force (possibly auto-tuned), when known.</param>
/// <param name="ObservedAtTicks">TimeProvider timestamp of this observation.</param>
/// <param name="ExpectedInterval">How often fresh data is expected; data older than 3x this is stale and not reported.</param>
public sealed record KdamondObservation(
    string Source,
    string Kdamond,
    bool Up,
    double? CpuSeconds,
    Intervals? Intervals,
    IReadOnlyList<TargetObservation> Targets,
    IReadOnlyList<SchemeObservation> Schemes,
    long ObservedAtTicks,
    TimeSpan ExpectedInterval)
{
    /// <summary>paddr with page sampling: free pages and per-cgroup figures of its target; null otherwise or when stale.</summary>
    public PageOwnershipTable? Pages { get; init; }
}

/// <summary>One monitoring target: its latest access summary and its process footprint.</summary>
/// <param name="Target">The `target` attribute value.</param>
/// <param name="Access">The latest summary, or null before the first snapshot.</param>
/// <param name="AccessSequence">Increments once per new snapshot (one aggregation interval): the WSS histogram records once per increment.</param>
/// <param name="RssBytes">Resident set size of the target's processes (vaddr), when known.</param>
public sealed record TargetObservation(string Target, AccessSummary? Access, long AccessSequence, ulong? RssBytes);

/// <summary>One DAMOS scheme (or a module's built-in scheme) with its cumulative stats.</summary>
public sealed record SchemeObservation(string Scheme, string Action, DamosStats Stats, ulong? EffectiveQuotaBytes);
