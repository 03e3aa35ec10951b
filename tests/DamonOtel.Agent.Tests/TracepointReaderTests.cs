using DamonOtel.Agent.Collection;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Tests.Simulated;
using DamonOtel.Agent.Tests.Support;
using DamonOtel.Analysis;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Tracefs;
using DamonOtel.Simulator;
using DamonOtel.Telemetry.Observations;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Tests;

/// <summary>
/// Which pipe <see cref="TracepointSource"/> reads: the binary per-CPU trace_pipe_raw where the
/// instance has it and its format files decode, the text trace_pipe otherwise (logged with the
/// reason), with the same summaries either way. The tracefs trees are fixtures on disk, read
/// through the real LinuxKernelFs; the raw pages are built by test code (tests/Shared/TestSupport).
/// </summary>
public class TracepointReaderTests
{
    private const ushort AggregatedId = 1487;   // the ID: lines of the 6.18 format fixtures
    private const ushort TuneId = 1488;
    private const int Pid = 157;
    private static readonly Intervals Configured = new(5_000, 100_000, 1_000_000);

    // Aggregation A of target 0 (4 regions, 0x1000-0x8000 = 28,672 bytes): accessed are 0x2000-0x4000
    // (8,192 bytes, 2 accesses) and 0x5000-0x8000 (12,288 bytes, 4 accesses).
    //   WSS 8,192 + 12,288 = 20,480 bytes; bandwidth (8,192 x 2 + 12,288 x 4) x 1e6 / 100,000 us = 655,360 B/s.
    private static readonly (ulong Start, ulong End, uint Acc, uint Age)[] A =
        [(0x1000, 0x2000, 0, 5), (0x2000, 0x4000, 2, 6), (0x4000, 0x5000, 0, 7), (0x5000, 0x8000, 4, 8)];

    // Aggregation B: the same regions, each accessed once. WSS 28,672 bytes;
    // bandwidth 28,672 x 1e6 / aggr_us: 286,720 B/s at 100 ms, 573,440 B/s at 50 ms.
    private static readonly (ulong Start, ulong End, uint Acc, uint Age)[] B =
        [(0x1000, 0x2000, 1, 0), (0x2000, 0x4000, 1, 0), (0x4000, 0x5000, 1, 0), (0x5000, 0x8000, 1, 0)];

    [Fact]
    public async Task Raw_pages_of_several_cpus_give_the_summaries_and_the_tuned_interval()
    {
        using var tree = NewTree(raw: true);
        // A starts on CPU 0 and migrates to CPU 1 after two regions (10.000100 s on).
        tree.Put("per_cpu/cpu0/trace_pipe_raw", Page(10_000_100_000, [Region(A, 0), Region(A, 1)]));
        tree.Put("per_cpu/cpu1/trace_pipe_raw", Page(10_000_102_000, [Region(A, 2), Region(A, 3)]));
        using var logs = new CapturingLoggers();
        var (source, store) = NewSource(tree, logs);
        await using TracepointSource _ = source;

        await source.CollectAsync(CancellationToken.None);

        Assert.Equal("trace_pipe_raw", source.ReaderPath);
        CapturingLoggers.Entry log = Assert.Single(logs.Entries);
        Assert.Equal((LogLevel.Information, 110), (log.Level, log.EventId));
        Assert.Contains("2 CPU(s)", log.Message, StringComparison.Ordinal);
        TargetObservation t = Target(store);
        Assert.Equal(1, t.AccessSequence);
        Assert.Equal((4, 28_672UL, 20_480UL, 655_360.0), (t.Access!.RegionCount, t.Access.MonitoredBytes, t.Access.WorkingSetBytes, t.Access.BandwidthBytesPerSecond));
        Assert.Equal(Configured, t.Access.Intervals);

        // The tuner halves the sampling interval (CPU 1), then B runs whole on CPU 0.
        tree.Append("per_cpu/cpu1/trace_pipe_raw", Page(10_050_000_000, [DamonRawRecords.IntervalsTune618(TuneId, Pid, 2_500)]));
        tree.Append("per_cpu/cpu0/trace_pipe_raw", Page(10_100_100_000, [.. Enumerable.Range(0, 4).Select(i => Region(B, i))]));
        await source.CollectAsync(CancellationToken.None);

        t = Target(store);
        Assert.Equal(2, t.AccessSequence);
        Assert.Equal((4, 28_672UL, 28_672UL, 573_440.0), (t.Access!.RegionCount, t.Access.MonitoredBytes, t.Access.WorkingSetBytes, t.Access.BandwidthBytesPerSecond));
        Assert.Equal(new Intervals(2_500, 50_000, 1_000_000), t.Access.Intervals);
    }

    [Fact]
    public async Task A_page_after_lost_events_drops_the_aggregation_it_would_have_completed()
    {
        using var tree = NewTree(raw: true);
        // A's first two regions; then the kernel overwrote events: the next page is flagged, and
        // holds A's last two regions and B whole. Unflagged, A would complete too (2 snapshots).
        byte[] second = Page(10_000_102_000, [Region(A, 2), Region(A, 3), .. Enumerable.Range(0, 4).Select(i => Region(B, i))], missedEvents: true);
        tree.Put("per_cpu/cpu0/trace_pipe_raw", [.. Page(10_000_100_000, [Region(A, 0), Region(A, 1)]), .. second]);
        tree.Put("per_cpu/cpu1/trace_pipe_raw", []);
        var (source, store) = NewSource(tree, null);
        await using TracepointSource _ = source;

        await source.CollectAsync(CancellationToken.None);

        Assert.Equal("trace_pipe_raw", source.ReaderPath);
        TargetObservation t = Target(store);
        Assert.Equal(1, t.AccessSequence);
        Assert.Equal((4, 28_672UL, 28_672UL, 286_720.0), (t.Access!.RegionCount, t.Access.MonitoredBytes, t.Access.WorkingSetBytes, t.Access.BandwidthBytesPerSecond));
    }

    [Fact]
    public async Task A_poll_whose_every_raw_record_is_bad_fails_naming_the_cpu_and_page()
    {
        using var tree = NewTree(raw: true);
        // damon_aggregated's id with 8 bytes of payload, where the format says 48.
        byte[] shortRecord = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(shortRecord, AggregatedId);
        tree.Put("per_cpu/cpu0/trace_pipe_raw", Page(10_000_100_000, [shortRecord, shortRecord]));
        var (source, store) = NewSource(tree, null);
        await using TracepointSource _ = source;

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => source.CollectAsync(CancellationToken.None));
        Assert.Contains("(2 errors)", e.Message, StringComparison.Ordinal);
        Assert.Contains("per_cpu/cpu0/trace_pipe_raw page 1: a DAMON record is shorter than its format file says", e.Message, StringComparison.Ordinal);

        // One good record next to a bad one is not a failing source: the bad one is only counted.
        tree.Append("per_cpu/cpu0/trace_pipe_raw", Page(10_000_200_000, [shortRecord, DamonRawRecords.IntervalsTune618(TuneId, Pid, 2_500)]));
        await source.CollectAsync(CancellationToken.None);
        Assert.Null(Target(store).Access);
    }

    [Fact]
    public async Task Without_per_cpu_trace_pipe_raw_the_text_pipe_is_read_and_the_log_says_why()
    {
        using var tree = NewTree(raw: false);
        tree.Put("trace_pipe", TextLines(A));
        using var logs = new CapturingLoggers();
        var (source, store) = NewSource(tree, logs);
        await using TracepointSource _ = source;

        await source.CollectAsync(CancellationToken.None);

        Assert.Equal("trace_pipe", source.ReaderPath);
        CapturingLoggers.Entry log = Assert.Single(logs.Entries);
        Assert.Equal((LogLevel.Information, 111), (log.Level, log.EventId));
        Assert.Contains(Path.Combine(tree.InstancePath, "per_cpu"), log.Message, StringComparison.Ordinal);
        TargetObservation t = Target(store);
        Assert.Equal((4, 28_672UL, 20_480UL, 655_360.0), (t.Access!.RegionCount, t.Access.MonitoredBytes, t.Access.WorkingSetBytes, t.Access.BandwidthBytesPerSecond));
    }

    [Fact]
    public async Task A_format_file_the_decoder_cannot_use_falls_back_to_text_naming_the_file()
    {
        using var tree = NewTree(raw: true);
        // The kernel's format without its nr_regions field: the records cannot be assembled.
        string format = TracefsInstanceTree.FormatFixture("damon_aggregated-6.18.format");
        tree.AddEvent(TraceInstance.Aggregated, string.Join('\n', format.Split('\n').Where(l => !l.Contains("nr_regions;", StringComparison.Ordinal))));
        tree.Put("per_cpu/cpu0/trace_pipe_raw", Page(10_000_100_000, [.. Enumerable.Range(0, 4).Select(i => Region(B, i))]));
        tree.Put("trace_pipe", TextLines(A));
        using var logs = new CapturingLoggers();
        var (source, store) = NewSource(tree, logs);
        await using TracepointSource _ = source;

        await source.CollectAsync(CancellationToken.None);

        Assert.Equal("trace_pipe", source.ReaderPath);
        CapturingLoggers.Entry log = Assert.Single(logs.Entries);
        Assert.Equal(111, log.EventId);
        Assert.Contains("events/damon/damon_aggregated/format", log.Message, StringComparison.Ordinal);
        Assert.Contains("nr_regions", log.Message, StringComparison.Ordinal);
        Assert.Equal(20_480UL, Target(store).Access!.WorkingSetBytes);   // A, from the text
    }

    [Fact]
    public async Task Trace_reader_text_reads_the_text_pipe_even_where_raw_would_work()
    {
        using var tree = NewTree(raw: true);
        tree.Put("per_cpu/cpu0/trace_pipe_raw", Page(10_000_100_000, [.. Enumerable.Range(0, 4).Select(i => Region(B, i))]));
        tree.Put("trace_pipe", TextLines(A));
        using var logs = new CapturingLoggers();
        var (source, store) = NewSource(tree, logs, TraceReaderChoice.Text);
        await using TracepointSource _ = source;

        await source.CollectAsync(CancellationToken.None);

        Assert.Equal("trace_pipe", source.ReaderPath);
        CapturingLoggers.Entry log = Assert.Single(logs.Entries);
        Assert.Equal(111, log.EventId);
        Assert.Contains("collection.trace_reader is text", log.Message, StringComparison.Ordinal);
        Assert.Equal(20_480UL, Target(store).Access!.WorkingSetBytes);   // A, from the text
    }

    [Fact]
    public async Task Trace_reader_raw_fails_where_raw_cannot_work_and_retries_the_open()
    {
        using var tree = NewTree(raw: true);
        tree.Put("trace_pipe", TextLines(A));
        var (source, store) = NewSource(tree, null, TraceReaderChoice.Raw);
        await using TracepointSource _ = source;

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => source.CollectAsync(CancellationToken.None));
        Assert.Contains("collection.trace_reader is raw, but trace_pipe_raw cannot be used", e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(tree.InstancePath, "per_cpu"), e.Message, StringComparison.Ordinal);
        Assert.Null(source.ReaderPath);
        Assert.Null(Target(store).Access);   // the text pipe was not read instead

        // The buffers appear (as after a CPU came online): the next collection opens them.
        tree.Put("per_cpu/cpu0/trace_pipe_raw", Page(10_000_100_000, [.. Enumerable.Range(0, 4).Select(i => Region(B, i))]));
        await source.CollectAsync(CancellationToken.None);
        Assert.Equal("trace_pipe_raw", source.ReaderPath);
        Assert.Equal(28_672UL, Target(store).Access!.WorkingSetBytes);   // B, from the raw page
    }

    [Fact]
    public async Task On_the_Simulator_the_agent_reads_the_text_pipe()
    {
        // The Simulator's tracefs has no per_cpu buffers: it is the text path's user.
        var kernel = new SimulatedKernel(new SimulatorOptions
        {
            Roots = KernelRoots.Under("/sim"),
            Profile = KernelProfile.V7_3,
            Seed = 11,
            Processes = [("app", "steady")],
            DamonStatEnabled = true,
        });
        string stateDir = Directory.CreateTempSubdirectory("damon-otel-test-").FullName;
        try
        {
            AgentConfig config = ConfigLoader.Parse("collection: {interval: 1h}\n", "t.yaml") with { Roots = kernel.Options.Roots, StateDir = stateDir };
            var store = new ObservationStore();
            using var logs = new CapturingLoggers();
            await using var runner = new AgentRunner(config, KernelEnvironment.Wrap(kernel, kernel.Options.Roots), store, logs.Factory);
            await runner.StartAsync(CancellationToken.None);
            await runner.Loop.CollectAllOnceAsync(CancellationToken.None);
            kernel.Advance(TimeSpan.FromSeconds(30));
            await runner.Loop.CollectAllOnceAsync(CancellationToken.None);

            CapturingLoggers.Entry log = Assert.Single(logs.Entries, e => e.Category == typeof(TracepointSource).FullName);
            Assert.Equal(111, log.EventId);
            Assert.Contains("/sim/sys/kernel/tracing/instances/damon_otel/per_cpu", log.Message, StringComparison.Ordinal);
            Assert.True(SimHarness.Kdamond(store, "damon_stat")!.Targets[0].AccessSequence > 0);
            await runner.StopAsync(CancellationToken.None);
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    // The instance as the kernel populates it, with or without per_cpu/ and the page headers.
    private static TracefsInstanceTree NewTree(bool raw)
    {
        var tree = new TracefsInstanceTree(TracepointSource.InstanceName);
        tree.AddEvent(TraceInstance.Aggregated, TracefsInstanceTree.FormatFixture("damon_aggregated-6.18.format"));
        tree.AddEvent(TraceInstance.IntervalsTune, TracefsInstanceTree.FormatFixture("damon_monitor_intervals_tune-6.18.format"));
        tree.Put("trace_pipe", []);
        if (raw)
        {
            tree.AddRingBufferHeaders();
        }

        return tree;
    }

    private static (TracepointSource Source, ObservationStore Store) NewSource(TracefsInstanceTree tree, CapturingLoggers? logs, TraceReaderChoice choice = TraceReaderChoice.Auto)
    {
        var store = new ObservationStore();
        var state = new KdamondState(store, "kdamond/app", "app", 0, ["app"], TimeSpan.FromSeconds(5));
        state.UpdateStatus(true, Pid, null, Configured, [], null);
        ILogger logger = logs is null ? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance : logs.Factory.CreateLogger<TracepointSource>();
        var env = KernelEnvironment.Wrap(LinuxKernelFs.Instance, tree.Roots);
        return (new TracepointSource(env, () => [state], AccessOptions.Default, logger, choice), store);
    }

    private static TargetObservation Target(ObservationStore store) =>
        Assert.Single(Assert.Single(store.Current.Kdamonds).Targets);

    private static byte[] Region((ulong Start, ulong End, uint Acc, uint Age)[] aggregation, int i) =>
        DamonRawRecords.Aggregated618(AggregatedId, Pid, 0, (uint)aggregation.Length, aggregation[i].Start, aggregation[i].End, aggregation[i].Acc, aggregation[i].Age);

    // One page, its records 1 us apart from the page's timestamp.
    private static byte[] Page(ulong timestampNs, byte[][] records, bool missedEvents = false)
    {
        var b = new RawPageBuilder(timestampNs) { MissedEvents = missedEvents };
        for (int i = 0; i < records.Length; i++)
        {
            _ = b.Event(i == 0 ? 0u : 1_000u, records[i]);
        }

        return b.Build();
    }

    // What trace_pipe prints for an aggregation (kernel's "%lu-%lu: %u %u" body).
    private static string TextLines((ulong Start, ulong End, uint Acc, uint Age)[] aggregation) =>
        string.Concat(aggregation.Select((r, i) =>
            $"       kdamond.0-{Pid}     [000] .....    10.{100 + i:D6}: damon_aggregated: target_id=0 nr_regions={aggregation.Length} {r.Start}-{r.End}: {r.Acc} {r.Age}\n"));
}
