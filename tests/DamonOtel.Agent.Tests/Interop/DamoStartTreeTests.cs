using System.Globalization;
using DamonOtel.Agent.Cli;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Simulator;
using Xunit.Abstractions;

namespace DamonOtel.Agent.Tests.Interop;

/// <summary>
/// damo command line → `damo args damon --format json` (real damo) → `import-damo` → the
/// kdamonds the agent writes, compared file by file with what `damo start` (real damo, on the
/// same JSON) writes. Both start from the same tree: the Simulator's kdamond directories with
/// the kernel's defaults, shaped (nr_* files) like the agent's result. The agent's side is the
/// Simulator after DamonSysfsWriter; damo's side is that skeleton copied into
/// scripts/damo-sandbox.sh's fake sysfs, as `damo start` left it. damo 3.4.1 runs against the
/// 6.18 profile, 2.8.3 (Debian 13's, next to its 6.12 kernel) against the 6.12 one.
/// Why not the VM: `damo start` on a real kernel would also check that the kernel takes the
/// values, but needs python3 in the guest and compares against the kernel's own files, which
/// tests/vm already covers for the agent; the question here is whether both write the same
/// values, which the two trees answer file by file.
/// </summary>
[Collection(DamoCollection.Name)]
public sealed class DamoStartTreeTests(ITestOutputHelper output)
{
    private const string Paddr = "--ops paddr --regions 4294967296-8589934592";

    public static TheoryData<string, string, string[]> Cases() => new()
    {
        { "3.4.1", "pageout with quotas and watermarks", Args($"{Paddr} --monitoring_intervals 5ms 100ms 1s --monitoring_nr_regions_range 10 1000 --damos_action pageout --damos_access_rate 0% 0% --damos_age 30s max --damos_quota_time 10ms --damos_quota_space 128M --damos_quota_interval 1s --damos_quota_weights 0 0 1000 --damos_wmarks free_mem_rate 5s 500 400 200") },
        { "3.4.1", "filters of every type", Args($"{Paddr} --schemes schemes-filters.json") },
        { "3.4.1", "quota goals", Args($"{Paddr} --damos_action pageout --damos_access_rate 0% 0% --damos_age 10s max --damos_quota_time 10ms --damos_quota_space 128M --damos_quota_interval 1s --damos_quota_goal some_mem_psi_us 1000 --damos_quota_goal node_mem_free_bp 50% 0 --damos_quota_goal user_input 1000 300") },
        { "3.4.1", "multiple targets", Args("--ops vaddr --target_pid 1234 --target_pid 5678 --monitoring_intervals 10ms 200ms 2s --monitoring_nr_regions_range 20 2000 --damos_action pageout --damos_access_rate 0% 5% --damos_age 2s max") },
        { "3.4.1", "paddr with two ranges", ["--ops", "paddr", "--regions", "4294967296-8589934592 12884901888-17179869184"] },
        { "3.4.1", "intervals goal", Args($"{Paddr} --monitoring_intervals_goal 4% 3 5ms 10s --damos_action stat --damos_access_rate 5% max") },
        { "3.4.1", "migration and two kdamonds", Args($"--add two-kdamonds-first.json {Paddr} --damos_action migrate_cold 1 --damos_access_rate 0% 0% --damos_age 30s max --damos_action migrate_hot 0 --damos_access_rate 5% max --damos_age 0 max") },
        { "3.4.1", "odd sample ratio", Args($"{Paddr} --monitoring_intervals 3ms 100ms 1s --damos_action lru_prio --damos_access_rate 10% 90% --damos_age 1s 1m") },
        { "2.8.3", "pageout with quotas and watermarks", Args($"{Paddr} --monitoring_intervals 5ms 100ms 1s --damos_action pageout --damos_access_rate 0% 0% --damos_age 30s max --damos_quota_time 10ms --damos_quota_space 128M --damos_quota_interval 1s --damos_quota_weights 0 0 1000 --damos_wmarks free_mem_rate 5s 500 400 200") },
        { "2.8.3", "filters", Args($"{Paddr} --damos_action pageout --damos_filter reject anon --damos_filter reject memcg /workloads/a --damos_filter reject none young --damos_filter reject addr 4294967296 5368709120 --damos_filter reject target 0") },
        { "2.8.3", "quota goals", Args($"{Paddr} --damos_action pageout --damos_quota_time 10ms --damos_quota_interval 1s --damos_quota_goal some_mem_psi_us 1000 --damos_quota_goal user_input 1000 300") },
        { "2.8.3", "multiple targets", Args("--ops vaddr --target_pid 1234 --target_pid 5678 --damos_action hugepage --damos_access_rate 50% max") },
        { "2.8.3", "paddr with two ranges and migration", ["--ops", "paddr", "--regions", "4294967296-8589934592 12884901888-17179869184", "--damos_action", "migrate_cold", "1", "--damos_age", "5s", "max"] },
    };

    private static string[] Args(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_agent_writes_the_kdamonds_damo_start_writes(string version, string name, string[] damoArgs)
    {
        Outcome o = Compare(version, damoArgs, yaml => yaml);
        Assert.True(o.Differences.Count == 0, $"{name} (damo {version}): {o.Differences.Count} file(s) differ:\n{string.Join('\n', o.Differences)}\n--- imported config\n{o.Yaml}");

        // Not a comparison of two untouched skeletons: both wrote the configuration, and the same files.
        Assert.True(o.WrittenByDamo.Count >= 5, $"{name}: damo changed only {o.WrittenByDamo.Count} file(s) of the skeleton");
        Assert.True(o.WrittenByAgent.SetEquals(o.WrittenByDamo), $"{name}: only damo changed [{string.Join(", ", o.WrittenByDamo.Except(o.WrittenByAgent))}], only the agent changed [{string.Join(", ", o.WrittenByAgent.Except(o.WrittenByDamo))}]");
        output.WriteLine($"damo {version}, {name}: {o.Compared} files compared, {o.WrittenByDamo.Count} set away from the kernel defaults by both, all equal");
    }

    [Fact]
    public void Control_a_config_that_differs_from_damos_is_caught()
    {
        // The same pageout scheme, but its age threshold imported as 31 s instead of 30 s.
        Outcome o = Compare("3.4.1", Args($"{Paddr} --damos_action pageout --damos_access_rate 0% 0% --damos_age 30s max"), yaml => yaml.Replace("min: 30s", "min: 31s", StringComparison.Ordinal));
        Assert.Equal(["0/contexts/0/schemes/0/access_pattern/age/min: damo '300', agent '310'"], o.Differences);
    }

    private sealed record Outcome(List<string> Differences, string Yaml, IReadOnlySet<string> WrittenByDamo, IReadOnlySet<string> WrittenByAgent, int Compared);

    private static Outcome Compare(string version, string[] damoArgs, Func<string, string> editYaml)
    {
        string dir = DamoSandbox.TempDir();
        File.Copy(RepoRoot.Of("tests", "fixtures", "damo", "schemes-filters.json"), Path.Combine(dir, "schemes-filters.json"));
        File.Copy(RepoRoot.Of("tests", "fixtures", "damo", "3.4.1", "args", "two-kdamonds-first.json"), Path.Combine(dir, "two-kdamonds-first.json"));

        // 1. damo's own kdamonds JSON for the command line.
        DamoSandbox.Result printed = DamoSandbox.Run(version, dir, ["args", "damon", "--format", "json", .. damoArgs]);
        Assert.True(printed.ExitCode == 0, printed.ToString());
        string json = Path.Combine(dir, "kdamonds.json");
        File.WriteAllText(json, printed.StdOut);

        // 2. import-damo, read back by the config loader.
        (int code, string yaml, IReadOnlyList<string> messages) = ImportDamoCommand.Run(json, _ => null);
        Assert.True(code == 0 && messages.Count == 0, $"import-damo exit {code}:\n{string.Join('\n', messages)}");
        yaml = editYaml(yaml);
        AgentConfig config = ConfigLoader.Parse(yaml, "imported.yaml");

        // 3. What the agent writes, on the Simulator.
        KernelProfile profile = version.StartsWith("2.", StringComparison.Ordinal) ? KernelProfile.V6_12 : KernelProfile.V6_18;
        var ours = new SimulatedKernel(new SimulatorOptions { Profile = profile });
        var writer = new DamonSysfsWriter(ours, ours.Options.Roots);
        writer.EnsureKdamondCount(config.Kdamonds.Count);
        for (int i = 0; i < config.Kdamonds.Count; i++)
        {
            KdamondConfig k = config.Kdamonds[i];
            writer.WriteKdamond(i, KdamondSpecBuilder.Build(k, ImportDamoTests.ResolvedTargets(k), monitorSchemes: 0, refreshSupported: profile != KernelProfile.V6_12, TimeSpan.FromSeconds(10)));
        }

        SortedDictionary<string, string> agent = SysfsTree.Read(ours, ours.Options.Roots.Kdamonds);

        // 4. What damo start writes, on the same shape with the kernel's defaults.
        SimulatedKernel skeletonKernel = Skeleton(profile, agent);
        SortedDictionary<string, string> skeletonFiles = SysfsTree.Read(skeletonKernel, skeletonKernel.Options.Roots.Kdamonds);
        string skeleton = Path.Combine(dir, "skeleton");
        SysfsTree.CopyToDisk(skeletonKernel, DamonDir(skeletonKernel.Options.Roots.Sysfs), Path.Combine(skeleton, "sys", "kernel", "mm", "damon"));
        string probe = Path.Combine(dir, "probe");
        SimulatedKernel probeKernel = ProbeTree(profile);
        SysfsTree.CopyToDisk(probeKernel, DamonDir(probeKernel.Options.Roots.Sysfs), Path.Combine(probe, "sys", "kernel", "mm", "damon"));
        string dump = Path.Combine(dir, "after");
        DamoSandbox.Result started = DamoSandbox.RunWith(version, dir, ["--fake-root", skeleton, "--probe-features", probe, "--dump-after", dump], "start", "--kdamonds", "kdamonds.json");
        Assert.True(started.ExitCode == 0, started.ToString());
        SortedDictionary<string, string> damo = SysfsTree.ReadDisk(Path.Combine(dump, "sys", "kernel", "mm", "damon", "admin", "kdamonds"));

        static HashSet<string> Changed(SortedDictionary<string, string> tree, SortedDictionary<string, string> from) =>
            [.. tree.Where(f => !IsRunState(f.Key) && (!from.TryGetValue(f.Key, out string? v) || v != f.Value)).Select(f => f.Key)];
        // The reset interval of a scheme without quota is the one file only damo changes (see Differences).
        HashSet<string> byDamo = Changed(damo, skeletonFiles);
        byDamo.RemoveWhere(path => InactiveQuotaReset(path, agent));
        return new Outcome(Differences(damo, agent), yaml, byDamo, Changed(agent, skeletonFiles), damo.Keys.Union(agent.Keys).Count());
    }

    private static bool IsRunState(string path) => path.Split('/') is [_, "state" or "pid"];

    private static string DamonDir(string sysfs) => Path.Combine(sysfs, "kernel", "mm", "damon");

    /// <summary>A fresh kernel's kdamonds with the same nr_* counts as <paramref name="agent"/>: every value file at its default.</summary>
    private static SimulatedKernel Skeleton(KernelProfile profile, SortedDictionary<string, string> agent)
    {
        var kernel = new SimulatedKernel(new SimulatorOptions { Profile = profile });
        string root = kernel.Options.Roots.Kdamonds;
        new DamonSysfsWriter(kernel, kernel.Options.Roots).EnsureKdamondCount(int.Parse(agent["nr_kdamonds"], CultureInfo.InvariantCulture));
        foreach ((string path, string value) in agent
            .Where(f => Path.GetFileName(f.Key) is "nr_contexts" or "nr_targets" or "nr_regions" or "nr_schemes" or "nr_filters" or "nr_goals" or "nr_dests")
            .OrderBy(f => f.Key.Count(c => c == '/')).ThenBy(f => f.Key, StringComparer.Ordinal))
        {
            kernel.WriteText(Path.Combine(root, path), value);
        }

        return kernel;
    }

    /// <summary>
    /// A stopped kdamond with one of everything damo's feature probe stages (a target, a scheme
    /// with an ops filter and a quota goal): on tmpfs, directories appear only if they exist.
    /// </summary>
    private static SimulatedKernel ProbeTree(KernelProfile profile)
    {
        var kernel = new SimulatedKernel(new SimulatorOptions { Profile = profile });
        var writer = new DamonSysfsWriter(kernel, kernel.Options.Roots);
        writer.EnsureKdamondCount(1);
        var scheme = new SchemeSpec(
            "stat",
            AccessPattern.Everything,
            Quotas: new QuotaSpec(10, 0, 1000, Goals: [new QuotaGoalSpec("user_input", 1)]),
            Filters: [new FilterSpec("anon", true), new FilterSpec("addr", true, Address: new AddressRange(1UL << 32, 1UL << 33))]);
        writer.WriteKdamond(0, new KdamondSpec([new ContextSpec("paddr", Intervals.KernelDefault, [new TargetSpec(0, [new AddressRange(1UL << 32, 1UL << 33)])], [scheme])]));
        return kernel;
    }

    /// <summary>
    /// Files whose values differ, and files only one side has. Two differences are what the
    /// kernel reads the same way, so they are not differences:
    /// - an upper bound of nr_accesses or age: damo writes "max" as a 64-bit number, the agent as
    ///   2^32-1; the kernel keeps 32 bits of it, and both are beyond any region's count;
    /// - the reset interval of a scheme without quota (no time, size or goal): damo writes "max",
    ///   the agent leaves the default; the kernel never looks at it.
    /// kdamond state and pid are the run, not the configuration.
    /// </summary>
    private static List<string> Differences(SortedDictionary<string, string> damo, SortedDictionary<string, string> agent)
    {
        var result = new List<string>();
        foreach (string path in damo.Keys.Union(agent.Keys).Order(StringComparer.Ordinal))
        {
            if (IsRunState(path))
            {
                continue;
            }

            bool inDamo = damo.TryGetValue(path, out string? d);
            bool inAgent = agent.TryGetValue(path, out string? a);
            if (!inDamo || !inAgent)
            {
                result.Add($"{path}: only {(inDamo ? "damo" : "the agent")} has it ({d ?? a})");
                continue;
            }

            if (d == a || UnboundedBoth(path, d!, a!) || InactiveQuotaReset(path, agent))
            {
                continue;
            }

            result.Add($"{path}: damo '{d}', agent '{a}'");
        }

        return result;
    }

    private static bool UnboundedBoth(string path, string damo, string agent) =>
        (path.EndsWith("access_pattern/nr_accesses/max", StringComparison.Ordinal) || path.EndsWith("access_pattern/age/max", StringComparison.Ordinal)) &&
        agent == uint.MaxValue.ToString(CultureInfo.InvariantCulture) &&
        ulong.TryParse(damo, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) && value >= uint.MaxValue;

    private static bool InactiveQuotaReset(string path, SortedDictionary<string, string> agent)
    {
        if (!path.EndsWith("/quotas/reset_interval_ms", StringComparison.Ordinal))
        {
            return false;
        }

        string quotas = path[..^"/reset_interval_ms".Length];
        return agent.GetValueOrDefault(quotas + "/ms") == "0" && agent.GetValueOrDefault(quotas + "/bytes") == "0" &&
               agent.GetValueOrDefault(quotas + "/goals/nr_goals", "0") == "0";
    }
}
