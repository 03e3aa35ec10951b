using System.Globalization;
using System.Text;
using DamonOtel.Damon.Tracefs;
using FsCheck;
using FsCheck.Fluent;

namespace DamonOtel.Damon.Tests;

public class TracePropertyTests
{
    private static readonly string[] Comms = ["kdamond.0", "kdamond.15", "kdamond.0-x", "my comm-1", "a", "x [1] y"];
    private static readonly string?[] Flags = [null, "....", ".....", "dNs2.", "d..1"];

    // Uniform 64-bit values mixed with the edges that break naive parsers.
    private static Gen<ulong> U64 { get; } = Gen.OneOf(
        Gen.Elements(0UL, 1UL, 9UL, 10UL, uint.MaxValue, (ulong)uint.MaxValue + 1, ulong.MaxValue - 1, ulong.MaxValue),
        Gen.Zip(Gen.Choose(int.MinValue, int.MaxValue), Gen.Choose(int.MinValue, int.MaxValue)).Select(t => ((ulong)(uint)t.Item1 << 32) | (uint)t.Item2));

    private static Gen<ulong[]> Values { get; } = Gen.ArrayOf(U64, 16);

    [Fact]
    public void Formatted_kernel_lines_parse_back_to_their_values()
    {
        Prop.ForAll(Values.ToArbitrary(), v =>
        {
            string comm = Comms[(int)(v[0] % (ulong)Comms.Length)];
            int pid = (int)(v[1] % int.MaxValue);
            int? tgid = (v[2] % 3) switch { 0 => null, 1 => -1, _ => (int)(v[2] % 4_000_000) };
            int cpu = (int)(v[3] % 1000);
            string? flags = Flags[(int)(v[4] % (ulong)Flags.Length)];
            ulong secs = v[5] % 10_000_000_000UL;
            uint usecs = (uint)(v[6] % 1_000_000);
            int kind = (int)(v[7] % 6);
            uint u1 = (uint)v[8];
            uint u2 = (uint)v[9];
            uint u3 = (uint)v[10];
            uint u4 = (uint)v[11];
            string header = KernelLineFormat.Header(comm, pid, tgid, cpu, flags, secs, usecs);
            string body = kind switch
            {
                0 => Inv($"damon_aggregated: target_id={v[12]} nr_regions={u1} {v[13]}-{v[14]}: {u2} {u3}"),
                1 => Inv($"damon_aggregated: target_id={v[12]} nr_regions={u1} {v[13]}-{v[14]}: {u2}"),
                2 => Inv($"damos_before_apply: ctx_idx={u1} scheme_idx={u4} target_idx={v[12]} nr_regions={u2} {v[13]}-{v[14]}: {u3} {u1}"),
                3 => Inv($"damon_monitor_intervals_tune: sample_us={v[15]}"),
                4 => Inv($"damos_esz: ctx_idx={u1} scheme_idx={u2} esz={v[15]}"),
                _ => Inv($"damos_stat_after_apply_interval: ctx_idx={u1} scheme_idx={u2} nr_tried={v[9]} sz_tried={v[10]} nr_applied={v[11]} sz_tried={v[12]} sz_ops_filter_passed={v[13]} qt_exceeds={v[14]} nr_snapshots={v[15]}"),
            };

            var ev = default(TraceEvent);
            TraceParseError err = TraceLineParser.Parse(Encoding.UTF8.GetBytes(header + body), false, ref ev);
            bool common = err == TraceParseError.None && ev.Pid == pid && ev.Tgid == (tgid ?? -1) && ev.Cpu == cpu
                && ev.TimestampNs == (secs * 1_000_000_000UL) + (usecs * 1000UL);
            return common && kind switch
            {
                0 => ev.Kind == TraceEventKind.DamonAggregated && ev.TargetId == v[12] && ev.NrRegions == u1 && ev.Start == v[13] && ev.End == v[14] && ev.NrAccesses == u2 && ev.Age == u3 && ev.HasAge,
                1 => ev.Kind == TraceEventKind.DamonAggregated && ev.TargetId == v[12] && ev.NrRegions == u1 && ev.NrAccesses == u2 && !ev.HasAge && ev.Age == 0,
                2 => ev.Kind == TraceEventKind.DamosBeforeApply && ev.ContextIndex == u1 && ev.SchemeIndex == u4 && ev.TargetId == v[12] && ev.NrRegions == u2 && ev.Start == v[13] && ev.End == v[14] && ev.NrAccesses == u3 && ev.Age == u1,
                3 => ev.Kind == TraceEventKind.MonitorIntervalsTune && ev.SampleUs == v[15],
                4 => ev.Kind == TraceEventKind.DamosEsz && ev.ContextIndex == u1 && ev.SchemeIndex == u2 && ev.EffectiveSizeBytes == v[15],
                _ => ev.Kind == TraceEventKind.DamosStatAfterApplyInterval && ev.Stats.NrTried == v[9] && ev.Stats.SzTried == v[10] && ev.Stats.NrApplied == v[11]
                    && ev.Stats.SzApplied == v[12] && ev.Stats.SzOpsFilterPassed == v[13] && ev.Stats.QtExceeds == v[14] && ev.Stats.NrSnapshots == v[15],
            };
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Swapped_indices_flag_exchanges_scheme_and_target()
    {
        Prop.ForAll(Values.ToArbitrary(), v =>
        {
            uint scheme = (uint)v[0];
            uint target = (uint)v[1];
            // A 6.12 kernel prints the target index under scheme_idx and vice versa.
            string line = Inv($"kdamond.0-1 [000] ..... 1.000000: damos_before_apply: ctx_idx=0 scheme_idx={target} target_idx={scheme} nr_regions=1 0-1: 0 0");
            var ev = default(TraceEvent);
            return TraceLineParser.Parse(Encoding.UTF8.GetBytes(line), true, ref ev) == TraceParseError.None
                && ev.SchemeIndex == scheme && ev.TargetId == target;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Binary_records_encoded_at_either_layout_decode_back()
    {
        var l618 = new DamonRawDecoder(TraceEventFormat.Parse(TraceFixtures.Text("format/damon_aggregated-6.18.format"), "6.18"));
        var lShift = new DamonRawDecoder(TraceEventFormat.Parse(TraceFixtures.Text("format/damon_aggregated-shifted.format"), "shifted"));
        RingBufferLayout layout = RingBufferLayout.Parse(TraceFixtures.Text("format/header_page"), TraceFixtures.Text("format/header_event"));
        Prop.ForAll(Values.ToArbitrary(), v =>
        {
            int pid = (int)(v[0] % int.MaxValue);
            bool shifted = (v[1] & 1) == 1;
            bool longForm = (v[1] & 2) == 2;
            uint delta = (uint)(v[2] & ((1u << 27) - 1));
            ulong pageTs = v[3] >> 2;
            byte[] rec = shifted
                ? TraceRawTests.RecordShifted(42, pid, v[4], (uint)v[5], v[6], v[7], (uint)v[8], (uint)v[9])
                : DamonRawRecords.Aggregated618(1487, pid, v[4], (uint)v[5], v[6], v[7], (uint)v[8], (uint)v[9]);
            var builder = new RawPageBuilder(pageTs);
            byte[] page = (longForm ? builder.LongEvent(delta, rec) : builder.Event(delta, rec)).Build();
            var sink = new TraceRawTests.CollectingSink(shifted ? lShift : l618);
            RawPageResult r = layout.ParsePage(page, ref sink);
            TraceEvent e = sink.Events.Count == 1 ? sink.Events[0] : default;
            return !r.Corrupt && sink.Events.Count == 1 && e.Kind == TraceEventKind.DamonAggregated
                && e.TimestampNs == pageTs + delta && e.Pid == pid && e.TargetId == v[4] && e.NrRegions == (uint)v[5]
                && e.Start == v[6] && e.End == v[7] && e.NrAccesses == (uint)v[8] && e.Age == (uint)v[9];
        }).QuickCheckThrowOnFailure();
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
