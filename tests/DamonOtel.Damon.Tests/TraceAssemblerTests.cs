using System.Text;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Damon.Tests;

public class TraceAssemblerTests
{
    // kdamond k: sample 5 ms × (k+1), aggregation 100 ms × (k+1), update 1 s.
    private static Intervals IntervalsOf(int k) => new(5_000UL * (ulong)(k + 1), 100_000UL * (ulong)(k + 1), 1_000_000);

    private static AggregationAssembler NewAssembler(params (int Pid, int Kdamond)[] map)
    {
        var a = new AggregationAssembler(IntervalsOf, k => k == 1 ? 4096UL : 1UL, ns => (long)ns);
        a.SetPidMap(map.Select(m => KeyValuePair.Create(m.Pid, m.Kdamond)));
        return a;
    }

    private static List<RegionSnapshot> ReadAll(TraceReader reader)
    {
        var list = new List<RegionSnapshot>();
        _ = reader.Poll(list.Add);
        return list;
    }

    [Fact]
    public void Interleaved_kdamonds_and_targets_are_assembled_separately()
    {
        byte[] data = TraceFixtures.Bytes("text/multi-kdamond.txt");
        using var reader = new TraceReader(new MemoryStream(data), NewAssembler((100, 0), (200, 1)));
        List<RegionSnapshot> snaps = ReadAll(reader);

        Assert.Equal(3, snaps.Count);

        // kdamond.1 (pid 200) completes first, on line 5 (10.000005 s).
        RegionSnapshot k1 = snaps[0];
        Assert.Equal((1, 0, 0), (k1.KdamondIndex, k1.ContextIndex, k1.TargetIndex));
        Assert.Equal([new DamonRegion(1000, 2000, 5, 1), new DamonRegion(2000, 6000, 6, 2)], k1.Regions);
        Assert.Equal(new Intervals(10_000, 200_000, 1_000_000), k1.Intervals);
        Assert.Equal(4096UL, k1.AddrUnit);
        Assert.Equal(10_000_005_000L, k1.CapturedAtTicks);

        // kdamond.0 target 0: three regions, 4096 + 8192 + 4096 = 16384 bytes, completed on line 6.
        RegionSnapshot k0t0 = snaps[1];
        Assert.Equal((0, 0), (k0t0.KdamondIndex, k0t0.TargetIndex));
        Assert.Equal([new DamonRegion(0, 4096, 1, 10), new DamonRegion(4096, 12288, 2, 20), new DamonRegion(12288, 16384, 3, 30)], k0t0.Regions);
        Assert.Equal(16384UL, k0t0.TotalSize);
        Assert.Equal(new Intervals(5_000, 100_000, 1_000_000), k0t0.Intervals);
        Assert.Equal(10_000_006_000L, k0t0.CapturedAtTicks);

        RegionSnapshot k0t1 = snaps[2];
        Assert.Equal((0, 1), (k0t1.KdamondIndex, k0t1.TargetIndex));
        Assert.Equal([new DamonRegion(8192, 16384, 4, 40)], k0t1.Regions);

        // pid 999 (e.g. the DAMON_RECLAIM kdamond) is not in the map.
        Assert.Equal(7, reader.Lines);
        Assert.Equal(0, reader.ParseErrors);
        Assert.Equal(1, reader.UnknownPidEvents);
        Assert.Equal(1, reader.Assembler.UnknownPids[999]);
        Assert.Equal(0, reader.DroppedSnapshots);
    }

    [Fact]
    public void Unknown_pid_once_mapped_is_assembled()
    {
        AggregationAssembler a = NewAssembler((100, 0));
        TraceEvent ev = TraceFixtures.Parse(TraceFixtures.Lines("text/multi-kdamond.txt")[3]); // pid 999
        Assert.Null(a.Add(in ev));
        Assert.Equal(1, a.UnknownPids[999]);

        a.MapPid(999, 7); // the caller matched damon_reclaim's kdamond_pid
        Assert.False(a.UnknownPids.ContainsKey(999));
        RegionSnapshot? s = a.Add(in ev);
        Assert.NotNull(s);
        Assert.Equal(7, s.KdamondIndex);
        Assert.Equal([new DamonRegion(0, 65536, 0, 3)], s.Regions);
    }

    [Fact]
    public void Incomplete_aggregation_is_dropped_when_the_next_one_starts()
    {
        byte[] data = TraceFixtures.Bytes("text/incomplete-then-new.txt");
        using var reader = new TraceReader(new MemoryStream(data), NewAssembler((100, 0)));
        List<RegionSnapshot> snaps = ReadAll(reader);

        // Lines 1-2 (2 of 3 regions) are abandoned when line 3 starts again at address 0.
        RegionSnapshot s = Assert.Single(snaps);
        Assert.Equal([new DamonRegion(0, 8192, 3, 12), new DamonRegion(8192, 12288, 4, 13), new DamonRegion(12288, 16384, 5, 14)], s.Regions);
        Assert.Equal(1, reader.DroppedSnapshots);
        Assert.Equal(1, reader.Assembler.CompletedSnapshots);
    }

    [Fact]
    public void Changed_nr_regions_starts_a_new_aggregation()
    {
        AggregationAssembler a = NewAssembler((1, 0));
        Assert.Null(a.AddRegion(1, 0, 0, 3, new DamonRegion(0, 10, 1, 1)));
        // nr_regions 2 now: regions were merged, a new aggregation began; the 1 region of 3 is dropped.
        Assert.Null(a.AddRegion(1, 0, 0, 2, new DamonRegion(20, 30, 1, 1)));
        RegionSnapshot? s = a.AddRegion(1, 0, 0, 2, new DamonRegion(30, 40, 2, 2));
        Assert.NotNull(s);
        Assert.Equal([new DamonRegion(20, 30, 1, 1), new DamonRegion(30, 40, 2, 2)], s.Regions);
        Assert.Equal(1, a.DroppedSnapshots);
    }

    [Fact]
    public void Five_fifteen_opaque_target_ids_become_ordinals()
    {
        byte[] data = TraceFixtures.Bytes("text/v5.15-no-age-flags4.txt");
        using var reader = new TraceReader(new MemoryStream(data), NewAssembler((1234, 0)));
        RegionSnapshot s = Assert.Single(ReadAll(reader));
        Assert.Equal(0, s.TargetIndex);
        Assert.Equal([new DamonRegion(4194304, 8388608, 5, 0), new DamonRegion(8388608, 12582912, 0, 0)], s.Regions);
    }

    [Fact]
    public void Intervals_tune_event_changes_sample_and_aggregation_of_later_snapshots()
    {
        AggregationAssembler a = NewAssembler((300, 0));
        var others = new List<TraceEventKind>();
        var snaps = new List<RegionSnapshot>();
        byte[] data = TraceFixtures.Bytes("text/v7.0-other-events.txt");
        byte[] more = Encoding.UTF8.GetBytes("       kdamond.0-300     [001] .....   103.000000: damon_aggregated: target_id=0 nr_regions=1 0-4096: 1 2\n");
        using var reader = new TraceReader(new MemoryStream([.. data, .. more]), a);
        _ = reader.Poll(snaps.Add, (in TraceEvent e) => others.Add(e.Kind));

        Assert.Equal([TraceEventKind.DamosBeforeApply, TraceEventKind.MonitorIntervalsTune, TraceEventKind.DamosEsz, TraceEventKind.DamosStatAfterApplyInterval, TraceEventKind.DamonRegionAggregated], others);
        Assert.Equal(0, reader.OtherEvents); // every damon event of 7.3 is decoded
        Assert.Equal(2500UL, a.TunedSampleUs(0));

        // Configured 5 ms / 100 ms: ratio 20, so sample 2.5 ms gives aggregation 2.5 ms × 20 = 50 ms.
        RegionSnapshot s = Assert.Single(snaps);
        Assert.Equal(new Intervals(2_500, 50_000, 1_000_000), s.Intervals);
    }

    [Fact]
    public void Lines_split_across_reads_at_every_position_give_the_same_snapshots()
    {
        byte[] data = TraceFixtures.Bytes("text/multi-kdamond.txt");
        for (int cut = 1; cut < data.Length; cut++)
        {
            using var reader = new TraceReader(new MemoryStream(), NewAssembler((100, 0), (200, 1)));
            var snaps = new List<RegionSnapshot>();
            _ = reader.Feed(data.AsSpan(0, cut), snaps.Add);
            _ = reader.Feed(data.AsSpan(cut), snaps.Add);
            Assert.Equal(3, snaps.Count);
            Assert.Equal(0, reader.ParseErrors);
            Assert.Equal(new DamonRegion(12288, 16384, 3, 30), snaps[1].Regions[2]);
        }
    }

    [Fact]
    public void Pipe_returning_small_chunks_is_read_until_empty()
    {
        byte[] data = TraceFixtures.Bytes("text/multi-kdamond.txt");
        foreach (int chunk in new[] { 1, 7, 100, 4096 })
        {
            using var reader = new TraceReader(new ChunkedStream(data, chunk), NewAssembler((100, 0), (200, 1)), bufferSize: 256);
            Assert.Equal(3, ReadAll(reader).Count);
            Assert.Equal(data.Length, reader.BytesRead);
        }
    }

    [Fact]
    public void Partial_last_line_waits_for_the_next_poll()
    {
        byte[] data = TraceFixtures.Bytes("text/v6.12-flags5.txt");
        int cut = data.Length - 10; // inside the third line
        var stream = new MemoryStream();
        stream.Write(data, 0, cut);
        stream.Position = 0;
        using var reader = new TraceReader(stream, NewAssembler((157, 0)), ownsPipe: false);
        Assert.Empty(ReadAll(reader));
        Assert.Equal(2, reader.Lines);

        long pos = stream.Position;
        stream.Write(data, cut, data.Length - cut);
        stream.Position = pos;
        RegionSnapshot s = Assert.Single(ReadAll(reader));
        Assert.Equal(3, s.Regions.Length);
        Assert.Equal(new DamonRegion(3145728, 1073741824, 7, 12), s.Regions[2]);
    }

    [Fact]
    public void Malformed_lines_are_counted_with_a_description()
    {
        byte[] data = TraceFixtures.Bytes("text/malformed.txt");
        using var reader = new TraceReader(new MemoryStream(data), NewAssembler((100, 0)));
        Assert.Empty(ReadAll(reader));
        Assert.Equal(5, reader.Lines);
        Assert.Equal(5, reader.ParseErrors);
        Assert.Equal(0, reader.WellFormed);
        Assert.StartsWith("trace_pipe line 5: event body does not match", reader.LastParseError, StringComparison.Ordinal);
        Assert.Contains("0-4096: 1 10 extra'", reader.LastParseError, StringComparison.Ordinal);
    }

    [Fact]
    public void Overlong_line_is_skipped_as_one_error()
    {
        string longLine = "kdamond.0-100 [000] ..... 1.000000: damon_aggregated: target_id=0 nr_regions=1 0-4096: 1 " + new string('9', 600);
        string good = "kdamond.0-100 [000] ..... 1.000001: damon_aggregated: target_id=0 nr_regions=1 0-4096: 1 2";
        byte[] data = Encoding.UTF8.GetBytes(longLine + "\n" + good + "\n");
        using var reader = new TraceReader(new ChunkedStream(data, 100), NewAssembler((100, 0)), bufferSize: 256);
        RegionSnapshot s = Assert.Single(ReadAll(reader));
        Assert.Equal(new DamonRegion(0, 4096, 1, 2), s.Regions[0]);
        Assert.Equal(1, reader.ParseErrors);
        Assert.Equal(2, reader.Lines);
        Assert.Contains("longer than the read buffer", reader.LastParseError, StringComparison.Ordinal);
    }

    [Fact]
    public void Steady_state_allocates_only_the_snapshots()
    {
        // 1000 aggregations of one single-region target: each completion allocates one
        // RegionSnapshot and one 1-element array; lines themselves allocate nothing.
        var sb = new StringBuilder();
        for (int i = 0; i < 1000; i++)
        {
            sb.Append("kdamond.0-100 [000] ..... 1.000000: damon_aggregated: target_id=0 nr_regions=2 0-4096: 1 2\n");
            sb.Append("kdamond.0-100 [000] ..... 1.000000: damon_aggregated: target_id=0 nr_regions=2 4096-8192: 1 2\n");
        }

        byte[] data = Encoding.UTF8.GetBytes(sb.ToString());
        var sink = new Action<RegionSnapshot>(_ => { });
        using var reader = new TraceReader(new MemoryStream(), NewAssembler((100, 0)));
        _ = reader.Feed(data, sink); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(1000, reader.Feed(data, sink));
        long perSnapshot = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;

        // RegionSnapshot object (header 16 + 6 fields ≈ 56-64 bytes) + DamonRegion[2]
        // (header 24 + 2 × 24 = 72): about 136 bytes; allow up to 160, far below one line's text.
        Assert.InRange(perSnapshot, 100, 160);
    }
}
