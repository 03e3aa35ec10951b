using System.Diagnostics;
using System.Globalization;
using DamonOtel.Agent.Hosting;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Agent.Interop;

/// <summary>Where a record's regions come from.</summary>
internal enum RecordSource
{
    /// <summary>The tracepoint when this kernel has damon_aggregated under the tracefs root, else tried_regions.</summary>
    Auto,

    /// <summary>damon:damon_aggregated in a private tracefs instance: every aggregation, passive.</summary>
    Tracepoint,

    /// <summary>The kdamond's all-matching stat scheme's tried_regions, refreshed by a state command.</summary>
    TriedRegions,
}

/// <summary>The names `record --source` and POST /record?source= take.</summary>
internal static class RecordSources
{
    public const string Names = "auto, tracepoint or tried_regions";

    public static RecordSource? Parse(string name) => name switch
    {
        "auto" => RecordSource.Auto,
        "tracepoint" => RecordSource.Tracepoint,
        "tried_regions" => RecordSource.TriedRegions,
        _ => null,
    };
}

/// <summary>What to record: a kdamond by index, for how long, from which source, and how many snapshots at most (0 = no limit).</summary>
internal sealed record RecordRequest(string Name, int Index, TimeSpan Duration, RecordSource Source, int MaxSnapshots = 0);

/// <summary>The snapshots captured, the source used, and the intervals goal to record with them (null when the intervals are fixed).</summary>
internal sealed record RecordResult(IReadOnlyList<DamoRecordSnapshot> Snapshots, RecordSource Source, IntervalsGoal? Goal);

/// <summary>The capture failed before it got anything usable (the message says why, one line).</summary>
internal sealed class RecordException(string message) : Exception(message)
{
    public RecordException()
        : this("recording failed")
    {
    }

    public RecordException(string message, Exception innerException)
        : this(message + ": " + innerException.Message)
    {
    }
}

/// <summary>
/// Captures one kdamond's region snapshots for a while, stamped for a damo record (end of each
/// aggregation in ns since boot; damo uses trace timestamps, which count from boot too):
/// - tracepoint: a private tracefs instance of its own (not the agent's), every aggregation, the
///   kernel's timestamps; writes nothing to the kdamond;
/// - tried_regions: update_schemes_tried_regions on the kdamond's all-matching stat scheme(s),
///   about one snapshot per aggregation interval, stamped when read; needs a kdamond the caller
///   may write to (the agent's own, or attach.refresh).
/// Used by `damon-otel record` and the agent's HTTP record endpoint.
/// </summary>
internal sealed class RegionRecorder(KernelEnvironment env, StateCommands? commands, Func<int, bool> mayWrite)
{
    /// <summary>How often the trace pipe is read while recording.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly DamonSysfsReader reader = new(env.Fs, env.Roots);

    /// <summary>Prefix of the tracefs instances records use; the pid makes concurrent records (and the agent's "damon_otel") distinct.</summary>
    public const string InstancePrefix = "damon-otel-record-";

    public async Task<RecordResult> RecordAsync(RecordRequest request, CancellationToken cancellationToken)
    {
        Kdamond k = ReadRunning(request);
        DamonContext ctx = k.Contexts[0];
        IntervalsGoal? goal = ctx.Attrs.Goal is { Enabled: true } g ? g : null;
        RecordSource source = request.Source == RecordSource.Auto
            ? (HasTracepoint() ? RecordSource.Tracepoint : RecordSource.TriedRegions)
            : request.Source;
        List<DamoRecordSnapshot> snapshots = source == RecordSource.Tracepoint
            ? await FromTracepointAsync(request, k, cancellationToken).ConfigureAwait(false)
            : await FromTriedRegionsAsync(request, k, goal is not null, cancellationToken).ConfigureAwait(false);
        if (snapshots.Count == 0)
        {
            throw new RecordException($"kdamond {request.Name}: no snapshot in {Format(request.Duration)} from {Describe(source)} (aggregation interval {ctx.Attrs.Intervals.AggrUs / 1000} ms; is it still running?)");
        }

        return new RecordResult(snapshots, source, goal);
    }

    public static string Describe(RecordSource source) => source switch
    {
        RecordSource.Tracepoint => "the damon_aggregated tracepoint",
        RecordSource.TriedRegions => "tried_regions",
        _ => "auto",
    };

    private Kdamond ReadRunning(RecordRequest request)
    {
        if (!env.Fs.DirectoryExists(Path.Combine(env.Roots.Kdamonds, request.Index.ToString(CultureInfo.InvariantCulture))))
        {
            throw new RecordException($"kdamond {request.Name}: {env.Roots.Kdamonds}/{request.Index} does not exist");
        }

        Kdamond k = reader.ReadKdamond(request.Index, includeTriedRegions: false);
        if (!k.On || k.Contexts.Count == 0 || k.Pid <= 0)
        {
            throw new RecordException($"kdamond {request.Name} (kdamonds/{request.Index}) is not running");
        }

        return k;
    }

    private bool HasTracepoint() =>
        env.Fs.DirectoryExists(Path.Combine(env.Roots.Tracefs, "events", "damon", TraceInstance.Aggregated));

    private async Task<List<DamoRecordSnapshot>> FromTracepointAsync(RecordRequest request, Kdamond k, CancellationToken cancellationToken)
    {
        var snapshots = new List<DamoRecordSnapshot>();
        Intervals configured = k.Contexts[0].Attrs.Intervals;
        ulong addrUnit = k.Contexts[0].AddrUnit ?? 1;
        string name = InstancePrefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + request.Index.ToString(CultureInfo.InvariantCulture);
        TraceInstance instance;
        try
        {
            instance = TraceInstance.Create(env.Fs, env.Roots, name);
        }
        catch (KernelIoException e)
        {
            throw new RecordException($"kdamond {request.Name}: cannot trace damon_aggregated under {env.Roots.Tracefs}: {e.Message} (use --source tried_regions)");
        }

        try
        {
            // The trace timestamp (ns) is the snapshot's end: RegionSnapshot.CapturedAtTicks carries it.
            var assembler = new AggregationAssembler(_ => configured, _ => addrUnit, timestampNs => (long)timestampNs);
            assembler.SetPidMap([new KeyValuePair<int, int>(k.Pid, request.Index)]);
            using var trace = new TraceReader(instance.OpenTracePipe(), assembler);
            long started = Stopwatch.GetTimestamp();
            TimeSpan simulatedStart = env.Simulator?.Now ?? TimeSpan.Zero;
            void Take(RegionSnapshot s)
            {
                if (request.MaxSnapshots <= 0 || snapshots.Count < request.MaxSnapshots)
                {
                    snapshots.Add(new DamoRecordSnapshot(s, (ulong)s.CapturedAtTicks));
                }
            }

            while (!Done(request, snapshots.Count, started, simulatedStart))
            {
                trace.Poll(Take);
                await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            }

            trace.Poll(Take);
        }
        finally
        {
            instance.Dispose();
        }

        return snapshots;
    }

    private async Task<List<DamoRecordSnapshot>> FromTriedRegionsAsync(RecordRequest request, Kdamond k, bool tuned, CancellationToken cancellationToken)
    {
        if (commands is null || !mayWrite(request.Index))
        {
            throw new RecordException($"kdamond {request.Name} was not started by this agent: refreshing its tried_regions needs a write (allow it with attach.refresh in --config), or use --source tracepoint");
        }

        Dictionary<int, int> schemeOfTarget = Cli.SnapshotTaker.MonitorSchemes(k.Contexts[0]);
        if (schemeOfTarget.Count == 0)
        {
            throw new RecordException($"kdamond {request.Name} has no stat scheme matching every region to read tried_regions from (use --source tracepoint)");
        }

        var snapshots = new List<DamoRecordSnapshot>();
        long started = Stopwatch.GetTimestamp();
        TimeSpan simulatedStart = env.Simulator?.Now ?? TimeSpan.Zero;
        while (!Done(request, snapshots.Count, started, simulatedStart))
        {
            if (tuned)
            {
                await commands.SendAsync(request.Index, StateCommand.UpdateTunedIntervals, cancellationToken).ConfigureAwait(false);
            }

            // Waits for the scheme's next apply: about one aggregation interval.
            await commands.SendAsync(request.Index, StateCommand.UpdateSchemesTriedRegions, cancellationToken).ConfigureAwait(false);
            ulong now = NowNs();
            DamonContext ctx = reader.ReadKdamond(request.Index, includeTriedRegions: false).Contexts[0];
            foreach ((int target, int scheme) in schemeOfTarget.OrderBy(p => p.Key))
            {
                TriedRegions? tried = reader.ReadTriedRegions(request.Index, ctx.Index, scheme);
                // A torn read (another process refreshed the regions meanwhile) is a part of an
                // aggregation: left out, the next update brings a whole one.
                if (tried is { Regions.Length: > 0, Torn: false } && (request.MaxSnapshots <= 0 || snapshots.Count < request.MaxSnapshots))
                {
                    var snapshot = new RegionSnapshot(request.Index, ctx.Index, target, ctx.Attrs.Intervals, tried.Regions, ctx.AddrUnit ?? 1, (long)now);
                    snapshots.Add(new DamoRecordSnapshot(snapshot, now));
                }
            }
        }

        return snapshots;
    }

    private bool Done(RecordRequest request, int count, long started, TimeSpan simulatedStart)
    {
        if (request.MaxSnapshots > 0 && count >= request.MaxSnapshots)
        {
            return true;
        }

        // Under --simulate the duration is simulated time, which a loaded machine may run behind.
        TimeSpan elapsed = env.Simulator is { } sim ? sim.Now - simulatedStart : Stopwatch.GetElapsedTime(started);
        return elapsed >= request.Duration;
    }

    /// <summary>Now in ns since boot: the Simulator's uptime, or CLOCK_MONOTONIC (what the trace clock counts too, without suspend).</summary>
    private ulong NowNs() => env.Simulator is { } sim
        ? (ulong)(sim.Options.BootUptime + sim.Now).Ticks * 100
        : (ulong)((double)Stopwatch.GetTimestamp() / Stopwatch.Frequency * 1e9);

    private static string Format(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
