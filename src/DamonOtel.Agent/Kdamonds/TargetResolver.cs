using System.Globalization;
using System.Text.RegularExpressions;
using DamonOtel.Agent.Configuration;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>Finds the processes and physical ranges that configured targets name. Never runs a command.</summary>
internal sealed class TargetResolver(IKernelFs fs, KernelRoots roots)
{
    private readonly ProcReader proc = new(fs, roots);

    /// <summary>Resolves every target of a kdamond, or says which one is missing.</summary>
    public bool TryResolve(KdamondConfig k, out IReadOnlyList<ResolvedTarget> resolved, out string reason)
    {
        var list = new List<ResolvedTarget>(k.Targets.Count);
        foreach (TargetConfig t in k.Targets)
        {
            if (!TryResolve(t, out ResolvedTarget? r, out reason))
            {
                resolved = [];
                return false;
            }

            list.Add(r!);
        }

        resolved = list;
        reason = string.Empty;
        return true;
    }

    public bool TryResolve(TargetConfig t, out ResolvedTarget? resolved, out string reason)
    {
        resolved = null;
        reason = string.Empty;
        var regions = t.Regions.Select(r => new AddressRange(r.Start, r.End)).ToList();
        if (t.Memory is { } memory)
        {
            IReadOnlyList<AddressRange> ram = proc.ReadSystemRam();
            if (ram.Count == 0)
            {
                reason = $"target {t.Name}: no System RAM range in {roots.Proc("iomem")} (reading it needs root)";
                return false;
            }

            regions = [memory == PhysicalRange.WholeSpan
                ? new AddressRange(ram.Min(r => r.Start), ram.Max(r => r.End))
                : ram.MaxBy(r => r.Size)];
        }

        if (!t.IsProcess)
        {
            resolved = new ResolvedTarget(t.Name, 0, regions);
            return true;
        }

        int? pid = null;
        if (t.Pid is int p)
        {
            pid = fs.DirectoryExists(roots.Proc(p.ToString(CultureInfo.InvariantCulture))) ? p : null;
            reason = $"target {t.Name}: process {p} does not exist";
        }
        else if (t.PidFile is string file)
        {
            pid = ReadPidFile(file, out string? problem);
            reason = problem is null ? $"target {t.Name}: no running process in pid file {file}" : $"target {t.Name}: pid file {problem}";
        }
        else if (t.ProcessName is string name)
        {
            pid = Oldest(proc.FindPidsByName(name));
            reason = $"target {t.Name}: no process named '{name}'";
        }
        else if (t.CmdlinePattern is string pattern)
        {
            pid = Oldest(proc.FindPidsByCmdline(new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1))));
            reason = $"target {t.Name}: no process whose command line matches /{pattern}/";
        }

        if (pid is null)
        {
            return false;
        }

        reason = string.Empty;
        resolved = new ResolvedTarget(t.Name, pid.Value, regions);
        return true;
    }

    public bool IsAlive(int pid) => pid > 0 && fs.DirectoryExists(roots.Proc(pid.ToString(CultureInfo.InvariantCulture)));

    private int? ReadPidFile(string file, out string? problem)
    {
        problem = null;
        try
        {
            int pid = PidFile.Read(file).Pid;
            return IsAlive(pid) ? pid : null;
        }
        catch (SafeFileException e)
        {
            problem = e.Message;
            return null;
        }
    }

    // Several matches (workers of one program): the lowest pid is usually the parent.
    private static int? Oldest(IReadOnlyList<int> pids) => pids.Count == 0 ? null : pids.Min();
}
