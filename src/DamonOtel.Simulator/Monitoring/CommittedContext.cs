using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>
/// What `on`/`commit` read out of the staged sysfs files: the kernel's view of a context
/// (damon_ctx) that <see cref="MonitorContext"/> runs with. The records below are its parts.
/// </summary>
internal sealed record CommittedContext(
    string Ops,
    ulong AddrUnit,
    ulong SampleUs,
    ulong AggrUs,
    ulong UpdateUs,
    IntervalsGoal Goal,
    ulong MinNrRegions,
    ulong MaxNrRegions,
    CommittedTarget[] Targets,
    CommittedScheme[] Schemes);

internal sealed record CommittedTarget(int Pid, AddressRange[] Regions);

internal sealed record CommittedFilter(string Type, bool Matching, bool Allow, bool CoreLayer, ulong AddrStart, ulong AddrEnd, int TargetIdx, string MemcgPath = "");

internal sealed record CommittedGoal(string Metric, ulong TargetValue, ulong CurrentValue);

internal sealed record CommittedScheme(
    string Action,
    ulong ApplyIntervalUs,
    ValueRange Size,
    ValueRange NrAccesses,
    ValueRange Age,
    ulong QuotaMs,
    ulong QuotaBytes,
    ulong ResetIntervalMs,
    uint WeightSz,
    uint WeightNr,
    uint WeightAge,
    CommittedGoal[] Goals,
    string WmarkMetric,
    ulong WmarkIntervalUs,
    ulong WmarkHigh,
    ulong WmarkMid,
    ulong WmarkLow,
    CommittedFilter[] Filters);
