using System.Globalization;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>Children 0..N-1 of a directory, recreated with defaults whenever its nr_* file is written.</summary>
internal sealed class NrChildren<T>
{
    private readonly VDir dir;
    private readonly Func<VDir, int, T> factory;
    private readonly Func<string, Errno>? check;

    public NrChildren(VDir dir, string nrName, Func<VDir, int, T> factory, Func<string, Errno>? check = null)
    {
        this.dir = dir;
        this.factory = factory;
        this.check = check;
        dir.Func(nrName, () => Items.Count.ToString(CultureInfo.InvariantCulture) + "\n", text =>
        {
            string path = dir.FullPath + "/" + nrName;
            long n = KernelParse.Long(text, int.MinValue, int.MaxValue, path);
            if (n < 0)
            {
                throw new KernelIoException(Errno.EINVAL, path, "write");
            }

            Errno e = check?.Invoke(path) ?? Errno.None;
            if (e != Errno.None)
            {
                throw new KernelIoException(e, path, "write");
            }

            Resize((int)n);
        });
    }

    public List<T> Items { get; } = [];

    public void Resize(int n)
    {
        for (int i = 0; i < Items.Count; i++)
        {
            dir.Remove(i.ToString(CultureInfo.InvariantCulture));
        }

        Items.Clear();
        for (int i = 0; i < n; i++)
        {
            Items.Add(factory(dir.Dir(i.ToString(CultureInfo.InvariantCulture)), i));
        }
    }
}

internal static class DirExt
{
    public static ValueFile U64(this VDir d, string name, ulong initial = 0) => d.Add(new ValueFile(name, ValueKind.U64, initial.ToString(CultureInfo.InvariantCulture)));

    public static ValueFile U32(this VDir d, string name, uint initial = 0) => d.Add(new ValueFile(name, ValueKind.U32, initial.ToString(CultureInfo.InvariantCulture)));

    public static ValueFile I32(this VDir d, string name, int initial = 0) => d.Add(new ValueFile(name, ValueKind.I32, initial.ToString(CultureInfo.InvariantCulture)));

    public static ValueFile Bool(this VDir d, string name, bool initial = false) => d.Add(new ValueFile(name, ValueKind.Bool, initial ? "Y" : "N"));

    public static ValueFile Keyword(this VDir d, string name, string initial, IReadOnlyCollection<string> keywords) => d.Add(new ValueFile(name, ValueKind.Keyword, initial, keywords));

    public static ValueFile Text(this VDir d, string name, string initial = "") => d.Add(new ValueFile(name, ValueKind.Text, initial));

    public static string Line(ulong v) => v.ToString(CultureInfo.InvariantCulture) + "\n";
}

internal sealed class RangeNode(VDir d)
{
    public ValueFile Start { get; } = d.U64("start");

    public ValueFile End { get; } = d.U64("end");
}

internal sealed class TargetNode
{
    public TargetNode(VDir d)
    {
        Pid = d.I32("pid_target");
        Regions = new NrChildren<RangeNode>(d.Dir("regions"), "nr_regions", (rd, _) => new RangeNode(rd));
    }

    public ValueFile Pid { get; }

    public NrChildren<RangeNode> Regions { get; }
}

internal sealed class FilterNode
{
    public FilterNode(VDir d, KernelProfile p, string layer)
    {
        string[] types = layer switch
        {
            "core" => ProfileTables.CoreFilterTypes,
            "ops" => ProfileTables.OpsFilterTypes(p),
            _ => [.. ProfileTables.OpsFilterTypes(p), .. ProfileTables.CoreFilterTypes],
        };
        Type = d.Keyword("type", "anon", types);
        Matching = d.Bool("matching");
        if (p != KernelProfile.V6_12)
        {
            Allow = d.Bool("allow");
        }

        d.Text("memcg_path");
        AddrStart = d.U64("addr_start");
        AddrEnd = d.U64("addr_end");
        TargetIdx = d.I32("damon_target_idx");
        if (p != KernelProfile.V6_12)
        {
            d.U64("min");
            d.U64("max");
        }
    }

    public ValueFile Type { get; }

    public ValueFile Matching { get; }

    public ValueFile? Allow { get; }

    public ValueFile AddrStart { get; }

    public ValueFile AddrEnd { get; }

    public ValueFile TargetIdx { get; }

    public FilterConfig ToConfig() => new(
        Type.Text,
        Matching.B,
        Allow?.B ?? false,
        Type.Text is "addr" or "target",
        AddrStart.U,
        AddrEnd.U,
        TargetIdx.I);
}

internal sealed class GoalNode
{
    public GoalNode(VDir d, KernelProfile p)
    {
        Metric = d.Keyword("target_metric", "user_input", ProfileTables.GoalMetrics(p));
        Target = d.U64("target_value");
        Current = d.U64("current_value");
        if (p != KernelProfile.V6_12)
        {
            d.I32("nid");
        }
    }

    public ValueFile Metric { get; }

    public ValueFile Target { get; }

    public ValueFile Current { get; }
}

internal sealed class SchemeNode
{
    private readonly KernelProfile profile;

    public SchemeNode(VDir d, KernelProfile p)
    {
        profile = p;
        Action = d.Keyword("action", "stat", ProfileTables.Actions);
        ApplyInterval = d.U64("apply_interval_us");
        d.I32("target_nid", -1);
        VDir ap = d.Dir("access_pattern");
        SzMin = ap.Dir("sz").U64("min");
        SzMax = ap.Dir("sz").U64("max");
        NrMin = ap.Dir("nr_accesses").U32("min");
        NrMax = ap.Dir("nr_accesses").U32("max");
        AgeMin = ap.Dir("age").U32("min");
        AgeMax = ap.Dir("age").U32("max");
        VDir q = d.Dir("quotas");
        QuotaMs = q.U64("ms");
        QuotaBytes = q.U64("bytes");
        ResetMs = q.U64("reset_interval_ms");
        q.Func("effective_bytes", () => DirExt.Line(EffectiveBytes));
        VDir w = q.Dir("weights");
        WSz = w.U32("sz_permil");
        WNr = w.U32("nr_accesses_permil");
        WAge = w.U32("age_permil");
        Goals = new NrChildren<GoalNode>(q.Dir("goals"), "nr_goals", (gd, _) => new GoalNode(gd, p));
        VDir wm = d.Dir("watermarks");
        WmMetric = wm.Keyword("metric", "none", ProfileTables.WmarkMetrics);
        WmInterval = wm.U64("interval_us");
        WmHigh = wm.U64("high");
        WmMid = wm.U64("mid");
        WmLow = wm.U64("low");
        Filters = new NrChildren<FilterNode>(d.Dir("filters"), "nr_filters", (fd, _) => new FilterNode(fd, p, "any"));
        if (p != KernelProfile.V6_12)
        {
            CoreFilters = new NrChildren<FilterNode>(d.Dir("core_filters"), "nr_filters", (fd, _) => new FilterNode(fd, p, "core"));
            OpsFilters = new NrChildren<FilterNode>(d.Dir("ops_filters"), "nr_filters", (fd, _) => new FilterNode(fd, p, "ops"));
            _ = new NrChildren<int>(d.Dir("dests"), "nr_dests", (dd, i) =>
            {
                dd.U32("id");
                dd.U32("weight");
                return i;
            });
        }

        VDir st = d.Dir("stats");
        string[] statNames = p == KernelProfile.V6_12
            ? ["nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds"]
            : ["nr_tried", "sz_tried", "nr_applied", "sz_applied", "sz_ops_filter_passed", "qt_exceeds"];
        foreach (string name in statNames)
        {
            st.Func(name, () => DirExt.Line(Stats.GetValueOrDefault(name)));
        }

        TriedDir = d.Dir("tried_regions");
        TriedDir.Func("total_bytes", () => DirExt.Line(TotalBytes));
    }

    public ValueFile Action { get; }

    public ValueFile ApplyInterval { get; }

    public ValueFile SzMin { get; }

    public ValueFile SzMax { get; }

    public ValueFile NrMin { get; }

    public ValueFile NrMax { get; }

    public ValueFile AgeMin { get; }

    public ValueFile AgeMax { get; }

    public ValueFile QuotaMs { get; }

    public ValueFile QuotaBytes { get; }

    public ValueFile ResetMs { get; }

    public ValueFile WSz { get; }

    public ValueFile WNr { get; }

    public ValueFile WAge { get; }

    public NrChildren<GoalNode> Goals { get; }

    public ValueFile WmMetric { get; }

    public ValueFile WmInterval { get; }

    public ValueFile WmHigh { get; }

    public ValueFile WmMid { get; }

    public ValueFile WmLow { get; }

    public NrChildren<FilterNode> Filters { get; }

    public NrChildren<FilterNode>? CoreFilters { get; }

    public NrChildren<FilterNode>? OpsFilters { get; }

    public VDir TriedDir { get; }

    /// <summary>What stats/* show: the copy made by the last update_schemes_stats or refresh.</summary>
    public Dictionary<string, ulong> Stats { get; } = [];

    public ulong EffectiveBytes { get; set; }

    public ulong TotalBytes { get; set; }

    public void CopyStats(SchemeState s)
    {
        Stats["nr_tried"] = s.NrTried;
        Stats["sz_tried"] = s.SzTried;
        Stats["nr_applied"] = s.NrApplied;
        Stats["sz_applied"] = s.SzApplied;
        Stats["sz_ops_filter_passed"] = s.SzOpsFilterPassed;
        Stats["qt_exceeds"] = s.QtExceeds;
    }

    public void ClearTriedRegions()
    {
        foreach (string name in TriedDir.Children.Keys.Where(n => n != "total_bytes").ToList())
        {
            TriedDir.Remove(name);
        }

        TotalBytes = 0;
    }

    public void FillTriedRegions(List<(DamonRegion Region, ulong SzFilterPassed)> regions, bool bytesOnly)
    {
        ClearTriedRegions();
        ulong total = 0;
        for (int i = 0; i < regions.Count; i++)
        {
            (DamonRegion r, ulong passed) = regions[i];
            total += r.Size;
            if (bytesOnly)
            {
                continue;
            }

            // 6.14+ bumps the name counter twice per region: 1, 3, 5, ...
            int name = profile == KernelProfile.V6_12 ? i : (2 * i) + 1;
            VDir rd = TriedDir.Dir(name.ToString(CultureInfo.InvariantCulture));
            rd.Func("start", () => DirExt.Line(r.Start));
            rd.Func("end", () => DirExt.Line(r.End));
            rd.Func("nr_accesses", () => DirExt.Line(r.NrAccesses));
            rd.Func("age", () => DirExt.Line(r.Age));
            if (profile != KernelProfile.V6_12)
            {
                rd.Func("sz_filter_passed", () => DirExt.Line(passed));
            }
        }

        TotalBytes = total;
    }

    public SchemeConfig ToConfig()
    {
        IEnumerable<FilterNode> filters = Filters.Items;
        if (CoreFilters is not null && OpsFilters is not null)
        {
            // core_filters and ops_filters entries come before the deprecated filters/ entries.
            filters = CoreFilters.Items.Concat(OpsFilters.Items).Concat(filters);
        }

        return new SchemeConfig(
            Action.Text,
            ApplyInterval.U,
            new ValueRange(SzMin.U, SzMax.U),
            new ValueRange(NrMin.U, NrMax.U),
            new ValueRange(AgeMin.U, AgeMax.U),
            QuotaMs.U,
            QuotaBytes.U,
            ResetMs.U,
            (uint)WSz.U,
            (uint)WNr.U,
            (uint)WAge.U,
            [.. Goals.Items.Select(g => new GoalConfig(g.Metric.Text, g.Target.U, g.Current.U))],
            WmMetric.Text,
            WmInterval.U,
            WmHigh.U,
            WmMid.U,
            WmLow.U,
            [.. filters.Select(f => f.ToConfig())]);
    }
}

internal sealed class ContextNode
{
    public ContextNode(VDir d, KernelProfile p)
    {
        d.Func("avail_operations", () => string.Join('\n', ProfileTables.Operations) + "\n");
        Operations = d.Keyword("operations", "vaddr", ProfileTables.Operations);
        if (p != KernelProfile.V6_12)
        {
            AddrUnit = d.U64("addr_unit", 1);
        }

        VDir ma = d.Dir("monitoring_attrs");
        VDir iv = ma.Dir("intervals");
        Sample = iv.U64("sample_us", 5000);
        Aggr = iv.U64("aggr_us", 100000);
        Update = iv.U64("update_us", 60000000);
        if (p != KernelProfile.V6_12)
        {
            VDir g = iv.Dir("intervals_goal");
            GoalAccessBp = g.U64("access_bp");
            GoalAggrs = g.U64("aggrs");
            GoalMinSample = g.U64("min_sample_us");
            GoalMaxSample = g.U64("max_sample_us");
        }

        MinNr = ma.Dir("nr_regions").U64("min", 10);
        MaxNr = ma.Dir("nr_regions").U64("max", 1000);
        Targets = new NrChildren<TargetNode>(d.Dir("targets"), "nr_targets", (td, _) => new TargetNode(td));
        Schemes = new NrChildren<SchemeNode>(d.Dir("schemes"), "nr_schemes", (sd, _) => new SchemeNode(sd, p));
    }

    public ValueFile Operations { get; }

    public ValueFile? AddrUnit { get; }

    public ValueFile Sample { get; }

    public ValueFile Aggr { get; }

    public ValueFile Update { get; }

    public ValueFile? GoalAccessBp { get; }

    public ValueFile? GoalAggrs { get; }

    public ValueFile? GoalMinSample { get; }

    public ValueFile? GoalMaxSample { get; }

    public ValueFile MinNr { get; }

    public ValueFile MaxNr { get; }

    public NrChildren<TargetNode> Targets { get; }

    public NrChildren<SchemeNode> Schemes { get; }

    /// <summary>Builds the kernel's context from the staged files; EINVAL (naming the reason) like damon_sysfs_*_add_dirs/damon_commit_ctx.</summary>
    public ContextConfig ToConfig(string statePath, Func<int, bool> pidExists, bool commit = false)
    {
        KernelIoException Invalid(string why) => new(Errno.EINVAL, statePath, "write (" + why + ")");
        if (Aggr.U < Sample.U)
        {
            throw Invalid("aggr_us < sample_us");
        }

        if (MinNr.U < 3 || MinNr.U > MaxNr.U)
        {
            throw Invalid("nr_regions min < 3 or > max");
        }

        string ops = Operations.Text;
        var targets = new List<TargetConfig>();
        foreach (TargetNode t in Targets.Items)
        {
            var ranges = new List<AddressRange>();
            foreach (RangeNode r in t.Regions.Items)
            {
                if (r.Start.U >= r.End.U || (ranges.Count > 0 && ranges[^1].End > r.Start.U))
                {
                    throw Invalid("regions unsorted, overlapping or empty");
                }

                ranges.Add(new AddressRange(r.Start.U, r.End.U));
            }

            if (ops == "vaddr" && !pidExists(t.Pid.I))
            {
                throw Invalid($"pid {t.Pid.I} not found");
            }

            targets.Add(new TargetConfig(t.Pid.I, [.. ranges]));
        }

        // On commit, a target without regions keeps its running regions.
        if (ops == "paddr" && (targets.Count != 1 || (!commit && targets[0].Regions.Length == 0)))
        {
            throw Invalid("paddr needs exactly one target with regions");
        }

        if (ops == "fvaddr" && !commit && targets.Any(t => t.Regions.Length == 0))
        {
            throw Invalid("fvaddr target without regions");
        }

        var goal = new IntervalsGoal(GoalAccessBp?.U ?? 0, GoalAggrs?.U ?? 0, GoalMinSample?.U ?? 0, GoalMaxSample?.U ?? 0);
        return new ContextConfig(
            ops,
            AddrUnit?.U ?? 1,
            Sample.U,
            Aggr.U,
            Update.U,
            goal,
            MinNr.U,
            MaxNr.U,
            [.. targets],
            [.. Schemes.Items.Select(s => s.ToConfig())]);
    }
}
