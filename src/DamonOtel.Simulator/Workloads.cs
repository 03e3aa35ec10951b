using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>
/// A synthetic program with an exactly known access pattern. Times are relative to the
/// start of the process running it. Hot pages are accessed continuously (in every sampling
/// interval, whatever its length); the whole allocation is touched once at the instant 0
/// (the program's start-up memset) and is idle afterwards unless hot.
/// </summary>
public interface IWorkload
{
    /// <summary>Name as accepted by <see cref="SimulatedWorkloads.Create"/>.</summary>
    string Name { get; }

    /// <summary>The process's VMAs (absolute virtual addresses, sorted, page aligned).</summary>
    IReadOnlyList<AddressRange> Mappings { get; }

    /// <summary>Was the page holding <paramref name="address"/> accessed in the sampling interval ending at <paramref name="now"/>? O(1).</summary>
    bool Accessed(ulong address, TimeSpan now);

    /// <summary>Virtual ranges accessed at least once in [windowStart, windowEnd), sorted and disjoint.</summary>
    IReadOnlyList<AddressRange> AccessedRanges(TimeSpan windowStart, TimeSpan windowEnd);

    /// <summary>Bytes accessed at least once in [windowStart, windowEnd): the ground-truth working set.</summary>
    ulong TrueWorkingSetBytes(TimeSpan windowStart, TimeSpan windowEnd);
}

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

/// <summary>
/// Layout: program image (8 MiB at 0x555555554000), the allocation at <see cref="SimulatedWorkloads.AllocationStart"/>,
/// libraries (16 MiB at 0x7fa000000000), stack (132 KiB at 0x7ffd00000000). The two largest gaps lie
/// around the allocation, so vaddr monitoring gets the three areas image / allocation / libraries+stack.
/// Only the allocation is ever accessed. Phases (offsets within the allocation) repeat cyclically.
/// </summary>
internal sealed class PhasedWorkload : IWorkload
{
    private const ulong ImageStart = 0x5555_5555_4000;
    private const ulong LibStart = 0x7fa0_0000_0000;
    private const ulong StackStart = 0x7ffd_0000_0000;

    private readonly ulong allocStart;
    private readonly ulong allocEnd;
    private readonly long phaseTicks;
    private readonly AddressRange[][] phases;

    public PhasedWorkload(string name, ulong allocationBytes, TimeSpan phaseLength, AddressRange[][] phases)
    {
        Name = name;
        allocStart = SimulatedWorkloads.AllocationStart;
        allocEnd = allocStart + allocationBytes;
        phaseTicks = phaseLength.Ticks;
        this.phases = phases;
        Mappings =
        [
            new(ImageStart, ImageStart + (8 * SimulatedWorkloads.MiB)),
            new(allocStart, allocEnd),
            new(LibStart, LibStart + (16 * SimulatedWorkloads.MiB)),
            new(StackStart, StackStart + (132 * 1024)),
        ];
    }

    public string Name { get; }

    public IReadOnlyList<AddressRange> Mappings { get; }

    public bool Accessed(ulong address, TimeSpan now)
    {
        if (address < allocStart || address >= allocEnd || now < TimeSpan.Zero)
        {
            return false;
        }

        ulong offset = address - allocStart;
        foreach (AddressRange r in phases[PhaseAt(now.Ticks)])
        {
            if (offset >= r.Start && offset < r.End)
            {
                return true;
            }
        }

        return false;
    }

    public IReadOnlyList<AddressRange> AccessedRanges(TimeSpan windowStart, TimeSpan windowEnd)
    {
        if (windowEnd <= windowStart || windowEnd <= TimeSpan.Zero)
        {
            return [];
        }

        if (windowStart <= TimeSpan.Zero)
        {
            return [new AddressRange(allocStart, allocEnd)]; // the start-up touch
        }

        long first = windowStart.Ticks / phaseTicks;
        long last = (windowEnd.Ticks - 1) / phaseTicks;
        var set = new RangeSet();
        for (long p = first; p <= last && p - first < phases.Length; p++)
        {
            foreach (AddressRange r in phases[(int)(p % phases.Length)])
            {
                set.Add(new AddressRange(allocStart + r.Start, allocStart + r.End));
            }
        }

        return set.Ranges;
    }

    public ulong TrueWorkingSetBytes(TimeSpan windowStart, TimeSpan windowEnd)
    {
        ulong total = 0;
        foreach (AddressRange r in AccessedRanges(windowStart, windowEnd))
        {
            total += r.Size;
        }

        return total;
    }

    private int PhaseAt(long ticks) => (int)(ticks / phaseTicks % phases.Length);
}

/// <summary>A sorted set of disjoint half-open ranges.</summary>
internal sealed class RangeSet
{
    private readonly List<AddressRange> ranges = [];

    public IReadOnlyList<AddressRange> Ranges => ranges;

    public ulong TotalBytes
    {
        get
        {
            ulong t = 0;
            foreach (AddressRange r in ranges)
            {
                t += r.Size;
            }

            return t;
        }
    }

    public void Add(AddressRange add)
    {
        if (add.End <= add.Start)
        {
            return;
        }

        ulong s = add.Start;
        ulong e = add.End;
        int i = 0;
        while (i < ranges.Count && ranges[i].End < s)
        {
            i++;
        }

        while (i < ranges.Count && ranges[i].Start <= e)
        {
            s = Math.Min(s, ranges[i].Start);
            e = Math.Max(e, ranges[i].End);
            ranges.RemoveAt(i);
        }

        ranges.Insert(i, new AddressRange(s, e));
    }

    public void Remove(AddressRange cut)
    {
        if (cut.End <= cut.Start)
        {
            return;
        }

        for (int i = 0; i < ranges.Count; i++)
        {
            AddressRange r = ranges[i];
            if (r.End <= cut.Start || r.Start >= cut.End)
            {
                continue;
            }

            ranges.RemoveAt(i);
            if (r.End > cut.End)
            {
                ranges.Insert(i, new AddressRange(cut.End, r.End));
            }

            if (r.Start < cut.Start)
            {
                ranges.Insert(i, new AddressRange(r.Start, cut.Start));
                i++;
            }

            i--;
        }
    }

    /// <summary>Bytes of the set inside [start, end).</summary>
    public ulong Overlap(ulong start, ulong end)
    {
        ulong t = 0;
        foreach (AddressRange r in ranges)
        {
            ulong s = Math.Max(r.Start, start);
            ulong e = Math.Min(r.End, end);
            if (e > s)
            {
                t += e - s;
            }
        }

        return t;
    }
}
