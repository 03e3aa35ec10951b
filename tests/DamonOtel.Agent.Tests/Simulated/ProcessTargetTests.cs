using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Damon.IO;
using DamonOtel.Simulator;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Agent.Tests.Simulated;

/// <summary>
/// Targets of several processes on the simulated kernel: one series per configured target over
/// all its processes, the kernel's target list following processes that come and go without
/// losing the others' history, the cap, children, pinned targets against impostors, reused pids,
/// and mapped-only numbers. The "worker" workload: 32 MiB hot, 296 MiB mapped, and DAMON's
/// regions span a 768 MiB never-mapped gap and a 64 MiB ---p reservation besides.
/// </summary>
public class ProcessTargetTests
{
    private const ulong MiB = 1UL << 20;
    private const ulong Hot = SimulatedWorkloads.WorkerHotBytes;
    private const ulong Mapped = SimulatedWorkloads.WorkerMappedBytes;

    [Theory]
    [InlineData("tracepoint")]
    [InlineData("tried_regions")]
    public async Task Every_process_of_a_target_is_one_series_merged_by_bytes(string source)
    {
        await using var sim = Sim();
        int[] pids = [Spawn(sim, "php-fpm"), Spawn(sim, "php-fpm"), Spawn(sim, "php-fpm")];
        _ = Spawn(sim, "other");
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(Yaml("php", "{name: php, process_name: php-fpm, exe: /usr/bin/php-fpm, uid: 0}", source)), store: store);
        await runner.StartAsync(CancellationToken.None);

        Assert.Equal("3", sim.Read("0/contexts/0/targets/nr_targets"));
        Assert.Equal(pids.Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture)), Enumerable.Range(0, 3).Select(t => sim.Read($"0/contexts/0/targets/{t}/pid_target")));

        // One series: bytes of the three processes added up, percentiles over all of them.
        TargetObservation php = await SimHarness.WaitFor(
            () => SimHarness.Target(store, "php", "php") is { Access: { } a } t && a.MonitoredBytes == 3 * Mapped && Near(a.WorkingSetBytes, 3 * Hot, 0.15) ? t : null,
            "3 processes' mapped bytes and hot sets");
        Assert.Equal(new TargetProcessCounts(3, 0, 0), php.Processes);

        // Mapped only: the gaps and reservations DAMON covers are counted apart.
        Assert.True(php.UnmappedBytes >= 3 * (768 + 64) * MiB, $"unmapped {php.UnmappedBytes}");
        ulong raw = sim.Kernel.RunningTargets(0).Aggregate(0UL, (a, t) => a + t.Bytes);
        Assert.Equal(raw, php.Access!.MonitoredBytes + php.UnmappedBytes);

        // Idle bytes: all but the hot sets have been idle since start (within 15 %); the 99th
        // percentile is over the union, so it is idle memory's.
        TargetObservation later = await SimHarness.WaitFor(
            () => SimHarness.Target(store, "php", "php") is { Access: { } a } t && Near(ColdBytes(a, 1.0), 3 * (Mapped - Hot), 0.15) ? t : null,
            "bytes idle > 1 s within 15 % of the 3 processes' cold mapped bytes");
        Assert.True(later.Access!.IdleTimePercentilesUs[^2] >= 1_000_000, $"p99 idle {later.Access.IdleTimePercentilesUs[^2]} us");
        await runner.StopAsync(CancellationToken.None);
    }

    [Theory]
    [InlineData(KernelProfile.V6_12)]
    [InlineData(KernelProfile.V6_18)]
    [InlineData(KernelProfile.V7_3)]
    public async Task Processes_come_and_go_and_the_others_keep_their_history(KernelProfile profile)
    {
        await using var sim = Sim(profile);
        int a = Spawn(sim, "php-fpm");
        int b = Spawn(sim, "php-fpm");
        int c = Spawn(sim, "php-fpm");
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(Yaml("php", "{name: php, process_name: php-fpm, exe: /usr/bin/php-fpm}", "tracepoint")), store: store);
        await runner.StartAsync(CancellationToken.None);
        string kdamondPid = sim.Read("0/pid");
        await SimHarness.WaitUntil(() => Ages(sim, a, c).All(age => age >= 15), "1.5 s of history");
        uint[] before = Ages(sim, a, c);

        // B exits: its entry goes (7.x: obsolete_target; before: a tombstone, the kdamond's own
        // thread with one 4 KiB region, so that C keeps its index and its history).
        sim.Kernel.KillProcess(b);
        await SimHarness.WaitUntil(() => !sim.Kernel.RunningTargets(0).Any(t => t.Pid == b), "B's entry is gone");
        IReadOnlyList<SimulatedTarget> list = sim.Kernel.RunningTargets(0);
        if (profile == KernelProfile.V7_3)
        {
            Assert.Equal([a, c], list.Select(t => t.Pid));
        }
        else
        {
            Assert.Equal([a, int.Parse(kdamondPid, System.Globalization.CultureInfo.InvariantCulture), c], list.Select(t => t.Pid));
            Assert.True(list[1].IsKernelThread);
            Assert.Equal(4096UL, list[1].Bytes);
        }

        // D starts: it gets an entry of its own (the tombstone's, or a new one at the end).
        int d = Spawn(sim, "php-fpm");
        await SimHarness.WaitUntil(
            () => Live(sim).Select(t => t.Pid).Order().SequenceEqual(new[] { a, c, d }.Order()) && Entry(sim, d)?.Regions > 0,
            "the kernel's list follows: A, C and D with regions");
        Assert.Equal(profile == KernelProfile.V7_3 ? [a, c, d] : new[] { a, d, c }, sim.Kernel.RunningTargets(0).Select(t => t.Pid));
        uint[] after = Ages(sim, a, c);
        Assert.True(after[0] >= before[0] && after[1] >= before[1], $"A and C kept their history: ages {string.Join(",", before)} -> {string.Join(",", after)}");
        Assert.True(Entry(sim, d)!.MaxAge < after[0], $"D starts fresh: age {Entry(sim, d)!.MaxAge} vs A's {after[0]}");
        Assert.Equal(kdamondPid, sim.Read("0/pid"));   // committed, never restarted
        if (profile == KernelProfile.V7_3)
        {
            Assert.DoesNotContain(sim.Kernel.RunningTargets(0), t => t.IsKernelThread); // obsolete_target removed B's entry
            Assert.Equal("3", sim.Read("0/contexts/0/targets/nr_targets"));            // staged = the kernel's list again
        }

        // The series follows without a pid label: three processes' worth again.
        _ = await SimHarness.WaitFor(
            () => SimHarness.Target(store, "php", "php") is { Processes.Monitored: 3, Access: { } x } t && x.MonitoredBytes == 3 * Mapped ? t : null,
            "3 processes after the churn");

        // All gone: the kdamond stops (a tombstone would keep it alive) and starts again when one is back.
        foreach (int p in new[] { a, c, d })
        {
            sim.Kernel.KillProcess(p);
        }

        await SimHarness.WaitUntil(() => sim.Read("0/state") == "off", "the kdamond stops without processes");
        int e = Spawn(sim, "php-fpm");
        await SimHarness.WaitUntil(() => sim.Read("0/state") == "on" && Live(sim).Select(t => t.Pid).SequenceEqual([e]), "started again for the new process");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task The_cap_keeps_the_oldest_processes_and_counts_the_rest()
    {
        await using var sim = Sim();
        int[] pids = [.. Enumerable.Range(0, 5).Select(_ => Spawn(sim, "php-fpm"))];
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(Yaml("php", "{name: php, process_name: php-fpm, max_processes: 3}", "tried_regions")), store: store);
        await runner.StartAsync(CancellationToken.None);

        Assert.Equal("3", sim.Read("0/contexts/0/targets/nr_targets"));
        Assert.Equal(pids[..3], Live(sim).Select(t => t.Pid));
        TargetObservation php = await SimHarness.WaitFor(() => SimHarness.Target(store, "php", "php") is { Access.MonitoredBytes: 3 * Mapped } t ? t : null, "3 processes' bytes");
        Assert.Equal(new TargetProcessCounts(3, 2, 0), php.Processes);

        // One of the three exits: the next oldest takes its place.
        sim.Kernel.KillProcess(pids[1]);
        await SimHarness.WaitUntil(() => Live(sim).Select(t => t.Pid).Order().SequenceEqual([pids[0], pids[2], pids[3]]), "the fourth process moves in");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Children_are_included_on_request()
    {
        await using var sim = Sim();
        int master = Spawn(sim, "gunicorn");
        int worker1 = sim.Kernel.SpawnChild(master, "gunicorn-w", "worker");
        int worker2 = sim.Kernel.SpawnChild(master, "gunicorn-w", "worker");
        int grandchild = sim.Kernel.SpawnChild(worker1, "helper", "worker");
        _ = Spawn(sim, "gunicorn-w");   // same name, not a descendant
        string yaml = Yaml("with", "{name: with, process_name: gunicorn, include_children: true}", "tracepoint", Kdamond("without", "{name: without, process_name: gunicorn}", "tracepoint"));
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(yaml), store: store);
        await runner.StartAsync(CancellationToken.None);

        Assert.Equal([master, worker1, worker2, grandchild], Live(sim, 0).Select(t => t.Pid).Order());
        Assert.Equal([master], Live(sim, 1).Select(t => t.Pid));
        _ = await SimHarness.WaitFor(() => SimHarness.Target(store, "with", "with") is { Processes.Monitored: 4, Access.MonitoredBytes: 4 * Mapped } t ? t : null, "4 processes in one series");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task An_impostor_with_the_right_name_but_the_wrong_exe_or_uid_is_never_a_target()
    {
        await using var sim = Sim();
        int real = sim.Kernel.SpawnProcess("nginx", "worker", new ProcessSpawn { Executable = "/usr/sbin/nginx" });
        int otherExe = sim.Kernel.SpawnProcess("nginx", "worker", new ProcessSpawn { Executable = "/tmp/nginx", Uid = 0 });
        int otherUid = sim.Kernel.SpawnProcess("nginx", "worker", new ProcessSpawn { Executable = "/usr/sbin/nginx", Uid = 1000 });
        const string pageout = "    schemes: [{name: cold, action: pageout, access_pattern: {access_rate: {min: 0%, max: 0%}, age: {min: 2s, max: max}}}]\n";
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(Yaml("web", "{name: web, process_name: nginx, exe: /usr/sbin/nginx, uid: 0}", "tracepoint", pageout)), store: store);
        await runner.StartAsync(CancellationToken.None);

        Assert.Equal([real], Live(sim).Select(t => t.Pid));
        TargetObservation web = await SimHarness.WaitFor(() => SimHarness.Target(store, "web", "web") is { Processes: not null } t ? t : null, "the web target");
        Assert.Equal(new TargetProcessCounts(1, 0, 2), web.Processes);

        // The real nginx is down: the impostors still are not targets (nor get the pageout).
        sim.Kernel.KillProcess(real);
        await SimHarness.WaitUntil(() => sim.Read("0/state") == "off", "the kdamond stops instead of taking an impostor");
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.Equal("off", sim.Read("0/state"));
        Assert.Empty(sim.Kernel.RunningTargets(0));
        Assert.NotEqual(-1, sim.Kernel.FindProcess("nginx")); // they are still there
        _ = otherExe;
        _ = otherUid;
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_pid_target_never_follows_its_pid_to_another_process()
    {
        await using var sim = Sim();
        int original = Spawn(sim, "app");
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(Yaml("app", $"{{name: app, pid: {original}}}", "tracepoint")), store: store);
        await runner.StartAsync(CancellationToken.None);
        Assert.Equal([original], Live(sim).Select(t => t.Pid));

        // The process exits and a newer one gets its pid: same pid, later start time.
        sim.Kernel.KillProcess(original);
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        _ = sim.Kernel.SpawnProcess("app", "worker", new ProcessSpawn { Pid = original });
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Empty(Live(sim));
        Assert.NotEqual("on", sim.Read("0/state"));
        await runner.StopAsync(CancellationToken.None);
    }

    [Theory]
    [InlineData(KernelProfile.V6_18)]
    [InlineData(KernelProfile.V7_3)]
    public async Task A_reused_pid_is_a_new_process_not_the_old_ones_history(KernelProfile profile)
    {
        await using var sim = Sim(profile);
        int keeper = Spawn(sim, "php-fpm");
        int old = Spawn(sim, "php-fpm");
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(Yaml("php", "{name: php, process_name: php-fpm}", "tracepoint")), store: store);
        await runner.StartAsync(CancellationToken.None);
        await SimHarness.WaitUntil(() => Entry(sim, old)?.MaxAge >= 20, "2 s of history for the old process");
        long oldStart = Entry(sim, old)!.StartUs;

        sim.Kernel.KillProcess(old);
        _ = sim.Kernel.SpawnProcess("php-fpm", "worker", new ProcessSpawn { Pid = old });
        await SimHarness.WaitUntil(() => Entry(sim, old) is { } e && e.StartUs != oldStart && e.Regions > 0, "the new process with the old pid is monitored");
        SimulatedTarget reused = Entry(sim, old)!;
        Assert.True(reused.MaxAge < Entry(sim, keeper)!.MaxAge, $"fresh history ({reused.MaxAge}), not the old process's (the keeper has {Entry(sim, keeper)!.MaxAge})");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_pid_file_left_behind_by_a_dead_process_does_not_name_its_pids_next_owner()
    {
        await using var sim = Sim();
        int original = Spawn(sim, "postgres");
        string pidFile = Path.Combine(sim.StateDir, "postmaster.pid");
        await File.WriteAllTextAsync(pidFile, original + "\n");
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(Yaml("db", $"{{name: db, pid_file: {pidFile}}}", "tracepoint")), store: store);
        await runner.StartAsync(CancellationToken.None);
        Assert.Equal([original], Live(sim).Select(t => t.Pid));

        // postgres dies without removing its pid file; later another process gets the pid.
        sim.Kernel.KillProcess(original);
        await Task.Delay(TimeSpan.FromSeconds(3));
        _ = sim.Kernel.SpawnProcess("bash", "worker", new ProcessSpawn { Pid = original });
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Empty(Live(sim));
        Assert.Contains("started after the file was written", runner.Manager.Owned[0].LastError);
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Mapped_only_false_exports_damos_numbers()
    {
        await using var sim = Sim();
        _ = Spawn(sim, "app");
        string yaml = Yaml("mapped", "{name: app, process_name: app}", "tried_regions", Kdamond("raw", "{name: app, process_name: app}", "tried_regions", "    mapped_only: false"));
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(yaml), store: store);
        await runner.StartAsync(CancellationToken.None);

        TargetObservation mapped = await SimHarness.WaitFor(() => SimHarness.Target(store, "mapped", "app"), "mapped-only summary");
        TargetObservation raw = await SimHarness.WaitFor(() => SimHarness.Target(store, "raw", "app"), "raw summary");
        Assert.Equal(Mapped, mapped.Access!.MonitoredBytes);
        Assert.Null(raw.UnmappedBytes);
        // Both kdamonds' regions cover the same three areas of the process.
        Assert.Equal(raw.Access!.MonitoredBytes, mapped.Access.MonitoredBytes + mapped.UnmappedBytes);
        Assert.Equal(raw.Access.MonitoredBytes, sim.Kernel.RunningTargets(1).Single().Bytes);
        await runner.StopAsync(CancellationToken.None);
    }

    private static SimHarness Sim(KernelProfile profile = KernelProfile.V6_18) =>
        new(new SimulatorOptions { Roots = KernelRoots.Under("/sim"), Seed = 11, Profile = profile });

    private static int Spawn(SimHarness sim, string name) => sim.Kernel.SpawnProcess(name, "worker");

    // One vaddr kdamond `name` over `target` (a flow mapping); `more` adds YAML under it (schemes, more kdamonds).
    private static string Yaml(string name, string target, string source, string more = "") => $$"""
        collection: {interval: 500ms}
        attach: {enabled: false}
        kdamonds:
          - name: {{name}}
            operations: vaddr
            region_source: {{source}}
            intervals: {sample: 5ms, aggregation: 100ms, update: 200ms}
            targets: [{{target}}]

        """ + more;

    private static string Kdamond(string name, string target, string source, string extra = "") => $$"""
          - name: {{name}}
            operations: vaddr
            region_source: {{source}}
            intervals: {sample: 5ms, aggregation: 100ms, update: 200ms}
            targets: [{{target}}]
        {{extra}}
        """;

    private static IEnumerable<SimulatedTarget> Live(SimHarness sim, int kdamond = 0) =>
        sim.Kernel.RunningTargets(kdamond).Where(t => !t.IsKernelThread && t.Pid > 0);

    private static SimulatedTarget? Entry(SimHarness sim, int pid) => sim.Kernel.RunningTargets(0).FirstOrDefault(t => t.Pid == pid && !t.IsKernelThread);

    private static uint[] Ages(SimHarness sim, params int[] pids) => [.. pids.Select(p => Entry(sim, p)?.MaxAge ?? 0)];

    private static bool Near(ulong value, ulong truth, double tolerance) => Math.Abs((double)value - truth) <= truth * tolerance;

    // Bytes idle longer than `seconds` (+Inf bucket minus the bucket at that bound).
    private static ulong ColdBytes(Analysis.AccessSummary a, double seconds)
    {
        int i = a.Options.IdleBucketsSeconds.ToList().IndexOf(seconds);
        return a.IdleBytesAtMost[^1] - a.IdleBytesAtMost[i];
    }
}
