using System.Buffers.Binary;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Damon.Tests;

public class TraceRawTests
{
    private static RingBufferLayout Layout() =>
        RingBufferLayout.Parse(TraceFixtures.Text("format/header_page"), TraceFixtures.Text("format/header_event"));

    private static TraceEventFormat Format(string name) => TraceEventFormat.Parse(TraceFixtures.Text("format/" + name), name);

    // The "shifted" fixture: common_pid@8, nr_regions@12, target_id@16, end@24, start@32, age@40, nr_accesses@44.
    internal static byte[] RecordShifted(ushort id, int pid, ulong target, uint nr, ulong start, ulong end, uint acc, uint age)
    {
        byte[] r = new byte[48];
        BinaryPrimitives.WriteUInt16LittleEndian(r, id);
        BinaryPrimitives.WriteInt32LittleEndian(r.AsSpan(8), pid);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(12), nr);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(16), target);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(24), end);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(32), start);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(40), age);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(44), acc);
        return r;
    }

    // 5.15 on a 32-bit kernel: 4-byte longs and no age. pid@4, target@8, nr@12, start@16, end@20, acc@24; 28 bytes.
    private static byte[] Record515x32(ushort id, int pid, uint target, uint nr, uint start, uint end, uint acc)
    {
        byte[] r = new byte[28];
        BinaryPrimitives.WriteUInt16LittleEndian(r, id);
        BinaryPrimitives.WriteInt32LittleEndian(r.AsSpan(4), pid);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(8), target);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(12), nr);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), start);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(20), end);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(24), acc);
        return r;
    }

    [Fact]
    public void Format_file_gives_id_and_offsets()
    {
        TraceEventFormat f = Format("damon_aggregated-6.18.format");
        Assert.Equal("damon_aggregated", f.Name);
        Assert.Equal(1487, f.Id);
        Assert.Equal(10, f.Fields.Count);
        Assert.Equal(new TraceFormatField("common_pid", "int common_pid", 4, 4, true), f.Find("common_pid"));
        Assert.Equal(new TraceFormatField("age", "unsigned int age", 44, 4, false), f.Find("age"));
        Assert.Equal(24, f.Find("start")!.Offset);
    }

    [Fact]
    public void Header_files_give_page_layout()
    {
        RingBufferLayout l = Layout();
        Assert.Equal((0, 8, 8, 16, 4080, 4096), (l.TimestampOffset, l.CommitOffset, l.CommitSize, l.DataOffset, l.DataSize, l.PageSize));
        Assert.Equal((29, 30, 31, 28), (l.PaddingType, l.TimeExtendType, l.TimeStampType, l.MaxDataTypeLen));
    }

    [Fact]
    public void Bad_format_files_name_file_and_line()
    {
        var e = Assert.Throws<KernelFormatException>(() => TraceEventFormat.Parse("name: x\nID: 7\n\tfield:int a;\toffset:zz;\tsize:4;\tsigned:1;\n", "fmt/x"));
        Assert.Contains("fmt/x:3", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<KernelFormatException>(() => TraceEventFormat.Parse("name: x\n", "fmt/y"));
        Assert.Contains("fmt/y: no 'ID:' line", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<KernelFormatException>(() => new DamonRawDecoder(TraceEventFormat.Parse("name: damon_aggregated\nID: 3\n", "f")));
        Assert.Contains("no field 'common_type'", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<KernelFormatException>(() => RingBufferLayout.Parse("\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n", TraceFixtures.Text("format/header_event"), "hp"));
        Assert.Contains("hp: no 'commit' field", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Page_with_all_event_header_types_decodes_with_timestamps()
    {
        var decoder = new DamonRawDecoder(Format("damon_aggregated-6.18.format"), Format("damon_monitor_intervals_tune-6.18.format"));
        byte[] page = new RawPageBuilder(5_000_000_000)
            .Event(100, DamonRawRecords.Aggregated618(1487, 157, 0, 2, 4096, 8192, 3, 4))   // 48 bytes: type_len 12
            .Discarded(8)                                                // padding, not time
            .TimeExtend(5, 1)                                            // + (1 << 27 | 5) = 134217733
            .LongEvent(67, DamonRawRecords.Aggregated618(1487, 157, 0, 2, 8192, 12288, 0, 9)) // type_len 0 form
            .Event(0, DamonRawRecords.IntervalsTune618(1488, 157, 2500))
            .Event(3, DamonRawRecords.Aggregated618(999, 1, 0, 0, 0, 0, 0, 0))               // some other event id
            .Build();

        var sink = new CollectingSink(decoder);
        RawPageResult r = Layout().ParsePage(page, ref sink);
        Assert.False(r.Corrupt);
        Assert.False(r.MissedEvents);
        Assert.Equal(4, r.Events);

        Assert.Equal(4, sink.Events.Count);
        TraceEvent a = sink.Events[0];
        Assert.Equal(TraceEventKind.DamonAggregated, a.Kind);
        Assert.Equal(5_000_000_100UL, a.TimestampNs); // 5e9 + 100
        Assert.Equal((157, 0UL, 2u, 4096UL, 8192UL, 3u, 4u, true), (a.Pid, a.TargetId, a.NrRegions, a.Start, a.End, a.NrAccesses, a.Age, a.HasAge));

        TraceEvent b = sink.Events[1];
        Assert.Equal(5_134_217_900UL, b.TimestampNs); // 5_000_000_100 + 134_217_733 + 67
        Assert.Equal((8192UL, 12288UL, 0u, 9u), (b.Start, b.End, b.NrAccesses, b.Age));

        TraceEvent t = sink.Events[2];
        Assert.Equal((TraceEventKind.MonitorIntervalsTune, 157, 2500UL, 5_134_217_900UL), (t.Kind, t.Pid, t.SampleUs, t.TimestampNs));
        Assert.Equal(TraceEventKind.Other, sink.Events[3].Kind);
        Assert.Equal(5_134_217_903UL, r.LastTimestampNs);
    }

    [Fact]
    public void Different_offsets_from_the_format_file_are_honoured()
    {
        var decoder = new DamonRawDecoder(Format("damon_aggregated-shifted.format"));
        byte[] page = new RawPageBuilder(1).Event(1, RecordShifted(42, 4321, 2, 1, 0x1000, 0x3000, 17, 250)).Build();
        var sink = new CollectingSink(decoder);
        _ = Layout().ParsePage(page, ref sink);
        TraceEvent e = Assert.Single(sink.Events);
        Assert.Equal((TraceEventKind.DamonAggregated, 4321, 2UL, 1u), (e.Kind, e.Pid, e.TargetId, e.NrRegions));
        Assert.Equal((4096UL, 12288UL, 17u, 250u), (e.Start, e.End, e.NrAccesses, e.Age));

        // The same bytes read with the 6.18 layout give other values: nothing is assumed.
        var other = new DamonRawDecoder(TraceEventFormat.Parse(TraceFixtures.Text("format/damon_aggregated-6.18.format").Replace("ID: 1487", "ID: 42", StringComparison.Ordinal), "x"));
        var sink2 = new CollectingSink(other);
        _ = Layout().ParsePage(page, ref sink2);
        Assert.NotEqual(4321, sink2.Events[0].Pid);
    }

    [Fact]
    public void Five_fifteen_32_bit_layout_has_no_age()
    {
        var decoder = new DamonRawDecoder(Format("damon_aggregated-5.15-32bit.format"));
        Assert.False(decoder.HasAge);
        byte[] page = new RawPageBuilder(10).Event(2, Record515x32(301, 55, 0xC0DE0000, 1, 0x8000, 0x9000, 6)).Build(); // 28 bytes: type_len 7
        var sink = new CollectingSink(decoder);
        _ = Layout().ParsePage(page, ref sink);
        TraceEvent e = Assert.Single(sink.Events);
        Assert.Equal((55, 0xC0DE0000UL, 32768UL, 36864UL, 6u, false, 0u), (e.Pid, e.TargetId, e.Start, e.End, e.NrAccesses, e.HasAge, e.Age));
        Assert.Equal(12UL, e.TimestampNs);
    }

    [Fact]
    public void Corrupt_pages_are_reported_after_the_good_events()
    {
        var decoder = new DamonRawDecoder(Format("damon_aggregated-6.18.format"));
        RingBufferLayout l = Layout();

        byte[] bigCommit = new RawPageBuilder(0).Event(1, DamonRawRecords.Aggregated618(1487, 1, 0, 1, 0, 1, 0, 0)).Build();
        BinaryPrimitives.WriteUInt64LittleEndian(bigCommit.AsSpan(8), 4081); // > 4080 bytes of data
        var s1 = new CollectingSink(decoder);
        Assert.True(l.ParsePage(bigCommit, ref s1).Corrupt);

        // Second event claims type_len 28 (112 bytes) but the commit ends after 16 of them.
        byte[] page = new RawPageBuilder(0).Event(1, DamonRawRecords.Aggregated618(1487, 1, 0, 2, 0, 1, 0, 0)).Event(1, new byte[112]).Build();
        BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(8), 52 + 20);
        var s2 = new CollectingSink(decoder);
        RawPageResult r = l.ParsePage(page, ref s2);
        Assert.True(r.Corrupt);
        Assert.Equal(1, r.Events);
    }

    [Fact]
    public void Missed_events_page_drops_the_unfinished_aggregation()
    {
        var decoder = new DamonRawDecoder(Format("damon_aggregated-6.18.format"));
        var assembler = new AggregationAssembler(_ => Intervals.KernelDefault, capturedAt: ns => (long)ns);
        assembler.SetPidMap([KeyValuePair.Create(157, 0)]);
        var snaps = new List<RegionSnapshot>();

        byte[] first = new RawPageBuilder(100).Event(0, DamonRawRecords.Aggregated618(1487, 157, 0, 3, 0, 4096, 1, 1)).Build();
        var lost = new RawPageBuilder(200) { MissedEvents = true };
        byte[] second = lost
            .Event(0, DamonRawRecords.Aggregated618(1487, 157, 0, 3, 4096, 8192, 2, 2))
            .Event(5, DamonRawRecords.Aggregated618(1487, 157, 0, 3, 8192, 12288, 3, 3))
            .Build();

        Assert.False(decoder.ProcessPage(first, Layout(), assembler, snaps.Add).MissedEvents);
        RawPageResult r = decoder.ProcessPage(second, Layout(), assembler, snaps.Add);
        Assert.True(r.MissedEvents);
        Assert.Empty(snaps);
        Assert.Equal(1, assembler.DroppedSnapshots); // the 1 region of 3 from the first page

        // The rest of that aggregation is skipped: its start may have been among the lost events.
        byte[] third = new RawPageBuilder(300).Event(0, DamonRawRecords.Aggregated618(1487, 157, 0, 3, 12288, 16384, 4, 4)).Build();
        _ = decoder.ProcessPage(third, Layout(), assembler, snaps.Add);
        Assert.Empty(snaps);

        // The next aggregation starts again at the lowest address and is assembled.
        byte[] fourth = new RawPageBuilder(400)
            .Event(0, DamonRawRecords.Aggregated618(1487, 157, 0, 3, 0, 4096, 5, 5))
            .Event(1, DamonRawRecords.Aggregated618(1487, 157, 0, 3, 4096, 8192, 6, 6))
            .Event(1, DamonRawRecords.Aggregated618(1487, 157, 0, 3, 8192, 16384, 7, 7))
            .Build();
        _ = decoder.ProcessPage(fourth, Layout(), assembler, snaps.Add);
        RegionSnapshot s = Assert.Single(snaps);
        Assert.Equal([new DamonRegion(0, 4096, 5, 5), new DamonRegion(4096, 8192, 6, 6), new DamonRegion(8192, 16384, 7, 7)], s.Regions);
        Assert.Equal(402L, s.CapturedAtTicks); // page 400 + deltas 0 + 1 + 1
        Assert.Equal(1, assembler.DroppedSnapshots);
    }

    [Fact]
    public void Empty_and_short_pages()
    {
        var decoder = new DamonRawDecoder(Format("damon_aggregated-6.18.format"));
        var sink = new CollectingSink(decoder);
        RawPageResult empty = Layout().ParsePage(new RawPageBuilder(7).Build(), ref sink);
        Assert.Equal(new RawPageResult(0, false, false, 7), empty);
        Assert.True(Layout().ParsePage(new byte[10], ref sink).Corrupt);
    }

    internal sealed class CollectingSink(DamonRawDecoder decoder) : IRawEventSink
    {
        public List<TraceEvent> Events { get; } = [];

        public void OnEvent(ulong timestampNs, ReadOnlySpan<byte> payload)
        {
            var ev = default(TraceEvent);
            _ = decoder.TryDecode(payload, timestampNs, ref ev);
            Events.Add(ev);
        }
    }
}
