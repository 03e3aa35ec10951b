using DamonOtel.Agent.Configuration;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>A target resolved against the running system: its pid and/or its ranges.</summary>
internal sealed record ResolvedTarget(string Name, int Pid, IReadOnlyList<AddressRange> Regions);

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
    /// Builds the spec. <paramref name="monitorSchemes"/> = 0 (tracepoint source), 1 (one
    /// all-matching stat scheme), or one per target, each limited to its target by a core
    /// `target` filter (6.6+), because tried_regions do not say which target a region is of.
    /// </summary>
    /// <param name="bucketSchemes">tried_bytes: per target, one stat scheme per bucket pattern
    /// (then <paramref name="monitorSchemes"/> is targets x patterns), filtered to the target
    /// when there are several.</param>
    public static KdamondSpec Build(KdamondConfig k, IReadOnlyList<ResolvedTarget> targets, int monitorSchemes, bool refreshSupported, TimeSpan refreshDeadline, Analysis.IdleBucketSchemes? bucketSchemes = null)
    {
        IntervalsConfig iv = k.Intervals;
        var intervals = new Intervals(iv.SampleUs, iv.AggrUs, iv.UpdateUs);
        var schemes = new List<SchemeSpec>(k.Schemes.Count + 1);
        foreach (SchemeConfig s in k.Schemes)
        {
            schemes.Add(BuildScheme(s, intervals));
        }

        // What damo installs for a snapshot, kept for good; see MonitorApplyIntervalUs.
        ulong applyUs = MonitorApplyIntervalUs(iv, refreshDeadline);
        if (bucketSchemes is not null)
        {
            int perTarget = bucketSchemes.Schemes.Count;
            int targetCount = monitorSchemes / perTarget;
            for (int t = 0; t < targetCount; t++)
            {
                foreach (AccessPattern pattern in bucketSchemes.Schemes)
                {
                    schemes.Add(new SchemeSpec("stat", pattern, ApplyIntervalUs: applyUs, Filters: targetCount > 1 ? [new FilterSpec("target", Matching: false, TargetIndex: t)] : null));
                }
            }
        }
        else if (monitorSchemes == 1)
        {
            schemes.Add(new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: applyUs));
        }
        else
        {
            for (int t = 0; t < monitorSchemes; t++)
            {
                // matching=N rejects what is NOT of target t: valid with and without `allow` (6.14).
                schemes.Add(new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: applyUs, Filters: [new FilterSpec("target", Matching: false, TargetIndex: t)]));
            }
        }

        var context = new ContextSpec(
            k.Operations,
            intervals,
            [.. targets.Select(t => new TargetSpec(t.Pid, t.Regions.Count > 0 ? t.Regions : null))],
            schemes,
            k.MinNrRegions,
            k.MaxNrRegions,
            IntervalsGoal: iv.Goal is { } g ? new IntervalsGoal(g.AccessBp, g.Aggrs, g.MinSampleUs, g.MaxSampleUs) : null);
        return new KdamondSpec([context], refreshSupported && k.RefreshMs > 0 ? k.RefreshMs : null);
    }

    public static SchemeSpec BuildScheme(SchemeConfig s, Intervals intervals)
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
            : [.. s.Filters.Select(f => new FilterSpec(
                f.Type,
                f.Matching,
                f.Allow ? true : null,
                f.MemcgPath,
                f.AddrStart is { } a && f.AddrEnd is { } e ? new AddressRange(a, e) : null,
                f.TargetIndex,
                f.Min is { } mn && f.Max is { } mx ? new ValueRange(mn, mx) : null))];
        IReadOnlyList<DestSpec>? dests = s.Dests.Count == 0 ? null : [.. s.Dests.Select(d => new DestSpec(d.Node, d.Weight))];
        return new SchemeSpec(s.Action, pattern, s.ApplyIntervalUs == 0 ? null : s.ApplyIntervalUs, s.TargetNid, quotas, wm, filters, dests);
    }

    /// <summary>damo: samples = percent x max_nr_accesses / 100, truncated.</summary>
    public static ulong PercentToSamples(double percent, ulong maxNrAccesses) => (ulong)(percent * maxNrAccesses / 100.0);

    /// <summary>Age in aggregation intervals, truncated; "max" stays the kernel's largest age.</summary>
    public static ulong TimeToAggregations(ulong us, ulong aggrUs) =>
        us == ulong.MaxValue ? AccessPattern.CountMax : aggrUs == 0 ? 0 : us / aggrUs;
}
