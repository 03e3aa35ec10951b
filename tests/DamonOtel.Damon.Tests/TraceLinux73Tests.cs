using System.Text;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Damon.Tests;

/// <summary>
/// The damon events as the real kernels printed them: text/v7.3-events.txt holds one line of
/// each 7.3.4 event, text/v6.12-comm-unknown.txt two 6.12.117 lines whose comm the trace's
/// cache had lost.
/// </summary>
public class TraceLinux73Tests
{
    private static readonly string[] Lines = TraceFixtures.Lines("text/v7.3-events.txt");

    [Fact]
    public void Damon_aggregated_is_unchanged_on_7_3()
    {
        TraceEvent ev = TraceFixtures.Parse(Lines[0]);
        Assert.Equal(TraceEventKind.DamonAggregated, ev.Kind);
        Assert.Equal((1039, 3), (ev.Pid, ev.Cpu));
        Assert.Equal(115_796_973_000UL, ev.TimestampNs);
        Assert.Equal((0UL, 24u, 1048576UL, 50786304UL, 0u, 2u), (ev.TargetId, ev.NrRegions, ev.Start, ev.End, ev.NrAccesses, ev.Age));
        Assert.True(ev.HasAge);
    }

    [Fact]
    public void Damon_region_aggregated_carries_the_region_and_its_probe_hits()
    {
        TraceEvent ev = TraceFixtures.Parse(Lines[1]);
        Assert.Equal(TraceEventKind.DamonRegionAggregated, ev.Kind);
        Assert.Equal(1039, ev.Pid);
        Assert.Equal((0UL, 22u, 1048576UL, 50380800UL, 0u, 4u), (ev.TargetId, ev.NrRegions, ev.Start, ev.End, ev.NrAccesses, ev.Age));
        Assert.Equal((1, 0UL), (ev.ProbeCount, ev.ProbeHits));

        // Two probes, __print_hex style (probes.txt printed "probe_hits=13" for one probe with 19 hits).
        TraceEvent two = TraceFixtures.Parse(TraceFixtures.Lines("text/v7.0-other-events.txt")[4]);
        Assert.Equal(TraceEventKind.DamonRegionAggregated, two.Kind);
        Assert.Equal((2, 0x13UL), (two.ProbeCount, two.ProbeHits));
        Assert.Equal((0UL, 4096UL, 1u, 2u), (two.Start, two.End, two.NrAccesses, two.Age));

        // No probe: nothing after "probe_hits=".
        TraceEvent none = TraceFixtures.Parse("kdamond.1-9 [000] ..... 1.000000: damon_region_aggregated: target_id=0 nr_regions=1 0-4096: 0 0 probe_hits=");
        Assert.Equal((TraceEventKind.DamonRegionAggregated, 0), (none.Kind, none.ProbeCount));

        Assert.Equal(TraceParseError.BadBody, TraceFixtures.ParseError("kdamond.1-9 [000] ..... 1.0: damon_region_aggregated: target_id=0 nr_regions=1 0-4096: 0 0 probe_hits=1"));
        Assert.Equal(TraceParseError.BadBody, TraceFixtures.ParseError("kdamond.1-9 [000] ..... 1.0: damon_region_aggregated: target_id=0 nr_regions=1 0-4096: 0 0 probe_hits=zz"));
        Assert.Equal(TraceParseError.BadBody, TraceFixtures.ParseError("kdamond.1-9 [000] ..... 1.0: damon_region_aggregated: target_id=0 nr_regions=1 0-4096: 0 0"));
    }

    [Fact]
    public void Damos_events_and_intervals_tune_of_7_3()
    {
        TraceEvent before = TraceFixtures.Parse(Lines[2]);
        Assert.Equal((TraceEventKind.DamosBeforeApply, 0u, 0UL, 17u), (before.Kind, before.SchemeIndex, before.TargetId, before.NrRegions));
        Assert.Equal((4194304UL, 158666752UL, 0u, 74u), (before.Start, before.End, before.NrAccesses, before.Age));

        TraceEvent tune = TraceFixtures.Parse(Lines[3]);
        Assert.Equal((TraceEventKind.MonitorIntervalsTune, 5000UL, 1037), (tune.Kind, tune.SampleUs, tune.Pid));

        TraceEvent esz = TraceFixtures.Parse(Lines[4]);
        Assert.Equal((TraceEventKind.DamosEsz, 0u, 1u, 7371421UL), (esz.Kind, esz.ContextIndex, esz.SchemeIndex, esz.EffectiveSizeBytes));

        // 7.3.4 prints sz_applied where 7.0.0 printed a second sz_tried: the same positions.
        TraceEvent stat = TraceFixtures.Parse(Lines[5]);
        Assert.Equal(TraceEventKind.DamosStatAfterApplyInterval, stat.Kind);
        Assert.Equal(1u, stat.SchemeIndex);
        Assert.Equal(
            new DamosStatValues { NrTried = 18, SzTried = 14692352, NrApplied = 1, SzApplied = 4096, SzOpsFilterPassed = 0, QtExceeds = 37, NrSnapshots = 0 },
            stat.Stats);
    }

    [Fact]
    public void Comm_the_trace_lost_is_printed_as_dots_and_the_pid_still_counts()
    {
        // 6.12.117: "<...>-675": the comm cache missed the kdamond; the pid after the last '-' is what routes the event.
        TraceEvent ev = TraceFixtures.Parse(TraceFixtures.Lines("text/v6.12-comm-unknown.txt")[0]);
        Assert.Equal((TraceEventKind.DamonAggregated, 675, 3), (ev.Kind, ev.Pid, ev.Cpu));
        Assert.Equal((18u, 1048576UL, 43225088UL, 0u, 24u), (ev.NrRegions, ev.Start, ev.End, ev.NrAccesses, ev.Age));
    }

    [Fact]
    public void A_kdamond_with_probes_is_assembled_once_from_damon_aggregated_only()
    {
        // damon_region_aggregated repeats every region of damon_aggregated: it must not count twice.
        var sb = new StringBuilder();
        foreach ((ulong s, ulong e, uint n, uint a) in new[] { (0UL, 4096UL, 1u, 0u), (4096UL, 12288UL, 0u, 5u) })
        {
            sb.Append($"kdamond.1-1039 [001] ..... 10.000000: damon_aggregated: target_id=0 nr_regions=2 {s}-{e}: {n} {a}\n");
            sb.Append($"kdamond.1-1039 [001] ..... 10.000001: damon_region_aggregated: target_id=0 nr_regions=2 {s}-{e}: {n} {a} probe_hits=07\n");
        }

        var assembler = new AggregationAssembler(_ => new Intervals(5000, 100000, 1000000));
        assembler.SetPidMap([new(1039, 1)]);
        using var reader = new TraceReader(new MemoryStream(Encoding.ASCII.GetBytes(sb.ToString())), assembler);
        var snapshots = new List<RegionSnapshot>();
        int probeEvents = 0;
        reader.Poll(snapshots.Add, (in TraceEvent ev) => probeEvents += ev.Kind == TraceEventKind.DamonRegionAggregated ? 1 : 0);
        RegionSnapshot snap = Assert.Single(snapshots);
        Assert.Equal([new DamonRegion(0, 4096, 1, 0), new DamonRegion(4096, 12288, 0, 5)], snap.Regions);
        Assert.Equal(2, probeEvents);
        Assert.Equal(0, reader.ParseErrors);
        Assert.Equal(0, assembler.DroppedSnapshots);
    }

    [Fact]
    public void Every_7_3_format_file_describes_an_event_the_parser_knows()
    {
        foreach (string name in new[] { "damon_aggregated", "damon_region_aggregated", "damon_monitor_intervals_tune", "damos_before_apply", "damos_esz", "damos_stat_after_apply_interval" })
        {
            string format = TraceFixtures.Text($"format/{name}-7.3.format");
            Assert.StartsWith($"name: {name}\n", format, StringComparison.Ordinal);
            Assert.Contains(Lines, l => l.Contains($" {name}: ", StringComparison.Ordinal));
        }
    }
}
