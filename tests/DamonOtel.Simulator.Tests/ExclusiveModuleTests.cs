using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator.Tests;

/// <summary>
/// The kernel's own DAMON users as 7.3.4 showed them (tests/vm/facts, docs/kernel-7x.md): each
/// holds DAMON exclusively, `on` answers EBUSY while one runs, the other state commands EINVAL
/// (the kdamond is not running), only one of them can run, and none while a sysfs kdamond runs.
/// </summary>
public class ExclusiveModuleTests
{
    [Theory]
    [InlineData("damon_stat")]
    [InlineData("damon_reclaim")]
    [InlineData("damon_lru_sort")]
    public void Each_module_blocks_sysfs_on_with_the_kernels_errnos(string module)
    {
        var h = new Harness(KernelProfile.V7_3);
        int pid = h.Kernel.SpawnProcess("app", "steady");
        string enabled = h.Roots.ModuleParameters(module) + "/enabled";
        string kdamondPid = h.Roots.ModuleParameters(module) + "/kdamond_pid";
        h.Write(enabled, "Y");
        Assert.Equal("Y", h.Read(enabled));
        int modulePid = int.Parse(h.Read(kdamondPid));
        Assert.True(modulePid > 0);
        Assert.StartsWith("kdamond.", h.Read(h.Roots.Proc(modulePid.ToString(), "comm")), StringComparison.Ordinal);

        h.ConfigureVaddr(pid);
        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => h.State("on")));
        foreach (string cmd in new[] { "commit", "update_schemes_stats", "update_schemes_tried_regions", "update_schemes_tried_bytes", "update_schemes_effective_quotas", "update_tuned_intervals", "commit_schemes_quota_goals", "off" })
        {
            Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State(cmd)));
        }

        Assert.Equal(Errno.None, h.ErrnoOf(() => h.State("clear_schemes_tried_regions")));
        Assert.Equal("off", h.Read(h.K0 + "/state"));
        Assert.Equal("-1", h.Read(h.K0 + "/pid"));
        h.Kernel.Advance(TimeSpan.FromSeconds(1));

        // Switched off: the thread is gone when the write returns, and `on` works at once.
        h.Write(enabled, "N");
        Assert.Equal(("N", "-1"), (h.Read(enabled), h.Read(kdamondPid)));
        Assert.False(h.Kernel.DirectoryExists(h.Roots.Proc(modulePid.ToString())));
        h.State("on");

        // Y while a sysfs kdamond runs: EBUSY, and the module stays off.
        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => h.Write(enabled, "Y")));
        Assert.Equal("N", h.Read(enabled));
        h.State("off");
        h.Write(enabled, "Y");
        Assert.NotEqual(modulePid, int.Parse(h.Read(kdamondPid)));   // a new kdamond
    }

    [Fact]
    public void Only_one_exclusive_module_runs_at_a_time()
    {
        var h = new Harness(KernelProfile.V7_3, damonStat: true);
        foreach (string other in new[] { "damon_reclaim", "damon_lru_sort" })
        {
            Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => h.Write(h.Roots.ModuleParameters(other) + "/enabled", "Y")));
            Assert.Equal("N", h.Read(h.Roots.ModuleParameters(other) + "/enabled"));
        }

        // Y on a module that runs is a no-op: the same kdamond.
        string pid = h.Read(h.Roots.ModuleParameters("damon_stat") + "/kdamond_pid");
        h.Write(h.Roots.ModuleParameters("damon_stat") + "/enabled", "Y");
        Assert.Equal(pid, h.Read(h.Roots.ModuleParameters("damon_stat") + "/kdamond_pid"));
    }

    [Fact]
    public void Damon_stat_of_7_3_spans_all_system_ram_and_traces_its_regions_and_tuning_by_its_pid()
    {
        var h = new Harness(KernelProfile.V7_3, damonStat: true);
        h.Kernel.SpawnProcess("app", "steady");
        string p = h.Roots.ModuleParameters("damon_stat");
        int pid = int.Parse(h.Read(p + "/kdamond_pid"));
        h.Write(h.Roots.Tracefs + "/events/damon/enable", "1");
        using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        h.Kernel.Advance(TimeSpan.FromSeconds(30));
        string text = Harness.Drain(pipe);

        List<Harness.AggLine> lines = Harness.ParseAggregated(text);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Equal(pid, l.Pid));
        // From the first System RAM byte (0x1000) to the end of the last block (5 GiB for 4 GiB of RAM), holes included.
        Assert.Equal(0x1000UL, lines.Min(l => l.Start));
        Assert.Equal(5UL << 30, lines.Max(l => l.End));

        // Auto-tuning (aggregation = 20 x sampling) shows as damon_monitor_intervals_tune of the same kdamond.
        string[] tunes = [.. text.Split('\n').Where(l => l.Contains(": damon_monitor_intervals_tune: sample_us=", StringComparison.Ordinal))];
        Assert.NotEmpty(tunes);
        Assert.All(tunes, l => Assert.Contains($"-{pid} ", l, StringComparison.Ordinal));
        ulong lastSample = ulong.Parse(tunes[^1][(tunes[^1].LastIndexOf('=') + 1)..]);
        Assert.Equal(lastSample * 20, h.ReadU(p + "/aggr_interval_us"));

        // Off: kdamond_pid -1, the published values stay (stale).
        string pct = h.Read(p + "/memory_idle_ms_percentiles");
        h.Write(p + "/enabled", "N");
        Assert.Equal("-1", h.Read(p + "/kdamond_pid"));
        Assert.Equal(pct, h.Read(p + "/memory_idle_ms_percentiles"));
    }

    [Fact]
    public void Before_7_2_damon_stat_has_no_kdamond_pid_and_6_12_has_no_intervals_tune_event()
    {
        var h618 = new Harness(KernelProfile.V6_18, damonStat: true);
        Assert.False(h618.Kernel.FileExists(h618.Roots.ModuleParameters("damon_stat") + "/kdamond_pid"));
        Assert.True(h618.Kernel.DirectoryExists(h618.Roots.Tracefs + "/events/damon/damon_monitor_intervals_tune"));
        var h612 = new Harness(KernelProfile.V6_12);
        Assert.False(h612.Kernel.DirectoryExists(h612.Roots.Tracefs + "/events/damon/damon_monitor_intervals_tune"));
        Assert.True(h612.Kernel.FileExists(h612.Roots.ModuleParameters("damon_lru_sort") + "/enabled"));
    }
}
