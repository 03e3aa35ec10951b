using System.Text;
using DamonOtel.Agent.Collection;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Telemetry;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Prometheus;

namespace DamonOtel.Agent.Tests.Simulated;

/// <summary>The whole DAMON side of the agent against the simulated kernel.</summary>
public class AgentOnSimulatorTests
{
    private const ulong HotSet = 128UL << 20; // the steady workload touches exactly 128 MiB

    private const string TwoKdamonds = """
        collection: {interval: 1s}
        attach: {enabled: false}
        kdamonds:
          - name: app
            operations: vaddr
            region_source: tracepoint
            targets: [{name: app, process_name: app}]
          - name: system
            operations: paddr
            region_source: tried_regions
            targets: [{name: ram, memory: largest_block}]
            schemes:
              - name: cold
                action: pageout
                access_pattern: {access_rate: {min: 0%, max: 0%}, age: {min: 2s, max: max}}
                quotas: {size: 64M, reset_interval: 1s}
        """;

    [Fact]
    public async Task Config_to_kdamonds_to_metrics()
    {
        await using var sim = new SimHarness(("app", "steady"));
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(TwoKdamonds), store: store);
        await runner.StartAsync(CancellationToken.None);

        // Both kdamonds were written and started as configured.
        Assert.Equal("on", sim.Read("0/state"));
        Assert.Equal("vaddr", sim.Read("0/contexts/0/operations"));
        Assert.Equal(sim.Kernel.FindProcess("app").ToString(), sim.Read("0/contexts/0/targets/0/pid_target"));
        Assert.Equal("paddr", sim.Read("1/contexts/0/operations"));
        Assert.Equal("pageout", sim.Read("1/contexts/0/schemes/0/action"));
        Assert.Equal("67108864", sim.Read("1/contexts/0/schemes/0/quotas/bytes"));
        Assert.Equal("20", sim.Read("1/contexts/0/schemes/0/access_pattern/age/min")); // 2 s / 100 ms
        Assert.Equal("stat", sim.Read("1/contexts/0/schemes/1/action"));                  // our monitoring scheme
        // ... applied at each aggregation (0), where tried_regions hold exact interval counts.
        Assert.Equal("0", sim.Read("1/contexts/0/schemes/1/apply_interval_us"));

        // Working set from each region source, compared with the workload's truth.
        TargetObservation app = await SimHarness.WaitFor(() => Near(SimHarness.Target(store, "app", "app"), HotSet), "app WSS near 128 MiB");
        TargetObservation ram = await SimHarness.WaitFor(() => Near(SimHarness.Target(store, "system", "ram"), HotSet), "paddr WSS near 128 MiB");
        Assert.InRange((double)sim.Kernel.GroundTruth(0, 0), HotSet * 0.99, HotSet * 1.01);
        Assert.True(app.RssBytes > HotSet, $"RSS {app.RssBytes} should include the 1 GiB allocation");
        Assert.Null(ram.RssBytes);

        // The pageout scheme is tried and its counters only grow.
        SchemeObservation first = await SimHarness.WaitFor(() => Scheme(store, "system", "cold") is { Stats.SzTried: > 0 } s ? s : null, "pageout tried");
        SchemeObservation later = await SimHarness.WaitFor(() => Scheme(store, "system", "cold") is { } s && s.Stats.SzTried > first.Stats.SzTried ? s : null, "pageout counters increase");
        Assert.Equal("pageout", later.Action);
        Assert.True(later.Stats.NrTried >= first.Stats.NrTried);

        // And the same numbers come out of /metrics.
        using TelemetryPipeline pipeline = TelemetryPipeline.Build(store, new TelemetryPipelineOptions { UseEnvironment = false });
        ScrapeResponse response = await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        string text = Encoding.UTF8.GetString(response.Body);
        Assert.Contains("damon_memory_working_set_bytes{otel_scope_name=\"DamonOtel\",otel_scope_version=\"0.1.0\",kdamond=\"app\",target=\"app\"}", text);
        Assert.Contains("damos_scheme_tried_size_bytes_total{otel_scope_name=\"DamonOtel\",otel_scope_version=\"0.1.0\",action=\"pageout\",kdamond=\"system\",scheme=\"cold\"}", text);
        Assert.Contains("damon_kdamond_up{otel_scope_name=\"DamonOtel\",otel_scope_version=\"0.1.0\",kdamond=\"system\"} 1", text);
        Assert.DoesNotContain("scheme=\"1\"", SimHarness.SeriesOf(text, "app", "system")); // the monitoring scheme is the agent's, not a user's
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task The_monitoring_scheme_walks_every_sample_when_an_aggregation_could_outlast_a_refresh()
    {
        // A tried_regions refresh waits for the scheme's next apply. Auto-tuning can stretch the
        // aggregation interval to minutes, and a 6 s one does not fit twice in the 10 s command
        // deadline: both keep the sampling-interval walk.
        const string yaml = """
            attach: {enabled: false}
            kdamonds:
              - name: tuned
                operations: paddr
                region_source: tried_regions
                targets: [{name: ram, memory: largest_block}]
                intervals: {sample: 5ms, aggregation: 100ms, auto_tune: true}
              - name: slow
                operations: vaddr
                region_source: tried_regions
                targets: [{name: app, process_name: app}]
                intervals: {sample: 20ms, aggregation: 6s}
            """;
        await using var sim = new SimHarness(("app", "steady"));
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(yaml), store: store);
        await runner.StartAsync(CancellationToken.None);

        Assert.Equal("400", sim.Read("0/contexts/0/monitoring_attrs/intervals/intervals_goal/access_bp"));
        Assert.Equal("stat", sim.Read("0/contexts/0/schemes/0/action"));
        Assert.Equal("5000", sim.Read("0/contexts/0/schemes/0/apply_interval_us"));
        Assert.Equal("stat", sim.Read("1/contexts/0/schemes/0/action"));
        Assert.Equal("20000", sim.Read("1/contexts/0/schemes/0/apply_interval_us"));
        _ = await SimHarness.WaitFor(() => SimHarness.Target(store, "tuned", "ram"), "a summary from tried_regions");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Snapshot_reads_the_agents_monitoring_scheme_not_a_quota_limited_stat_scheme()
    {
        // Seen in the qemu VM (6.12): a user `stat` scheme matching everything but with a 64 MiB
        // quota comes first; its tried_regions hold at most 64 MiB (none once the quota is
        // spent), so `damon-otel snapshot` must read the agent's unlimited scheme (index 1).
        const string yaml = """
            attach: {enabled: false}
            kdamonds:
              - name: system
                operations: paddr
                region_source: tried_regions
                targets: [{name: ram, memory: largest_block}]
                schemes:
                  - name: stat_quota
                    action: stat
                    quotas: {size: 64M, reset_interval: 1s}
            """;
        await using var sim = new SimHarness(("app", "steady"));
        await using AgentRunner runner = sim.Runner(sim.Config(yaml));
        await runner.StartAsync(CancellationToken.None);
        DamonContext ctx = new DamonSysfsReader(sim.Kernel, sim.Roots).ReadKdamond(0, includeTriedRegions: false).Contexts[0];
        Assert.Equal(2, ctx.Schemes.Count);
        Assert.True(ctx.Schemes[0].AccessPattern.MatchesEverything);   // the user's scheme would qualify but for its quota
        Assert.Equal(67108864UL, ctx.Schemes[0].Quotas.Bytes);

        Dictionary<int, int> monitor = Cli.SnapshotTaker.MonitorSchemes(ctx);

        Assert.Equal(new Dictionary<int, int> { [0] = 1 }, monitor);
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Hot_reload_commits_without_restart_and_keeps_history()
    {
        await using var sim = new SimHarness(("app", "steady"));
        var store = new ObservationStore();
        AgentConfig config = sim.Config(TwoKdamonds);
        await using AgentRunner runner = sim.Runner(config, store: store);
        await runner.StartAsync(CancellationToken.None);
        string pidBefore = sim.Read("1/pid");

        // Wait until the cold memory has aged past 3 s: the monitoring history to keep.
        await SimHarness.WaitUntil(() => IdleP100(store, "system", "ram") > 3.0, "regions older than 3 s");
        double agedBefore = IdleP100(store, "system", "ram");

        AgentConfig changed = sim.Config(TwoKdamonds.Replace("size: 64M", "size: 32M", StringComparison.Ordinal));
        await runner.ReloadAsync(changed, CancellationToken.None);

        Assert.Equal("33554432", sim.Read("1/contexts/0/schemes/0/quotas/bytes"));
        Assert.Equal(pidBefore, sim.Read("1/pid"));    // same kdamond thread: committed, not restarted
        Assert.Equal("on", sim.Read("1/state"));
        // Ages continue from where they were (a restart would start them from 0 again).
        await SimHarness.WaitUntil(() => IdleP100(store, "system", "ram") > agedBefore, "ages keep growing after the commit");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Target_process_exit_and_return()
    {
        await using var sim = new SimHarness(("app", "steady"));
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(TwoKdamonds), store: store);
        await runner.StartAsync(CancellationToken.None);
        _ = await SimHarness.WaitFor(() => SimHarness.Target(store, "app", "app"), "first snapshot");

        sim.Kernel.KillProcess(sim.Kernel.FindProcess("app"));
        await SimHarness.WaitUntil(() => SimHarness.Kdamond(store, "app") is { Up: false }, "kdamond reported down after its target exited");
        Assert.Equal("off", sim.Read("0/state"));
        Assert.Equal(ManagedState.WaitingForTarget, runner.Manager.Owned[0].State);
        Assert.Equal(1, SimHarness.Kdamond(store, "system")!.Up ? 1 : 0);   // the other kdamond is unaffected

        int newPid = sim.Kernel.SpawnProcess("app", "steady");
        await SimHarness.WaitUntil(() => SimHarness.Kdamond(store, "app") is { Up: true }, "kdamond restarted for the returned process");
        Assert.Equal(newPid.ToString(), sim.Read("0/contexts/0/targets/0/pid_target"));
        _ = await SimHarness.WaitFor(() => Near(SimHarness.Target(store, "app", "app"), HotSet), "WSS again after the return");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Stop_leaves_no_kdamond_or_tracefs_instance_of_ours()
    {
        await using var sim = new SimHarness(("app", "steady"));
        var store = new ObservationStore();
        AgentRunner runner = sim.Runner(sim.Config(TwoKdamonds), store: store);
        await runner.StartAsync(CancellationToken.None);
        _ = await SimHarness.WaitFor(() => SimHarness.Target(store, "app", "app"), "tracepoint data");
        string instance = Path.Combine(sim.Roots.Tracefs, "instances", TracepointSource.InstanceName);
        Assert.True(sim.Kernel.DirectoryExists(instance));

        await runner.StopAsync(CancellationToken.None);   // what SIGTERM does

        Assert.Equal("off", sim.Read("0/state"));
        Assert.Equal("off", sim.Read("1/state"));
        Assert.False(sim.Kernel.DirectoryExists(instance));
        Assert.False(File.Exists(Path.Combine(sim.StateDir, "kdamonds.json")));
    }

    [Fact]
    public async Task Restart_after_a_crash_readopts_the_running_kdamonds()
    {
        await using var sim = new SimHarness(("app", "steady"));
        AgentConfig config = sim.Config(TwoKdamonds);
        AgentRunner crashed = sim.Runner(config);
        await crashed.StartAsync(CancellationToken.None);
        string pid0 = sim.Read("0/pid");
        string pid1 = sim.Read("1/pid");
        await crashed.DisposeAsync();                      // no StopAsync: the process "died"
        Assert.Equal("on", sim.Read("0/state"));

        var store = new ObservationStore();
        await using AgentRunner restarted = sim.Runner(config, store: store);
        await restarted.StartAsync(CancellationToken.None);

        Assert.Equal(pid0, sim.Read("0/pid"));             // same threads: adopted, not restarted
        Assert.Equal(pid1, sim.Read("1/pid"));
        Assert.All(restarted.Manager.Owned, m => Assert.Equal(ManagedState.Running, m.State));
        _ = await SimHarness.WaitFor(() => Near(SimHarness.Target(store, "app", "app"), HotSet), "WSS from the adopted kdamond");
        await restarted.StopAsync(CancellationToken.None);
        Assert.Equal("off", sim.Read("0/state"));
    }

    [Fact]
    public async Task Attach_mode_writes_nothing_to_sysfs()
    {
        await using var sim = new SimHarness(("other", "steady"));

        // Somebody else (damo, a script) runs a kdamond with an all-matching stat scheme.
        StateCommands commands = await StartForeignKdamond(sim);
        await commands.SendAsync(0, StateCommand.UpdateSchemesTriedRegions);

        var recording = new RecordingKernelFs(sim.Kernel);
        var store = new ObservationStore();
        AgentConfig config = sim.Config("""
            default_monitoring: off
            attach: {enabled: true, refresh: false, region_source: tracepoint}
            collection: {interval: 1s}
            """);
        await using AgentRunner runner = sim.Runner(config, recording, store);
        await runner.StartAsync(CancellationToken.None);

        _ = await SimHarness.WaitFor(() => Near(SimHarness.Target(store, "0", "0"), HotSet), "WSS of the foreign kdamond from the tracepoint");
        Assert.True(SimHarness.Kdamond(store, "0")!.Up);
        await runner.StopAsync(CancellationToken.None);

        // Only the agent's own tracefs instance was created/removed; not one write under sysfs.
        Assert.DoesNotContain(recording.Mutations, m => m.Contains(sim.Roots.Sysfs + "/", StringComparison.Ordinal) && !m.Contains(sim.Roots.Tracefs, StringComparison.Ordinal));
        Assert.All(recording.Mutations, m => Assert.Contains(Path.Combine(sim.Roots.Tracefs, "instances", TracepointSource.InstanceName), m));
        Assert.Equal("on", sim.Read("0/state"));           // and the foreign kdamond keeps running
    }

    [Fact]
    public async Task Attach_with_tried_regions_reads_the_existing_scheme_without_writing()
    {
        await using var sim = new SimHarness(("other", "steady"));
        StateCommands commands = await StartForeignKdamond(sim);
        await Task.Delay(1500);
        await commands.SendAsync(0, StateCommand.UpdateSchemesTriedRegions); // the owner refreshed them

        var recording = new RecordingKernelFs(sim.Kernel);
        var store = new ObservationStore();
        AgentConfig config = sim.Config("default_monitoring: off\nattach: {region_source: tried_regions}\ncollection: {interval: 1s}");
        await using AgentRunner runner = sim.Runner(config, recording, store);
        await runner.StartAsync(CancellationToken.None);
        TargetObservation t = await SimHarness.WaitFor(() => SimHarness.Target(store, "0", "0"), "snapshot from existing tried_regions");
        Assert.InRange((double)t.Access!.WorkingSetBytes, HotSet * 0.8, HotSet * 1.2);
        await runner.StopAsync(CancellationToken.None);
        Assert.Empty(recording.Mutations);
    }

    [Fact]
    public async Task Each_fault_leaves_the_other_sources_serving()
    {
        await using var sim = new SimHarness(("app", "steady"));
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(TwoKdamonds), store: store);
        await runner.StartAsync(CancellationToken.None);
        _ = await SimHarness.WaitFor(() => SimHarness.Target(store, "system", "ram"), "tried_regions data");
        _ = await SimHarness.WaitFor(() => SimHarness.Target(store, "app", "app"), "tracepoint data");

        // 1. Every state write fails with EBUSY: the tried_regions kdamond errors, the tracepoint one goes on.
        sim.Kernel.Faults.FailNextStateWrites(1000);
        await SimHarness.WaitUntil(() => Failed(store, "kdamond/system"), "system source reports failure");
        await AssertStillUpdating(store, "app", "app");
        sim.Kernel.Faults.FailNextStateWrites(0);
        await SimHarness.WaitUntil(() => !Failed(store, "kdamond/system"), "system source recovers");

        // 2. A garbage value in a stats file.
        string statsFile = Path.Combine(sim.Roots.Kdamonds, "1", "contexts", "0", "schemes", "0", "stats", "nr_tried");
        sim.Kernel.Faults.SetGarbage(statsFile, "not-a-number\n");
        await SimHarness.WaitUntil(() => Failed(store, "kdamond/system"), "garbage detected");
        Assert.Contains("nr_tried", store.Current.Sources["kdamond/system"].LastError!.Message, StringComparison.Ordinal);
        await AssertStillUpdating(store, "app", "app");
        sim.Kernel.Faults.SetGarbage(statsFile, null);
        await SimHarness.WaitUntil(() => !Failed(store, "kdamond/system"), "recovers from garbage");

        // 3. tried_regions directories vanish between listing and reading: once, the source
        //    updates and reads again in the same collection; every time, it reports why.
        sim.Kernel.Faults.VanishTriedRegionsAfterNextListing();
        await AssertStillUpdating(store, "system", "ram");
        Assert.False(Failed(store, "kdamond/system"));
        ulong whole = SimHarness.Target(store, "system", "ram")!.Access!.MonitoredBytes;
        sim.Kernel.Faults.VanishTriedRegionsAfterNextListing(int.MaxValue);
        await SimHarness.WaitUntil(() => Failed(store, "kdamond/system"), "torn tried_regions reported");
        Assert.Contains("changed while it was read, 3 time(s)", store.Current.Sources["kdamond/system"].LastError!.Message, StringComparison.Ordinal);
        Assert.Equal(whole, SimHarness.Target(store, "system", "ram")!.Access!.MonitoredBytes); // no part published
        await AssertStillUpdating(store, "app", "app");
        sim.Kernel.Faults.VanishTriedRegionsAfterNextListing(0);
        await SimHarness.WaitUntil(() => !Failed(store, "kdamond/system"), "recovers once nobody else updates");

        // 4. A kdamond stops on its own: it is restarted (paddr targets are always there).
        sim.Kernel.Faults.StopKdamond(1);
        await SimHarness.WaitUntil(() => sim.Read("1/state") == "on", "system kdamond restarted");
        await AssertStillUpdating(store, "app", "app");
        await AssertStillUpdating(store, "system", "ram");
        await runner.StopAsync(CancellationToken.None);
    }

    /// <summary>A kdamond started the way damo would, on the process "other", not by the agent.</summary>
    private static async Task<StateCommands> StartForeignKdamond(SimHarness sim)
    {
        var writer = new DamonSysfsWriter(sim.Kernel, sim.Roots);
        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, new KdamondSpec([new ContextSpec(
            "vaddr",
            new Intervals(5_000, 100_000, 1_000_000),
            [new TargetSpec(sim.Kernel.FindProcess("other"))],
            [new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: 5_000)])]));
        var commands = new StateCommands(sim.Kernel, sim.Roots);
        await commands.SendAsync(0, StateCommand.On);
        return commands;
    }

    private static bool Failed(ObservationStore store, string source) =>
        store.Current.Sources.TryGetValue(source, out SourceState? s) && !s.LastCollectionSucceeded;

    private static async Task AssertStillUpdating(ObservationStore store, string kdamond, string target)
    {
        long before = SimHarness.Target(store, kdamond, target)?.AccessSequence ?? 0;
        await SimHarness.WaitUntil(() => (SimHarness.Target(store, kdamond, target)?.AccessSequence ?? 0) > before, $"{kdamond}/{target} keeps getting snapshots");
    }

    private static TargetObservation? Near(TargetObservation? t, ulong expected) =>
        t?.Access is { } a && a.WorkingSetBytes >= expected * 0.9 && a.WorkingSetBytes <= expected * 1.1 ? t : null;

    private static SchemeObservation? Scheme(ObservationStore store, string kdamond, string scheme) =>
        SimHarness.Kdamond(store, kdamond)?.Schemes.FirstOrDefault(s => s.Scheme == scheme);

    // Longest idle time of any byte, seconds (damo convention, p100).
    private static double IdleP100(ObservationStore store, string kdamond, string target) =>
        SimHarness.Target(store, kdamond, target)?.Access is { } a ? a.IdleTimePercentilesUs[^1] / 1e6 : 0;
}
