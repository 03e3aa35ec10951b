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

    private KernelEnvironment(IKernelFs fs, KernelRoots roots, SimulatedKernel? simulator, TimeProvider? time = null)
    {
        Fs = fs;
        Roots = roots;
        Simulator = simulator;
        Time = time ?? TimeProvider.System;
        if (simulator is not null)
        {
            simulatorStop = new CancellationTokenSource();
            simulatorTask = Task.Run(() => simulator.RunRealTime(simulatorStop.Token));
        }
    }

    public IKernelFs Fs { get; }

    public KernelRoots Roots { get; }

    /// <summary>The agent's clock for waits and deadlines (tests pass a manual one).</summary>
    public TimeProvider Time { get; }

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
        return new KernelEnvironment(sim, sim.Options.Roots, sim);
    }

    /// <summary>Wraps an existing simulator (tests drive its clock themselves), optionally with the agent's clock.</summary>
    public static KernelEnvironment Wrap(IKernelFs fs, KernelRoots roots, TimeProvider? time = null) => new(fs, roots, null, time);

    public async ValueTask DisposeAsync()
    {
        if (simulatorStop is not null)
        {
            await simulatorStop.CancelAsync().ConfigureAwait(false);
            try
            {
                await simulatorTask!.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            simulatorStop.Dispose();
        }
    }
}
