using DamonOtel.Agent.Configuration;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>
/// Turns a kdamond's config into the kernel-unit spec the sysfs writer writes. Access rates
/// become samples and ages become aggregation intervals with the context's configured intervals,
/// truncating like damo (the kernel rescales them itself when intervals are auto-tuned).
/// </summary>
internal static class KdamondSpecBuilder
{
    /// <summary>Index of the agent's own all-matching stat scheme, appended after the user's.</summary>
    public static int MonitorSchemeIndex(KdamondConfig k) => k.Schemes.Count;

    /// <summary>
    /// The monitoring scheme applies once per aggregation interval (0) where it can: there the
    /// regions carry the finished interval's exact counts, as the tracepoint reports them.
    /// Applied every sample, nr_accesses is the kernel's moving sum (nr_accesses_bp), which
    /// split pieces copy from their parent, so it lags the region layout by up to an interval
    /// (seen in the VM: a 128 MiB hot set read now and then as 266-307 MiB; at aggregation,
    /// 127.9 MiB in every scrape). But a tried_regions refresh waits for the next apply, so
    /// when an aggregation would not fit twice in the command deadline, or auto-tuning may
    /// stretch it to minutes, the scheme walks every sampling interval instead.
    /// </summary>
    public static ulong MonitorApplyIntervalUs(IntervalsConfig iv, TimeSpan refreshDeadline) =>
        iv.Goal is null && iv.AggrUs <= (ulong)(refreshDeadline.Ticks / TimeSpan.TicksPerMicrosecond) / 2 ? 0 : iv.SampleUs;

    /// <summary>
    /// Builds the spec for <paramref name="targets"/>, the kernel's list as it is to be staged.
    /// <paramref name="monitorSchemes"/>: none (tracepoint source), or the tried_regions
    /// monitoring schemes: one all-matching stat scheme when the context has one target, else one
    /// per target, each limited to it by a core `target` filter (6.6+), because tried_regions do
    /// not say which target a region is of.
    /// </summary>
    /// <param name="bucketSchemes">tried_bytes: per target, one stat scheme per bucket pattern
    /// (instead of the monitoring schemes), filtered to the target when there are several.</param>
    public static KdamondSpec Build(KdamondConfig k, IReadOnlyList<ResolvedTarget> resolved, TargetPlan targets, int kdamondPid, bool monitorSchemes, bool refreshSupported, TimeSpan refreshDeadline, Analysis.IdleBucketSchemes? bucketSchemes = null)
    {
        IntervalsConfig iv = k.Intervals;
        var intervals = new Intervals(iv.SampleUs, iv.AggrUs, iv.UpdateUs);
        var schemes = new List<SchemeSpec>(k.Schemes.Count + targets.After.Count);
        foreach (SchemeConfig s in k.Schemes)
        {
            schemes.Add(BuildScheme(s, intervals, targets.After));
        }

        // What damo installs for a snapshot, kept for good; see MonitorApplyIntervalUs.
        ulong applyUs = MonitorApplyIntervalUs(iv, refreshDeadline);
        int count = monitorSchemes ? MonitorSchemeCount(targets.After.Count) : 0;
        if (bucketSchemes is not null)
        {
            int targetCount = targets.After.Count;
            for (int t = 0; t < targetCount; t++)
            {
                foreach (AccessPattern pattern in bucketSchemes.Schemes)
                {
                    schemes.Add(new SchemeSpec("stat", pattern, ApplyIntervalUs: applyUs, Filters: targetCount > 1 ? [new FilterSpec("target", Matching: false, TargetIndex: t)] : null));
                }
            }
        }
        else if (count == 1)
        {
            schemes.Add(new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: applyUs));
        }
        else
        {
            for (int t = 0; t < count; t++)
            {
                // matching=N rejects what is NOT of target t: valid with and without `allow` (6.14).
                schemes.Add(new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: applyUs, Filters: [new FilterSpec("target", Matching: false, TargetIndex: t)]));
            }
        }

        var context = new ContextSpec(
            k.Operations,
            intervals,
            TargetSpecs(k, resolved, targets, kdamondPid),
            schemes,
            k.MinNrRegions,
            k.MaxNrRegions,
            IntervalsGoal: iv.Goal is { } g ? new IntervalsGoal(g.AccessBp, g.Aggrs, g.MinSampleUs, g.MaxSampleUs) : null);
        return new KdamondSpec([context], refreshSupported && k.RefreshMs > 0 ? k.RefreshMs : null);
    }

    /// <summary>The tried_regions monitoring schemes for a context of <paramref name="targets"/> targets.</summary>
    public static int MonitorSchemeCount(int targets) => Math.Max(1, targets);

    /// <summary>
    /// A tombstone's one region: the first page, which no process maps (vm.mmap_min_addr), so
    /// the kernel drops a reused entry's old regions and a tombstone's memory is 4 KiB.
    /// </summary>
    public static readonly AddressRange ResetRegion = new(0, 4096);

    /// <summary>
    /// The staged targets/ entries. A tombstone is the kdamond's own thread: a kernel thread has
    /// no memory to sample or act on, and the kernel resolves every staged pid again at each
    /// commit, so a tombstone must name a pid that can never be a user process while this
    /// kdamond runs.
    /// </summary>
    public static IReadOnlyList<TargetSpec> TargetSpecs(KdamondConfig k, IReadOnlyList<ResolvedTarget> resolved, TargetPlan targets, int kdamondPid)
    {
        var specs = new List<TargetSpec>(targets.Staged.Count);
        for (int i = 0; i < targets.Staged.Count; i++)
        {
            KernelTarget t = targets.Staged[i];
            bool obsolete = targets.Obsolete[i];
            if (t.IsTombstone || obsolete)
            {
                // An entry removed with obsolete_target is still resolved by the commit (7.3: EINVAL
                // for a dead pid, measured), and its old pid may be somebody else's by now.
                if (kdamondPid <= 0)
                {
                    throw new InvalidOperationException($"kdamond {k.Name}: removing a target needs the kdamond's thread pid");
                }

                specs.Add(new TargetSpec(kdamondPid, obsolete ? null : [ResetRegion], obsolete));
            }
            else if (!t.HasProcess)
            {
                specs.Add(new TargetSpec(0, resolved[t.ConfigIndex].Regions.Count > 0 ? resolved[t.ConfigIndex].Regions : null, obsolete));
            }
            else
            {
                IReadOnlyList<AddressRange>? regions = targets.Reset[i] ? [ResetRegion]
                    : resolved[t.ConfigIndex].Regions.Count > 0 ? resolved[t.ConfigIndex].Regions
                    : null;
                specs.Add(new TargetSpec(t.Process.Pid, regions, obsolete));
            }
        }

        return specs;
    }

    /// <param name="targets">The kernel's targets after the commit: a `target` filter on configured
    /// target t becomes one filter per kernel target of t's processes (or, for matching=N, of
    /// every other target), which the kernel evaluates exactly like the one filter on t.</param>
    public static SchemeSpec BuildScheme(SchemeConfig s, Intervals intervals, IReadOnlyList<KernelTarget>? targets = null)
    {
        ulong maxNr = intervals.MaxNrAccesses;
        PatternConfig p = s.Pattern;
        var pattern = new AccessPattern(
            new ValueRange(p.SizeMin, p.SizeMax),
            new ValueRange(PercentToSamples(p.AccessRateMinPercent, maxNr), p.AccessRateMaxPercent is double max ? PercentToSamples(max, maxNr) : AccessPattern.CountMax),
            new ValueRange(TimeToAggregations(p.AgeMinUs, intervals.AggrUs), TimeToAggregations(p.AgeMaxUs, intervals.AggrUs)));

        QuotaSpec? quotas = s.Quotas is { } q
            ? new QuotaSpec(
                q.TimeMs,
                q.SizeBytes,
                q.ResetIntervalMs,
                new QuotaWeights(q.WeightSizePermil, q.WeightAccessRatePermil, q.WeightAgePermil),
                q.Goals.Count > 0 ? [.. q.Goals.Select(g => new QuotaGoalSpec(g.Metric, g.TargetValue, g.CurrentValue, g.Nid, g.Path))] : null)
            : null;

        DamosWatermarks? wm = s.Watermarks is { } w ? new DamosWatermarks(w.Metric, w.IntervalUs, w.HighPermil, w.MidPermil, w.LowPermil) : null;
        IReadOnlyList<FilterSpec>? filters = s.Filters.Count == 0
            ? null
            : [.. s.Filters.SelectMany(f => ExpandTargetFilter(f, targets).Select(x => new FilterSpec(
                f.Type,
                x.Matching,
                f.Allow ? true : null,
                f.MemcgPath,
                f.AddrStart is { } a && f.AddrEnd is { } e ? new AddressRange(a, e) : null,
                x.Index,
                f.Min is { } mn && f.Max is { } mx ? new ValueRange(mn, mx) : null)))];
        IReadOnlyList<DestSpec>? dests = s.Dests.Count == 0 ? null : [.. s.Dests.Select(d => new DestSpec(d.Node, d.Weight))];
        return new SchemeSpec(s.Action, pattern, s.ApplyIntervalUs == 0 ? null : s.ApplyIntervalUs, s.TargetNid, quotas, wm, filters, dests);
    }

    // A target filter names a configured target; the kernel's indexes are those of its processes.
    // matching=Y: "region of target t" = of any of t's kernel targets (one matching filter each).
    // matching=N: "region not of t" = of any other kernel target (one matching filter each);
    // both keep the filter's allow/reject. Other filter types pass through once (index null).
    private static List<(int? Index, bool Matching)> ExpandTargetFilter(FilterConfig f, IReadOnlyList<KernelTarget>? targets)
    {
        if (f.Type != "target" || f.TargetIndex is not int configured || targets is null)
        {
            return [(f.TargetIndex, f.Matching)];
        }

        var indexes = new List<(int? Index, bool Matching)>();
        for (int i = 0; i < targets.Count; i++)
        {
            if ((targets[i].ConfigIndex == configured) == f.Matching)
            {
                indexes.Add((i, true));
            }
        }

        // No kernel target qualifies: a filter on an index nobody has matches nothing, like the original.
        return indexes.Count > 0 ? indexes : [(targets.Count, true)];
    }

    /// <summary>damo: samples = percent x max_nr_accesses / 100, truncated.</summary>
    public static ulong PercentToSamples(double percent, ulong maxNrAccesses) => (ulong)(percent * maxNrAccesses / 100.0);

    /// <summary>Age in aggregation intervals, truncated; "max" stays the kernel's largest age.</summary>
    public static ulong TimeToAggregations(ulong us, ulong aggrUs) =>
        us == ulong.MaxValue ? AccessPattern.CountMax : aggrUs == 0 ? 0 : us / aggrUs;
}
