using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Agent.Tests.Simulated;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Telemetry.Observations;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Tests.BadInput;

/// <summary>
/// Files the agent reads at run time besides its config: pid files, its ownership record and
/// the kernel's values of kdamonds it does not own. None may hang, crash or steer it.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class FileAndKernelInputTests
{
    private static readonly TimeSpan HangDeadline = TimeSpan.FromSeconds(30);

    private readonly string dir = Directory.CreateTempSubdirectory("damon-otel-inputs-").FullName;

    public static TheoryData<string, string> PidFiles() => new()
    {
        { "<fifo>", "is a FIFO, not a regular file" },
        { "<link to /dev/zero>", "is a symbolic link (not followed here)" },
        { "<link to a pid file>", "is a symbolic link (not followed here)" },
        { "<directory>", "is a directory, not a regular file" },
        { "<1 MiB>", "is 1 MiB; the limit is 4 KiB" },
        { "not-a-pid\n", "does not hold a process id on its first line (\"not-a-pid\")" },
        { "-1\n", "does not hold a process id on its first line (\"-1\")" },
        { "99999999999\n", "does not hold a process id on its first line (\"99999999999\")" },
    };

    [Theory]
    [MemberData(nameof(PidFiles))]
    public async Task A_bad_pid_file_leaves_the_target_waiting_with_a_reason_naming_it(string content, string expected)
    {
        await using var sim = new SimHarness(("app", "steady"));
        string file = Path.Combine(dir, "app.pid");
        switch (content)
        {
            case "<fifo>":
                BadInputCorpusTests.MakeFifo(file);
                break;
            case "<link to /dev/zero>":
                File.CreateSymbolicLink(file, "/dev/zero");
                break;
            case "<link to a pid file>":
                // Somebody who can write the pid file's directory points it at another process.
                string other = Path.Combine(dir, "other.pid");
                File.WriteAllText(other, sim.Kernel.FindProcess("app").ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
                File.CreateSymbolicLink(file, other);
                break;
            case "<directory>":
                Directory.CreateDirectory(file);
                break;
            case "<1 MiB>":
                File.WriteAllText(file, "1" + new string(' ', (1 << 20) - 1));
                break;
            default:
                File.WriteAllText(file, content);
                break;
        }

        var resolver = new TargetResolver(sim.Kernel, sim.Roots);
        var target = new TargetConfig { Name = "app", PidFile = file };
        (bool ok, string reason) = await Task.Run(() => (resolver.TryResolve(target, out _, out string r), r)).WaitAsync(HangDeadline);

        Assert.False(ok);
        Assert.Equal($"target app: pid file {file}: {expected}", reason);
    }

    [Fact]
    public async Task A_good_pid_file_still_resolves()
    {
        await using var sim = new SimHarness(("app", "steady"));
        int pid = sim.Kernel.FindProcess("app");
        string file = Path.Combine(dir, "app.pid");
        File.WriteAllText(file, $"{pid}\n");
        Assert.True(new TargetResolver(sim.Kernel, sim.Roots).TryResolve(new TargetConfig { Name = "app", PidFile = file }, out ResolvedTarget? t, out string reason), reason);
        Assert.Equal(pid, t!.Pid);
    }

    [Fact]
    public void The_ownership_record_is_written_private_and_never_through_a_planted_link()
    {
        string state = Path.Combine(dir, "state");
        Directory.CreateDirectory(state);
        string victim = Path.Combine(dir, "victim");
        File.WriteAllText(victim, "precious\n");
        File.CreateSymbolicLink(Path.Combine(state, "kdamonds.json.tmp"), victim);
        var store = new OwnershipStore(state);

        store.Save(new OwnershipRecord(1, [new OwnedKdamond(0, "system", 1001, "00")]));

        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(state));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.FilePath));
        Assert.Equal("system", Assert.Single(store.Load()!.Kdamonds).Name);
    }

    [Fact]
    public async Task A_fifo_at_the_state_file_does_not_block_the_agent()
    {
        await using var sim = new SimHarness(("app", "steady"));
        BadInputCorpusTests.MakeFifo(Path.Combine(sim.StateDir, "kdamonds.json"));
        await using AgentRunner runner = sim.Runner(sim.Config("kdamonds:\n  - {name: system, operations: paddr}\n"));
        // On a worker: a blocking open() happens before StartAsync's first await.
        await Task.Run(() => runner.StartAsync(CancellationToken.None)).WaitAsync(HangDeadline);
        Assert.Equal("on", sim.Read("0/state"));
        await runner.StopAsync(CancellationToken.None).WaitAsync(HangDeadline);
    }

    [Fact]
    public async Task A_malformed_value_of_somebody_elses_kdamond_is_an_error_of_its_source_not_of_the_agent()
    {
        await using var sim = new SimHarness(("other", "steady"), ("app", "steady"));
        var writer = new DamonSysfsWriter(sim.Kernel, sim.Roots);
        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, new KdamondSpec([new ContextSpec(
            "vaddr",
            new Intervals(5_000, 100_000, 1_000_000),
            [new TargetSpec(sim.Kernel.FindProcess("other"))],
            [new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: 5_000)])]));
        await new StateCommands(sim.Kernel, sim.Roots).SendAsync(0, StateCommand.On);
        string sample = Path.Combine(sim.Roots.Kdamonds, "0", "contexts", "0", "monitoring_attrs", "intervals", "sample_us");
        sim.Kernel.Faults.SetGarbage(sample, "18446744073709551616\n");

        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config("default_monitoring: off\nattach: {enabled: true}\ncollection: {interval: 1s}\n"), store: store);
        await runner.StartAsync(CancellationToken.None);

        SourceState failed = await SimHarness.WaitFor(
            () => store.Current.Sources.TryGetValue("kdamond/0", out SourceState? s) && !s.LastCollectionSucceeded ? s : null,
            "the foreign kdamond's source reports its malformed value");
        Assert.Contains($"{sample}: expected an unsigned decimal number", failed.LastError!.Message, StringComparison.Ordinal);
        Assert.Contains("kdamond/0", runner.SourceNames);

        sim.Kernel.Faults.SetGarbage(sample, null);
        await SimHarness.WaitUntil(() => store.Current.Sources["kdamond/0"].LastCollectionSucceeded, "it recovers once the value is sane");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Our_kdamonds_start_although_a_setting_of_somebody_elses_is_malformed()
    {
        await using var sim = new SimHarness(("other", "steady"));
        var writer = new DamonSysfsWriter(sim.Kernel, sim.Roots);
        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, new KdamondSpec([new ContextSpec("paddr", new Intervals(5_000, 100_000, 1_000_000), [new TargetSpec(0, [new AddressRange(0, 1 << 30)])], [])]));
        // A file the agent's own start never reads, but a full read of the tree does.
        sim.Kernel.Faults.SetGarbage(Path.Combine(sim.Roots.Kdamonds, "0", "refresh_ms"), "garbage\n");

        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config("collection: {interval: 1s}\nkdamonds:\n  - {name: system, operations: paddr}\n"), store: store);
        await runner.StartAsync(CancellationToken.None);

        Assert.Equal(ManagedState.Running, Assert.Single(runner.Manager.Owned).State);
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_reload_of_a_hostile_file_is_refused_and_the_agent_keeps_serving()
    {
        await using var sim = new SimHarness(("app", "steady"));
        string file = Path.Combine(dir, "config.yaml");
        const string Good = "collection: {interval: 1s}\nexporters: {prometheus: {listen: \"127.0.0.1:0\"}}\nkdamonds:\n  - {name: system, operations: paddr}\n";
        await File.WriteAllTextAsync(file, Good);
        AgentConfig config = ConfigLoader.LoadFile(file) with { Roots = sim.Roots, StateDir = sim.StateDir };
        var log = new ListLoggerProvider();
        await using KernelEnvironment env = KernelEnvironment.Wrap(sim.Kernel, sim.Roots);
        using var host = new AgentHost(config, env, file, new HostSettings { ConfigureLogging = b => b.ClearProviders().AddProvider(log) });
        using var stop = new CancellationTokenSource();
        Task<int> running = host.RunAsync(stop.Token);
        await host.Started.Task.WaitAsync(HangDeadline);
        AgentConfig original = host.Runner!.Config;

        // 40 000 nested brackets were a stack overflow, which no handler catches: the process died.
        (string Yaml, string Why)[] hostile =
        [
            ("collection: " + new string('[', 40_000) + new string(']', 40_000) + "\n", "nested deeper than 64 levels"),
            ("collection:\n  interval: 99999999999999999999999d\n", "is too long"),
            ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", "more than 100000 values"),
        ];
        foreach ((string yaml, string why) in hostile)
        {
            await File.WriteAllTextAsync(file, yaml);
            host.RequestReload();
            await SimHarness.WaitUntil(() => log.Lines.Any(l => l.Contains(why, StringComparison.Ordinal)), $"the reload refused ({why})");
            Assert.False(running.IsCompleted);
            Assert.Same(original, host.Runner.Config);
            Assert.Equal("on", sim.Read("0/state"));
        }

        await File.WriteAllTextAsync(file, Good.Replace("interval: 1s", "interval: 2s", StringComparison.Ordinal));
        host.RequestReload();
        await SimHarness.WaitUntil(() => host.Runner.Config.Collection.Interval == TimeSpan.FromSeconds(2), "a good file is still applied");
        await stop.CancelAsync();
        Assert.Equal(0, await running.WaitAsync(HangDeadline));
    }

    [Fact]
    public void A_simulated_run_keeps_its_state_in_a_fresh_private_directory()
    {
        string path;
        using (var a = new PrivateTempDirectory("damon-otel-sim-"))
        using (var b = new PrivateTempDirectory("damon-otel-sim-"))
        {
            path = a.Path;
            Assert.NotEqual(a.Path, b.Path);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(a.Path));
            Assert.DoesNotContain(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), Path.GetFileName(a.Path), StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(a.Path, "kdamonds.json"), "{}");
        }

        Assert.False(Directory.Exists(path));
    }
}
