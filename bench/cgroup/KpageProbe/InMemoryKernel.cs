using DamonOtel.Damon.IO;

namespace KpageProbe;

/// <summary>
/// A synthetic machine for the prototype: page frames owned by cgroups (kpagecgroup), flags
/// (kpageflags) and a cgroup directory tree with inode numbers. What the Simulator must model
/// for per-cgroup tests, in its smallest form.
/// </summary>
internal sealed class InMemoryKernel : IKernelFs, IKernelPageFs
{
    private readonly Dictionary<string, ulong> directories = new(StringComparer.Ordinal);

    public InMemoryKernel(ulong frames)
    {
        CgroupOf = new ulong[frames];
        FlagsOf = new ulong[frames];
    }

    public ulong[] CgroupOf { get; }

    public ulong[] FlagsOf { get; }

    public void AddDirectory(string path, ulong inode) => directories[path.TrimEnd('/')] = inode;

    public IPageFrameFile OpenPageFrameFile(string path) => path.EndsWith("kpagecgroup", StringComparison.Ordinal)
        ? new Frames(CgroupOf)
        : path.EndsWith("kpageflags", StringComparison.Ordinal) ? new Frames(FlagsOf) : throw new KernelIoException(Errno.ENOENT, path, "open");

    public ulong GetInode(string path) =>
        directories.TryGetValue(path.TrimEnd('/'), out ulong ino) ? ino : throw new KernelIoException(Errno.ENOENT, path, "statx");

    public IReadOnlyList<string> ListDirectory(string path)
    {
        string prefix = path.TrimEnd('/') + "/";
        var names = new List<string> { "cgroup.procs", "memory.current", "memory.stat" };
        foreach (string d in directories.Keys)
        {
            if (d.StartsWith(prefix, StringComparison.Ordinal) && !d.AsSpan(prefix.Length).Contains('/'))
            {
                names.Add(d[prefix.Length..]);
            }
        }

        return names;
    }

    public bool DirectoryExists(string path) => directories.ContainsKey(path.TrimEnd('/'));

    public bool FileExists(string path) => false;

    public string ReadText(string path) => throw new NotSupportedException(path);

    public int ReadBytes(string path, Span<byte> buffer) => throw new NotSupportedException(path);

    public void WriteText(string path, string text) => throw new NotSupportedException(path);

    public void CreateDirectory(string path) => throw new NotSupportedException(path);

    public void RemoveDirectory(string path) => throw new NotSupportedException(path);

    public Stream OpenPipe(string path) => throw new NotSupportedException(path);

    private sealed class Frames(ulong[] data) : IPageFrameFile
    {
        public int Read(ulong pfn, Span<ulong> entries)
        {
            if (pfn >= (ulong)data.Length)
            {
                return 0;
            }

            int n = (int)Math.Min((ulong)entries.Length, (ulong)data.Length - pfn);
            data.AsSpan((int)pfn, n).CopyTo(entries);
            return n;
        }

        public void Dispose()
        {
        }
    }
}
