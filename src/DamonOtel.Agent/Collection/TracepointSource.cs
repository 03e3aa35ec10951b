using DamonOtel.Agent.Hosting;
using DamonOtel.Analysis;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Reads damon:damon_aggregated from the agent's private tracefs instance and turns every
/// completed aggregation into a summary of its target. One reader serves every kdamond whose
/// regions come from the tracepoint (events are told apart by the emitting kdamond's pid),
/// including DAMON modules' kdamonds. Passive: it writes nothing to any kdamond.
/// </summary>
internal sealed class TracepointSource(KernelEnvironment env, Func<IReadOnlyList<KdamondState>> states, AccessOptions access) : ICollectionSource
{
    /// <summary>Fixed, so a restart after a crash finds and reuses (then removes) its instance.</summary>
    public const string InstanceName = "damon_otel";

    /// <summary>How often trace_pipe is read, whatever the aggregation intervals: each read takes
    /// what the kernel buffered since the previous one.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly AccessSummarizer summarizer = new(access);
    private readonly Dictionary<int, KdamondState> byKey = [];
    private readonly Dictionary<int, int> pidByKey = [];
    private TraceInstance? instance;
    private TraceReader? reader;
    private long parseErrorsSeen;

    public string Name => "tracepoint";

    public TimeSpan Interval { get; } = PollInterval;

    public long Lines => reader?.Lines ?? 0;

    public Task CollectAsync(CancellationToken cancellationToken)
    {
        if (reader is null)
        {
            instance = TraceInstance.Create(env.Fs, env.Roots, InstanceName);
            var assembler = new AggregationAssembler(IntervalsOf, AddrUnitOf);
            reader = new TraceReader(instance.OpenTracePipe(), assembler);
        }

        RefreshPidMap();
        long errorsBefore = reader.ParseErrors;
        long linesBefore = reader.Lines;
        reader.Poll(OnSnapshot);
        long newErrors = reader.ParseErrors - errorsBefore;
        long newLines = reader.Lines - linesBefore;
        parseErrorsSeen += newErrors;
        if (newErrors > 0 && newErrors == newLines)
        {
            throw new InvalidOperationException($"every trace line of this poll failed to parse ({newErrors}); last: {reader.LastParseError}");
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
        if (byKey.TryGetValue(snapshot.KdamondIndex, out KdamondState? state))
        {
            state.OfferSnapshot(snapshot.TargetIndex, snapshot.Regions, snapshot.Intervals, snapshot.AddrUnit, summarizer);
        }
    }
}
