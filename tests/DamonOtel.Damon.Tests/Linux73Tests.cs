using DamonOtel.Damon.Features;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Modules;
using DamonOtel.Damon.Procfs;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Damon.Tests.Support;

namespace DamonOtel.Damon.Tests;

/// <summary>
/// The readers on the trees built from the real 7.3.4 kernel (tests/vm/facts, see
/// docs/kernel-7x.md): every file 7.x added is tolerated and the ones the model knows are read.
/// </summary>
public class Linux73Tests
{
    private static readonly KernelRoots Running = Fixtures.Roots("linux-7.3");
    private static readonly KernelRoots AsShipped = Fixtures.Roots("linux-7.3-damon-stat");

    [Fact]
    public void Running_vaddr_kdamond_with_the_7_x_files()
    {
        DamonAdminTree tree = new DamonSysfsReader(LinuxKernelFs.Instance, Running).ReadTree();
        Assert.Equal(2, tree.Kdamonds.Count);
        Kdamond k = tree.Kdamonds[0];
        Assert.True(k.On);
        Assert.Equal(1037, k.Pid);
        Assert.Equal(0U, k.RefreshMs);
        DamonContext c = Assert.Single(k.Contexts);
        Assert.Equal("vaddr", c.Operations);
        Assert.Equal(["vaddr", "fvaddr", "paddr"], c.AvailOperations);
        Assert.Equal(1UL, c.AddrUnit);
        Assert.False(c.Pause);
        Assert.Equal(new Intervals(5000, 250000, 1000000), c.Attrs.Intervals);
        Assert.Equal(new IntervalsGoal(400, 3, 5000, 100000), c.Attrs.Goal);
        DamonTarget t = Assert.Single(c.Targets);
        Assert.Equal(156, t.PidTarget);
        Assert.False(t.Obsolete);

        DamosScheme stat = c.Schemes[0];
        Assert.Equal("stat", stat.Action);
        Assert.True(stat.AccessPattern.MatchesEverything);
        Assert.Equal("consist", stat.Quotas.GoalTuner);
        Assert.Equal(new DamosStats(1275, 98214359040, 1275, 98214359040, 0, 0, 35, 0), stat.Stats);
        // 154472448 + 315752448 + 134217728 + 939524096 + 131072 = 1544097792
        Assert.Equal(1544097792UL, stat.TriedRegions!.TotalBytes);
        Assert.Equal(5, stat.TriedRegions.Regions.Length);
        Assert.Equal(new DamonRegion(140468134887424, 140468269105152, 20, 52), stat.TriedRegions.Regions[2]);

        DamosScheme pageout = c.Schemes[1];
        Assert.Equal(194UL, pageout.Quotas.EffectiveBytes);
        Assert.Equal(new QuotaGoal(0, "user_input", 10000, 5000, 0, string.Empty), Assert.Single(pageout.Quotas.Goals!));
        Assert.Equal(new DamosFilter(0, "addr", true, true, string.Empty, 0, 140737488355328, 0, 0, 0), Assert.Single(pageout.CoreFilters!));
        Assert.Equal("anon", Assert.Single(pageout.OpsFilters!).Type);
        Assert.Equal("anon", Assert.Single(pageout.Filters!).Type);   // the deprecated dir is still there
        Assert.Equal(new DamosDest(0, 0, 100), Assert.Single(pageout.Dests!));
        Assert.Equal(9UL, pageout.Stats.QtExceeds);
        Assert.Equal(0UL, pageout.TriedRegions!.TotalBytes);
        Assert.Empty(pageout.TriedRegions.Regions);
    }

    [Fact]
    public void Running_paddr_kdamond_with_a_probe_reads_its_regions_and_ignores_probe_hits()
    {
        Kdamond k = new DamonSysfsReader(LinuxKernelFs.Instance, Running).ReadTree().Kdamonds[1];
        Assert.Equal((true, 1039, 1000U), (k.On, k.Pid, k.RefreshMs));
        DamonContext c = Assert.Single(k.Contexts);
        Assert.Equal("paddr", c.Operations);
        Assert.False(c.Attrs.Goal!.Enabled);
        Assert.Equal([new AddressRange(1048576, 2147352576)], Assert.Single(c.Targets).Regions);

        // Each region dir also holds probes/0/hits (7.2): the reader takes the region files only.
        TriedRegions tr = c.Schemes[0].TriedRegions!;
        Assert.Equal(
            [
                new DamonRegion(1048576, 48971776, 0, 2),
                new DamonRegion(48971776, 50991104, 5, 0),
                new DamonRegion(50991104, 790835200, 0, 14),
                new DamonRegion(790835200, 1202978816, 0, 16),
                new DamonRegion(1202978816, 2147352576, 0, 16),
            ],
            tr.Regions);
        Assert.Equal([0UL, 0UL, 0UL, 0UL, 0UL], tr.SzFilterPassed!);
        Assert.Equal(2146304000UL, tr.TotalBytes);

        DamosScheme pageout = c.Schemes[1];
        Assert.Equal(new DamosFilter(1, "hugepage_size", true, false, string.Empty, 0, 0, 0, 2097152, 2097152), pageout.OpsFilters![1]);
        Assert.Equal(new QuotaGoal(0, "some_mem_psi_us", 1000, 0, 0, string.Empty), Assert.Single(pageout.Quotas.Goals!));
        Assert.Equal([16384UL], pageout.TriedRegions!.SzFilterPassed!);
        Assert.Equal(new DamosStats(3, 28672, 0, 0, 28672, 14, 0, 0), pageout.Stats);

        // The fast path used every collection gives the same regions.
        var reader = new DamonSysfsReader(LinuxKernelFs.Instance, Running);
        Assert.Equal(tr.Regions, reader.ReadTriedRegions(1, 0, 0)!.Regions);
    }

    [Fact]
    public void Features_of_7_3_include_every_file_7_x_added()
    {
        DamonFeatures f = FeatureProbe.Detect(LinuxKernelFs.Instance, Running);
        Assert.True(f.Sysfs);
        Assert.Equal(["vaddr", "fvaddr", "paddr"], f.OperationSets);
        Assert.True(f.RefreshMs);
        Assert.True(f.AddrUnit);
        Assert.True(f.Pause);
        Assert.True(f.IntervalsGoal);
        Assert.True(f.Probes);
        Assert.True(f.ObsoleteTarget);
        Assert.True(f.CoreOpsFilters);
        Assert.True(f.Filters);
        Assert.True(f.FilterAllow);
        Assert.True(f.FilterHugepageSize);
        Assert.True(f.Dests);
        Assert.True(f.GoalTargetMetric);
        Assert.True(f.GoalNid);
        Assert.True(f.GoalPath);
        Assert.True(f.GoalTuner);
        Assert.True(f.FailCharge);
        Assert.True(f.NrSnapshots);
        Assert.True(f.MaxNrSnapshots);
        Assert.True(f.SzOpsFilterPassed);
        Assert.True(f.TriedRegionSzFilterPassed);
        Assert.True(f.EffectiveBytes);
        Assert.Equal(
            ["damon_aggregated", "damon_monitor_intervals_tune", "damon_region_aggregated", "damos_before_apply", "damos_esz", "damos_stat_after_apply_interval"],
            f.Tracepoints);
        Assert.True(f.ModuleDamonStat);
        Assert.True(f.ModuleDamonReclaim);
        Assert.True(f.ModuleDamonLruSort);
    }

    [Fact]
    public void As_shipped_there_is_no_sysfs_kdamond_to_inspect_but_the_modules_and_events_are_known()
    {
        Assert.Empty(new DamonSysfsReader(LinuxKernelFs.Instance, AsShipped).ReadTree().Kdamonds);
        DamonFeatures f = FeatureProbe.Detect(LinuxKernelFs.Instance, AsShipped);
        Assert.True(f.Sysfs);
        Assert.Null(f.Pause);       // no kdamond dir to look into: unknown, not "no"
        Assert.Null(f.RefreshMs);
        Assert.True(f.HasTracepoint("damon_monitor_intervals_tune"));
        Assert.True(f.ModuleDamonStat);
    }

    [Fact]
    public void Damon_stat_as_shipped_is_running_and_exclusive()
    {
        var modules = new ExclusiveModules(LinuxKernelFs.Instance, AsShipped);
        ExclusiveModuleState stat = Assert.Single(modules.Running());
        Assert.Equal(new ExclusiveModuleState("damon_stat", true, 67), stat);
        Assert.Equal("DAMON_STAT (kdamond pid 67)", ExclusiveModules.Describe(stat));
        Assert.Equal(new ExclusiveModuleState("damon_reclaim", false, -1), modules.Read("damon_reclaim"));
        Assert.Equal(new ExclusiveModuleState("damon_lru_sort", false, -1), modules.Read("damon_lru_sort"));

        // Switched off (what a take-over leaves while its kdamonds run): nothing runs.
        Assert.Empty(new ExclusiveModules(LinuxKernelFs.Instance, Running).Running());

        // 6.12 has no damon_stat at all; the 6.12 fixture has DAMON_RECLAIM running.
        var v612 = new ExclusiveModules(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.12"));
        Assert.Null(v612.Read("damon_stat"));
        Assert.Equal([new ExclusiveModuleState("damon_reclaim", true, 88)], v612.Running());
    }

    [Fact]
    public void Damon_stat_parameters_of_7_3()
    {
        DamonStatParams p = new DamonModuleReader(LinuxKernelFs.Instance, AsShipped).ReadDamonStat()!;
        Assert.True(p.Enabled);
        Assert.Equal(67, p.KdamondPid);
        Assert.Equal(1039360UL, p.AggrIntervalUs);
        Assert.Equal(2338317241UL, p.EstimatedMemoryBandwidth);
        Assert.Equal(101, p.MemoryIdleMsPercentiles!.Length);
        Assert.Equal(-6236, p.MemoryIdleMsPercentiles[0]);
        Assert.Equal(18708, p.MemoryIdleMsPercentiles[50]);
        Assert.Equal(27023, p.MemoryIdleMsPercentiles[100]);

        DamonReclaimParams r = new DamonModuleReader(LinuxKernelFs.Instance, AsShipped).ReadDamonReclaim()!;
        Assert.Equal((false, -1, 1UL), (r.Enabled, r.KdamondPid, r.AddrUnit));
        DamonLruSortParams l = new DamonModuleReader(LinuxKernelFs.Instance, AsShipped).ReadDamonLruSort()!;
        Assert.Equal((false, -1, 500UL), (l.Enabled, l.KdamondPid, l.HotThresAccessFreq));
    }

    [Theory]
    [InlineData("linux-7.3")]
    [InlineData("linux-7.3-damon-stat")]
    public void Readers_never_write_on_7_3(string fixture)
    {
        var fs = new RecordingKernelFs(LinuxKernelFs.Instance);
        KernelRoots roots = Fixtures.Roots(fixture);
        _ = new DamonSysfsReader(fs, roots).ReadTree();
        _ = FeatureProbe.Detect(fs, roots);
        _ = new ExclusiveModules(fs, roots).Running();
        var modules = new DamonModuleReader(fs, roots);
        _ = modules.ReadDamonStat();
        _ = modules.ReadDamonReclaim();
        _ = modules.ReadDamonLruSort();
        var proc = new ProcReader(fs, roots);
        Assert.Equal([new AddressRange(0x1000, 0x9fc00), new AddressRange(0x100000, 0x7ffe0000)], proc.ReadSystemRam());
        _ = proc.FindPidsByName("kdamond.0");
        Assert.True(fs.Reads.Count > 10);
        Assert.Equal(0, fs.Writes);
        Assert.Equal(0, fs.Mkdirs);
        Assert.Equal(0, fs.Rmdirs);
    }

    [Fact]
    public void The_kdamond_comm_does_not_tell_damon_stat_from_sysfs_kdamond_0()
    {
        // DAMON_STAT's thread and sysfs kdamond 0 are both called kdamond.0 on 7.3: only the
        // pid (kdamond_pid, kdamonds/<K>/pid) tells them apart.
        Assert.Equal([67], new ProcReader(LinuxKernelFs.Instance, AsShipped).FindPidsByName("kdamond.0"));
        Assert.Equal([1037], new ProcReader(LinuxKernelFs.Instance, Running).FindPidsByName("kdamond.0"));
    }

    [Fact]
    public void Switching_a_module_writes_only_its_enabled_file()
    {
        string root = Fixtures.CopyToTemp("linux-7.3-damon-stat");
        try
        {
            var fs = new RecordingKernelFs(LinuxKernelFs.Instance);
            var modules = new ExclusiveModules(fs, KernelRoots.Under(root));
            modules.SetEnabled("damon_stat", false);
            Assert.Equal(1, fs.Writes);
            // (a write to a regular file does not truncate: "N" over "Y\n")
            Assert.Equal("N", File.ReadAllText(Path.Combine(root, "sys/module/damon_stat/parameters/enabled")).Trim());
            Assert.Throws<ArgumentException>(() => modules.SetEnabled("damon_sample", true));
            Assert.Equal(1, fs.Writes);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
