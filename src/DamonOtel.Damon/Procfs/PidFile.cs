using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Damon.Procfs;

/// <summary>A pid file's process id and what fstat said about the file (owner, mode) when it was read.</summary>
public sealed record PidFileContent(int Pid, FileFacts Facts);

/// <summary>
/// Reads a pid file the way a root daemon must: a symbolic link is not followed (the directory
/// may belong to the service's user), FIFOs and devices are refused and the open never blocks,
/// and at most <see cref="MaxBytes"/> are read. The first line must be the pid. Owner and mode
/// are returned for the caller's ownership policy. Every problem is a
/// <see cref="SafeFileException"/> naming the file.
/// </summary>
public static class PidFile
{
    /// <summary>A pid file holds a number and a newline; more than a page is not one.</summary>
    public const int MaxBytes = 4096;

    private static readonly SafeReadOptions Options = new() { MaxBytes = MaxBytes, FollowSymlink = false };

    public static PidFileContent Read(string path)
    {
        SafeFileContent content = SafeFile.Read(path, Options);
        string text = content.Text;
        int newline = text.IndexOf('\n', StringComparison.Ordinal);
        ReadOnlySpan<char> first = (newline < 0 ? text : text[..newline]).AsSpan().Trim();
        if (!int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid <= 0)
        {
            string shown = first.Length > 40 ? string.Concat(first[..37], "...") : first.ToString();
            throw new SafeFileException(path, $"does not hold a process id on its first line (\"{shown}\")");
        }

        return new PidFileContent(pid, content.Facts);
    }
}
