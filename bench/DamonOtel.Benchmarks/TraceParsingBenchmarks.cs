using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Benchmarks;

/// <summary>
/// damon_aggregated decoding throughput on one core: trace_pipe text lines (target ≥ 5 M
/// lines/s) and trace_pipe_raw binary events (target ≥ 20 M events/s). Each invocation
/// handles a realistic buffer of 100k events (100 aggregations of 1000 regions, 4 kdamonds);
/// OperationsPerInvoke makes the reported time per line / per event.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TraceCpuClockConfig))]
public class TraceParsingBenchmarks
{
    private const int Lines = 100_000;
    private const int RegionsPerAggregation = 1000;

    private byte[] text = [];
    private byte[][] pages = [];
    private RingBufferLayout layout = null!;
    private DamonRawDecoder decoder = null!;
    private TraceReader reader = null!;
    private AggregationAssembler rawAssembler = null!;
    private int snapshots;

    [GlobalSetup]
    public void Setup()
    {
        var sb = new StringBuilder();
        var rng = new Random(42);
        for (int i = 0; i < Lines; i++)
        {
            int aggregation = i / RegionsPerAggregation;
            int region = i % RegionsPerAggregation;
            int kdamond = aggregation % 4;
            ulong start = 4294967296UL + ((ulong)region * 2097152);
            double ts = 100 + (aggregation * 0.1) + (region * 0.000001);
            sb.Append(CultureInfo.InvariantCulture, $"       kdamond.{kdamond}-{1000 + kdamond,-7} [{kdamond:D3}] ..... {ts,12:F6}: damon_aggregated: target_id=0 nr_regions={RegionsPerAggregation} {start}-{start + 2097152}: {rng.Next(0, 21)} {rng.Next(0, 500)}\n");
        }

        text = Encoding.UTF8.GetBytes(sb.ToString());

        layout = RingBufferLayout.Parse(HeaderPage, HeaderEvent);
        decoder = new DamonRawDecoder(TraceEventFormat.Parse(AggregatedFormat, "damon_aggregated/format"));

        // 4 KiB pages, 48-byte records with 4-byte headers: 78 events per page.
        var list = new List<byte[]>();
        byte[] page = new byte[4096];
        int used = 0;
        for (int i = 0; i < Lines; i++)
        {
            if (used + 52 > 4080)
            {
                BitConverter.TryWriteBytes(page.AsSpan(8), (ulong)used);
                list.Add(page);
                page = new byte[4096];
                used = 0;
            }

            int aggregation = i / RegionsPerAggregation;
            int region = i % RegionsPerAggregation;
            int kdamond = aggregation % 4;
            ulong start = 4294967296UL + ((ulong)region * 2097152);
            Span<byte> ev = page.AsSpan(16 + used);
            BitConverter.TryWriteBytes(ev, 12u | (1000u << 5)); // type_len 12 (48 bytes), delta 1000 ns
            Span<byte> r = ev[4..];
            BitConverter.TryWriteBytes(r, (ushort)1487);
            BitConverter.TryWriteBytes(r[4..], 1000 + kdamond);
            BitConverter.TryWriteBytes(r[8..], 0UL);
            BitConverter.TryWriteBytes(r[16..], (uint)RegionsPerAggregation);
            BitConverter.TryWriteBytes(r[24..], start);
            BitConverter.TryWriteBytes(r[32..], start + 2097152);
            BitConverter.TryWriteBytes(r[40..], (uint)rng.Next(0, 21));
            BitConverter.TryWriteBytes(r[44..], (uint)rng.Next(0, 500));
            used += 52;
        }

        BitConverter.TryWriteBytes(page.AsSpan(8), (ulong)used);
        list.Add(page);
        pages = [.. list];

        reader = new TraceReader(new MemoryStream(), NewAssembler());
        rawAssembler = NewAssembler();
    }

    [GlobalCleanup]
    public void Cleanup() => reader.Dispose();

    /// <summary>Parser only: header, event name and body of every line.</summary>
    [Benchmark(OperationsPerInvoke = Lines)]
    public ulong TraceTextParseLines()
    {
        ReadOnlySpan<byte> data = text;
        var ev = default(TraceEvent);
        ulong sum = 0;
        while (!data.IsEmpty)
        {
            int nl = data.IndexOf((byte)'\n');
            _ = TraceLineParser.Parse(data[..nl], false, ref ev);
            sum += ev.NrAccesses;
            data = data[(nl + 1)..];
        }

        return sum;
    }

    /// <summary>The whole text path: buffer carry-over, parse, pid mapping and snapshot assembly (100 snapshots).</summary>
    [Benchmark(OperationsPerInvoke = Lines)]
    public int TraceTextReaderToSnapshots() => reader.Feed(text, s => snapshots++);

    /// <summary>Binary page walk and damon_aggregated decode of every event.</summary>
    [Benchmark(OperationsPerInvoke = Lines)]
    public ulong TraceBinaryDecodeEvents()
    {
        var sink = new SumSink(decoder);
        foreach (byte[] p in pages)
        {
            _ = layout.ParsePage(p, ref sink);
        }

        return sink.Sum;
    }

    /// <summary>Binary path to snapshots: pages, decode, pid mapping and assembly.</summary>
    [Benchmark(OperationsPerInvoke = Lines)]
    public int TraceBinaryPagesToSnapshots()
    {
        int before = snapshots;
        foreach (byte[] p in pages)
        {
            _ = decoder.ProcessPage(p, layout, rawAssembler, s => snapshots++);
        }

        return snapshots - before;
    }

    private static AggregationAssembler NewAssembler()
    {
        var a = new AggregationAssembler(_ => Intervals.KernelDefault, capturedAt: ns => (long)ns);
        a.SetPidMap([KeyValuePair.Create(1000, 0), KeyValuePair.Create(1001, 1), KeyValuePair.Create(1002, 2), KeyValuePair.Create(1003, 3)]);
        return a;
    }

    private struct SumSink(DamonRawDecoder decoder) : IRawEventSink
    {
        private TraceEvent ev;

        public ulong Sum { get; private set; }

        public void OnEvent(ulong timestampNs, ReadOnlySpan<byte> payload)
        {
            if (decoder.TryDecode(payload, timestampNs, ref ev))
            {
                Sum += ev.NrAccesses;
            }
        }
    }

    // The 6.18 x86_64 format files, as the kernel prints them.
    private const string HeaderPage =
        "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n" +
        "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n" +
        "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n" +
        "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n";

    private const string HeaderEvent =
        "# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n\tarray       :   32 bits\n\n" +
        "\tpadding     : type == 29\n\ttime_extend : type == 30\n\ttime_stamp : type == 31\n\tdata max type_len  == 28\n";

    private const string AggregatedFormat =
        "name: damon_aggregated\nID: 1487\nformat:\n" +
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
        "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" +
        "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n" +
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n" +
        "\tfield:unsigned long target_id;\toffset:8;\tsize:8;\tsigned:0;\n" +
        "\tfield:unsigned int nr_regions;\toffset:16;\tsize:4;\tsigned:0;\n" +
        "\tfield:unsigned long start;\toffset:24;\tsize:8;\tsigned:0;\n" +
        "\tfield:unsigned long end;\toffset:32;\tsize:8;\tsigned:0;\n" +
        "\tfield:unsigned int nr_accesses;\toffset:40;\tsize:4;\tsigned:0;\n" +
        "\tfield:unsigned int age;\toffset:44;\tsize:4;\tsigned:0;\n";
}

/// <summary>
/// Opt-in (DAMONOTEL_BENCH_CLOCK=cpu): measure with the thread CPU-time clock, in process,
/// so that figures taken on a shared, overloaded machine show the cost on one core rather
/// than the share of wall time this process was given.
/// </summary>
internal sealed class TraceCpuClockConfig : ManualConfig
{
    public TraceCpuClockConfig()
    {
        if (Environment.GetEnvironmentVariable("DAMONOTEL_BENCH_CLOCK") == "cpu")
        {
            AddJob(Job.ShortRun.WithClock(ThreadCpuClock.Instance).WithToolchain(InProcessEmitToolchain.Instance).WithId("ShortRun-CpuClock"));
        }
    }
}

/// <summary>
/// clock_gettime(CLOCK_THREAD_CPUTIME_ID) in nanoseconds: the benchmark thread's own CPU
/// time (the engine reads the clock on the thread that runs the benchmark), so neither other
/// processes nor the runtime's background threads are counted.
/// </summary>
internal sealed class ThreadCpuClock : IClock
{
    public static ThreadCpuClock Instance { get; } = new();

    public string Title => "ThreadCpuTime";

    public bool IsAvailable => OperatingSystem.IsLinux();

    public Frequency Frequency => Frequency.GHz;

    public long GetTimestamp()
    {
        _ = ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, out Timespec t);
        return (t.Seconds * 1_000_000_000L) + t.Nanoseconds;
    }

    // DllImport: LibraryImport would need unsafe code enabled in the shared bench project.
    [DllImport("libc", EntryPoint = "clock_gettime")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
#pragma warning disable SYSLIB1054
    private static extern int ClockGetTime(int clockId, out Timespec ts);
#pragma warning restore SYSLIB1054

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
