using System.Security.Cryptography;
using System.Text.Json;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Damon.Features;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Modules;
using DamonOtel.Damon.Sysfs;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>
/// Owns the kdamonds the config asks for: detects what the kernel supports, starts them (or
/// re-adopts them after a crash), applies config changes with `commit`, restarts a kdamond
/// whose target process came back, and stops them on exit. It never writes to a kdamond it
/// did not start, and refuses to touch nr_kdamonds while somebody else's kdamond runs.
/// Before the first `on` it checks the kernel's exclusive DAMON users (DAMON_STAT,
/// DAMON_RECLAIM, DAMON_LRU_SORT): while one runs no `on` can succeed, so the kdamonds are
/// reported blocked at once with the remedies, unless `kernel_modules.take_over` names the
/// module, which is then switched off first and back on at exit.
/// </summary>
internal sealed partial class KdamondManager : IDisposable
{
    // DAMON_STAT's ops update interval (also the kernel's default): paddr has no mappings to follow.
    private const ulong DamonStatUpdateUs = 60_000_000;

    // Switching a module takes 3-48 ms on 7.3 under TCG (synchronous); 100 x 20 ms bounds the rare slow case.
    private const int ModuleSettlePolls = 100;
    private static readonly TimeSpan ModuleSettlePoll = TimeSpan.FromMilliseconds(20);

    private readonly KernelEnvironment env;
    private readonly ILogger logger;
    private readonly DamonSysfsReader reader;
    private readonly DamonSysfsWriter writer;
    private readonly TargetResolver resolver;
    private readonly OwnershipStore ownership;
    private readonly ExclusiveModules modules;
    private readonly List<ManagedKdamond> owned = [];

    // Exclusive modules this agent switched off (also those a crashed run of it did): switched
    // back on at the next clean stop. Kept in the ownership record.
    private readonly SortedSet<string> switchedOff = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim gate = new(1, 1);
    private StateCommands commands;

    public KdamondManager(KernelEnvironment env, AgentConfig config, ILogger logger)
    {
        this.env = env;
        this.logger = logger;
        Config = config;
        reader = NewReader(env, config);
        writer = new DamonSysfsWriter(env.Fs, env.Roots);
        resolver = new TargetResolver(env.Fs, env.Roots);
        ownership = new OwnershipStore(config.StateDir);
        modules = new ExclusiveModules(env.Fs, env.Roots);
        commands = NewCommands(config);
    }

    public AgentConfig Config { get; private set; }

    /// <summary>
    /// Why the configured kdamonds could not start, when an exclusive DAMON module holds DAMON
    /// (the one message, with its remedies); null otherwise.
    /// </summary>
    public string? Blocker { get; private set; }

    /// <summary>The exclusive modules this agent switched off and will switch back on at exit.</summary>
    public IReadOnlyCollection<string> ModulesSwitchedOff
    {
        get
        {
            lock (switchedOff)
            {
                return [.. switchedOff];
            }
        }
    }

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

    /// <summary>
    /// The sysfs reader every part of the agent (and `snapshot`) uses: EBUSY on state and pid
    /// is retried as long as a state command may take, since another writer's commands can
    /// hold the DAMON sysfs mutex back to back for seconds (docs/kernel-7x.md).
    /// </summary>
    public static DamonSysfsReader NewReader(KernelEnvironment env, AgentConfig config) =>
        new(env.Fs, env.Roots, pidRetryDelay: TimeSpan.FromMilliseconds(5), busyBudget: config.Collection.CommandTimeout);

    /// <summary>
    /// The kdamonds to run: the configured ones, or the default whole-memory one. With
    /// `default_monitoring: auto` nothing is started while another kdamond or an exclusive
    /// DAMON module (DAMON_STAT, ...) runs: the agent observes those instead.
    /// </summary>
    public static IReadOnlyList<KdamondConfig> EffectiveKdamonds(AgentConfig config, DamonAdminTree tree, DamonFeatures features, bool exclusiveModuleRunning)
    {
        if (config.Kdamonds.Count > 0 || config.DefaultMonitoring == DefaultMonitoring.Off)
        {
            return config.Kdamonds;
        }

        bool othersRun = tree.Kdamonds.Any(k => k.On);
        if (config.DefaultMonitoring == DefaultMonitoring.Auto && (othersRun || exclusiveModuleRunning))
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
            IReadOnlyList<KdamondConfig> wanted = EffectiveKdamonds(newConfig, tree, Features, ExclusiveModuleRunning());
            commands = NewCommands(newConfig);
            List<ManagedKdamond> current;
            lock (owned)
            {
                current = [.. owned];
            }

            // Still blocked by the same module, same kdamonds (one edit reported by both the file
            // watcher and SIGHUP): nothing to restart, and the reason was said once already.
            if (Blocker is not null && current.Count == wanted.Count && current.All(m => m.State == ManagedState.Blocked) &&
                current.Zip(wanted).All(p => p.First.Config.Name == p.Second.Name))
            {
                var refused = RunningExclusiveModules().Where(m => !newConfig.KernelModules.TakeOver.Contains(m.Name)).ToList();
                if (refused.Count > 0 && BlockedMessage(wanted, refused, newConfig.Attach.Enabled) == Blocker)
                {
                    Config = newConfig;
                    for (int i = 0; i < current.Count; i++)
                    {
                        current[i].Config = wanted[i];
                        current[i].RegionSource = ResolveSource(wanted[i]);
                    }

                    return;
                }
            }

            // In place only when all of them have their kdamond dir (not blocked, not refused).
            if (current.Count == wanted.Count && current.All(m => m.Index >= 0 && m.State != ManagedState.Blocked) &&
                current.Zip(wanted).All(p => p.First.Config.Name == p.Second.Name))
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
            if (m.State is ManagedState.Failed or ManagedState.Blocked)
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

    /// <summary>
    /// Stops the kdamonds this agent started (when the config says so) and forgets them; then
    /// switches the exclusive modules it took over back on (they cannot start while a sysfs
    /// kdamond runs, so only after ours are off).
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!Config.StopOnExit)
            {
                if (ModulesSwitchedOff.Count > 0)
                {
                    LogModulesStayOff(string.Join(", ", ModulesSwitchedOff.Select(ExclusiveModules.DisplayName)));
                }

                return;
            }

            await StopOwnedAsync(cancellationToken).ConfigureAwait(false);
            await RestoreModulesAsync(cancellationToken).ConfigureAwait(false);
            if (ModulesSwitchedOff.Count == 0)
            {
                try
                {
                    ownership.Clear();
                }
                catch (SafeFileException e)
                {
                    LogOwnershipNotSaved(ownership.FilePath, e.Reason);
                }
            }
            else
            {
                SaveRecord([]);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The exclusive DAMON modules that run now (reads their `enabled` only).</summary>
    public IReadOnlyList<ExclusiveModuleState> RunningExclusiveModules()
    {
        try
        {
            return modules.Running();
        }
        catch (Exception e) when (e is KernelIoException or KernelFormatException)
        {
            return [];
        }
    }

    /// <summary>
    /// The message for configured kdamonds that cannot start because exclusive modules run:
    /// names them and both remedies (the boot parameter, the config key).
    /// </summary>
    internal static string BlockedMessage(IReadOnlyList<KdamondConfig> kdamonds, IReadOnlyList<ExclusiveModuleState> running, bool observed)
    {
        string names = string.Join(" and ", running.Select(ExclusiveModules.Describe));
        string verb = running.Count == 1 ? "is" : "are";
        string boot = string.Join(" ", running.Select(m => m.Name + ".enabled=N"));
        string keys = string.Join(", ", running.Select(m => m.Name));
        return $"cannot start kdamond(s) {string.Join(", ", kdamonds.Select(k => k.Name))}: {names} {verb} running and holds DAMON exclusively " +
               $"(the kernel answers EBUSY to every 'on' while it runs). Remedies: boot with {boot} on the kernel command line, " +
               $"or let the agent switch it off while its kdamonds run with 'kernel_modules: {{take_over: [{keys}]}}' in the config" +
               (observed ? $". Meanwhile {string.Join(" and ", running.Select(m => m.DisplayName))} is observed read-only." : ".");
    }

    private StateCommands NewCommands(AgentConfig config) =>
        new(env.Fs, env.Roots, CommandOptions(config) with { RetryBusy = RetryBusy }, env.Time);

    // EBUSY on `on` while an exclusive module runs is permanent: stop retrying at once.
    private bool RetryBusy(int kdamond, StateCommand command) => command != StateCommand.On || RunningExclusiveModules().Count == 0;

    private bool ExclusiveModuleRunning() => RunningExclusiveModules().Count > 0;

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
        Blocker = null;
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
        lock (switchedOff)
        {
            switchedOff.UnionWith(record?.ModulesSwitchedOff ?? []);
        }

        var ours = AdoptableIndexes(tree, record);
        var foreignRunning = tree.Kdamonds.Where(k => k.On && !ours.ContainsKey(k.Index)).Select(k => k.Index).ToList();
        bool ownAll = foreignRunning.Count == 0;

        // Read-only until it is clear that something will be started: with nothing to start
        // (e.g. zero-config next to DAMON_STAT) the agent writes nothing to DAMON at all.
        Features = FeatureProbe.Detect(env.Fs, env.Roots);
        IReadOnlyList<ExclusiveModuleState> exclusive = RunningExclusiveModules();
        IReadOnlyList<KdamondConfig> wanted = EffectiveKdamonds(config, tree, Features, exclusive.Count > 0);
        lock (owned)
        {
            owned.Clear();
        }

        if (wanted.Count == 0)
        {
            return;
        }

        // Exclusive modules, before the first `on`: each `on` would answer EBUSY for as long as they run.
        var refused = exclusive.Where(m => !config.KernelModules.TakeOver.Contains(m.Name)).ToList();
        if (refused.Count > 0)
        {
            Block(wanted, BlockedMessage(wanted, refused, config.Attach.Enabled));
            return;
        }

        foreach (ExclusiveModuleState m in exclusive)
        {
            if (!await TakeOverAsync(m, record, wanted, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }

        if (ownAll && tree.Kdamonds.All(k => !k.On))
        {
            // Nothing runs: probing (a throwaway kdamond dir) is safe and answers what a read-only look cannot.
            Features = FeatureProbe.DetectByProbing(env.Fs, env.Roots, callerOwnsAllKdamonds: true);
            tree = reader.ReadKdamondHeads();
            wanted = EffectiveKdamonds(config, tree, Features, ExclusiveModuleRunning());
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

    private static int MonitorSchemeCount(ManagedKdamond m) =>
        m.RegionSource == RegionSource.TriedRegions ? Math.Max(1, m.Config.Targets.Count) : 0;

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
        catch (StateCommandException e) when (e.Command == StateCommand.On && e.Errno == Errno.EBUSY && RunningExclusiveModules() is { Count: > 0 } running)
        {
            // An exclusive module started after the check (or its `enabled` was unreadable then).
            m.State = ManagedState.Blocked;
            m.LastError = BlockedMessage([m.Config], running, Config.Attach.Enabled);
            if (Blocker is null)
            {
                Blocker = m.LastError;
                LogBlocked(m.LastError);
            }
        }
        catch (Exception e) when (e is KernelIoException or KernelFormatException or StateCommandException or NotSupportedException or InvalidOperationException)
        {
            m.State = ManagedState.Failed;
            m.LastError = $"starting kdamond {m.Config.Name} (kdamonds/{m.Index}) failed: {e.Message}";
            LogStartFailed(m.Config.Name, e.Message);
        }
    }

    /// <summary>Every wanted kdamond is reported blocked with the one message, logged once.</summary>
    private void Block(IReadOnlyList<KdamondConfig> wanted, string message)
    {
        Blocker = message;
        foreach ((KdamondConfig k, int i) in wanted.Select((k, i) => (k, i)))
        {
            AddOwned(new ManagedKdamond(k, -1 - i, ResolveSource(k)) { State = ManagedState.Blocked, LastError = message });
        }

        LogBlocked(message);
    }

    /// <summary>
    /// Switches an exclusive module named in kernel_modules.take_over off. The ownership record
    /// names it before the write, so that a crash right after still switches it back on at the
    /// next clean stop (Y on a module that is on is a no-op).
    /// </summary>
    private async Task<bool> TakeOverAsync(ExclusiveModuleState m, OwnershipRecord? record, IReadOnlyList<KdamondConfig> wanted, CancellationToken cancellationToken)
    {
        lock (switchedOff)
        {
            switchedOff.Add(m.Name);
        }

        SaveRecord(record?.Kdamonds ?? []);
        long started = env.Time.GetTimestamp();
        string? failure = null;
        try
        {
            modules.SetEnabled(m.Name, false);
            ExclusiveModuleState? now = await WaitForModuleAsync(m.Name, on: false, cancellationToken).ConfigureAwait(false);
            if (now is { Enabled: true } || now?.KdamondPid > 0)
            {
                failure = $"its 'enabled' still reads {(now.Enabled ? "Y" : "N")} (kdamond_pid {now.KdamondPid}) after writing N";
            }
        }
        catch (KernelIoException e)
        {
            failure = e.Message;
        }

        if (failure is not null)
        {
            lock (switchedOff)
            {
                switchedOff.Remove(m.Name);
            }

            SaveRecord(record?.Kdamonds ?? []);
            Block(wanted, $"cannot start kdamond(s) {string.Join(", ", wanted.Select(k => k.Name))}: cannot switch {ExclusiveModules.Describe(m)} off (kernel_modules.take_over): {failure}");
            return false;
        }

        LogTookOver(ExclusiveModules.Describe(m), m.Name, env.Time.GetElapsedTime(started).TotalMilliseconds);
        return true;
    }

    /// <summary>
    /// Switches the modules this agent (or a crashed run of it) switched off back on: after
    /// its kdamonds are off, since `enabled=Y` answers EBUSY while any sysfs kdamond runs.
    /// Checks that each took (a refused Y leaves the module off); those that did not stay in
    /// the record for the next clean stop.
    /// </summary>
    private async Task RestoreModulesAsync(CancellationToken cancellationToken)
    {
        if (ModulesSwitchedOff.Count == 0)
        {
            return;
        }

        long started = env.Time.GetTimestamp();
        await WaitForOwnedOffAsync(cancellationToken).ConfigureAwait(false);
        foreach (string name in ModulesSwitchedOff)
        {
            string display = ExclusiveModules.DisplayName(name);
            try
            {
                if (modules.Read(name) is null)
                {
                    LogModuleGone(display);
                }
                else
                {
                    modules.SetEnabled(name, true);
                    ExclusiveModuleState? now = await WaitForModuleAsync(name, on: true, cancellationToken).ConfigureAwait(false);
                    if (now is not { Enabled: true })
                    {
                        LogRestoreFailed(display, $"'enabled' reads N after writing Y; write Y to {modules.EnabledPath(name)} once no kdamond runs");
                        continue;
                    }

                    LogRestored(ExclusiveModules.Describe(now), env.Time.GetElapsedTime(started).TotalMilliseconds);
                }
            }
            catch (Exception e) when (e is KernelIoException or KernelFormatException)
            {
                string hint = e is KernelIoException { Errno: Errno.EBUSY }
                    ? $"a kdamond still runs (the kernel refuses while any does); write Y to {modules.EnabledPath(name)} once none does"
                    : e.Message;
                LogRestoreFailed(display, hint);
                continue;
            }

            lock (switchedOff)
            {
                switchedOff.Remove(name);
            }
        }
    }

    // The module's state once it settled (N: kdamond_pid -1; Y: a kdamond pid), within a short bound.
    private async Task<ExclusiveModuleState?> WaitForModuleAsync(string name, bool on, CancellationToken cancellationToken)
    {
        ExclusiveModuleState? state = modules.Read(name);
        for (int i = 0; i < ModuleSettlePolls && state is not null && !Settled(state); i++)
        {
            await Task.Delay(ModuleSettlePoll, env.Time, cancellationToken).ConfigureAwait(false);
            state = modules.Read(name);
        }

        return state;

        bool Settled(ExclusiveModuleState s) => s.KdamondPid is not int pid ? s.Enabled == on : s.Enabled == on && (on ? pid > 0 : pid <= 0);
    }

    // `off` returns once the kdamond stopped on the kernels seen; this bounds the wait when it does not.
    private async Task WaitForOwnedOffAsync(CancellationToken cancellationToken)
    {
        foreach (ManagedKdamond m in Owned.Where(m => m.Index >= 0))
        {
            for (int i = 0; i < ModuleSettlePolls; i++)
            {
                try
                {
                    if (!reader.ReadState(m.Index))
                    {
                        break;
                    }
                }
                catch (KernelIoException e) when (e.IsNotFound)
                {
                    break;
                }

                await Task.Delay(ModuleSettlePoll, env.Time, cancellationToken).ConfigureAwait(false);
            }
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
        m.MonitorSchemes = [.. Enumerable.Range(KdamondSpecBuilder.MonitorSchemeIndex(m.Config), MonitorSchemeCount(m))];
        if (m.MonitorSchemes.Count > 1 && Features.Filters == false && Features.CoreOpsFilters != true)
        {
            throw new NotSupportedException($"kdamond {m.Config.Name}: tried_regions with several targets needs DAMOS target filters (6.6+); use region_source: tracepoint or one target per kdamond");
        }

        return KdamondSpecBuilder.Build(m.Config, m.Targets, MonitorSchemeCount(m), Features.RefreshMs == true, Config.Collection.CommandTimeout);
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

    private void SaveOwnership() =>
        SaveRecord([.. Owned.Where(m => m.Index >= 0).Select(m => new OwnedKdamond(m.Index, m.Config.Name, m.KdamondPid, m.SpecHash))]);

    private void SaveRecord(IReadOnlyList<OwnedKdamond> kdamonds)
    {
        try
        {
            ownership.Save(new OwnershipRecord(Environment.ProcessId, kdamonds, ModulesSwitchedOff.Count > 0 ? [.. ModulesSwitchedOff] : null));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogOwnershipNotSaved(ownership.FilePath, e is SafeFileException s ? s.Reason : e.Message);
        }
    }

    internal static string Hash(KdamondSpec spec) => Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(spec, KdamondSpecJsonContext.Default.KdamondSpec)))[..16];
}
