using DamonOtel.Damon.IO;

namespace DamonOtel.Agent.Tests.Interop;

/// <summary>Files of a sysfs-like tree as relative path → content (trimmed), from an <see cref="IKernelFs"/> or a real directory.</summary>
internal static class SysfsTree
{
    public static SortedDictionary<string, string> Read(IKernelFs fs, string dir)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        Walk(fs, dir, string.Empty, files);
        return files;
    }

    public static SortedDictionary<string, string> ReadDisk(string dir)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            files[Path.GetRelativePath(dir, file)] = File.ReadAllText(file).Trim();
        }

        return files;
    }

    /// <summary>Copies every directory and file under <paramref name="dir"/> of <paramref name="fs"/> to <paramref name="target"/> on disk.</summary>
    public static void CopyToDisk(IKernelFs fs, string dir, string target)
    {
        Directory.CreateDirectory(target);
        foreach (string name in fs.ListDirectory(dir))
        {
            string path = Path.Combine(dir, name);
            if (fs.DirectoryExists(path))
            {
                CopyToDisk(fs, path, Path.Combine(target, name));
            }
            else
            {
                File.WriteAllText(Path.Combine(target, name), fs.ReadText(path));
            }
        }
    }

    private static void Walk(IKernelFs fs, string dir, string relative, SortedDictionary<string, string> files)
    {
        foreach (string name in fs.ListDirectory(dir))
        {
            string path = Path.Combine(dir, name);
            string rel = relative.Length == 0 ? name : relative + "/" + name;
            if (fs.DirectoryExists(path))
            {
                Walk(fs, path, rel, files);
            }
            else
            {
                files[rel] = fs.ReadText(path).Trim();
            }
        }
    }
}
