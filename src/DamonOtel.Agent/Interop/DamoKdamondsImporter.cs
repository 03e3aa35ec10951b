using System.Globalization;
using System.Text.Json;
using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Interop;

/// <summary>One finding of an import, at a JSON path such as kdamonds[0].contexts[0].schemes[1].quotas.time_ms.</summary>
internal sealed record DamoImportMessage(string Path, string Message)
{
    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>Where an imported kdamond came from: its JSON path and those of its targets and schemes, in order.</summary>
internal sealed record DamoOrigin(string Path, IReadOnlyList<string> Targets, IReadOnlyList<string> Schemes);

/// <summary>
/// The kdamonds found (with <see cref="Origins"/>, parallel to them), what could not be
/// expressed (warnings), what could not be read or would not run (errors), and notes on how a
/// value was converted (for the comments of the written config).
/// </summary>
internal sealed record DamoImportResult(
    IReadOnlyList<KdamondConfig> Kdamonds,
    IReadOnlyList<DamoImportMessage> Warnings,
    IReadOnlyList<DamoImportMessage> Errors)
{
    public IReadOnlyList<DamoOrigin> Origins { get; init; } = [];

    public IReadOnlyList<DamoImportMessage> Notes { get; init; } = [];
}

/// <summary>
/// Converts damo's kdamonds JSON (`damo args damon --format json`, `damo start --kdamonds`, the
/// positional kdamonds file; damo 2.8.x and 3.x) into this project's kdamond configuration.
/// Values are read as damo reads them (see <see cref="DamoValues"/> and docs/damo-interop.md).
/// Nothing is dropped silently: a key or value the configuration cannot express is a warning
/// naming its JSON path; a value that cannot be read is an error.
/// </summary>
internal static class DamoKdamondsImporter
{
    // Keys damo prints that are state or statistics, not configuration (`damo report damon` output).
    private static readonly HashSet<string> StatusOnlyKeys = ["state", "pid", "stats", "tried_regions", "effective_sz_bytes"];

    /// <summary>Imports <paramref name="json"/>; <paramref name="processName"/> names vaddr targets after their process when it can (comm of a pid), see <see cref="DamoNaming"/>.</summary>
    public static DamoImportResult Import(string json, string source, Func<int, string?>? processName = null)
    {
        var ctx = new ImportContext();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            ctx.Error($"{source}:{(e.LineNumber ?? 0) + 1}", $"not JSON: {e.Message.Split(" Path:", 2)[0]}");
            return ctx.Result([]);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            JsonElement kdamonds;
            if (root.ValueKind == JsonValueKind.Array)
            {
                // `damo report damon --format json` (3.x; --json in 2.x) prints the bare list.
                kdamonds = root;
                ctx.Note("$", "a bare list of kdamonds, as `damo report damon --format json` prints the running ones");
            }
            else if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("kdamonds", out kdamonds) || kdamonds.ValueKind != JsonValueKind.Array)
            {
                ctx.Error("$", "expected an object with a \"kdamonds\" list (damo args damon --format json) or a list of kdamonds (damo report damon --format json)");
                return ctx.Result([]);
            }
            else
            {
                ctx.UnknownKeys(root, "$", ["kdamonds"]);
            }
            var result = new List<KdamondConfig>();
            var origins = new List<DamoOrigin>();
            int index = 0;
            foreach (JsonElement kdamond in kdamonds.EnumerateArray())
            {
                if (ReadKdamond(kdamond, $"kdamonds[{index}]", ctx) is (KdamondConfig config, DamoOrigin origin))
                {
                    result.Add(config);
                    origins.Add(origin);
                }

                index++;
            }

            if (result.Count == 0 && ctx.ErrorCount == 0)
            {
                ctx.Error("$.kdamonds", "no kdamond to import");
            }

            return ctx.Result(DamoNaming.Assign(result, processName ?? (_ => null))) with { Origins = origins };
        }
    }

    private static (KdamondConfig, DamoOrigin)? ReadKdamond(JsonElement kd, string path, ImportContext ctx)
    {
        ctx.UnknownKeys(kd, path, ["contexts", "refresh_ms"]);
        if (!ctx.RequireArray(kd, "contexts", path, out JsonElement contexts))
        {
            return null;
        }

        int nrContexts = contexts.GetArrayLength();
        if (nrContexts == 0)
        {
            ctx.Error(path + ".contexts", "a kdamond needs one context");
            return null;
        }

        if (nrContexts > 1)
        {
            // The kernel runs one context per kdamond (nr_contexts is 0 or 1).
            ctx.Warn(path + ".contexts", $"{nrContexts} contexts: only contexts[0] is imported (a kdamond runs one context)");
        }

        uint refreshMs = 0;
        if (kd.TryGetProperty("refresh_ms", out JsonElement refresh))
        {
            if (ctx.Time(refresh, path + ".refresh_ms", 1000m, out ulong refreshUs))
            {
                refreshMs = (uint)Math.Min(refreshUs / 1000, uint.MaxValue);
            }
        }

        JsonElement c = contexts[0];
        string cpath = path + ".contexts[0]";
        ctx.UnknownKeys(c, cpath, ["ops", "addr_unit", "targets", "intervals", "nr_regions", "probes", "sample_control", "pause", "schemes"]);
        string ops = ctx.String(c, "ops", cpath) ?? "vaddr";
        if (ops is not ("vaddr" or "fvaddr" or "paddr"))
        {
            ctx.Error(cpath + ".ops", $"unknown operations set \"{ops}\" (vaddr, fvaddr, paddr)");
            return null;
        }

        if (c.TryGetProperty("addr_unit", out JsonElement addrUnit) && addrUnit.ValueKind != JsonValueKind.Null &&
            ctx.Size(addrUnit, cpath + ".addr_unit", out ulong unit) && unit != 1)
        {
            ctx.Warn(cpath + ".addr_unit", $"address unit {unit} is not supported by the configuration (1 byte is used)");
        }

        NotUpstream(c, cpath, ctx);
        IntervalsConfig intervals = ReadIntervals(c, cpath, ctx);
        (ulong minRegions, ulong maxRegions) = (10, 1000);
        if (c.TryGetProperty("nr_regions", out JsonElement nr))
        {
            ctx.UnknownKeys(nr, cpath + ".nr_regions", ["min", "max"]);
            ctx.Count(nr, "min", cpath + ".nr_regions", ref minRegions);
            ctx.Count(nr, "max", cpath + ".nr_regions", ref maxRegions);
            if (minRegions < 3)
            {
                ctx.Error(cpath + ".nr_regions.min", $"{minRegions} is below 3, which the kernel requires (EINVAL)");
            }

            if (maxRegions < minRegions || maxRegions > uint.MaxValue)
            {
                ctx.Error(cpath + ".nr_regions.max", $"{maxRegions} is not between min ({minRegions}) and 2^32-1");
            }
        }

        var targets = new List<TargetConfig>();
        var targetPaths = new List<string>();
        if (ctx.RequireArray(c, "targets", cpath, out JsonElement targetsJson))
        {
            int t = 0;
            foreach (JsonElement target in targetsJson.EnumerateArray())
            {
                string tpath = $"{cpath}.targets[{t++}]";
                if (ReadTarget(target, tpath, ops, ctx) is TargetConfig tc)
                {
                    targets.Add(tc);
                    targetPaths.Add(tpath);
                }
            }
        }

        if (ops == "paddr" && targets.Count > 1)
        {
            ctx.Error(cpath + ".targets", $"{targets.Count} paddr targets: the kernel takes one (EINVAL); put the ranges into one target's regions");
        }
        else if (targets.Count == 0 && ops == "paddr")
        {
            // damo fills in the physical memory range itself; the configuration does the same.
            targets.Add(new TargetConfig { Name = DamoNaming.Placeholder, Memory = PhysicalRange.LargestBlock });
            targetPaths.Add(cpath + ".targets");
            ctx.Note(cpath + ".targets", "no target: the largest System RAM block, as damo and DAMON_STAT monitor by default");
        }
        else if (targets.Count == 0)
        {
            ctx.Error(cpath + ".targets", $"{ops} needs at least one target");
        }

        var schemes = new List<SchemeConfig>();
        var schemePaths = new List<string>();
        if (c.TryGetProperty("schemes", out JsonElement schemesJson) && schemesJson.ValueKind == JsonValueKind.Array)
        {
            int s = 0;
            foreach (JsonElement scheme in schemesJson.EnumerateArray())
            {
                string spath = $"{cpath}.schemes[{s++}]";
                if (ReadScheme(scheme, spath, ops, intervals, ctx) is SchemeConfig sc)
                {
                    schemes.Add(sc);
                    schemePaths.Add(spath);
                }
            }
        }

        var origin = new DamoOrigin(path, targetPaths, schemePaths);
        return (new KdamondConfig
        {
            Name = DamoNaming.Placeholder,
            Operations = ops,
            Targets = targets,
            Intervals = intervals,
            MinNrRegions = minRegions,
            MaxNrRegions = maxRegions,
            RefreshMs = refreshMs,
            Schemes = schemes,
        }, origin);
    }

    // damo 3.x prints data-attribute probes, sampling control and context pause: DAMON features
    // that are not upstream. Their defaults are fine; anything else cannot be expressed.
    private static void NotUpstream(JsonElement c, string cpath, ImportContext ctx)
    {
        if (c.TryGetProperty("probes", out JsonElement probes) && probes.ValueKind == JsonValueKind.Array && probes.GetArrayLength() > 0)
        {
            ctx.Warn(cpath + ".probes", "data attribute probes are not upstream DAMON and are not imported");
        }

        if (c.TryGetProperty("pause", out JsonElement pause) && pause.ValueKind == JsonValueKind.True)
        {
            ctx.Warn(cpath + ".pause", "a paused context is not supported; the kdamond will run");
        }

        if (c.TryGetProperty("sample_control", out JsonElement sc))
        {
            bool pageFault = sc.TryGetProperty("primitives_enabled", out JsonElement prim) && prim.TryGetProperty("page_fault", out JsonElement pf) && pf.ValueKind == JsonValueKind.True;
            bool pageTableOff = prim.ValueKind == JsonValueKind.Object && prim.TryGetProperty("page_table", out JsonElement pt) && pt.ValueKind == JsonValueKind.False;
            bool filters = sc.TryGetProperty("sample_filters", out JsonElement sf) && sf.ValueKind == JsonValueKind.Array && sf.GetArrayLength() > 0;
            if (pageFault || pageTableOff || filters)
            {
                ctx.Warn(cpath + ".sample_control", "sampling control is not upstream DAMON and is not imported (page-table sampling is used)");
            }
        }
    }

    private static IntervalsConfig ReadIntervals(JsonElement c, string cpath, ImportContext ctx)
    {
        var intervals = new IntervalsConfig();
        if (!c.TryGetProperty("intervals", out JsonElement iv))
        {
            return intervals;
        }

        string ipath = cpath + ".intervals";
        ctx.UnknownKeys(iv, ipath, ["sample_us", "aggr_us", "ops_update_us", "intervals_goal"]);
        if (iv.TryGetProperty("sample_us", out JsonElement sampleJson) && sampleJson.ValueKind == JsonValueKind.String && DamoValues.IsBareNumber(sampleJson))
        {
            ctx.LooksRaw = true;
        }

        ulong sample = intervals.SampleUs, aggr = intervals.AggrUs, update = intervals.UpdateUs;
        ctx.TimeKey(iv, "sample_us", ipath, 1m, ref sample);
        ctx.TimeKey(iv, "aggr_us", ipath, 1m, ref aggr);
        ctx.TimeKey(iv, "ops_update_us", ipath, 1m, ref update);
        IntervalsGoalConfig? goal = null;
        if (iv.TryGetProperty("intervals_goal", out JsonElement g))
        {
            string gpath = ipath + ".intervals_goal";
            ctx.UnknownKeys(g, gpath, ["access_bp", "aggrs", "min_sample_us", "max_sample_us"]);
            decimal accessBp = 0;
            if (g.TryGetProperty("access_bp", out JsonElement bp))
            {
                ctx.Ratio(bp, gpath + ".access_bp", 10_000m, out accessBp);
            }

            ulong aggrs = 0, min = 0, max = 0;
            ctx.Count(g, "aggrs", gpath, ref aggrs);
            ctx.TimeKey(g, "min_sample_us", gpath, 1m, ref min);
            ctx.TimeKey(g, "max_sample_us", gpath, 1m, ref max);
            if (aggrs != 0 && accessBp < 1)
            {
                ctx.Warn(gpath + ".access_bp", "an access goal of 0 steers the sampling interval to its maximum; the configuration cannot express it, so auto-tuning is not imported");
            }
            else if (aggrs != 0)
            {
                // damo treats the goal as off when aggrs is 0, as the kernel does.
                goal = new IntervalsGoalConfig((ulong)decimal.Truncate(accessBp), aggrs, min, max);
                if (min > max || aggrs > uint.MaxValue)
                {
                    ctx.Error(gpath, $"min_sample_us {min} is above max_sample_us {max}, or aggrs {aggrs} is above 2^32-1 (the kernel rejects it)");
                }
            }
        }

        if (sample == 0 || update == 0)
        {
            ctx.Error(ipath, "the sampling and update intervals must be above 0 (the kernel rejects 0)");
        }
        else if (aggr < sample)
        {
            ctx.Error(ipath + ".aggr_us", $"{aggr} us is shorter than the sampling interval {sample} us (the kernel rejects it)");
        }

        return intervals with { SampleUs = sample, AggrUs = aggr, UpdateUs = update, Goal = goal };
    }

    private static TargetConfig? ReadTarget(JsonElement target, string tpath, string ops, ImportContext ctx)
    {
        ctx.UnknownKeys(target, tpath, ["pid", "obsolete", "regions"]);
        int? pid = null;
        if (target.TryGetProperty("pid", out JsonElement pidJson) && pidJson.ValueKind != JsonValueKind.Null)
        {
            if (ctx.Count(pidJson, tpath + ".pid", out ulong p) && p is > 0 and <= int.MaxValue)
            {
                pid = (int)p;
            }
            else
            {
                ctx.Error(tpath + ".pid", $"{DamoValues.Show(pidJson)} is not a process id");
            }
        }

        if (target.TryGetProperty("obsolete", out JsonElement obsolete) && obsolete.ValueKind == JsonValueKind.True)
        {
            ctx.Warn(tpath + ".obsolete", "an obsolete target (being removed) is not imported");
            return null;
        }

        var regions = new List<(ulong, ulong)>();
        if (target.TryGetProperty("regions", out JsonElement regionsJson) && regionsJson.ValueKind == JsonValueKind.Array)
        {
            int r = 0;
            foreach (JsonElement region in regionsJson.EnumerateArray())
            {
                string rpath = $"{tpath}.regions[{r++}]";
                ulong start = 0, end = 0;
                if (ctx.SizeKey(region, "start", rpath, ref start) & ctx.SizeKey(region, "end", rpath, ref end))
                {
                    if (end <= start)
                    {
                        ctx.Error(rpath, $"end {end} is not above start {start}");
                    }
                    else
                    {
                        regions.Add((start, end));
                    }
                }
            }
        }

        if (ops is "vaddr" or "fvaddr")
        {
            if (pid is null)
            {
                ctx.Error(tpath + ".pid", $"a {ops} target needs a pid");
                return null;
            }

            if (ops == "vaddr" && regions.Count > 0)
            {
                ctx.Warn(tpath + ".regions", "initial regions of a vaddr target are not imported (DAMON derives them from the mappings)");
            }

            if (ops == "fvaddr" && regions.Count == 0)
            {
                ctx.Error(tpath + ".regions", "an fvaddr target needs its fixed regions");
                return null;
            }

            return new TargetConfig { Name = DamoNaming.Placeholder, Pid = pid, Regions = ops == "fvaddr" ? SortedRegions(regions, tpath, ctx) : [] };
        }

        if (pid is not null)
        {
            ctx.Warn(tpath + ".pid", $"{ops} targets have no process; pid {pid} is not imported");
        }

        return new TargetConfig
        {
            Name = DamoNaming.Placeholder,
            Regions = SortedRegions(regions, tpath, ctx),
            Memory = regions.Count == 0 ? PhysicalRange.LargestBlock : null,
        };
    }

    // The kernel rejects unsorted or overlapping target regions (EINVAL), and so does the config.
    private static List<(ulong Start, ulong End)> SortedRegions(List<(ulong Start, ulong End)> regions, string tpath, ImportContext ctx)
    {
        for (int i = 1; i < regions.Count; i++)
        {
            if (regions[i].Start < regions[i - 1].End)
            {
                ctx.Error($"{tpath}.regions[{i}]", "regions must be sorted and must not overlap (the kernel rejects them)");
                break;
            }
        }

        return regions;
    }

    private static SchemeConfig? ReadScheme(JsonElement s, string spath, string ops, IntervalsConfig intervals, ImportContext ctx)
    {
        ctx.UnknownKeys(s, spath, ["action", "target_nid", "dests", "access_pattern", "apply_interval_us", "quotas", "watermarks", "filters"]);
        string action = ctx.String(s, "action", spath) ?? "stat";
        if (Array.IndexOf(ConfigLoader.Actions, action) < 0)
        {
            ctx.Error(spath + ".action", $"unknown action \"{action}\" ({string.Join(", ", ConfigLoader.Actions)})");
            return null;
        }

        if (!ConfigLoader.ActionWorksOn(action, ops))
        {
            // The kernel accepts it but never applies it (the operations set has no such action).
            ctx.Warn(spath + ".action", $"{action} does nothing on {ops} (the operations set does not implement it); the scheme is not imported");
            return null;
        }
        PatternConfig pattern = s.TryGetProperty("access_pattern", out JsonElement ap) ? ReadPattern(ap, spath + ".access_pattern", intervals, ctx) : new PatternConfig();
        ulong apply = 0;
        ctx.TimeKey(s, "apply_interval_us", spath, 1m, ref apply);

        int? targetNid = null;
        if (s.TryGetProperty("target_nid", out JsonElement nid) && nid.ValueKind != JsonValueKind.Null)
        {
            if (nid.ValueKind == JsonValueKind.Number && nid.TryGetInt32(out int n))
            {
                targetNid = n < 0 ? null : n;
            }
            else if (ctx.Count(nid, spath + ".target_nid", out ulong un) && un <= int.MaxValue)
            {
                targetNid = (int)un;
            }
        }

        var dests = new List<DestConfig>();
        if (s.TryGetProperty("dests", out JsonElement destsJson) && destsJson.ValueKind == JsonValueKind.Array)
        {
            int d = 0;
            foreach (JsonElement dest in destsJson.EnumerateArray())
            {
                string dpath = $"{spath}.dests[{d++}]";
                ctx.UnknownKeys(dest, dpath, ["id", "weight"]);
                ulong id = 0, weight = 0;
                if (ctx.CountKey(dest, "id", dpath, ref id) & ctx.CountKey(dest, "weight", dpath, ref weight))
                {
                    dests.Add(new DestConfig((int)Math.Min(id, int.MaxValue), (uint)Math.Min(weight, uint.MaxValue)));
                }
            }
        }

        var filters = new List<FilterConfig>();
        if (s.TryGetProperty("filters", out JsonElement filtersJson) && filtersJson.ValueKind == JsonValueKind.Array)
        {
            int f = 0;
            foreach (JsonElement filter in filtersJson.EnumerateArray())
            {
                FilterConfig? fc = ReadFilter(filter, $"{spath}.filters[{f++}]", ctx);
                if (fc is not null)
                {
                    filters.Add(fc);
                }
            }
        }

        return new SchemeConfig
        {
            Name = DamoNaming.Placeholder,
            Action = action,
            Pattern = pattern,
            ApplyIntervalUs = apply,
            Quotas = s.TryGetProperty("quotas", out JsonElement q) ? ReadQuotas(q, spath + ".quotas", ctx) : null,
            Watermarks = s.TryGetProperty("watermarks", out JsonElement w) ? ReadWatermarks(w, spath + ".watermarks", ctx) : null,
            Filters = filters,
            TargetNid = targetNid,
            Dests = dests,
        };
    }

    private static PatternConfig ReadPattern(JsonElement ap, string path, IntervalsConfig intervals, ImportContext ctx)
    {
        ctx.UnknownKeys(ap, path, ["sz_bytes", "nr_accesses", "age"]);
        var pattern = new PatternConfig();
        if (ap.TryGetProperty("sz_bytes", out JsonElement sz))
        {
            ulong min = pattern.SizeMin, max = pattern.SizeMax;
            ctx.SizeKey(sz, "min", path + ".sz_bytes", ref min);
            ctx.SizeKey(sz, "max", path + ".sz_bytes", ref max);
            pattern = pattern with { SizeMin = min, SizeMax = max };
        }

        // nr_accesses is a percentage ("5 %", bare = percent, "max" = 2^64-1 %) or "<n> samples".
        // What counts is the number of samples damo writes; the configuration holds a percentage,
        // so one is chosen that converts back to exactly those samples (see ExactPercent).
        if (ap.TryGetProperty("nr_accesses", out JsonElement nr))
        {
            ulong? min = AccessSamples(nr, "min", path + ".nr_accesses", intervals, ctx);
            ulong? max = AccessSamples(nr, "max", path + ".nr_accesses", intervals, ctx);
            ulong maxNr = intervals.SampleUs == 0 ? 0 : intervals.AggrUs / intervals.SampleUs;
            double minPercent = 0;
            if (min is ulong lo && lo > 0)
            {
                if (lo > maxNr)
                {
                    ctx.Warn(path + ".nr_accesses.min", $"{lo} samples is above the most a region can have ({maxNr}): the scheme never applies; imported as 100%");
                    lo = maxNr;
                }

                minPercent = ExactPercent(lo, maxNr);
            }

            double? maxPercent = max is ulong hi && hi <= maxNr ? ExactPercent(hi, maxNr) : null;
            pattern = pattern with { AccessRateMinPercent = minPercent, AccessRateMaxPercent = maxPercent };
        }

        if (ap.TryGetProperty("age", out JsonElement age))
        {
            ulong min = AgeUs(age, "min", path + ".age", intervals.AggrUs, ctx) ?? 0;
            ulong max = AgeUs(age, "max", path + ".age", intervals.AggrUs, ctx) ?? DamoValues.Max;
            pattern = pattern with { AgeMinUs = min, AgeMaxUs = max };
        }

        // The kernel takes such a pattern (it just never matches); the configuration refuses it.
        if (pattern.SizeMin > pattern.SizeMax)
        {
            ctx.Error(path + ".sz_bytes", "min is above max: the scheme would never apply");
        }

        if (pattern.AccessRateMaxPercent is double rateMax && pattern.AccessRateMinPercent > rateMax)
        {
            ctx.Error(path + ".nr_accesses", "min is above max: the scheme would never apply");
        }

        if (pattern.AgeMinUs > pattern.AgeMaxUs)
        {
            ctx.Error(path + ".age", "min is above max: the scheme would never apply");
        }

        return pattern;
    }

    /// <summary>The samples damo writes for nr_accesses.min/max: "N samples" as is; a percentage P as int(P × (aggr / sample) / 100) in floating point, as damo computes it.</summary>
    private static ulong? AccessSamples(JsonElement nr, string key, string path, IntervalsConfig intervals, ImportContext ctx)
    {
        if (!nr.TryGetProperty(key, out JsonElement v))
        {
            ctx.Error(path, $"\"{key}\" is missing");
            return null;
        }

        if (DamoValues.TryText(v, out string text) && text.EndsWith(" samples", StringComparison.Ordinal))
        {
            if (!ulong.TryParse(text[..^" samples".Length].Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.None, CultureInfo.InvariantCulture, out ulong samples))
            {
                ctx.Error(path + "." + key, $"{DamoValues.Show(v)} is not a number of samples");
                return null;
            }

            return samples;
        }

        if (!ctx.Ratio(v, path + "." + key, 100m, out decimal percent))
        {
            return null;
        }

        if (intervals.SampleUs == 0)
        {
            ctx.Error(path + "." + key, "a percentage cannot be converted to samples: the sampling interval is 0");
            return null;
        }

        double samplesDouble = (double)percent * ((double)intervals.AggrUs / intervals.SampleUs) / 100;
        return samplesDouble >= 18_446_744_073_709_551_615d ? DamoValues.Max : (ulong)samplesDouble;
    }

    /// <summary>
    /// A percentage that KdamondSpecBuilder.PercentToSamples turns back into exactly
    /// <paramref name="samples"/>: samples × 100 / max when that converts back, else the middle of
    /// the sample's percent range (so truncation cannot land on the neighbour). Both are
    /// rounded to 6 decimals where that still converts back, so the file stays readable.
    /// </summary>
    internal static double ExactPercent(ulong samples, ulong maxNr)
    {
        if (samples == 0 || maxNr == 0)
        {
            return 0;
        }

        if (samples >= maxNr)
        {
            return 100;
        }

        // Readable first (5, 2.5, 33.333333), then the middle of the sample's range.
        foreach (double candidate in (double[])[Math.Round(samples * 100.0 / maxNr, 6), Math.Round((samples + 0.5) * 100.0 / maxNr, 6)])
        {
            if ((ulong)(candidate * maxNr / 100.0) == samples)
            {
                return candidate;
            }
        }

        return (samples + 0.5) * 100.0 / maxNr;
    }

    private static ulong? AgeUs(JsonElement age, string key, string path, ulong aggrUs, ImportContext ctx)
    {
        if (!age.TryGetProperty(key, out JsonElement v))
        {
            ctx.Error(path, $"\"{key}\" is missing");
            return null;
        }

        if (DamoValues.TryText(v, out string text) && text.EndsWith(" aggr_intervals", StringComparison.Ordinal))
        {
            string number = text[..^" aggr_intervals".Length].Replace(",", string.Empty, StringComparison.Ordinal);
            if (!ulong.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n))
            {
                ctx.Error(path + "." + key, $"{DamoValues.Show(v)} is not a number of aggregation intervals");
                return null;
            }

            // The kernel's age is 32 bits: 2^32-1 intervals (what sysfs shows for "max") is no bound.
            return n >= uint.MaxValue || n >= DamoValues.Max / Math.Max(aggrUs, 1) ? DamoValues.Max : n * aggrUs;
        }

        ulong us = 0;
        return ctx.SchemeTimeKey(age, key, path, 1m, ref us) ? us : null;
    }

    private static QuotaConfig? ReadQuotas(JsonElement q, string path, ImportContext ctx)
    {
        ctx.UnknownKeys(q, path, ["time_ms", "sz_bytes", "reset_interval_ms", "weights", "goals", "goal_tuner", "fail_charge_num", "fail_charge_denom"]);
        ulong timeUs = 0, bytes = 0, resetUs = 0;
        ctx.SchemeTimeKey(q, "time_ms", path, 1000m, ref timeUs);
        ctx.SizeKey(q, "sz_bytes", path, ref bytes);
        bool hasReset = ctx.SchemeTimeKey(q, "reset_interval_ms", path, 1000m, ref resetUs);
        decimal wSize = 0, wAccess = 0, wAge = 0;
        if (q.TryGetProperty("weights", out JsonElement w))
        {
            string wpath = path + ".weights";
            ctx.UnknownKeys(w, wpath, ["sz_permil", "nr_accesses_permil", "age_permil"]);
            if (w.TryGetProperty("sz_permil", out JsonElement a))
            {
                ctx.Ratio(a, wpath + ".sz_permil", 1000m, out wSize);
            }

            if (w.TryGetProperty("nr_accesses_permil", out JsonElement b))
            {
                ctx.Ratio(b, wpath + ".nr_accesses_permil", 1000m, out wAccess);
            }

            if (w.TryGetProperty("age_permil", out JsonElement c))
            {
                ctx.Ratio(c, wpath + ".age_permil", 1000m, out wAge);
            }
        }

        if (q.TryGetProperty("goal_tuner", out JsonElement tuner) && tuner.ValueKind == JsonValueKind.String && tuner.GetString() != "consist")
        {
            ctx.Warn(path + ".goal_tuner", $"goal tuner \"{tuner.GetString()}\" is not supported (the kernel's default, consist, is used)");
        }

        ulong failNum = 0;
        ctx.Count(q, "fail_charge_num", path, ref failNum);
        if (failNum != 0)
        {
            ctx.Warn(path + ".fail_charge_num", "charging failed regions to the quota is not supported");
        }

        var goals = new List<QuotaGoalConfig>();
        if (q.TryGetProperty("goals", out JsonElement goalsJson) && goalsJson.ValueKind == JsonValueKind.Array)
        {
            int g = 0;
            foreach (JsonElement goal in goalsJson.EnumerateArray())
            {
                QuotaGoalConfig? gc = ReadGoal(goal, $"{path}.goals[{g++}]", ctx);
                if (gc is not null)
                {
                    goals.Add(gc);
                }
            }
        }

        ulong timeMs = timeUs == DamoValues.Max ? DamoValues.Max : timeUs / 1000;
        if (timeMs == 0 && bytes == 0 && goals.Count == 0)
        {
            // No budget and no goal: damo's way of saying "no quota" (its reset interval is then
            // "max"). The kernel ignores weights and the reset interval without a quota.
            return null;
        }

        ulong resetMs = hasReset ? (resetUs == DamoValues.Max ? DamoValues.Max : resetUs / 1000) : QuotaConfig.DefaultResetIntervalMs;
        if (resetMs == 0 && (timeMs != 0 || bytes != 0))
        {
            ctx.Error(path + ".reset_interval_ms", "a time or size quota needs a reset interval above 0");
        }

        return new QuotaConfig
        {
            TimeMs = timeMs,
            SizeBytes = bytes,
            ResetIntervalMs = resetMs,
            WeightSizePermil = Weight(wSize, path + ".weights.sz_permil", ctx),
            WeightAccessRatePermil = Weight(wAccess, path + ".weights.nr_accesses_permil", ctx),
            WeightAgePermil = Weight(wAge, path + ".weights.age_permil", ctx),
            Goals = goals,
        };
    }

    // Weights are relative, so the kernel takes any value; the configuration takes per-mille up to 1000.
    private static uint Weight(decimal permil, string path, ImportContext ctx)
    {
        if (permil <= 1000)
        {
            return (uint)decimal.Truncate(permil);
        }

        ctx.Warn(path, $"{permil} is above 1000, the most the configuration takes; imported as 1000 (rescale the three weights to keep their proportions)");
        return 1000;
    }

    private static QuotaGoalConfig? ReadGoal(JsonElement goal, string path, ImportContext ctx)
    {
        ctx.UnknownKeys(goal, path, ["metric", "nid", "memcg_path", "target_value", "current_value"]);
        string metric = ctx.String(goal, "metric", path) ?? "user_input";
        if (!goal.TryGetProperty("target_value", out JsonElement target))
        {
            ctx.Error(path, "\"target_value\" is missing");
            return null;
        }

        // As damo reads it: µs for some_mem_psi_us, basis points for the *_bp metrics, else a count.
        ulong targetValue;
        bool ok;
        if (metric == "some_mem_psi_us")
        {
            ok = ctx.Time(target, path + ".target_value", 1m, out targetValue);
        }
        else if (metric.EndsWith("_bp", StringComparison.Ordinal))
        {
            ok = ctx.Ratio(target, path + ".target_value", 10_000m, out decimal bp);
            targetValue = (ulong)decimal.Truncate(Math.Min(bp, DamoValues.Max));
        }
        else
        {
            ok = ctx.Count(target, path + ".target_value", out targetValue);
        }

        ulong current = 0;
        ctx.Count(goal, "current_value", path, ref current);
        int? nid = null;
        if (goal.TryGetProperty("nid", out JsonElement nidJson) && nidJson.ValueKind != JsonValueKind.Null && ctx.Count(nidJson, path + ".nid", out ulong n))
        {
            nid = (int)Math.Min(n, int.MaxValue);
        }

        string? memcg = goal.TryGetProperty("memcg_path", out JsonElement m) && m.ValueKind == JsonValueKind.String && m.GetString()!.Length > 0 ? m.GetString() : null;
        if (!ok)
        {
            return null;
        }

        if (Array.IndexOf(ConfigLoader.GoalMetrics, metric) < 0)
        {
            ctx.Error(path + ".metric", $"unknown goal metric \"{metric}\" ({string.Join(", ", ConfigLoader.GoalMetrics)})");
            return null;
        }

        if (metric.StartsWith("node_", StringComparison.Ordinal) && nid is null)
        {
            ctx.Error(path + ".nid", $"goal metric {metric} needs a NUMA node id");
            return null;
        }

        if (metric.StartsWith("node_memcg", StringComparison.Ordinal) && memcg is null)
        {
            ctx.Error(path + ".memcg_path", $"goal metric {metric} needs a memcg path");
            return null;
        }

        if (targetValue == 0)
        {
            ctx.Warn(path + ".target_value", "a goal with target 0 does not steer the quota; not imported");
            return null;
        }

        return new QuotaGoalConfig(metric, targetValue, current, nid, memcg);
    }

    private static WatermarksConfig? ReadWatermarks(JsonElement w, string path, ImportContext ctx)
    {
        ctx.UnknownKeys(w, path, ["metric", "interval_us", "high_permil", "mid_permil", "low_permil"]);
        string metric = ctx.String(w, "metric", path) ?? "none";
        if (metric == "none")
        {
            return null;
        }

        ulong interval = 0;
        ctx.SchemeTimeKey(w, "interval_us", path, 1m, ref interval);
        decimal high = 0, mid = 0, low = 0;
        if (w.TryGetProperty("high_permil", out JsonElement h))
        {
            ctx.Ratio(h, path + ".high_permil", 1000m, out high);
        }

        if (w.TryGetProperty("mid_permil", out JsonElement md))
        {
            ctx.Ratio(md, path + ".mid_permil", 1000m, out mid);
        }

        if (w.TryGetProperty("low_permil", out JsonElement l))
        {
            ctx.Ratio(l, path + ".low_permil", 1000m, out low);
        }

        if (metric != "free_mem_rate")
        {
            ctx.Error(path + ".metric", $"unknown watermark metric \"{metric}\" (none, free_mem_rate)");
            return null;
        }

        if (high > 1000 || !(high >= mid && mid >= low))
        {
            ctx.Error(path, $"watermarks must be per-mille with high >= mid >= low (got {high}, {mid}, {low})");
            return null;
        }

        return new WatermarksConfig(metric, interval, (ulong)high, (ulong)mid, (ulong)low);
    }

    private static FilterConfig? ReadFilter(JsonElement f, string path, ImportContext ctx)
    {
        ctx.UnknownKeys(f, path, ["filter_type", "matching", "allow", "filter_pass", "memcg_path", "address_range", "damon_target_idx", "hugepage_size", "probe_hits_wsum_range"]);
        string? type = ctx.String(f, "filter_type", path);
        if (type is null)
        {
            ctx.Error(path, "\"filter_type\" is missing");
            return null;
        }

        if (type == "probe_hits_wsum")
        {
            ctx.Warn(path, "probe_hits_wsum filters are not upstream DAMON and are not imported");
            return null;
        }

        if (type is not ("anon" or "active" or "memcg" or "young" or "hugepage_size" or "unmapped" or "addr" or "target"))
        {
            ctx.Error(path + ".filter_type", $"unknown filter type \"{type}\"");
            return null;
        }

        bool matching = ctx.Bool(f, "matching", path, true);
        // "filter_pass" is what damo called "allow" before 2.6.
        bool allow = f.TryGetProperty("allow", out _) ? ctx.Bool(f, "allow", path, false) : ctx.Bool(f, "filter_pass", path, false);
        var filter = new FilterConfig { Type = type, Matching = matching, Allow = allow };
        switch (type)
        {
            case "memcg":
                string? memcgPath = ctx.String(f, "memcg_path", path);
                if (string.IsNullOrEmpty(memcgPath))
                {
                    ctx.Error(path + ".memcg_path", "a memcg filter needs memcg_path");
                    return null;
                }

                return filter with { MemcgPath = memcgPath };
            case "addr":
                if (!f.TryGetProperty("address_range", out JsonElement range))
                {
                    ctx.Error(path, "an addr filter needs \"address_range\"");
                    return null;
                }

                ulong start = 0, end = 0;
                if (!(ctx.SizeKey(range, "start", path + ".address_range", ref start) & ctx.SizeKey(range, "end", path + ".address_range", ref end)))
                {
                    return null;
                }

                if (start >= end)
                {
                    ctx.Error(path + ".address_range", $"end {end} is not above start {start}");
                    return null;
                }

                return filter with { AddrStart = start, AddrEnd = end };
            case "target":
                ulong idx = 0;
                ctx.CountKey(f, "damon_target_idx", path, ref idx);
                return filter with { TargetIndex = (int)Math.Min(idx, int.MaxValue) };
            case "hugepage_size":
                if (!f.TryGetProperty("hugepage_size", out JsonElement hp) || hp.ValueKind != JsonValueKind.Array || hp.GetArrayLength() != 2)
                {
                    ctx.Error(path + ".hugepage_size", "a hugepage_size filter needs [min, max]");
                    return null;
                }

                if (!(ctx.Size(hp[0], path + ".hugepage_size[0]", out ulong min) & ctx.Size(hp[1], path + ".hugepage_size[1]", out ulong max)))
                {
                    return null;
                }

                if (min > max)
                {
                    ctx.Error(path + ".hugepage_size", $"min {min} is above max {max}");
                    return null;
                }

                return filter with { Min = min, Max = max };
            default:
                return filter;
        }
    }

    /// <summary>Collects findings; every reader reports through it, so nothing is dropped unseen.</summary>
    private sealed class ImportContext
    {
        private readonly List<DamoImportMessage> warnings = [];
        private readonly List<DamoImportMessage> errors = [];
        private readonly List<DamoImportMessage> notes = [];

        public int ErrorCount => errors.Count;

        public DamoImportResult Result(IReadOnlyList<KdamondConfig> kdamonds) => new(kdamonds, warnings, errors) { Notes = notes };

        public void Warn(string path, string message) => warnings.Add(new DamoImportMessage(path, message));

        public void Error(string path, string message) => errors.Add(new DamoImportMessage(path, message));

        public void Note(string path, string message) => notes.Add(new DamoImportMessage(path, message));

        public void UnknownKeys(JsonElement obj, string path, string[] known)
        {
            if (obj.ValueKind != JsonValueKind.Object)
            {
                Error(path, $"expected an object, found {obj.ValueKind.ToString().ToLowerInvariant()}");
                return;
            }

            foreach (JsonProperty p in obj.EnumerateObject())
            {
                if (!known.Contains(p.Name) && !StatusOnlyKeys.Contains(p.Name))
                {
                    Warn(path + "." + p.Name, "unknown key, not imported");
                }
            }
        }

        public bool RequireArray(JsonElement obj, string key, string path, out JsonElement array)
        {
            if (obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(key, out array) && array.ValueKind == JsonValueKind.Array)
            {
                return true;
            }

            array = default;
            Error(path + "." + key, "a list is required");
            return false;
        }

        public string? String(JsonElement obj, string key, string path)
        {
            if (!obj.TryGetProperty(key, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (v.ValueKind != JsonValueKind.String)
            {
                Error(path + "." + key, $"{v.GetRawText()} is not a string");
                return null;
            }

            return v.GetString();
        }

        public bool Bool(JsonElement obj, string key, string path, bool fallback)
        {
            if (!obj.TryGetProperty(key, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
            {
                return fallback;
            }

            if (v.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return v.GetBoolean();
            }

            string? s = v.ValueKind == JsonValueKind.String ? v.GetString()?.ToUpperInvariant() : null;
            switch (s)
            {
                case "Y" or "YES" or "TRUE":
                    return true;
                case "N" or "NO" or "FALSE":
                    return false;
                default:
                    Error(path + "." + key, $"{DamoValues.Show(v)} is not a boolean");
                    return fallback;
            }
        }

        public bool Count(JsonElement v, string path, out ulong value)
        {
            if (DamoValues.TryCount(v, out value, out string error))
            {
                return true;
            }

            Error(path, error);
            return false;
        }

        public bool Count(JsonElement obj, string key, string path, ref ulong value) =>
            !obj.TryGetProperty(key, out JsonElement v) || CountInto(v, path + "." + key, ref value);

        public bool CountKey(JsonElement obj, string key, string path, ref ulong value)
        {
            if (!obj.TryGetProperty(key, out JsonElement v))
            {
                Error(path, $"\"{key}\" is missing");
                return false;
            }

            return CountInto(v, path + "." + key, ref value);
        }

        public bool Size(JsonElement v, string path, out ulong bytes)
        {
            if (DamoValues.TrySize(v, out bytes, out string error))
            {
                return true;
            }

            Error(path, error);
            return false;
        }

        public bool SizeKey(JsonElement obj, string key, string path, ref ulong bytes)
        {
            if (!obj.TryGetProperty(key, out JsonElement v))
            {
                Error(path, $"\"{key}\" is missing");
                return false;
            }

            if (!Size(v, path + "." + key, out ulong b))
            {
                return false;
            }

            bytes = b;
            return true;
        }

        public bool Time(JsonElement v, string path, decimal bareUnitUs, out ulong us)
        {
            if (!DamoValues.TryTimeUs(v, bareUnitUs, out us, out string error))
            {
                Error(path, error);
                return false;
            }

            return true;
        }

        /// <summary>
        /// A scheme time that `damo args damon --raw` prints in nanoseconds although damo reads a
        /// bare number in the key's unit (docs/damo-interop.md): read as damo does, but say so when
        /// the file looks like --raw output (intervals.sample_us a digit string, not "5 ms").
        /// </summary>
        public bool SchemeTimeKey(JsonElement obj, string key, string path, decimal bareUnitUs, ref ulong us)
        {
            bool read = TimeKey(obj, key, path, bareUnitUs, ref us);
            if (read && LooksRaw && us != DamoValues.Max && us != 0 && obj.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.String && DamoValues.IsBareNumber(v))
            {
                Warn(path + "." + key, $"{DamoValues.Show(v)} is read in the key's own unit, as damo reads it; this looks like `damo args damon --raw` output, which prints nanoseconds here (re-export without --raw)");
            }

            return read;
        }

        public bool LooksRaw { get; set; }

        public bool TimeKey(JsonElement obj, string key, string path, decimal bareUnitUs, ref ulong us)
        {
            if (!obj.TryGetProperty(key, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
            {
                return false;
            }

            if (!Time(v, path + "." + key, bareUnitUs, out ulong t))
            {
                return false;
            }

            us = t;
            return true;
        }

        public bool Ratio(JsonElement v, string path, decimal perUnit, out decimal amount)
        {
            if (DamoValues.TryRatio(v, perUnit, out amount, out string error))
            {
                return true;
            }

            Error(path, error);
            return false;
        }

        private bool CountInto(JsonElement v, string path, ref ulong value)
        {
            if (!Count(v, path, out ulong c))
            {
                return false;
            }

            value = c;
            return true;
        }
    }
}
