using DamonOtel.Agent.Cli;
using DamonOtel.Agent.Hosting;
using DamonOtel.Analysis;
using DamonOtel.Analysis.Reports;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Tests.Simulated;

/// <summary>`damon-otel snapshot` when another writer (the agent) tears tried_regions down or holds DAMON busy.</summary>
public class SnapshotTakerTests
{
    [Fact]
    public async Task Regions_torn_down_between_refresh_and_read_are_refreshed_again_not_reported_as_zero()
    {
        await using var sim = new SimHarness(("app", "steady"));
        var writer = new DamonSysfsWriter(sim.Kernel, sim.Roots);
        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, new KdamondSpec([new ContextSpec(
            "vaddr", new Intervals(5_000, 100_000, 1_000_000), [new TargetSpec(sim.Kernel.FindProcess("app"))],
            [new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: 5_000)])]));
        var commands = new StateCommands(sim.Kernel, sim.Roots);
        await commands.SendAsync(0, StateCommand.On);
        await Task.Delay(1500);
        await using KernelEnvironment env = KernelEnvironment.Wrap(sim.Kernel, sim.Roots);

        // With refresh: the listed regions vanish before they are read; the taker refreshes again.
        var taker = new SnapshotTaker(env, AccessOptions.Default, commands, new HashSet<int> { 0 }, followWait: TimeSpan.FromMilliseconds(200));
        sim.Kernel.Faults.VanishTriedRegionsAfterNextListing();
        SnapshotReportTarget t = Assert.Single(await taker.TakeAsync(CancellationToken.None));
        Assert.InRange((double)t.Summary.WorkingSetBytes, (128UL << 20) * 0.9, (128UL << 20) * 1.1);

        // Another writer updating every 100 ms, as the agent's collector does every collection.
        using (var other = new CancellationTokenSource())
        {
            var otherCommands = new StateCommands(sim.Kernel, sim.Roots);
            Task otherWriter = Task.Run(async () =>
            {
                while (!other.IsCancellationRequested)
                {
                    await otherCommands.SendAsync(0, StateCommand.UpdateSchemesTriedRegions);
                    await Task.Delay(100);
                }
            });

            // Torn after each of our own 4 updates and the first read after another's: the taker
            // stops updating (which would only tear the other writer's reads) and reads the other
            // writer's next fill.
            // Whole: the same mapped bytes as the snapshot above (a torn read has less).
            ulong whole = t.Summary.MonitoredBytes;
            sim.Kernel.Faults.VanishTriedRegionsAfterNextListing(5);
            t = Assert.Single(await taker.TakeAsync(CancellationToken.None));
            Assert.Equal(whole, t.Summary.MonitoredBytes);
            Assert.True(t.Summary.WorkingSetBytes > 0);

            // Torn at every read: an error saying so, not a part.
            sim.Kernel.Faults.VanishTriedRegionsAfterNextListing(int.MaxValue);
            InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => taker.TakeAsync(CancellationToken.None));
            Assert.Contains("tried_regions changed while it was read, 9 times (4 after our own updates, 5 after another process's)", e.Message, StringComparison.Ordinal);
            sim.Kernel.Faults.VanishTriedRegionsAfterNextListing(0);
            await other.CancelAsync();
            await otherWriter;
        }

        // Without refresh (read-only): an empty or torn read is no snapshot, never a zero one.
        var readOnly = new SnapshotTaker(env, AccessOptions.Default, commands: null, new HashSet<int>());
        sim.Kernel.Faults.VanishTriedRegionsAfterNextListing();
        Assert.Empty(await readOnly.TakeAsync(CancellationToken.None));
        await commands.SendAsync(0, StateCommand.Off);
    }

    [Fact]
    public async Task EBUSY_on_state_reads_and_commands_is_waited_out_like_the_agent_does()
    {
        // 7.3 under TCG: while the agent's collectors ran their tried_regions updates, every
        // read of kdamonds/<K>/state answered EBUSY for seconds; snapshot failed on the first.
        await using var sim = new SimHarness(("app", "steady"));
        var writer = new DamonSysfsWriter(sim.Kernel, sim.Roots);
        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, new KdamondSpec([new ContextSpec(
            "vaddr", new Intervals(5_000, 100_000, 1_000_000), [new TargetSpec(sim.Kernel.FindProcess("app"))],
            [new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: 5_000)])]));
        await new StateCommands(sim.Kernel, sim.Roots).SendAsync(0, StateCommand.On);
        await Task.Delay(1000);
        await using KernelEnvironment env = KernelEnvironment.Wrap(sim.Kernel, sim.Roots);
        var config = new Configuration.AgentConfig();
        var commands = new StateCommands(env.Fs, env.Roots, Kdamonds.KdamondManager.CommandOptions(config));
        var taker = new SnapshotTaker(env, AccessOptions.Default, commands, new HashSet<int> { 0 }, sysfsReader: Kdamonds.KdamondManager.NewReader(env, config));

        string state = Path.Combine(sim.Roots.Kdamonds, "0", "state");
        sim.Kernel.Faults.FailNextReads(state, Damon.IO.Errno.EBUSY, count: 300);   // beyond 100 read attempts
        sim.Kernel.Faults.FailNextStateWrites(20);                                 // beyond damo's 5 command attempts
        SnapshotReportTarget t = Assert.Single(await taker.TakeAsync(CancellationToken.None));
        Assert.InRange((double)t.Summary.WorkingSetBytes, (128UL << 20) * 0.9, (128UL << 20) * 1.1);
        await commands.SendAsync(0, StateCommand.Off);
    }
}
