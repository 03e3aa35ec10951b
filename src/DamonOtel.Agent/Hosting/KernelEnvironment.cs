using DamonOtel.Damon.IO;
using DamonOtel.Simulator;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// The kernel the agent talks to: the real one under configurable roots, or the built-in
/// Simulator (`--simulate`), behind the same file interface so nothing else changes.
/// </summary>
internal sealed class KernelEnvironment : IAsyncDisposable
{
    private readonly CancellationTokenSource? simulatorStop;
    private readonly Task? simulatorTask;
    private readonly Task? chaosTask;

    private KernelEnvironment(IKernelFs fs, KernelRoots roots, SimulatedKernel? simulator, int? chaosSeed = null)
    {
        Fs = fs;
        Roots = roots;
        Simulator = simulator;
        if (simulator is not null)
        {
            simulatorStop = new CancellationTokenSource();
            simulatorTask = Task.Run(() => simulator.RunRealTime(simulatorStop.Token));
            if (chaosSeed is int seed)
            {
                string[] names = [.. simulator.Options.Processes.Select(p => p.Name)];
                chaosTask = Task.Run(() => SimulatorChaos.RunAsync(simulator, names, seed, simulatorStop.Token));
            }
        }
    }

    /// <summary>
    /// DAMON_OTEL_SIMULATOR_FAULTS=random[:SEED] makes `run --simulate` fire the Simulator's fault
    /// hooks at random (the soak test, tests/soak); never read for a real kernel.
    /// </summary>
    public const string FaultsVariable = "DAMON_OTEL_SIMULATOR_FAULTS";

    public IKernelFs Fs { get; }

    public KernelRoots Roots { get; }

    public TimeProvider Time { get; } = TimeProvider.System;

    public SimulatedKernel? Simulator { get; }

    public static KernelEnvironment Real(KernelRoots roots) => new(LinuxKernelFs.Instance, roots, null);

    /// <summary>A simulated 6.18 kernel running <paramref name="workload"/> as a process of the same name.</summary>
    public static KernelEnvironment Simulate(string workload, int seed = 1)
    {
        var sim = new SimulatedKernel(new SimulatorOptions
        {
            Seed = seed,
            Processes = [(workload, workload)],
        });
        int? chaos = Environment.GetEnvironmentVariable(FaultsVariable) is { } v && v.StartsWith("random", StringComparison.Ordinal)
            ? (int.TryParse(v.AsSpan(v.IndexOf(':', StringComparison.Ordinal) + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int s) ? s : 1)
            : null;
        return new KernelEnvironment(sim, sim.Options.Roots, sim, chaos);
    }

    /// <summary>Wraps an existing simulator (tests drive its clock themselves).</summary>
    public static KernelEnvironment Wrap(IKernelFs fs, KernelRoots roots) => new(fs, roots, null);

    public async ValueTask DisposeAsync()
    {
        if (simulatorStop is not null)
        {
            await simulatorStop.CancelAsync().ConfigureAwait(false);
            try
            {
                await simulatorTask!.ConfigureAwait(false);
                if (chaosTask is not null)
                {
                    await chaosTask.ConfigureAwait(false);
                    // One line for the soak report (tests/soak): which hooks fired how often.
                    await Console.Error.WriteLineAsync("simulator faults fired: " + string.Join(", ", SimulatorChaos.Fired.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key}={k.Value}"))).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
            }

            simulatorStop.Dispose();
        }
    }
}
