using DamonOtel.Agent.Configuration;
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
    /// <summary>Collections between two whole reads of a kdamond's configuration (see ReadKdamond).</summary>
    public const int FullReadEvery = 12;

    /// <summary>Update-and-read attempts before a collection whose tried_regions keep changing is skipped.</summary>
    public const int MaxTornAttempts = 3;

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
    private TargetLayout foreignLayout = TargetLayout.Empty;

    // See ReadKdamond: the last whole read, the spec it was of (ours), and collections since.
    private Kdamond? cached;
    private string? cachedSpecHash;
    private int collectionsSinceFullRead;

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

    // Awaits resume on the collection thread (no ConfigureAwait(false)): the reads after a
    // state command stay off the thread pool (see CollectionThread).
    public async Task CollectAsync(CancellationToken cancellationToken)
    {
        int index = managed?.Index ?? state.Index;
        if (managed is not null && manager is not null && !await manager.EnsureRunningAsync(managed, cancellationToken))
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

        Kdamond k = ReadKdamond(index);
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
            await c.SendAsync(index, StateCommand.UpdateSchemesStats, cancellationToken);
            if (features.EffectiveBytes == true && ctx.Schemes.Count > 0)
            {
                await c.SendAsync(index, StateCommand.UpdateSchemesEffectiveQuotas, cancellationToken);
            }

            if (ctx.Attrs.Goal?.Enabled == true)
            {
                await c.SendAsync(index, StateCommand.UpdateTunedIntervals, cancellationToken);
            }

            k = ReadKdamond(index, afterRefresh: true);
            ctx = k.Contexts[0];
        }

        Intervals intervals = ctx.Attrs.Intervals;
        IReadOnlyList<int> monitor = MonitorSchemes(ctx);
        TargetLayout layout = managed?.Layout ?? ForeignLayout(ctx);
        state.Merger?.SetLayout(layout, immediately: triedRegions);
        if (managed?.RegionSource == RegionSource.TriedBytes)
        {
            await CollectTriedBytesAsync(index, ctx, monitor, cancellationToken);
        }
        else if (triedRegions)
        {
            await CollectTriedRegionsAsync(index, ctx, intervals, monitor, layout, cancellationToken).ConfigureAwait(false);
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
            // A target of several processes: their RSS summed (shared pages count once per process).
            rss = new ulong?[state.TargetCount];
            foreach (KernelTarget t in layout.Targets)
            {
                if (t.HasProcess && t.ConfigIndex < rss.Length && proc.ReadRssBytes(t.Process.Pid) is ulong bytes)
                {
                    rss[t.ConfigIndex] = (rss[t.ConfigIndex] ?? 0) + bytes;
                }
            }
        }

        state.UpdateStatus(true, k.Pid, k.Pid > 0 ? proc.ReadCpuSeconds(k.Pid) : null, intervals, schemes, rss);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// The kdamond as this collection needs it. Its configuration (~40 files per scheme, ~130 for
    /// a kdamond with one scheme; ~700 with tried_bytes' bucket schemes) is read whole at the
    /// first collection, when the kdamond's pid changes and every <see cref="FullReadEvery"/>
    /// collections (another tool may commit a new one to a kdamond that is not ours); in between
    /// only what changes while it runs: state, pid, intervals, and the stats and effective quotas
    /// of the schemes that are not the agent's own monitoring schemes.
    /// </summary>
    private Kdamond ReadKdamond(int index, bool afterRefresh = false)
    {
        if (cached is null || (!afterRefresh && ++collectionsSinceFullRead >= FullReadEvery) || managed?.SpecHash != cachedSpecHash)
        {
            return ReadWhole(index);
        }

        int pid = reader.ReadPid(index);
        if (pid != cached.Pid || cached.Contexts.Count == 0 || !reader.ReadState(index))
        {
            return ReadWhole(index);
        }

        DamonContext ctx = cached.Contexts[0];
        IReadOnlyList<int> own = managed?.MonitorSchemes ?? [];
        var schemes = new DamosScheme[ctx.Schemes.Count];
        for (int i = 0; i < schemes.Length; i++)
        {
            DamosScheme s = ctx.Schemes[i];
            schemes[i] = own.Contains(s.Index)
                ? s
                : s with
                {
                    Stats = reader.ReadSchemeStats(index, ctx.Index, s.Index),
                    Quotas = s.Quotas with { EffectiveBytes = reader.ReadEffectiveBytes(index, ctx.Index, s.Index) },
                };
        }

        ctx = ctx with { Attrs = ctx.Attrs with { Intervals = reader.ReadIntervals(index, ctx.Index) }, Schemes = schemes };
        return cached with { Contexts = [ctx] };
    }

    private Kdamond ReadWhole(int index)
    {
        collectionsSinceFullRead = 0;
        cachedSpecHash = managed?.SpecHash;
        Kdamond k = reader.ReadKdamond(index, includeTriedRegions: false);
        cached = k.On && k.Contexts.Count > 0 ? k : null;
        return k;
    }

    private async Task CollectTriedRegionsAsync(int index, DamonContext ctx, Intervals intervals, IReadOnlyList<int> monitor, TargetLayout layout, CancellationToken cancellationToken)
    {
        if (monitor.Count == 0)
        {
            throw new InvalidOperationException($"kdamond {state.Name}: no stat scheme matching all regions to read tried_regions from; use the tracepoint source, or add one (attach.refresh)");
        }

        int targets = Math.Min(monitor.Count, layout.Targets.Count);
        var read = new TriedRegions?[targets];
        for (int attempt = 1; ; attempt++)
        {
            if (mayWrite)
            {
                await commands().SendAsync(index, StateCommand.UpdateSchemesTriedRegions, cancellationToken);
            }

            int torn = -1;
            for (int t = 0; t < targets; t++)
            {
                read[t] = reader.ReadTriedRegions(index, 0, monitor[t]);
                if (read[t] is { Torn: true })
                {
                    torn = t;
                }
            }

            if (torn < 0)
            {
                break;
            }

            // Another process refreshed the same tried_regions between our update and our read.
            // A part of an aggregation would publish as memory gone idle: update again, and
            // after that give up this collection (the previous figures stay).
            if (!mayWrite || attempt >= MaxTornAttempts)
            {
                throw new InvalidOperationException($"{reader.TriedRegionsDir(index, 0, monitor[torn])} changed while it was read, {attempt} time(s): another process (damo, `damon-otel snapshot`) is updating this kdamond's tried_regions; this collection is skipped");
            }
        }

        ulong addrUnit = ctx.AddrUnit ?? 1;
        for (int t = 0; t < targets; t++)
        {
            TriedRegions? tried = read[t];
            if (tried is null || tried.Regions.Length == 0)
            {
                continue;
            }

            if (state.Merger is { } merger)
            {
                merger.Add(t, tried.Regions, intervals, addrUnit, summarizer, publishWhenComplete: false);
            }
            else
            {
                state.OfferSnapshot(t, tried.Regions, intervals, addrUnit, summarizer, reader.TriedRegionsDir(index, 0, monitor[t]));
            }
        }

        state.Merger?.PublishAll(summarizer);
    }

    // tried_bytes: one update, then one total_bytes file per bucket scheme of each target.
    private async Task CollectTriedBytesAsync(int index, DamonContext ctx, IReadOnlyList<int> monitor, CancellationToken cancellationToken)
    {
        IdleBucketSchemes buckets = managed!.BucketSchemes ?? throw new InvalidOperationException($"kdamond {state.Name}: no bucket schemes installed");
        int perTarget = buckets.Schemes.Count;
        await commands().SendAsync(index, StateCommand.UpdateSchemesTriedBytes, cancellationToken);
        ulong addrUnit = ctx.AddrUnit ?? 1;
        Span<ulong> totals = perTarget <= 64 ? stackalloc ulong[perTarget] : new ulong[perTarget];
        for (int t = 0; t < state.TargetCount && ((t + 1) * perTarget) <= monitor.Count; t++)
        {
            for (int i = 0; i < perTarget; i++)
            {
                int scheme = monitor[(t * perTarget) + i];
                totals[i] = reader.ReadTriedBytes(index, 0, scheme)
                    ?? throw new InvalidOperationException($"kdamond {state.Name}: scheme {scheme} has no tried_regions/total_bytes");
            }

            var summary = new AccessSummary(buckets.Options);
            buckets.Summarize(totals, addrUnit, summary);
            state.UpdateAccess(t, summary);
        }
    }

    // Somebody else's kdamond: its targets are the ones in sysfs, one series each (no start times:
    // its owner chose the pids). A new layout object only when the pids change.
    private TargetLayout ForeignLayout(DamonContext ctx)
    {
        if (foreignLayout.Targets.Count == ctx.Targets.Count && foreignLayout.Targets.Select(t => t.Process.Pid).SequenceEqual(ctx.Targets.Select(t => ctx.Operations == "paddr" ? 0 : t.PidTarget)))
        {
            return foreignLayout;
        }

        foreignLayout = new TargetLayout(
            [.. ctx.Targets.Select((t, i) => new KernelTarget(i, new ProcessIdentity(ctx.Operations == "paddr" ? 0 : t.PidTarget, 0)))],
            [],
            foreignLayout.Version + 1);
        return foreignLayout;
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
