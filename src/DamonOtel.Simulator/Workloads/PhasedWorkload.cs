using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

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

    /// <param name="extra">More mappings (absolute, between the allocation and the libraries), never accessed after start-up.</param>
    /// <param name="reservations">Of <paramref name="extra"/>: the ones reserved without permissions (---p), never touched at all.</param>
    public PhasedWorkload(string name, ulong allocationBytes, TimeSpan phaseLength, AddressRange[][] phases, AddressRange[]? extra = null, AddressRange[]? reservations = null)
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
            .. extra ?? [],
            new(LibStart, LibStart + (16 * SimulatedWorkloads.MiB)),
            new(StackStart, StackStart + (132 * 1024)),
        ];
        Reservations = reservations ?? [];
    }

    public string Name { get; }

    public IReadOnlyList<AddressRange> Mappings { get; }

    public IReadOnlyList<AddressRange> Reservations { get; }

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
