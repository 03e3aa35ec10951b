using System.Globalization;
using System.Text;

namespace DamonOtel.Damon.IO;

/// <summary>
/// One directory held open for many reads below it (a scheme's tried_regions: ~4,000 small
/// files per walk). On Linux the reads are openat(2) relative to the directory's descriptor
/// with names the caller encodes once, so the kernel resolves 2 path components per file
/// instead of the 13 of an absolute sysfs path and nothing is marshalled per read.
/// </summary>
public interface IKernelDirectory : IDisposable
{
    /// <summary>The directory's absolute path (for messages).</summary>
    string Path { get; }

    /// <summary>
    /// Adds the entries whose names are decimal numbers (no sign, no leading '+') to
    /// <paramref name="numbers"/>, in no particular order, and returns the other names.
    /// </summary>
    IReadOnlyList<string> ListNumbered(List<int> numbers);

    /// <summary>
    /// Reads up to <paramref name="buffer"/>.Length bytes from the start of the file at
    /// <paramref name="relativePath"/> (UTF-8, relative to this directory, no NUL) with one
    /// open/read/close; returns the byte count. Failures throw <see cref="KernelIoException"/>
    /// naming the full path.
    /// </summary>
    int ReadBytes(ReadOnlySpan<byte> relativePath, Span<byte> buffer);
}

/// <summary>
/// <see cref="IKernelDirectory"/> over any <see cref="IKernelFs"/> by joining paths (the
/// Simulator, test file systems): the same answers as the descriptor-based one, with one
/// string per read.
/// </summary>
public sealed class PathKernelDirectory(IKernelFs fs, string path) : IKernelDirectory
{
    public string Path { get; } = path;

    public IReadOnlyList<string> ListNumbered(List<int> numbers)
    {
        ArgumentNullException.ThrowIfNull(numbers);
        var others = new List<string>();
        foreach (string name in fs.ListDirectory(Path))
        {
            if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            {
                numbers.Add(n);
            }
            else
            {
                others.Add(name);
            }
        }

        return others;
    }

    public int ReadBytes(ReadOnlySpan<byte> relativePath, Span<byte> buffer) =>
        fs.ReadBytes(System.IO.Path.Combine(Path, Encoding.UTF8.GetString(relativePath)), buffer);

    public void Dispose()
    {
    }
}
