namespace DamonOtel.Agent.Configuration;

/// <summary>
/// kdamonds[i].page_sampling (paddr): how many page frames of the target's regions are looked
/// up in /proc/kpagecgroup and /proc/kpageflags per pass, and whether free pages are left out of
/// the target's exported numbers. docs/per-cgroup.md has the cost model.
/// </summary>
internal sealed record PageSamplingConfig
{
    /// <summary>100 k samples cost about 0.5-0.9 % of a core at a 10 s collection interval on any host size.</summary>
    public const int DefaultSamples = 100_000;
    public const int MinSamples = 1_000;
    public const int MaxSamples = 10_000_000;
    public const int DefaultMinPerRegion = 2;

    public int Samples { get; init; } = DefaultSamples;

    public int MinPerRegion { get; init; } = DefaultMinPerRegion;

    /// <summary>Leave free pages out of the target's monitored bytes, WSS, idle bytes and percentiles.</summary>
    public bool ExcludeFree { get; init; } = true;
}

/// <summary>kdamonds[i].cgroups (paddr): which cgroup v2 groups get their own working set and idle distribution.</summary>
internal sealed record CgroupsConfig
{
    public const int DefaultMax = 500;
    public const int MaxMax = 2_000;

    /// <summary>Per cgroup: few bounds keep the series count down (max × (4 + bounds + 1 + percentiles)).</summary>
    public static IReadOnlyList<double> DefaultIdleBucketsSeconds { get; } = [0, 10, 30, 60, 300, 1800, 3600];

    public static IReadOnlyList<double> DefaultPercentiles { get; } = [50, 90, 99];

    public static TimeSpan DefaultRediscover { get; } = TimeSpan.FromSeconds(60);

    /// <summary>The cgroup2 mount; null = &lt;roots.sysfs&gt;/fs/cgroup.</summary>
    public string? Root { get; init; }

    /// <summary>Explicit cgroups, relative to the root ("/system.slice/postgresql.service").</summary>
    public IReadOnlyList<string> Paths { get; init; } = [];

    /// <summary>Globs relative to the root, presets already expanded.</summary>
    public IReadOnlyList<string> Match { get; init; } = [];

    public int Max { get; init; } = DefaultMax;

    public TimeSpan Rediscover { get; init; } = DefaultRediscover;

    public IReadOnlyList<double> IdleBucketsSeconds { get; init; } = DefaultIdleBucketsSeconds;

    public IReadOnlyList<double> Percentiles { get; init; } = DefaultPercentiles;

    /// <summary>Most series this selection can export: per cgroup 4 gauges, the idle buckets with +Inf, the percentiles.</summary>
    public int MaxSeries => Max * (4 + IdleBucketsSeconds.Count + 1 + Percentiles.Count);
}
