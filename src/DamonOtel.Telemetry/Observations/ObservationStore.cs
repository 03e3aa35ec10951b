namespace DamonOtel.Telemetry.Observations;

/// <summary>The state of one source as far as self-monitoring is concerned.</summary>
/// <param name="LastSuccessTicks">TimeProvider timestamp of the last successful collection, null before the first.</param>
public sealed record SourceState(string Source, bool LastCollectionSucceeded, long? LastSuccessTicks, Exception? LastError);

/// <summary>An immutable view of the store: what one metrics collection reads.</summary>
public sealed class StoreSnapshot
{
    internal StoreSnapshot(
        IReadOnlyDictionary<(string Source, string Kdamond), KdamondObservation> kdamonds,
        IReadOnlyDictionary<string, SourceState> sources)
    {
        KdamondsByKey = kdamonds;
        Sources = sources;
        Kdamonds = [.. kdamonds.OrderBy(k => k.Key.Kdamond, StringComparer.Ordinal).ThenBy(k => k.Key.Source, StringComparer.Ordinal).Select(k => k.Value)];
    }

    public static StoreSnapshot Empty { get; } = new(new Dictionary<(string, string), KdamondObservation>(), new Dictionary<string, SourceState>());

    /// <summary>All kdamond observations, ordered by kdamond then source.</summary>
    public IReadOnlyList<KdamondObservation> Kdamonds { get; }

    public IReadOnlyDictionary<string, SourceState> Sources { get; }

    internal IReadOnlyDictionary<(string Source, string Kdamond), KdamondObservation> KdamondsByKey { get; }
}

/// <summary>Receives the events that feed synchronous instruments (WSS histogram, self-metrics).</summary>
internal interface IObservationSink
{
    void OnNewAccessSnapshot(KdamondObservation kdamond, TargetObservation target);

    void OnCollection(string source, TimeSpan duration, bool failed, bool firstSeen);
}

/// <summary>
/// Thread-safe latest-state store between the collection loop and the instruments. Writers
/// serialise on a lock and publish a new immutable <see cref="StoreSnapshot"/>; readers
/// (observable callbacks, health checks) take <see cref="Current"/> without locking.
/// </summary>
public sealed class ObservationStore
{
    /// <summary>Data older than this many expected intervals is stale and not reported.</summary>
    public const int StaleAfterIntervals = 3;

    private readonly Lock writeLock = new();
    private volatile StoreSnapshot current = StoreSnapshot.Empty;
    private volatile IObservationSink[] sinks = [];

    public ObservationStore(TimeProvider? timeProvider = null)
    {
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    public TimeProvider TimeProvider { get; }

    public StoreSnapshot Current => current;

    /// <summary>A timestamp for <see cref="KdamondObservation.ObservedAtTicks"/>.</summary>
    public long Now() => TimeProvider.GetTimestamp();

    /// <summary>Replaces the observation of (Source, Kdamond). Records the WSS histogram for targets whose AccessSequence changed.</summary>
    public void Publish(KdamondObservation observation)
    {
        ArgumentNullException.ThrowIfNull(observation);
        lock (writeLock)
        {
            var current = this.current;
            var key = (observation.Source, observation.Kdamond);
            current.KdamondsByKey.TryGetValue(key, out var previous);
            var kdamonds = new Dictionary<(string, string), KdamondObservation>(current.KdamondsByKey) { [key] = observation };
            this.current = new StoreSnapshot(kdamonds, current.Sources);

            var sinks = this.sinks;
            if (sinks.Length == 0)
            {
                return;
            }

            foreach (var target in observation.Targets)
            {
                if (target.Access is null)
                {
                    continue;
                }

                // A kdamond restart may reset the sequence: any change is a new snapshot.
                var before = previous?.Targets.FirstOrDefault(t => t.Target == target.Target);
                if (before is not null && before.AccessSequence == target.AccessSequence)
                {
                    continue;
                }

                foreach (var sink in sinks)
                {
                    sink.OnNewAccessSnapshot(observation, target);
                }
            }
        }
    }

    /// <summary>Forgets every kdamond published by <paramref name="source"/> and the source itself.</summary>
    public void RemoveSource(string source)
    {
        lock (writeLock)
        {
            var current = this.current;
            var kdamonds = current.KdamondsByKey.Where(kv => kv.Key.Source != source).ToDictionary(kv => kv.Key, kv => kv.Value);
            var sources = current.Sources.Where(kv => kv.Key != source).ToDictionary(kv => kv.Key, kv => kv.Value);
            this.current = new StoreSnapshot(kdamonds, sources);
        }
    }

    /// <summary>Self-monitoring: one collection by <paramref name="source"/> took <paramref name="duration"/> and failed with <paramref name="error"/> (null = success).</summary>
    public void RecordCollection(string source, TimeSpan duration, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(source);
        lock (writeLock)
        {
            var current = this.current;
            var firstSeen = !current.Sources.TryGetValue(source, out var previous);
            var state = error is null
                ? new SourceState(source, true, Now(), null)
                : new SourceState(source, false, previous?.LastSuccessTicks, error);
            var sources = new Dictionary<string, SourceState>(current.Sources) { [source] = state };
            this.current = new StoreSnapshot(current.KdamondsByKey, sources);
            foreach (var sink in sinks)
            {
                sink.OnCollection(source, duration, error is not null, firstSeen);
            }
        }
    }

    /// <summary>True when the observation is older than <see cref="StaleAfterIntervals"/> x its expected interval.</summary>
    public bool IsStale(KdamondObservation observation)
    {
        ArgumentNullException.ThrowIfNull(observation);
        return observation.ExpectedInterval > TimeSpan.Zero &&
               TimeProvider.GetElapsedTime(observation.ObservedAtTicks) > StaleAfterIntervals * observation.ExpectedInterval;
    }

    /// <summary>Seconds since the source's last success, or null before the first.</summary>
    public double? SnapshotAgeSeconds(SourceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.LastSuccessTicks is { } t ? TimeProvider.GetElapsedTime(t).TotalSeconds : null;
    }

    internal void AddSink(IObservationSink sink)
    {
        lock (writeLock)
        {
            sinks = [.. sinks, sink];
        }
    }

    internal void RemoveSink(IObservationSink sink)
    {
        lock (writeLock)
        {
            sinks = [.. sinks.Where(s => !ReferenceEquals(s, sink))];
        }
    }
}
