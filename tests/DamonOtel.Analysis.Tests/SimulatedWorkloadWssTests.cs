using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Simulator;

namespace DamonOtel.Analysis.Tests;

/// <summary>
/// The estimated working set of a monitored process, against the exact working set the
/// Simulator's workloads define, through the real sysfs protocol (write, on, tried_regions).
/// </summary>
public class SimulatedWorkloadWssTests
{
    [Theory]
    [InlineData("steady")]   // 128 MiB hot all the time
    [InlineData("stairs")]   // the hot window moves through the allocation each phase
    [InlineData("zigzag")]   // the hot set alternates between 64 and 256 MiB
    public async Task Estimated_wss_follows_the_workload_truth(string workload)
    {
        var sim = new SimulatedKernel(new SimulatorOptions { Seed = 11, Processes = [("w", workload)] });
        KernelRoots roots = sim.Options.Roots;
        var writer = new DamonSysfsWriter(sim, roots);
        writer.EnsureKdamondCount(1);
        var intervals = new Intervals(5_000, 100_000, 1_000_000);
        writer.WriteKdamond(0, new KdamondSpec([new ContextSpec(
            "vaddr", intervals, [new TargetSpec(sim.FindProcess("w"))],
            [new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: intervals.SampleUs)])]));
        var commands = new StateCommands(sim, roots);
        var reader = new DamonSysfsReader(sim, roots);
        var summarizer = new AccessSummarizer(AccessOptions.Default);
        await commands.SendAsync(0, StateCommand.On);

        // Measure in the middle of each 10 s phase, once regions have adapted to it.
        sim.Advance(SimulatedWorkloads.PhaseLength / 2);
        var errors = new List<double>();
        for (int phase = 0; phase < 4; phase++)
        {
            await commands.SendAsync(0, StateCommand.UpdateSchemesTriedRegions);
            TriedRegions tried = reader.ReadTriedRegions(0, 0, 0)!;
            AccessSummary s = summarizer.Summarize(tried.Regions, intervals);
            ulong truth = sim.GroundTruth(0, 0);
            Assert.True(truth > 0, "the workload touches memory in every phase");
            double error = Math.Abs((double)s.WorkingSetBytes - truth) / truth;
            errors.Add(error);
            // The kernel's own selftest accepts 20 % for a WSS estimate.
            Assert.True(error <= 0.20, $"{workload} phase {phase}: estimated {s.WorkingSetBytes} vs true {truth} ({error:P1})");
            sim.Advance(SimulatedWorkloads.PhaseLength);
        }

        Assert.True(errors.Average() <= 0.10, $"{workload}: mean error {errors.Average():P1}");
    }
}
