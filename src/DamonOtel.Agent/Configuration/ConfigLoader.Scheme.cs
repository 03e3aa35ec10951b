using System.Globalization;

namespace DamonOtel.Agent.Configuration;

// kdamonds[i].schemes[j]: action, access pattern, quotas, watermarks, filters, destinations.
internal static partial class ConfigLoader
{
    public static readonly string[] Actions =
        ["stat", "pageout", "willneed", "cold", "hugepage", "nohugepage", "collapse", "lru_prio", "lru_deprio", "migrate_hot", "migrate_cold"];

    public static readonly string[] FilterTypes = ["anon", "memcg", "young", "hugepage_size", "unmapped", "active", "addr", "target"];

    public static readonly string[] GoalMetrics =
    [
        "user_input", "some_mem_psi_us", "node_mem_used_bp", "node_mem_free_bp", "node_memcg_used_bp", "node_memcg_free_bp",
        "active_mem_bp", "inactive_mem_bp", "node_eligible_mem_bp",
    ];

    // A sanity bound on NUMA node ids, far above any real machine's.
    private const long MaxNodeId = 1 << 20;

    private static readonly string[] VaddrOnlyActions = ["willneed", "cold", "hugepage", "nohugepage", "collapse"];
    private static readonly string[] PaddrOnlyActions = ["lru_prio", "lru_deprio"];

    /// <summary>Whether the operations set implements the action (the kernel takes any action, but applies only these).</summary>
    public static bool ActionWorksOn(string action, string ops) =>
        ops == "paddr" ? Array.IndexOf(VaddrOnlyActions, action) < 0 : Array.IndexOf(PaddrOnlyActions, action) < 0;

    private static SchemeConfig ReadScheme(YamlNodeReader s, int index, string ops)
    {
        string name = s.String("name") ?? index.ToString(CultureInfo.InvariantCulture);
        string action = s.Keyword("action", "stat", Actions);
        if (ops == "paddr" && Array.IndexOf(VaddrOnlyActions, action) >= 0)
        {
            s.Error(s.Raw("action"), "action", $"'{action}' works on virtual address spaces only (vaddr/fvaddr), not paddr");
        }

        if (ops != "paddr" && Array.IndexOf(PaddrOnlyActions, action) >= 0)
        {
            s.Error(s.Raw("action"), "action", $"'{action}' works on physical memory only (operations: paddr)");
        }

        PatternConfig pattern = ReadPattern(s.Mapping("access_pattern"));
        QuotaConfig? quotas = ReadQuotas(s.Mapping("quotas"));
        WatermarksConfig? watermarks = ReadWatermarks(s.Mapping("watermarks"));
        var filters = new List<FilterConfig>();
        foreach (YamlNodeReader f in s.MappingList("filters"))
        {
            filters.Add(ReadFilter(f));
        }

        long? nid2 = s.Integer("target_nid", 0, MaxNodeId);
        List<DestConfig> dests = ReadDests(s);
        if (action is "migrate_hot" or "migrate_cold" && nid2 is null && dests.Count == 0)
        {
            s.Error(s.Raw("action"), "target_nid", $"{action} needs a destination: target_nid or dests");
        }

        ulong apply = s.TimeUs("apply_interval") ?? 0;
        s.RejectUnknownKeys();
        return new SchemeConfig
        {
            Name = name,
            Action = action,
            Pattern = pattern,
            ApplyIntervalUs = apply,
            Quotas = quotas,
            Watermarks = watermarks,
            Filters = filters,
            TargetNid = (int?)nid2,
            Dests = dests,
            Line = s.Line,
        };
    }

    private static PatternConfig ReadPattern(YamlNodeReader ap)
    {
        YamlNodeReader size = ap.Mapping("size");
        YamlNodeReader rate = ap.Mapping("access_rate");
        YamlNodeReader age = ap.Mapping("age");
        var pattern = new PatternConfig
        {
            SizeMin = size.Size("min") ?? 0,
            SizeMax = size.Size("max") ?? ulong.MaxValue,
            AccessRateMinPercent = rate.Percent("min") ?? 0,
            AccessRateMaxPercent = rate.Has("max") && string.Equals(rate.String("max"), "max", StringComparison.Ordinal) ? null : rate.Percent("max"),
            AgeMinUs = age.TimeUs("min") ?? 0,
            AgeMaxUs = age.TimeUs("max") ?? ulong.MaxValue,
        };
        if (pattern.SizeMin > pattern.SizeMax)
        {
            size.Error(size.Raw("max"), "max", "is below min");
        }

        if (pattern.AccessRateMaxPercent is double rmax && rmax < pattern.AccessRateMinPercent)
        {
            rate.Error(rate.Raw("max"), "max", "is below min");
        }

        if (pattern.AgeMinUs > pattern.AgeMaxUs)
        {
            age.Error(age.Raw("max"), "max", "is below min");
        }

        size.RejectUnknownKeys();
        rate.RejectUnknownKeys();
        age.RejectUnknownKeys();
        ap.RejectUnknownKeys();
        return pattern;
    }

    private static QuotaConfig? ReadQuotas(YamlNodeReader q)
    {
        if (!q.IsPresent)
        {
            return null;
        }

        YamlNodeReader w = q.Mapping("weights");
        var goals = new List<QuotaGoalConfig>();
        foreach (YamlNodeReader g in q.MappingList("goals"))
        {
            string metric = g.Keyword("metric", "user_input", GoalMetrics);
            ulong target = (ulong)(g.Integer("target", 1, long.MaxValue) ?? 0);
            if (target == 0)
            {
                g.Error(g.Raw("target"), "target", "a goal needs a target value above 0 (the kernel ignores 0)");
            }

            long? nid = g.Integer("nid", 0, MaxNodeId);
            string? path = g.String("path");
            if (metric.StartsWith("node_", StringComparison.Ordinal) && nid is null)
            {
                g.Error(null, "nid", $"goal metric {metric} needs a NUMA node id (nid)");
            }

            if (metric.StartsWith("node_memcg", StringComparison.Ordinal) && path is null)
            {
                g.Error(null, "path", $"goal metric {metric} needs a memcg path");
            }

            goals.Add(new QuotaGoalConfig(metric, target, (ulong)(g.Integer("current", 0, long.MaxValue) ?? 0), (int?)nid, path));
            g.RejectUnknownKeys();
        }

        var quotas = new QuotaConfig
        {
            TimeMs = (q.TimeUs("time", 1_000) ?? 0) / 1_000,
            SizeBytes = q.Size("size") ?? 0,
            ResetIntervalMs = q.TimeUs("reset_interval", 1_000) / 1_000 ?? QuotaConfig.DefaultResetIntervalMs,
            WeightSizePermil = Permil(w, "size") ?? 0,
            WeightAccessRatePermil = Permil(w, "access_rate") ?? 0,
            WeightAgePermil = Permil(w, "age") ?? 0,
            Goals = goals,
        };
        if (quotas.ResetIntervalMs == 0 && (quotas.TimeMs != 0 || quotas.SizeBytes != 0))
        {
            q.Error(q.Raw("reset_interval"), "reset_interval", "must be above 0 when a quota is set");
        }

        w.RejectUnknownKeys();
        q.RejectUnknownKeys();
        return quotas;
    }

    private static WatermarksConfig? ReadWatermarks(YamlNodeReader wm)
    {
        if (!wm.IsPresent)
        {
            return null;
        }

        string metric = wm.Keyword("metric", "free_mem_rate", "none", "free_mem_rate");
        ulong high = Permil(wm, "high") ?? 0;
        ulong mid = Permil(wm, "mid") ?? 0;
        ulong low = Permil(wm, "low") ?? 0;
        if (metric != "none" && !(high >= mid && mid >= low))
        {
            wm.Error(wm.Raw("mid"), "mid", $"watermarks must satisfy high >= mid >= low (got {high}, {mid}, {low} per-mille)");
        }

        var watermarks = new WatermarksConfig(metric, wm.TimeUs("interval") ?? WatermarksConfig.DefaultIntervalUs, high, mid, low);
        wm.RejectUnknownKeys();
        return watermarks;
    }

    private static List<DestConfig> ReadDests(YamlNodeReader s)
    {
        var dests = new List<DestConfig>();
        foreach (YamlNodeReader d in s.MappingList("dests"))
        {
            long? node = d.Integer("node", 0, MaxNodeId);
            if (node is null)
            {
                d.Error(null, "node", "a destination needs its NUMA node");
            }

            dests.Add(new DestConfig((int)(node ?? 0), (uint)(d.Integer("weight", 0, uint.MaxValue) ?? 1)));
            d.RejectUnknownKeys();
        }

        return dests;
    }

    private static FilterConfig ReadFilter(YamlNodeReader f)
    {
        string type = f.Keyword("type", "anon", FilterTypes);
        if (!f.Has("type"))
        {
            f.Error(null, "type", $"a filter needs a type ({string.Join(", ", FilterTypes)})");
        }

        var filter = new FilterConfig
        {
            Type = type,
            Matching = f.Bool("matching", true),
            Allow = f.Keyword("pass", "reject", "allow", "reject") == "allow" || f.Bool("allow", false),
            MemcgPath = f.String("memcg_path"),
            AddrStart = Address(f, "start"),
            AddrEnd = Address(f, "end"),
            TargetIndex = (int?)f.Integer("target_index", 0, int.MaxValue),
            Min = f.Size("min"),
            Max = f.Size("max"),
            Line = f.Line,
        };
        switch (type)
        {
            case "memcg" when filter.MemcgPath is null:
                f.Error(null, "memcg_path", "a memcg filter needs memcg_path (relative to the cgroup mount)");
                break;
            case "addr" when filter.AddrStart is null || filter.AddrEnd is null || filter.AddrStart >= filter.AddrEnd:
                f.Error(null, "start", "an addr filter needs start < end");
                break;
            case "target" when filter.TargetIndex is null:
                f.Error(null, "target_index", "a target filter needs target_index");
                break;
            case "hugepage_size" when filter.Min is null || filter.Max is null || filter.Min > filter.Max:
                f.Error(null, "min", "a hugepage_size filter needs min <= max (e.g. 2M, 2M)");
                break;
            default:
                break;
        }

        f.RejectUnknownKeys();
        return filter;
    }
}
