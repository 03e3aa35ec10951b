using DamonOtel.Damon.IO;

namespace DamonOtel.Damon.Cgroups;

/// <summary>Which cgroups to report: explicit paths and/or globs (relative to the cgroup2 mount), at most <see cref="MaxGroups"/>.</summary>
public sealed record CgroupSelection(IReadOnlyList<string> Paths, IReadOnlyList<CgroupPathGlob> Globs, int MaxGroups);

/// <summary>A reported cgroup: its path relative to the mount and, under kubepods, its pod/container identity.</summary>
public sealed record SelectedCgroup(int Index, string RelativePath, KubepodsIdentity? Kubernetes);

/// <summary>
/// The selected cgroups and the inode → selected-group map that <c>/proc/kpagecgroup</c> answers
/// are looked up in. Memory is charged to the cgroup whose task faulted it in (for pods: the
/// container cgroups, not the pod's), so every directory inode below a selected group maps to it.
/// The topmost match wins: a selected group's descendants are never selected themselves.
/// </summary>
public sealed class CgroupCatalog
{
    // Bounds the memory of inodes seen and known to be unselected (cgroups come and go for ever).
    private const int MaxKnownOther = 65_536;

    private readonly Dictionary<ulong, int> ownerByInode;
    private readonly HashSet<ulong> knownOther = [];

    private CgroupCatalog(List<SelectedCgroup> groups, Dictionary<ulong, int> ownerByInode, int dropped, int visited)
    {
        Groups = groups;
        this.ownerByInode = ownerByInode;
        DroppedByCap = dropped;
        DirectoriesVisited = visited;
    }

    public IReadOnlyList<SelectedCgroup> Groups { get; }

    /// <summary>Matching cgroups left out because <see cref="CgroupSelection.MaxGroups"/> was reached (export it: silent truncation misleads).</summary>
    public int DroppedByCap { get; }

    /// <summary>Directories stat-ed or listed by the discovery (its cost).</summary>
    public int DirectoriesVisited { get; }

    /// <summary>Selected-group index for a page's cgroup inode; false for 0 (no memcg) and for unselected cgroups.</summary>
    public bool TryGetOwner(ulong inode, out int index) => ownerByInode.TryGetValue(inode, out index);

    /// <summary>Whether <paramref name="inode"/> was seen before and is known not to belong to a selected group.</summary>
    public bool IsKnownOther(ulong inode) => knownOther.Contains(inode);

    /// <summary>Records inodes that are not selected (found after a discovery), so they no longer count as unknown.</summary>
    public void MarkKnownOther(IReadOnlyCollection<ulong> inodes)
    {
        ArgumentNullException.ThrowIfNull(inodes);
        if (knownOther.Count + inodes.Count > MaxKnownOther)
        {
            knownOther.Clear();
        }

        foreach (ulong inode in inodes)
        {
            if (!ownerByInode.ContainsKey(inode))
            {
                knownOther.Add(inode);
            }
        }
    }

    /// <summary>Carries the unselected inodes learnt by <paramref name="previous"/> over (those this catalog selects excepted).</summary>
    public void InheritKnownOther(CgroupCatalog previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        MarkKnownOther(previous.knownOther);
    }

    public static CgroupCatalog Discover(IKernelFs fs, IKernelPageFs pageFs, string mount, CgroupSelection selection)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(pageFs);
        ArgumentNullException.ThrowIfNull(selection);
        var groups = new List<SelectedCgroup>();
        var owners = new Dictionary<ulong, int>();
        var explicitPaths = new HashSet<string>(selection.Paths.Select(p => p.Trim('/')), StringComparer.Ordinal);
        int dropped = 0, visited = 0;
        var pending = new Stack<string>();
        pending.Push("");
        while (pending.Count > 0)
        {
            string rel = pending.Pop();
            bool selected = rel.Length > 0 && (explicitPaths.Contains(rel) || selection.Globs.Any(g => g.IsMatch(rel)));
            if (selected)
            {
                if (groups.Count >= selection.MaxGroups)
                {
                    dropped++;
                    continue;
                }

                int index = groups.Count;
                groups.Add(new SelectedCgroup(index, "/" + rel, KubepodsPath.TryParse(rel, out KubepodsIdentity id) ? id : null));
                visited += MapSubtree(fs, pageFs, mount, rel, index, owners);
                continue;
            }

            bool descend = rel.Length == 0
                || explicitPaths.Any(p => p.StartsWith(rel + "/", StringComparison.Ordinal))
                || selection.Globs.Any(g => g.CouldMatchBelow(rel));
            if (!descend)
            {
                continue;
            }

            visited++;
            List<string> children = ChildDirectories(fs, Join(mount, rel));
            // Reverse ordinal push: popped in ordinal order, so the cap keeps a stable, predictable set.
            for (int i = children.Count - 1; i >= 0; i--)
            {
                pending.Push(rel.Length == 0 ? children[i] : rel + "/" + children[i]);
            }
        }

        return new CgroupCatalog(groups, owners, dropped, visited);
    }

    private static int MapSubtree(IKernelFs fs, IKernelPageFs pageFs, string mount, string rel, int index, Dictionary<ulong, int> owners)
    {
        int visited = 0;
        var pending = new Stack<string>();
        pending.Push(Join(mount, rel));
        while (pending.Count > 0)
        {
            string dir = pending.Pop();
            visited++;
            try
            {
                owners[pageFs.GetInode(dir)] = index;
                foreach (string child in ChildDirectories(fs, dir))
                {
                    pending.Push(dir + "/" + child);
                }
            }
            catch (KernelIoException e) when (e.Errno == Errno.ENOENT)
            {
                // Removed while we walked (pod churn): its pages go to the parent, which is mapped.
            }
        }

        return visited;
    }

    // Interface files of cgroup v2 are "<controller>.<name>"; skipping them by prefix saves a
    // stat per file (70-odd files per cgroup directory).
    private static readonly string[] InterfacePrefixes =
        ["cgroup.", "memory.", "cpu.", "cpuset.", "io.", "pids.", "hugetlb.", "rdma.", "misc.", "dmem."];

    private static List<string> ChildDirectories(IKernelFs fs, string dir)
    {
        var result = new List<string>();
        IReadOnlyList<string> names;
        try
        {
            names = fs.ListDirectory(dir);
        }
        catch (KernelIoException e) when (e.Errno == Errno.ENOENT)
        {
            return result;
        }

        foreach (string name in names)
        {
            if (InterfacePrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
            {
                continue;
            }

            if (fs.DirectoryExists(dir + "/" + name))
            {
                result.Add(name);
            }
        }

        result.Sort(StringComparer.Ordinal);
        return result;
    }

    private static string Join(string mount, string rel) => rel.Length == 0 ? mount.TrimEnd('/') : mount.TrimEnd('/') + "/" + rel;
}
