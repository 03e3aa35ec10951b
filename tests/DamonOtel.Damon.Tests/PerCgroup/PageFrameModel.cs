using DamonOtel.Damon.IO;
using DamonOtel.TestSupport;

namespace DamonOtel.Damon.Tests.PerCgroup;

/// <summary>
/// A page-frame model built by each test: per frame a memory-cgroup inode and kpageflags bits,
/// and a cgroup directory tree with inode numbers. The Simulator has the full model; this one
/// lets unit tests pin every frame. Counts the positional reads.
/// </summary>
internal sealed class PageFrameModel(int frames) : InMemoryKernelFs, IKernelPageFs
{
    public const ulong KpfLru = 1UL << 5, KpfSlab = 1UL << 7, KpfBuddy = 1UL << 10, KpfAnon = 1UL << 12, KpfNoPage = 1UL << 20;

    private readonly Dictionary<string, ulong> inodes = new(StringComparer.Ordinal);

    public ulong[] Cgroup { get; } = new ulong[frames];

    public ulong[] Flags { get; } = new ulong[frames];

    public int CgroupReads { get; private set; }

    public int FlagReads { get; private set; }

    /// <summary>A cgroup directory with its inode and two interface files (which discovery must skip).</summary>
    public void Dir(string path, ulong inode)
    {
        dirs.Add(path);
        inodes[path] = inode;
        files[path + "/cgroup.procs"] = string.Empty;
        files[path + "/memory.stat"] = string.Empty;
    }

    public void Fill(int from, int to, ulong inode, ulong flags)
    {
        Cgroup.AsSpan(from, to - from).Fill(inode);
        Flags.AsSpan(from, to - from).Fill(flags);
    }

    public IPageFrameFile OpenPageFrameFile(string path) =>
        path.EndsWith("/kpagecgroup", StringComparison.Ordinal) ? new Frames(this, Cgroup, true)
        : path.EndsWith("/kpageflags", StringComparison.Ordinal) ? new Frames(this, Flags, false)
        : throw new KernelIoException(Errno.ENOENT, path, "open");

    public ulong GetInode(string path) => inodes.TryGetValue(path, out ulong ino) ? ino : throw new KernelIoException(Errno.ENOENT, path, "statx");

    public override void CreateDirectory(string path) => throw new NotSupportedException();

    public override void RemoveDirectory(string path) => throw new NotSupportedException();

    public override Stream OpenPipe(string path) => throw new NotSupportedException();

    protected override void Write(string path, string text) => throw new NotSupportedException();

    private sealed class Frames(PageFrameModel model, ulong[] data, bool cgroup) : IPageFrameFile
    {
        public int Read(ulong pfn, Span<ulong> entries)
        {
            if (cgroup)
            {
                model.CgroupReads++;
            }
            else
            {
                model.FlagReads++;
            }

            int n = (int)Math.Min((ulong)entries.Length, (ulong)data.Length - Math.Min(pfn, (ulong)data.Length));
            data.AsSpan((int)Math.Min(pfn, (ulong)data.Length), n).CopyTo(entries);
            return n;
        }

        public void Dispose()
        {
        }
    }
}
