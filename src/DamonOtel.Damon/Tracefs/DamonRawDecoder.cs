using System.Runtime.InteropServices;
using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Tracefs;

/// <summary>
/// Decodes binary DAMON records (from trace_pipe_raw) into <see cref="TraceEvent"/>, using
/// field offsets read from the events' format files at runtime.
/// </summary>
public sealed class DamonRawDecoder
{
    private readonly AggregatedLayout aggregated;
    private readonly TuneLayout? tune;

    /// <param name="aggregatedFormat">events/damon/damon_aggregated/format (required).</param>
    /// <param name="intervalsTuneFormat">events/damon/damon_monitor_intervals_tune/format, when the kernel has it.</param>
    /// <param name="source">Names the files in error messages.</param>
    /// <exception cref="FormatException">A required field is missing or has an unusable size.</exception>
    public DamonRawDecoder(TraceEventFormat aggregatedFormat, TraceEventFormat? intervalsTuneFormat = null, string source = "events/damon")
    {
        ArgumentNullException.ThrowIfNull(aggregatedFormat);
        string aSrc = source + "/damon_aggregated/format";
        TraceFormatField? age = aggregatedFormat.Find("age");
        aggregated = new AggregatedLayout(
            aggregatedFormat.Id,
            Field.Of(aggregatedFormat.Require("common_type", aSrc)),
            Field.Of(aggregatedFormat.Require("common_pid", aSrc)),
            Field.Of(aggregatedFormat.Require("target_id", aSrc)),
            Field.Of(aggregatedFormat.Require("nr_regions", aSrc)),
            Field.Of(aggregatedFormat.Require("start", aSrc)),
            Field.Of(aggregatedFormat.Require("end", aSrc)),
            Field.Of(aggregatedFormat.Require("nr_accesses", aSrc)),
            age is null ? null : Field.Of(aggregatedFormat.Require("age", aSrc)));
        if (intervalsTuneFormat is not null)
        {
            string tSrc = source + "/damon_monitor_intervals_tune/format";
            tune = new TuneLayout(
                intervalsTuneFormat.Id,
                Field.Of(intervalsTuneFormat.Require("common_pid", tSrc)),
                Field.Of(intervalsTuneFormat.Require("sample_us", tSrc)));
        }
    }

    public int AggregatedId => aggregated.Id;

    /// <summary>Whether damon_aggregated records carry an age field (not on 5.15/5.16).</summary>
    public bool HasAge => aggregated.Age is not null;

    /// <summary>
    /// Decodes one record. Returns false when the record is too short for its layout or is
    /// not a DAMON event this decoder knows (then <c>ev.Kind</c> is None or Other).
    /// </summary>
    public bool TryDecode(ReadOnlySpan<byte> record, ulong timestampNs, ref TraceEvent ev)
    {
        ev.Kind = TraceEventKind.None;
        if (record.Length < aggregated.Type.End)
        {
            return false;
        }

        int type = (int)aggregated.Type.Read(record);
        ev.TimestampNs = timestampNs;
        ev.Tgid = -1;
        ev.Cpu = -1;
        if (type == aggregated.Id)
        {
            AggregatedLayout a = aggregated;
            if (record.Length < a.MinLength)
            {
                return false;
            }

            ev.Pid = (int)a.Pid.Read(record);
            ev.TargetId = a.TargetId.Read(record);
            ev.NrRegions = (uint)a.NrRegions.Read(record);
            ev.Start = a.Start.Read(record);
            ev.End = a.End.Read(record);
            ev.NrAccesses = (uint)a.NrAccesses.Read(record);
            if (a.Age is Field age)
            {
                ev.Age = (uint)age.Read(record);
                ev.HasAge = true;
            }
            else
            {
                ev.Age = 0;
                ev.HasAge = false;
            }

            ev.Kind = TraceEventKind.DamonAggregated;
            return true;
        }

        if (tune is TuneLayout t && type == t.Id)
        {
            if (record.Length < Math.Max(t.Pid.End, t.SampleUs.End))
            {
                return false;
            }

            ev.Pid = (int)t.Pid.Read(record);
            ev.SampleUs = t.SampleUs.Read(record);
            ev.Kind = TraceEventKind.MonitorIntervalsTune;
            return true;
        }

        ev.Kind = TraceEventKind.Other;
        return false;
    }

    /// <summary>
    /// Decodes one trace_pipe_raw page of one CPU and feeds the DAMON events to
    /// <paramref name="assembler"/>; returns the page result. A page flagged with lost events
    /// first makes the assembler drop its unfinished aggregations. Records of other events are skipped.
    /// </summary>
    public RawPageResult ProcessPage(ReadOnlySpan<byte> page, RingBufferLayout layout, AggregationAssembler assembler, Action<RegionSnapshot> onSnapshot)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(assembler);
        ArgumentNullException.ThrowIfNull(onSnapshot);
        // The flag says events were lost just before this page: an aggregation in progress
        // cannot complete correctly.
        if (layout.PageMissedEvents(page))
        {
            _ = assembler.DropIncomplete();
        }

        var sink = new AssemblingSink(this, assembler, onSnapshot);
        return layout.ParsePage(page, ref sink);
    }

    private readonly record struct Field(int Offset, int Size)
    {
        public int End => Offset + Size;

        public static Field Of(TraceFormatField f) => new(f.Offset, f.Size);

        // Values are zero-extended: all DAMON fields are unsigned except common_pid, which is
        // read as 4 bytes and cast back to int by the caller.
        public ulong Read(ReadOnlySpan<byte> r) => Size switch
        {
            8 => MemoryMarshal.Read<ulong>(r[Offset..]),
            4 => MemoryMarshal.Read<uint>(r[Offset..]),
            2 => MemoryMarshal.Read<ushort>(r[Offset..]),
            _ => r[Offset],
        };
    }

    private sealed record AggregatedLayout(int Id, Field Type, Field Pid, Field TargetId, Field NrRegions, Field Start, Field End, Field NrAccesses, Field? Age)
    {
        public int MinLength { get; } = new[] { Type.End, Pid.End, TargetId.End, NrRegions.End, Start.End, End.End, NrAccesses.End, Age?.End ?? 0 }.Max();
    }

    private sealed record TuneLayout(int Id, Field Pid, Field SampleUs);

    private struct AssemblingSink(DamonRawDecoder decoder, AggregationAssembler assembler, Action<RegionSnapshot> onSnapshot) : IRawEventSink
    {
        private TraceEvent ev;

        public void OnEvent(ulong timestampNs, ReadOnlySpan<byte> payload)
        {
            if (decoder.TryDecode(payload, timestampNs, ref ev) && assembler.Add(in ev) is RegionSnapshot s)
            {
                onSnapshot(s);
            }
        }
    }
}
