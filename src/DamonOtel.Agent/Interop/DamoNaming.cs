using System.Globalization;
using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Interop;

/// <summary>
/// Names for imported kdamonds, targets and schemes: damo's JSON has none, and the names become
/// the `kdamond`, `target` and `scheme` attributes of every metric, so they say what is
/// monitored or done ("memory-4G-8G", "mysqld", "pageout-idle-30s") rather than where it sat
/// in the file. Duplicates get "-2", "-3", ...
/// </summary>
internal static class DamoNaming
{
    /// <summary>The name the importer gives everything until <see cref="Assign"/> runs.</summary>
    public const string Placeholder = "";

    /// <param name="processName">comm of a pid on this machine, or null when there is no such process.</param>
    public static IReadOnlyList<KdamondConfig> Assign(IReadOnlyList<KdamondConfig> kdamonds, Func<int, string?> processName)
    {
        var kdamondNames = new Unique();
        var result = new List<KdamondConfig>(kdamonds.Count);
        foreach (KdamondConfig k in kdamonds)
        {
            var targetNames = new Unique();
            List<TargetConfig> targets = [.. k.Targets.Select(t => t with { Name = targetNames.Take(TargetName(k.Operations, t, processName)) })];
            var schemeNames = new Unique();
            List<SchemeConfig> schemes = [.. k.Schemes.Select(s => s with { Name = schemeNames.Take(SchemeName(s)) })];
            result.Add(k with { Name = kdamondNames.Take(KdamondName(k.Operations, targets)), Targets = targets, Schemes = schemes });
        }

        return result;
    }

    private static string TargetName(string ops, TargetConfig t, Func<int, string?> processName)
    {
        if (t.Pid is int pid)
        {
            string? comm = processName(pid)?.Trim();
            return string.IsNullOrEmpty(comm) ? "pid-" + pid.ToString(CultureInfo.InvariantCulture) : comm;
        }

        return ops == "paddr" ? "memory" : "target";
    }

    private static string KdamondName(string ops, List<TargetConfig> targets)
    {
        if (ops == "paddr")
        {
            TargetConfig? t = targets.Count > 0 ? targets[0] : null;
            return t is { Regions.Count: > 0 } ? $"memory-{Address(t.Regions[0].Start)}-{Address(t.Regions[^1].End)}" : "memory";
        }

        return targets.Count switch
        {
            0 => ops,
            <= 3 => string.Join('+', targets.Select(t => t.Name)),
            _ => $"{targets[0].Name}+{(targets.Count - 1).ToString(CultureInfo.InvariantCulture)}-more",
        };
    }

    private static string SchemeName(SchemeConfig s)
    {
        string name = s.Action.Replace('_', '-');
        if (s.Action is "migrate_hot" or "migrate_cold" or "lru_prio" or "lru_deprio")
        {
            // The action already says hot or cold; where it sends pages is what tells two apart.
            if (s.Dests.Count > 0)
            {
                return name + "-to-node" + (s.Dests.Count == 1 ? string.Empty : "s") + "-" + string.Join('-', s.Dests.Select(d => d.Node.ToString(CultureInfo.InvariantCulture)));
            }

            return s.TargetNid is int nid ? name + "-to-node" + nid.ToString(CultureInfo.InvariantCulture) : name;
        }

        PatternConfig p = s.Pattern;
        if (p.AccessRateMaxPercent == 0)
        {
            return p.AgeMinUs is > 0 and < ulong.MaxValue ? $"{name}-idle-{Units.FormatTimeUs(p.AgeMinUs)}" : name + "-idle";
        }

        return p.AccessRateMinPercent > 0 ? name + "-hot" : name;
    }

    /// <summary>An address as a whole binary size when it is one (4G, 512M), else hexadecimal.</summary>
    public static string Address(ulong address)
    {
        foreach ((string unit, int shift) in (ReadOnlySpan<(string, int)>)[("T", 40), ("G", 30), ("M", 20), ("K", 10)])
        {
            ulong size = 1UL << shift;
            if (address != 0 && address % size == 0)
            {
                return (address / size).ToString(CultureInfo.InvariantCulture) + unit;
            }
        }

        return "0x" + address.ToString("x", CultureInfo.InvariantCulture);
    }

    private sealed class Unique
    {
        private readonly HashSet<string> taken = new(StringComparer.Ordinal);

        public string Take(string name)
        {
            string candidate = name;
            for (int n = 2; !taken.Add(candidate); n++)
            {
                candidate = name + "-" + n.ToString(CultureInfo.InvariantCulture);
            }

            return candidate;
        }
    }
}
