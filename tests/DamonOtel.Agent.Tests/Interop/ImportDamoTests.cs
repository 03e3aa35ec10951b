using System.Text.Json;
using DamonOtel.Agent.Cli;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Interop;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Tests.Interop;

/// <summary>
/// `damon-otel import-damo`: the config it writes for damo's own output (tests/fixtures/damo,
/// made by real damo) is accepted by the config loader and check-config, and reads back into
/// exactly the kdamond specs the importer meant; what it cannot express is reported by JSON path.
/// </summary>
public sealed class ImportDamoTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Every kdamonds file real damo printed (JSON, --raw JSON, YAML), relative to tests/fixtures/damo.</summary>
    internal static List<string> FixtureFiles() =>
        [.. ((string[])["2.8.3", "3.4.1"])
            .SelectMany(version => Directory.GetFiles(RepoRoot.Of("tests", "fixtures", "damo", version, "args")))
            .Select(file => Path.GetRelativePath(RepoRoot.Of("tests", "fixtures", "damo"), file))
            .Order(StringComparer.Ordinal)];

    public static TheoryData<string> AllFixtures() => [.. FixtureFiles()];

    private static string Fixture(string relative) => RepoRoot.Of("tests", "fixtures", "damo", relative);

    /// <summary>The spec the agent writes for a kdamond (as a tracepoint-source kdamond: no monitoring scheme), as JSON for comparison.</summary>
    internal static string SpecJson(KdamondConfig k) => JsonSerializer.Serialize(
        KdamondSpecBuilder.Build(k, ResolvedTargets(k), monitorSchemes: 0, refreshSupported: true, Deadline),
        Indented);

    /// <summary>What TargetResolver gives for a running pid or fixed ranges (the pid is the process's own).</summary>
    internal static IReadOnlyList<ResolvedTarget> ResolvedTargets(KdamondConfig k) =>
        [.. k.Targets.Select(t => new ResolvedTarget(t.Name, t.Pid ?? 0, [.. t.Regions.Select(r => new AddressRange(r.Start, r.End))]))];

    [Theory]
    [MemberData(nameof(AllFixtures))]
    public void The_written_config_loads_back_into_the_same_kdamonds(string fixture)
    {
        string path = Fixture(fixture);
        (int code, string yaml, IReadOnlyList<string> messages) = ImportDamoCommand.Run(path, _ => null);
        Assert.True(code == 0, string.Join('\n', messages));

        AgentConfig loaded = ConfigLoader.Parse(yaml, "imported.yaml");
        DamoImportResult imported = DamoKdamondsImporter.Import(JsonOf(path), path);
        Assert.Equal(imported.Kdamonds.Count, loaded.Kdamonds.Count);
        for (int i = 0; i < loaded.Kdamonds.Count; i++)
        {
            KdamondConfig a = imported.Kdamonds[i], b = loaded.Kdamonds[i];
            Assert.Equal(a.Name, b.Name);
            Assert.Equal(a.Targets.Select(t => t.Name), b.Targets.Select(t => t.Name));
            Assert.Equal(a.Schemes.Select(s => s.Name), b.Schemes.Select(s => s.Name));
            Assert.Equal(SpecJson(a), SpecJson(b));
        }
    }

    private static string JsonOf(string path)
    {
        Assert.True(DamoInput.TryRead(path, out string json, out string error), error);
        return json;
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public void Yaml_reads_like_the_same_json(string version)
    {
        string json = Fixture($"{version}/args/paddr-pageout-quotas-wmarks.json");
        string yaml = Fixture($"{version}/args/paddr-pageout-quotas-wmarks.yaml");
        Assert.Equal(ImportDamoCommand.Run(json, _ => null).Config.Replace(json, "F", StringComparison.Ordinal), ImportDamoCommand.Run(yaml, _ => null).Config.Replace(yaml, "F", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_config_accepts_the_output_for_every_fixture()
    {
        string dir = DamoSandbox.TempDir();
        var failures = new List<string>();
        Parallel.ForEach(FixtureFiles(), new ParallelOptions { MaxDegreeOfParallelism = 2 }, fixture =>
        {
            (int code, string stdout, string stderr) = CliTests.Run("import-damo", Fixture(fixture)).GetAwaiter().GetResult();
            string file = Path.Combine(dir, fixture.Replace('/', '_') + ".yaml");
            File.WriteAllText(file, stdout);
            (int check, string checkOut, string checkErr) = CliTests.Run("check-config", file).GetAwaiter().GetResult();
            if (code != 0 || check != 0 || !checkOut.Contains(": OK (", StringComparison.Ordinal))
            {
                lock (failures)
                {
                    failures.Add($"{fixture}: import-damo exit {code} ({stderr.Trim()}), check-config exit {check}: {checkOut}{checkErr}");
                }
            }
        });
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void Names_say_what_is_monitored_and_done()
    {
        // vaddr-two-targets: pids 1234 and 5678; only 1234 runs "here".
        KdamondConfig two = Assert.Single(DamoKdamondsImporter.Import(JsonOf(Fixture("3.4.1/args/vaddr-two-targets.json")), "f", pid => pid == 1234 ? "mysqld" : null).Kdamonds);
        Assert.Equal("mysqld+pid-5678", two.Name);
        Assert.Equal(["mysqld", "pid-5678"], two.Targets.Select(t => t.Name));

        KdamondConfig migrate = Assert.Single(DamoKdamondsImporter.Import(JsonOf(Fixture("3.4.1/args/migrate-hot-cold.json")), "f").Kdamonds);
        Assert.Equal("memory-4G-8G", migrate.Name);
        Assert.Equal(["migrate-cold-to-node1", "migrate-hot-to-node0"], migrate.Schemes.Select(s => s.Name));

        KdamondConfig ranges = Assert.Single(DamoKdamondsImporter.Import(JsonOf(Fixture("2.8.3/args/paddr-ranges.json")), "f").Kdamonds);
        Assert.Equal("memory-4G-16G", ranges.Name);
        Assert.Equal("memory", Assert.Single(ranges.Targets).Name);

        // Two schemes alike, and a third with no pattern qualifier.
        const string Json = """
            {"kdamonds": [{"contexts": [{"ops": "paddr", "targets": [{"pid": null, "regions": [{"start": "4 GiB", "end": "5 GiB"}]}],
              "schemes": [
                {"action": "pageout", "access_pattern": {"sz_bytes": {"min": 0, "max": "max"}, "nr_accesses": {"min": "0 %", "max": "0 %"}, "age": {"min": "2 m", "max": "max"}}},
                {"action": "pageout", "access_pattern": {"sz_bytes": {"min": 0, "max": "max"}, "nr_accesses": {"min": "0 %", "max": "0 %"}, "age": {"min": "2 m", "max": "max"}}},
                {"action": "stat"}]}]},
              {"contexts": [{"ops": "paddr", "targets": [{"pid": null, "regions": [{"start": "4 GiB", "end": "5 GiB"}]}]}]}]}
            """;
        DamoImportResult result = DamoKdamondsImporter.Import(Json, "f");
        Assert.Empty(result.Errors);
        Assert.Equal(["memory-4G-5G", "memory-4G-5G-2"], result.Kdamonds.Select(k => k.Name));
        Assert.Equal(["pageout-idle-2m", "pageout-idle-2m-2", "stat"], result.Kdamonds[0].Schemes.Select(s => s.Name));
    }

    [Fact]
    public void Percentages_give_back_exactly_the_samples_damo_writes()
    {
        // Every sample count for every ratio up to 64 samples per aggregation, through the text
        // the writer prints and the loader parses.
        for (ulong maxNr = 1; maxNr <= 64; maxNr++)
        {
            ulong sampleUs = 5_000, aggrUs = sampleUs * maxNr;
            for (ulong samples = 0; samples <= maxNr; samples++)
            {
                string json = $$$$"""
                    {"kdamonds": [{"contexts": [{"ops": "paddr", "targets": [{"pid": null, "regions": [{"start": 4096, "end": 8192}]}],
                      "intervals": {"sample_us": "{{{{sampleUs}}}} us", "aggr_us": "{{{{aggrUs}}}} us", "ops_update_us": "1 s"},
                      "schemes": [{"action": "stat", "access_pattern": {"sz_bytes": {"min": 0, "max": "max"},
                        "nr_accesses": {"min": "{{{{samples}}}} samples", "max": "{{{{samples}}}} samples"}, "age": {"min": 0, "max": "max"}}}]}]}]}
                    """;
                string file = Path.Combine(DamoSandbox.TempDir(), "k.json");
                File.WriteAllText(file, json);
                (int code, string yaml, IReadOnlyList<string> messages) = ImportDamoCommand.Run(file, _ => null);
                Assert.True(code == 0, string.Join('\n', messages));
                SchemeSpec spec = KdamondSpecBuilder.BuildScheme(Assert.Single(Assert.Single(ConfigLoader.Parse(yaml, file).Kdamonds).Schemes), new Intervals(sampleUs, aggrUs, 1_000_000));
                Assert.True(spec.AccessPattern.NrAccesses == new ValueRange(samples, samples), $"{samples} of {maxNr} samples came back as {spec.AccessPattern.NrAccesses}:\n{yaml}");
            }
        }
    }

    [Fact]
    public void What_cannot_be_expressed_is_a_warning_with_its_json_path_on_stderr_and_in_the_output()
    {
        // damo 3.x's non-upstream data-attribute probes, a second context, and vaddr initial regions.
        const string Json = """
            {"kdamonds": [{"contexts": [
              {"ops": "vaddr", "targets": [{"pid": 42, "regions": [{"start": 4096, "end": 8192}]}],
               "probes": [{"weight": 1}],
               "schemes": [{"action": "lru_prio"}, {"action": "pageout"}]},
              {"ops": "vaddr", "targets": [{"pid": 43, "regions": []}]}]}]}
            """;
        string file = Path.Combine(DamoSandbox.TempDir(), "kdamonds.json");
        File.WriteAllText(file, Json);
        (int code, string yaml, IReadOnlyList<string> messages) = ImportDamoCommand.Run(file, _ => null);
        Assert.Equal(0, code);
        string[] paths =
        [
            "kdamonds[0].contexts",
            "kdamonds[0].contexts[0].probes",
            "kdamonds[0].contexts[0].targets[0].regions",
            "kdamonds[0].contexts[0].schemes[0].action",
        ];
        foreach (string path in paths)
        {
            Assert.Contains(messages, m => m.StartsWith($"{file}: warning: {path}: ", StringComparison.Ordinal));
            Assert.Contains($"# not imported: {path}: ", yaml, StringComparison.Ordinal);
        }

        Assert.Equal(paths.Length + 1, messages.Count);   // plus the summary line
        SchemeConfig pageout = Assert.Single(Assert.Single(ConfigLoader.Parse(yaml, file).Kdamonds).Schemes);
        Assert.Equal("pageout", pageout.Action);
        // The surviving scheme keeps its own path in the comments.
        Assert.Contains("# kdamonds[0].contexts[0].schemes[1]\n", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_exit_1_and_print_nothing_on_stdout()
    {
        const string Json = """
            {"kdamonds": [{"contexts": [{"ops": "paddr", "targets": [{"pid": null, "regions": [{"start": 8192, "end": 4096}]}],
              "nr_regions": {"min": 1, "max": 10}}]}]}
            """;
        string file = Path.Combine(DamoSandbox.TempDir(), "bad.json");
        File.WriteAllText(file, Json);
        (int code, string yaml, IReadOnlyList<string> messages) = ImportDamoCommand.Run(file, _ => null);
        Assert.Equal(1, code);
        Assert.Empty(yaml);
        Assert.Contains(messages, m => m.Contains("error: kdamonds[0].contexts[0].targets[0].regions[0]: end 4096 is not above start 8192", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("error: kdamonds[0].contexts[0].nr_regions.min: 1 is below 3", StringComparison.Ordinal));

        (int notFound, _, IReadOnlyList<string> missing) = ImportDamoCommand.Run(file + ".missing", _ => null);
        Assert.Equal(1, notFound);
        Assert.StartsWith(file + ".missing: ", Assert.Single(missing), StringComparison.Ordinal);

        File.WriteAllText(file + ".yaml", "kdamonds:\n  - contexts: [\n");
        (int broken, _, IReadOnlyList<string> syntax) = ImportDamoCommand.Run(file + ".yaml", _ => null);
        Assert.Equal(1, broken);
        Assert.Matches(@"\.yaml:\d+:\d+: not YAML", Assert.Single(syntax));
    }

    [Fact]
    public void Fvaddr_keeps_its_process_and_fixed_ranges()
    {
        const string Json = """
            {"kdamonds": [{"contexts": [{"ops": "fvaddr", "targets": [{"pid": 42, "regions": [{"start": "1 MiB", "end": "2 MiB"}]}]}]}]}
            """;
        string file = Path.Combine(DamoSandbox.TempDir(), "fvaddr.json");
        File.WriteAllText(file, Json);
        (int code, string yaml, IReadOnlyList<string> messages) = ImportDamoCommand.Run(file, pid => pid == 42 ? "redis-server" : null);
        Assert.True(code == 0, string.Join('\n', messages));
        TargetConfig t = Assert.Single(Assert.Single(ConfigLoader.Parse(yaml, file).Kdamonds).Targets);
        Assert.Equal(("redis-server", 42), (t.Name, t.Pid));
        Assert.Equal([(1UL << 20, 2UL << 20)], t.Regions);
        Assert.Contains("process_name: redis-server follows the program", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_damon_output_imports_as_its_configuration()
    {
        // `damo report damon --format json` adds state, pid, stats and tried regions: not config.
        string path = Fixture("3.4.1/status/report-damon.json");
        (int code, string yaml, IReadOnlyList<string> messages) = ImportDamoCommand.Run(path, _ => null);
        Assert.True(code == 0, string.Join('\n', messages));
        Assert.NotEmpty(ConfigLoader.Parse(yaml, path).Kdamonds);
        Assert.DoesNotContain(messages, m => m.Contains(".stats", StringComparison.Ordinal) || m.Contains(".tried_regions", StringComparison.Ordinal));
    }
}
