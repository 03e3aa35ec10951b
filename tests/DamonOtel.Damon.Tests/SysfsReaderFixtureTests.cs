using System.Globalization;
using DamonOtel.Damon.Features;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Modules;
using DamonOtel.Damon.Procfs;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Damon.Tests.Support;

namespace DamonOtel.Damon.Tests;

public class SysfsReaderFixtureTests
{
    private static DamonAdminTree Read(string fixture) =>
        new DamonSysfsReader(LinuxKernelFs.Instance, Fixtures.Roots(fixture)).ReadTree();

    [Fact]
    public void Linux_5_18_tree_has_no_later_features()
    {
        Kdamond k = Assert.Single(Read("linux-5.18").Kdamonds);
        Assert.False(k.On);
        Assert.Equal(-1, k.Pid);
        Assert.Null(k.RefreshMs);
        DamonContext c = Assert.Single(k.Contexts);
        Assert.Equal("vaddr", c.Operations);
        Assert.Null(c.AvailOperations);
        Assert.Null(c.AddrUnit);
        Assert.Null(c.Pause);
        Assert.Equal(new Intervals(5000, 100000, 60000000), c.Attrs.Intervals);
        Assert.Null(c.Attrs.Goal);
        Assert.Equal(10UL, c.Attrs.MinNrRegions);
        Assert.Equal(1000UL, c.Attrs.MaxNrRegions);
        DamonTarget t = Assert.Single(c.Targets);
        Assert.Equal(1234, t.PidTarget);
        Assert.Null(t.Obsolete);
        Assert.Empty(t.Regions);
        DamosScheme s = Assert.Single(c.Schemes);
        Assert.Equal("pageout", s.Action);
        Assert.Null(s.ApplyIntervalUs);
        Assert.Null(s.TargetNid);
        Assert.Equal(new AccessPattern(new(4096, ulong.MaxValue), new(0, 0), new(10, uint.MaxValue)), s.AccessPattern);
        Assert.Equal(10UL, s.Quotas.Ms);
        Assert.Equal(134217728UL, s.Quotas.Bytes);
        Assert.Null(s.Quotas.EffectiveBytes);
        Assert.Null(s.Quotas.Goals);
        Assert.Null(s.Quotas.GoalTuner);
        Assert.Equal(new QuotaWeights(0, 0, 1), s.Quotas.Weights);
        Assert.Equal(new DamosWatermarks("free_mem_rate", 5000000, 500, 400, 200), s.Watermarks);
        Assert.Null(s.Filters);
        Assert.Null(s.CoreFilters);
        Assert.Null(s.OpsFilters);
        Assert.Null(s.Dests);
        Assert.Equal(new DamosStats(5, 20480, 3, 12288, null, 1, null, null), s.Stats);
        Assert.Null(s.TriedRegions);
    }

    [Fact]
    public void Linux_6_12_tree_reads_goals_filters_and_contiguous_tried_regions()
    {
        Kdamond k = Assert.Single(Read("linux-6.12").Kdamonds);
        Assert.True(k.On);
        Assert.Equal(4242, k.Pid);
        Assert.Null(k.RefreshMs);
        DamonContext c = Assert.Single(k.Contexts);
        Assert.Equal(["vaddr", "fvaddr", "paddr"], c.AvailOperations);
        Assert.Null(c.AddrUnit);
        Assert.Null(c.Attrs.Goal);
        Assert.Equal(1000000UL, c.Attrs.Intervals.UpdateUs);
        DamosScheme s = Assert.Single(c.Schemes);
        Assert.Equal("stat", s.Action);
        Assert.Equal(5000UL, s.ApplyIntervalUs);
        Assert.Equal(-1, s.TargetNid);
        Assert.True(s.AccessPattern.MatchesEverything);
        Assert.Equal(0UL, s.Quotas.EffectiveBytes);
        QuotaGoal g = Assert.Single(s.Quotas.Goals!);
        Assert.Equal(new QuotaGoal(0, "some_mem_psi_us", 1000, 0, null, null), g);
        DamosFilter f = Assert.Single(s.Filters!);
        Assert.Equal(new DamosFilter(0, "anon", true, null, string.Empty, 0, 0, 0, null, null), f);
        Assert.Null(s.CoreFilters);
        Assert.Null(s.OpsFilters);
        Assert.Null(s.Dests);
        Assert.Null(s.Stats.SzOpsFilterPassed);
        TriedRegions tr = s.TriedRegions!;
        // 409600 + 819200 + 81920 = 1310720
        Assert.Equal(1310720UL, tr.TotalBytes);
        Assert.Equal(
            [
                new DamonRegion(140000000000000, 140000000409600, 0, 12),
                new DamonRegion(140000000409600, 140000001228800, 5, 3),
                new DamonRegion(140737488273408, 140737488355328, 20, 0),
            ],
            tr.Regions);
        Assert.Null(tr.SzFilterPassed);
    }

    [Fact]
    public void Linux_6_18_tree_matches_the_observed_kdamond()
    {
        Kdamond k = Assert.Single(Read("linux-6.18").Kdamonds);
        Assert.True(k.On);
        Assert.Equal(77, k.Pid);
        Assert.Equal(0U, k.RefreshMs);
        DamonContext c = Assert.Single(k.Contexts);
        Assert.Equal("paddr", c.Operations);
        Assert.Equal(["paddr"], c.AvailOperations);
        Assert.Equal(1UL, c.AddrUnit);
        Assert.Null(c.Pause);
        Assert.Equal(new Intervals(500000, 5000000, 60000000), c.Attrs.Intervals);
        Assert.Equal(new IntervalsGoal(0, 0, 0, 0), c.Attrs.Goal);
        Assert.False(c.Attrs.Goal!.Enabled);
        Assert.Equal(1024UL, c.Attrs.MinNrRegions);
        Assert.Equal(8192UL, c.Attrs.MaxNrRegions);
        DamonTarget t = Assert.Single(c.Targets);
        Assert.Null(t.Obsolete);
        Assert.Equal([new AddressRange(4294967296, 8321499136)], t.Regions);

        Assert.Equal(2, c.Schemes.Count);
        DamosScheme p = c.Schemes[0];
        Assert.Equal("pageout", p.Action);
        Assert.Equal(0UL, p.ApplyIntervalUs);
        Assert.Equal(new AccessPattern(new(0, ulong.MaxValue), new(0, 1), new(6, uint.MaxValue)), p.AccessPattern);
        Assert.Equal(800UL, p.Quotas.Ms);
        Assert.Equal(2147483648UL, p.Quotas.Bytes);
        Assert.Equal(1000UL, p.Quotas.ResetIntervalMs);
        Assert.Equal(new QuotaWeights(0, 0, 1000), p.Quotas.Weights);
        Assert.Empty(p.Quotas.Goals!);
        Assert.Empty(p.Filters!);
        Assert.Empty(p.CoreFilters!);
        Assert.Equal(
            [
                new DamosFilter(0, "anon", true, false, string.Empty, 0, 0, 0, 0, 0),
                new DamosFilter(1, "unmapped", true, true, string.Empty, 0, 0, 0, 0, 0),
            ],
            p.OpsFilters!);
        Assert.Empty(p.Dests!);
        Assert.Equal(new DamosStats(0, 0, 0, 0, 0, 0, null, null), p.Stats);
        Assert.Equal(0UL, p.TriedRegions!.TotalBytes);
        Assert.Empty(p.TriedRegions.Regions);

        DamosScheme st = c.Schemes[1];
        Assert.Equal("stat", st.Action);
        Assert.Equal(new QuotaGoal(0, "node_mem_used_bp", 9000, 0, 0, null), Assert.Single(st.Quotas.Goals!));
        Assert.Equal(new DamosFilter(0, "addr", true, true, string.Empty, 4294967296, 8321499136, 0, 0, 0), Assert.Single(st.CoreFilters!));
        Assert.Equal(new DamosDest(0, 1, 100), Assert.Single(st.Dests!));
        Assert.Equal(1207963648UL, st.Stats.SzOpsFilterPassed);
        AssertSixEighteenTriedRegions(st.TriedRegions!);
    }

    // Directory names 1,3,5,7,11: as text "11" would sort before "3"; numerically it is last.
    internal static void AssertSixEighteenTriedRegions(TriedRegions tr)
    {
        // 268435456 + 536870912 + 1073741824 + 268435456 + 1879048192 = 4026531840
        Assert.Equal(4026531840UL, tr.TotalBytes);
        Assert.Equal(
            [
                new DamonRegion(4294967296, 4563402752, 0, 40),
                new DamonRegion(4563402752, 5100273664, 3, 2),
                new DamonRegion(5100273664, 6174015488, 0, 120),
                new DamonRegion(6174015488, 6442450944, 10, 0),
                new DamonRegion(6442450944, 8321499136, 0, 7),
            ],
            tr.Regions);
        Assert.Equal([134217728UL, 0UL, 1073741824UL, 4096UL, 0UL], tr.SzFilterPassed!);
    }

    [Fact]
    public void ReadTriedRegions_fast_path_matches_the_fixture()
    {
        var reader = new DamonSysfsReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.18"));
        AssertSixEighteenTriedRegions(reader.ReadTriedRegions(0, 0, 1)!);
        // Second read goes through the path cache and must give the same answer.
        AssertSixEighteenTriedRegions(reader.ReadTriedRegions(0, 0, 1)!);
        Assert.Null(reader.ReadTriedRegions(0, 0, 7));
        Assert.Null(new DamonSysfsReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-5.18")).ReadTriedRegions(0, 0, 0));
    }

    [Fact]
    public void ReadTree_without_tried_regions_leaves_them_null()
    {
        DamonAdminTree tree = new DamonSysfsReader(LinuxKernelFs.Instance, Fixtures.Roots("linux-6.18")).ReadTree(includeTriedRegions: false);
        Assert.All(tree.Kdamonds[0].Contexts[0].Schemes, s => Assert.Null(s.TriedRegions));
    }

    [Fact]
    public void Missing_admin_tree_reads_as_empty()
    {
        var roots = new KernelRoots(Path.Combine(Path.GetTempPath(), "no-such-sysfs-" + Guid.NewGuid()), "/nonexistent", "/nonexistent");
        Assert.Same(DamonAdminTree.Empty, new DamonSysfsReader(LinuxKernelFs.Instance, roots).ReadTree());
    }

    [Fact]
    public void A_region_directory_vanishing_after_listing_is_skipped()
    {
        string root = Fixtures.CopyToTemp("linux-6.18");
        try
        {
            var roots = KernelRoots.Under(root);
            string tried = Path.Combine(roots.Kdamonds, "0", "contexts", "0", "schemes", "1", "tried_regions");
            var fs = new RecordingKernelFs(LinuxKernelFs.Instance);
            // Another tool's update removes region 5 right after we listed the directory.
            fs.AfterList = p =>
            {
                if (p == tried)
                {
                    Directory.Delete(Path.Combine(tried, "5"), recursive: true);
                }
            };
            TriedRegions tr = new DamonSysfsReader(fs, roots).ReadTriedRegions(0, 0, 1)!;
            Assert.Equal(
                [
                    new DamonRegion(4294967296, 4563402752, 0, 40),
                    new DamonRegion(4563402752, 5100273664, 3, 2),
                    new DamonRegion(6174015488, 6442450944, 10, 0),
                    new DamonRegion(6442450944, 8321499136, 0, 7),
                ],
                tr.Regions);
            Assert.Equal([134217728UL, 0UL, 4096UL, 0UL], tr.SzFilterPassed!);
            Assert.True(tr.Torn);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_region_being_removed_ENODEV_is_skipped()
    {
        // Seen on 6.12 in qemu: while `damon-otel snapshot` ran update_schemes_tried_regions on a
        // kdamond, the agent's read of a region file of it failed with ENODEV.
        var roots = Fixtures.Roots("linux-6.18");
        string region7 = Path.Combine(roots.Kdamonds, "0", "contexts", "0", "schemes", "1", "tried_regions", "7");
        var fs = new RecordingKernelFs(LinuxKernelFs.Instance)
        {
            BeforeRead = p =>
            {
                if (p.StartsWith(region7 + "/", StringComparison.Ordinal))
                {
                    throw new KernelIoException(Errno.ENODEV, p, "read");
                }
            },
        };
        TriedRegions tr = new DamonSysfsReader(fs, roots).ReadTriedRegions(0, 0, 1)!;
        Assert.Equal([4294967296UL, 4563402752UL, 5100273664UL, 6442450944UL], tr.Regions.Select(r => r.Start));
        Assert.True(tr.Torn);
    }

    [Fact]
    public void A_region_vanishing_between_its_files_is_skipped()
    {
        string root = Fixtures.CopyToTemp("linux-6.18");
        try
        {
            var roots = KernelRoots.Under(root);
            string region7 = Path.Combine(roots.Kdamonds, "0", "contexts", "0", "schemes", "1", "tried_regions", "7");
            var fs = new RecordingKernelFs(LinuxKernelFs.Instance);
            fs.AfterRead = p =>
            {
                if (p == Path.Combine(region7, "age"))
                {
                    Directory.Delete(region7, recursive: true);
                }
            };
            TriedRegions tr = new DamonSysfsReader(fs, roots).ReadTriedRegions(0, 0, 1)!;
            Assert.Equal([4294967296UL, 4563402752UL, 5100273664UL, 6442450944UL], tr.Regions.Select(r => r.Start));
            Assert.Equal([134217728UL, 0UL, 1073741824UL, 0UL], tr.SzFilterPassed!);
            Assert.True(tr.Torn);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("linux-6.12", 0, 0, 0)]
    [InlineData("linux-6.18", 0, 0, 1)]
    [InlineData("linux-7.3", 0, 0, 0)]
    [InlineData("linux-7.3", 1, 0, 0)]
    [InlineData("linux-7.3", 1, 0, 1)]
    public void Tried_regions_captured_from_kernels_are_whole(string fixture, int kdamond, int context, int scheme)
    {
        // Captured from running kernels: the regions add up to total_bytes.
        TriedRegions tr = new DamonSysfsReader(LinuxKernelFs.Instance, Fixtures.Roots(fixture)).ReadTriedRegions(kdamond, context, scheme)!;
        Assert.NotEmpty(tr.Regions);
        Assert.False(tr.Torn);
    }

    [Fact]
    public void Regions_that_do_not_add_up_to_total_bytes_are_torn()
    {
        // Read mid-refill: another writer's update cleared the directory and the kdamond put back
        // only some regions, with total_bytes of a whole aggregation read before.
        string root = Fixtures.CopyToTemp("linux-7.3");
        try
        {
            var roots = KernelRoots.Under(root);
            string tried = Path.Combine(roots.Kdamonds, "1", "contexts", "0", "schemes", "0", "tried_regions");
            int before = Directory.GetDirectories(tried).Length;
            Directory.Delete(Directory.GetDirectories(tried).OrderBy(d => int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture)).Last(), recursive: true);
            TriedRegions tr = new DamonSysfsReader(LinuxKernelFs.Instance, roots).ReadTriedRegions(1, 0, 0)!;
            Assert.Equal(before - 1, tr.Regions.Length);
            Assert.True(tr.Torn);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Total_bytes_changing_during_the_read_is_torn()
    {
        // The regions read add up to the first total_bytes, but an update replaced them all
        // while we read (the second read of total_bytes differs).
        string root = Fixtures.CopyToTemp("linux-7.3");
        try
        {
            var roots = KernelRoots.Under(root);
            string tried = Path.Combine(roots.Kdamonds, "1", "contexts", "0", "schemes", "0", "tried_regions");
            var fs = new RecordingKernelFs(LinuxKernelFs.Instance);
            fs.AfterRead = p =>
            {
                if (p == Path.Combine(tried, "0", "age"))
                {
                    File.WriteAllText(Path.Combine(tried, "total_bytes"), "4096\n");
                }
            };
            TriedRegions tr = new DamonSysfsReader(fs, roots).ReadTriedRegions(1, 0, 0)!;
            Assert.Equal(2146304000UL, tr.TotalBytes);
            Assert.Equal(2146304000UL, tr.Regions.Aggregate(0UL, (a, r) => a + r.Size));
            Assert.True(tr.Torn);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Pid_read_retries_EBUSY()
    {
        var fs = new RecordingKernelFs(LinuxKernelFs.Instance);
        int attempts = 0;
        fs.BeforeRead = p =>
        {
            // EBUSY on the first two attempts, then the real file.
            if (p.EndsWith("/pid", StringComparison.Ordinal) && ++attempts <= 2)
            {
                throw new KernelIoException(Errno.EBUSY, p, "read");
            }
        };
        var reader = new DamonSysfsReader(fs, Fixtures.Roots("linux-6.18"), pidReadAttempts: 3, pidRetryDelay: TimeSpan.Zero);
        Assert.Equal(77, reader.ReadPid(0));
        Assert.Equal(3, attempts);
    }

    [Fact]
    public void State_read_retries_EBUSY()
    {
        // Seen on 6.12 in qemu: reading kdamonds/<K>/state while another thread's
        // update_schemes_tried_regions held the DAMON sysfs mutex failed with EBUSY.
        var fs = new RecordingKernelFs(LinuxKernelFs.Instance);
        int attempts = 0;
        fs.BeforeRead = p =>
        {
            if (p.EndsWith("/state", StringComparison.Ordinal) && ++attempts <= 4)
            {
                throw new KernelIoException(Errno.EBUSY, p, "read");
            }
        };
        var reader = new DamonSysfsReader(fs, Fixtures.Roots("linux-6.18"), pidReadAttempts: 5, pidRetryDelay: TimeSpan.Zero);
        Assert.True(reader.ReadState(0)); // the fixture's kdamond 0 is on
        Assert.Equal(5, attempts);        // 4 x EBUSY, then the file
    }

    [Fact]
    public void State_read_gives_up_with_EBUSY_after_the_attempts()
    {
        var fs = new RecordingKernelFs(LinuxKernelFs.Instance)
        {
            BeforeRead = p => throw new KernelIoException(Errno.EBUSY, p, "read"),
        };
        var reader = new DamonSysfsReader(fs, Fixtures.Roots("linux-6.18"), pidReadAttempts: 3, pidRetryDelay: TimeSpan.Zero);
        Assert.Equal(Errno.EBUSY, Assert.Throws<KernelIoException>(() => reader.ReadState(0)).Errno);
    }

    [Fact]
    public void Pid_read_gives_up_with_EBUSY_after_the_attempts()
    {
        var fs = new RecordingKernelFs(LinuxKernelFs.Instance)
        {
            BeforeRead = p => throw new KernelIoException(Errno.EBUSY, p, "read"),
        };
        var reader = new DamonSysfsReader(fs, Fixtures.Roots("linux-6.18"), pidReadAttempts: 3, pidRetryDelay: TimeSpan.Zero);
        Assert.Equal(Errno.EBUSY, Assert.Throws<KernelIoException>(() => reader.ReadPid(0)).Errno);
    }

    [Theory]
    [InlineData("linux-5.18")]
    [InlineData("linux-6.12")]
    [InlineData("linux-6.18")]
    public void Readers_never_write(string fixture)
    {
        var fs = new RecordingKernelFs(LinuxKernelFs.Instance);
        KernelRoots roots = Fixtures.Roots(fixture);
        _ = new DamonSysfsReader(fs, roots).ReadTree();
        _ = FeatureProbe.Detect(fs, roots);
        var modules = new DamonModuleReader(fs, roots);
        _ = modules.ReadDamonStat();
        _ = modules.ReadDamonReclaim();
        _ = modules.ReadDamonLruSort();
        if (Directory.Exists(roots.Procfs))
        {
            var proc = new ProcReader(fs, roots);
            _ = proc.ReadSystemRam();
            _ = proc.FindPidsByName("kdamond.0");
        }

        Assert.True(fs.Reads.Count > 10);
        Assert.Equal(0, fs.Writes);
        Assert.Equal(0, fs.Mkdirs);
        Assert.Equal(0, fs.Rmdirs);
    }

    [Fact]
    public void Garbage_in_a_file_names_that_file()
    {
        string root = Fixtures.CopyToTemp("linux-6.18");
        try
        {
            var roots = KernelRoots.Under(root);
            string aggr = Path.Combine(roots.Kdamonds, "0", "contexts", "0", "monitoring_attrs", "intervals", "aggr_us");
            File.WriteAllText(aggr, "5ms\n");
            KernelFormatException e = Assert.Throws<KernelFormatException>(() => new DamonSysfsReader(LinuxKernelFs.Instance, roots).ReadTree());
            Assert.Equal(aggr, e.Path);
            Assert.Contains("\"5ms\\n\"", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
