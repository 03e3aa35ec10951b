using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DamonOtel.Analysis.Reports;
using DamonOtel.Damon.Model;

namespace DamonOtel.Agent.Status;

/// <summary>
/// `damon-otel status` output: JSON with a stable, documented layout (docs/status.md; the
/// version is in "schema") and text shaped like `damo report damon`. Kernel files a kernel
/// lacks are null in JSON and left out of the text; values are in the kernel's units.
/// </summary>
internal static class StatusReport
{
    /// <summary>Bumped when a key changes meaning or disappears; new keys may be added within a version.</summary>
    public const string Schema = "damon-otel-status/1";

    public static string ToJson(StatusSnapshot status)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("schema", Schema);
            w.WriteStartObject("agent");
            w.WriteString("state_dir", status.Agent.StateDir);
            Number(w, "agent_pid", status.Agent.AgentPid);
            Bool(w, "agent_running", status.Agent.AgentRunning);
            w.WriteBoolean("attach_enabled", status.Agent.AttachEnabled);
            w.WriteBoolean("attach_refresh", status.Agent.AttachRefresh);
            w.WriteEndObject();
            w.WriteStartArray("kdamonds");
            foreach (KdamondStatus k in status.Kdamonds)
            {
                WriteKdamond(w, k);
            }

            w.WriteEndArray();
            w.WriteStartArray("modules");
            foreach (ModuleStatus m in status.Modules)
            {
                w.WriteStartObject();
                w.WriteString("name", m.Name);
                w.WriteBoolean("enabled", m.Enabled);
                Number(w, "kdamond_pid", m.KdamondPid);
                w.WriteString("agent", Name(m.Relation));
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    private static void WriteKdamond(Utf8JsonWriter w, KdamondStatus s)
    {
        Kdamond k = s.Kdamond;
        w.WriteStartObject();
        w.WriteNumber("index", k.Index);
        String(w, "name", s.Name);
        w.WriteString("agent", Name(s.Relation));
        w.WriteString("agent_reason", s.Reason);
        w.WriteString("state", k.On ? "on" : "off");
        Number(w, "pid", k.Pid > 0 ? k.Pid : null);
        Number(w, "refresh_ms", (ulong?)k.RefreshMs);
        w.WriteString("stats_refreshed_by", s.StatsRefresh);
        w.WriteStartArray("contexts");
        foreach (DamonContext c in k.Contexts)
        {
            w.WriteStartObject();
            w.WriteNumber("index", c.Index);
            w.WriteString("operations", c.Operations);
            Number(w, "addr_unit", c.AddrUnit);
            Bool(w, "pause", c.Pause);
            w.WriteStartObject("intervals");
            w.WriteNumber("sample_us", c.Attrs.Intervals.SampleUs);
            w.WriteNumber("aggr_us", c.Attrs.Intervals.AggrUs);
            w.WriteNumber("update_us", c.Attrs.Intervals.UpdateUs);
            if (c.Attrs.Goal is { } g)
            {
                w.WriteStartObject("goal");
                w.WriteNumber("access_bp", g.AccessBp);
                w.WriteNumber("aggrs", g.Aggrs);
                w.WriteNumber("min_sample_us", g.MinSampleUs);
                w.WriteNumber("max_sample_us", g.MaxSampleUs);
                w.WriteBoolean("enabled", g.Enabled);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("goal");
            }

            w.WriteEndObject();
            w.WriteStartObject("nr_regions");
            w.WriteNumber("min", c.Attrs.MinNrRegions);
            w.WriteNumber("max", c.Attrs.MaxNrRegions);
            w.WriteEndObject();
            w.WriteStartArray("targets");
            foreach (DamonTarget t in c.Targets)
            {
                w.WriteStartObject();
                w.WriteNumber("index", t.Index);
                Number(w, "pid", t.PidTarget > 0 ? t.PidTarget : null);
                Bool(w, "obsolete", t.Obsolete);
                w.WriteStartArray("regions");
                foreach (AddressRange r in t.Regions)
                {
                    w.WriteStartObject();
                    w.WriteNumber("start", r.Start);
                    w.WriteNumber("end", r.End);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("schemes");
            foreach (DamosScheme scheme in c.Schemes)
            {
                WriteScheme(w, scheme, c.Index == 0 && scheme.Index < s.SchemeNames.Count ? s.SchemeNames[scheme.Index] : null, c.Index == 0 && s.MonitorSchemes.Contains(scheme.Index));
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteScheme(Utf8JsonWriter w, DamosScheme s, string? name, bool monitor)
    {
        w.WriteStartObject();
        w.WriteNumber("index", s.Index);
        String(w, "name", name);
        w.WriteString("role", monitor ? "monitor" : "scheme");
        w.WriteString("action", s.Action);
        Number(w, "apply_interval_us", s.ApplyIntervalUs);
        Number(w, "target_nid", s.TargetNid);
        w.WriteStartObject("access_pattern");
        Range(w, "size_bytes", s.AccessPattern.Size);
        Range(w, "nr_accesses_samples", s.AccessPattern.NrAccesses);
        Range(w, "age_aggr_intervals", s.AccessPattern.Age);
        w.WriteEndObject();

        DamosQuotas q = s.Quotas;
        w.WriteStartObject("quotas");
        w.WriteNumber("ms", q.Ms);
        w.WriteNumber("bytes", q.Bytes);
        w.WriteNumber("reset_interval_ms", q.ResetIntervalMs);
        Number(w, "effective_bytes", q.EffectiveBytes);
        String(w, "goal_tuner", q.GoalTuner);
        w.WriteStartObject("weights");
        w.WriteNumber("size_permil", q.Weights.SzPermil);
        w.WriteNumber("nr_accesses_permil", q.Weights.NrAccessesPermil);
        w.WriteNumber("age_permil", q.Weights.AgePermil);
        w.WriteEndObject();
        if (q.Goals is { } goals)
        {
            w.WriteStartArray("goals");
            foreach (QuotaGoal g in goals)
            {
                w.WriteStartObject();
                String(w, "metric", g.TargetMetric);
                w.WriteNumber("target_value", g.TargetValue);
                w.WriteNumber("current_value", g.CurrentValue);
                Number(w, "nid", g.Nid);
                String(w, "path", g.Path);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }
        else
        {
            w.WriteNull("goals");
        }

        w.WriteEndObject();
        w.WriteStartObject("watermarks");
        w.WriteString("metric", s.Watermarks.Metric);
        w.WriteNumber("interval_us", s.Watermarks.IntervalUs);
        w.WriteNumber("high_permil", s.Watermarks.High);
        w.WriteNumber("mid_permil", s.Watermarks.Mid);
        w.WriteNumber("low_permil", s.Watermarks.Low);
        w.WriteEndObject();

        w.WriteStartArray("filters");
        foreach ((string layer, IReadOnlyList<DamosFilter>? list) in (ReadOnlySpan<(string, IReadOnlyList<DamosFilter>?)>)[("core", s.CoreFilters), ("ops", s.OpsFilters), ("any", s.Filters)])
        {
            foreach (DamosFilter f in list ?? [])
            {
                w.WriteStartObject();
                w.WriteString("layer", layer);
                w.WriteNumber("index", f.Index);
                w.WriteString("type", f.Type);
                w.WriteBoolean("matching", f.Matching);
                Bool(w, "allow", f.Allow);
                String(w, "memcg_path", f.MemcgPath);
                Number(w, "addr_start", f.AddrStart);
                Number(w, "addr_end", f.AddrEnd);
                Number(w, "target_index", f.DamonTargetIdx);
                Number(w, "min", f.Min);
                Number(w, "max", f.Max);
                w.WriteEndObject();
            }
        }

        w.WriteEndArray();
        if (s.Dests is { } dests)
        {
            w.WriteStartArray("dests");
            foreach (DamosDest d in dests)
            {
                w.WriteStartObject();
                w.WriteNumber("node", d.Id);
                w.WriteNumber("weight", d.Weight);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }
        else
        {
            w.WriteNull("dests");
        }

        DamosStats st = s.Stats;
        w.WriteStartObject("stats");
        w.WriteNumber("nr_tried", st.NrTried);
        w.WriteNumber("sz_tried", st.SzTried);
        w.WriteNumber("nr_applied", st.NrApplied);
        w.WriteNumber("sz_applied", st.SzApplied);
        Number(w, "sz_ops_filter_passed", st.SzOpsFilterPassed);
        w.WriteNumber("qt_exceeds", st.QtExceeds);
        Number(w, "nr_snapshots", st.NrSnapshots);
        Number(w, "max_nr_snapshots", st.MaxNrSnapshots);
        w.WriteEndObject();
        if (s.TriedRegions is { } tried)
        {
            w.WriteStartObject("tried_regions");
            w.WriteNumber("count", tried.Regions.Length);
            w.WriteNumber("bytes", tried.Regions.Aggregate(0UL, (sum, r) => sum + r.Size));
            Number(w, "total_bytes", tried.TotalBytes);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("tried_regions");
        }

        w.WriteEndObject();
    }

    public static string ToText(StatusSnapshot status)
    {
        var sb = new StringBuilder();
        AgentStatus a = status.Agent;
        Line(sb, 0, $"agent: state dir {a.StateDir}, " + (a.AgentPid is int pid ? $"recorded by pid {pid} ({(a.AgentRunning == true ? "running" : "not running")})" : "no kdamond recorded") +
            $", attach {(a.AttachEnabled ? "on" : "off")}{(a.AttachRefresh ? " with refresh" : string.Empty)}");
        if (status.Kdamonds.Count == 0)
        {
            Line(sb, 0, "no kdamond");
        }

        foreach (KdamondStatus s in status.Kdamonds)
        {
            Kdamond k = s.Kdamond;
            Line(sb, 0, $"kdamond {k.Index}{(s.Name is null ? string.Empty : $" \"{s.Name}\"")}: {Name(s.Relation)}; {s.Reason}");
            Line(sb, 1, $"state: {(k.On ? "on" : "off")}" + (k.Pid > 0 ? $", pid: {k.Pid}" : string.Empty) + (k.RefreshMs is uint refresh ? $", refresh_ms: {refresh}" : string.Empty) + $", stats refreshed by: {s.StatsRefresh}");
            foreach (DamonContext c in k.Contexts)
            {
                Line(sb, 1, $"context {c.Index}");
                Line(sb, 2, $"ops: {c.Operations}" + (c.AddrUnit is ulong unit && unit != 1 ? $", addr_unit: {unit}" : string.Empty) + (c.Pause == true ? ", paused" : string.Empty));
                foreach (DamonTarget t in c.Targets)
                {
                    Line(sb, 2, $"target {t.Index}");
                    if (t.PidTarget > 0)
                    {
                        Line(sb, 3, $"pid: {t.PidTarget}");
                    }

                    foreach (AddressRange r in t.Regions)
                    {
                        Line(sb, 3, $"region [{Addr(r.Start)}, {Addr(r.End)}) ({HumanFormat.Size(r.Size)})");
                    }
                }

                Intervals iv = c.Attrs.Intervals;
                Line(sb, 2, $"intervals: sample {Time(iv.SampleUs)}, aggr {Time(iv.AggrUs)}, update {Time(iv.UpdateUs)}");
                if (c.Attrs.Goal is { Enabled: true } g)
                {
                    Line(sb, 3, $"goal: {g.AccessBp / 100.0:0.##} % access in {g.Aggrs} aggregations, sample {Time(g.MinSampleUs)}..{Time(g.MaxSampleUs)}");
                }

                Line(sb, 2, $"nr_regions: [{Num(c.Attrs.MinNrRegions)}, {Num(c.Attrs.MaxNrRegions)}]");
                foreach (DamosScheme scheme in c.Schemes)
                {
                    string? name = c.Index == 0 && scheme.Index < s.SchemeNames.Count ? s.SchemeNames[scheme.Index] : null;
                    bool monitor = c.Index == 0 && s.MonitorSchemes.Contains(scheme.Index);
                    SchemeText(sb, scheme, name, monitor);
                }
            }
        }

        foreach (ModuleStatus m in status.Modules)
        {
            Line(sb, 0, $"{m.Name}: {(m.Enabled ? "on" : "off")}" + (m.KdamondPid is int mpid ? $", kdamond pid {mpid}" : string.Empty) + $" ({Name(m.Relation)})");
        }

        return sb.ToString();
    }

    private static void SchemeText(StringBuilder sb, DamosScheme s, string? name, bool monitor)
    {
        Line(sb, 2, $"scheme {s.Index}" + (name is null ? string.Empty : $" \"{name}\"") + (monitor ? " (all-matching stat: snapshot and record read its tried_regions)" : string.Empty));
        Line(sb, 3, $"action: {s.Action}" + (s.ApplyIntervalUs is ulong apply && apply > 0 ? $" per {Time(apply)}" : " per aggr interval") + (s.TargetNid is int nid and >= 0 ? $" to node {nid}" : string.Empty));
        AccessPattern p = s.AccessPattern;
        Line(sb, 3, "target access pattern");
        Line(sb, 4, $"sz: [{Size(p.Size.Min)}, {Size(p.Size.Max)}]");
        Line(sb, 4, $"nr_accesses: [{Num(p.NrAccesses.Min)} samples, {Num(p.NrAccesses.Max)} samples]");
        Line(sb, 4, $"age: [{Num(p.Age.Min)} aggr_intervals, {Num(p.Age.Max)} aggr_intervals]");
        DamosQuotas q = s.Quotas;
        Line(sb, 3, "quotas");
        Line(sb, 4, $"{Time(q.Ms * 1000)} / {Size(q.Bytes)} per {Time(q.ResetIntervalMs * 1000)}" + (q.EffectiveBytes is ulong eff ? $", effective {Size(eff)}" : string.Empty));
        foreach (QuotaGoal g in q.Goals ?? [])
        {
            Line(sb, 4, $"goal {g.Index}: metric {g.TargetMetric ?? "user_input"} target {Num(g.TargetValue)} current {Num(g.CurrentValue)}" + (g.Nid is int gnid ? $" nid {gnid}" : string.Empty) + (g.Path is { Length: > 0 } path ? $" path {path}" : string.Empty));
        }

        Line(sb, 4, $"priority: sz {q.Weights.SzPermil} ‰, nr_accesses {q.Weights.NrAccessesPermil} ‰, age {q.Weights.AgePermil} ‰");
        if (s.Watermarks.Metric != "none")
        {
            Line(sb, 3, "watermarks");
            Line(sb, 4, $"metric {s.Watermarks.Metric}, interval {Time(s.Watermarks.IntervalUs)}, high {s.Watermarks.High} ‰, mid {s.Watermarks.Mid} ‰, low {s.Watermarks.Low} ‰");
        }

        foreach ((string layer, IReadOnlyList<DamosFilter>? list) in (ReadOnlySpan<(string, IReadOnlyList<DamosFilter>?)>)[("core", s.CoreFilters), ("ops", s.OpsFilters), ("any", s.Filters)])
        {
            foreach (DamosFilter f in list ?? [])
            {
                string what = f.Type switch
                {
                    "memcg" => $"memcg {f.MemcgPath}",
                    "addr" => $"addr [{Addr(f.AddrStart ?? 0)}, {Addr(f.AddrEnd ?? 0)})",
                    "target" => $"target {f.DamonTargetIdx}",
                    "hugepage_size" => $"hugepage_size [{Size(f.Min ?? 0)}, {Size(f.Max ?? 0)}]",
                    _ => f.Type,
                };
                Line(sb, 3, $"filter {f.Index} ({layer}): {(f.Allow == true ? "allow" : "reject")} {(f.Matching ? string.Empty : "none ")}{what}");
            }
        }

        foreach (DamosDest d in s.Dests ?? [])
        {
            Line(sb, 3, $"dest {d.Index}: node {d.Id} weight {d.Weight}");
        }

        DamosStats st = s.Stats;
        Line(sb, 3, "statistics");
        Line(sb, 4, $"tried {Num(st.NrTried)} times ({Size(st.SzTried)})");
        Line(sb, 4, $"applied {Num(st.NrApplied)} times ({Size(st.SzApplied)})");
        if (st.SzOpsFilterPassed is ulong passed)
        {
            Line(sb, 4, $"{Size(passed)} passed filters");
        }

        Line(sb, 4, $"quota exceeded {Num(st.QtExceeds)} times");
        if (s.TriedRegions is { Regions.Length: > 0 } tried)
        {
            Line(sb, 3, $"tried regions: {tried.Regions.Length} ({Size(tried.Regions.Aggregate(0UL, (sum, r) => sum + r.Size))})");
        }
    }

    private static string Name(Relation r) => r switch
    {
        Relation.Owned => "owned",
        Relation.Attached => "attached",
        _ => "ignored",
    };

    private static void Line(StringBuilder sb, int depth, string text) => sb.Append(' ', depth * 4).Append(text).Append('\n');

    private static string Num(ulong v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string Addr(ulong v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string Size(ulong bytes) => bytes == ulong.MaxValue ? "max" : HumanFormat.Size(bytes);

    private static string Time(ulong us) => us >= long.MaxValue ? "max" : HumanFormat.TimeUs((long)us);

    private static void Range(Utf8JsonWriter w, string name, ValueRange r)
    {
        w.WriteStartObject(name);
        w.WriteNumber("min", r.Min);
        w.WriteNumber("max", r.Max);
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, long? value)
    {
        if (value is long v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void Number(Utf8JsonWriter w, string name, ulong? value)
    {
        if (value is ulong v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void Bool(Utf8JsonWriter w, string name, bool? value)
    {
        if (value is bool v)
        {
            w.WriteBoolean(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void String(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}
