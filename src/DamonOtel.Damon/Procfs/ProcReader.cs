using System.Globalization;
using System.Text.RegularExpressions;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Damon.Procfs;

/// <summary>
/// The few /proc facts DamonOtel needs, all under <see cref="KernelRoots.Procfs"/>: kdamond
/// CPU time, process RSS, System RAM ranges (paddr targets), pid lookup by name/cmdline, and
/// the kernel release and host name (the telemetry resource).
/// </summary>
public sealed class ProcReader(IKernelFs fs, KernelRoots roots, int? pageSize = null)
{
    private readonly IKernelFs fs = fs ?? throw new ArgumentNullException(nameof(fs));
    private readonly KernelRoots roots = roots ?? throw new ArgumentNullException(nameof(roots));
    private readonly int pageSize = pageSize ?? Environment.SystemPageSize;

    /// <summary>utime + stime of <paramref name="pid"/> in seconds; null when the process is gone.</summary>
    public double? ReadCpuSeconds(int pid) => ReadCpuTicks(pid)?.CpuSeconds;

    /// <summary>comm, utime and stime of <paramref name="pid"/>; null when the process is gone.</summary>
    public ProcCpuTicks? ReadCpuTicks(int pid)
    {
        string path = roots.Proc(Pid(pid), "stat");
        return Optional(path) is { } text ? SysfsParsers.ParseProcStat(text, path) : null;
    }

    /// <summary>Resident set size in bytes (statm pages × page size); null when the process is gone.</summary>
    public ulong? ReadRssBytes(int pid)
    {
        string path = roots.Proc(Pid(pid), "statm");
        return Optional(path) is { } text ? SysfsParsers.ParseStatmResidentPages(text, path) * (ulong)pageSize : null;
    }

    /// <summary>Top-level System RAM ranges of /proc/iomem, sorted (empty for non-root readers, who see zeros).</summary>
    public IReadOnlyList<AddressRange> ReadSystemRam()
    {
        string path = roots.Proc("iomem");
        return SysfsParsers.ParseIomemSystemRam(fs.ReadText(path), path);
    }

    /// <summary>The kernel release (/proc/sys/kernel/osrelease); null when absent or empty.</summary>
    public string? ReadKernelRelease() => NonEmptyLine(Optional(roots.Proc("sys", "kernel", "osrelease")));

    /// <summary>The host name (/proc/sys/kernel/hostname); null when absent or empty.</summary>
    public string? ReadHostName() => NonEmptyLine(Optional(roots.Proc("sys", "kernel", "hostname")));

    /// <summary>
    /// Pids whose /proc/&lt;pid&gt;/comm equals <paramref name="name"/> (compared on the
    /// kernel's 15-character truncation), sorted. Processes that exit during the scan are skipped.
    /// </summary>
    public IReadOnlyList<int> FindPidsByName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        string wanted = name.Length > 15 ? name[..15] : name;
        var pids = new List<int>();
        foreach ((int pid, string dir) in Processes())
        {
            string? comm = Optional(Path.Combine(dir, "comm"));
            if (comm is not null && SysfsParsers.ParseLine(comm) == wanted)
            {
                pids.Add(pid);
            }
        }

        return pids;
    }

    /// <summary>
    /// Pids whose command line (NUL-separated arguments joined with single spaces) matches
    /// <paramref name="pattern"/>, sorted. Kernel threads (empty cmdline) never match.
    /// </summary>
    public IReadOnlyList<int> FindPidsByCmdline(Regex pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var pids = new List<int>();
        foreach ((int pid, string dir) in Processes())
        {
            string? raw = Optional(Path.Combine(dir, "cmdline"));
            if (string.IsNullOrEmpty(raw))
            {
                continue;
            }

            string cmdline = raw.TrimEnd('\0').Replace('\0', ' ');
            if (pattern.IsMatch(cmdline))
            {
                pids.Add(pid);
            }
        }

        return pids;
    }

    private List<(int Pid, string Dir)> Processes()
    {
        var result = new List<(int, string)>();
        foreach (string name in fs.ListDirectory(roots.Procfs))
        {
            if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                result.Add((pid, Path.Combine(roots.Procfs, name)));
            }
        }

        result.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return result;
    }

    // A process that exits between open and read answers ESRCH (not in the shared Errno enum).
    private const int Esrch = 3;

    private static string? NonEmptyLine(string? text) => text?.Trim() is { Length: > 0 } t ? t : null;

    private static string Pid(int pid) => pid.ToString(CultureInfo.InvariantCulture);

    private string? Optional(string path)
    {
        try
        {
            return fs.ReadText(path);
        }
        catch (KernelIoException e) when (e.IsNotFound || (int)e.Errno == Esrch)
        {
            return null;
        }
    }
}
