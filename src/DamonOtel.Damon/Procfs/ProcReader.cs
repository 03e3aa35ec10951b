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

    /// <summary>
    /// Every process of /proc with its stat fields, sorted by pid, in one pass (one read per
    /// process). Processes that exit during the scan and kernel threads are left out, and so are
    /// zombies (their memory is gone).
    /// </summary>
    public IReadOnlyList<ProcessStat> ReadUserProcesses()
    {
        var result = new List<ProcessStat>();
        foreach ((int pid, string dir) in Processes())
        {
            string path = Path.Combine(dir, "stat");
            if (Optional(path) is { } text && ProcessStat.Parse(text, path) is { IsKernelThread: false, IsZombie: false } s)
            {
                result.Add(s);
            }
        }

        return result;
    }

    /// <summary>/proc/&lt;pid&gt;/stat of one process; null when it is gone.</summary>
    public ProcessStat? ReadProcess(int pid)
    {
        string path = roots.Proc(Pid(pid), "stat");
        return Optional(path) is { } text ? ProcessStat.Parse(text, path) : null;
    }

    /// <summary>True when <paramref name="id"/> still runs: same pid, same start time, not a zombie.</summary>
    public bool IsRunning(ProcessIdentity id) =>
        ReadProcess(id.Pid) is { IsZombie: false } s && s.StartTicks == id.StartTicks;

    /// <summary>The uids of /proc/&lt;pid&gt;/status; null when the process is gone.</summary>
    public ProcessUids? ReadUids(int pid)
    {
        string path = roots.Proc(Pid(pid), "status");
        return Optional(path) is { } text ? ProcessUids.Parse(text, path) : null;
    }

    /// <summary>
    /// The executable (readlink /proc/&lt;pid&gt;/exe); null when the process is gone or the link
    /// cannot be read (no permission, or a process without an executable).
    /// </summary>
    public string? ReadExecutable(int pid)
    {
        try
        {
            return fs.ReadLink(roots.Proc(Pid(pid), "exe"));
        }
        catch (KernelIoException e) when (e.IsNotFound || (int)e.Errno == Esrch || e.Errno is Errno.EACCES or Errno.EPERM or Errno.EINVAL)
        {
            return null;
        }
    }

    /// <summary>The command line, NUL-separated arguments joined with single spaces; null when gone, empty for kernel threads.</summary>
    public string? ReadCommandLine(int pid) =>
        Optional(roots.Proc(Pid(pid), "cmdline")) is { } raw ? raw.TrimEnd('\0').Replace('\0', ' ') : null;

    /// <summary>
    /// The mappings of <paramref name="pid"/> (/proc/&lt;pid&gt;/maps, see <see cref="MappedRanges.Parse"/>)
    /// into <paramref name="into"/>; false when the process is gone.
    /// </summary>
    public bool ReadMappings(int pid, List<AddressRange> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        string path = roots.Proc(Pid(pid), "maps");
        if (Optional(path) is not { } text)
        {
            into.Clear();
            return false;
        }

        MappedRanges.Parse(text, into, path);
        return true;
    }

    /// <summary>The boot time in seconds since the epoch ("btime" of /proc/stat); null when absent.</summary>
    public long? ReadBootTimeSeconds()
    {
        string path = roots.Proc("stat");
        if (Optional(path) is not { } text)
        {
            return null;
        }

        foreach (ReadOnlySpan<char> line in text.AsSpan().EnumerateLines())
        {
            if (line.StartsWith("btime ", StringComparison.Ordinal))
            {
                return long.TryParse(line[6..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long btime)
                    ? btime
                    : throw new KernelFormatException(path, "\"btime <seconds>\"", line.ToString());
            }
        }

        return null;
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
