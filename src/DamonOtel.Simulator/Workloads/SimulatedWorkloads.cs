using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>The named workloads behind <c>damon-otel run --simulate WORKLOAD</c>.</summary>
public static class SimulatedWorkloads
{
    public const ulong MiB = 1UL << 20;

    /// <summary>Start of the big anonymous allocation every workload makes (an mmap-area address).</summary>
    public const ulong AllocationStart = 0x7f00_0000_0000;

    /// <summary>Length of one phase of the phased workloads.</summary>
    public static readonly TimeSpan PhaseLength = TimeSpan.FromSeconds(10);

    /// <summary>
    /// steady: 128 MiB hot at [alloc+256 MiB, alloc+384 MiB) forever inside a 1 GiB allocation.
    /// stairs: a 128 MiB hot window steps through the 1 GiB allocation, 8 phases of 10 s (then repeats).
    /// zigzag: the hot set [alloc, alloc+S) alternates between S = 64 MiB and S = 256 MiB every 10 s.
    /// idle: touches its 1 GiB once and never again.
    /// </summary>
    public static IReadOnlyList<string> Names { get; } = ["steady", "stairs", "zigzag", "idle"];

    /// <summary>
    /// A workload of <paramref name="allocationBytes"/> whose first <paramref name="hotBytes"/> are
    /// accessed continuously and the rest never again after the start-up touch (the per-cgroup
    /// tests' known hot and cold sets). Like every workload it also maps a program image,
    /// libraries and a stack that are never accessed.
    /// </summary>
    public static IWorkload HotCold(string name, ulong allocationBytes, ulong hotBytes)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hotBytes, allocationBytes);
        return new PhasedWorkload(name, allocationBytes, PhaseLength, [hotBytes == 0 ? [] : [new AddressRange(0, hotBytes)]]);
    }

    public static IWorkload Create(string name)
    {
        const ulong alloc = 1024 * MiB;
        return name switch
        {
            "steady" => new PhasedWorkload(name, alloc, PhaseLength, [[new AddressRange(256 * MiB, 384 * MiB)]]),
            "stairs" => new PhasedWorkload(
                name,
                alloc,
                PhaseLength,
                [.. Enumerable.Range(0, 8).Select(i => (AddressRange[])[new AddressRange((ulong)i * 128 * MiB, (ulong)(i + 1) * 128 * MiB)])]),
            "zigzag" => new PhasedWorkload(name, alloc, PhaseLength, [[new AddressRange(0, 64 * MiB)], [new AddressRange(0, 256 * MiB)]]),
            "idle" => new PhasedWorkload(name, alloc, PhaseLength, [[]]),
            _ => throw new ArgumentException($"unknown simulated workload '{name}'; known: {string.Join(", ", Names)}", nameof(name)),
        };
    }
}
