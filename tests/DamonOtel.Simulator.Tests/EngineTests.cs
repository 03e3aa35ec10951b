using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator.Tests;

public sealed class EngineTests
{
    [Fact]
    public void A_never_accessed_region_reaches_age_N_after_N_aggregations()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "idle");
        h.ConfigureVaddr(pid);
        h.EnableAggregatedTrace();
        using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromMilliseconds(1000));
        var lines = Harness.ParseAggregated(Harness.Drain(pipe));
        // Aggregations at 100, 200, ... 1000 ms: the k-th one reports age k everywhere
        // (nothing accessed: |0 - 0| <= threshold 1, so age only grows; merges average equal ages).
        var byTs = lines.GroupBy(l => l.Ts).ToList();
        Assert.Equal(10, byTs.Count);
        for (int k = 0; k < byTs.Count; k++)
        {
            Assert.All(byTs[k], l => Assert.Equal((uint)(k + 1), l.Age));
            Assert.All(byTs[k], l => Assert.Equal(0u, l.Nr));
        }
    }

    [Theory]
    [InlineData(KernelProfile.V6_12)]
    [InlineData(KernelProfile.V6_18)]
    [InlineData(KernelProfile.V7_3)]
    public void A_region_with_a_few_hot_pages_restarts_its_age_on_6_18_and_later(KernelProfile profile)
    {
        var h = new Harness(profile);
        // 64 MiB of which one page per MiB (0.4 %) is accessed all the time. With at most 4
        // regions DAMON cannot isolate them: one of a region's 20 samples per aggregation hits one
        // in ~7.5 % of aggregations (count 1), two in ~0.3 % (count 2).
        AddressRange[] sparse = [.. Enumerable.Range(0, 64).Select(i => new AddressRange((ulong)i * Harness.MiB, ((ulong)i * Harness.MiB) + 4096))];
        int pid = h.Kernel.SpawnProcess("app", new PhasedWorkload("sparse", 64 * Harness.MiB, TimeSpan.FromHours(1), [sparse]));
        h.ConfigureVaddr(pid);
        h.Write(h.C0 + "/monitoring_attrs/nr_regions/min", "3");
        h.Write(h.C0 + "/monitoring_attrs/nr_regions/max", "4");
        h.EnableAggregatedTrace();
        using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(20));
        ulong probe = Harness.Alloc + (32 * Harness.MiB);
        var ages = Harness.ParseAggregated(Harness.Drain(pipe))
            .Where(l => l.Start <= probe && probe < l.End)
            .Select(l => l.Age)
            .ToList();
        Assert.Equal(200, ages.Count);
        int restarts = ages.Skip(1).Count(a => a == 0);
        if (profile == KernelProfile.V6_12)
        {
            // Counts 0 and 1 differ by no more than the merge threshold (1): the age keeps growing.
            Assert.InRange(restarts, 0, 3);
            Assert.True(ages.Max() >= 100, $"the region aged to {ages.Max()} aggregations only");
        }
        else
        {
            // Every change between zero and non-zero restarts it.
            Assert.True(restarts >= 10, $"{restarts} restarts in 200 aggregations");
            Assert.True(ages.Max() < 100, $"the region aged to {ages.Max()} aggregations");
        }
    }

    [Fact]
    public void Always_accessed_regions_have_nr_accesses_at_the_maximum()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(10));
        h.EnableAggregatedTrace();
        using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        h.Kernel.Advance(TimeSpan.FromMilliseconds(100));
        var lines = Harness.ParseAggregated(Harness.Drain(pipe));
        ulong hotStart = Harness.Alloc + (256 * Harness.MiB);
        ulong hotEnd = Harness.Alloc + (384 * Harness.MiB);
        // max nr_accesses = aggr/sample = 100000/5000 = 20. The region holding the middle of the hot set
        // covers (almost) only hot pages after 10 s of adaptive splitting, so nearly every sample hits.
        ulong mid = Harness.Alloc + (320 * Harness.MiB);
        var hot = lines.Single(l => l.Start <= mid && mid < l.End);
        Assert.InRange(hot.Nr, 18u, 20u);
        Assert.True(hot.End - hot.Start >= 64 * Harness.MiB, "the hot set is found as one big region");
        var outside = lines.Where(l => l.End <= hotStart || l.Start >= hotEnd).ToList();
        Assert.NotEmpty(outside);
        Assert.All(outside, l => Assert.Equal(0u, l.Nr));
    }

    [Theory]
    [InlineData(10, 1000)]
    [InlineData(10, 40)]
    [InlineData(3, 12)]
    public void Region_count_stays_within_min_and_max(int min, int max)
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "stairs");
        h.ConfigureVaddr(pid);
        h.Write(h.C0 + "/monitoring_attrs/nr_regions/min", min.ToString());
        h.Write(h.C0 + "/monitoring_attrs/nr_regions/max", max.ToString());
        h.EnableAggregatedTrace();
        using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        h.State("on");
        int snapshots = 0;
        for (int i = 0; i < 30; i++)
        {
            h.Kernel.Advance(TimeSpan.FromSeconds(1));
            foreach (var snap in Harness.ParseAggregated(Harness.Drain(pipe)).GroupBy(l => l.Ts))
            {
                snapshots++;
                Assert.InRange(snap.Count(), min, max);
                Assert.All(snap, l => Assert.Equal(snap.Count(), l.NrRegions));
            }
        }

        Assert.Equal(300, snapshots);
    }

    [Fact]
    public void Pageout_respects_the_size_quota_and_drops_rss()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        h.Write(h.S0 + "/action", "pageout");
        h.Write(h.S0 + "/quotas/bytes", (4 * Harness.MiB).ToString());
        h.Write(h.S0 + "/quotas/reset_interval_ms", "1000");
        h.Write(h.S0 + "/quotas/weights/age_permil", "1000");
        ulong rss0 = ulong.Parse(h.Read(h.Roots.Proc(pid.ToString(), "statm")).Split(' ')[1]);
        // statm resident: 8 MiB + 1024 MiB + 16 MiB + 132 KiB = 1048 MiB (268288 pages) + 33 pages = 268321 pages.
        Assert.Equal(268321UL, rss0);
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(5));
        h.State("update_schemes_stats");
        ulong applied = h.ReadU(h.S0 + "/stats/sz_applied");
        // Windows start at the first apply (0.1 s) and every 1 s after: 0.1, 1.1, 2.1, 3.1, 4.1 s
        // -> 5 windows x 4 MiB = 20 MiB; each window is charged up to exactly the quota (regions are split).
        Assert.Equal(20 * Harness.MiB, applied);
        Assert.Equal(applied, h.ReadU(h.S0 + "/stats/sz_tried"));
        Assert.Equal(4UL, h.ReadU(h.S0 + "/stats/qt_exceeds")); // windows 1-4 ended full; the 5th is still open
        ulong rss1 = ulong.Parse(h.Read(h.Roots.Proc(pid.ToString(), "statm")).Split(' ')[1]);
        Assert.True(rss1 < rss0, $"rss {rss0} -> {rss1} pages");
        Assert.True((rss0 - rss1) * 4096 <= applied);
    }

    [Fact]
    public void Stat_scheme_applies_nothing_and_leaves_rss()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(2));
        h.State("update_schemes_stats");
        Assert.Equal("0", h.Read(h.S0 + "/stats/nr_applied"));
        Assert.Equal(268321UL, ulong.Parse(h.Read(h.Roots.Proc(pid.ToString(), "statm")).Split(' ')[1]));
        // 20 applies (every 100 ms for 2 s) each try every region.
        Assert.True(h.ReadU(h.S0 + "/stats/nr_tried") >= 20 * 10);
    }

    [Fact]
    public void Wss_estimated_from_tried_regions_is_within_10_percent_of_ground_truth()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(30));
        h.State("update_schemes_tried_regions");
        ulong wss = h.TriedRegions(h.S0).Where(r => r.Nr >= 1).Aggregate(0UL, (a, r) => a + (r.End - r.Start));
        ulong truth = h.Kernel.GroundTruth(0, 0);
        Assert.Equal(128 * Harness.MiB, truth);
        Assert.InRange((double)wss, truth * 0.9, truth * 1.1);
    }

    [Fact]
    public void Paddr_monitoring_sees_the_process_through_physical_memory()
    {
        var h = new Harness();
        h.Kernel.SpawnProcess("app", "steady");
        h.ConfigurePaddr(0x100000, 0xC000_0000);
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(128 * Harness.MiB, h.Kernel.GroundTruth(0, 0));
        h.State("update_schemes_tried_regions");
        ulong wss = h.TriedRegions(h.S0).Where(r => r.Nr >= 1).Aggregate(0UL, (a, r) => a + (r.End - r.Start));
        Assert.InRange((double)wss, 128 * Harness.MiB * 0.9, 128 * Harness.MiB * 1.1);
        Assert.Equal(0xC000_0000UL - 0x100000UL, h.ReadU(h.S0 + "/tried_regions/total_bytes"));
    }

    [Fact]
    public void Same_seed_gives_identical_trace_and_another_seed_differs()
    {
        static string Run(int seed)
        {
            var h = new Harness(seed: seed);
            int pid = h.Kernel.SpawnProcess("app", "zigzag");
            h.ConfigureVaddr(pid);
            h.EnableAggregatedTrace();
            using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
            h.State("on");
            h.Kernel.Advance(TimeSpan.FromSeconds(3));
            return Harness.Drain(pipe);
        }

        string a = Run(1);
        Assert.True(a.Length > 1000);
        Assert.Equal(a, Run(1));
        Assert.NotEqual(a, Run(2));
    }

    [Fact]
    public void Damon_stat_publishes_bandwidth_and_signed_percentiles()
    {
        var h = new Harness(damonStat: true);
        h.Kernel.SpawnProcess("app", "steady");
        string p = h.Roots.ModuleParameters("damon_stat");
        Assert.Equal("Y", h.Read(p + "/enabled"));
        h.Kernel.Advance(TimeSpan.FromSeconds(20));
        string[] pct = h.Read(p + "/memory_idle_ms_percentiles").Split(',');
        Assert.Equal(101, pct.Length);
        long[] v = [.. pct.Select(long.Parse)];
        Assert.True(v[0] < 0, "hot memory shows negative idle time on 6.18");
        Assert.True(v[100] > 0);
        Assert.Equal(v.Order(), v);
        Assert.True(h.ReadU(p + "/estimated_memory_bandwidth") > 0);
        Assert.True(h.ReadU(p + "/aggr_interval_us") >= 100000);
    }
}
