using System.Text.RegularExpressions;
using DamonOtel.Damon.Features;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Modules;
using DamonOtel.Damon.Procfs;
using DamonOtel.Damon.Tests.Support;

namespace DamonOtel.Damon.Tests;

public class FeatureModuleProcTests
{
    [Fact]
    public void Features_of_5_18_are_false_where_a_parent_exists_and_unknown_otherwise()
    {
        DamonFeatures f = FeatureProbe.Detect(LinuxKernelFs.Instance, Fixtures.Roots("linux-5.18"));
        Assert.True(f.Sysfs);
        Assert.False(f.AvailOperations);
        Assert.Null(f.OperationSets);
        Assert.False(f.RefreshMs);
        Assert.False(f.TriedRegions);
        Assert.False(f.TriedRegionsTotalBytes);
        Assert.False(f.ApplyIntervalUs);
        Assert.False(f.QuotaGoals);
        Assert.False(f.EffectiveBytes);
        Assert.False(f.Filters);
        Assert.False(f.CoreOpsFilters);
        Assert.False(f.IntervalsGoal);
        Assert.False(f.ObsoleteTarget);
        // No goal, filter or tried region exists to look into: unknown, not false.
        Assert.Null(f.GoalTargetMetric);
        Assert.Null(f.FilterAllow);
        Assert.Null(f.TriedRegionSzFilterPassed);
        // No tracefs in this fixture; /sys/module exists with damon_reclaim only.
        Assert.Null(f.Tracepoints);
        Assert.True(f.ModuleDamonReclaim);
        Assert.False(f.ModuleDamonStat);
        Assert.False(f.ModuleDamonLruSort);
    }

    [Fact]
    public void Features_of_6_12()
    {
        DamonFeatures f = FeatureProbe.Detect(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.12"));
        Assert.Equal(["vaddr", "fvaddr", "paddr"], f.OperationSets);
        Assert.True(f.TriedRegions);
        Assert.True(f.TriedRegionsTotalBytes);
        Assert.False(f.TriedRegionSzFilterPassed);
        Assert.True(f.ApplyIntervalUs);
        Assert.True(f.TargetNid);
        Assert.True(f.QuotaGoals);
        Assert.True(f.GoalTargetMetric);
        Assert.False(f.GoalNid);
        Assert.True(f.EffectiveBytes);
        Assert.True(f.Filters);
        Assert.False(f.CoreOpsFilters);
        Assert.False(f.FilterAllow);
        Assert.False(f.SzOpsFilterPassed);
        Assert.False(f.RefreshMs);
        Assert.False(f.AddrUnit);
        Assert.False(f.IntervalsGoal);
        Assert.False(f.Dests);
        Assert.Equal(["damon_aggregated", "damos_before_apply"], f.Tracepoints);
        Assert.True(f.ModuleDamonLruSort);
        Assert.False(f.ModuleDamonStat);
    }

    [Fact]
    public void Features_of_6_18()
    {
        DamonFeatures f = FeatureProbe.Detect(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.18"));
        Assert.Equal(["paddr"], f.OperationSets);
        Assert.True(f.RefreshMs);
        Assert.True(f.AddrUnit);
        Assert.True(f.IntervalsGoal);
        Assert.True(f.CoreOpsFilters);
        Assert.True(f.FilterAllow);
        Assert.True(f.FilterHugepageSize);
        Assert.True(f.SzOpsFilterPassed);
        Assert.True(f.TriedRegionSzFilterPassed);
        Assert.True(f.Dests);
        Assert.True(f.GoalNid);
        Assert.False(f.GoalPath);
        Assert.False(f.ObsoleteTarget);
        Assert.False(f.NrSnapshots);
        Assert.False(f.GoalTuner);
        Assert.False(f.Pause);
        Assert.False(f.Probes);
        Assert.True(f.HasTracepoint("damos_esz"));
        Assert.False(f.HasTracepoint("damos_stat_after_apply_interval"));
        Assert.True(f.ModuleDamonStat);
    }

    [Fact]
    public void No_sysfs_means_no_kdamond_features_known()
    {
        var roots = new KernelRoots("/nonexistent-sys", "/nonexistent-trace", "/nonexistent-proc");
        DamonFeatures f = FeatureProbe.Detect(LinuxKernelFs.Instance, roots);
        Assert.False(f.Sysfs);
        Assert.Null(f.TriedRegions);
        Assert.Null(f.ModuleDamonStat);
        Assert.Null(f.Tracepoints);
    }

    [Fact]
    public void DetectByProbing_refuses_without_ownership_and_restores_nr_kdamonds()
    {
        var fake = new FakeDamonFs(FakeKernel.V6_18, kdamonds: 2);
        Assert.Throws<InvalidOperationException>(() => FeatureProbe.DetectByProbing(fake, fake.Roots, callerOwnsAllKdamonds: false));
        Assert.Empty(fake.Writes);

        DamonFeatures f = FeatureProbe.DetectByProbing(fake, fake.Roots, callerOwnsAllKdamonds: true);
        Assert.True(f.GoalNid);
        Assert.True(f.FilterAllow);
        Assert.True(f.CoreOpsFilters);
        Assert.True(f.Dests);
        Assert.Null(f.TriedRegionSzFilterPassed); // regions only exist on a running kdamond
        Assert.Equal(("nr_kdamonds", "3"), fake.Writes[0]);
        Assert.Equal(("nr_kdamonds", "2"), fake.Writes[^1]);
        Assert.Equal("2", fake["nr_kdamonds"]);
        Assert.False(Directory.Exists("/fake"));
    }

    [Fact]
    public void DamonStat_params_of_6_18_have_signed_percentiles()
    {
        DamonStatParams s = new DamonModuleReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.18")).ReadDamonStat()!;
        Assert.True(s.Enabled);
        Assert.Equal(123456789UL, s.EstimatedMemoryBandwidth);
        Assert.Equal(2000000UL, s.AggrIntervalUs);
        Assert.Null(s.KdamondPid); // 7.2
        long[] p = s.MemoryIdleMsPercentiles!;
        Assert.Equal(101, p.Length);
        // p_i = -(20 - i) * 2000 for i < 20, else (i - 19) * 2000.
        Assert.Equal(-40000, p[0]);
        Assert.Equal(-2000, p[19]);
        Assert.Equal(2000, p[20]);
        Assert.Equal(62000, p[50]);
        Assert.Equal(162000, p[100]);
    }

    [Fact]
    public void Reclaim_params_of_5_18_and_6_12()
    {
        DamonReclaimParams old = new DamonModuleReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-5.18")).ReadDamonReclaim()!;
        Assert.False(old.Enabled);
        Assert.Equal(-1, old.KdamondPid);
        Assert.Null(old.SkipAnon);
        Assert.Null(old.AddrUnit);
        Assert.Null(old.QuotaMemPressureUs);
        Assert.Equal(120000000UL, old.MinAgeUs);

        DamonReclaimParams r = new DamonModuleReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.12")).ReadDamonReclaim()!;
        Assert.True(r.Enabled);
        Assert.Equal(88, r.KdamondPid);
        Assert.Equal(120UL, r.NrReclaimTriedRegions);
        Assert.Equal(503316480UL, r.BytesReclaimTriedRegions);
        Assert.Equal(100UL, r.NrReclaimedRegions);
        Assert.Equal(419430400UL, r.BytesReclaimedRegions);
        Assert.Equal(7UL, r.NrQuotaExceeds);
        Assert.Equal(4294967296UL, r.MonitorRegionStart);
        Assert.Equal(8321499136UL, r.MonitorRegionEnd);
        Assert.False(r.SkipAnon);
        Assert.Null(new DamonModuleReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-5.18")).ReadDamonStat());
    }

    [Fact]
    public void LruSort_hot_and_cold_stats()
    {
        DamonLruSortParams l = new DamonModuleReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.18")).ReadDamonLruSort()!;
        Assert.True(l.Enabled);
        Assert.Equal(99, l.KdamondPid);
        Assert.Equal(new LruSortSchemeStats(12, 49152, 10, 40960, 2), l.Hot);
        Assert.Equal(new LruSortSchemeStats(30, 122880, 25, 102400, 0), l.Cold);
        Assert.Equal(1UL, l.AddrUnit);
        Assert.Null(new DamonModuleReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-5.18")).ReadDamonLruSort());
    }

    [Fact]
    public void Proc_cpu_rss_and_iomem()
    {
        var proc = new ProcReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.18"), pageSize: 4096);
        // kdamond.0: utime 1234 + stime 567 = 1801 ticks / 100 = 18.01 s
        Assert.Equal(18.01, proc.ReadCpuSeconds(77)!.Value, 9);
        // "a) (b c": 250 + 130 = 380 ticks = 3.8 s
        Assert.Equal(3.8, proc.ReadCpuSeconds(4321)!.Value, 9);
        Assert.Equal("a) (b c", proc.ReadCpuTicks(4321)!.Value.Comm);
        // statm resident 2560 pages * 4096 = 10485760
        Assert.Equal(10485760UL, proc.ReadRssBytes(4321));
        Assert.Null(proc.ReadCpuSeconds(999999));
        Assert.Null(proc.ReadRssBytes(999999));
        Assert.Equal(
            [new AddressRange(0x1000, 0x9fc00), new AddressRange(0x100000, 0xbffe0000), new AddressRange(0x100000000, 0x1f0000000)],
            proc.ReadSystemRam());
    }

    [Fact]
    public void Proc_find_pids_by_name_and_cmdline()
    {
        var proc = new ProcReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.18"));
        Assert.Equal([77], proc.FindPidsByName("kdamond.0"));
        Assert.Equal([4321], proc.FindPidsByName("a) (b c"));
        Assert.Equal([4400], proc.FindPidsByName("stress-ng"));
        // cmdline args joined by spaces: "/usr/bin/stress-ng --vm 1 --vm-bytes 512M" and "stress-ng-vm"
        Assert.Equal([4321, 4400], proc.FindPidsByCmdline(new Regex("stress-ng")));
        Assert.Equal([4321], proc.FindPidsByCmdline(new Regex("--vm-bytes 512M$")));
        Assert.Empty(proc.FindPidsByCmdline(new Regex("kdamond")));
    }

    [Fact]
    public void Proc_kernel_release_and_host_name_are_trimmed_and_null_when_absent_or_empty()
    {
        string root = Directory.CreateTempSubdirectory().FullName;
        Directory.CreateDirectory(Path.Combine(root, "sys", "kernel"));
        var proc = new ProcReader(LinuxKernelFs.Instance, KernelRoots.Default with { Procfs = root });
        Assert.Null(proc.ReadKernelRelease());
        Assert.Null(proc.ReadHostName());

        File.WriteAllText(Path.Combine(root, "sys", "kernel", "osrelease"), "6.12.38+deb13-amd64\n");
        File.WriteAllText(Path.Combine(root, "sys", "kernel", "hostname"), "\n");
        Assert.Equal("6.12.38+deb13-amd64", proc.ReadKernelRelease());
        Assert.Null(proc.ReadHostName());
    }
}
