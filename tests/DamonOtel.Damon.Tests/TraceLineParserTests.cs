using System.Text;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Damon.Tests;

public class TraceLineParserTests
{
    [Fact]
    public void Kernel_6_12_line_with_5_char_flags()
    {
        string[] lines = TraceFixtures.Lines("text/v6.12-flags5.txt");
        TraceEvent ev = TraceFixtures.Parse(lines[0]);
        Assert.Equal(TraceEventKind.DamonAggregated, ev.Kind);
        Assert.Equal(157, ev.Pid);
        Assert.Equal(-1, ev.Tgid);
        Assert.Equal(0, ev.Cpu);
        Assert.Equal(4_806_146_000UL, ev.TimestampNs); // 4.806146 s
        Assert.Equal(0UL, ev.TargetId);
        Assert.Equal(3u, ev.NrRegions);
        Assert.Equal(1048576UL, ev.Start);
        Assert.Equal(2097152UL, ev.End);
        Assert.Equal(0u, ev.NrAccesses);
        Assert.Equal(1u, ev.Age);
        Assert.True(ev.HasAge);

        ev = TraceFixtures.Parse(lines[2]);
        Assert.Equal((3145728UL, 1073741824UL, 7u, 12u), (ev.Start, ev.End, ev.NrAccesses, ev.Age));
    }

    [Fact]
    public void Kernel_5_15_line_has_4_char_flags_and_no_age()
    {
        TraceEvent ev = TraceFixtures.Parse(TraceFixtures.Lines("text/v5.15-no-age-flags4.txt")[0]);
        Assert.Equal(TraceEventKind.DamonAggregated, ev.Kind);
        Assert.Equal(1234, ev.Pid);
        Assert.Equal(3, ev.Cpu);
        Assert.Equal(5678_123_456_000UL, ev.TimestampNs); // 5678.123456 s
        Assert.Equal(18446619213789216832UL, ev.TargetId); // opaque kernel pointer before 5.17
        Assert.Equal(2u, ev.NrRegions);
        Assert.Equal((4194304UL, 8388608UL, 5u), (ev.Start, ev.End, ev.NrAccesses));
        Assert.False(ev.HasAge);
        Assert.Equal(0u, ev.Age);
    }

    [Fact]
    public void Line_without_flags_column()
    {
        TraceEvent ev = TraceFixtures.Parse(TraceFixtures.Lines("text/no-flags.txt")[0]);
        Assert.Equal((77, 1), (ev.Pid, ev.Cpu));
        Assert.Equal(1234_567_890_000UL, ev.TimestampNs);
        Assert.Equal((1UL, 1u, 4294967296UL, 4299161600UL, 3u, 9u), (ev.TargetId, ev.NrRegions, ev.Start, ev.End, ev.NrAccesses, ev.Age));
    }

    [Fact]
    public void Line_with_record_tgid_column_numeric_and_dashes()
    {
        string[] lines = TraceFixtures.Lines("text/record-tgid.txt");
        TraceEvent a = TraceFixtures.Parse(lines[0]);
        Assert.Equal((77, 77, 1), (a.Pid, a.Tgid, a.Cpu));
        Assert.Equal((4096UL, 8192UL, 2u, 4u), (a.Start, a.End, a.NrAccesses, a.Age));
        TraceEvent b = TraceFixtures.Parse(lines[1]);
        Assert.Equal((77, -1), (b.Pid, b.Tgid));
        Assert.Equal(1234_567_891_000UL, b.TimestampNs);
        Assert.Equal(5u, b.Age);
    }

    [Fact]
    public void Comm_with_dashes_and_spaces_takes_pid_after_last_dash()
    {
        TraceEvent ev = TraceFixtures.Parse(TraceFixtures.Lines("text/comm-dashes.txt")[0]);
        Assert.Equal(4242, ev.Pid);
        Assert.Equal(2, ev.Cpu);
        Assert.Equal(99_000_001_000UL, ev.TimestampNs);
        Assert.Equal((0UL, 4096UL, 1u, 2u), (ev.Start, ev.End, ev.NrAccesses, ev.Age));
    }

    [Fact]
    public void Comm_kdamond_dot_index_dash_pid()
    {
        TraceEvent ev = TraceFixtures.Parse("kdamond.0-77 [001] ..... 1.000000: damon_aggregated: target_id=0 nr_regions=1 0-4096: 0 0");
        Assert.Equal(77, ev.Pid);
    }

    [Fact]
    public void Before_apply_with_swapped_indices_is_corrected_when_told()
    {
        // 6.12 printed scheme_idx=3 target_idx=1 for scheme 1, target 3.
        string line = TraceFixtures.Lines("text/v6.12-before-apply-swapped.txt")[0];
        TraceEvent fixedUp = TraceFixtures.Parse(line, swapped: true);
        Assert.Equal(TraceEventKind.DamosBeforeApply, fixedUp.Kind);
        Assert.Equal((0u, 1u, 3UL), (fixedUp.ContextIndex, fixedUp.SchemeIndex, fixedUp.TargetId));
        Assert.Equal((5u, 65536UL, 131072UL, 4u, 7u), (fixedUp.NrRegions, fixedUp.Start, fixedUp.End, fixedUp.NrAccesses, fixedUp.Age));

        TraceEvent asPrinted = TraceFixtures.Parse(line, swapped: false);
        Assert.Equal((3u, 1UL), (asPrinted.SchemeIndex, asPrinted.TargetId));
    }

    [Fact]
    public void Other_damon_events()
    {
        string[] lines = TraceFixtures.Lines("text/v7.0-other-events.txt");
        TraceEvent before = TraceFixtures.Parse(lines[0]);
        Assert.Equal((TraceEventKind.DamosBeforeApply, 1u, 3UL), (before.Kind, before.SchemeIndex, before.TargetId));

        TraceEvent tune = TraceFixtures.Parse(lines[1]);
        Assert.Equal((TraceEventKind.MonitorIntervalsTune, 2500UL, 300), (tune.Kind, tune.SampleUs, tune.Pid));
        Assert.Equal(100_500_000_000UL, tune.TimestampNs);

        TraceEvent esz = TraceFixtures.Parse(lines[2]);
        Assert.Equal((TraceEventKind.DamosEsz, 0u, 2u, 1048576UL), (esz.Kind, esz.ContextIndex, esz.SchemeIndex, esz.EffectiveSizeBytes));

        // 7.0.0 prints the sixth key as a second "sz_tried=": taken by position as sz_applied.
        TraceEvent stat = TraceFixtures.Parse(lines[3]);
        Assert.Equal(TraceEventKind.DamosStatAfterApplyInterval, stat.Kind);
        Assert.Equal(1u, stat.SchemeIndex);
        Assert.Equal(10UL, stat.Stats.NrTried);
        Assert.Equal(40960UL, stat.Stats.SzTried);
        Assert.Equal(4UL, stat.Stats.NrApplied);
        Assert.Equal(16384UL, stat.Stats.SzApplied);
        Assert.Equal(8192UL, stat.Stats.SzOpsFilterPassed);
        Assert.Equal(2UL, stat.Stats.QtExceeds);
        Assert.Equal(55UL, stat.Stats.NrSnapshots);

        Assert.Equal(TraceEventKind.DamonRegionAggregated, TraceFixtures.Parse(lines[4]).Kind);
        Assert.Equal(TraceEventKind.Other, TraceFixtures.Parse("kdamond.0-300 [001] ..... 102.0: damon_future_event: x=1").Kind);
    }

    [Fact]
    public void Perf_style_system_prefix_is_accepted()
    {
        TraceEvent ev = TraceFixtures.Parse("kdamond.0-77 [000] 12.500000: damon:damon_aggregated: target_id=0 nr_regions=1 0-4096: 1 2");
        Assert.Equal((TraceEventKind.DamonAggregated, 12_500_000_000UL), (ev.Kind, ev.TimestampNs));
    }

    [Fact]
    public void Malformed_lines_give_errors_not_exceptions()
    {
        string[] lines = TraceFixtures.Lines("text/malformed.txt");
        Assert.Equal(TraceParseError.MissingCpuColumn, TraceFixtures.ParseError(lines[0]));
        Assert.Equal(TraceParseError.BadBody, TraceFixtures.ParseError(lines[1]));   // target_id=x
        Assert.Equal(TraceParseError.BadBody, TraceFixtures.ParseError(lines[2]));   // nr_regions = 2^32 overflows %u
        Assert.Equal(TraceParseError.BadFlagsColumn, TraceFixtures.ParseError(lines[3])); // 2-char flags
        Assert.Equal(TraceParseError.BadBody, TraceFixtures.ParseError(lines[4]));   // trailing junk
        Assert.Equal(TraceParseError.EmptyLine, TraceFixtures.ParseError("   "));
        Assert.Equal(TraceParseError.BadTaskColumn, TraceFixtures.ParseError("kdamond [000] ..... 1.000000: damon_aggregated: target_id=0 nr_regions=1 0-1: 0 0"));
        Assert.Equal(TraceParseError.BadTimestamp, TraceFixtures.ParseError("k-1 [000] ..... 1.0000000000: damon_aggregated: target_id=0 nr_regions=1 0-1: 0 0"));
        Assert.Equal(TraceParseError.BadBody, TraceFixtures.ParseError("k-1 [000] ..... 1.000000: damon_aggregated: target_id=18446744073709551616 nr_regions=1 0-1: 0 0"));
    }

    [Fact]
    public void Largest_values_parse()
    {
        TraceEvent ev = TraceFixtures.Parse("k-2147483647 [999] ..... 18446744073.709551: damon_aggregated: target_id=18446744073709551615 nr_regions=4294967295 0-18446744073709551615: 4294967295 4294967295");
        Assert.Equal(int.MaxValue, ev.Pid);
        Assert.Equal(999, ev.Cpu);
        Assert.Equal(18_446_744_073_709_551_000UL, ev.TimestampNs);
        Assert.Equal(ulong.MaxValue, ev.TargetId);
        Assert.Equal(uint.MaxValue, ev.NrRegions);
        Assert.Equal(ulong.MaxValue, ev.End);
        Assert.Equal(uint.MaxValue, ev.Age);
    }

    [Theory]
    [InlineData("12345678", 12345678UL)]
    [InlineData("123456789", 123456789UL)]
    [InlineData("1234567890123456", 1234567890123456UL)]
    [InlineData("12345678901234567", 12345678901234567UL)]
    [InlineData("1234567890123456789", 1234567890123456789UL)]
    [InlineData("12345678901234567890", 12345678901234567890UL)]
    [InlineData("00000000000000000000000", null)] // 23 digits: more than %lu prints
    [InlineData("18446744073709551616", null)]     // 2^64
    public void Numbers_of_every_length_around_the_8_digit_blocks(string digits, ulong? expected)
    {
        string line = $"k-1 [000] ..... 1.000000: damon_aggregated: target_id=0 nr_regions=1 {digits}-{digits}: 0 0";
        var ev = default(TraceEvent);
        TraceParseError err = TraceLineParser.Parse(Encoding.UTF8.GetBytes(line), false, ref ev);
        if (expected is ulong v)
        {
            Assert.Equal(TraceParseError.None, err);
            Assert.Equal((v, v), (ev.Start, ev.End));
        }
        else
        {
            Assert.Equal(TraceParseError.BadBody, err);
        }
    }

    [Fact]
    public void Parser_does_not_allocate()
    {
        byte[] line = Encoding.UTF8.GetBytes(TraceFixtures.Lines("text/record-tgid.txt")[0]);
        var ev = default(TraceEvent);
        _ = TraceLineParser.Parse(line, false, ref ev);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            _ = TraceLineParser.Parse(line, false, ref ev);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}

public class TraceQuirksTests
{
    [Theory]
    [InlineData(6, 6, false)]
    [InlineData(6, 7, true)]
    [InlineData(6, 12, true)]
    [InlineData(6, 13, false)]
    [InlineData(5, 15, false)]
    public void Before_apply_swap_range(int major, int minor, bool swapped) =>
        Assert.Equal(swapped, TraceQuirks.BeforeApplyIndicesSwapped(major, minor));

    [Theory]
    [InlineData(5, 15, false)]
    [InlineData(5, 16, false)]
    [InlineData(5, 17, true)]
    [InlineData(6, 0, true)]
    public void Aggregated_age_since_5_17(int major, int minor, bool hasAge) =>
        Assert.Equal(hasAge, TraceQuirks.AggregatedHasAge(major, minor));
}
