using DamonOtel.Agent.Hosting;
using DamonOtel.Analysis;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Modules;
using DamonOtel.Damon.Procfs;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Observes one special-purpose DAMON module read-only from its parameters: DAMON_RECLAIM and
/// DAMON_LRU_SORT as kdamonds with built-in schemes, DAMON_STAT as a kdamond with one target
/// ("system"). DAMON_STAT's regions come from the damon_aggregated tracepoint when the agent
/// reads it (<paramref name="regionsFromTracepoint"/>; this source then supplies the kdamond pid
/// the events are routed by and the aggregation interval in force), else they are rebuilt from
/// its 101 idle-time percentiles the way damo does it (lossy). Its published percentiles and
/// bandwidth are exported as they are either way.
/// </summary>
internal sealed class ModuleSource(KernelEnvironment env, KdamondState state, string module, AccessOptions access, TimeSpan interval, bool regionsFromTracepoint = false) : ICollectionSource
{
    public const string DamonStat = "damon_stat";
    public const string DamonReclaim = "damon_reclaim";
    public const string DamonLruSort = "damon_lru_sort";

    private readonly DamonModuleReader modules = new(env.Fs, env.Roots);
    private readonly ProcReader proc = new(env.Fs, env.Roots);
    private readonly AccessSummarizer summarizer = new(access);

    public string Name => state.Source;

    public TimeSpan Interval { get; } = interval;

    public Task CollectAsync(CancellationToken cancellationToken)
    {
        switch (module)
        {
            case DamonReclaim:
                CollectReclaim();
                break;
            case DamonLruSort:
                CollectLruSort();
                break;
            default:
                CollectStat();
                break;
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// damo's reconstruction of DAMON_STAT regions: 100 slices of equal size, each with the
    /// idle time between two neighbouring percentiles; negative (hot) slices get half the
    /// maximum access count, positive ones an age of idle/aggr - 1 aggregation intervals.
    /// </summary>
    internal static DamonRegion[] RegionsFromPercentiles(long[] idleMsPercentiles, ulong totalBytes, ulong aggrUs)
    {
        int n = idleMsPercentiles.Length - 1;
        if (n <= 0 || totalBytes == 0)
        {
            return [];
        }

        var regions = new DamonRegion[n];
        ulong slice = totalBytes / (ulong)n;
        ulong aggrMs = Math.Max(1, aggrUs / 1000);
        for (int i = 0; i < n; i++)
        {
            long idleMs = (idleMsPercentiles[i] + idleMsPercentiles[i + 1]) / 2;
            ulong start = slice * (ulong)i;
            ulong end = i == n - 1 ? totalBytes : start + slice;
            uint age = (uint)Math.Max(0, (Math.Abs(idleMs) / (long)aggrMs) - 1);
            regions[i] = idleMs < 0 || (idleMs == 0 && idleMsPercentiles[i + 1] <= 0)
                ? new DamonRegion(start, end, 10, age)
                : new DamonRegion(start, end, 0, age);
        }

        return regions;
    }

    /// <summary>DAMON_STAT's published percentiles at the configured integer percentiles, in seconds.</summary>
    internal static DamonStatPublished Published(DamonStatParams p, IReadOnlyList<double> percentiles)
    {
        var ps = new List<double>();
        var idle = new List<double>();
        if (p.MemoryIdleMsPercentiles is { Length: 101 } values)
        {
            foreach (double x in percentiles)
            {
                if (x == Math.Floor(x) && x is >= 0 and <= 100)
                {
                    ps.Add(x);
                    idle.Add(values[(int)x] / 1000.0);
                }
            }
        }

        return new DamonStatPublished(ps, idle, p.EstimatedMemoryBandwidth);
    }

    private void CollectStat()
    {
        DamonStatParams? p = modules.ReadDamonStat() ?? throw new InvalidOperationException($"{module} is not built into this kernel");
        bool up = p.Enabled;
        ulong aggr = p.AggrIntervalUs ?? 100_000;

        // DAMON_STAT keeps aggr = 20 x sample while it tunes them (docs/kernel-7x.md).
        var intervals = new Intervals(aggr / 20, aggr, 60_000_000);
        // Events are routed by kdamond_pid (7.2+); without it the percentiles are all there is.
        bool traced = regionsFromTracepoint && p.KdamondPid is not null;
        if (up && !traced && p.MemoryIdleMsPercentiles is { Length: 101 } percentiles)
        {
            ulong total = proc.ReadSystemRam().Select(r => r.Size).DefaultIfEmpty(0UL).Max();
            AccessSummary summary = summarizer.Summarize(RegionsFromPercentiles(percentiles, total, aggr), intervals);
            if (p.EstimatedMemoryBandwidth is ulong bw)
            {
                summary.BandwidthBytesPerSecond = bw;
            }

            state.UpdateAccess(0, summary);
        }

        int pid = p.KdamondPid ?? -1;
        state.UpdateDamonStat(up ? Published(p, access.Percentiles) : null);
        state.UpdateStatus(up, pid, pid > 0 ? proc.ReadCpuSeconds(pid) : null, intervals, [], null);
    }

    private void CollectReclaim()
    {
        DamonReclaimParams? p = modules.ReadDamonReclaim() ?? throw new InvalidOperationException($"{module} is not built into this kernel");
        int pid = p.KdamondPid ?? -1;
        var stats = new DamosStats(p.NrReclaimTriedRegions ?? 0, p.BytesReclaimTriedRegions ?? 0, p.NrReclaimedRegions ?? 0, p.BytesReclaimedRegions ?? 0, null, p.NrQuotaExceeds ?? 0, null, null);
        Intervals? intervals = p.SampleIntervalUs is ulong s && p.AggrIntervalUs is ulong a ? new Intervals(s, a, 1_000_000) : null;
        state.UpdateStatus(p.Enabled && pid > 0, pid, pid > 0 ? proc.ReadCpuSeconds(pid) : null, intervals, [new SchemeObservation("reclaim", "pageout", stats, null)], null);
    }

    private void CollectLruSort()
    {
        DamonLruSortParams? p = modules.ReadDamonLruSort() ?? throw new InvalidOperationException($"{module} is not built into this kernel");
        int pid = p.KdamondPid ?? -1;
        static DamosStats Stats(LruSortSchemeStats s) =>
            new(s.NrTriedRegions ?? 0, s.BytesTriedRegions ?? 0, s.NrSortedRegions ?? 0, s.BytesSortedRegions ?? 0, null, s.NrQuotaExceeds ?? 0, null, null);
        Intervals? intervals = p.SampleIntervalUs is ulong s && p.AggrIntervalUs is ulong a ? new Intervals(s, a, 1_000_000) : null;
        state.UpdateStatus(
            p.Enabled && pid > 0,
            pid,
            pid > 0 ? proc.ReadCpuSeconds(pid) : null,
            intervals,
            [new SchemeObservation("hot", "lru_prio", Stats(p.Hot), null), new SchemeObservation("cold", "lru_deprio", Stats(p.Cold), null)],
            null);
    }
}
