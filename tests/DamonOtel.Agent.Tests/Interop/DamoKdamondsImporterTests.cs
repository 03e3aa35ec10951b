using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Interop;

namespace DamonOtel.Agent.Tests.Interop;

/// <summary>
/// Imports the kdamonds JSON that real damo printed (tests/fixtures/damo/VERSION/args, regenerated
/// by tests/fixtures/damo/generate.sh). Expected values come from the damo command lines in
/// tests/fixtures/damo/README.md, not from the importer.
/// </summary>
public sealed class DamoKdamondsImporterTests
{
    private const ulong MiB = 1UL << 20;

    private static DamoImportResult Import(string version, string file)
    {
        string path = RepoRoot.Of("tests", "fixtures", "damo", version, "args", file);
        return DamoKdamondsImporter.Import(File.ReadAllText(path), path);
    }

    private static KdamondConfig Single(DamoImportResult result)
    {
        Assert.True(result.Errors.Count == 0, string.Join('\n', result.Errors));
        Assert.True(result.Warnings.Count == 0, string.Join('\n', result.Warnings));
        return Assert.Single(result.Kdamonds);
    }

    public static TheoryData<string, string> HumanFormatFixtures()
    {
        var data = new TheoryData<string, string>();
        foreach (string version in (string[])["2.8.3", "3.4.1"])
        {
            foreach (string file in Directory.GetFiles(RepoRoot.Of("tests", "fixtures", "damo", version, "args"), "*.json").Order())
            {
                if (!file.EndsWith(".raw.json", StringComparison.Ordinal))
                {
                    data.Add(version, Path.GetFileName(file));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(HumanFormatFixtures))]
    public void Every_damo_output_imports_without_errors_or_warnings(string version, string file)
    {
        DamoImportResult result = Import(version, file);
        Assert.True(result.Errors.Count == 0, string.Join('\n', result.Errors));
        Assert.True(result.Warnings.Count == 0, string.Join('\n', result.Warnings));
        Assert.NotEmpty(result.Kdamonds);
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public void Pageout_with_quotas_and_watermarks(string version)
    {
        // --ops paddr --regions 4294967296-8589934592 --monitoring_intervals 5ms 100ms 1s
        // --monitoring_nr_regions_range 10 1000 --damos_action pageout --damos_access_rate 0% 0%
        // --damos_age 30s max --damos_quota_time 10ms --damos_quota_space 128M --damos_quota_interval 1s
        // --damos_quota_weights 0 0 1000 --damos_wmarks free_mem_rate 5s 500 400 200
        KdamondConfig k = Single(Import(version, "paddr-pageout-quotas-wmarks.json"));
        Assert.Equal("paddr", k.Operations);
        Assert.Equal([(4_294_967_296UL, 8_589_934_592UL)], Assert.Single(k.Targets).Regions);
        Assert.Equal((5_000UL, 100_000UL, 1_000_000UL), (k.Intervals.SampleUs, k.Intervals.AggrUs, k.Intervals.UpdateUs));
        Assert.Null(k.Intervals.Goal);
        Assert.Equal((10UL, 1000UL), (k.MinNrRegions, k.MaxNrRegions));
        SchemeConfig s = Assert.Single(k.Schemes);
        Assert.Equal("pageout", s.Action);
        Assert.Equal(0, s.Pattern.AccessRateMinPercent);
        Assert.Equal(0, s.Pattern.AccessRateMaxPercent);
        Assert.Equal(30_000_000UL, s.Pattern.AgeMinUs);
        Assert.Equal(ulong.MaxValue, s.Pattern.AgeMaxUs);
        Assert.Equal((0UL, ulong.MaxValue), (s.Pattern.SizeMin, s.Pattern.SizeMax));
        Assert.NotNull(s.Quotas);
        Assert.Equal((10UL, 128 * MiB, 1000UL), (s.Quotas.TimeMs, s.Quotas.SizeBytes, s.Quotas.ResetIntervalMs));
        Assert.Equal((0U, 0U, 1000U), (s.Quotas.WeightSizePermil, s.Quotas.WeightAccessRatePermil, s.Quotas.WeightAgePermil));
        Assert.Equal(new WatermarksConfig("free_mem_rate", 5_000_000, 500, 400, 200), s.Watermarks);
        Assert.Equal(0UL, s.ApplyIntervalUs);
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public void Raw_output_is_read_as_damo_reads_it_with_a_warning(string version)
    {
        // `--raw` prints 10 ms as "10000000" (ns) under time_ms; damo reads that back as 10,000,000 ms.
        DamoImportResult result = Import(version, "paddr-pageout-quotas-wmarks.raw.json");
        Assert.Empty(result.Errors);
        SchemeConfig s = Assert.Single(Assert.Single(result.Kdamonds).Schemes);
        Assert.Equal(10_000_000UL, s.Quotas!.TimeMs);
        Assert.Equal(5_000_000_000UL, s.Watermarks!.IntervalUs);
        Assert.Equal(30_000_000_000UL, s.Pattern.AgeMinUs);
        string paths = string.Join('\n', result.Warnings.Select(w => w.Path));
        foreach (string key in (string[])["quotas.time_ms", "quotas.reset_interval_ms", "watermarks.interval_us", "access_pattern.age.min"])
        {
            Assert.Contains("kdamonds[0].contexts[0].schemes[0]." + key, paths, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public void Filters_of_every_type(string version)
    {
        SchemeConfig s = Assert.Single(Single(Import(version, "filters-all-types.json")).Schemes);
        Assert.Collection(
            s.Filters,
            f => Assert.Equal(("anon", true, false), (f.Type, f.Matching, f.Allow)),
            f => Assert.Equal(("memcg", true, true, "/workloads/a"), (f.Type, f.Matching, f.Allow, f.MemcgPath)),
            f => Assert.Equal(("young", false, false), (f.Type, f.Matching, f.Allow)),
            f => Assert.Equal(("addr", true, 4_294_967_296UL, 5_368_709_120UL), (f.Type, f.Allow, f.AddrStart, f.AddrEnd)),
            f => Assert.Equal(("target", false, 0), (f.Type, f.Allow, f.TargetIndex)),
            f => Assert.Equal(("hugepage_size", 2 * MiB, 2 * MiB), (f.Type, f.Min, f.Max)),
            f => Assert.Equal(("active", true), (f.Type, f.Allow)),
            f => Assert.Equal(("unmapped", false), (f.Type, f.Allow)));
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public void Quota_goals(string version)
    {
        // --damos_quota_goal some_mem_psi_us 1000 --damos_quota_goal node_mem_free_bp 50% 0
        // --damos_quota_goal user_input 1000 300
        QuotaConfig q = Assert.Single(Single(Import(version, "quota-goals.json")).Schemes).Quotas!;
        Assert.Equal(
            [new QuotaGoalConfig("some_mem_psi_us", 1000, 0, null, null), new QuotaGoalConfig("node_mem_free_bp", 5000, 0, 0, null), new QuotaGoalConfig("user_input", 1000, 300, null, null)],
            q.Goals);
    }

    [Theory]
    [InlineData("2.8.3", "intervals-goal.json")]
    [InlineData("3.4.1", "intervals-goal.json")]
    [InlineData("3.4.1", "intervals-autotune.json")]
    public void Intervals_auto_tuning_goal(string version, string file)
    {
        // --monitoring_intervals_goal 4% 3 5ms 10s, or 3.4.1's --monitoring_intervals_autotune
        Assert.Equal(new IntervalsGoalConfig(400, 3, 5_000, 10_000_000), Single(Import(version, file)).Intervals.Goal);
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public void Targets(string version)
    {
        Assert.Equal(1234, Assert.Single(Single(Import(version, "vaddr-pid.json")).Targets).Pid);
        KdamondConfig two = Single(Import(version, "vaddr-two-targets.json"));
        Assert.Equal([1234, 5678], two.Targets.Select(t => t.Pid ?? 0));
        Assert.Equal((10_000UL, 200_000UL, 2_000_000UL, 20UL, 2000UL), (two.Intervals.SampleUs, two.Intervals.AggrUs, two.Intervals.UpdateUs, two.MinNrRegions, two.MaxNrRegions));
        Assert.Equal(
            [(4_294_967_296UL, 8_589_934_592UL), (12_884_901_888UL, 17_179_869_184UL)],
            Assert.Single(Single(Import(version, "paddr-ranges.json")).Targets).Regions);
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public void Migration_schemes(string version)
    {
        // --damos_action migrate_cold 1 --damos_access_rate 0% 0% --damos_age 30s max
        // --damos_action migrate_hot 0 --damos_access_rate 5% max --damos_age 0 max
        KdamondConfig k = Single(Import(version, "migrate-hot-cold.json"));
        Assert.Equal(["migrate_cold", "migrate_hot"], k.Schemes.Select(s => s.Action));
        Assert.Equal([1, 0], k.Schemes.Select(s => s.TargetNid ?? -1));
        Assert.Equal(5, k.Schemes[1].Pattern.AccessRateMinPercent);
        Assert.Null(k.Schemes[1].Pattern.AccessRateMaxPercent);
        Assert.Null(k.Schemes[1].Quotas);
    }

    [Fact]
    public void Two_kdamonds()
    {
        DamoImportResult result = Import("3.4.1", "two-kdamonds.json");
        Assert.Empty(result.Errors);
        Assert.Equal(2, result.Kdamonds.Count);
        Assert.Equal(1234, Assert.Single(result.Kdamonds[0].Targets).Pid);
        Assert.Equal(["lru_prio", "lru_deprio"], result.Kdamonds[1].Schemes.Select(s => s.Action));
        // damo gives the n-th --damos_age to the n-th scheme wherever it stands on the command
        // line: the only --damos_age (written after lru_deprio) belongs to lru_prio.
        Assert.Equal(10_000_000UL, result.Kdamonds[1].Schemes[0].Pattern.AgeMinUs);
        Assert.Equal(0UL, result.Kdamonds[1].Schemes[1].Pattern.AgeMinUs);
        Assert.Equal((50.0, 0.0), (result.Kdamonds[1].Schemes[0].Pattern.AccessRateMinPercent, result.Kdamonds[1].Schemes[1].Pattern.AccessRateMinPercent));
    }

    [Fact]
    public void Samples_and_aggregation_intervals_are_converted_with_the_contexts_intervals()
    {
        // As `damo report damon` prints a scheme read from sysfs.
        const string Json = """
            {"kdamonds": [{"contexts": [{"ops": "paddr", "targets": [{"pid": null, "regions": []}],
              "intervals": {"sample_us": "5 ms", "aggr_us": "100 ms", "ops_update_us": "1 s"},
              "schemes": [{"action": "pageout", "access_pattern": {"sz_bytes": {"min": "4 KiB", "max": "max"},
                "nr_accesses": {"min": "0 samples", "max": "5 samples"},
                "age": {"min": "12 aggr_intervals", "max": "4,294,967,295 aggr_intervals"}}}]}]}]}
            """;
        DamoImportResult result = DamoKdamondsImporter.Import(Json, "inline");
        Assert.Empty(result.Errors);
        PatternConfig p = Assert.Single(Assert.Single(result.Kdamonds).Schemes).Pattern;
        Assert.Equal(4096UL, p.SizeMin);
        Assert.Equal(25, p.AccessRateMaxPercent);   // 5 of 20 samples
        Assert.Equal(1_200_000UL, p.AgeMinUs);      // 12 × 100 ms
        Assert.Equal(PhysicalRange.LargestBlock, Assert.Single(Assert.Single(result.Kdamonds).Targets).Memory);
    }

    [Fact]
    public void Unreadable_values_and_unknown_keys_name_their_json_path()
    {
        const string Json = """
            {"kdamonds": [{"contexts": [{"ops": "vaddr", "targets": [{"pid": 42, "regions": []}], "colour": "blue",
              "schemes": [{"action": "pageout", "quotas": {"time_ms": "ten", "sz_bytes": "1 G", "reset_interval_ms": "1 s",
                "weights": {"sz_permil": "0 %", "nr_accesses_permil": "0 %", "age_permil": "0 %"}}}]}]}]}
            """;
        DamoImportResult result = DamoKdamondsImporter.Import(Json, "inline");
        DamoImportMessage error = Assert.Single(result.Errors);
        Assert.Equal("kdamonds[0].contexts[0].schemes[0].quotas.time_ms", error.Path);
        Assert.Contains("\"ten\"", error.Message, StringComparison.Ordinal);
        Assert.Equal("kdamonds[0].contexts[0].colour", Assert.Single(result.Warnings).Path);
    }

    [Fact]
    public void Broken_json_names_the_file_and_line()
    {
        DamoImportResult result = DamoKdamondsImporter.Import("{\"kdamonds\": [\n{\"contexts\": [}\n]}", "damo.json");
        Assert.StartsWith("damo.json:2", Assert.Single(result.Errors).Path, StringComparison.Ordinal);
        Assert.Empty(result.Kdamonds);
    }
}
