using System.Text;
using DamonOtel.Damon.IO;

namespace DamonOtel.TestSupport;

/// <summary>
/// The common part of the in-memory kernel trees of the tests (a fake DAMON sysfs, a fake
/// tracefs): files and directories by absolute path, reads, listings, and writes to existing
/// files only (ENOENT otherwise, as sysfs does). Subclasses give writes, mkdir, rmdir and pipes
/// their kernel's meaning. Not thread-safe.
/// </summary>
public abstract class InMemoryKernelFs : IKernelFs
{
    protected readonly Dictionary<string, string> files = new(StringComparer.Ordinal);
    protected readonly HashSet<string> dirs = new(StringComparer.Ordinal);

    public string ReadText(string path) =>
        files.TryGetValue(path, out string? v) ? v : throw new KernelIoException(Errno.ENOENT, path, "read");

    public int ReadBytes(string path, Span<byte> buffer)
    {
        byte[] b = Encoding.UTF8.GetBytes(ReadText(path));
        int n = Math.Min(b.Length, buffer.Length);
        b.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public void WriteText(string path, string text)
    {
        if (!files.ContainsKey(path))
        {
            throw new KernelIoException(Errno.ENOENT, path, "write");
        }

        Write(path, text);
    }

    public IReadOnlyList<string> ListDirectory(string path)
    {
        if (!dirs.Contains(path))
        {
            throw new KernelIoException(Errno.ENOENT, path, "list");
        }

        string prefix = path + "/";
        return files.Keys.Concat(dirs)
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal) && !p[prefix.Length..].Contains('/', StringComparison.Ordinal))
            .Select(p => p[prefix.Length..])
            .ToList();
    }

    public bool FileExists(string path) => files.ContainsKey(path);

    public bool DirectoryExists(string path) => dirs.Contains(path);

    public abstract void CreateDirectory(string path);

    public abstract void RemoveDirectory(string path);

    public abstract Stream OpenPipe(string path);

    /// <summary>A write to an existing file.</summary>
    protected abstract void Write(string path, string text);

    /// <summary>Removes <paramref name="dir"/> with everything below it.</summary>
    protected void RemoveTree(string dir)
    {
        string prefix = dir + "/";
        dirs.RemoveWhere(d => d == dir || d.StartsWith(prefix, StringComparison.Ordinal));
        foreach (string f in files.Keys.Where(f => f.StartsWith(prefix, StringComparison.Ordinal)).ToList())
        {
            files.Remove(f);
        }
    }
}
