using System.Globalization;
using DamonOtel.Agent.Collection;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Modules;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Telemetry.Observations;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// The running agent: starts its kdamonds, runs one collection worker per source, and
/// re-plans the sources when the config is reloaded or when kdamonds of others come and go.
/// HTTP and telemetry export live in <see cref="AgentHost"/>; this class is the DAMON side.
/// </summary>
internal sealed partial class AgentRunner : IAsyncDisposable
{
    private readonly KernelEnvironment env;
    private readonly ILogger logger;
    private readonly ILoggerFactory loggers;
    private readonly DamonSysfsReader reader;
    private string attachedSignature = string.Empty;

    public AgentRunner(AgentConfig config, KernelEnvironment env, ObservationStore store, ILoggerFactory loggers)
    {
        Config = config;
        this.env = env;
        Store = store;
        logger = loggers.CreateLogger<AgentRunner>();
        this.loggers = loggers;
        reader = KdamondManager.NewReader(env, config);
        Manager = new KdamondManager(env, config, loggers.CreateLogger<KdamondManager>());
        Loop = new CollectionLoop(store, loggers.CreateLogger<CollectionLoop>(), env.Time, HeapTrim.ForThisProcess(env.Time));
    }

    public AgentConfig Config { get; private set; }

    public ObservationStore Store { get; }

    public KdamondManager Manager { get; }

    public CollectionLoop Loop { get; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Manager.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever the kernel holds (a malformed value of somebody else's kdamond, an
            // unreadable file), the agent still serves what it can: modules, others' kdamonds,
            // self-metrics. A crash here would be a crash loop under Restart=on-failure.
            LogStartProblem(e.Message);
        }

        await RebuildSourcesAsync().ConfigureAwait(false);
    }

    /// <summary>Applies a new, already validated config without restarting the process.</summary>
    public async Task ReloadAsync(AgentConfig newConfig, CancellationToken cancellationToken)
    {
        await Manager.ReloadAsync(newConfig, cancellationToken).ConfigureAwait(false);
        Config = newConfig;
        await RebuildSourcesAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Checks whether kdamonds of others appeared or vanished; re-plans if so. Kdamonds blocked
    /// by an exclusive DAMON module are started once no such module runs any more.
    /// </summary>
    public async Task DiscoverAsync(CancellationToken cancellationToken = default)
    {
        if (Manager.Blocker is not null && Manager.RunningExclusiveModules().Count == 0)
        {
            LogUnblocked();
            await Manager.StartAsync(cancellationToken).ConfigureAwait(false);
            await RebuildSourcesAsync().ConfigureAwait(false);
            return;
        }

        if (!Config.Attach.Enabled)
        {
            return;
        }

        if (AttachSignature() != attachedSignature)
        {
            await RebuildSourcesAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A source gets this long to finish its collection when the agent stops; then it is abandoned.</summary>
    public static readonly TimeSpan SourceStopLimit = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Stops collection (removing the tracefs instance) and, if configured, our kdamonds. Bounded:
    /// sources stuck in a kernel call are abandoned after <see cref="SourceStopLimit"/>, and our
    /// kdamonds are stopped even when stuck work still holds the manager.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await Loop.StopAllAsync(SourceStopLimit).ConfigureAwait(false);
        await Manager.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => Loop.DisposeAsync();

    /// <summary>Sources that must have produced data recently for /readyz.</summary>
    public IReadOnlyCollection<string> SourceNames => Loop.SourceNames;

    /// <summary>What attach observes: others' running kdamonds and the running DAMON modules.</summary>
    private string AttachSignature() =>
        string.Join(',', ForeignIndexes().Order()) + "|" + string.Join(',', RunningModules());

    // Runs every collection interval: one `enabled` file per module, not all its parameters.
    private IEnumerable<string> RunningModules()
    {
        foreach (string module in ExclusiveModules.Names)
        {
            string enabled = Path.Combine(env.Roots.ModuleParameters(module), "enabled");
            string value;
            try
            {
                value = env.Fs.ReadText(enabled).Trim();
            }
            catch (KernelIoException)
            {
                continue; // not built into this kernel (or not readable): nothing to observe
            }

            if (value is "Y" or "1")
            {
                yield return module;
            }
        }
    }

    private HashSet<int> ForeignIndexes()
    {
        if (!env.Fs.DirectoryExists(env.Roots.Kdamonds))
        {
            return [];
        }

        // Runs every collection interval: read only each kdamond's `state`, not the whole tree.
        IReadOnlySet<int> ours = Manager.OwnedIndexes;
        var result = new HashSet<int>();
        foreach (string name in env.Fs.ListDirectory(env.Roots.Kdamonds))
        {
            if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int index) && !ours.Contains(index))
            {
                try
                {
                    if (reader.ReadState(index))
                    {
                        result.Add(index);
                    }
                }
                catch (KernelIoException e) when (e.IsNotFound)
                {
                    // Removed while listing (another tool rewrote nr_kdamonds).
                }
                catch (Exception e) when (e is KernelIoException or KernelFormatException)
                {
                    // Unreadable or malformed state: observe it anyway, so that its source
                    // counts and logs the error once (rather than discovery failing each interval).
                    result.Add(index);
                }
            }
        }

        return result;
    }

    private async Task RebuildSourcesAsync()
    {
        // Plan first, then swap: a failure while planning leaves the running sources serving.
        List<ICollectionSource> sources = PlanSources();
        foreach (string name in Loop.SourceNames)
        {
            await Loop.RemoveAsync(name).ConfigureAwait(false);
        }

        foreach (ICollectionSource source in sources)
        {
            await Loop.AddAsync(source).ConfigureAwait(false);
        }

        LogPlanned(sources.Count, string.Join(", ", sources.Select(s => s.Name)));
    }

    private List<ICollectionSource> PlanSources()
    {
        var sources = new List<ICollectionSource>();
        var tracepointStates = new List<KdamondState>();
        TimeSpan interval = Config.Collection.Interval;
        var access = Config.Metrics.Access;

        foreach (ManagedKdamond m in Manager.Owned)
        {
            var state = new KdamondState(Store, "kdamond/" + m.Config.Name, m.Config.Name, m.Index, [.. m.Config.Targets.Select(t => t.Name)], interval);
            // paddr with page sampling has no processes to merge: its regions go to the page-sampling slot.
            state.Merger = m.Config.SamplesPages ? null : NewMerger(state, m.Config.Operations, m.Config.MappedOnly, m.Config.Intervals.UpdateUs);
            bool tried = m.RegionSource == RegionSource.TriedRegions;
            if (!tried && m.RegionSource != RegionSource.TriedBytes)
            {
                tracepointStates.Add(state);
            }

            sources.Add(new KdamondSource(env, state, access, interval, Manager.Features, () => Manager.Commands, tried, mayWrite: true, m, Manager, reader));
            if (m.Config.SamplesPages)
            {
                state.EnablePageSampling(deferSummary: m.Config.PageSampling.ExcludeFree);
                sources.Add(new PageSamplingSource(env, state, m.Config, access, interval));
            }
        }

        attachedSignature = Config.Attach.Enabled ? AttachSignature() : string.Empty;
        bool attachByTracepoint = Config.Attach.RegionSource == RegionSource.Tracepoint ||
                                  (Config.Attach.RegionSource == RegionSource.Auto && Manager.Features.HasTracepoint("damon_aggregated"));
        foreach (int index in (Config.Attach.Enabled ? ForeignIndexes() : []).Order())
        {
            DamonContext? ctx = ForeignContext(index);
            int targets = ctx?.Targets.Count ?? 0;
            string name = index.ToString(CultureInfo.InvariantCulture);
            var state = new KdamondState(Store, "kdamond/" + name, name, index, [.. Enumerable.Range(0, targets).Select(t => t.ToString(CultureInfo.InvariantCulture))], interval);
            if (ctx is not null)
            {
                state.Merger = NewMerger(state, ctx.Operations, Config.Attach.MappedOnly, ctx.Attrs.Intervals.UpdateUs);
            }

            if (attachByTracepoint)
            {
                tracepointStates.Add(state);
            }

            sources.Add(new KdamondSource(env, state, access, interval, Manager.Features, () => Manager.Commands, !attachByTracepoint, mayWrite: Config.Attach.Refresh, sysfsReader: reader));
        }

        if (Config.Attach.Enabled)
        {
            HashSet<string> running = [.. RunningModules()];
            foreach (string module in ExclusiveModules.Names)
            {
                if (!env.Fs.DirectoryExists(env.Roots.ModuleParameters(module)))
                {
                    continue;
                }

                var state = new KdamondState(Store, "module/" + module, module, -1, module == ModuleSource.DamonStat ? ["system"] : ["memory"], interval);

                // Module kdamonds are not in the admin tree: their regions only come from the
                // tracepoint, routed by the module's kdamond_pid (DAMON_STAT's complete per-region
                // distribution, not just its 101 published percentiles).
                bool traced = attachByTracepoint && running.Contains(module);
                if (traced)
                {
                    tracepointStates.Add(state);
                }

                sources.Add(new ModuleSource(env, state, module, access, interval, regionsFromTracepoint: traced));
            }
        }

        if (tracepointStates.Count > 0 && Manager.Features.HasTracepoint("damon_aggregated"))
        {
            KdamondState[] snapshot = [.. tracepointStates];
            sources.Add(new TracepointSource(env, () => snapshot, access, loggers.CreateLogger<TracepointSource>(), Config.Collection.TraceReader));
        }

        return sources;
    }

    // A kdamond of others whose tree cannot be read still gets its source: it reports the
    // problem as its collection error, counted and logged once, while everything else serves.
    private DamonContext? ForeignContext(int index)
    {
        try
        {
            Kdamond k = reader.ReadKdamond(index, includeTriedRegions: false);
            return k.Contexts.Count > 0 ? k.Contexts[0] : null;
        }
        catch (Exception e) when (e is KernelIoException or KernelFormatException)
        {
            return null;
        }
    }

    /// <summary>Mappings are re-read at most once per ops update interval (DAMON's own cadence), and at least every 10 s.</summary>
    private TargetMerger NewMerger(KdamondState state, string operations, bool mappedOnly, ulong updateUs) =>
        new(
            state,
            new Damon.Procfs.ProcReader(env.Fs, env.Roots),
            mappedOnly && operations is "vaddr" or "fvaddr",
            env.Time,
            TimeSpan.FromMicroseconds(Math.Clamp(updateUs, 100_000UL, 10_000_000UL)));

    [LoggerMessage(EventId = 300, Level = LogLevel.Error, Message = "Starting DAMON failed: {Reason}; serving what is available")]
    private partial void LogStartProblem(string reason);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Collecting from {Count} source(s): {Sources}")]
    private partial void LogPlanned(int count, string sources);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "No exclusive DAMON module runs any more: starting the configured kdamonds")]
    private partial void LogUnblocked();
}
