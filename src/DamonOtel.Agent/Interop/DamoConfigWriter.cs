using System.Globalization;
using System.Text;
using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Interop;

/// <summary>
/// Writes imported kdamonds as a damon-otel config file (docs/configuration.md) with comments:
/// where each kdamond and scheme came from in damo's JSON, how values were converted, and what
/// was not imported. Every value is written so that the config loader reads back exactly the
/// imported one (times in whole units, sizes in bytes or exact binary units, access rates as
/// the percentages the importer chose), so the kdamond the agent writes is the one damo writes.
/// </summary>
internal static class DamoConfigWriter
{
    public static string Write(DamoImportResult import, string source)
    {
        var w = new Writer();
        w.Comment(0, "damon-otel configuration imported from damo's kdamonds JSON by `damon-otel import-damo`");
        w.Comment(0, "source: " + source);
        w.Comment(0, "Values are damo's in this file's units (docs/configuration.md): access rates are");
        w.Comment(0, "percentages giving the same number of samples, ages times giving the same number of");
        w.Comment(0, "aggregation intervals. Check it with `damon-otel check-config FILE`.");
        var placed = new HashSet<DamoImportMessage>();
        IEnumerable<(string Kind, DamoImportMessage Message)> global = Messages(import).Where(m => !import.Origins.Any(o => Under(m.Message.Path, o.Path)));
        WriteMessages(w, 0, global, placed);
        w.Line(0, "kdamonds:");
        for (int k = 0; k < import.Kdamonds.Count; k++)
        {
            KdamondConfig kd = import.Kdamonds[k];
            DamoOrigin origin = import.Origins[k];
            w.Comment(2, $"{origin.Path}: {kd.Operations}, {Count(kd.Targets.Count, "target")}, {Count(kd.Schemes.Count, "scheme")}");
            WriteMessages(w, 2, Messages(import).Where(m => Under(m.Message.Path, origin.Path) && !origin.Schemes.Any(s => Under(m.Message.Path, s))), placed);
            WriteKdamond(w, kd, origin, import, placed);
        }

        return w.ToString();
    }

    private static void WriteKdamond(Writer w, KdamondConfig k, DamoOrigin origin, DamoImportResult import, HashSet<DamoImportMessage> placed)
    {
        w.Line(2, "- name: " + Quote(k.Name));
        w.Line(4, "operations: " + k.Operations);
        w.Line(4, "intervals:");
        w.Line(6, "sample: " + Units.FormatTimeUs(k.Intervals.SampleUs));
        w.Line(6, "aggregation: " + Units.FormatTimeUs(k.Intervals.AggrUs));
        w.Line(6, "update: " + Units.FormatTimeUs(k.Intervals.UpdateUs));
        if (k.Intervals.Goal is { } g)
        {
            w.Line(6, "auto_tune:");
            w.Line(8, "access: " + Percent(g.AccessBp / 100.0), $"{g.AccessBp} basis points of the samples find an access");
            w.Line(8, "aggregations: " + Num(g.Aggrs));
            w.Line(8, "min_sample: " + Units.FormatTimeUs(g.MinSampleUs));
            w.Line(8, "max_sample: " + Units.FormatTimeUs(g.MaxSampleUs));
        }

        w.Line(4, "nr_regions:");
        w.Line(6, "min: " + Num(k.MinNrRegions));
        w.Line(6, "max: " + Num(k.MaxNrRegions));
        w.Line(
            4,
            "refresh: " + (k.RefreshMs == 0 ? "0s" : Units.FormatTimeUs(k.RefreshMs * 1000UL)),
            k.RefreshMs == 0 ? "damo's refresh_ms 0: the agent refreshes stats itself each collection; 1s lets the kernel do it (6.17+)" : "damo's refresh_ms");
        w.Line(4, "targets:");
        foreach (TargetConfig t in k.Targets)
        {
            WriteTarget(w, t);
        }

        if (k.Schemes.Count == 0)
        {
            return;
        }

        w.Line(4, "schemes:");
        for (int s = 0; s < k.Schemes.Count; s++)
        {
            string path = origin.Schemes[s];
            w.Comment(6, path);
            WriteMessages(w, 6, Messages(import).Where(m => Under(m.Message.Path, path)), placed);
            WriteScheme(w, k.Schemes[s]);
        }
    }

    private static void WriteTarget(Writer w, TargetConfig t)
    {
        w.Line(6, "- name: " + Quote(t.Name));
        if (t.Pid is int pid)
        {
            w.Line(
                8,
                "pid: " + pid.ToString(CultureInfo.InvariantCulture),
                t.Name.StartsWith("pid-", StringComparison.Ordinal)
                    ? "no such process here now; a pid does not survive a restart: name the program with process_name or cmdline"
                    : $"{t.Name} here now; a pid does not survive a restart: process_name: {t.Name} follows the program");
        }

        if (t.Memory is PhysicalRange memory)
        {
            w.Line(8, "memory: " + (memory == PhysicalRange.LargestBlock ? "largest_block" : "whole_span"));
        }

        if (t.Regions.Count > 0)
        {
            w.Line(8, "regions:");
            foreach ((ulong start, ulong end) in t.Regions)
            {
                w.Line(10, "- start: " + Hex(start), DamoNaming.Address(start));
                w.Line(12, "end: " + Hex(end), $"{DamoNaming.Address(end)} ({Human(end - start)})");
            }
        }
    }

    private static void WriteScheme(Writer w, SchemeConfig s)
    {
        w.Line(6, "- name: " + Quote(s.Name));
        w.Line(8, "action: " + s.Action);
        if (s.TargetNid is int nid)
        {
            w.Line(8, "target_nid: " + nid.ToString(CultureInfo.InvariantCulture));
        }

        if (s.Dests.Count > 0)
        {
            w.Line(8, "dests:");
            foreach (DestConfig d in s.Dests)
            {
                w.Line(10, "- node: " + d.Node.ToString(CultureInfo.InvariantCulture));
                w.Line(12, "weight: " + Num(d.Weight));
            }
        }

        PatternConfig p = s.Pattern;
        w.Line(8, "access_pattern:");
        w.Line(10, "size:");
        w.Line(12, "min: " + Size(p.SizeMin));
        w.Line(12, "max: " + Size(p.SizeMax));
        w.Line(10, "access_rate:");
        w.Line(12, "min: " + Percent(p.AccessRateMinPercent));
        w.Line(12, "max: " + (p.AccessRateMaxPercent is double max ? Percent(max) : "max"));
        w.Line(10, "age:");
        w.Line(12, "min: " + Units.FormatTimeUs(p.AgeMinUs));
        w.Line(12, "max: " + Units.FormatTimeUs(p.AgeMaxUs));
        if (s.ApplyIntervalUs != 0)
        {
            w.Line(8, "apply_interval: " + Units.FormatTimeUs(s.ApplyIntervalUs));
        }

        if (s.Quotas is { } q)
        {
            w.Line(8, "quotas:");
            w.Line(10, "time: " + Units.FormatTimeUs(q.TimeMs == ulong.MaxValue ? ulong.MaxValue : q.TimeMs * 1000));
            w.Line(10, "size: " + Size(q.SizeBytes));
            w.Line(10, "reset_interval: " + Units.FormatTimeUs(q.ResetIntervalMs == ulong.MaxValue ? ulong.MaxValue : q.ResetIntervalMs * 1000));
            w.Line(10, "weights:", "per-mille");
            w.Line(12, "size: " + Num(q.WeightSizePermil));
            w.Line(12, "access_rate: " + Num(q.WeightAccessRatePermil));
            w.Line(12, "age: " + Num(q.WeightAgePermil));
            if (q.Goals.Count > 0)
            {
                w.Line(10, "goals:");
                foreach (QuotaGoalConfig g in q.Goals)
                {
                    w.Line(12, "- metric: " + g.Metric);
                    w.Line(14, "target: " + Num(g.TargetValue), GoalUnit(g.Metric));
                    if (g.CurrentValue != 0)
                    {
                        w.Line(14, "current: " + Num(g.CurrentValue));
                    }

                    if (g.Nid is int gnid)
                    {
                        w.Line(14, "nid: " + gnid.ToString(CultureInfo.InvariantCulture));
                    }

                    if (g.Path is string path)
                    {
                        w.Line(14, "path: " + Quote(path));
                    }
                }
            }
        }

        if (s.Watermarks is { } wm)
        {
            w.Line(8, "watermarks:");
            w.Line(10, "metric: " + wm.Metric);
            w.Line(10, "interval: " + Units.FormatTimeUs(wm.IntervalUs));
            w.Line(10, "high: " + Num(wm.HighPermil), "per-mille of free memory");
            w.Line(10, "mid: " + Num(wm.MidPermil));
            w.Line(10, "low: " + Num(wm.LowPermil));
        }

        if (s.Filters.Count > 0)
        {
            w.Line(8, "filters:");
            foreach (FilterConfig f in s.Filters)
            {
                WriteFilter(w, f);
            }
        }
    }

    private static void WriteFilter(Writer w, FilterConfig f)
    {
        w.Line(10, "- type: " + f.Type);
        w.Line(12, "matching: " + (f.Matching ? "true" : "false"));
        w.Line(12, "allow: " + (f.Allow ? "true" : "false"), f.Allow ? "allow filter (6.14+)" : null);
        if (f.MemcgPath is string memcg)
        {
            w.Line(12, "memcg_path: " + Quote(memcg));
        }

        if (f.AddrStart is ulong start && f.AddrEnd is ulong end)
        {
            w.Line(12, "start: " + Hex(start), DamoNaming.Address(start));
            w.Line(12, "end: " + Hex(end), DamoNaming.Address(end));
        }

        if (f.TargetIndex is int index)
        {
            w.Line(12, "target_index: " + index.ToString(CultureInfo.InvariantCulture));
        }

        if (f.Min is ulong min && f.Max is ulong max)
        {
            w.Line(12, "min: " + Size(min));
            w.Line(12, "max: " + Size(max));
        }
    }

    private static string GoalUnit(string metric) =>
        metric == "some_mem_psi_us" ? "microseconds of memory pressure stall per reset interval"
        : metric.EndsWith("_bp", StringComparison.Ordinal) ? "basis points (1/100 %)"
        : "the value you feed through user_input";

    private static IEnumerable<(string Kind, DamoImportMessage Message)> Messages(DamoImportResult import) =>
        import.Errors.Select(m => ("ERROR", m)).Concat(import.Warnings.Select(m => ("not imported", m))).Concat(import.Notes.Select(m => ("note", m)));

    private static void WriteMessages(Writer w, int indent, IEnumerable<(string Kind, DamoImportMessage Message)> messages, HashSet<DamoImportMessage> placed)
    {
        foreach ((string kind, DamoImportMessage m) in messages)
        {
            if (placed.Add(m))
            {
                w.Comment(indent, $"{kind}: {m.Path}: {m.Message}");
            }
        }
    }

    private static bool Under(string path, string prefix) =>
        path == prefix || (path.StartsWith(prefix, StringComparison.Ordinal) && path[prefix.Length] is '.' or '[');

    private static string Count(int n, string what) => n.ToString(CultureInfo.InvariantCulture) + " " + what + (n == 1 ? string.Empty : "s");

    private static string Num(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>Shortest round-trip text of a percentage (the loader parses it back to the same double).</summary>
    private static string Percent(double percent)
    {
        string text = percent.ToString("R", CultureInfo.InvariantCulture);
        return (text.Contains('E', StringComparison.Ordinal) ? percent.ToString("F12", CultureInfo.InvariantCulture) : text) + "%";
    }

    /// <summary>A size as the loader reads it back exactly: max, a whole binary unit, or bytes.</summary>
    private static string Size(ulong bytes)
    {
        if (bytes == ulong.MaxValue)
        {
            return "max";
        }

        foreach ((string unit, int shift) in (ReadOnlySpan<(string, int)>)[("T", 40), ("G", 30), ("M", 20), ("K", 10)])
        {
            if (bytes != 0 && bytes % (1UL << shift) == 0)
            {
                return (bytes >> shift).ToString(CultureInfo.InvariantCulture) + unit;
            }
        }

        return Num(bytes);
    }

    private static string Human(ulong bytes) => Analysis.Reports.HumanFormat.Size(bytes);

    /// <summary>A YAML double-quoted scalar.</summary>
    internal static string Quote(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (char c in text)
        {
            _ = c switch
            {
                '"' => sb.Append("\\\""),
                '\\' => sb.Append("\\\\"),
                < ' ' or '\u007f' => sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => sb.Append(c),
            };
        }

        return sb.Append('"').ToString();
    }

    private sealed class Writer
    {
        private readonly StringBuilder sb = new();

        public void Line(int indent, string text, string? comment = null)
        {
            sb.Append(' ', indent).Append(text);
            if (comment is not null)
            {
                sb.Append("  # ").Append(OneLine(comment));
            }

            sb.Append('\n');
        }

        public void Comment(int indent, string text) => sb.Append(' ', indent).Append("# ").Append(OneLine(text)).Append('\n');

        public override string ToString() => sb.ToString();

        // A message quoting a value from the input must not end the comment early.
        private static string OneLine(string text) => text.Replace('\n', ' ').Replace('\r', ' ');
    }
}
