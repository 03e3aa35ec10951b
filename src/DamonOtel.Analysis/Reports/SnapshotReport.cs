using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis.Reports;

/// <summary>One summarised target of a snapshot: where it lives and its summary.</summary>
/// <param name="Pid">The target's process (vaddr, fvaddr), when shown.</param>
/// <param name="UnmappedBytes">Mapped-only summaries: bytes of the regions outside the process's
/// mappings, left out of <paramref name="Summary"/>; null for a raw summary (damo's numbers).</param>
public sealed record SnapshotReportTarget(int Kdamond, int Context, int Target, Intervals Intervals, AccessSummary Summary, int? Pid = null, ulong? UnmappedBytes = null);

/// <summary>
/// Pure formatting of summarised snapshots for `damon-otel snapshot`: a JSON document for
/// machines and a text report shaped like `damo report access --style recency-percentiles`
/// and `--style temperature-percentiles`.
/// </summary>
public static class SnapshotReport
{
    private const int BarDots = 20;

    // The default encoder would write "+" as \u002B; this key is plain ASCII either way.
    private static readonly JsonEncodedText InfKey = JsonEncodedText.Encode("+Inf", JavaScriptEncoder.UnsafeRelaxedJsonEscaping);

    /// <summary>The JSON document: {"targets":[{...}, ...]}. Compact unless <paramref name="indented"/>.</summary>
    public static string ToJson(IReadOnlyList<SnapshotReportTarget> targets, bool indented = false)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            WriteJson(writer, targets);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes the JSON document to <paramref name="writer"/> (no reflection).</summary>
    public static void WriteJson(Utf8JsonWriter writer, IReadOnlyList<SnapshotReportTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(targets);
        writer.WriteStartObject();
        writer.WriteStartArray("targets");
        foreach (var t in targets)
        {
            var s = t.Summary;
            var ps = s.Options.Percentiles;
            writer.WriteStartObject();
            writer.WriteNumber("kdamond", t.Kdamond);
            writer.WriteNumber("context", t.Context);
            writer.WriteNumber("target", t.Target);
            if (t.Pid is int pid)
            {
                writer.WriteNumber("pid", pid);
            }
            writer.WriteNumber("sample_us", t.Intervals.SampleUs);
            writer.WriteNumber("aggr_us", t.Intervals.AggrUs);
            writer.WriteNumber("regions", s.RegionCount);
            writer.WriteNumber("monitored_bytes", s.MonitoredBytes);
            writer.WriteNumber("working_set_bytes", s.WorkingSetBytes);
            if (t.UnmappedBytes is ulong unmapped)
            {
                writer.WriteNumber("unmapped_bytes", unmapped);
            }
            writer.WriteNumber("bandwidth_bytes_per_second", s.BandwidthBytesPerSecond);
            writer.WriteNumber("observed_access_ratio", s.ObservedAccessRatio);

            writer.WriteStartObject("idle_time_percentiles_us");
            for (var i = 0; i < ps.Count; i++)
            {
                writer.WriteNumber(HumanFormat.Percentile(ps[i]), s.IdleTimePercentilesUs[i]);
            }

            writer.WriteEndObject();
            writer.WriteStartObject("signed_idle_time_percentiles_us");
            for (var i = 0; i < ps.Count; i++)
            {
                writer.WriteNumber(HumanFormat.Percentile(ps[i]), s.SignedIdleTimePercentilesUs[i]);
            }

            writer.WriteEndObject();
            writer.WriteStartObject("temperature_percentiles");
            for (var i = 0; i < ps.Count; i++)
            {
                writer.WriteNumber(HumanFormat.Percentile(ps[i]), s.TemperaturePercentiles[i]);
            }

            writer.WriteEndObject();

            // Cumulative "bytes idle at most le seconds", Prometheus-style keys.
            var bounds = s.Options.IdleBucketsSeconds;
            writer.WriteStartObject("idle_bytes_at_most");
            for (var i = 0; i < bounds.Count; i++)
            {
                writer.WriteNumber(bounds[i].ToString(CultureInfo.InvariantCulture), s.IdleBytesAtMost[i]);
            }

            writer.WriteNumber(InfKey, s.IdleBytesAtMost[^1]);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The text report, one block per target, lines ending in '\n'.</summary>
    public static string ToText(IReadOnlyList<SnapshotReportTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var sb = new StringBuilder();
        for (var k = 0; k < targets.Count; k++)
        {
            if (k > 0)
            {
                sb.Append('\n');
            }

            AppendTarget(sb, targets[k]);
        }

        return sb.ToString();
    }

    private static void AppendTarget(StringBuilder sb, SnapshotReportTarget t)
    {
        var s = t.Summary;
        var ci = CultureInfo.InvariantCulture;
        HumanFormat.AppendLine(sb, t.Pid is int pid
            ? string.Create(ci, $"# kdamond {t.Kdamond} context {t.Context} target {t.Target} (pid {pid})")
            : string.Create(ci, $"# kdamond {t.Kdamond} context {t.Context} target {t.Target}"));
        HumanFormat.AppendLine(sb, $"monitoring intervals: sample {HumanFormat.TimeUs(ClampToLong(t.Intervals.SampleUs))}, aggr {HumanFormat.TimeUs(ClampToLong(t.Intervals.AggrUs))}");
        HumanFormat.AppendLine(sb, string.Create(ci, $"regions: {s.RegionCount}"));
        HumanFormat.AppendLine(sb, $"total size: {HumanFormat.Size(s.MonitoredBytes)}");
        if (t.UnmappedBytes is ulong unmapped)
        {
            // Not damo's: its total size is these two together (`snapshot --raw` prints that).
            HumanFormat.AppendLine(sb, $"unmapped (left out): {HumanFormat.Size(unmapped)}");
        }

        HumanFormat.AppendLine(sb, string.Create(ci, $"working set size: {HumanFormat.Size(s.WorkingSetBytes)} (nr_accesses >= {s.Options.WorkingSetAccessThreshold})"));
        HumanFormat.AppendLine(sb, $"memory bw estimate: {HumanFormat.Size(s.BandwidthBytesPerSecond)} per second");
        HumanFormat.AppendLine(sb, string.Create(ci, $"observed access ratio: {(s.ObservedAccessRatio * 100).ToString("F3", ci)} %"));

        var ps = s.Options.Percentiles;
        var n = ps.Count;
        var labels = new string[n];
        var text = new string[n];
        var values = new double[n];

        HumanFormat.AppendLine(sb, "# recency percentiles");
        if (s.RegionCount == 0 || n == 0)
        {
            HumanFormat.AppendLine(sb, "no region in snapshot");
        }
        else
        {
            for (var i = 0; i < n; i++)
            {
                labels[i] = HumanFormat.Percentile(ps[i]);
                text[i] = HumanFormat.TimeUs(ClampToLong(s.IdleTimePercentilesUs[i]));
                values[i] = s.IdleTimePercentilesUs[i];
            }

            AppendTable(sb, "<percentile> <idle time>", labels, text, values);
        }

        HumanFormat.AppendLine(sb, "# signed idle time percentiles (DAMON_STAT; negative: accessed for that long)");
        if (s.RegionCount == 0 || n == 0)
        {
            HumanFormat.AppendLine(sb, "no region in snapshot");
        }
        else
        {
            for (var i = 0; i < n; i++)
            {
                text[i] = HumanFormat.TimeUs(s.SignedIdleTimePercentilesUs[i]);
                values[i] = s.SignedIdleTimePercentilesUs[i];
            }

            AppendTable(sb, "<percentile> <idle time>", labels, text, values);
        }

        var w = s.Options.TemperatureWeights;
        HumanFormat.AppendLine(sb, "# temperature percentiles");
        if (s.RegionCount == 0 || n == 0)
        {
            HumanFormat.AppendLine(sb, "no region in snapshot");
        }
        else
        {
            for (var i = 0; i < n; i++)
            {
                text[i] = HumanFormat.Number(s.TemperaturePercentiles[i]);
                values[i] = s.TemperaturePercentiles[i];
            }

            // damo prints its weight list, with the size weight it forces to 0 for percentiles.
            AppendTable(sb, string.Create(ci, $"<percentile> <temperature (weights: [0, {w.AccessRate}, {w.Age}])>"), labels, text, values);
        }
    }

    /// <summary>damo's percentile table: right-aligned columns and a 20-dot bar scaled between the first and last value.</summary>
    private static void AppendTable(StringBuilder sb, string head, string[] labels, string[] text, double[] values)
    {
        HumanFormat.AppendLine(sb, head);
        var labelWidth = 0;
        var textWidth = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            labelWidth = Math.Max(labelWidth, labels[i].Length);
            textWidth = Math.Max(textWidth, text[i].Length);
        }

        var min = values[0];
        var max = values[^1];
        var perDot = max != min ? (max - min) / BarDots : 1;
        for (var i = 0; i < labels.Length; i++)
        {
            var dots = (int)Math.Clamp(Math.Truncate((values[i] - min) / perDot), 0, BarDots);
            sb.Append(labels[i].PadLeft(labelWidth))
                .Append("  ")
                .Append(text[i].PadLeft(textWidth))
                .Append("  |")
                .Append('*', dots)
                .Append(' ', BarDots - dots)
                .Append("|\n");
        }
    }

    private static long ClampToLong(ulong v) => v > long.MaxValue ? long.MaxValue : (long)v;
}
