using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Analysis;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Tracefs;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Reads damon:damon_aggregated from the agent's private tracefs instance and turns every
/// completed aggregation into a summary of its target. One reader serves every kdamond whose
/// regions come from the tracepoint (events are told apart by the emitting kdamond's pid),
/// including DAMON modules' kdamonds. Passive: it writes nothing to any kdamond.
/// The binary per-CPU trace_pipe_raw is read where it can be (bench/README.md: many times
/// cheaper per event than text, mostly in the kernel); the text trace_pipe otherwise, decided
/// once when the instance is created and logged with the reason. collection.trace_reader forces either.
/// </summary>
internal sealed partial class TracepointSource(KernelEnvironment env, Func<IReadOnlyList<KdamondState>> states, AccessOptions access, ILogger logger, TraceReaderChoice choice = TraceReaderChoice.Auto) : ICollectionSource
{
    /// <summary>Fixed, so a restart after a crash finds and reuses (then removes) its instance.</summary>
    public const string InstanceName = "damon_otel";

    /// <summary>How often the pipes are read, whatever the aggregation intervals: each read takes
    /// what the kernel buffered since the previous one.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly AccessSummarizer summarizer = new(access);
    private readonly Dictionary<int, KdamondState> byKey = [];
    private readonly Dictionary<int, int> pidByKey = [];
    private TraceInstance? instance;
    private TraceStreamReader? reader;

    public string Name => "tracepoint";

    public TimeSpan Interval { get; } = PollInterval;

    /// <summary>What is read: "trace_pipe_raw" (binary, per CPU) or "trace_pipe" (text); null before the first collection.</summary>
    public string? ReaderPath => reader switch
    {
        RawTraceReader => "trace_pipe_raw",
        TraceReader => "trace_pipe",
        _ => null,
    };

    public Task CollectAsync(CancellationToken cancellationToken)
    {
        if (reader is null)
        {
            // Kept when opening a pipe fails, so the next collection retries the open, not the mkdir.
            instance ??= TraceInstance.Create(env.Fs, env.Roots, InstanceName);

            // Snapshots carry the trace clock time (ns) of their last event, as both readers have it.
            var assembler = new AggregationAssembler(IntervalsOf, AddrUnitOf, static timestampNs => (long)timestampNs);
            reader = OpenReader(instance, assembler);
        }

        RefreshPidMap();
        foreach (KdamondState s in byKey.Values)
        {
            s.Merger?.BeginPoll();
        }

        long errorsBefore = reader.ParseErrors;
        long goodBefore = reader.WellFormed;
        reader.Poll(OnSnapshot);
        long newErrors = reader.ParseErrors - errorsBefore;
        if (newErrors > 0 && reader.WellFormed == goodBefore)
        {
            throw new InvalidOperationException($"all trace input of this poll failed to decode ({newErrors} errors); last: {reader.LastParseError}");
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        reader?.Dispose();
        instance?.Dispose();
        reader = null;
        instance = null;
        return ValueTask.CompletedTask;
    }

    // Kdamonds keep their sysfs index; modules (index -1) get keys past any real index.
    private static int KeyOf(KdamondState s, int position) => s.Index >= 0 ? s.Index : 1_000_000 + position;

    // Raw needs per_cpu/cpuN/trace_pipe_raw, events/header_page and header_event, and format
    // files the decoder understands; the Simulator, for one, has none of them.
    private TraceStreamReader OpenReader(TraceInstance traceInstance, AggregationAssembler assembler)
    {
        if (choice == TraceReaderChoice.Text)
        {
            LogTextPath(logger, traceInstance.TracePipePath, "collection.trace_reader is text");
            return new TraceReader(traceInstance.OpenTracePipe(), assembler);
        }

        try
        {
            RawTraceReader raw = RawTraceReader.Open(env.Fs, traceInstance, assembler);
            LogRawPath(logger, raw.Cpus.Count, traceInstance.InstancePath);
            return raw;
        }
        catch (Exception e) when (e is KernelIoException or FormatException)
        {
            if (choice == TraceReaderChoice.Raw)
            {
                throw new InvalidOperationException("collection.trace_reader is raw, but trace_pipe_raw cannot be used: " + e.Message, e);
            }

            LogTextPath(logger, traceInstance.TracePipePath, "trace_pipe_raw cannot be used: " + e.Message);
        }

        return new TraceReader(traceInstance.OpenTracePipe(), assembler);
    }

    private void RefreshPidMap()
    {
        IReadOnlyList<KdamondState> list = states();
        var map = new Dictionary<int, int>();
        byKey.Clear();
        for (int i = 0; i < list.Count; i++)
        {
            int key = KeyOf(list[i], i);
            byKey[key] = list[i];
            int pid = list[i].Pid;
            if (pid > 0)
            {
                map[pid] = key;

                // A new thread (a module or kdamond restarted) starts from its configured
                // intervals: the previous thread's tuned sampling interval no longer applies.
                if (pidByKey.TryGetValue(key, out int before) && before != pid)
                {
                    reader!.Assembler.ResetTunedSampleUs(key);
                }

                pidByKey[key] = pid;
            }
        }

        reader!.Assembler.SetPidMap(map);
    }

    private Intervals IntervalsOf(int key) => byKey.TryGetValue(key, out KdamondState? s) && s.Intervals is { } iv ? iv : Intervals.KernelDefault;

    private ulong AddrUnitOf(int key) => 1;

    private void OnSnapshot(RegionSnapshot snapshot)
    {
        if (!byKey.TryGetValue(snapshot.KdamondIndex, out KdamondState? state))
        {
            return;
        }

        if (state.Merger is { } merger)
        {
            merger.Add(snapshot.TargetIndex, snapshot.Regions, snapshot.Intervals, snapshot.AddrUnit, summarizer, publishWhenComplete: true);
        }
        else
        {
            state.OfferSnapshot(snapshot.TargetIndex, snapshot.Regions, snapshot.Intervals, snapshot.AddrUnit, summarizer);
        }
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Tracepoint: reading the binary per_cpu/cpuN/trace_pipe_raw of {Cpus} CPU(s) under {Instance}")]
    private static partial void LogRawPath(ILogger logger, int cpus, string instance);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "Tracepoint: reading the text {TracePipe}: {Reason}")]
    private static partial void LogTextPath(ILogger logger, string tracePipe, string reason);
}
