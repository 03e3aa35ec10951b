using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

// /proc/kpagecgroup and /proc/kpageflags: 8 bytes per page frame, read by position. A frame is
// a process's page (its charged cgroup's inode; LRU | ANON | MMAP | UPTODATE), a paged-out or
// never-used frame (free: no cgroup, BUDDY on the head of each 2 MiB block and no flag on the
// other frames, as the 6.18 kernel reports them), a frame of the "kernel" area below the first
// process frame (no cgroup, SLAB), or a hole outside System RAM (NOPAGE).
public sealed partial class SimulatedKernel : IKernelPageFs
{
    internal const ulong KpfUptodate = 1UL << 3;
    internal const ulong KpfLru = 1UL << 5;
    internal const ulong KpfSlab = 1UL << 7;
    internal const ulong KpfBuddy = 1UL << 10;
    internal const ulong KpfMmap = 1UL << 11;
    internal const ulong KpfAnon = 1UL << 12;
    internal const ulong KpfNoPage = 1UL << 20;
    private const ulong FramePageSize = 4096;

    /// <summary>Positional reads of the page-frame files so far (budget assertions without timing).</summary>
    public long PageFrameReads
    {
        get
        {
            lock (Gate)
            {
                return pageFrameReads;
            }
        }
    }

    private long pageFrameReads;

    public IPageFrameFile OpenPageFrameFile(string path)
    {
        lock (Gate)
        {
            VNode n = Resolve(path, "open");
            bool cgroup = n.Name == "kpagecgroup" && ReferenceEquals(n.Parent, MakeDirs(Options.Roots.Procfs));
            bool flags = n.Name == "kpageflags" && ReferenceEquals(n.Parent, MakeDirs(Options.Roots.Procfs));
            return cgroup || flags ? new PageFrameFile(this, path, cgroup) : throw new KernelIoException(Errno.EINVAL, path, "open (not a page-frame file)");
        }
    }

    public ulong GetInode(string path)
    {
        lock (Gate)
        {
            return InodeOf(Resolve(path, "statx"));
        }
    }

    private ulong MaxPfn => systemRam.Max(r => r.End) / FramePageSize;

    private static void BuildPageFrameFiles(VDir proc)
    {
        // Binary files: only positional reads through IKernelPageFs make sense (a text read is refused).
        proc.Func("kpagecgroup", () => throw new KernelIoException(Errno.EINVAL, proc.FullPath + "/kpagecgroup", "read (binary: 8 bytes per frame)"));
        proc.Func("kpageflags", () => throw new KernelIoException(Errno.EINVAL, proc.FullPath + "/kpageflags", "read (binary: 8 bytes per frame)"));
    }

    private (ulong Cgroup, ulong Flags) Frame(ulong pfn)
    {
        ulong phys = pfn * FramePageSize;
        if (!Array.Exists(systemRam, r => phys >= r.Start && phys < r.End))
        {
            return (0, KpfNoPage);
        }

        if (Processes.TryResolve(phys, out SimProcess p, out ulong virt) && p.PagedOut.Overlap(virt, virt + 1) == 0)
        {
            SimCgroup charged = (p.ChargedTo ?? CgroupRoot).Effective;
            return (charged.Inode, KpfLru | KpfAnon | KpfMmap | KpfUptodate);
        }

        if (phys < Processes.FirstUserPhys)
        {
            return (0, KpfSlab);
        }

        return (0, pfn % 512 == 0 ? KpfBuddy : 0);
    }

    private sealed class PageFrameFile(SimulatedKernel kernel, string path, bool cgroup) : IPageFrameFile
    {
        private bool disposed;

        public int Read(ulong pfn, Span<ulong> entries)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            lock (kernel.Gate)
            {
                _ = kernel.Faults.BeforeRead(path);
                kernel.pageFrameReads++;
                ulong max = kernel.MaxPfn;
                int n = 0;
                for (; n < entries.Length && pfn + (ulong)n < max; n++)
                {
                    var (cg, flags) = kernel.Frame(pfn + (ulong)n);
                    entries[n] = cgroup ? cg : flags;
                }

                return n;
            }
        }

        public void Dispose() => disposed = true;
    }
}
