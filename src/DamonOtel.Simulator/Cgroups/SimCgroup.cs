namespace DamonOtel.Simulator;

/// <summary>
/// One cgroup v2 directory of the simulated cgroupfs. Memory is charged to the cgroup of the
/// process that faulted it in and stays charged when the process moves; once a cgroup is
/// removed, its remaining pages report the nearest online ancestor (as the kernel's
/// page_cgroup_ino does for an offline memcg).
/// </summary>
internal sealed class SimCgroup(string name, SimCgroup? parent, ulong inode, VDir dir)
{
    public string Name { get; } = name;

    public SimCgroup? Parent { get; } = parent;

    /// <summary>The directory's inode number: what /proc/kpagecgroup reports for its pages.</summary>
    public ulong Inode { get; } = inode;

    public VDir Dir { get; } = dir;

    public bool Online { get; set; } = true;

    public Dictionary<string, SimCgroup> Children { get; } = new(StringComparer.Ordinal);

    /// <summary>Path relative to the cgroupfs mount, with a leading '/' ("/" for the root).</summary>
    public string Path => Parent is null ? "/" : Parent.Parent is null ? "/" + Name : Parent.Path + "/" + Name;

    /// <summary>This cgroup, or its nearest online ancestor when it was removed.</summary>
    public SimCgroup Effective
    {
        get
        {
            SimCgroup c = this;
            while (!c.Online && c.Parent is not null)
            {
                c = c.Parent;
            }

            return c;
        }
    }

    /// <summary>Whether <paramref name="other"/> is this cgroup or one of its descendants.</summary>
    public bool Contains(SimCgroup other)
    {
        for (SimCgroup? c = other; c is not null; c = c.Parent)
        {
            if (ReferenceEquals(c, this))
            {
                return true;
            }
        }

        return false;
    }
}
