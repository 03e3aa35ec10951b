using DamonOtel.Agent.Collection;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Agent.Tests.Support;
using DamonOtel.Damon.IO;
using DamonOtel.Simulator;
using DamonOtel.Telemetry.Observations;
using DamonOtel.TestSupport;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Tests.Simulated;

/// <summary>
/// The agent next to the kernel's exclusive DAMON users (DAMON_STAT on by default on 7.x,
/// DAMON_RECLAIM, DAMON_LRU_SORT): fail fast without the opt-in, take over with it, restore at
/// exit (also after a crash), and leave modules alone that nobody named.
/// </summary>
public class ExclusiveModuleAgentTests
{
    private const string TwoKdamonds = """
        collection: {interval: 1s}
        exporters: {prometheus: {listen: "127.0.0.1:0"}}
        kdamonds:
          - name: web
            operations: vaddr
            region_source: tracepoint
            targets: [{name: app, process_name: app}]
          - name: system
            operations: paddr
            region_source: tried_regions
            targets: [{name: memory, memory: largest_block}]

        """;

    private const string TakeOver = "kernel_modules: {take_over: [damon_stat]}\n";

    [Fact]
    public async Task Configured_kdamonds_next_to_DAMON_STAT_fail_fast_once_with_the_module_and_both_remedies()
    {
        var kernel = new SimulatedKernel(new SimulatorOptions
        {
            Roots = KernelRoots.Under("/sim"),
            Profile = KernelProfile.V7_3,
            Seed = 3,
            Processes = [("app", "steady")],
            DamonStatEnabled = true,
        });
        string statPid = Param(kernel, "damon_stat", "kdamond_pid");
        var fs = new RecordingKernelFs(kernel);
        var time = new ManualTimeProvider();
        using var logs = new CapturingLoggers();
        string stateDir = Directory.CreateTempSubdirectory("damon-otel-test-").FullName;
        AgentConfig config = ConfigLoader.Parse(TwoKdamonds, "t.yaml") with { Roots = kernel.Options.Roots, StateDir = stateDir };
        var store = new ObservationStore(time);
        await using var runner = new AgentRunner(config, KernelEnvironment.Wrap(fs, kernel.Options.Roots, time: time), store, logs.Factory);

        // The agent's clock never moves in this test: any EBUSY retry, backoff or deadline of
        // the agent waits on it and would never end. So StartAsync returning at all (the
        // wall-clock bound is only the test's guard) means the agent decided without waiting:
        // within 0 s of its own time, well inside the one second allowed.
        long started = time.GetTimestamp();
        await runner.StartAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(time.GetElapsedTime(started) < TimeSpan.FromSeconds(1));

        string message = runner.Manager.Blocker!;
        Assert.NotNull(message);
        Assert.Contains($"DAMON_STAT (kdamond pid {statPid}) is running and holds DAMON exclusively", message, StringComparison.Ordinal);
        Assert.Contains("damon_stat.enabled=N", message, StringComparison.Ordinal);
        Assert.Contains("kernel_modules: {take_over: [damon_stat]}", message, StringComparison.Ordinal);
        Assert.Contains("kdamond(s) web, system", message, StringComparison.Ordinal);
        Assert.All(runner.Manager.Owned, m => Assert.Equal((ManagedState.Blocked, message), (m.State, m.LastError)));

        // Each kdamond's source reports down with that reason (and /readyz says it); DAMON_STAT is observed.
        await SimHarness.WaitUntil(
            () => new[] { "kdamond/web", "kdamond/system" }.All(s => store.Current.Sources.TryGetValue(s, out SourceState? st) && st.LastError is SourceBlockedException),
            "both kdamond sources to report down");
        Assert.All(new[] { "kdamond/web", "kdamond/system" }, s => Assert.Equal((false, message), (store.Current.Sources[s].LastCollectionSucceeded, store.Current.Sources[s].LastError!.Message)));
        string readyz = AgentHost.NotReadyBecause(runner, store)!;
        Assert.Contains($"kdamond/web: no successful collection yet ({message})", readyz, StringComparison.Ordinal);
        Assert.Contains("module/damon_stat", runner.SourceNames);

        // Said once: one error, no source-failure warning repeating it, no EBUSY anywhere.
        CapturingLoggers.Entry error = Assert.Single(logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal((LogLevel.Error, 213), (error.Level, error.EventId));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e != error && e.Message.Contains("EBUSY", StringComparison.Ordinal));

        // A reload that changes nothing (one edit seen by the file watcher and by SIGHUP) says nothing again.
        await runner.ReloadAsync(config, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        await runner.ReloadAsync(config, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Single(logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal(message, runner.Manager.Blocker);
        Assert.All(runner.Manager.Owned, m => Assert.Equal((ManagedState.Blocked, message), (m.State, m.LastError)));

        // Nothing was written to DAMON: no `on`, no nr_kdamonds, no module parameter.
        Assert.Empty(DamonWrites(fs, kernel.Options.Roots));
        await runner.StopAsync(CancellationToken.None);
        Assert.Empty(DamonWrites(fs, kernel.Options.Roots));
        Assert.Equal(("Y", statPid), (Param(kernel, "damon_stat", "enabled"), Param(kernel, "damon_stat", "kdamond_pid")));
        Directory.Delete(stateDir, recursive: true);
    }

    [Fact]
    public async Task Take_over_switches_DAMON_STAT_off_before_on_and_back_on_after_off_at_stop()
    {
        await using var sim = new SimHarness(KernelProfile.V7_3, damonStat: true, ("app", "steady"));
        string before = sim.Module("damon_stat", "kdamond_pid");
        var fs = new RecordingKernelFs(sim.Kernel);
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(TwoKdamonds + TakeOver), fs, store);
        await runner.StartAsync(CancellationToken.None);

        Assert.Null(runner.Manager.Blocker);
        Assert.All(runner.Manager.Owned, m => Assert.Equal(ManagedState.Running, m.State));
        Assert.Equal(("N", "-1"), (sim.Module("damon_stat", "enabled"), sim.Module("damon_stat", "kdamond_pid")));
        Assert.Equal(["damon_stat"], runner.Manager.ModulesSwitchedOff);
        Assert.Contains("\"modules_switched_off\": [\n    \"damon_stat\"", await File.ReadAllTextAsync(Path.Combine(sim.StateDir, "kdamonds.json")), StringComparison.Ordinal);
        foreach (string k in new[] { "web", "system" })
        {
            _ = await SimHarness.WaitFor(() => SimHarness.Target(store, k, k == "web" ? "app" : "memory"), $"data of {k}");
        }

        await runner.StopAsync(CancellationToken.None);
        Assert.Equal(("off", "off"), (sim.Read("0/state"), sim.Read("1/state")));
        string after = sim.Module("damon_stat", "kdamond_pid");
        Assert.Equal("Y", sim.Module("damon_stat", "enabled"));
        Assert.True(int.Parse(after) > 0 && after != before, $"a new DAMON_STAT kdamond: {before} -> {after}");
        Assert.False(File.Exists(Path.Combine(sim.StateDir, "kdamonds.json")));

        // N before the first `on`; every `off` of ours before Y.
        List<string> writes = [.. DamonWrites(fs, sim.Roots)];
        int off = writes.IndexOf($"write {sim.Roots.ModuleParameters("damon_stat")}/enabled N");
        int firstOn = writes.FindIndex(w => w.EndsWith("/state on", StringComparison.Ordinal));
        int lastOff = writes.FindLastIndex(w => w.EndsWith("/state off", StringComparison.Ordinal));
        int on = writes.IndexOf($"write {sim.Roots.ModuleParameters("damon_stat")}/enabled Y");
        Assert.True(off >= 0 && off < firstOn && firstOn < lastOff && lastOff < on, string.Join("\n", writes));
        Assert.Equal(2, writes.Count(w => w.Contains("/module/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task After_a_crash_the_next_clean_stop_still_switches_the_module_back_on()
    {
        await using var sim = new SimHarness(KernelProfile.V7_3, damonStat: true, ("app", "steady"));
        AgentRunner first = sim.Runner(sim.Config(TwoKdamonds + TakeOver));
        await first.StartAsync(CancellationToken.None);
        string pid0 = sim.Read("0/pid");
        await first.DisposeAsync();   // a crash: the kdamonds keep running, DAMON_STAT stays off, the record stays
        Assert.Equal(("on", "N"), (sim.Read("0/state"), sim.Module("damon_stat", "enabled")));

        // Restarted, even with the key removed from the config: the record says the agent switched it off.
        await using AgentRunner second = sim.Runner(sim.Config(TwoKdamonds));
        await second.StartAsync(CancellationToken.None);
        Assert.Null(second.Manager.Blocker);
        Assert.Equal(pid0, sim.Read("0/pid"));                      // re-adopted, not restarted
        Assert.Equal(["damon_stat"], second.Manager.ModulesSwitchedOff);
        await second.StopAsync(CancellationToken.None);
        Assert.Equal(("off", "Y"), (sim.Read("0/state"), sim.Module("damon_stat", "enabled")));
        Assert.False(File.Exists(Path.Combine(sim.StateDir, "kdamonds.json")));
    }

    [Theory]
    [InlineData(KernelProfile.V6_12)]   // no DAMON_STAT at all
    [InlineData(KernelProfile.V7_3)]    // DAMON_STAT present, switched off
    public async Task Taking_over_an_absent_or_switched_off_module_is_a_no_op(KernelProfile profile)
    {
        await using var sim = new SimHarness(profile, damonStat: false, ("app", "steady"));
        var fs = new RecordingKernelFs(sim.Kernel);
        await using AgentRunner runner = sim.Runner(sim.Config(TwoKdamonds + "kernel_modules: {take_over: [damon_stat, damon_reclaim, damon_lru_sort]}\n"), fs);
        await runner.StartAsync(CancellationToken.None);
        Assert.All(runner.Manager.Owned, m => Assert.Equal(ManagedState.Running, m.State));
        Assert.Empty(runner.Manager.ModulesSwitchedOff);
        await runner.StopAsync(CancellationToken.None);
        Assert.DoesNotContain(fs.Mutations, w => w.Contains("/module/", StringComparison.Ordinal));
        Assert.Equal("off", sim.Read("0/state"));
    }

    [Fact]
    public async Task Any_exclusive_module_blocks_and_only_the_named_one_is_taken_over()
    {
        await using var sim = new SimHarness(KernelProfile.V7_3, damonStat: false, ("app", "steady"));
        sim.Kernel.WriteText(sim.Roots.ModuleParameters("damon_lru_sort") + "/enabled", "Y");
        var fs = new RecordingKernelFs(sim.Kernel);

        // DAMON_STAT named, DAMON_LRU_SORT runs: blocked, naming DAMON_LRU_SORT and its remedies.
        await using AgentRunner blocked = sim.Runner(sim.Config(TwoKdamonds + TakeOver), fs);
        await blocked.StartAsync(CancellationToken.None);
        Assert.Contains("DAMON_LRU_SORT", blocked.Manager.Blocker, StringComparison.Ordinal);
        Assert.Contains("damon_lru_sort.enabled=N", blocked.Manager.Blocker, StringComparison.Ordinal);
        Assert.Contains("take_over: [damon_lru_sort]", blocked.Manager.Blocker, StringComparison.Ordinal);
        await blocked.StopAsync(CancellationToken.None);
        Assert.Empty(DamonWrites(fs, sim.Roots));

        // Named: taken over and given back.
        await using AgentRunner taking = sim.Runner(sim.Config(TwoKdamonds + "kernel_modules: {take_over: [damon_lru_sort]}\n"), fs);
        await taking.StartAsync(CancellationToken.None);
        Assert.Equal("N", sim.Module("damon_lru_sort", "enabled"));
        Assert.All(taking.Manager.Owned, m => Assert.Equal(ManagedState.Running, m.State));
        await taking.StopAsync(CancellationToken.None);
        Assert.Equal("Y", sim.Module("damon_lru_sort", "enabled"));
        Assert.Equal("N", sim.Module("damon_stat", "enabled"));
    }

    [Fact]
    public async Task Blocked_kdamonds_start_once_the_module_is_switched_off_by_someone_else()
    {
        await using var sim = new SimHarness(KernelProfile.V7_3, damonStat: true, ("app", "steady"));
        await using AgentRunner runner = sim.Runner(sim.Config(TwoKdamonds));
        await runner.StartAsync(CancellationToken.None);
        Assert.NotNull(runner.Manager.Blocker);

        sim.Kernel.WriteText(sim.Roots.ModuleParameters("damon_stat") + "/enabled", "N");   // the admin's remedy
        await runner.DiscoverAsync(CancellationToken.None);
        Assert.Null(runner.Manager.Blocker);
        Assert.All(runner.Manager.Owned, m => Assert.Equal(ManagedState.Running, m.State));
        await runner.StopAsync(CancellationToken.None);
        Assert.Equal("N", sim.Module("damon_stat", "enabled"));   // not ours to switch back on
    }

    [Fact]
    public async Task A_reload_adding_the_key_takes_over_the_module_and_starts_the_blocked_kdamonds()
    {
        await using var sim = new SimHarness(KernelProfile.V7_3, damonStat: true, ("app", "steady"));
        await using AgentRunner runner = sim.Runner(sim.Config(TwoKdamonds));
        await runner.StartAsync(CancellationToken.None);
        Assert.NotNull(runner.Manager.Blocker);

        await runner.ReloadAsync(sim.Config(TwoKdamonds + TakeOver), CancellationToken.None);
        Assert.Null(runner.Manager.Blocker);
        Assert.Equal([0, 1], runner.Manager.Owned.Select(m => m.Index));
        Assert.All(runner.Manager.Owned, m => Assert.Equal(ManagedState.Running, m.State));
        await runner.StopAsync(CancellationToken.None);
        Assert.Equal("Y", sim.Module("damon_stat", "enabled"));
    }

    private static string Param(SimulatedKernel kernel, string module, string name) =>
        kernel.ReadText(Path.Combine(kernel.Options.Roots.ModuleParameters(module), name)).Trim();

    // Writes, mkdirs and rmdirs under DAMON's sysfs dir and /sys/module (tracefs is not DAMON).
    private static IEnumerable<string> DamonWrites(RecordingKernelFs fs, KernelRoots roots) =>
        fs.Mutations.Where(m => m.Contains(roots.DamonAdmin, StringComparison.Ordinal) || m.Contains(Path.Combine(roots.Sysfs, "module"), StringComparison.Ordinal));
}
