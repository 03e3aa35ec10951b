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
