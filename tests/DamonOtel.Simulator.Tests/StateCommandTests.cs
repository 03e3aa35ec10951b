using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator.Tests;

public sealed class StateCommandTests
{
    // Distinct timestamps of damon_aggregated lines = aggregation intervals traced.
    private static int Snapshots(string text) => Harness.ParseAggregated(text).Select(l => l.Ts).Distinct().Count();

    private static Harness Running(KernelProfile profile = KernelProfile.V6_18)
    {
        var h = new Harness(profile);
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        h.State("on");
        return h;
    }

    [Fact]
    public void On_starts_a_kdamond_thread_visible_in_proc()
    {
        Harness h = Running();
        Assert.Equal("on", h.Read(h.K0 + "/state"));
        string pid = h.Read(h.K0 + "/pid");
        Assert.NotEqual("-1", pid);
        Assert.Equal("kdamond.0", h.Read(h.Roots.Proc(pid, "comm")));
        string stat0 = h.Read(h.Roots.Proc(pid, "stat"));
        h.Kernel.Advance(TimeSpan.FromSeconds(30));
        string[] f0 = stat0.Split(' ');
        string[] f1 = h.Read(h.Roots.Proc(pid, "stat")).Split(' ');
        Assert.Equal(52, f1.Length);
        Assert.True(long.Parse(f1[14]) > long.Parse(f0[14]), "kdamond stime (field 15) grows while sampling");
    }

    [Fact]
    public void On_errors()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);

        h.Write(h.K0 + "/contexts/nr_contexts", "0");
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("on")));

        h.ConfigureVaddr(pid);
        h.Write(h.C0 + "/monitoring_attrs/intervals/aggr_us", "4000");
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("on")));

        h.ConfigureVaddr(pid);
        h.Write(h.C0 + "/monitoring_attrs/nr_regions/min", "2");
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("on")));
        h.Write(h.C0 + "/monitoring_attrs/nr_regions/min", "2000");
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("on")));

        h.ConfigureVaddr(pid + 100);
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("on")));

        h.ConfigurePaddr(0x100000, 0x40000000);
        h.Write(h.C0 + "/targets/nr_targets", "2");
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("on")));
        h.Write(h.C0 + "/targets/nr_targets", "1");
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("on"))); // paddr target without regions

        h.ConfigurePaddr(0x100000, 0x40000000);
        h.Write(h.C0 + "/targets/0/regions/nr_regions", "2");
        h.Write(h.C0 + "/targets/0/regions/0/end", "8192");
        h.Write(h.C0 + "/targets/0/regions/1/end", "4096");
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("on"))); // overlapping regions

        Assert.Equal("off", h.Read(h.K0 + "/state"));
        h.ConfigureVaddr(pid);
        h.State("on");
        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => h.State("on")));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("bogus")));
    }

    [Fact]
    public void Off_errors_never_started_then_already_stopped()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("off")));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("commit")));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("update_schemes_stats")));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("update_schemes_tried_regions")));
        h.State("on");
        h.State("off");
        Assert.Equal("off", h.Read(h.K0 + "/state"));
        Assert.Equal("-1", h.Read(h.K0 + "/pid"));
        Assert.Equal(Errno.EPERM, h.ErrnoOf(() => h.State("off")));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("commit")));
        h.State("on"); // restartable
        Assert.Equal("on", h.Read(h.K0 + "/state"));
    }

    [Fact]
    public void Nr_kdamonds_is_EBUSY_while_running_and_DAMON_STAT_blocks_on()
    {
        Harness h = Running();
        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => h.Write(h.Roots.Kdamonds + "/nr_kdamonds", "2")));
        h.State("off");
        h.Write(h.Roots.Kdamonds + "/nr_kdamonds", "2");

        var s = new Harness(damonStat: true);
        int pid = s.Kernel.SpawnProcess("app", "steady");
        s.ConfigureVaddr(pid);
        Assert.Equal(Errno.EBUSY, s.ErrnoOf(() => s.State("on")));
        s.Write(s.Roots.ModuleParameters("damon_stat") + "/enabled", "N");
        s.State("on");
        Assert.Equal(Errno.EBUSY, s.ErrnoOf(() => s.Write(s.Roots.ModuleParameters("damon_stat") + "/enabled", "Y")));
    }

    [Fact]
    public void Values_are_staged_until_commit()
    {
        Harness h = Running();
        h.EnableAggregatedTrace();
        using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        h.Kernel.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(10, Snapshots(Harness.Drain(pipe)));   // 1 s / 100 ms

        h.Write(h.C0 + "/monitoring_attrs/intervals/aggr_us", "200000");
        h.Kernel.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(10, Snapshots(Harness.Drain(pipe)));   // staged only

        h.State("commit");
        h.Kernel.Advance(TimeSpan.FromSeconds(1));
        Assert.InRange(Snapshots(Harness.Drain(pipe)), 5, 6); // 1 s / 200 ms (+ the interval in flight)
    }

    [Fact]
    public void Commit_keeps_monitoring_history_when_nr_regions_is_0()
    {
        var h = new Harness();
        h.Kernel.SpawnProcess("app", "steady");
        h.ConfigurePaddr(0x100000, 0xC000_0000);
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(3));
        h.EnableAggregatedTrace();
        using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        h.Kernel.Advance(TimeSpan.FromMilliseconds(100));
        uint maxAgeBefore = Harness.ParseAggregated(Harness.Drain(pipe)).Max(l => l.Age);
        Assert.True(maxAgeBefore >= 20);

        h.Write(h.C0 + "/targets/0/regions/nr_regions", "0");
        h.State("commit");
        h.Kernel.Advance(TimeSpan.FromMilliseconds(100));
        uint maxAgeAfter = Harness.ParseAggregated(Harness.Drain(pipe)).Max(l => l.Age);
        Assert.True(maxAgeAfter > maxAgeBefore, $"ages kept: {maxAgeBefore} -> {maxAgeAfter}");
    }

    [Fact]
    public void Update_commands_copy_live_values_into_the_files()
    {
        Harness h = Running();
        h.Write(h.S0 + "/quotas/bytes", "4194304");
        h.Write(h.S0 + "/quotas/reset_interval_ms", "1000");
        h.State("commit");
        h.Kernel.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("0", h.Read(h.S0 + "/stats/nr_tried"));        // stale until asked
        Assert.Equal("0", h.Read(h.S0 + "/quotas/effective_bytes"));
        h.State("update_schemes_stats");
        Assert.True(h.ReadU(h.S0 + "/stats/nr_tried") > 0);
        Assert.True(h.ReadU(h.S0 + "/stats/sz_tried") > 0);
        Assert.Equal("0", h.Read(h.S0 + "/stats/sz_applied"));       // stat does nothing
        h.State("update_schemes_effective_quotas");
        Assert.Equal("4194304", h.Read(h.S0 + "/quotas/effective_bytes"));
        h.State("update_tuned_intervals");
        Assert.Equal("5000", h.Read(h.C0 + "/monitoring_attrs/intervals/sample_us"));
        h.Write(h.S0 + "/quotas/goals/nr_goals", "1");
        h.State("commit_schemes_quota_goals");
    }

    [Fact]
    public void Intervals_auto_tuning_shows_after_update_tuned_intervals()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "idle");
        h.ConfigureVaddr(pid);
        string g = h.C0 + "/monitoring_attrs/intervals/intervals_goal/";
        h.Write(g + "access_bp", "400");
        h.Write(g + "aggrs", "3");
        h.Write(g + "min_sample_us", "5000");
        h.Write(g + "max_sample_us", "10000000");
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal("5000", h.Read(h.C0 + "/monitoring_attrs/intervals/sample_us"));
        h.State("update_tuned_intervals");
        // An idle workload under-achieves the 4 % goal, so sampling slows down; ratio 20 stays.
        ulong sample = h.ReadU(h.C0 + "/monitoring_attrs/intervals/sample_us");
        Assert.True(sample > 5000);
        Assert.Equal(sample * 20, h.ReadU(h.C0 + "/monitoring_attrs/intervals/aggr_us"));
    }

    [Fact]
    public void Refresh_ms_refreshes_stats_by_itself()
    {
        Harness h = Running();
        h.Write(h.K0 + "/refresh_ms", "100");
        h.Kernel.Advance(TimeSpan.FromSeconds(1));
        Assert.True(h.ReadU(h.S0 + "/stats/nr_tried") > 0);
    }

    [Fact]
    public void Update_tuned_intervals_is_unknown_on_6_12()
    {
        Harness h = Running(KernelProfile.V6_12);
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("update_tuned_intervals")));
        h.State("update_schemes_stats");
    }

    [Theory]
    [InlineData(KernelProfile.V6_18, new[] { 1, 3, 5 })]
    [InlineData(KernelProfile.V6_12, new[] { 0, 1, 2 })]
    public void Tried_regions_are_filled_on_request_with_version_specific_names(KernelProfile profile, int[] firstNames)
    {
        Harness h = Running(profile);
        h.Kernel.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(["total_bytes"], h.Kernel.ListDirectory(h.S0 + "/tried_regions"));
        h.State("update_schemes_tried_regions");
        var regions = h.TriedRegions(h.S0);
        Assert.True(regions.Count >= 10);
        Assert.Equal(firstNames, regions.Take(3).Select(r => r.Name));
        int step = profile == KernelProfile.V6_18 ? 2 : 1;
        Assert.Equal(Enumerable.Range(0, regions.Count).Select(i => (firstNames[0]) + (i * step)), regions.Select(r => r.Name));
        ulong sum = regions.Aggregate(0UL, (a, r) => a + (r.End - r.Start));
        Assert.Equal(sum, h.ReadU(h.S0 + "/tried_regions/total_bytes"));
        Assert.Equal(profile == KernelProfile.V6_18, h.Kernel.FileExists($"{h.S0}/tried_regions/{firstNames[0]}/sz_filter_passed"));

        h.State("clear_schemes_tried_regions");
        Assert.Equal(["total_bytes"], h.Kernel.ListDirectory(h.S0 + "/tried_regions"));
        Assert.Equal("0", h.Read(h.S0 + "/tried_regions/total_bytes"));

        h.State("update_schemes_tried_bytes");
        Assert.Equal(["total_bytes"], h.Kernel.ListDirectory(h.S0 + "/tried_regions"));
        Assert.Equal(sum, h.ReadU(h.S0 + "/tried_regions/total_bytes")); // vaddr regions cover the same span
    }

    [Fact]
    public void Tried_regions_only_hold_regions_matching_the_pattern()
    {
        Harness h = Running();
        h.Kernel.Advance(TimeSpan.FromSeconds(10));
        h.Write(h.S0 + "/access_pattern/nr_accesses/min", "1");
        h.State("commit");
        h.State("update_schemes_tried_regions");
        var regions = h.TriedRegions(h.S0);
        Assert.NotEmpty(regions);
        Assert.All(regions, r => Assert.True(r.Nr >= 1));
        // Hot set of the steady workload: [alloc+256 MiB, alloc+384 MiB).
        Assert.All(regions, r => Assert.True(r.End > Harness.Alloc + (256 * Harness.MiB) && r.Start < Harness.Alloc + (384 * Harness.MiB)));
    }

    [Fact]
    public async Task Real_time_mode_serves_blocking_walks_from_its_own_thread()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        h.Write(h.S0 + "/apply_interval_us", "5000");
        h.State("on");
        using var cts = new CancellationTokenSource();
        Task loop = h.Kernel.RunRealTime(cts.Token);
        h.State("update_schemes_tried_regions"); // blocks until the loop has run one apply interval
        Assert.NotEmpty(h.TriedRegions(h.S0));
        Assert.True(h.Kernel.Now > TimeSpan.Zero);
        await cts.CancelAsync();
        await loop;
    }
}
