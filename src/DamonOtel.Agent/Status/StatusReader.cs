using DamonOtel.Agent.Cli;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Modules;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Status;

/// <summary>How the agent relates to a kdamond or module (docs/status.md).</summary>
internal enum Relation
{
    /// <summary>Started by the agent: its record under the state directory names it, and it is the very thread the agent started.</summary>
    Owned,

    /// <summary>Somebody else's, running, and observed read-only (attach.enabled).</summary>
    Attached,

    /// <summary>Not observed: stopped, or attach.enabled is false.</summary>
    Ignored,
}

/// <summary>What `damon-otel status` knows of the agent itself: its state directory's record and the attach settings it reads.</summary>
internal sealed record AgentStatus(string StateDir, int? AgentPid, bool? AgentRunning, bool AttachEnabled, bool AttachRefresh);

/// <summary>One kdamond as sysfs shows it, and the agent's view of it.</summary>
internal sealed record KdamondStatus(
    Kdamond Kdamond,
    string? Name,
    Relation Relation,
    string Reason,
    string StatsRefresh,
    IReadOnlyList<string?> SchemeNames,
    IReadOnlySet<int> MonitorSchemes);

/// <summary>A DAMON module (its kdamond is not in the admin tree).</summary>
internal sealed record ModuleStatus(string Name, bool Enabled, int? KdamondPid, Relation Relation);

internal sealed record StatusSnapshot(AgentStatus Agent, IReadOnlyList<KdamondStatus> Kdamonds, IReadOnlyList<ModuleStatus> Modules);

/// <summary>
/// Reads what `damo report damon` shows (every kdamond's parameters, targets, schemes and their
/// statistics, and the DAMON modules) plus the agent's relation to each. Read-only: statistics
/// are as the kernel last refreshed them (refresh_ms, or a command of whoever owns the kdamond).
/// </summary>
internal static class StatusReader
{
    /// <param name="processRunning">Whether a host pid runs (the agent's pid in its record is a host pid, also under --simulate).</param>
    public static StatusSnapshot Read(IKernelFs fs, KernelRoots roots, AgentConfig config, IReadOnlyList<NamedKdamond> owned, Func<int, bool> processRunning)
    {
        OwnershipRecord? record = new OwnershipStore(config.StateDir).Load();
        int? agentPid = record?.AgentPid;
        var agent = new AgentStatus(
            config.StateDir,
            agentPid,
            agentPid is int p ? processRunning(p) : null,
            config.Attach.Enabled,
            config.Attach.Refresh);

        var kdamonds = new List<KdamondStatus>();
        if (fs.DirectoryExists(roots.Kdamonds))
        {
            foreach (Kdamond k in new DamonSysfsReader(fs, roots).ReadTree(includeTriedRegions: true).Kdamonds)
            {
                kdamonds.Add(Describe(k, owned.FirstOrDefault(o => o.Index == k.Index), config));
            }
        }

        return new StatusSnapshot(agent, kdamonds, Modules(fs, roots, config));
    }

    private static KdamondStatus Describe(Kdamond k, NamedKdamond? own, AgentConfig config)
    {
        Relation relation;
        string reason;
        if (own is not null)
        {
            relation = Relation.Owned;
            reason = "the agent started it: its state directory record names this kdamond thread";
        }
        else if (!k.On)
        {
            relation = Relation.Ignored;
            reason = "not running";
        }
        else if (!config.Attach.Enabled)
        {
            relation = Relation.Ignored;
            reason = "somebody else's; attach.enabled is false";
        }
        else
        {
            relation = Relation.Attached;
            reason = config.Attach.Refresh ? "somebody else's; observed, refresh commands allowed (attach.refresh)" : "somebody else's; observed read-only";
        }

        string statsRefresh = k.RefreshMs is > 0 ? "kernel" : relation == Relation.Owned || (relation == Relation.Attached && config.Attach.Refresh) ? "agent" : "none";
        IReadOnlyList<DamosScheme> schemes = k.Contexts.Count > 0 ? k.Contexts[0].Schemes : [];
        var names = new string?[schemes.Count];
        HashSet<int> monitor = k.Contexts.Count > 0 ? [.. SnapshotTaker.MonitorSchemes(k.Contexts[0]).Values] : [];

        // The agent's own kdamond, as configured: its schemes come first, its monitoring schemes after them.
        if (own is not null && config.Kdamonds.FirstOrDefault(c => c.Name == own.Name) is KdamondConfig kc && kc.Schemes.Count <= schemes.Count)
        {
            for (int i = 0; i < kc.Schemes.Count; i++)
            {
                names[i] = kc.Schemes[i].Name;
            }

            monitor = [.. monitor.Where(i => i >= kc.Schemes.Count)];
        }

        return new KdamondStatus(k, own?.Name, relation, reason, statsRefresh, names, monitor);
    }

    private static List<ModuleStatus> Modules(IKernelFs fs, KernelRoots roots, AgentConfig config)
    {
        var reader = new DamonModuleReader(fs, roots);
        var result = new List<ModuleStatus>();
        void Add(string name, bool? enabled, int? pid)
        {
            if (enabled is bool on)
            {
                result.Add(new ModuleStatus(name, on, pid is > 0 ? pid : null, on && config.Attach.Enabled ? Relation.Attached : Relation.Ignored));
            }
        }

        try
        {
            DamonStatParams? stat = reader.ReadDamonStat();
            Add("damon_stat", stat?.Enabled, stat?.KdamondPid);
            DamonReclaimParams? reclaim = reader.ReadDamonReclaim();
            Add("damon_reclaim", reclaim?.Enabled, reclaim?.KdamondPid);
            DamonLruSortParams? lru = reader.ReadDamonLruSort();
            Add("damon_lru_sort", lru?.Enabled, lru?.KdamondPid);
        }
        catch (KernelIoException)
        {
            // Module parameters are optional: what could be read is shown.
        }

        return result;
    }
}
