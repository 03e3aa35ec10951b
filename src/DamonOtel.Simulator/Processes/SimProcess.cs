using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>A simulated user process (or kdamond kernel thread when <see cref="Workload"/> is null).</summary>
internal sealed class SimProcess
{
    public SimProcess(int pid, string name, IWorkload? workload, long startUs)
    {
        Pid = pid;
        Name = name;
        Workload = workload;
        StartUs = startUs;
    }

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

    public ulong ResidentBytes => VirtualBytes - PagedOut.TotalBytes;

    public TimeSpan Relative(long nowUs) => TimeSpan.FromTicks((nowUs - StartUs) * 10);
}
