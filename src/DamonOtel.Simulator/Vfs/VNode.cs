namespace DamonOtel.Simulator;

// The simulated pseudo-filesystems: a tree of directories and files whose reads and writes
// run code (like sysfs attributes). Everything is guarded by the kernel's single lock.
internal abstract class VNode(string name)
{
    public string Name { get; set; } = name;

    public VDir? Parent { get; set; }

    public string FullPath
    {
        get
        {
            if (Parent is null)
            {
                return "/";
            }

            string parent = Parent.FullPath;
            return parent == "/" ? "/" + Name : parent + "/" + Name;
        }
    }

    /// <summary>False once removed from the tree (a read of a stale handle then fails with ENOENT).</summary>
    public bool Attached
    {
        get
        {
            VNode n = this;
            while (n.Parent is not null)
            {
                if (!n.Parent.Children.TryGetValue(n.Name, out VNode? c) || !ReferenceEquals(c, n))
                {
                    return false;
                }

                n = n.Parent;
            }

            return true;
        }
    }
}
