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

    private KernelEnvironment(IKernelFs fs, KernelRoots roots, SimulatedKernel? simulator, IKernelPageFs? pageFs = null, TimeProvider? time = null)
    {
        Fs = fs;
        PageFs = pageFs ?? fs as IKernelPageFs ?? UnavailablePageFs.Instance;
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

    /// <summary>/proc/kpagecgroup, /proc/kpageflags and cgroup inodes (paddr page sampling).</summary>
    public IKernelPageFs PageFs { get; }

    public KernelRoots Roots { get; }

    /// <summary>The agent's clock for waits and deadlines (tests pass a manual one).</summary>
    public TimeProvider Time { get; }

    public SimulatedKernel? Simulator { get; }

    public static KernelEnvironment Real(KernelRoots roots) => new(LinuxKernelFs.Instance, roots, null, LinuxKernelPageFs.Instance);

    /// <summary>
    /// A simulated 6.18 kernel running <paramref name="workload"/> as a process of the same name
    /// (in system.slice), next to a few Kubernetes pods (<see cref="SimulationConfig.Pods"/>).
    /// </summary>
    public static KernelEnvironment Simulate(string workload, int seed = 1)
    {
        var sim = new SimulatedKernel(new SimulatorOptions { Seed = seed });
        SimulationConfig.PopulateCgroups(sim, workload);
        return new KernelEnvironment(sim, sim.Options.Roots, sim);
    }

    /// <summary>
    /// Wraps an existing simulator (tests drive its clock themselves), optionally with the agent's
    /// clock. Page-frame files come from <paramref name="pageFs"/>, else from <paramref name="fs"/>
    /// when it serves them, else nowhere: a test never falls back to this machine's /proc/kpage*.
    /// </summary>
    public static KernelEnvironment Wrap(IKernelFs fs, KernelRoots roots, IKernelPageFs? pageFs = null, TimeProvider? time = null) => new(fs, roots, null, pageFs, time);

    /// <summary>For file interfaces without page-frame files: every use fails (ENOENT).</summary>
    private sealed class UnavailablePageFs : IKernelPageFs
    {
        public static UnavailablePageFs Instance { get; } = new();

        public IPageFrameFile OpenPageFrameFile(string path) => throw new KernelIoException(Errno.ENOENT, path, "open (no page-frame files in this environment)");

        public ulong GetInode(string path) => throw new KernelIoException(Errno.ENOENT, path, "statx (no page-frame files in this environment)");
    }

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
