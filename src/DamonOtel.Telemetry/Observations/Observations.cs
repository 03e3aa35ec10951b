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

    /// <summary>DAMON_STAT's own published figures (only on the damon_stat module's observation).</summary>
    public DamonStatPublished? DamonStat { get; init; }
}

/// <summary>
/// What DAMON_STAT publishes itself in its module parameters, exported as it is next to the
/// agent's own summary of DAMON_STAT's regions: the kernel refreshes both figures every 5 s.
/// </summary>
/// <param name="Percentiles">The percentiles exported (the configured integer ones, 0..100).</param>
/// <param name="IdleSeconds">memory_idle_ms_percentiles at those percentiles, in seconds (signed:
/// accessed memory negative).</param>
/// <param name="BandwidthBytesPerSecond">estimated_memory_bandwidth, when the kernel has it.</param>
public sealed record DamonStatPublished(IReadOnlyList<double> Percentiles, IReadOnlyList<double> IdleSeconds, double? BandwidthBytesPerSecond);

/// <summary>One monitoring target: its latest access summary and its process footprint.</summary>
/// <param name="Target">The `target` attribute value.</param>
/// <param name="Access">The latest summary, or null before the first snapshot.</param>
/// <param name="AccessSequence">Increments once per new snapshot (one aggregation interval): the WSS histogram records once per increment.</param>
/// <param name="RssBytes">Resident set size of the target's processes (vaddr), when known.</param>
public sealed record TargetObservation(string Target, AccessSummary? Access, long AccessSequence, ulong? RssBytes);

/// <summary>One DAMOS scheme (or a module's built-in scheme) with its cumulative stats.</summary>
public sealed record SchemeObservation(string Scheme, string Action, DamosStats Stats, ulong? EffectiveQuotaBytes);
