using System.Globalization;
using System.Text;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>What a simulated cgroup really holds in a kdamond's monitored range, for accuracy tests.</summary>
/// <param name="ResidentBytes">Pages charged to the cgroup or a descendant (after reparenting), in RAM and in the range.</param>
/// <param name="WorkingSetBytes">Of those, bytes accessed during the kdamond's last finished aggregation interval.</param>
/// <param name="IdleBytes">Of those, bytes not accessed during the last <c>idleLongerThan</c>.</param>
public readonly record struct CgroupTruth(ulong ResidentBytes, ulong WorkingSetBytes, ulong IdleBytes);

// The simulated cgroup v2 filesystem (mounted at <sysfs root>/fs/cgroup): directories with inode
// numbers, cgroup.procs, memory.current, mkdir/rmdir; processes placed in cgroups, charged where
// they fault their memory in, interleaved placement, reparenting on removal, and ground truth.
public sealed partial class SimulatedKernel
{
    private const ulong RootCgroupInode = 1;
    private SimCgroup? cgroupRoot;
    private ulong nextCgroupInode = 4096;

    /// <summary>Where the simulated cgroup2 filesystem is mounted.</summary>
    public string CgroupMount => Path.Combine(Options.Roots.Sysfs, "fs", "cgroup");

    private SimCgroup CgroupRoot
    {
        get
        {
            if (cgroupRoot is null)
            {
                VDir dir = MakeDirs(CgroupMount);
                cgroupRoot = new SimCgroup(string.Empty, null, RootCgroupInode, dir);
                PopulateCgroupDir(cgroupRoot);
            }

            return cgroupRoot;
        }
    }

    /// <summary>Creates the cgroup <paramref name="path"/> (relative to the mount) and any missing parent; returns its inode.</summary>
    public ulong CreateCgroup(string path)
    {
        lock (Gate)
        {
            return CgroupAt(path, create: true)!.Inode;
        }
    }

    /// <summary>rmdir of a cgroup: EBUSY while it has live processes or children. Its remaining pages report the parent from then on.</summary>
    public void RemoveCgroup(string path)
    {
        lock (Gate)
        {
            SimCgroup c = CgroupAt(path, create: false) ?? throw new KernelIoException(Errno.ENOENT, path, "rmdir");
            RemoveCgroupLocked(c);
        }
    }

    /// <summary>Starts a process in cgroup <paramref name="cgroupPath"/> (created if missing): its memory is charged there.</summary>
    public int SpawnProcess(string name, IWorkload workload, string cgroupPath)
    {
        ArgumentNullException.ThrowIfNull(workload);
        lock (Gate)
        {
            SimCgroup cg = CgroupAt(cgroupPath, create: true)!;
            var p = new SimProcess(Processes.AllocatePid(), name, workload, NowUs) { Cgroup = cg, ChargedTo = cg };
            Processes.Add(p);
            AddProcDir(p);
            return p.Pid;
        }
    }

    /// <summary>
    /// Starts processes whose memory is physically interleaved in chunks of
    /// <paramref name="chunkBytes"/> (page by page with 4096): what concurrent faults produce, and
    /// what makes a paddr region's access count a blend of several cgroups.
    /// </summary>
    public IReadOnlyList<int> SpawnInterleaved(IReadOnlyList<(string Name, IWorkload Workload, string Cgroup)> processes, ulong chunkBytes)
    {
        ArgumentNullException.ThrowIfNull(processes);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 4096UL);
        lock (Gate)
        {
            var procs = new List<SimProcess>();
            foreach (var (name, workload, cgroup) in processes)
            {
                SimCgroup cg = CgroupAt(cgroup, create: true)!;
                procs.Add(new SimProcess(Processes.AllocatePid(), name, workload, NowUs) { Cgroup = cg, ChargedTo = cg });
            }

            Processes.AddInterleaved(procs, chunkBytes / 4096 * 4096);
            foreach (SimProcess p in procs)
            {
                AddProcDir(p);
            }

            return [.. procs.Select(p => p.Pid)];
        }
    }

    /// <summary>Moves a process to another cgroup (a write to cgroup.procs): its memory stays charged where it was.</summary>
    public void MoveProcess(int pid, string cgroupPath)
    {
        lock (Gate)
        {
            SimProcess p = Processes.Get(pid) ?? throw new ArgumentException($"no simulated process with pid {pid}", nameof(pid));
            p.Cgroup = CgroupAt(cgroupPath, create: false) ?? throw new KernelIoException(Errno.ENOENT, cgroupPath, "write cgroup.procs");
        }
    }

    /// <summary>
    /// Ground truth of cgroup <paramref name="cgroupPath"/> (and its descendants) inside the
    /// monitored range of paddr kdamond <paramref name="kdamondIndex"/>'s first target.
    /// </summary>
    public CgroupTruth CgroupGroundTruth(int kdamondIndex, string cgroupPath, TimeSpan idleLongerThan)
    {
        lock (Gate)
        {
            MonitorContext ctx = kdamondList[kdamondIndex].Context ?? throw new InvalidOperationException($"kdamond {kdamondIndex} never ran");
            if (ctx.Config.Ops != "paddr")
            {
                throw new InvalidOperationException($"kdamond {kdamondIndex} is not a paddr kdamond");
            }

            SimCgroup cg = CgroupAt(cgroupPath, create: false) ?? throw new ArgumentException($"no cgroup {cgroupPath}", nameof(cgroupPath));
            ulong unit = Math.Max(1, ctx.Config.AddrUnit);
            var monitored = new RangeSet();
            foreach (var r in ctx.Targets[0].Config.Regions)
            {
                monitored.Add(new AddressRange(r.Start * unit, r.End * unit));
            }

            var resident = new RangeSet();
            var hot = new RangeSet();
            var recent = new RangeSet();
            long idleFromUs = NowUs - (long)idleLongerThan.TotalMicroseconds;
            foreach (SimProcess p in Processes.All)
            {
                if (p.Workload is null || p.ChargedTo is null || !cg.Contains(p.ChargedTo.Effective))
                {
                    continue;
                }

                var accessed = p.Workload.AccessedRanges(p.Relative(ctx.LastAggrStartUs), p.Relative(ctx.LastAggrEndUs));
                var touched = p.Workload.AccessedRanges(p.Relative(idleFromUs), p.Relative(NowUs));
                foreach (var (virt, phys, size) in p.Extents)
                {
                    AddPhysical(resident, new AddressRange(virt, virt + size), virt, phys, size, p);
                    foreach (AddressRange a in accessed)
                    {
                        AddPhysical(hot, a, virt, phys, size, p);
                    }

                    foreach (AddressRange a in touched)
                    {
                        AddPhysical(recent, a, virt, phys, size, p);
                    }
                }
            }

            ulong Inside(RangeSet set) => monitored.Ranges.Aggregate(0UL, (acc, m) => acc + set.Overlap(m.Start, m.End));
            ulong residentBytes = Inside(resident);
            return new CgroupTruth(residentBytes, Inside(hot), residentBytes - Inside(recent));
        }
    }

    // The part of virtual range `a` inside one extent, as physical addresses, minus paged-out pages.
    private static void AddPhysical(RangeSet into, AddressRange a, ulong virt, ulong phys, ulong size, SimProcess p)
    {
        ulong s = Math.Max(a.Start, virt);
        ulong e = Math.Min(a.End, virt + size);
        if (e <= s)
        {
            return;
        }

        var part = new RangeSet();
        part.Add(new AddressRange(s, e));
        foreach (AddressRange gone in p.PagedOut.Ranges)
        {
            part.Remove(gone);
        }

        foreach (AddressRange r in part.Ranges)
        {
            into.Add(new AddressRange(phys + (r.Start - virt), phys + (r.End - virt)));
        }
    }

    private SimCgroup? CgroupAt(string path, bool create)
    {
        SimCgroup c = CgroupRoot;
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!c.Children.TryGetValue(part, out SimCgroup? child))
            {
                if (!create)
                {
                    return null;
                }

                child = NewCgroup(c, part);
            }

            c = child;
        }

        return c;
    }

    private SimCgroup NewCgroup(SimCgroup parent, string name)
    {
        if (name.Contains('.', StringComparison.Ordinal) && IsInterfaceName(name))
        {
            throw new KernelIoException(Errno.EINVAL, parent.Path + "/" + name, "mkdir (interface file name)");
        }

        VDir dir = parent.Dir.Dir(name);
        var c = new SimCgroup(name, parent, nextCgroupInode++, dir);
        parent.Children[name] = c;
        PopulateCgroupDir(c);
        return c;
    }

    private static bool IsInterfaceName(string name) =>
        name.StartsWith("cgroup.", StringComparison.Ordinal) || name.StartsWith("memory.", StringComparison.Ordinal);

    private void RemoveCgroupLocked(SimCgroup c)
    {
        if (c.Parent is null)
        {
            throw new KernelIoException(Errno.EBUSY, CgroupMount, "rmdir (the root cgroup)");
        }

        if (c.Children.Count > 0 || Processes.All.Any(p => p.Workload is not null && ReferenceEquals(p.Cgroup, c)))
        {
            throw new KernelIoException(Errno.EBUSY, c.Dir.FullPath, "rmdir");
        }

        c.Online = false;
        c.Parent.Children.Remove(c.Name);
        c.Parent.Dir.Remove(c.Name);
    }

    private void PopulateCgroupDir(SimCgroup c)
    {
        VDir d = c.Dir;
        d.Func("cgroup.controllers", () => "cpuset cpu io memory hugetlb pids rdma misc\n");
        d.Func("cgroup.procs", () => CgroupProcs(c), text =>
        {
            if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || Processes.Get(pid) is not { } p)
            {
                throw new KernelIoException(Errno.EINVAL, d.FullPath + "/cgroup.procs", "write");
            }

            p.Cgroup = c;
        });
        d.Func("memory.current", () => ChargedBytes(c).ToString(CultureInfo.InvariantCulture) + "\n");
        d.OnMkdir = name => NewCgroup(c, name).Dir;
        d.OnRmdir = child =>
        {
            if (c.Children.TryGetValue(child.Name, out SimCgroup? sc))
            {
                RemoveCgroupLocked(sc);
            }
        };
    }

    private string CgroupProcs(SimCgroup c)
    {
        var sb = new StringBuilder();
        foreach (SimProcess p in Processes.All.Where(p => p.Workload is not null && ReferenceEquals(p.Cgroup, c)).OrderBy(p => p.Pid))
        {
            sb.Append(p.Pid.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return sb.ToString();
    }

    private ulong ChargedBytes(SimCgroup c)
    {
        ulong total = 0;
        foreach (SimProcess p in Processes.All)
        {
            if (p.Workload is not null && p.ChargedTo is not null && c.Contains(p.ChargedTo.Effective))
            {
                total += p.ResidentBytes;
            }
        }

        return total;
    }

    // GetInode of a cgroup directory is its cgroup's inode; any other node gets a stable number.
    private readonly Dictionary<VNode, ulong> otherInodes = new(ReferenceEqualityComparer.Instance);
    private ulong nextOtherInode = 1UL << 40;

    private ulong InodeOf(VNode node)
    {
        if (node is VDir d && FindCgroup(CgroupRoot, d) is { } c)
        {
            return c.Inode;
        }

        if (!otherInodes.TryGetValue(node, out ulong ino))
        {
            ino = nextOtherInode++;
            otherInodes[node] = ino;
        }

        return ino;
    }

    private static SimCgroup? FindCgroup(SimCgroup from, VDir dir)
    {
        if (ReferenceEquals(from.Dir, dir))
        {
            return from;
        }

        // Walk down along the directory's own ancestry (cheap: depth of the path).
        var chain = new Stack<VDir>();
        for (VDir? x = dir; x is not null && !ReferenceEquals(x, from.Dir); x = x.Parent)
        {
            chain.Push(x);
        }

        SimCgroup c = from;
        while (chain.Count > 0)
        {
            if (!c.Children.TryGetValue(chain.Pop().Name, out SimCgroup? next))
            {
                return null;
            }

            c = next;
        }

        return ReferenceEquals(c.Dir, dir) ? c : null;
    }
}
