using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Configuration;

// kdamonds[i]: operations, intervals (with auto_tune), nr_regions, targets and schemes.
internal static partial class ConfigLoader
{
    private static KdamondConfig ReadKdamond(YamlNodeReader k, int index)
    {
        string name = k.String("name") ?? index.ToString(CultureInfo.InvariantCulture);
        string ops = k.Keyword("operations", "vaddr", "vaddr", "fvaddr", "paddr");
        RegionSource source = Source(k, "region_source", allowDamonStat: false);

        YamlNodeReader iv = k.Mapping("intervals");
        var intervals = new IntervalsConfig
        {
            SampleUs = iv.TimeUs("sample") ?? IntervalsConfig.DefaultSampleUs,
            AggrUs = iv.TimeUs("aggregation") ?? IntervalsConfig.DefaultAggrUs,
            UpdateUs = iv.TimeUs("update") ?? IntervalsConfig.DefaultUpdateUs,
            Goal = ReadGoal(iv),
        };
        if (intervals.SampleUs == 0)
        {
            iv.Error(iv.Raw("sample"), "sample", "must be longer than 0");
        }

        if (intervals.AggrUs < intervals.SampleUs)
        {
            iv.Error(iv.Raw("aggregation"), "aggregation", $"{Units.FormatTimeUs(intervals.AggrUs)} is shorter than the sampling interval {Units.FormatTimeUs(intervals.SampleUs)} (the kernel rejects it with EINVAL)");
        }

        if (intervals.UpdateUs == 0)
        {
            iv.Error(iv.Raw("update"), "update", "must be longer than 0");
        }

        iv.RejectUnknownKeys();

        YamlNodeReader nr = k.Mapping("nr_regions");
        ulong min = (ulong?)nr.Integer("min", 0, uint.MaxValue) ?? KdamondConfig.DefaultMinNrRegions;
        ulong max = (ulong?)nr.Integer("max", 0, uint.MaxValue) ?? KdamondConfig.DefaultMaxNrRegions;
        if (min < 3)
        {
            nr.Error(nr.Raw("min"), "min", $"{min} is below 3 (the kernel needs at least 3 regions)");
        }

        if (min > max)
        {
            nr.Error(nr.Raw("max"), "max", $"{max} is below min {min}");
        }

        nr.RejectUnknownKeys();

        ulong? refreshUs = k.TimeUs("refresh", 1_000);
        var targets = new List<TargetConfig>();
        IReadOnlyList<YamlNodeReader> targetNodes = k.MappingList("targets");
        for (int i = 0; i < targetNodes.Count; i++)
        {
            targets.Add(ReadTarget(targetNodes[i], i, ops));
        }

        if (targets.Count == 0)
        {
            if (ops == "paddr")
            {
                targets.Add(new TargetConfig { Name = "0", Memory = PhysicalRange.LargestBlock });
            }
            else
            {
                k.Error(k.Raw("targets"), "targets", $"{ops} needs at least one target");
            }
        }

        if (ops == "paddr" && targets.Count > 1)
        {
            k.Error(k.Raw("targets"), "targets", "paddr takes exactly one target (the kernel rejects more with EINVAL); give several ranges in its 'regions' instead");
        }

        if (UniqueNames(targets.Select(t => t.Name)) is string dupTarget)
        {
            k.Error(k.Raw("targets"), "targets", $"target name '{dupTarget}' is used twice");
        }

        var schemes = new List<SchemeConfig>();
        IReadOnlyList<YamlNodeReader> schemeNodes = k.MappingList("schemes");
        for (int i = 0; i < schemeNodes.Count; i++)
        {
            schemes.Add(ReadScheme(schemeNodes[i], i, ops));
        }

        if (UniqueNames(schemes.Select(s => s.Name)) is string dupScheme)
        {
            k.Error(k.Raw("schemes"), "schemes", $"scheme name '{dupScheme}' is used twice");
        }

        PageSamplingConfig pageSampling = ReadPageSampling(k, ops);
        CgroupsConfig? cgroups = ReadCgroups(k, ops);
        k.RejectUnknownKeys();
        return new KdamondConfig
        {
            PageSampling = pageSampling,
            Cgroups = cgroups,
            Name = name,
            Line = k.Line,
            RegionSource = source,
            Operations = ops,
            Targets = targets,
            Intervals = intervals,
            MinNrRegions = min,
            MaxNrRegions = max,
            RefreshMs = refreshUs is null ? KdamondConfig.DefaultRefreshMs : (uint)Math.Min(uint.MaxValue, refreshUs.Value / 1000),
            Schemes = schemes,
        };
    }

    private static IntervalsGoalConfig? ReadGoal(YamlNodeReader iv)
    {
        YamlNode? raw = iv.Raw("auto_tune");
        if (raw is null)
        {
            return null;
        }

        if (raw is YamlScalarNode)
        {
            return iv.Bool("auto_tune", false) ? IntervalsGoalConfig.Recommended : null;
        }

        YamlNodeReader g = iv.Mapping("auto_tune");
        IntervalsGoalConfig d = IntervalsGoalConfig.Recommended;
        double access = g.Percent("access") ?? d.AccessBp / 100.0;
        var goal = new IntervalsGoalConfig(
            (ulong)Math.Round(access * 100),
            (ulong)(g.Integer("aggregations", 1, uint.MaxValue) ?? (long)d.Aggrs),
            g.TimeUs("min_sample") ?? d.MinSampleUs,
            g.TimeUs("max_sample") ?? d.MaxSampleUs);
        if (goal.AccessBp == 0)
        {
            g.Error(g.Raw("access"), "access", "must be above 0% (0 disables tuning; use auto_tune: false)");
        }

        if (goal.MinSampleUs > goal.MaxSampleUs)
        {
            g.Error(g.Raw("max_sample"), "max_sample", "is below min_sample");
        }

        g.RejectUnknownKeys();
        return goal;
    }

    private static RegionSource Source(YamlNodeReader r, string key, bool allowDamonStat)
    {
        string value = allowDamonStat
            ? r.Keyword(key, "auto", "auto", "tracepoint", "tried_regions", "damon_stat")
            : r.Keyword(key, "auto", "auto", "tracepoint", "tried_regions");
        return value switch
        {
            "tracepoint" => RegionSource.Tracepoint,
            "tried_regions" => RegionSource.TriedRegions,
            "damon_stat" => RegionSource.DamonStat,
            _ => RegionSource.Auto,
        };
    }
}
