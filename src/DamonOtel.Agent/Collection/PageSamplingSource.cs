using System.Globalization;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Analysis;
using DamonOtel.Damon.Cgroups;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Page sampling of one paddr kdamond (docs/per-cgroup.md, M2): after each new snapshot of its
/// target, samples page frames of every region in /proc/kpagecgroup (and /proc/kpageflags for
/// frames no cgroup owns), then publishes (1) the target's summary with free pages left out,
/// (2) free / kernel / other-cgroup bytes and (3) per selected cgroup its resident bytes, working
/// set, idle distribution and percentiles, purity and sampling error.
/// <para>
/// Its own failure domain (`pages/&lt;kdamond&gt;` in the collection self-metrics): when a pass
/// fails, the target's summary is still published, from the raw regions (free pages included),
/// so the kdamond's other series carry on; the cgroup series go stale. The cgroup catalog is
/// rebuilt every `cgroups.rediscover`, and sooner (at most every <see cref="MinRediscoverGap"/>)
/// when pages of cgroups it does not know show up: pods created, or removed and reparented.
/// Allocation-free per pass once sized, apart from the published target summary.
/// </para>
/// </summary>
internal sealed class PageSamplingSource : ICollectionSource
{
    /// <summary>Pages of unknown cgroups above this share of cgroup-owned samples trigger a rediscovery.</summary>
    public const double UnknownShareForRediscovery = 0.001;

    /// <summary>Fewer unknown samples than this are noise, not a new cgroup.</summary>
    public const int MinUnknownSamples = 3;

    public static readonly TimeSpan MinRediscoverGap = TimeSpan.FromSeconds(10);

    private readonly KernelEnvironment env;
    private readonly TimeProvider time;
    private readonly KdamondState state;
    private readonly PageSamplingConfig sampling;
    private readonly CgroupsConfig? cgroups;
    private readonly string cgroupRoot;
    private readonly AccessSummarizer summarizer;
    private readonly KpageAttribution attribution;
    private readonly PageOwnershipTable table;
    private readonly CgroupSelection? selection;
    private KpageSampler? sampler;
    private CgroupCatalog? catalog;
    private long catalogGeneration;
    private long lastDiscoveryTicks;
    private bool rediscoverSoon;
    private long regionSequence;
    private DamonRegion[] regions = [];
    private DamonRegion[] inUse = [];

    public PageSamplingSource(KernelEnvironment env, KdamondState state, KdamondConfig config, AccessOptions access, TimeSpan interval, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        this.env = env;
        this.time = time ?? env.Time;
        this.state = state;
        sampling = config.PageSampling;
        cgroups = config.Cgroups;
        cgroupRoot = cgroups?.Root ?? Path.Combine(env.Roots.Sysfs, "fs", "cgroup");
        summarizer = new AccessSummarizer(access);
        IReadOnlyList<double> bounds = cgroups?.IdleBucketsSeconds ?? CgroupsConfig.DefaultIdleBucketsSeconds;
        attribution = new KpageAttribution(bounds);
        table = new PageOwnershipTable(state.Name, state.TargetName(0), bounds, cgroups?.Percentiles ?? CgroupsConfig.DefaultPercentiles);
        selection = cgroups is null ? null : new CgroupSelection(cgroups.Paths, [.. cgroups.Match.Select(g => new CgroupPathGlob(g))], cgroups.Max);
        Interval = interval;
        Name = "pages/" + state.Name;
    }

    public string Name { get; }

    public TimeSpan Interval { get; }

    /// <summary>The latest pass's attribution (tests and benchmarks read it; valid until the next pass).</summary>
    internal KpageAttribution LastAttribution => attribution;

    /// <summary>Catalog rebuilds so far.</summary>
    internal int Discoveries { get; private set; }

    public Task CollectAsync(CancellationToken cancellationToken)
    {
        if (!state.TryTakeRegions(ref regionSequence, ref regions, out int count, out Intervals intervals, out ulong addrUnit) || count == 0)
        {
            return Task.CompletedTask; // no new snapshot (an empty one is "no data", never "nothing in use")
        }

        ReadOnlySpan<DamonRegion> snapshot = regions.AsSpan(0, count);
        try
        {
            Pass(snapshot, intervals, addrUnit);
        }
        catch
        {
            // The kdamond's target keeps its series: DAMON's raw view, free pages included.
            sampler?.Dispose();
            sampler = null;
            if (sampling.ExcludeFree)
            {
                state.UpdateAccess(0, summarizer.Summarize(snapshot, intervals, addrUnit));
            }

            throw;
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        sampler?.Dispose();
        sampler = null;
        return ValueTask.CompletedTask;
    }

    private void Pass(ReadOnlySpan<DamonRegion> snapshot, Intervals intervals, ulong addrUnit)
    {
        if (selection is not null)
        {
            RefreshCatalog();
        }

        sampler ??= new KpageSampler(env.PageFs, env.Roots, new KpageSamplerOptions
        {
            SamplesPerPass = sampling.Samples,
            MinSamplesPerRegion = sampling.MinPerRegion,
            Flags = selection is null ? KpageFlagsMode.FlagsOnly : KpageFlagsMode.Unowned,
            PageSize = Environment.SystemPageSize,
        });
        sampler.Attribute(snapshot, addrUnit, intervals.AggrUs, catalog, attribution);
        if (catalog is not null)
        {
            long unknown = attribution.UnknownInodeSamples;
            rediscoverSoon |= unknown >= MinUnknownSamples && unknown > attribution.OwnedSamples * UnknownShareForRediscovery;
        }

        PageOwnershipFrame frame = table.Back;
        if (catalog is not null && frame.Generation != catalogGeneration)
        {
            frame.Reset(catalogGeneration, [.. catalog.Groups.Select(g => Identity(g))]);
        }

        CgroupSummarizer.Fill(attribution, catalog, frame);
        table.Swap();
        if (sampling.ExcludeFree)
        {
            state.UpdateAccess(0, summarizer.Summarize(WithoutFree(snapshot, addrUnit), intervals, addrUnit));
        }

        state.UpdatePages(table);
    }

    // Each region shortened by its estimated free bytes: every figure of the summary then counts
    // memory in use only. Regions stay sorted and disjoint (only their ends move down).
    private ReadOnlySpan<DamonRegion> WithoutFree(ReadOnlySpan<DamonRegion> snapshot, ulong addrUnit)
    {
        if (inUse.Length < snapshot.Length)
        {
            inUse = new DamonRegion[Math.Max(snapshot.Length, inUse.Length * 2)];
        }

        ReadOnlySpan<double> free = attribution.RegionFreeBytes;
        for (int i = 0; i < snapshot.Length; i++)
        {
            DamonRegion r = snapshot[i];
            ulong freeUnits = Math.Min(r.Size, (ulong)Math.Round(free[i] / addrUnit));
            inUse[i] = r with { End = r.End - freeUnits };
        }

        return inUse.AsSpan(0, snapshot.Length);
    }

    private void RefreshCatalog()
    {
        long now = time.GetTimestamp();
        TimeSpan age = catalog is null ? TimeSpan.MaxValue : time.GetElapsedTime(lastDiscoveryTicks, now);
        bool due = catalog is null || age >= cgroups!.Rediscover || (rediscoverSoon && age >= MinRediscoverGap);
        if (!due)
        {
            return;
        }

        string controllers = Path.Combine(cgroupRoot, "cgroup.controllers");
        string? list = env.Fs.FileExists(controllers) ? env.Fs.ReadText(controllers) : null;
        if (list is null || !list.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Contains("memory"))
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"cgroups.root {cgroupRoot} is not a cgroup2 mount with the memory controller ({(list is null ? "no cgroup.controllers" : "cgroup.controllers lists no memory")})"));
        }

        CgroupCatalog next = CgroupCatalog.Discover(env.Fs, env.PageFs, cgroupRoot, selection!);
        if (catalog is not null)
        {
            next.InheritKnownOther(catalog);
        }

        if (rediscoverSoon)
        {
            // Inodes that made us look and are still not selected: known from now on.
            next.MarkKnownOther(attribution.UnknownInodes);
        }

        catalog = next;
        catalogGeneration++;
        lastDiscoveryTicks = now;
        rediscoverSoon = false;
        Discoveries++;
    }

    private static CgroupIdentity Identity(SelectedCgroup g) =>
        new(g.RelativePath, g.Kubernetes?.PodUid, g.Kubernetes?.ContainerId, g.Kubernetes?.QosClass);
}
