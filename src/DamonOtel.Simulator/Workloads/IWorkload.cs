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

    /// <summary>Those of <see cref="Mappings"/> reserved without any permission (maps shows ---p: guard
    /// areas, a JVM's or allocator's reserved heap): address space, never memory.</summary>
    IReadOnlyList<AddressRange> Reservations => [];

    /// <summary>Was the page holding <paramref name="address"/> accessed in the sampling interval ending at <paramref name="now"/>? O(1).</summary>
    bool Accessed(ulong address, TimeSpan now);

    /// <summary>Virtual ranges accessed at least once in [windowStart, windowEnd), sorted and disjoint.</summary>
    IReadOnlyList<AddressRange> AccessedRanges(TimeSpan windowStart, TimeSpan windowEnd);

    /// <summary>Bytes accessed at least once in [windowStart, windowEnd): the ground-truth working set.</summary>
    ulong TrueWorkingSetBytes(TimeSpan windowStart, TimeSpan windowEnd);
}
