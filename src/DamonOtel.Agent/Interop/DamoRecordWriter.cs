using System.IO.Compression;
using System.Text.Json;
using DamonOtel.Damon.Model;

namespace DamonOtel.Agent.Interop;

/// <summary>A snapshot to record, with when its aggregation ended (ns on any clock, e.g. since boot).</summary>
internal readonly record struct DamoRecordSnapshot(RegionSnapshot Snapshot, ulong EndTimeNs);

/// <summary>
/// Writes region snapshots as a damo record file: damo's default `json_compressed` type, a JSON
/// list of per-target records compressed with zlib (RFC 1950). The layout, the units and what
/// damo's reports need are in docs/damo-interop.md ("Record files"); this is written from that
/// description, not from damo's code.
/// </summary>
internal static class DamoRecordWriter
{
    /// <summary>Writes the zlib-compressed record (what `damo report --input` reads).</summary>
    public static void WriteCompressed(Stream output, IEnumerable<DamoRecordSnapshot> snapshots, IntervalsGoal? goal = null)
    {
        using var zlib = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true);
        WriteJson(zlib, snapshots, goal);
    }

    /// <summary>
    /// Writes the uncompressed JSON. damo reads it only when `file -b` calls it "JSON data";
    /// file 5.44 says "JSON text data", so use <see cref="WriteCompressed"/> for damo.
    /// </summary>
    public static void WriteJson(Stream output, IEnumerable<DamoRecordSnapshot> snapshots, IntervalsGoal? goal = null)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false, SkipValidation = false });
        json.WriteStartArray();
        bool tuned = goal is { Aggrs: > 0 };
        foreach (Record record in GroupIntoRecords(snapshots, tuned))
        {
            WriteRecord(json, record, tuned ? goal : null);
        }

        json.WriteEndArray();
        json.Flush();
    }

    private sealed record Record(int Kdamond, int Context, int Target, Intervals Intervals, List<DamoRecordSnapshot> Snapshots);

    // One record per target, in first-seen order. damo gives a record one set of intervals, so a
    // change of intervals starts a new record; with an intervals goal the kernel tunes them all
    // the time instead, and each snapshot carries its own sampling interval.
    private static List<Record> GroupIntoRecords(IEnumerable<DamoRecordSnapshot> snapshots, bool tuned)
    {
        var records = new List<Record>();
        var open = new Dictionary<(int, int, int), Record>();
        foreach (DamoRecordSnapshot s in snapshots)
        {
            RegionSnapshot snap = s.Snapshot;
            var key = (snap.KdamondIndex, snap.ContextIndex, snap.TargetIndex);
            if (!open.TryGetValue(key, out Record? record) || (!tuned && record.Intervals != snap.Intervals))
            {
                record = new Record(snap.KdamondIndex, snap.ContextIndex, snap.TargetIndex, snap.Intervals, []);
                records.Add(record);
                open[key] = record;
            }

            record.Snapshots.Add(s);
        }

        return records;
    }

    private static void WriteRecord(Utf8JsonWriter json, Record record, IntervalsGoal? goal)
    {
        bool tuned = goal is { Aggrs: > 0 };
        json.WriteStartObject();
        json.WriteNumber("kdamond_idx", record.Kdamond);
        json.WriteNumber("context_idx", record.Context);
        json.WriteStartObject("intervals");
        json.WriteNumber("sample_us", record.Intervals.SampleUs);
        json.WriteNumber("aggr_us", record.Intervals.AggrUs);
        json.WriteNumber("ops_update_us", record.Intervals.UpdateUs);
        json.WriteStartObject("intervals_goal");
        json.WriteNumber("access_bp", tuned ? goal!.AccessBp : 0);
        json.WriteNumber("aggrs", tuned ? goal!.Aggrs : 0);
        json.WriteNumber("min_sample_us", tuned ? goal!.MinSampleUs : 0);
        json.WriteNumber("max_sample_us", tuned ? goal!.MaxSampleUs : 0);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteNull("scheme_idx");
        // damo's target_id is the tracepoint's target_id, which is the target's index in its context.
        json.WriteNumber("target_id", record.Target);
        json.WriteStartArray("scheme_filters");
        json.WriteEndArray();
        json.WriteStartArray("snapshots");
        foreach (DamoRecordSnapshot s in record.Snapshots)
        {
            WriteSnapshot(json, s, tuned);
        }

        json.WriteEndArray();
        json.WriteString("data_source", "unknown");
        json.WriteEndObject();
    }

    private static void WriteSnapshot(Utf8JsonWriter json, DamoRecordSnapshot s, bool tuned)
    {
        RegionSnapshot snap = s.Snapshot;
        ulong sampleUs = Math.Max(snap.Intervals.SampleUs, 1);
        ulong aggrUs = snap.Intervals.AggrUs;
        ulong unit = Math.Max(snap.AddrUnit, 1);
        ulong durationNs = aggrUs * 1000;
        json.WriteStartObject();
        json.WriteNumber("start_time", s.EndTimeNs >= durationNs ? s.EndTimeNs - durationNs : 0);
        json.WriteNumber("end_time", s.EndTimeNs);
        json.WriteStartArray("regions");
        ulong total = 0;
        // damo's percent: samples × 100 / (aggr / sample), truncated.
        double maxSamples = (double)aggrUs / sampleUs;
        foreach (ref readonly DamonRegion r in snap.Regions.AsSpan())
        {
            json.WriteStartObject();
            json.WriteNumber("start", r.Start * unit);
            json.WriteNumber("end", r.End * unit);
            json.WriteStartObject("nr_accesses");
            json.WriteNumber("samples", r.NrAccesses);
            json.WriteNumber("percent", maxSamples > 0 ? (ulong)(r.NrAccesses * 100.0 / maxSamples) : 0);
            json.WriteEndObject();
            json.WriteStartObject("age");
            json.WriteNumber("usec", (ulong)r.Age * aggrUs);
            json.WriteNumber("aggr_intervals", r.Age);
            json.WriteEndObject();
            json.WriteStartArray("probe_hits");
            json.WriteEndArray();
            json.WriteNumber("sz_filter_passed", 0);
            json.WriteEndObject();
            total += r.Size * unit;
        }

        json.WriteEndArray();
        json.WriteNumber("total_bytes", total);
        json.WriteNull("damos_stats");
        // Read by damo only when the record's intervals goal is on; written in µs, as damo reads
        // it (damo 3.4.1's own writer puts ns here; docs/damo-interop.md).
        if (tuned)
        {
            json.WriteNumber("sample_interval_us", snap.Intervals.SampleUs);
        }
        else
        {
            json.WriteNull("sample_interval_us");
        }

        json.WriteEndObject();
    }
}
