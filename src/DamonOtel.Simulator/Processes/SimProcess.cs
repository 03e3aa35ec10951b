using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>A simulated user process (or kdamond kernel thread when <see cref="Workload"/> is null).</summary>
internal sealed class SimProcess
{
    public SimProcess(int pid, string name, IWorkload? workload, long startUs, ProcessSpawn? spawn = null)
    {
        Pid = pid;
        Name = name;
        Workload = workload;
        StartUs = startUs;
        ParentPid = spawn?.ParentPid ?? (workload is null ? 2 : 1);
        Uid = spawn?.Uid ?? 0;
        Executable = workload is null ? null : spawn?.Executable ?? "/usr/bin/" + name;
    }

    /// <summary>ppid (field 4 of stat): 1 for processes started by "init", 2 for kernel threads.</summary>
    public int ParentPid { get; }

    /// <summary>All four uids of status.</summary>
    public uint Uid { get; }

    /// <summary>What /proc/&lt;pid&gt;/exe points to; null for kernel threads (readlink fails, ENOENT).</summary>
    public string? Executable { get; }

    public int Pid { get; }

    public string Name { get; }

    public IWorkload? Workload { get; }

    public long StartUs { get; }

    public bool Alive { get; set; } = true;

    /// <summary>Virtual ranges paged out by DAMOS pageout and not accessed since.</summary>
    public RangeSet PagedOut { get; } = new();

    /// <summary>The cgroup the process is in now (null: not placed in a cgroup by the test, the root).</summary>
    public SimCgroup? Cgroup { get; set; }

    /// <summary>The cgroup its memory is charged to: where it was when it faulted its pages in.</summary>
    public SimCgroup? ChargedTo { get; set; }

    /// <summary>Kernel CPU time (kdamond threads), nanoseconds.</summary>
    public ulong CpuNs { get; set; }

    /// <summary>Physical frames backing the mappings: (virtual start, physical start, size), one per VMA.</summary>
    public List<(ulong Virt, ulong Phys, ulong Size)> Extents { get; } = [];

    public ulong VirtualBytes
    {
        get
        {
            ulong t = 0;
            if (Workload is not null)
            {
                foreach (AddressRange m in Workload.Mappings)
                {
                    t += m.Size;
                }
            }

            return t;
        }
    }

    public ulong ResidentBytes
    {
        get
        {
            ulong reserved = 0;
            foreach (AddressRange r in Workload?.Reservations ?? [])
            {
                reserved += r.Size;
            }

            return VirtualBytes - reserved - PagedOut.TotalBytes;
        }
    }

    public TimeSpan Relative(long nowUs) => TimeSpan.FromTicks((nowUs - StartUs) * 10);
}

/// <summary>How to start a simulated process beyond its name and workload.</summary>
public sealed record ProcessSpawn
{
    /// <summary>A pid to take (a freed one: pid reuse); null = the next free pid.</summary>
    public int? Pid { get; init; }

    /// <summary>ppid; a live simulated process makes this one its child.</summary>
    public int ParentPid { get; init; } = 1;

    /// <summary>Real, effective, saved and filesystem uid.</summary>
    public uint Uid { get; init; }

    /// <summary>/proc/&lt;pid&gt;/exe; null = /usr/bin/&lt;name&gt;.</summary>
    public string? Executable { get; init; }
}

/// <summary>One target of a running simulated context (see <see cref="SimulatedKernel.RunningTargets"/>).</summary>
/// <param name="Pid">The process the kernel holds (0 for paddr).</param>
/// <param name="StartUs">That process's start, microseconds after boot (tells a reused pid apart).</param>
/// <param name="IsKernelThread">The entry names a kernel thread (a tombstone).</param>
/// <param name="Regions">Number of regions.</param>
/// <param name="Bytes">Bytes the regions cover.</param>
/// <param name="MaxAge">The largest region age, in aggregations: the entry's history.</param>
public sealed record SimulatedTarget(int Pid, long StartUs, bool IsKernelThread, int Regions, ulong Bytes, uint MaxAge);
