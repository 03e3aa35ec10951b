using System.Security.Cryptography;
using System.Text.Json;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Damon.Features;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>
/// Owns the kdamonds the config asks for: detects what the kernel supports, starts them (or
/// re-adopts them after a crash), applies config changes with `commit`, restarts a kdamond
/// whose target process came back, and stops them on exit. It never writes to a kdamond it
/// did not start, and refuses to touch nr_kdamonds while somebody else's kdamond runs.
/// </summary>
internal sealed partial class KdamondManager : IDisposable
{
    // DAMON_STAT's ops update interval (also the kernel's default): paddr has no mappings to follow.
    private const ulong DamonStatUpdateUs = 60_000_000;

    private readonly KernelEnvironment env;
    private readonly ILogger logger;
    private readonly DamonSysfsReader reader;
    private readonly DamonSysfsWriter writer;
    private readonly TargetResolver resolver;
    private readonly OwnershipStore ownership;
    private readonly List<ManagedKdamond> owned = [];
    private readonly SemaphoreSlim gate = new(1, 1);
    private StateCommands commands;

    public KdamondManager(KernelEnvironment env, AgentConfig config, ILogger logger)
    {
        this.env = env;
        this.logger = logger;
        Config = config;
        reader = new DamonSysfsReader(env.Fs, env.Roots);
        writer = new DamonSysfsWriter(env.Fs, env.Roots);
        resolver = new TargetResolver(env.Fs, env.Roots);
        ownership = new OwnershipStore(config.StateDir);
        commands = NewCommands(config);
    }

    public AgentConfig Config { get; private set; }

    public void Dispose() => gate.Dispose();

    public DamonFeatures Features { get; private set; } = new();

    public StateCommands Commands => commands;

    public IReadOnlyList<ManagedKdamond> Owned
    {
        get
        {
            lock (owned)
            {
                return [.. owned];
            }
        }
    }

    /// <summary>Indexes of kdamonds that exist and are not ours (observed read-only).</summary>
    public IReadOnlySet<int> OwnedIndexes
    {
        get
        {
            lock (owned)
            {
                return owned.Select(o => o.Index).ToHashSet();
            }
        }
    }

    /// <summary>The kdamonds to run: the configured ones, or the default whole-memory one.</summary>
    public static IReadOnlyList<KdamondConfig> EffectiveKdamonds(AgentConfig config, DamonAdminTree tree, DamonFeatures features, bool damonStatEnabled)
    {
        if (config.Kdamonds.Count > 0 || config.DefaultMonitoring == DefaultMonitoring.Off)
        {
            return config.Kdamonds;
        }

        bool othersRun = tree.Kdamonds.Any(k => k.On);
        if (config.DefaultMonitoring == DefaultMonitoring.Auto && (othersRun || damonStatEnabled))
        {
            return [];
        }

        // Like DAMON_STAT: all of the largest System RAM block, a stat scheme, tuned intervals.
        return
        [
            new KdamondConfig
            {
                Name = "system",
                Operations = "paddr",
                Targets = [new TargetConfig { Name = "memory", Memory = PhysicalRange.LargestBlock }],
                Intervals = new IntervalsConfig
                {
                    UpdateUs = DamonStatUpdateUs,
                    Goal = features.IntervalsGoal == true ? IntervalsGoalConfig.Recommended : null,
                },
            },
        ];
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await StartLockedAsync(Config, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Applies a new config. Same kdamonds (by name, in order): their new settings are written
    /// and committed without a restart, so monitoring history is kept. Added or removed kdamonds
    /// need nr_kdamonds rewritten, which restarts all of ours.
    /// </summary>
    public async Task ReloadAsync(AgentConfig newConfig, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            DamonAdminTree tree = reader.ReadKdamondHeads();
            IReadOnlyList<KdamondConfig> wanted = EffectiveKdamonds(newConfig, tree, Features, DamonStatEnabled());
            commands = NewCommands(newConfig);
            List<ManagedKdamond> current;
            lock (owned)
            {
                current = [.. owned];
            }

            if (current.Count == wanted.Count && current.Zip(wanted).All(p => p.First.Config.Name == p.Second.Name))
            {
                Config = newConfig;
                for (int i = 0; i < current.Count; i++)
                {
                    ManagedKdamond m = current[i];
                    m.Config = wanted[i];
                    m.RegionSource = ResolveSource(wanted[i]);
                    if (m.State == ManagedState.Running && reader.ReadState(m.Index))
                    {
                        await CommitAsync(m, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await StartOneAsync(m, cancellationToken).ConfigureAwait(false);
                    }
                }

                SaveOwnership();
                LogReloaded(current.Count);
                return;
            }

            LogRestartingForReload(current.Count, wanted.Count);
            await StopOwnedAsync(cancellationToken).ConfigureAwait(false);
            Config = newConfig;
            await StartLockedAsync(newConfig, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Called every collection: notices a kdamond that stopped by itself (its vaddr targets
    /// exited) and starts it again once its targets are back. True when it runs.
    /// </summary>
    public async Task<bool> EnsureRunningAsync(ManagedKdamond m, CancellationToken cancellationToken)
    {
        if (!await gate.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            // A reload or start holds the lock; it will settle this kdamond.
            return m.State == ManagedState.Running;
        }

        try
        {
            if (m.State == ManagedState.Failed)
            {
                return false;
            }

            if (m.State == ManagedState.Running)
            {
                if (reader.ReadState(m.Index))
                {
                    return true;
                }

                LogStoppedByItself(m.Config.Name, m.Index);
                m.State = ManagedState.WaitingForTarget;
                m.KdamondPid = -1;
            }

            await StartOneAsync(m, cancellationToken).ConfigureAwait(false);
            if (m.State == ManagedState.Running)
            {
                SaveOwnership();
            }

            return m.State == ManagedState.Running;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Stops the kdamonds this agent started (when the config says so) and forgets them.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Config.StopOnExit)
            {
                await StopOwnedAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    ownership.Clear();
                }
                catch (SafeFileException e)
                {
                    LogOwnershipNotSaved(ownership.FilePath, e.Reason);
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private StateCommands NewCommands(AgentConfig config) =>
        new(env.Fs, env.Roots, CommandOptions(config), env.Time);

    /// <summary>
    /// EBUSY is retried until the deadline, not just damo's 5 times: another writer's (e.g.
    /// `damon-otel snapshot`) tried_regions update keeps the kernel busy for several sampling
    /// intervals, seconds under qemu TCG (seen on 6.12), far longer than 5 short backoffs.
    /// </summary>
    internal static StateCommandOptions CommandOptions(AgentConfig config) =>
        new() { Deadline = config.Collection.CommandTimeout, MaxAttempts = 1000 };

    private async Task StartLockedAsync(AgentConfig config, CancellationToken cancellationToken)
    {
        commands = NewCommands(config);
        if (!env.Fs.DirectoryExists(env.Roots.Kdamonds))
        {
            Features = FeatureProbe.Detect(env.Fs, env.Roots);
            if (config.Kdamonds.Count > 0)
            {
                throw new InvalidOperationException($"DAMON's sysfs interface is not at {env.Roots.Kdamonds}: the kernel lacks CONFIG_DAMON_SYSFS (5.18+), or --sysfs-root points elsewhere");
            }

            return;
        }

        // Only state and pid of each kdamond: a malformed setting of somebody else's kdamond
        // must not stop ours from starting (its own source reports it).
        DamonAdminTree tree = reader.ReadKdamondHeads();
        OwnershipRecord? record = LoadOwnership();
        var ours = AdoptableIndexes(tree, record);
        var foreignRunning = tree.Kdamonds.Where(k => k.On && !ours.ContainsKey(k.Index)).Select(k => k.Index).ToList();
        bool ownAll = foreignRunning.Count == 0;

        Features = FeatureProbe.Detect(env.Fs, env.Roots);
        if (ownAll && tree.Kdamonds.All(k => !k.On))
        {
            // Nothing runs: probing (a throwaway kdamond dir) is safe and answers what a read-only look cannot.
            Features = FeatureProbe.DetectByProbing(env.Fs, env.Roots, callerOwnsAllKdamonds: true);
            tree = reader.ReadKdamondHeads();
        }

        IReadOnlyList<KdamondConfig> wanted = EffectiveKdamonds(config, tree, Features, DamonStatEnabled());
        lock (owned)
        {
            owned.Clear();
        }

        if (wanted.Count == 0)
        {
            return;
        }

        // Re-adopt: the same names at the recorded indexes, still running since our last life.
        if (record is not null && record.Kdamonds.Count == wanted.Count &&
            record.Kdamonds.Zip(wanted).All(p => p.First.Name == p.Second.Name && ours.ContainsKey(p.First.Index) && tree.Kdamonds[p.First.Index].On))
        {
            foreach ((OwnedKdamond rec, KdamondConfig k) in record.Kdamonds.Zip(wanted))
            {
                var m = new ManagedKdamond(k, rec.Index, ResolveSource(k)) { State = ManagedState.Running, KdamondPid = tree.Kdamonds[rec.Index].Pid, SpecHash = rec.SpecHash };
                AddOwned(m);
                await CommitAsync(m, cancellationToken).ConfigureAwait(false);
            }

            SaveOwnership();
            LogAdopted(wanted.Count);
            return;
        }

        if (!ownAll)
        {
            string others = string.Join(", ", foreignRunning);
            foreach ((KdamondConfig k, int i) in wanted.Select((k, i) => (k, i)))
            {
                AddOwned(new ManagedKdamond(k, -1 - i, ResolveSource(k))
                {
                    State = ManagedState.Failed,
                    LastError = $"kdamond(s) {others} run and were not started by this agent: nr_kdamonds cannot change while they run (EBUSY); observing them read-only instead",
                });
            }

            LogCannotStart(others);
            return;
        }

        // Our own leftovers (a crash with different config) may still run: stop them first.
        foreach (Kdamond k in tree.Kdamonds.Where(k => k.On))
        {
            await SendAsync(k.Index, StateCommand.Off, cancellationToken).ConfigureAwait(false);
        }

        int foreignIdle = tree.Kdamonds.Count(k => !ours.ContainsKey(k.Index));
        if (foreignIdle > 0)
        {
            LogOverwritingIdle(foreignIdle);
        }

        writer.EnsureKdamondCount(wanted.Count);
        for (int i = 0; i < wanted.Count; i++)
        {
            var m = new ManagedKdamond(wanted[i], i, ResolveSource(wanted[i]));
            AddOwned(m);
            await StartOneAsync(m, cancellationToken).ConfigureAwait(false);
        }

        SaveOwnership();
    }

    private static Dictionary<int, OwnedKdamond> AdoptableIndexes(DamonAdminTree tree, OwnershipRecord? record)
    {
        var result = new Dictionary<int, OwnedKdamond>();
        if (record is null)
        {
            return result;
        }

        foreach (OwnedKdamond o in record.Kdamonds)
        {
            // A running kdamond is ours only if it is the very thread we started (same pid).
            if (o.Index >= 0 && o.Index < tree.Kdamonds.Count && (!tree.Kdamonds[o.Index].On || tree.Kdamonds[o.Index].Pid == o.KdamondPid))
            {
                result[o.Index] = o;
            }
        }

        return result;
    }

    private RegionSource ResolveSource(KdamondConfig k)
    {
        if (k.RegionSource != RegionSource.Auto)
        {
            return k.RegionSource;
        }

        return Features.HasTracepoint("damon_aggregated") ? RegionSource.Tracepoint : RegionSource.TriedRegions;
    }

    private static int MonitorSchemeCount(ManagedKdamond m) => m.RegionSource switch
    {
        RegionSource.TriedRegions => Math.Max(1, m.Config.Targets.Count),
        RegionSource.TriedBytes => Math.Max(1, m.Config.Targets.Count) * m.BucketSchemes!.Schemes.Count,
        _ => 0,
    };

    private async Task StartOneAsync(ManagedKdamond m, CancellationToken cancellationToken)
    {
        if (!resolver.TryResolve(m.Config, out IReadOnlyList<ResolvedTarget> targets, out string reason))
        {
            if (m.State != ManagedState.WaitingForTarget || m.LastError != reason)
            {
                LogWaiting(m.Config.Name, reason);
            }

            m.State = ManagedState.WaitingForTarget;
            m.LastError = reason;
            return;
        }

        try
        {
            m.Targets = targets;
            KdamondSpec spec = BuildSpec(m);
            writer.WriteKdamond(m.Index, spec);
            await SendAsync(m.Index, StateCommand.On, cancellationToken).ConfigureAwait(false);
            m.SpecHash = Hash(spec);
            m.KdamondPid = reader.ReadPid(m.Index);
            m.State = ManagedState.Running;
            m.LastError = null;
            LogStarted(m.Config.Name, m.Index, m.RegionSource.ToString(), m.KdamondPid);
        }
        catch (Exception e) when (e is KernelIoException or KernelFormatException or StateCommandException or NotSupportedException or InvalidOperationException)
        {
            m.State = ManagedState.Failed;
            m.LastError = $"starting kdamond {m.Config.Name} (kdamonds/{m.Index}) failed: {e.Message}";
            LogStartFailed(m.Config.Name, e.Message);
        }
    }

    private async Task CommitAsync(ManagedKdamond m, CancellationToken cancellationToken)
    {
        if (!resolver.TryResolve(m.Config, out IReadOnlyList<ResolvedTarget> targets, out string reason))
        {
            m.LastError = reason;
            return;
        }

        m.Targets = targets;
        KdamondSpec spec = BuildSpec(m);
        string hash = Hash(spec);
        if (hash == m.SpecHash)
        {
            return;
        }

        try
        {
            writer.WriteKdamond(m.Index, spec);
            await SendAsync(m.Index, StateCommand.Commit, cancellationToken).ConfigureAwait(false);
            m.SpecHash = hash;
            m.LastError = null;
            LogCommitted(m.Config.Name, m.Index);
        }
        catch (Exception e) when (e is KernelIoException or KernelFormatException or StateCommandException or NotSupportedException)
        {
            m.LastError = $"commit of kdamond {m.Config.Name} failed: {e.Message}";
            LogStartFailed(m.Config.Name, e.Message);
        }
    }

    private KdamondSpec BuildSpec(ManagedKdamond m)
    {
        if (m.RegionSource == RegionSource.TriedBytes)
        {
            if (Features.TriedRegionsTotalBytes == false)
            {
                throw new NotSupportedException($"kdamond {m.Config.Name}: region_source tried_bytes needs tried_regions/total_bytes (6.3+); use tried_regions or tracepoint");
            }

            IntervalsConfig iv = m.Config.Intervals;
            m.BucketSchemes = new Analysis.IdleBucketSchemes(Config.Metrics.Access, new Intervals(iv.SampleUs, iv.AggrUs, iv.UpdateUs));
        }

        m.MonitorSchemes = [.. Enumerable.Range(KdamondSpecBuilder.MonitorSchemeIndex(m.Config), MonitorSchemeCount(m))];
        int targetsFiltered = m.RegionSource == RegionSource.TriedBytes ? m.Config.Targets.Count : m.MonitorSchemes.Count;
        if (targetsFiltered > 1 && Features.Filters == false && Features.CoreOpsFilters != true)
        {
            throw new NotSupportedException($"kdamond {m.Config.Name}: {(m.RegionSource == RegionSource.TriedBytes ? "tried_bytes" : "tried_regions")} with several targets needs DAMOS target filters (6.6+); use region_source: tracepoint or one target per kdamond");
        }

        return KdamondSpecBuilder.Build(m.Config, m.Targets, MonitorSchemeCount(m), Features.RefreshMs == true, Config.Collection.CommandTimeout, m.BucketSchemes);
    }

    private async Task StopOwnedAsync(CancellationToken cancellationToken)
    {
        foreach (ManagedKdamond m in Owned)
        {
            if (m.Index < 0)
            {
                continue;
            }

            try
            {
                if (reader.ReadState(m.Index))
                {
                    await SendAsync(m.Index, StateCommand.Off, cancellationToken).ConfigureAwait(false);
                    LogStopped(m.Config.Name, m.Index);
                }
            }
            catch (Exception e) when (e is KernelIoException or StateCommandException)
            {
                LogStopFailed(m.Config.Name, e.Message);
            }

            m.State = ManagedState.Stopped;
        }
    }

    private Task<CommandResult> SendAsync(int index, StateCommand command, CancellationToken cancellationToken) =>
        commands.SendAsync(index, command, cancellationToken);

    private bool DamonStatEnabled()
    {
        try
        {
            return new Damon.Modules.DamonModuleReader(env.Fs, env.Roots).ReadDamonStat()?.Enabled == true;
        }
        catch (KernelIoException)
        {
            return false;
        }
    }

    private void AddOwned(ManagedKdamond m)
    {
        lock (owned)
        {
            owned.Add(m);
        }
    }

    private OwnershipRecord? LoadOwnership()
    {
        try
        {
            return ownership.Load();
        }
        catch (SafeFileException e)
        {
            LogOwnershipUnreadable(e.Message);
            return null;
        }
    }

    private void SaveOwnership()
    {
        OwnedKdamond[] list = [.. Owned.Where(m => m.Index >= 0).Select(m => new OwnedKdamond(m.Index, m.Config.Name, m.KdamondPid, m.SpecHash))];
        try
        {
            ownership.Save(new OwnershipRecord(Environment.ProcessId, list));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogOwnershipNotSaved(ownership.FilePath, e is SafeFileException s ? s.Reason : e.Message);
        }
    }

    internal static string Hash(KdamondSpec spec) => Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(spec, KdamondSpecJsonContext.Default.KdamondSpec)))[..16];
}
