using System.Globalization;
using System.Text.RegularExpressions;
using DamonOtel.Agent.Configuration;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>
/// A configured target resolved against the running system: its ranges (fvaddr, paddr) and,
/// for a process target, every process it names now (oldest first, at most max_processes).
/// </summary>
/// <param name="Processes">Empty for paddr; for a process target the processes to monitor, each
/// named by pid and start time so that a reused pid is never taken for it.</param>
/// <param name="OverCap">Matching processes left out because of max_processes.</param>
/// <param name="Rejected">Processes with the right name or pid that failed the exe/uid pins.</param>
/// <param name="Note">Why nothing matched, or the first rejection (for the log); empty otherwise.</param>
internal sealed record ResolvedTarget(
    string Name,
    bool IsProcess,
    IReadOnlyList<AddressRange> Regions,
    IReadOnlyList<ProcessIdentity> Processes,
    int OverCap = 0,
    int Rejected = 0,
    string Note = "")
{
    /// <summary>The first (oldest) process's pid, 0 for none: a one-process target's pid.</summary>
    public int Pid => Processes.Count > 0 ? Processes[0].Pid : 0;
}

/// <summary>
/// Finds the processes and physical ranges that configured targets name. Never runs a command.
/// A process target names every matching process: by pid or pid file one process, by
/// process_name or cmdline all of them; with include_children their descendants too (by the
/// ppid field of /proc/&lt;pid&gt;/stat). Pins (exe, uid) are checked on the matches; the
/// descendants of a trusted process are trusted (nginx's workers change uid). Processes are
/// ordered by start time, so the cap keeps the master and the longest-lived workers.
/// </summary>
internal sealed class TargetResolver(IKernelFs fs, KernelRoots roots)
{
    /// <summary>
    /// A pid file is written after its process started. A process that started later than the
    /// file's last change (beyond this slack: btime has a 1 s resolution, start times 10 ms) is
    /// a newer process that reused the pid of a dead one whose pid file stayed behind.
    /// </summary>
    public static readonly TimeSpan PidFileSlack = TimeSpan.FromSeconds(2);

    private readonly ProcReader proc = new(fs, roots);

    /// <summary>
    /// Resolves every target of a kdamond. False (with the reason) when it cannot start: a paddr
    /// range is missing, or no process target names any process now.
    /// </summary>
    /// <param name="pidStarts">For <c>pid:</c> targets: the start time of the process first seen
    /// with that pid (recorded here on first sight). A process with that pid and another start
    /// time is another process that reused the pid, and is not taken for the target.</param>
    /// <summary>One target on its own (as a vaddr kdamond's only target); false with the reason when it names nothing.</summary>
    public bool TryResolve(TargetConfig t, out ResolvedTarget? resolved, out string reason)
    {
        bool ok = TryResolve(new KdamondConfig { Name = t.Name, Targets = [t] }, out IReadOnlyList<ResolvedTarget> list, out reason);
        resolved = ok && list.Count == 1 ? list[0] : null;
        return resolved is not null;
    }

    public bool TryResolve(KdamondConfig k, out IReadOnlyList<ResolvedTarget> resolved, out string reason, IDictionary<string, ulong>? pidStarts = null)
    {
        var list = new List<ResolvedTarget>(k.Targets.Count);
        var claimed = new HashSet<int>();
        var scan = new Lazy<IReadOnlyList<ProcessStat>>(proc.ReadUserProcesses);
        var missing = new List<string>();
        bool anyProcessTarget = false;
        foreach (TargetConfig t in k.Targets)
        {
            if (!TryRanges(t, out IReadOnlyList<AddressRange> regions, out reason))
            {
                resolved = [];
                return false;
            }

            if (!t.IsProcess)
            {
                list.Add(new ResolvedTarget(t.Name, false, regions, []));
                continue;
            }

            anyProcessTarget = true;
            ResolvedTarget r = ResolveProcesses(t, regions, scan, claimed, pidStarts);
            list.Add(r);
            if (r.Processes.Count == 0)
            {
                missing.Add(r.Note);
            }
        }

        resolved = list;
        if (anyProcessTarget && list.All(r => !r.IsProcess || r.Processes.Count == 0))
        {
            reason = string.Join("; ", missing);
            return false;
        }

        reason = string.Empty;
        return true;
    }

    /// <summary>True when the process still runs: same pid, same start time (a reused pid is another process).</summary>
    public bool IsRunning(ProcessIdentity id) => id.Pid > 0 && proc.IsRunning(id);

    private bool TryRanges(TargetConfig t, out IReadOnlyList<AddressRange> regions, out string reason)
    {
        reason = string.Empty;
        regions = [.. t.Regions.Select(r => new AddressRange(r.Start, r.End))];
        if (t.Memory is not { } memory)
        {
            return true;
        }

        IReadOnlyList<AddressRange> ram = proc.ReadSystemRam();
        if (ram.Count == 0)
        {
            reason = $"target {t.Name}: no System RAM range in {roots.Proc("iomem")} (reading it needs root)";
            return false;
        }

        regions = [memory == PhysicalRange.WholeSpan
            ? new AddressRange(ram.Min(r => r.Start), ram.Max(r => r.End))
            : ram.MaxBy(r => r.Size)];
        return true;
    }

    private ResolvedTarget ResolveProcesses(TargetConfig t, IReadOnlyList<AddressRange> regions, Lazy<IReadOnlyList<ProcessStat>> scan, HashSet<int> claimed, IDictionary<string, ulong>? pidStarts)
    {
        var candidates = new List<ProcessStat>();
        string note;
        if (t.Pid is int p)
        {
            note = $"target {t.Name}: process {p} does not exist";
            AddIfUserProcess(candidates, p);
            string key = string.Create(CultureInfo.InvariantCulture, $"{t.Name}/{p}");
            if (candidates.Count == 1 && pidStarts is not null)
            {
                if (!pidStarts.TryGetValue(key, out ulong first))
                {
                    pidStarts[key] = candidates[0].StartTicks;
                }
                else if (first != candidates[0].StartTicks)
                {
                    candidates.Clear();
                    note = $"target {t.Name}: process {p} exited; pid {p} now names another process (started later), which is not this target";
                }
            }
        }
        else if (t.PidFile is string file)
        {
            note = FromPidFile(t, file, candidates);
        }
        else if (t.ProcessName is string name)
        {
            string wanted = name.Length > 15 ? name[..15] : name;
            candidates.AddRange(scan.Value.Where(s => s.Comm == wanted));
            note = $"target {t.Name}: no process named '{name}'";
        }
        else
        {
            var pattern = new Regex(t.CmdlinePattern!, RegexOptions.None, TimeSpan.FromSeconds(1));
            foreach (ProcessStat s in scan.Value)
            {
                if (proc.ReadCommandLine(s.Pid) is { Length: > 0 } cmdline && pattern.IsMatch(cmdline))
                {
                    candidates.Add(s);
                }
            }

            note = $"target {t.Name}: no process whose command line matches /{t.CmdlinePattern}/";
        }

        var accepted = new List<ProcessStat>(candidates.Count);
        int rejected = 0;
        foreach (ProcessStat s in candidates)
        {
            if (PinProblem(t, s) is string problem)
            {
                if (rejected++ == 0)
                {
                    note = $"target {t.Name}: {problem}";
                }
            }
            else
            {
                accepted.Add(s);
            }
        }

        if (t.IncludeChildren && accepted.Count > 0)
        {
            accepted = WithDescendants(accepted, scan.Value);
        }

        var processes = accepted
            .Where(s => !claimed.Contains(s.Pid))
            .OrderBy(s => s.StartTicks).ThenBy(s => s.Pid)
            .Select(s => s.Identity)
            .ToList();
        int overCap = Math.Max(0, processes.Count - t.MaxProcesses);
        if (overCap > 0)
        {
            processes.RemoveRange(t.MaxProcesses, overCap);
        }

        foreach (ProcessIdentity id in processes)
        {
            claimed.Add(id.Pid);
        }

        if (processes.Count > 0 && rejected == 0)
        {
            note = string.Empty;
        }

        return new ResolvedTarget(t.Name, true, regions, processes, overCap, rejected, note);
    }

    private string FromPidFile(TargetConfig t, string file, List<ProcessStat> candidates)
    {
        if (!PidFiles.Read(file, t.PidFileOwner, out TrustedPidFile content, out string problem))
        {
            return $"target {t.Name}: {problem}";
        }

        if (proc.ReadProcess(content.Pid) is not { IsKernelThread: false, IsZombie: false } s)
        {
            return $"target {t.Name}: no running process {content.Pid} (from pid file {file})";
        }

        if (proc.ReadBootTimeSeconds() is long btime)
        {
            DateTimeOffset started = DateTimeOffset.FromUnixTimeSeconds(btime).AddSeconds(s.StartTicks / (double)Damon.Sysfs.ProcCpuTicks.UserHz);
            if (started > content.ModifiedAt + PidFileSlack)
            {
                return string.Create(CultureInfo.InvariantCulture, $"target {t.Name}: pid file {file} names pid {content.Pid}, but that process started after the file was written (a stale pid file; the pid was reused)");
            }
        }

        candidates.Add(s);
        return string.Empty;
    }

    private void AddIfUserProcess(List<ProcessStat> into, int pid)
    {
        if (proc.ReadProcess(pid) is { IsKernelThread: false, IsZombie: false } s)
        {
            into.Add(s);
        }
    }

    // Why the process fails the target's pins, or null when it passes (or there are none).
    private string? PinProblem(TargetConfig t, ProcessStat s)
    {
        if (t.Executables.Count > 0)
        {
            string? exe = proc.ReadExecutable(s.Pid);
            if (exe is null || !t.Executables.Any(e => exe == e || exe == e + " (deleted)"))
            {
                return $"process {s.Pid} ('{s.Comm}') runs {exe ?? "an unreadable executable"}, not {string.Join(" or ", t.Executables)}: ignored";
            }
        }

        if (t.Uids.Count > 0)
        {
            ProcessUids? uids = proc.ReadUids(s.Pid);
            if (uids is not { } u || !u.AllIn(t.Uids))
            {
                string has = uids is { } x ? string.Create(CultureInfo.InvariantCulture, $"uids {x.Real}/{x.Effective}/{x.Saved}/{x.Filesystem}") : "unreadable uids";
                return $"process {s.Pid} ('{s.Comm}') has {has}, not {string.Join(" or ", t.Uids)}: ignored";
            }
        }

        return null;
    }

    private static List<ProcessStat> WithDescendants(List<ProcessStat> roots, IReadOnlyList<ProcessStat> all)
    {
        var children = new Dictionary<int, List<ProcessStat>>();
        foreach (ProcessStat s in all)
        {
            if (!children.TryGetValue(s.ParentPid, out List<ProcessStat>? list))
            {
                children[s.ParentPid] = list = [];
            }

            list.Add(s);
        }

        var result = new List<ProcessStat>(roots);
        var seen = new HashSet<int>(roots.Select(r => r.Pid));
        var queue = new Queue<ProcessStat>(roots);
        while (queue.TryDequeue(out ProcessStat parent))
        {
            if (!children.TryGetValue(parent.Pid, out List<ProcessStat>? kids))
            {
                continue;
            }

            foreach (ProcessStat child in kids)
            {
                // A child cannot have started before its parent: such a "child" holds a reused ppid.
                if (child.StartTicks >= parent.StartTicks && seen.Add(child.Pid))
                {
                    result.Add(child);
                    queue.Enqueue(child);
                }
            }
        }

        return result;
    }
}
