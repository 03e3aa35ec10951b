using DamonOtel.Damon.IO;

namespace DamonOtel.TestSupport;

/// <summary>
/// A decorator of any <see cref="IKernelFs"/> (a fixture tree, the Simulator) that records every
/// call changing the kernel's files, counts them, and lets a test hook reads and listings (to
/// inject EBUSY, or make a directory vanish right after it was listed). Thread-safe.
/// </summary>
public sealed class RecordingKernelFs(IKernelFs inner) : IKernelFs
{
    private readonly List<string> mutations = [];
    private readonly List<string> reads = [];

    /// <summary>"write PATH VALUE", "mkdir PATH", "rmdir PATH", in order.</summary>
    public IReadOnlyList<string> Mutations
    {
        get
        {
            lock (mutations)
            {
                return [.. mutations];
            }
        }
    }

    /// <summary>Every path read, in order.</summary>
    public IReadOnlyList<string> Reads
    {
        get
        {
            lock (reads)
            {
                return [.. reads];
            }
        }
    }

    public int Writes => Count("write ");

    public int Mkdirs => Count("mkdir ");

    public int Rmdirs => Count("rmdir ");

    public Action<string>? BeforeRead { get; set; }

    public Action<string>? AfterRead { get; set; }

    public Action<string>? AfterList { get; set; }

    public string ReadText(string path)
    {
        BeforeRead?.Invoke(path);
        Record(reads, path);
        string s = inner.ReadText(path);
        AfterRead?.Invoke(path);
        return s;
    }

    public int ReadBytes(string path, Span<byte> buffer)
    {
        BeforeRead?.Invoke(path);
        Record(reads, path);
        int n = inner.ReadBytes(path, buffer);
        AfterRead?.Invoke(path);
        return n;
    }

    public void WriteText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Record(mutations, $"write {path} {text.Trim()}");
        inner.WriteText(path, text);
    }

    public IReadOnlyList<string> ListDirectory(string path)
    {
        IReadOnlyList<string> names = inner.ListDirectory(path);
        AfterList?.Invoke(path);
        return names;
    }

    public bool FileExists(string path) => inner.FileExists(path);

    public bool DirectoryExists(string path) => inner.DirectoryExists(path);

    public void CreateDirectory(string path)
    {
        Record(mutations, $"mkdir {path}");
        inner.CreateDirectory(path);
    }

    public void RemoveDirectory(string path)
    {
        Record(mutations, $"rmdir {path}");
        inner.RemoveDirectory(path);
    }

    public Stream OpenPipe(string path) => inner.OpenPipe(path);

    private static void Record(List<string> list, string what)
    {
        lock (list)
        {
            list.Add(what);
        }
    }

    private int Count(string prefix)
    {
        lock (mutations)
        {
            return mutations.Count(m => m.StartsWith(prefix, StringComparison.Ordinal));
        }
    }
}
