using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Simulator;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Agent.Tests.Simulated;

/// <summary>Configuration lifecycle and defaults of the agent, on the simulated kernel.</summary>
public class AgentLifecycleTests
{
    private const string OneScheme = """
        collection: {interval: 1s}
        exporters: {prometheus: {listen: "127.0.0.1:0"}}
        kdamonds:
          - name: system
            operations: paddr
            region_source: tried_regions
            schemes:
              - name: cold
                action: pageout
                access_pattern: {access_rate: {min: 0%, max: 0%}, age: {min: 2s, max: max}}
                quotas: {size: 64M, reset_interval: 1s}
        """;

    [Fact]
    public async Task An_invalid_config_edit_keeps_the_running_config_and_a_valid_one_is_applied()
    {
        await using var sim = new SimHarness(("app", "steady"));
        string dir = Directory.CreateTempSubdirectory("damon-otel-reload-").FullName;
        string file = Path.Combine(dir, "config.yaml");
        await File.WriteAllTextAsync(file, OneScheme);
        AgentConfig config = ConfigLoader.LoadFile(file) with { Roots = sim.Roots, StateDir = sim.StateDir };

        await using KernelEnvironment env = KernelEnvironment.Wrap(sim.Kernel, sim.Roots);
        using var host = new AgentHost(config, env, file, SimHarness.QuietHost);
        using var stop = new CancellationTokenSource();
        Task<int> running = host.RunAsync(stop.Token);
        await host.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        AgentConfig original = host.Runner!.Config;
        string pid = sim.Read("0/pid");

        // A broken edit (the file watcher notices it): rejected, nothing changes.
        await File.WriteAllTextAsync(file, OneScheme.Replace("size: 64M", "size: 64 parsecs", StringComparison.Ordinal));
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Same(original, host.Runner.Config);
        Assert.Equal("67108864", sim.Read("0/contexts/0/schemes/0/quotas/bytes"));
        Assert.Equal("on", sim.Read("0/state"));

        // A valid edit: committed to the running kdamond, same thread.
        await File.WriteAllTextAsync(file, OneScheme.Replace("size: 64M", "size: 16M", StringComparison.Ordinal));
        await SimHarness.WaitUntil(
            () => sim.Read("0/contexts/0/schemes/0/quotas/bytes") == "16777216" && !ReferenceEquals(original, host.Runner.Config),
            "the new quota committed and the new config in force");
        Assert.Equal(pid, sim.Read("0/pid"));

        // SIGHUP does the same as a file change.
        await File.WriteAllTextAsync(file, OneScheme.Replace("size: 64M", "size: 8M", StringComparison.Ordinal));
        host.RequestReload();
        await SimHarness.WaitUntil(() => sim.Read("0/contexts/0/schemes/0/quotas/bytes") == "8388608", "reload on request");

        await stop.CancelAsync();
        Assert.Equal(0, await running.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("off", sim.Read("0/state"));
    }

    [Fact]
    public async Task With_nothing_configured_it_monitors_physical_memory_like_damon_stat()
    {
        await using var sim = new SimHarness(("app", "steady"));
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config("collection: {interval: 1s}"), store: store);
        await runner.StartAsync(CancellationToken.None);

        ManagedKdamond m = Assert.Single(runner.Manager.Owned);
        Assert.Equal("system", m.Config.Name);
        Assert.Equal("paddr", sim.Read("0/contexts/0/operations"));
        // The simulated 6.18 kernel has intervals_goal: DAMON_STAT's goal (4 %, 3 aggregations, 5 ms..10 s).
        Assert.Equal("400", sim.Read("0/contexts/0/monitoring_attrs/intervals/intervals_goal/access_bp"));
        Assert.Equal("3", sim.Read("0/contexts/0/monitoring_attrs/intervals/intervals_goal/aggrs"));
        Assert.Equal("10000000", sim.Read("0/contexts/0/monitoring_attrs/intervals/intervals_goal/max_sample_us"));
        // The largest System RAM block of the simulated machine.
        ulong start = ulong.Parse(sim.Read("0/contexts/0/targets/0/regions/0/start"));
        ulong end = ulong.Parse(sim.Read("0/contexts/0/targets/0/regions/0/end"));
        Assert.True(end - start >= 1UL << 30);
        _ = await SimHarness.WaitFor(() => SimHarness.Target(store, "system", "memory"), "a summary of physical memory");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Damon_stat_is_observed_not_duplicated()
    {
        var kernel = new SimulatedKernel(new SimulatorOptions { Roots = Damon.IO.KernelRoots.Under("/sim"), Seed = 5, Processes = [("app", "steady")], DamonStatEnabled = true });
        using var stop = new CancellationTokenSource();
        Task clock = kernel.RunRealTime(stop.Token);
        string stateDir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var store = new ObservationStore();
            AgentConfig config = ConfigLoader.Parse("collection: {interval: 1s}", "t.yaml") with { Roots = kernel.Options.Roots, StateDir = stateDir };
            await using var runner = new AgentRunner(config, KernelEnvironment.Wrap(kernel, kernel.Options.Roots), store, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
            await runner.StartAsync(CancellationToken.None);

            Assert.Empty(runner.Manager.Owned);    // DAMON_STAT runs: no default kdamond of ours
            // DAMON_STAT refreshes its parameters every 5 s: wait for a bandwidth estimate.
            TargetObservation system = await SimHarness.WaitFor(
                () => SimHarness.Target(store, "damon_stat", "system") is { Access.BandwidthBytesPerSecond: > 0 } t ? t : null, "DAMON_STAT's summary with a bandwidth");
            Assert.True(SimHarness.Kdamond(store, "damon_stat")!.Up);
            Assert.True(system.Access!.MonitoredBytes >= 1UL << 30, $"monitored {system.Access.MonitoredBytes}");
            // 100 slices of the percentile curve; the hot share (steady's 128 MiB) is counted as working set.
            Assert.True(system.Access.WorkingSetBytes > 0, "hot memory from the negative (6.18) percentiles");
            await runner.StopAsync(CancellationToken.None);
        }
        finally
        {
            await stop.CancelAsync();
            await clock;
        }
    }

    [Theory]
    [InlineData("system-reclaim.yaml")]
    [InlineData("app-wss.yaml")]
    [InlineData("tiering.yaml")]
    public async Task Every_example_config_starts_its_kdamonds(string example)
    {
        await using var sim = new SimHarness(("nginx", "steady"), ("postgres", "zigzag"));
        string text = await File.ReadAllTextAsync(RepoRoot.Of("config", "examples", example));
        string pidFile = Path.Combine(sim.StateDir, "postgres.pid");
        await File.WriteAllTextAsync(pidFile, sim.Kernel.FindProcess("postgres") + "\n");
        text = text.Replace("/run/postgresql/15-main.pid", pidFile, StringComparison.Ordinal);
        AgentConfig config = sim.Config(text);

        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(config, store: store);
        await runner.StartAsync(CancellationToken.None);

        Assert.Equal(config.Kdamonds.Count, runner.Manager.Owned.Count);
        foreach (ManagedKdamond m in runner.Manager.Owned)
        {
            Assert.True(m.State == ManagedState.Running, $"{example}: {m.Config.Name}: {m.State} {m.LastError}");
            Assert.Equal("on", sim.Read($"{m.Index}/state"));
            Assert.Equal(m.Config.Schemes.Count + (m.RegionSource == RegionSource.TriedRegions ? 1 : 0), int.Parse(sim.Read($"{m.Index}/contexts/0/schemes/nr_schemes")));
            for (int s = 0; s < m.Config.Schemes.Count; s++)
            {
                Assert.Equal(m.Config.Schemes[s].Action, sim.Read($"{m.Index}/contexts/0/schemes/{s}/action"));
            }
        }

        foreach (KdamondConfig k in config.Kdamonds)
        {
            _ = await SimHarness.WaitFor(() => SimHarness.Kdamond(store, k.Name) is { Up: true } o && o.Targets.All(t => t.Access is not null) ? o : null, $"{example}: data for {k.Name}");
        }

        await runner.StopAsync(CancellationToken.None);
    }
}
