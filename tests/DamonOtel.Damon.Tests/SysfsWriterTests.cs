using System.Text.RegularExpressions;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Damon.Tests.Support;

namespace DamonOtel.Damon.Tests;

public class SysfsWriterTests
{
    private static readonly AddressRange Ram = new(4294967296, 8321499136);

    private static KdamondSpec PaddrSpec(IReadOnlyList<FilterSpec>? filters = null) => new(
    [
        new ContextSpec(
            "paddr",
            new Intervals(500000, 5000000, 60000000),
            [new TargetSpec(0, [Ram])],
            [
                new SchemeSpec(
                    "stat",
                    AccessPattern.Everything,
                    ApplyIntervalUs: 500000,
                    Quotas: new QuotaSpec(800, 2147483648, 1000, new QuotaWeights(0, 0, 1000), [new QuotaGoalSpec("node_mem_used_bp", 9000, 0, Nid: 0)]),
                    Filters: filters ?? [new FilterSpec("addr", true, Allow: true, Address: Ram), new FilterSpec("anon", true, Allow: false)],
                    Dests: [new DestSpec(1, 100)]),
            ],
            MinNrRegions: 1024,
            MaxNrRegions: 8192,
            AddrUnit: 1),
    ]);

    [Fact]
    public void Writes_a_6_18_kdamond_in_kernel_order()
    {
        var fs = new FakeDamonFs(FakeKernel.V6_18);
        new DamonSysfsWriter(fs, fs.Roots).WriteKdamond(0, PaddrSpec());
        const string C = "0/contexts/0/";
        const string S = C + "schemes/0/";
        (string, string)[] expected =
        [
            ("0/contexts/nr_contexts", "1"),
            (C + "operations", "paddr"),
            (C + "addr_unit", "1"),
            // new sample 500000 > current (default) aggr 100000: raise aggr first.
            (C + "monitoring_attrs/intervals/aggr_us", "5000000"),
            (C + "monitoring_attrs/intervals/sample_us", "500000"),
            (C + "monitoring_attrs/intervals/update_us", "60000000"),
            // new min 1024 > current max 1000: raise max first.
            (C + "monitoring_attrs/nr_regions/max", "8192"),
            (C + "monitoring_attrs/nr_regions/min", "1024"),
            (C + "targets/nr_targets", "1"),
            (C + "targets/0/pid_target", "0"),
            (C + "targets/0/regions/nr_regions", "1"),
            // the fresh region is [0, 0): moving it up means end first.
            (C + "targets/0/regions/0/end", "8321499136"),
            (C + "targets/0/regions/0/start", "4294967296"),
            (C + "schemes/nr_schemes", "1"),
            (S + "action", "stat"),
            (S + "apply_interval_us", "500000"),
            // min 0 <= current max 0: min first.
            (S + "access_pattern/sz/min", "0"),
            (S + "access_pattern/sz/max", "18446744073709551615"),
            (S + "access_pattern/nr_accesses/min", "0"),
            (S + "access_pattern/nr_accesses/max", "4294967295"),
            (S + "access_pattern/age/min", "0"),
            (S + "access_pattern/age/max", "4294967295"),
            (S + "quotas/ms", "800"),
            (S + "quotas/bytes", "2147483648"),
            (S + "quotas/reset_interval_ms", "1000"),
            (S + "quotas/weights/sz_permil", "0"),
            (S + "quotas/weights/nr_accesses_permil", "0"),
            (S + "quotas/weights/age_permil", "1000"),
            (S + "quotas/goals/nr_goals", "1"),
            (S + "quotas/goals/0/target_metric", "node_mem_used_bp"),
            (S + "quotas/goals/0/target_value", "9000"),
            (S + "quotas/goals/0/current_value", "0"),
            (S + "quotas/goals/0/nid", "0"),
            // 6.15+: addr is a core-layer filter, anon an ops-layer one.
            (S + "core_filters/nr_filters", "1"),
            (S + "core_filters/0/type", "addr"),
            (S + "core_filters/0/matching", "Y"),
            (S + "core_filters/0/allow", "Y"),
            (S + "core_filters/0/addr_end", "8321499136"),
            (S + "core_filters/0/addr_start", "4294967296"),
            (S + "ops_filters/nr_filters", "1"),
            (S + "ops_filters/0/type", "anon"),
            (S + "ops_filters/0/matching", "Y"),
            (S + "ops_filters/0/allow", "N"),
            (S + "dests/nr_dests", "1"),
            (S + "dests/0/id", "1"),
            (S + "dests/0/weight", "100"),
        ];
        Assert.Equal(expected, fs.Writes);
        AssertNoLeadingZeros(fs.Writes);
    }

    [Fact]
    public void What_was_written_reads_back_through_the_reader()
    {
        var fs = new FakeDamonFs(FakeKernel.V6_18);
        new DamonSysfsWriter(fs, fs.Roots).WriteKdamond(0, PaddrSpec());
        DamonContext c = new DamonSysfsReader(fs, fs.Roots).ReadTree().Kdamonds[0].Contexts[0];
        Assert.Equal(new Intervals(500000, 5000000, 60000000), c.Attrs.Intervals);
        Assert.Equal(1024UL, c.Attrs.MinNrRegions);
        Assert.Equal([Ram], c.Targets[0].Regions);
        DamosScheme s = c.Schemes[0];
        Assert.True(s.AccessPattern.MatchesEverything);
        Assert.Equal(new QuotaGoal(0, "node_mem_used_bp", 9000, 0, 0, null), s.Quotas.Goals![0]);
        Assert.Equal(new DamosFilter(0, "addr", true, true, string.Empty, 4294967296, 8321499136, 0, 0, 0), s.CoreFilters![0]);
        Assert.Equal(new DamosFilter(0, "anon", true, false, string.Empty, 0, 0, 0, 0, 0), s.OpsFilters![0]);
        Assert.Empty(s.Filters!);
    }

    [Fact]
    public void Lowering_intervals_and_regions_writes_the_lower_bound_first()
    {
        var fs = new FakeDamonFs(FakeKernel.V5_18);
        var spec = new KdamondSpec([new ContextSpec("vaddr", new Intervals(1000, 20000, 1000000), [new TargetSpec(4321)], [], MinNrRegions: 5, MaxNrRegions: 500)]);
        new DamonSysfsWriter(fs, fs.Roots).WriteKdamond(0, spec);
        const string C = "0/contexts/0/";
        (string, string)[] expected =
        [
            ("0/contexts/nr_contexts", "1"),
            (C + "operations", "vaddr"),
            // new sample 1000 <= current aggr 100000: sample first, then the smaller aggr.
            (C + "monitoring_attrs/intervals/sample_us", "1000"),
            (C + "monitoring_attrs/intervals/aggr_us", "20000"),
            (C + "monitoring_attrs/intervals/update_us", "1000000"),
            // new min 5 <= current max 1000: min first.
            (C + "monitoring_attrs/nr_regions/min", "5"),
            (C + "monitoring_attrs/nr_regions/max", "500"),
            (C + "targets/nr_targets", "1"),
            (C + "targets/0/pid_target", "4321"),
            (C + "targets/0/regions/nr_regions", "0"),
            (C + "schemes/nr_schemes", "0"),
        ];
        Assert.Equal(expected, fs.Writes);
    }

    [Fact]
    public void On_6_12_filters_go_to_filters_and_allow_is_refused()
    {
        var fs = new FakeDamonFs(FakeKernel.V6_12);
        var writer = new DamonSysfsWriter(fs, fs.Roots);
        KdamondSpec spec = PaddrSpec([new FilterSpec("anon", true, Allow: false), new FilterSpec("memcg", false, MemcgPath: "/workload")]) with { };
        // 6.12 has no addr_unit, nid or dests: strip those from the spec.
        ContextSpec c = spec.Contexts[0] with
        {
            AddrUnit = null,
            Schemes = [spec.Contexts[0].Schemes[0] with { Dests = null, Quotas = new QuotaSpec(800, 2147483648, 1000, Goals: [new QuotaGoalSpec("some_mem_psi_us", 1000)]) }],
        };
        writer.WriteKdamond(0, new KdamondSpec([c]));
        const string S = "0/contexts/0/schemes/0/";
        (string, string)[] filterWrites =
        [
            (S + "filters/nr_filters", "2"),
            (S + "filters/0/type", "anon"),
            (S + "filters/0/matching", "Y"),
            (S + "filters/1/type", "memcg"),
            (S + "filters/1/matching", "N"),
            (S + "filters/1/memcg_path", "/workload"),
        ];
        Assert.Equal(filterWrites, fs.Writes.Where(w => w.Path.Contains("/filters/", StringComparison.Ordinal)));
        AssertNoLeadingZeros(fs.Writes);

        ContextSpec allow = c with { Schemes = [c.Schemes[0] with { Filters = [new FilterSpec("anon", true, Allow: true)] }] };
        DamonFeatureMissingException e = Assert.Throws<DamonFeatureMissingException>(() => writer.WriteKdamond(0, new KdamondSpec([allow])));
        Assert.Contains("allow filters (6.14)", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("/filters/0/allow", e.Path, StringComparison.Ordinal);
    }

    [Fact]
    public void Features_missing_on_5_18_fail_clearly()
    {
        var fs = new FakeDamonFs(FakeKernel.V5_18);
        var writer = new DamonSysfsWriter(fs, fs.Roots);
        var basic = new ContextSpec("vaddr", Intervals.KernelDefault, [new TargetSpec(1)], [new SchemeSpec("pageout", AccessPattern.Everything, ApplyIntervalUs: 5000)]);
        DamonFeatureMissingException e = Assert.Throws<DamonFeatureMissingException>(() => writer.WriteKdamond(0, new KdamondSpec([basic])));
        Assert.Contains("apply_interval_us (6.7)", e.Message, StringComparison.Ordinal);

        // apply_interval_us 0 is the kernel default: fine without the file.
        writer.WriteKdamond(0, new KdamondSpec([basic with { Schemes = [new SchemeSpec("pageout", AccessPattern.Everything, ApplyIntervalUs: 0)] }]));
        Assert.DoesNotContain(fs.Writes, w => w.Path.EndsWith("apply_interval_us", StringComparison.Ordinal));

        var filtered = basic with { Schemes = [new SchemeSpec("pageout", AccessPattern.Everything, Filters: [new FilterSpec("anon", true)])] };
        Assert.Contains("DAMOS filters (6.3)", Assert.Throws<DamonFeatureMissingException>(() => writer.WriteKdamond(0, new KdamondSpec([filtered]))).Message, StringComparison.Ordinal);

        Assert.Contains("refresh_ms", Assert.Throws<DamonFeatureMissingException>(() => writer.WriteKdamond(0, new KdamondSpec([basic], RefreshMs: 1000))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unavailable_operations_set_is_refused_before_writing_it()
    {
        var fs = new FakeDamonFs(FakeKernel.V6_18); // avail_operations lists only paddr
        var spec = new KdamondSpec([new ContextSpec("vaddr", Intervals.KernelDefault, [new TargetSpec(1)], [])]);
        DamonFeatureMissingException e = Assert.Throws<DamonFeatureMissingException>(() => new DamonSysfsWriter(fs, fs.Roots).WriteKdamond(0, spec));
        Assert.Contains("'vaddr' (available: paddr)", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(fs.Writes, w => w.Path.EndsWith("operations", StringComparison.Ordinal));
    }

    [Fact]
    public void EnsureKdamondCount_writes_only_on_change()
    {
        var fs = new FakeDamonFs(FakeKernel.V6_18, kdamonds: 1);
        var writer = new DamonSysfsWriter(fs, fs.Roots);
        writer.EnsureKdamondCount(1);
        Assert.Empty(fs.Writes);
        writer.EnsureKdamondCount(3);
        Assert.Equal([("nr_kdamonds", "3")], fs.Writes);
        Assert.True(fs.DirectoryExists(Path.Combine(fs.Roots.Kdamonds, "2")));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteKdamond(3, new KdamondSpec([])));
    }

    private static void AssertNoLeadingZeros(IEnumerable<(string Path, string Value)> writes)
    {
        foreach ((string path, string value) in writes)
        {
            if (value.Length > 0 && (char.IsDigit(value[0]) || value[0] == '-'))
            {
                Assert.Matches(new Regex("^(0|-?[1-9][0-9]*)$"), value);
            }
        }
    }
}
