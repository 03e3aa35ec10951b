using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Damon.Modules;

/// <summary>/sys/module/damon_stat/parameters (6.17). Parameters the kernel lacks are null.</summary>
public sealed record DamonStatParams(
    bool Enabled,
    ulong? EstimatedMemoryBandwidth,
    long[]? MemoryIdleMsPercentiles,
    ulong? AggrIntervalUs,
    int? KdamondPid);

/// <summary>/sys/module/damon_reclaim/parameters (5.16): inputs and cumulative stats (5.17).</summary>
public sealed record DamonReclaimParams(
    bool Enabled,
    int? KdamondPid,
    ulong? NrReclaimTriedRegions,
    ulong? BytesReclaimTriedRegions,
    ulong? NrReclaimedRegions,
    ulong? BytesReclaimedRegions,
    ulong? NrQuotaExceeds,
    ulong? MinAgeUs,
    ulong? QuotaMs,
    ulong? QuotaSz,
    ulong? QuotaResetIntervalMs,
    ulong? QuotaMemPressureUs,
    ulong? QuotaAutotuneFeedback,
    ulong? SampleIntervalUs,
    ulong? AggrIntervalUs,
    ulong? MinNrRegions,
    ulong? MaxNrRegions,
    ulong? MonitorRegionStart,
    ulong? MonitorRegionEnd,
    bool? SkipAnon,
    ulong? AddrUnit);

/// <summary>One DAMON_LRU_SORT scheme's cumulative stats (hot or cold).</summary>
public sealed record LruSortSchemeStats(ulong? NrTriedRegions, ulong? BytesTriedRegions, ulong? NrSortedRegions, ulong? BytesSortedRegions, ulong? NrQuotaExceeds);

/// <summary>/sys/module/damon_lru_sort/parameters (6.0).</summary>
public sealed record DamonLruSortParams(
    bool Enabled,
    int? KdamondPid,
    LruSortSchemeStats Hot,
    LruSortSchemeStats Cold,
    ulong? HotThresAccessFreq,
    ulong? ColdMinAgeUs,
    ulong? QuotaMs,
    ulong? QuotaResetIntervalMs,
    ulong? SampleIntervalUs,
    ulong? AggrIntervalUs,
    ulong? AddrUnit);

/// <summary>
/// Reads the special-purpose DAMON modules' parameters (read-only). Each Read* returns null
/// when the module is not built into this kernel. These kdamonds are not in the admin tree.
/// </summary>
public sealed class DamonModuleReader(IKernelFs fs, KernelRoots roots)
{
    private readonly IKernelFs fs = fs ?? throw new ArgumentNullException(nameof(fs));
    private readonly KernelRoots roots = roots ?? throw new ArgumentNullException(nameof(roots));

    public DamonStatParams? ReadDamonStat()
    {
        string dir = roots.ModuleParameters("damon_stat");
        if (!fs.DirectoryExists(dir))
        {
            return null;
        }

        string pctPath = Path.Combine(dir, "memory_idle_ms_percentiles");
        string? pct = Optional(pctPath);
        return new DamonStatParams(
            Bool(dir, "enabled"),
            UnsignedOpt(dir, "estimated_memory_bandwidth"),
            pct is null ? null : SysfsParsers.ParseSignedList(pct, pctPath),
            UnsignedOpt(dir, "aggr_interval_us"),
            Int32Opt(dir, "kdamond_pid"));
    }

    public DamonReclaimParams? ReadDamonReclaim()
    {
        string dir = roots.ModuleParameters("damon_reclaim");
        if (!fs.DirectoryExists(dir))
        {
            return null;
        }

        return new DamonReclaimParams(
            Bool(dir, "enabled"),
            Int32Opt(dir, "kdamond_pid"),
            UnsignedOpt(dir, "nr_reclaim_tried_regions"),
            UnsignedOpt(dir, "bytes_reclaim_tried_regions"),
            UnsignedOpt(dir, "nr_reclaimed_regions"),
            UnsignedOpt(dir, "bytes_reclaimed_regions"),
            UnsignedOpt(dir, "nr_quota_exceeds"),
            UnsignedOpt(dir, "min_age"),
            UnsignedOpt(dir, "quota_ms"),
            UnsignedOpt(dir, "quota_sz"),
            UnsignedOpt(dir, "quota_reset_interval_ms"),
            UnsignedOpt(dir, "quota_mem_pressure_us"),
            UnsignedOpt(dir, "quota_autotune_feedback"),
            UnsignedOpt(dir, "sample_interval"),
            UnsignedOpt(dir, "aggr_interval"),
            UnsignedOpt(dir, "min_nr_regions"),
            UnsignedOpt(dir, "max_nr_regions"),
            UnsignedOpt(dir, "monitor_region_start"),
            UnsignedOpt(dir, "monitor_region_end"),
            BoolOpt(dir, "skip_anon"),
            UnsignedOpt(dir, "addr_unit"));
    }

    public DamonLruSortParams? ReadDamonLruSort()
    {
        string dir = roots.ModuleParameters("damon_lru_sort");
        if (!fs.DirectoryExists(dir))
        {
            return null;
        }

        LruSortSchemeStats Stats(string t) => new(
            UnsignedOpt(dir, $"nr_lru_sort_tried_{t}_regions"),
            UnsignedOpt(dir, $"bytes_lru_sort_tried_{t}_regions"),
            UnsignedOpt(dir, $"nr_lru_sorted_{t}_regions"),
            UnsignedOpt(dir, $"bytes_lru_sorted_{t}_regions"),
            UnsignedOpt(dir, $"nr_{t}_quota_exceeds"));

        return new DamonLruSortParams(
            Bool(dir, "enabled"),
            Int32Opt(dir, "kdamond_pid"),
            Stats("hot"),
            Stats("cold"),
            UnsignedOpt(dir, "hot_thres_access_freq"),
            UnsignedOpt(dir, "cold_min_age"),
            UnsignedOpt(dir, "quota_ms"),
            UnsignedOpt(dir, "quota_reset_interval_ms"),
            UnsignedOpt(dir, "sample_interval"),
            UnsignedOpt(dir, "aggr_interval"),
            UnsignedOpt(dir, "addr_unit"));
    }

    private string? Optional(string path)
    {
        try
        {
            return fs.ReadText(path);
        }
        catch (KernelIoException e) when (e.IsNotFound)
        {
            return null;
        }
    }

    private bool Bool(string dir, string name)
    {
        string p = Path.Combine(dir, name);
        return SysfsParsers.ParseBool(fs.ReadText(p), p);
    }

    private bool? BoolOpt(string dir, string name)
    {
        string p = Path.Combine(dir, name);
        return Optional(p) is { } t ? SysfsParsers.ParseBool(t, p) : null;
    }

    private ulong? UnsignedOpt(string dir, string name)
    {
        string p = Path.Combine(dir, name);
        return Optional(p) is { } t ? SysfsParsers.ParseUnsigned(t, p) : null;
    }

    private int? Int32Opt(string dir, string name)
    {
        string p = Path.Combine(dir, name);
        return Optional(p) is { } t ? SysfsParsers.ParseInt32(t, p) : null;
    }
}
