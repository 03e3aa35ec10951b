namespace DamonOtel.Damon.Model;

// Immutable model of /sys/kernel/mm/damon/admin. Optional kernel files (features that came
// later than 5.18) are nullable: null means "this kernel has no such file", never "zero".

/// <summary>The whole admin tree at one moment.</summary>
public sealed record DamonAdminTree(IReadOnlyList<Kdamond> Kdamonds)
{
    public static DamonAdminTree Empty { get; } = new([]);
}

/// <summary>kdamonds/&lt;Index&gt;: one kernel thread.</summary>
public sealed record Kdamond(int Index, bool On, int Pid, uint? RefreshMs, IReadOnlyList<DamonContext> Contexts);

/// <summary>contexts/&lt;Index&gt;.</summary>
public sealed record DamonContext(
    int Index,
    string Operations,
    IReadOnlyList<string>? AvailOperations,
    ulong? AddrUnit,
    bool? Pause,
    MonitoringAttrs Attrs,
    IReadOnlyList<DamonTarget> Targets,
    IReadOnlyList<DamosScheme> Schemes);

/// <summary>Sampling, aggregation and ops-update intervals, microseconds.</summary>
public readonly record struct Intervals(ulong SampleUs, ulong AggrUs, ulong UpdateUs)
{
    public static Intervals KernelDefault { get; } = new(5_000, 100_000, 60_000_000);

    /// <summary>aggr_us / sample_us: the largest nr_accesses a region can have (20 at the defaults).</summary>
    public ulong MaxNrAccesses => SampleUs == 0 ? 0 : AggrUs / SampleUs;
}

/// <summary>monitoring_attrs/intervals/intervals_goal (6.15). All zero = auto-tuning off.</summary>
public sealed record IntervalsGoal(ulong AccessBp, ulong Aggrs, ulong MinSampleUs, ulong MaxSampleUs)
{
    public bool Enabled => AccessBp != 0 && Aggrs != 0;
}

public sealed record MonitoringAttrs(Intervals Intervals, IntervalsGoal? Goal, ulong MinNrRegions, ulong MaxNrRegions);

/// <summary>A half-open address range [Start, End).</summary>
public readonly record struct AddressRange(ulong Start, ulong End)
{
    public ulong Size => End - Start;
}

/// <summary>targets/&lt;Index&gt;.</summary>
public sealed record DamonTarget(int Index, int PidTarget, bool? Obsolete, IReadOnlyList<AddressRange> Regions);

/// <summary>A closed interval [Min, Max] of an access pattern.</summary>
public readonly record struct ValueRange(ulong Min, ulong Max);

/// <summary>access_pattern: sz in bytes, nr_accesses in samples per aggregation, age in aggregation intervals.</summary>
public sealed record AccessPattern(ValueRange Size, ValueRange NrAccesses, ValueRange Age)
{
    public const ulong SizeMax = ulong.MaxValue;
    public const ulong CountMax = uint.MaxValue;

    /// <summary>The pattern that matches every region (what damo and the kernel selftests write).</summary>
    public static AccessPattern Everything { get; } = new(new(0, SizeMax), new(0, CountMax), new(0, CountMax));

    public bool MatchesEverything => Size.Min == 0 && Size.Max == SizeMax && NrAccesses.Min == 0 && NrAccesses.Max >= CountMax && Age.Min == 0 && Age.Max >= CountMax;
}

public sealed record QuotaWeights(uint SzPermil, uint NrAccessesPermil, uint AgePermil);

/// <summary>quotas/goals/&lt;Index&gt; (6.8). TargetMetric null on 6.8 (behaves as user_input).</summary>
public sealed record QuotaGoal(int Index, string? TargetMetric, ulong TargetValue, ulong CurrentValue, int? Nid, string? Path);

/// <summary>quotas/: ms and bytes per reset interval; EffectiveBytes (6.9) is stale until refreshed.</summary>
public sealed record DamosQuotas(
    ulong Ms,
    ulong Bytes,
    ulong ResetIntervalMs,
    ulong? EffectiveBytes,
    string? GoalTuner,
    QuotaWeights Weights,
    IReadOnlyList<QuotaGoal>? Goals);

/// <summary>watermarks/: metric none|free_mem_rate, interval in us, high/mid/low per-mille.</summary>
public sealed record DamosWatermarks(string Metric, ulong IntervalUs, ulong High, ulong Mid, ulong Low);

/// <summary>A DAMOS filter (filters/, core_filters/ or ops_filters/). Fields absent on older kernels are null.</summary>
public sealed record DamosFilter(
    int Index,
    string Type,
    bool Matching,
    bool? Allow,
    string? MemcgPath,
    ulong? AddrStart,
    ulong? AddrEnd,
    int? DamonTargetIdx,
    ulong? Min,
    ulong? Max);

/// <summary>dests/&lt;Index&gt; (6.17).</summary>
public sealed record DamosDest(int Index, int Id, uint Weight);

/// <summary>stats/: cumulative since the scheme started; stale until update_schemes_stats or refresh_ms.</summary>
public sealed record DamosStats(
    ulong NrTried,
    ulong SzTried,
    ulong NrApplied,
    ulong SzApplied,
    ulong? SzOpsFilterPassed,
    ulong QtExceeds,
    ulong? NrSnapshots,
    ulong? MaxNrSnapshots)
{
    public static DamosStats Zero { get; } = new(0, 0, 0, 0, null, 0, null, null);
}

/// <summary>
/// One DAMON region as reported by tried_regions or damon_aggregated: [Start, End) in core
/// address units, NrAccesses in samples per aggregation interval, Age in aggregation intervals.
/// </summary>
public readonly record struct DamonRegion(ulong Start, ulong End, uint NrAccesses, uint Age)
{
    public ulong Size => End - Start;
}

/// <summary>
/// schemes/&lt;S&gt;/tried_regions (6.2). SzFilterPassed (6.14) is parallel to Regions when present.
/// Torn: the directory changed while it was read (a region vanished, or the regions do not add
/// up to total_bytes, or total_bytes changed): another process's update_schemes_tried_regions
/// (damo, a second agent, `damon-otel snapshot`) cleared and refilled it meanwhile, so Regions
/// is a part of some aggregation, not a whole one.
/// </summary>
public sealed record TriedRegions(ulong? TotalBytes, DamonRegion[] Regions, ulong[]? SzFilterPassed, bool Torn = false);

/// <summary>schemes/&lt;Index&gt;.</summary>
public sealed record DamosScheme(
    int Index,
    string Action,
    ulong? ApplyIntervalUs,
    int? TargetNid,
    AccessPattern AccessPattern,
    DamosQuotas Quotas,
    DamosWatermarks Watermarks,
    IReadOnlyList<DamosFilter>? Filters,
    IReadOnlyList<DamosFilter>? CoreFilters,
    IReadOnlyList<DamosFilter>? OpsFilters,
    IReadOnlyList<DamosDest>? Dests,
    DamosStats Stats,
    TriedRegions? TriedRegions);
