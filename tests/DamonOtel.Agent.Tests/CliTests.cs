using System.Security.Cryptography;
using System.Text.Json;

namespace DamonOtel.Agent.Tests;

/// <summary>The real `damon-otel` binary, run as a user would.</summary>
public class CliTests
{
    [Fact]
    public async Task Snapshot_without_refresh_reads_tried_regions_and_writes_nothing()
    {
        string root = Fixture618WithPlainMonitoringScheme();
        string before = TreeHash(root);

        (int code, string stdout, string stderr) = await Run(
            "snapshot", "--no-refresh", "--format", "json",
            "--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc"));
        Assert.True(code == 0, stderr);
        Assert.Equal(before, TreeHash(root));   // not one byte or timestamp changed

        // Regions of schemes/1/tried_regions (dirs 1,3,5,7,11), sample 0.5 s, aggr 5 s (max 10 samples):
        //   [4 GiB, +256 MiB) nr 0 age 40;  [+512 MiB) nr 3 age 2;  [+1 GiB) nr 0 age 120;
        //   [+256 MiB) nr 10 age 0;         [+1.75 GiB) nr 0 age 7.
        JsonElement t = Assert.Single(JsonDocument.Parse(stdout).RootElement.GetProperty("targets").EnumerateArray());
        Assert.Equal(0, t.GetProperty("kdamond").GetInt32());
        Assert.Equal(500000, t.GetProperty("sample_us").GetInt64());
        Assert.Equal(5000000, t.GetProperty("aggr_us").GetInt64());
        Assert.Equal(5, t.GetProperty("regions").GetInt32());
        Assert.Equal(4026531840UL, t.GetProperty("monitored_bytes").GetUInt64());       // 3.75 GiB
        Assert.Equal(805306368UL, t.GetProperty("working_set_bytes").GetUInt64());       // 512 + 256 MiB
        // (512 MiB x 3 + 256 MiB x 10) x 1e6 / 5e6 = 4 GiB / 5
        Assert.Equal(858993459.2, t.GetProperty("bandwidth_bytes_per_second").GetDouble(), 3);
        // Idle (damo): hot 0 for 20 % of bytes; then 1.75 GiB at (7+1)x5 s = 40 s (to 66.7 %),
        // 256 MiB at 41x5 = 205 s (to 73.3 %), 1 GiB at 121x5 = 605 s (to 100 %).
        JsonElement idle = t.GetProperty("idle_time_percentiles_us");
        Assert.Equal(0, idle.GetProperty("10").GetInt64());
        Assert.Equal(40_000_000, idle.GetProperty("25").GetInt64());
        Assert.Equal(40_000_000, idle.GetProperty("50").GetInt64());
        Assert.Equal(605_000_000, idle.GetProperty("75").GetInt64());
        Assert.Equal(605_000_000, idle.GetProperty("100").GetInt64());
        // Signed (DAMON_STAT 6.18): nr 3 age 2 -> -(2+1)x5 s = -15 s for the first 13.3 %.
        Assert.Equal(-15_000_000, t.GetProperty("signed_idle_time_percentiles_us").GetProperty("0").GetInt64());
        // ... then nr 10 age 0 -> -5 s up to 20 %: p10 is still in the -15 s region (13.3 % >= 10 %).
        Assert.Equal(-15_000_000, t.GetProperty("signed_idle_time_percentiles_us").GetProperty("10").GetInt64());
        Assert.Equal(40_000_000, t.GetProperty("signed_idle_time_percentiles_us").GetProperty("50").GetInt64());
        foreach (string key in new[] { "0", "1", "25", "50", "75", "99", "100" })
        {
            Assert.True(t.GetProperty("temperature_percentiles").TryGetProperty(key, out _), key);
        }
    }

    [Fact]
    public async Task Snapshot_text_resembles_damo_report()
    {
        string root = Fixture618WithPlainMonitoringScheme();
        (int code, string stdout, string stderr) = await Run("snapshot", "--no-refresh", "--sysfs-root", Path.Combine(root, "sys"));
        Assert.True(code == 0, stderr);
        Assert.Contains("3.750 GiB", stdout);       // total size, damo's format
        Assert.Contains("768.000 MiB", stdout);     // working set
    }

    [Fact]
    public async Task Snapshot_on_the_simulator_repeats_in_one_process()
    {
        (int code, string stdout, string stderr) = await Run("snapshot", "--simulate", "steady", "--format", "json", "--repeat", "2");
        Assert.True(code == 0, stderr);
        string[] docs = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, docs.Length);
        foreach (string doc in docs)
        {
            JsonElement[] targets = [.. JsonDocument.Parse(doc).RootElement.GetProperty("targets").EnumerateArray()];
            Assert.Equal(2, targets.Length);                                       // the vaddr and the paddr kdamond
            ulong wss = targets[0].GetProperty("working_set_bytes").GetUInt64();
            Assert.InRange(wss, (ulong)((128UL << 20) * 0.8), (ulong)((128UL << 20) * 1.2));    // steady touches 128 MiB
        }
    }

    [Fact]
    public async Task Check_config_exits_0_or_prints_every_error()
    {
        (int ok, string okOut, _) = await Run("check-config", RepoRoot.Of("config", "examples", "system-reclaim.yaml"));
        Assert.Equal(0, ok);
        Assert.Contains("OK (1 kdamond(s): system)", okOut);

        string bad = Path.Combine(Directory.CreateTempSubdirectory().FullName, "bad.yaml");
        File.WriteAllText(bad, "collection:\n  interval: soon\nkdamonds:\n  - operations: vaddr\n");
        (int code, _, string err) = await Run("check-config", bad);
        Assert.Equal(1, code);
        Assert.Contains("bad.yaml:2:", err);
        Assert.Contains("collection.interval", err);
        Assert.Contains("kdamonds[0].targets: vaddr needs at least one target", err);
        Assert.Contains("2 error(s)", err);
    }

    [Fact]
    public async Task Features_reads_a_fixture_tree()
    {
        string root = CopyFixture("linux-6.12");
        string before = TreeHash(root);
        (int code, string stdout, string stderr) = await Run("features", "--sysfs-root", Path.Combine(root, "sys"));
        Assert.True(code == 0, stderr);
        Assert.Matches(@"tried_regions\s+yes", stdout);
        Assert.Matches(@"refresh_ms\s+no", stdout);
        Assert.Equal(before, TreeHash(root));
    }

    [Fact]
    public async Task Features_lists_the_7_x_files_and_says_DAMON_STAT_holds_DAMON()
    {
        string running = CopyFixture("linux-7.3");
        (int code, string stdout, string stderr) = await Run("features", "--sysfs-root", Path.Combine(running, "sys"));
        Assert.True(code == 0, stderr);
        foreach (string feature in new[] { "refresh_ms", "addr_unit", "pause", "intervals_goal", "probes", "obsolete_target", "core/ops filters", "dests", "goal_tuner", "fail_charge", "nr_snapshots", "max_nr_snapshots", "goal path" })
        {
            Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(feature)}\s+yes$", stdout);
        }

        Assert.Matches(@"(?m)^tracepoints\s+damon_aggregated damon_monitor_intervals_tune damon_region_aggregated damos_before_apply damos_esz damos_stat_after_apply_interval$", stdout);
        Assert.Matches(@"(?m)^module damon_stat\s+yes, off$", stdout);

        string shipped = CopyFixture("linux-7.3-damon-stat");
        string before = TreeHash(shipped);
        (code, stdout, stderr) = await Run("features", "--sysfs-root", Path.Combine(shipped, "sys"));
        Assert.True(code == 0, stderr);
        Assert.Matches(@"(?m)^module damon_stat\s+yes, running \(kdamond pid 67\): holds DAMON exclusively, sysfs kdamonds cannot start$", stdout);
        Assert.Matches(@"(?m)^module damon_reclaim\s+yes, off$", stdout);
        Assert.Matches(@"(?m)^pause\s+unknown", stdout);   // no kdamond dir to look into
        Assert.Equal(before, TreeHash(shipped));
    }

    [Fact]
    public async Task Every_command_has_help()
    {
        foreach (string cmd in new[] { "run", "check-config", "snapshot", "features", "import-damo", "record", "status" })
        {
            (int code, string stdout, _) = await Run(cmd, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Usage:", stdout);
        }
    }

    internal static async Task<(int Code, string Stdout, string Stderr)> Run(params string[] args)
    {
        ProcessResult r = await ProcessRunner.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "damon-otel.dll"), .. args]);
        return (r.ExitCode, r.Stdout, r.Stderr);
    }

    // The 6.18 fixture's stat scheme carries an addr filter and a quota goal (a goal tunes a
    // quota, so its tried_regions would be partial); make it the plain all-matching stat
    // scheme the agent itself installs.
    private static string Fixture618WithPlainMonitoringScheme()
    {
        string root = CopyFixture("linux-6.18");
        string scheme = Path.Combine(root, "sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/1");
        File.WriteAllText(Path.Combine(scheme, "core_filters/nr_filters"), "0\n");
        Directory.Delete(Path.Combine(scheme, "core_filters/0"), recursive: true);
        File.WriteAllText(Path.Combine(scheme, "quotas/goals/nr_goals"), "0\n");
        Directory.Delete(Path.Combine(scheme, "quotas/goals/0"), recursive: true);
        return root;
    }

    internal static string CopyFixture(string name)
    {
        string source = RepoRoot.Of("tests", "DamonOtel.Damon.Tests", "Fixtures", name);
        string target = Directory.CreateTempSubdirectory("damon-otel-fixture-").FullName;
        foreach (string dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, dir)));
        }

        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        }

        return target;
    }

    // Contents and modification times of every file and directory under root.
    internal static string TreeHash(string root)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(path + "|" + File.GetLastWriteTimeUtc(path).Ticks));
            if (File.Exists(path))
            {
                sha.AppendData(File.ReadAllBytes(path));
            }
        }

        return Convert.ToHexString(sha.GetHashAndReset());
    }
}
