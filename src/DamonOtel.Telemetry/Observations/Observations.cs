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
/// <param name="Access">The latest summary, or null before the first snapshot. For a target of
/// several processes, one summary over all their regions; for vaddr with mapped_only, over the
/// mapped parts of the regions only.</param>
/// <param name="AccessSequence">Increments once per new snapshot (one aggregation interval): the WSS histogram records once per increment.</param>
/// <param name="RssBytes">Resident set size of the target's processes (vaddr, summed), when known.</param>
/// <param name="UnmappedBytes">vaddr with mapped_only: bytes of DAMON's regions outside the processes'
/// mappings, left out of <paramref name="Access"/> (raw total = monitored + unmapped); null otherwise.</param>
/// <param name="Processes">Process targets: how many processes are monitored, over the cap, rejected by pins; null otherwise.</param>
public sealed record TargetObservation(string Target, AccessSummary? Access, long AccessSequence, ulong? RssBytes, ulong? UnmappedBytes = null, TargetProcessCounts? Processes = null);

/// <summary>How many processes a configured target has now.</summary>
/// <param name="Monitored">Processes that are DAMON targets.</param>
/// <param name="OverCap">Matching processes left out by max_processes.</param>
/// <param name="Rejected">Processes with the right name (or pid) that failed the exe/uid pins.</param>
public readonly record struct TargetProcessCounts(int Monitored, int OverCap, int Rejected);

/// <summary>One DAMOS scheme (or a module's built-in scheme) with its cumulative stats.</summary>
public sealed record SchemeObservation(string Scheme, string Action, DamosStats Stats, ulong? EffectiveQuotaBytes);
