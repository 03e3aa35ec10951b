using System.Globalization;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Damon.Procfs;

/// <summary>
/// One process as /proc/&lt;pid&gt;/stat shows it: what target resolution needs to tell
/// processes apart (pid + start time), find children (ppid) and skip what is not a user process.
/// </summary>
/// <param name="Pid">Field 1.</param>
/// <param name="Comm">Field 2, without the parentheses (the kernel's 15-character comm).</param>
/// <param name="State">Field 3 (R, S, D, Z, ...).</param>
/// <param name="ParentPid">Field 4.</param>
/// <param name="Flags">Field 9 (PF_* flags).</param>
/// <param name="StartTicks">Field 22: start time in clock ticks (USER_HZ) after boot. A pid and
/// its start time name one process for good: a reused pid has a later start time.</param>
public readonly record struct ProcessStat(int Pid, string Comm, char State, int ParentPid, ulong Flags, ulong StartTicks)
{
    /// <summary>PF_KTHREAD: a kernel thread (kdamond, kthreadd, ...): no user memory to monitor.</summary>
    public const ulong KernelThreadFlag = 0x0020_0000;

    public bool IsKernelThread => (Flags & KernelThreadFlag) != 0;

    /// <summary>Exited but not reaped: its memory is gone already.</summary>
    public bool IsZombie => State is 'Z' or 'X' or 'x';

    public ProcessIdentity Identity => new(Pid, StartTicks);

    /// <summary>Parses /proc/&lt;pid&gt;/stat. The comm may hold spaces and parentheses: it ends at the last ')'.</summary>
    public static ProcessStat Parse(string text, string path)
    {
        ArgumentNullException.ThrowIfNull(text);
        int open = text.IndexOf('(', StringComparison.Ordinal);
        int close = text.LastIndexOf(')');
        if (open <= 0 || close < open
            || !int.TryParse(text.AsSpan(0, open).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
        {
            throw new KernelFormatException(path, "\"pid (comm) state ...\"", text);
        }

        string comm = text[(open + 1)..close];
        ReadOnlySpan<char> rest = text.AsSpan(close + 1);

        // After ')': token 0 is field 3 (state), so field N is token N - 3.
        Span<Range> tokens = stackalloc Range[21];
        int n = rest.Split(tokens, ' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (n < 20
            || rest[tokens[0]].Length != 1
            || !int.TryParse(rest[tokens[1]], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int ppid)
            || !ulong.TryParse(rest[tokens[6]], NumberStyles.None, CultureInfo.InvariantCulture, out ulong flags)
            || !ulong.TryParse(rest[tokens[19]], NumberStyles.None, CultureInfo.InvariantCulture, out ulong start))
        {
            throw new KernelFormatException(path, "state, ppid, flags and starttime as fields 3, 4, 9 and 22", text);
        }

        return new ProcessStat(pid, comm, rest[tokens[0]][0], ppid, flags, start);
    }
}

/// <summary>A process for good: its pid and its start time (clock ticks after boot).</summary>
public readonly record struct ProcessIdentity(int Pid, ulong StartTicks)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Pid}@{StartTicks}");
}

/// <summary>The four uids of /proc/&lt;pid&gt;/status (real, effective, saved set, filesystem).</summary>
public readonly record struct ProcessUids(uint Real, uint Effective, uint Saved, uint Filesystem)
{
    /// <summary>Parses the "Uid:" line of /proc/&lt;pid&gt;/status.</summary>
    public static ProcessUids Parse(string status, string path)
    {
        ArgumentNullException.ThrowIfNull(status);
        Span<Range> t = stackalloc Range[5];
        foreach (ReadOnlySpan<char> line in status.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                continue;
            }

            ReadOnlySpan<char> values = line[4..];
            int n = values.Split(t, '\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (n == 4
                && uint.TryParse(values[t[0]], NumberStyles.None, CultureInfo.InvariantCulture, out uint r)
                && uint.TryParse(values[t[1]], NumberStyles.None, CultureInfo.InvariantCulture, out uint e)
                && uint.TryParse(values[t[2]], NumberStyles.None, CultureInfo.InvariantCulture, out uint s)
                && uint.TryParse(values[t[3]], NumberStyles.None, CultureInfo.InvariantCulture, out uint f))
            {
                return new ProcessUids(r, e, s, f);
            }

            throw new KernelFormatException(path, "\"Uid:\" and four tab-separated uids", line.ToString());
        }

        throw new KernelFormatException(path, "a \"Uid:\" line", status);
    }

    /// <summary>True when every one of the four uids is in <paramref name="allowed"/> (a setuid program run by somebody else is not).</summary>
    public bool AllIn(IReadOnlyCollection<uint> allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        return allowed.Contains(Real) && allowed.Contains(Effective) && allowed.Contains(Saved) && allowed.Contains(Filesystem);
    }
}
