using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

/// <summary>How to build a <see cref="SimulatedKernel"/>.</summary>
public sealed record SimulatorOptions
{
    /// <summary>Where the virtual sysfs, tracefs and procfs are served; every path outside them is ENOENT.</summary>
    public KernelRoots Roots { get; init; } = KernelRoots.Under("/sim");

    /// <summary>Seed of the one random generator behind sampling points and splits: same seed, same output.</summary>
    public int Seed { get; init; } = 42;

    public KernelProfile Profile { get; init; } = KernelProfile.V6_18;

    /// <summary>Simulated physical RAM; /proc/iomem shows it as System RAM blocks (the largest starts at 4 GiB above 3 GiB of RAM).</summary>
    public ulong MemoryBytes { get; init; } = 4UL << 30;

    /// <summary>Number of CPUs (trace lines carry a CPU column).</summary>
    public int CpuCount { get; init; } = 2;

    /// <summary>Uptime at simulated time zero; trace timestamps are uptime seconds.</summary>
    public TimeSpan BootUptime { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Processes started with the kernel: (comm, workload name from <see cref="SimulatedWorkloads.Names"/>).</summary>
    public IReadOnlyList<(string Name, string Workload)> Processes { get; init; } = [];

    /// <summary>DAMON_STAT (6.18 profile only) starts enabled, as with CONFIG_DAMON_STAT_ENABLED_DEFAULT.</summary>
    public bool DamonStatEnabled { get; init; }

    /// <summary>First PID handed out to simulated processes and kdamond threads.</summary>
    public int FirstPid { get; init; } = 1000;
}
