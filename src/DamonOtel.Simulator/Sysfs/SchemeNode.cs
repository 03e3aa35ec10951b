using System.Globalization;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

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
        q.Func("effective_bytes", () => VDirExtensions.Line(EffectiveBytes));
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
            st.Func(name, () => VDirExtensions.Line(Stats.GetValueOrDefault(name)));
        }

        TriedDir = d.Dir("tried_regions");
        TriedDir.Func("total_bytes", () => VDirExtensions.Line(TotalBytes));
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
            rd.Func("start", () => VDirExtensions.Line(r.Start));
            rd.Func("end", () => VDirExtensions.Line(r.End));
            rd.Func("nr_accesses", () => VDirExtensions.Line(r.NrAccesses));
            rd.Func("age", () => VDirExtensions.Line(r.Age));
            if (profile != KernelProfile.V6_12)
            {
                rd.Func("sz_filter_passed", () => VDirExtensions.Line(passed));
            }
        }

        TotalBytes = total;
    }

    public CommittedScheme ToConfig()
    {
        IEnumerable<FilterNode> filters = Filters.Items;
        if (CoreFilters is not null && OpsFilters is not null)
        {
            // core_filters and ops_filters entries come before the deprecated filters/ entries.
            filters = CoreFilters.Items.Concat(OpsFilters.Items).Concat(filters);
        }

        return new CommittedScheme(
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
            [.. Goals.Items.Select(g => new CommittedGoal(g.Metric.Text, g.Target.U, g.Current.U))],
            WmMetric.Text,
            WmInterval.U,
            WmHigh.U,
            WmMid.U,
            WmLow.U,
            [.. filters.Select(f => f.ToConfig())]);
    }
}
