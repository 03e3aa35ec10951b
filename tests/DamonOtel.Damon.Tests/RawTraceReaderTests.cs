using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Damon.Tests;

public class RawTraceReaderTests
{
    private const ushort AggregatedId = 1487;
    private const ushort TuneId = 1488;

    // Configured intervals of every kdamond: sample 5 ms, aggregation 100 ms, update 1 s.
    private static readonly Intervals Configured = new(5_000, 100_000, 1_000_000);

    private static RingBufferLayout Layout() =>
        RingBufferLayout.Parse(TraceFixtures.Text("format/header_page"), TraceFixtures.Text("format/header_event"));

    private static DamonRawDecoder Decoder() => new(
        TraceEventFormat.Parse(TraceFixtures.Text("format/damon_aggregated-6.18.format"), "agg"),
        TraceEventFormat.Parse(TraceFixtures.Text("format/damon_monitor_intervals_tune-6.18.format"), "tune"));

    // kdamond.0 runs as pid 157, kdamond.1 as pid 158.
    private static AggregationAssembler NewAssembler()
    {
        var a = new AggregationAssembler(_ => Configured, capturedAt: ns => (long)ns);
        a.SetPidMap([KeyValuePair.Create(157, 0), KeyValuePair.Create(158, 1)]);
        return a;
    }

    /// <summary>One event as both paths see it. Timestamps are whole microseconds so the text lines carry them exactly.</summary>
    private sealed record Ev(int Cpu, ulong Us, int Pid, ulong Target = 0, uint Nr = 0, ulong Start = 0, ulong End = 0, uint Acc = 0, uint Age = 0, ulong SampleUs = 0)
    {
        public bool IsTune => SampleUs != 0;

        public byte[] Record() => IsTune ? DamonRawRecords.IntervalsTune618(TuneId, Pid, SampleUs) : DamonRawRecords.Aggregated618(AggregatedId, Pid, Target, Nr, Start, End, Acc, Age);

        public string Line()
        {
            string header = KernelLineFormat.Header("kdamond." + (Pid - 157).ToString(CultureInfo.InvariantCulture), Pid, null, Cpu, ".....", Us / 1_000_000, (uint)(Us % 1_000_000));
            return header + (IsTune
                ? string.Create(CultureInfo.InvariantCulture, $"damon_monitor_intervals_tune: sample_us={SampleUs}")
                : string.Create(CultureInfo.InvariantCulture, $"damon_aggregated: target_id={Target} nr_regions={Nr} {Start}-{End}: {Acc} {Age}"));
        }
    }

    /// <summary>One page of one CPU: the page timestamp is its first event's, deltas in ns.</summary>
    private static byte[] Page(IEnumerable<Ev> events, bool missed = false)
    {
        List<Ev> list = [.. events];
        ulong pageTs = list.Count == 0 ? 1 : list[0].Us * 1000;
        var b = new RawPageBuilder(pageTs) { MissedEvents = missed };
        ulong ts = pageTs;
        foreach (Ev e in list)
        {
            ulong ns = e.Us * 1000;
            _ = b.Event((uint)(ns - ts), e.Record());
            ts = ns;
        }

        return b.Build();
    }

    // Every CPU's events in one page each, like a kernel whose buffers were read after the fact.
    private static List<(int, Stream)> PipesOf(IReadOnlyList<Ev> events, int cpus) =>
        [.. Enumerable.Range(0, cpus).Select(c => (c, (Stream)new MemoryStream(Page(events.Where(e => e.Cpu == c)))))];

    // What trace_pipe would print for the same events: all CPUs, oldest first.
    private static List<RegionSnapshot> ViaText(IEnumerable<Ev> events, out int tunes)
    {
        string text = string.Concat(events.OrderBy(e => e.Us).Select(e => e.Line() + "\n"));
        using var reader = new TraceReader(new MemoryStream(Encoding.UTF8.GetBytes(text)), NewAssembler());
        var snaps = new List<RegionSnapshot>();
        int n = 0;
        _ = reader.Poll(snaps.Add, (in TraceEvent _) => n++);
        Assert.Equal(0, reader.ParseErrors);
        tunes = n;
        return snaps;
    }

    private static void AssertSameSnapshots(IReadOnlyList<RegionSnapshot> expected, IReadOnlyList<RegionSnapshot> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i] with { Regions = [] }, actual[i] with { Regions = [] });
            Assert.Equal(expected[i].Regions, actual[i].Regions);
        }
    }

    // kdamond.0 (pid 157), 4 regions of target 0. Aggregation A at 10.000100 s starts on CPU 0
    // and migrates to CPU 1 after two regions; kdamond.1 (pid 158) finishes a 1-region
    // aggregation on CPU 1 in between. The intervals tuner (on CPU 1) halves the sampling
    // interval; aggregation B at 10.100100 s starts on CPU 1 and migrates back to CPU 0.
    // Read CPU by CPU without merging, CPU 0 would give A1 A2 B3 B4: no snapshot at all.
    private static readonly Ev[] Migration =
    [
        new(0, 10_000_100, 157, 0, 4, 0x1000, 0x2000, 1, 5),
        new(0, 10_000_101, 157, 0, 4, 0x2000, 0x4000, 2, 6),
        new(1, 10_000_102, 158, 0, 1, 0x9000, 0xA000, 7, 1),
        new(1, 10_000_103, 157, 0, 4, 0x4000, 0x5000, 3, 7),
        new(1, 10_000_104, 157, 0, 4, 0x5000, 0x8000, 4, 8),
        new(1, 10_050_000, 157, SampleUs: 2_500),
        new(1, 10_100_100, 157, 0, 4, 0x1000, 0x2000, 9, 6),
        new(1, 10_100_101, 157, 0, 4, 0x2000, 0x4000, 8, 7),
        new(0, 10_100_102, 157, 0, 4, 0x4000, 0x5000, 7, 8),
        new(0, 10_100_103, 157, 0, 4, 0x5000, 0x8000, 6, 9),
    ];

    [Fact]
    public void Migration_between_cpus_gives_the_text_readers_snapshots()
    {
        using var reader = new RawTraceReader(PipesOf(Migration, 2), Layout(), Decoder(), NewAssembler());
        var snaps = new List<RegionSnapshot>();
        var others = new List<(TraceEventKind, int, ulong)>();
        int n = reader.Poll(snaps.Add, (in TraceEvent e) => others.Add((e.Kind, e.Cpu, e.SampleUs)));

        Assert.Equal(3, n);
        // kdamond.1's single region completes first (10.000102 s).
        Assert.Equal(new RegionSnapshot(1, 0, 0, Configured, snaps[0].Regions, 1, 10_000_102_000), snaps[0]);
        Assert.Equal([new DamonRegion(0x9000, 0xA000, 7, 1)], snaps[0].Regions);
        // A: regions from both CPUs in address order, completed by its 4th event (10.000104 s).
        Assert.Equal(new RegionSnapshot(0, 0, 0, Configured, snaps[1].Regions, 1, 10_000_104_000), snaps[1]);
        Assert.Equal(
            [new DamonRegion(0x1000, 0x2000, 1, 5), new DamonRegion(0x2000, 0x4000, 2, 6), new DamonRegion(0x4000, 0x5000, 3, 7), new DamonRegion(0x5000, 0x8000, 4, 8)],
            snaps[1].Regions);
        // B: after the tune event, sample 2.5 ms and aggregation 2.5 ms × (100 / 5) = 50 ms.
        Assert.Equal(new RegionSnapshot(0, 0, 0, new Intervals(2_500, 50_000, 1_000_000), snaps[2].Regions, 1, 10_100_103_000), snaps[2]);
        Assert.Equal(
            [new DamonRegion(0x1000, 0x2000, 9, 6), new DamonRegion(0x2000, 0x4000, 8, 7), new DamonRegion(0x4000, 0x5000, 7, 8), new DamonRegion(0x5000, 0x8000, 6, 9)],
            snaps[2].Regions);
        Assert.Equal([(TraceEventKind.MonitorIntervalsTune, 1, 2_500UL)], others);

        // The text path over the same events (as trace_pipe would merge them) agrees.
        AssertSameSnapshots(ViaText(Migration, out int tunes), snaps);
        Assert.Equal(1, tunes);

        Assert.Equal(2, reader.Pages);
        Assert.Equal(2 * 4096, reader.BytesRead);
        Assert.Equal(10, reader.Records);
        Assert.Equal(10, reader.WellFormed);
        Assert.Equal(9, reader.AggregatedEvents);
        Assert.Equal((0L, 0L, 0L, 0L, 0L), (reader.ParseErrors, reader.OtherEvents, reader.DroppedSnapshots, reader.UnknownPidEvents, reader.MissedEventsPages));
        Assert.Null(reader.LastParseError);
        Assert.Equal([0, 1], reader.Cpus);
    }

    [Fact]
    public void Events_arriving_over_several_polls_and_pages_give_the_same_snapshots()
    {
        // CPU 0 gets two pages (one per aggregation), CPU 1 three; they become readable in steps.
        var cpu0 = new PagePipe();
        var cpu1 = new PagePipe();
        using var reader = new RawTraceReader([(0, cpu0), (1, cpu1)], Layout(), Decoder(), NewAssembler());
        var snaps = new List<RegionSnapshot>();

        cpu0.Add(Page(Migration[0..2]));
        Assert.Equal(0, reader.Poll(snaps.Add)); // A half read, nothing on CPU 1 yet
        cpu1.Add(Page(Migration[2..5]));
        Assert.Equal(2, reader.Poll(snaps.Add)); // kdamond.1 and A
        cpu1.Add(Page(Migration[5..6]));
        cpu1.Add(Page(Migration[6..8]));
        cpu0.Add(Page(Migration[8..10]));
        Assert.Equal(1, reader.Poll(snaps.Add)); // B
        Assert.Equal(0, reader.Poll(snaps.Add));

        AssertSameSnapshots(ViaText(Migration, out _), snaps);
        Assert.Equal(5, reader.Pages);
    }

    [Fact]
    public void Pages_split_across_reads_are_put_back_together()
    {
        // The stream hands out 1000 bytes per read: each 4096-byte page takes 5 reads.
        List<(int, Stream)> pipes =
        [
            (0, new ChunkedStream(Page(Migration.Where(e => e.Cpu == 0)), 1000)),
            (1, new ChunkedStream(Page(Migration.Where(e => e.Cpu == 1)), 1000)),
        ];
        using var reader = new RawTraceReader(pipes, Layout(), Decoder(), NewAssembler());
        var snaps = new List<RegionSnapshot>();
        Assert.Equal(3, reader.Poll(snaps.Add));
        AssertSameSnapshots(ViaText(Migration, out _), snaps);
        Assert.Equal(2, reader.Pages);
    }

    [Fact]
    public void Byte_limit_defers_the_merge_without_changing_the_result()
    {
        // CPU 0 holds 3 pages, CPU 1 holds 3; a poll may read one page (4096 bytes).
        var cpu0 = new PagePipe();
        var cpu1 = new PagePipe();
        cpu0.Add(Page(Migration[0..1]));
        cpu0.Add(Page(Migration[1..2]));
        cpu0.Add(Page(Migration[8..10]));
        cpu1.Add(Page(Migration[2..5]));
        cpu1.Add(Page(Migration[5..6]));
        cpu1.Add(Page(Migration[6..8]));
        using var reader = new RawTraceReader([(0, cpu0), (1, cpu1)], Layout(), Decoder(), NewAssembler()) { MaxBytesPerPoll = 4096 };
        var snaps = new List<RegionSnapshot>();
        int[] perPoll = [.. Enumerable.Range(0, 7).Select(_ => reader.Poll(snaps.Add))];

        // Worked by hand (a CPU whose queue is empty must read before anything is merged):
        // 1: cpu0 page 1 [A1]; cpu1 may not read -> nothing emitted.
        // 2: cpu1 page 1 [kd1 A3 A4]; A1 emitted; cpu0 empty, may not read.
        // 3: cpu0 page 2 [A2]; A2 emitted.
        // 4: cpu0 page 3 [B3 B4]; kd1, A3, A4 emitted (older than B3): 2 snapshots.
        // 5: cpu1 page 2 [tune]; tune emitted.  6: cpu1 page 3 [B1 B2]; B1, B2 emitted.
        // 7: cpu1 reads 0 (drained); B3, B4 emitted: 1 snapshot.
        Assert.Equal([0, 0, 0, 2, 0, 0, 1], perPoll);
        Assert.Equal(6, reader.Pages);
        Assert.Equal(0, reader.Poll(snaps.Add));
        AssertSameSnapshots(ViaText(Migration, out _), snaps);
        Assert.Equal(0, reader.DroppedSnapshots);
    }

    [Fact]
    public void Empty_pipes_read_nothing()
    {
        List<(int, Stream)> pipes = [(0, new MemoryStream()), (3, new MemoryStream())];
        using var reader = new RawTraceReader(pipes, Layout(), Decoder(), NewAssembler());
        var snaps = new List<RegionSnapshot>();
        Assert.Equal(0, reader.Poll(snaps.Add));
        Assert.Equal(0, reader.Poll(snaps.Add));
        Assert.Empty(snaps);
        Assert.Equal((0L, 0L, 0L, 0L), (reader.Pages, reader.BytesRead, reader.Records, reader.ParseErrors));
        Assert.Equal([0, 3], reader.Cpus);

        // An empty page (commit 0) is a page read with no events.
        using var reader2 = new RawTraceReader([(0, new MemoryStream(new RawPageBuilder(5).Build()))], Layout(), Decoder(), NewAssembler());
        Assert.Equal(0, reader2.Poll(snaps.Add));
        Assert.Equal((1L, 4096L, 0L), (reader2.Pages, reader2.BytesRead, reader2.Records));
    }

    [Fact]
    public void Missed_events_page_is_counted_and_drops_the_aggregation_in_progress()
    {
        // A starts on CPU 0 (2 of 4 regions); CPU 1's page says events were lost before it,
        // then has A's last two regions: A cannot be trusted. B (all on CPU 0 later) is whole.
        Ev[] b =
        [
            new(0, 10_100_100, 157, 0, 4, 0x1000, 0x2000, 9, 6),
            new(0, 10_100_101, 157, 0, 4, 0x2000, 0x4000, 8, 7),
            new(0, 10_100_102, 157, 0, 4, 0x4000, 0x5000, 7, 8),
            new(0, 10_100_103, 157, 0, 4, 0x5000, 0x8000, 6, 9),
        ];
        var cpu0 = new PagePipe();
        var cpu1 = new PagePipe();
        cpu0.Add(Page(Migration[0..2]));
        cpu1.Add(Page(Migration[3..5], missed: true));
        cpu0.Add(Page(b));
        using var reader = new RawTraceReader([(0, cpu0), (1, cpu1)], Layout(), Decoder(), NewAssembler());
        var snaps = new List<RegionSnapshot>();
        Assert.Equal(1, reader.Poll(snaps.Add));

        Assert.Equal(1, reader.MissedEventsPages);
        Assert.Equal(1, reader.DroppedSnapshots); // A's two regions from CPU 0
        RegionSnapshot s = Assert.Single(snaps);
        Assert.Equal(10_100_103_000L, s.CapturedAtTicks);
        Assert.Equal([new DamonRegion(0x1000, 0x2000, 9, 6), new DamonRegion(0x2000, 0x4000, 8, 7), new DamonRegion(0x4000, 0x5000, 7, 8), new DamonRegion(0x5000, 0x8000, 6, 9)], s.Regions);
        Assert.Equal(0, reader.ParseErrors);
    }

    [Fact]
    public void Corrupt_page_and_short_record_are_counted_with_the_cpu()
    {
        byte[] corrupt = Page(Migration[0..2]);
        BinaryPrimitives.WriteUInt64LittleEndian(corrupt.AsSpan(8), 4081); // commit beyond the 4080 data bytes

        // A damon_aggregated id with 8 bytes of payload: shorter than the 48 the format says.
        byte[] shortRecord = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(shortRecord, AggregatedId);
        byte[] other = new byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(other, 7); // some other event's id
        byte[] page2 = new RawPageBuilder(1000).Event(1, shortRecord).Event(1, other).Build();

        var cpu2 = new PagePipe();
        cpu2.Add(corrupt);
        cpu2.Add(page2);
        using var reader = new RawTraceReader([(2, cpu2)], Layout(), Decoder(), NewAssembler());
        Assert.Equal(0, reader.Poll(_ => { }));
        Assert.Equal((2L, 1L, 2L, 2L, 1L), (reader.Pages, reader.CorruptPages, reader.ParseErrors, reader.Records, reader.OtherEvents));
        Assert.Equal(1, reader.WellFormed); // the other event's record; the short one is an error
        Assert.Equal("per_cpu/cpu2/trace_pipe_raw page 2: a DAMON record is shorter than its format file says", reader.LastParseError);

        var cpu5 = new PagePipe();
        cpu5.Add(corrupt);
        using var reader2 = new RawTraceReader([(5, cpu5)], Layout(), Decoder(), NewAssembler());
        _ = reader2.Poll(_ => { });
        Assert.Equal("per_cpu/cpu5/trace_pipe_raw page 1: commit or an event length points past the page's data", reader2.LastParseError);
    }

    [Fact]
    public void Polling_allocates_only_the_snapshot()
    {
        // One aggregation of 7800 regions in 100 pages of 78 records (78 × (4 + 48) = 4056 ≤ 4080
        // bytes), alternating between two CPUs, timestamps 1 µs apart.
        const int PerPage = 78;
        const int Regions = 100 * PerPage;
        var pageList = new List<byte[]>();
        for (int p = 0; p < 100; p++)
        {
            var b = new RawPageBuilder(1_000_000_000UL + ((ulong)p * PerPage * 1000));
            for (int i = 0; i < PerPage; i++)
            {
                ulong r = (ulong)((p * PerPage) + i);
                _ = b.Event(i == 0 ? 0u : 1000u, DamonRawRecords.Aggregated618(AggregatedId, 157, 0, Regions, r * 4096, (r + 1) * 4096, 1, 2));
            }

            pageList.Add(b.Build());
        }

        var cpu0 = new PagePipe();
        var cpu1 = new PagePipe();
        void Load()
        {
            for (int p = 0; p < pageList.Count; p++)
            {
                (p % 2 == 0 ? cpu0 : cpu1).Add(pageList[p]);
            }
        }

        using var reader = new RawTraceReader([(0, cpu0), (1, cpu1)], Layout(), Decoder(), NewAssembler());
        int count = 0;
        Action<RegionSnapshot> onSnapshot = s => count += s.Regions.Length;
        Load();
        Assert.Equal(1, reader.Poll(onSnapshot)); // warm-up: JIT, dictionaries, the assembler's buffer
        Load();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(1, reader.Poll(onSnapshot));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // The snapshot's region array is 7800 × 24 bytes = 187,200 plus a header, then the
        // snapshot object: under 1 KiB on top. 1 byte per event would add 7800.
        Assert.Equal(2 * Regions, count);
        Assert.InRange(allocated, Regions * 24, (Regions * 24) + 1024);
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new RawTraceReader([], Layout(), Decoder(), NewAssembler()));
        Assert.Throws<ArgumentException>(() => new RawTraceReader([(1, new MemoryStream()), (1, new MemoryStream())], Layout(), Decoder(), NewAssembler()));
    }

    [Fact]
    public void Open_reads_every_cpu_of_an_instance_through_the_kernel_fs()
    {
        // A tracefs tree on disk, read with the real LinuxKernelFs. cpu10 sorts after cpu2 numerically.
        using var tree = new TracefsInstanceTree("t");
        tree.AddRingBufferHeaders();
        tree.AddEvent(TraceInstance.Aggregated, TraceFixtures.Text("format/damon_aggregated-6.18.format"));
        tree.AddEvent(TraceInstance.IntervalsTune, TraceFixtures.Text("format/damon_monitor_intervals_tune-6.18.format"));
        tree.Put("per_cpu/cpu0/trace_pipe_raw", Page(Migration.Where(e => e.Cpu == 0)));
        tree.Put("per_cpu/cpu2/trace_pipe_raw", Page([]));
        tree.Put("per_cpu/cpu10/trace_pipe_raw", Page(Migration.Where(e => e.Cpu == 1).Select(e => e with { Cpu = 10 })));
        Directory.CreateDirectory(Path.Combine(tree.InstancePath, "per_cpu", "not-a-cpu"));

        var fs = LinuxKernelFs.Instance;
        using TraceInstance instance = TraceInstance.Create(fs, tree.Roots, "t");
        using var reader = RawTraceReader.Open(fs, instance, NewAssembler());
        Assert.Equal([0, 2, 10], reader.Cpus);
        var snaps = new List<RegionSnapshot>();
        var tuneCpus = new List<int>();
        Assert.Equal(3, reader.Poll(snaps.Add, (in TraceEvent e) => tuneCpus.Add(e.Cpu)));
        AssertSameSnapshots(ViaText(Migration, out _), snaps);
        Assert.Equal([10], tuneCpus);
        Assert.Equal(3, reader.Pages);
    }

    [Fact]
    public void Open_without_cpus_names_the_directory()
    {
        string root = Path.Combine(Path.GetTempPath(), "damonotel-raw-" + Guid.NewGuid().ToString("N"));
        try
        {
            var roots = KernelRoots.Under(root);
            string inst = TraceInstance.InstanceDirectory(roots, "t");
            Directory.CreateDirectory(Path.Combine(inst, "per_cpu"));
            Directory.CreateDirectory(Path.Combine(inst, "events", "damon", "damon_aggregated"));
            File.WriteAllText(Path.Combine(inst, "events", "damon", "damon_aggregated", "enable"), "0");
            using TraceInstance instance = TraceInstance.Create(LinuxKernelFs.Instance, roots, "t", new TraceInstanceOptions { IntervalsTune = false });
            var e = Assert.Throws<KernelIoException>(() => RawTraceReader.Open(LinuxKernelFs.Instance, instance, NewAssembler()));
            Assert.Equal(Errno.ENOENT, e.Errno);
            Assert.Equal(Path.Combine(inst, "per_cpu"), e.Path);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A pipe the test fills page by page; Read returns one page, or 0 when none is queued.</summary>
    private sealed class PagePipe : Stream
    {
        private readonly Queue<byte[]> pages = new();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void Add(byte[] page) => pages.Enqueue(page);

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (!pages.TryDequeue(out byte[]? p))
            {
                return 0;
            }

            Assert.True(buffer.Length >= p.Length, "the reader must ask for whole pages");
            p.CopyTo(buffer);
            return p.Length;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
