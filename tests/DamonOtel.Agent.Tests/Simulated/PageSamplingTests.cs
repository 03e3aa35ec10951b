using System.Globalization;
using DamonOtel.Agent.Collection;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Analysis;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Simulator;
using DamonOtel.Telemetry.Observations;
using Microsoft.Extensions.Time.Testing;

namespace DamonOtel.Agent.Tests.Simulated;

/// <summary>
/// Per-cgroup attribution and free pages of a paddr kdamond (<see cref="PageSamplingSource"/>) on
/// the Simulator, whose time and clock move only when the test says: accuracy against the
/// Simulator's ground truth, purity of interleaved cgroups, the cap, cgroup churn and
/// reparenting, and a failing pass that leaves the kdamond's own series alive.
/// </summary>
public sealed class PageSamplingTests
{
    private const ulong MiB = 1UL << 20;

    [Fact]
    public async Task Contiguous_cgroups_get_their_working_set_and_cold_bytes_within_15_percent()
    {
        using var node = new PagedNode();
        node.Kernel.SpawnProcess("a", SimulatedWorkloads.HotCold("a", 256 * MiB, 64 * MiB), "/pods/a");
        node.Kernel.SpawnProcess("b", SimulatedWorkloads.HotCold("b", 384 * MiB, 192 * MiB), "/pods/b");
        node.Start();
        node.Kernel.Advance(TimeSpan.FromSeconds(20));
        PageSamplingSource source = node.Source("cgroups: {match: [\"pods/*\"], idle_buckets: [0s, 1s, 5s], percentiles: [10, 90]}");
        DamonRegion[] raw = await node.PassAsync(source);

        PageOwnershipFrame f = node.Frame();
        Assert.True(f.HasCgroups);
        Assert.Equal(2, f.SelectedCount);
        foreach (string cg in new[] { "/pods/a", "/pods/b" })
        {
            CgroupRow row = Row(f, cg);
            CgroupTruth truth = node.Kernel.CgroupGroundTruth(0, cg, TimeSpan.FromSeconds(5));
            Within(truth.ResidentBytes, row.ResidentBytes, 0.05, cg + " resident");
            Within(truth.WorkingSetBytes, row.WorkingSetBytes, 0.15, cg + " WSS");
            double idleOver5s = row.IdleBytesAtMost[^1] - row.IdleBytesAtMost[2];
            Within(truth.IdleBytes, idleOver5s, 0.15, cg + " bytes idle > 5 s");
            Assert.True(row.Purity > 0.8, $"{cg}: purity {row.Purity:F2} of contiguous memory");
            Assert.Equal(row.ResidentBytes, row.IdleBytesAtMost[^1], 3);
            Assert.InRange(row.ResidentStandardErrorBytes, 0, row.ResidentBytes * 0.05);
            Assert.Equal(0, row.IdleTimePercentilesSeconds[0]);   // p10 lies in the hot set (23 % of a, 47 % of b) ...
            Assert.True(row.IdleTimePercentilesSeconds[1] >= 5);  // ... p90 in the cold part, idle since the start
            Assert.Equal(["kdamond", "cgroup"], row.Tags.Select(t => t.Key));
        }

        Assert.Equal(f.SelectedCgroupBytes, Row(f, "/pods/a").ResidentBytes + Row(f, "/pods/b").ResidentBytes, 3);

        // Free pages: left out of the target's numbers, exported on their own; raw = exported + free.
        double rawBytes = raw.Sum(r => (double)r.Size);
        AccessSummary target = node.TargetSummary();
        Assert.Equal(rawBytes, target.MonitoredBytes + f.FreeBytes, tolerance: raw.Length);
        ulong rangeBytes = node.RangeEnd - node.RangeStart;
        ulong used = node.Kernel.CgroupGroundTruth(0, "/", TimeSpan.Zero).ResidentBytes;
        ulong kernelArea = (257 * MiB) - node.RangeStart;
        Within(rangeBytes - used - kernelArea, f.FreeBytes, 0.05, "free bytes");
        Within(kernelArea, f.KernelBytes, 0.10, "kernel bytes");
        Assert.Equal(0, f.OtherCgroupBytes);
    }

    [Fact]
    public async Task Interleaved_cgroups_report_low_purity()
    {
        using var node = new PagedNode();
        node.Kernel.SpawnInterleaved(
            [("a", SimulatedWorkloads.HotCold("a", 64 * MiB, 16 * MiB), "/pods/a"), ("b", SimulatedWorkloads.HotCold("b", 64 * MiB, 48 * MiB), "/pods/b")],
            chunkBytes: 4096);
        node.Start();
        node.Kernel.Advance(TimeSpan.FromSeconds(10));
        PageSamplingSource source = node.Source("cgroups: {match: [\"pods/*\"]}");
        await node.PassAsync(source);
        PageOwnershipFrame f = node.Frame();
        foreach (string cg in new[] { "/pods/a", "/pods/b" })
        {
            CgroupRow row = Row(f, cg);
            Within(node.Kernel.CgroupGroundTruth(0, cg, TimeSpan.Zero).ResidentBytes, row.ResidentBytes, 0.10, cg + " resident");
            Assert.True(row.Purity < 0.2, $"{cg}: purity {row.Purity:F2} of page-interleaved memory");
        }

        // Region-level WSS blends them: the colder cgroup's is far above its hot set.
        Assert.True(Row(f, "/pods/a").WorkingSetBytes > 2 * 16 * MiB, $"a's blended WSS {Row(f, "/pods/a").WorkingSetBytes / MiB:F0} MiB");
    }

    [Fact]
    public async Task The_cap_reports_the_first_cgroups_and_counts_the_rest()
    {
        using var node = new PagedNode();
        for (int i = 0; i < 5; i++)
        {
            node.Kernel.SpawnProcess("p" + i, SimulatedWorkloads.HotCold("p" + i, 16 * MiB, 0), $"/pods/p{i}");
        }

        node.Start();
        node.Kernel.Advance(TimeSpan.FromSeconds(2));
        PageSamplingSource source = node.Source("cgroups: {match: [\"pods/*\"], max: 3}");
        await node.PassAsync(source);
        PageOwnershipFrame f = node.Frame();
        Assert.Equal(["/pods/p0", "/pods/p1", "/pods/p2"], f.Rows.ToArray().Select(r => r.Identity.Cgroup));
        Assert.Equal(2, f.DroppedCount);
        // The dropped ones' pages count as other cgroups.
        Within(2 * node.Kernel.CgroupGroundTruth(0, "/pods/p3", TimeSpan.Zero).ResidentBytes, f.OtherCgroupBytes, 0.15, "other cgroups");
    }

    [Fact]
    public async Task Cgroups_created_and_removed_while_running_come_and_go_and_removed_ones_reparent()
    {
        using var node = new PagedNode();
        node.Kernel.SpawnProcess("a", SimulatedWorkloads.HotCold("a", 64 * MiB, 0), "/kubepods/pod-a/ctr1");
        node.Start();
        node.Kernel.Advance(TimeSpan.FromSeconds(2));
        PageSamplingSource source = node.Source("cgroups: {match: [\"kubepods/*\"], rediscover: 1h}");
        await node.PassAsync(source);
        Assert.Equal(["/kubepods/pod-a"], node.Frame().Rows.ToArray().Select(r => r.Identity.Cgroup));
        Assert.Equal(1, source.Discoveries);

        // A pod starts: its pages are of a cgroup the catalog does not know ...
        int b = node.Kernel.SpawnProcess("b", SimulatedWorkloads.HotCold("b", 64 * MiB, 0), "/kubepods/pod-b/ctr1");
        await node.PassAsync(source);
        Assert.Single(node.Frame().Rows.ToArray());
        // ... which triggers a rediscovery at the next pass after the minimum gap, long before the hour.
        node.Clock.Advance(PageSamplingSource.MinRediscoverGap);
        await node.PassAsync(source);
        Assert.Equal(2, source.Discoveries);
        Assert.Equal(["/kubepods/pod-a", "/kubepods/pod-b"], node.Frame().Rows.ToArray().Select(r => r.Identity.Cgroup));
        Within(node.Kernel.CgroupGroundTruth(0, "/kubepods/pod-b", TimeSpan.Zero).ResidentBytes, Row(node.Frame(), "/kubepods/pod-b").ResidentBytes, 0.10, "new pod");

        // pod-a's container is replaced: the old process moves out, its cgroup is removed, its
        // pages (still charged there) now report pod-a itself, which is selected: nothing lost,
        // nothing unknown, no rediscovery needed.
        int a = node.Kernel.FindProcess("a");
        node.Kernel.CreateCgroup("/kubepods/pod-a/ctr2");
        node.Kernel.MoveProcess(a, "/kubepods/pod-a/ctr2");
        node.Kernel.RemoveCgroup("/kubepods/pod-a/ctr1");
        node.Clock.Advance(PageSamplingSource.MinRediscoverGap);
        await node.PassAsync(source);
        Assert.Equal(2, source.Discoveries);
        Within(node.Kernel.CgroupGroundTruth(0, "/kubepods/pod-a", TimeSpan.Zero).ResidentBytes, Row(node.Frame(), "/kubepods/pod-a").ResidentBytes, 0.10, "reparented pod");

        // pod-b ends: its process exits (pages freed) and its cgroups go; the periodic rediscovery drops it.
        node.Kernel.KillProcess(b);
        node.Kernel.RemoveCgroup("/kubepods/pod-b/ctr1");
        node.Kernel.RemoveCgroup("/kubepods/pod-b");
        await node.PassAsync(source);
        Assert.Equal(0, Row(node.Frame(), "/kubepods/pod-b").ResidentBytes);
        node.Clock.Advance(TimeSpan.FromHours(1));
        await node.PassAsync(source);
        Assert.Equal(["/kubepods/pod-a"], node.Frame().Rows.ToArray().Select(r => r.Identity.Cgroup));
    }

    [Fact]
    public async Task A_failing_pass_throws_but_the_target_keeps_its_raw_summary()
    {
        using var node = new PagedNode();
        node.Kernel.SpawnProcess("a", SimulatedWorkloads.HotCold("a", 64 * MiB, 16 * MiB), "/pods/a");
        node.Start();
        node.Kernel.Advance(TimeSpan.FromSeconds(2));
        PageSamplingSource source = node.Source("cgroups: {match: [\"pods/*\"]}");
        await node.PassAsync(source);
        double free = node.Frame().FreeBytes;
        Assert.True(free > 0);

        node.Kernel.Faults.FailNextReads(node.Roots.Proc("kpagecgroup"), Errno.EACCES);
        DamonRegion[] raw = node.Offer();
        var e = await Assert.ThrowsAsync<KernelIoException>(() => source.CollectAsync(CancellationToken.None));
        Assert.Equal(Errno.EACCES, e.Errno);
        // DAMON's raw view of this snapshot: free pages included, the target's series carry on.
        Assert.Equal((ulong)raw.Sum(r => (double)r.Size), node.TargetSummary().MonitoredBytes);
        Assert.Equal(free, node.Frame().FreeBytes); // the previous pass's figures until they go stale

        // The next pass reopens the files and leaves free pages out again.
        await node.PassAsync(source);
        Assert.True(node.TargetSummary().MonitoredBytes < (ulong)raw.Sum(r => (double)r.Size));
    }

    [Fact]
    public async Task A_root_that_is_not_a_cgroup2_mount_with_memory_is_a_clear_error()
    {
        using var node = new PagedNode();
        node.Start();
        node.Kernel.Advance(TimeSpan.FromSeconds(1));
        PageSamplingSource source = node.Source("cgroups: {root: /sim/proc, preset: kubernetes-pods}");
        node.Offer();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => source.CollectAsync(CancellationToken.None));
        Assert.Equal("cgroups.root /sim/proc is not a cgroup2 mount with the memory controller (no cgroup.controllers)", e.Message);
    }

    [Fact]
    public async Task Without_cgroups_only_free_pages_are_sampled_from_kpageflags()
    {
        using var node = new PagedNode();
        node.Kernel.SpawnProcess("a", SimulatedWorkloads.HotCold("a", 64 * MiB, 16 * MiB), "/pods/a");
        node.Start();
        node.Kernel.Advance(TimeSpan.FromSeconds(2));
        PageSamplingSource source = node.Source(string.Empty);
        long readsBefore = node.Kernel.PageFrameReads;
        DamonRegion[] raw = await node.PassAsync(source);
        PageOwnershipFrame f = node.Frame();
        Assert.False(f.HasCgroups);
        Assert.Equal(0, f.SelectedCount);
        Assert.Equal(source.LastAttribution.Samples, node.Kernel.PageFrameReads - readsBefore); // one kpageflags read each
        Assert.Equal(raw.Sum(r => (double)r.Size), node.TargetSummary().MonitoredBytes + f.FreeBytes, tolerance: raw.Length);
    }

    private static CgroupRow Row(PageOwnershipFrame f, string cgroup) => f.Rows.ToArray().Single(r => r.Identity.Cgroup == cgroup);

    private static void Within(double truth, double measured, double tolerance, string what) =>
        Assert.True(Math.Abs(measured - truth) <= truth * tolerance,
            string.Create(CultureInfo.InvariantCulture, $"{what}: {measured / MiB:F1} MiB vs truth {truth / MiB:F1} MiB (tolerance {tolerance:P0})"));

    /// <summary>
    /// A simulated 4 GiB machine with one paddr kdamond (5 ms / 100 ms, a stat scheme for
    /// tried_regions) over the largest RAM block, a manual clock for the agent side, and the
    /// kdamond state the page-sampling source reads its regions from.
    /// </summary>
    private sealed class PagedNode : IDisposable
    {
        private readonly DamonSysfsReader reader;
        private readonly AccessSummarizer summarizer = new(AccessOptions.Default);
        private KdamondState? state;

        public PagedNode()
        {
            Roots = KernelRoots.Under("/sim");
            Kernel = new SimulatedKernel(new SimulatorOptions { Roots = Roots, Seed = 11 });
            reader = new DamonSysfsReader(Kernel, Roots);
            Store = new ObservationStore(Clock);
            Env = KernelEnvironment.Wrap(Kernel, Roots);
        }

        public KernelRoots Roots { get; }

        public SimulatedKernel Kernel { get; }

        public FakeTimeProvider Clock { get; } = new();

        public ObservationStore Store { get; }

        public KernelEnvironment Env { get; }

        public ulong RangeStart { get; } = 1 * MiB;

        public ulong RangeEnd { get; } = 3UL << 30;

        public void Start()
        {
            string k = Roots.Kdamonds;
            string c = k + "/0/contexts/0";
            Write(k + "/nr_kdamonds", "1");
            Write(k + "/0/contexts/nr_contexts", "1");
            Write(c + "/operations", "paddr");
            Write(c + "/monitoring_attrs/intervals/sample_us", "5000");
            Write(c + "/monitoring_attrs/intervals/aggr_us", "100000");
            Write(c + "/targets/nr_targets", "1");
            Write(c + "/targets/0/regions/nr_regions", "1");
            Write(c + "/targets/0/regions/0/end", RangeEnd.ToString(CultureInfo.InvariantCulture));
            Write(c + "/targets/0/regions/0/start", RangeStart.ToString(CultureInfo.InvariantCulture));
            Write(c + "/schemes/nr_schemes", "1");
            Write(c + "/schemes/0/access_pattern/sz/max", ulong.MaxValue.ToString(CultureInfo.InvariantCulture));
            Write(c + "/schemes/0/access_pattern/nr_accesses/max", uint.MaxValue.ToString(CultureInfo.InvariantCulture));
            Write(c + "/schemes/0/access_pattern/age/max", uint.MaxValue.ToString(CultureInfo.InvariantCulture));
            Write(k + "/0/state", "on");
        }

        /// <summary>A page-sampling source for a paddr kdamond "node" with these extra YAML keys.</summary>
        public PageSamplingSource Source(string extraYaml)
        {
            string yaml = $"""
                kdamonds:
                  - name: node
                    operations: paddr
                    targets: [{"{"}name: ram, memory: largest_block{"}"}]
                    page_sampling: {"{"}samples: 20000{"}"}
                    {extraYaml}
                """;
            KdamondConfig config = Assert.Single(ConfigLoader.Parse(yaml, "test.yaml").Kdamonds);
            state = new KdamondState(Store, "kdamond/node", "node", 0, ["ram"], TimeSpan.FromSeconds(1));
            state.EnablePageSampling(deferSummary: config.PageSampling.ExcludeFree);
            return new PageSamplingSource(Env, state, config, AccessOptions.Default, TimeSpan.FromSeconds(1), Clock);
        }

        /// <summary>Takes a fresh tried_regions snapshot (100 ms more of simulated time) and offers it to the state.</summary>
        public DamonRegion[] Offer()
        {
            Kernel.Advance(TimeSpan.FromMilliseconds(100));
            Write(Roots.Kdamonds + "/0/state", "update_schemes_tried_regions");
            TriedRegions tried = reader.ReadTriedRegions(0, 0, 0) ?? throw new InvalidOperationException("no tried_regions");
            Assert.NotEmpty(tried.Regions);
            DamonContext ctx = reader.ReadKdamond(0, includeTriedRegions: false).Contexts[0];
            state!.OfferSnapshot(0, tried.Regions, ctx.Attrs.Intervals, 1, summarizer);
            return tried.Regions;
        }

        /// <summary>One snapshot and one pass over it; returns the snapshot's regions.</summary>
        public async Task<DamonRegion[]> PassAsync(PageSamplingSource source)
        {
            DamonRegion[] regions = Offer();
            await source.CollectAsync(CancellationToken.None);
            return regions;
        }

        public PageOwnershipFrame Frame()
        {
            KdamondObservation k = Store.Current.Kdamonds.Single(x => x.Kdamond == "node");
            PageOwnershipFrame? frame = null;
            PageOwnershipTable table = k.Pages ?? throw new InvalidOperationException("no page ownership published");
            table.Read(f => frame = f);
            return frame!;
        }

        public AccessSummary TargetSummary() =>
            Assert.Single(Store.Current.Kdamonds.Single(x => x.Kdamond == "node").Targets).Access ?? throw new InvalidOperationException("no summary");

        public void Dispose() => Env.DisposeAsync().AsTask().GetAwaiter().GetResult();

        private void Write(string path, string value) => Kernel.WriteText(path, value);
    }
}
