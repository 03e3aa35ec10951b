using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Analysis;
using DamonOtel.Damon.Features;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Collects one kdamond from sysfs and procfs: state, intervals, scheme stats, CPU time,
/// target RSS and, for the tried_regions source, a snapshot per target. For a kdamond of
/// ours it also restarts it when its target returns; for somebody else's it writes nothing
/// unless `attach.refresh` allows refresh commands.
/// </summary>
internal sealed class KdamondSource : ICollectionSource
{
    private readonly DamonSysfsReader reader;
    private readonly ProcReader proc;
    private readonly KdamondState state;
    private readonly ManagedKdamond? managed;
    private readonly KdamondManager? manager;
    private readonly Func<StateCommands> commands;
    private readonly DamonFeatures features;
    private readonly AccessSummarizer summarizer;
    private readonly bool mayWrite;
    private readonly bool triedRegions;

    public KdamondSource(
        KernelEnvironment env,
        KdamondState state,
        AccessOptions access,
        TimeSpan interval,
        DamonFeatures features,
        Func<StateCommands> commands,
        bool triedRegions,
        bool mayWrite,
        ManagedKdamond? managed = null,
        KdamondManager? manager = null,
        DamonSysfsReader? sysfsReader = null)
    {
        reader = sysfsReader ?? new DamonSysfsReader(env.Fs, env.Roots);
        proc = new ProcReader(env.Fs, env.Roots);
        summarizer = new AccessSummarizer(access);
        this.state = state;
        this.managed = managed;
        this.manager = manager;
        this.commands = commands;
        this.features = features;
        this.triedRegions = triedRegions;
        this.mayWrite = mayWrite;
        Interval = interval;
    }

    public string Name => state.Source;

    public TimeSpan Interval { get; }

    public async Task CollectAsync(CancellationToken cancellationToken)
    {
        int index = managed?.Index ?? state.Index;
        if (managed is not null && manager is not null && !await manager.EnsureRunningAsync(managed, cancellationToken).ConfigureAwait(false))
        {
            state.MarkDown();
            if (managed.State == ManagedState.Blocked)
            {
                throw new SourceBlockedException(managed.LastError ?? "blocked");
            }

            if (managed.State == ManagedState.Failed)
            {
                throw new InvalidOperationException(managed.LastError);
            }

            return; // waiting for its target process: not an error, just down
        }

        Kdamond k = reader.ReadKdamond(index, includeTriedRegions: false);
        if (!k.On || k.Contexts.Count == 0)
        {
            state.MarkDown();
            return;
        }

        DamonContext ctx = k.Contexts[0];
        if (mayWrite && k.RefreshMs is null or 0)
        {
            // Without refresh_ms the kernel leaves these files stale until asked.
            StateCommands c = commands();
            await c.SendAsync(index, StateCommand.UpdateSchemesStats, cancellationToken).ConfigureAwait(false);
            if (features.EffectiveBytes == true && ctx.Schemes.Count > 0)
            {
                await c.SendAsync(index, StateCommand.UpdateSchemesEffectiveQuotas, cancellationToken).ConfigureAwait(false);
            }

            if (ctx.Attrs.Goal?.Enabled == true)
            {
                await c.SendAsync(index, StateCommand.UpdateTunedIntervals, cancellationToken).ConfigureAwait(false);
            }

            k = reader.ReadKdamond(index, includeTriedRegions: false);
            ctx = k.Contexts[0];
        }

        Intervals intervals = ctx.Attrs.Intervals;
        IReadOnlyList<int> monitor = MonitorSchemes(ctx);
        if (triedRegions)
        {
            await CollectTriedRegionsAsync(index, ctx, intervals, monitor, cancellationToken).ConfigureAwait(false);
        }

        var schemes = new List<SchemeObservation>(ctx.Schemes.Count);
        foreach (DamosScheme s in ctx.Schemes)
        {
            if (!monitor.Contains(s.Index))
            {
                schemes.Add(new SchemeObservation(SchemeName(s.Index), s.Action, s.Stats, s.Quotas.EffectiveBytes));
            }
        }

        ulong?[]? rss = null;
        if (ctx.Operations != "paddr")
        {
            rss = new ulong?[ctx.Targets.Count];
            for (int t = 0; t < rss.Length; t++)
            {
                rss[t] = ctx.Targets[t].PidTarget > 0 ? proc.ReadRssBytes(ctx.Targets[t].PidTarget) : null;
            }
        }

        state.UpdateStatus(true, k.Pid, k.Pid > 0 ? proc.ReadCpuSeconds(k.Pid) : null, intervals, schemes, rss);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task CollectTriedRegionsAsync(int index, DamonContext ctx, Intervals intervals, IReadOnlyList<int> monitor, CancellationToken cancellationToken)
    {
        if (monitor.Count == 0)
        {
            throw new InvalidOperationException($"kdamond {state.Name}: no stat scheme matching all regions to read tried_regions from; use the tracepoint source, or add one (attach.refresh)");
        }

        if (mayWrite)
        {
            await commands().SendAsync(index, StateCommand.UpdateSchemesTriedRegions, cancellationToken).ConfigureAwait(false);
        }

        ulong addrUnit = ctx.AddrUnit ?? 1;
        for (int t = 0; t < monitor.Count && t < state.TargetCount; t++)
        {
            TriedRegions? tried = reader.ReadTriedRegions(index, 0, monitor[t]);
            if (tried is null || tried.Regions.Length == 0)
            {
                continue;
            }

            state.OfferSnapshot(t, tried.Regions, intervals, addrUnit, summarizer, reader.TriedRegionsDir(index, 0, monitor[t]));
        }
    }

    // Ours: the schemes the manager appended. Others': an existing all-matching stat scheme, if any.
    private IReadOnlyList<int> MonitorSchemes(DamonContext ctx)
    {
        if (managed is not null)
        {
            return managed.MonitorSchemes;
        }

        foreach (DamosScheme s in ctx.Schemes)
        {
            if (s.Action == "stat" && s.AccessPattern.MatchesEverything && !Cli.SnapshotTaker.IsLimited(s) && (s.Filters?.Count ?? 0) == 0 && (s.CoreFilters?.Count ?? 0) == 0 && (s.OpsFilters?.Count ?? 0) == 0)
            {
                return [s.Index];
            }
        }

        return [];
    }

    private string SchemeName(int index) =>
        managed is not null && index < managed.Config.Schemes.Count
            ? managed.Config.Schemes[index].Name
            : index.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
