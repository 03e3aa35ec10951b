using DamonOtel.Damon.IO;

namespace DamonOtel.Damon.Tests.Support;

/// <summary>Checked-in fixture trees (copied next to the test assembly).</summary>
internal static class Fixtures
{
    public static string Dir(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static KernelRoots Roots(string name) => KernelRoots.Under(Dir(name));

    /// <summary>A private writable copy of a fixture under the temp dir.</summary>
    public static string CopyToTemp(string name)
    {
        string dest = Path.Combine(Path.GetTempPath(), "damonotel-" + name + "-" + Guid.NewGuid().ToString("N"));
        CopyDir(Dir(name), dest);
        return dest;
    }

    private static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from))
        {
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        }

        foreach (string d in Directory.GetDirectories(from))
        {
            CopyDir(d, Path.Combine(to, Path.GetFileName(d)));
        }
    }
}

/// <summary>
/// Decorator that counts every mutating call and lets a test hook reads and listings
/// (to inject EBUSY or make a directory vanish right after it was listed).
/// </summary>
internal sealed class RecordingKernelFs(IKernelFs inner) : IKernelFs
{
    public int Writes { get; private set; }

    public int Mkdirs { get; private set; }

    public int Rmdirs { get; private set; }

    public List<string> Reads { get; } = [];

    public Action<string>? BeforeRead { get; set; }

    public Action<string>? AfterRead { get; set; }

    public Action<string>? AfterList { get; set; }

    public string ReadText(string path)
    {
        BeforeRead?.Invoke(path);
        Reads.Add(path);
        string s = inner.ReadText(path);
        AfterRead?.Invoke(path);
        return s;
    }

    public int ReadBytes(string path, Span<byte> buffer)
    {
        BeforeRead?.Invoke(path);
        Reads.Add(path);
        int n = inner.ReadBytes(path, buffer);
        AfterRead?.Invoke(path);
        return n;
    }

    public void WriteText(string path, string text)
    {
        Writes++;
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
        Mkdirs++;
        inner.CreateDirectory(path);
    }

    public void RemoveDirectory(string path)
    {
        Rmdirs++;
        inner.RemoveDirectory(path);
    }

    public Stream OpenPipe(string path) => inner.OpenPipe(path);
}
