using DamonOtel.Analysis;
using DamonOtel.Damon.Model;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Everything the agent currently knows about one kdamond (or DAMON module), fed by up to two
/// sources (its sysfs collector and the shared tracepoint reader) and republished as one
/// <see cref="KdamondObservation"/> whenever any part changes. Thread-safe.
/// </summary>
internal sealed class KdamondState
{
    private readonly Lock gate = new();
    private readonly ObservationStore store;
    private readonly TargetSlot[] targets;
    private SchemeObservation[] schemes = [];
    private bool up;
    private double? cpuSeconds;
    private Intervals? intervals;
    private int pid = -1;
    private DamonStatPublished? damonStat;
    private long lastStatusTicks;
    private TimeSpan cadence;

    public KdamondState(ObservationStore store, string source, string name, int index, IReadOnlyList<string> targetNames, TimeSpan collectionInterval)
    {
        this.store = store;
        Source = source;
        Name = name;
        Index = index;
        CollectionInterval = collectionInterval;
        targets = [.. targetNames.Select(t => new TargetSlot(t))];
    }

    public string Source { get; }

    public string Name { get; }

    /// <summary>kdamonds/&lt;Index&gt;, or -1 for a DAMON module.</summary>
    public int Index { get; }

    public TimeSpan CollectionInterval { get; }

    public int Pid
    {
        get
        {
            lock (gate)
            {
                return pid;
            }
        }
    }

    public Intervals? Intervals
    {
        get
        {
            lock (gate)
            {
                return intervals;
            }
        }
    }

    public int TargetCount => targets.Length;

    public string TargetName(int index) => index < targets.Length ? targets[index].Name : index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Updates the kdamond-level facts (from sysfs / module params / procfs) and republishes.</summary>
    public void UpdateStatus(bool isUp, int kdamondPid, double? cpu, Intervals? currentIntervals, IReadOnlyList<SchemeObservation> schemeObservations, IReadOnlyList<ulong?>? rssBytes)
    {
        lock (gate)
        {
            long now = store.Now();
            if (lastStatusTicks != 0)
            {
                cadence = store.TimeProvider.GetElapsedTime(lastStatusTicks, now);
            }

            lastStatusTicks = now;
            up = isUp;
            pid = kdamondPid;
            cpuSeconds = cpu;
            intervals = currentIntervals ?? intervals;
            schemes = [.. schemeObservations];
            if (rssBytes is not null)
            {
                for (int i = 0; i < targets.Length && i < rssBytes.Count; i++)
                {
                    targets[i].Rss = rssBytes[i];
                }
            }

            PublishLocked();
        }
    }

    /// <summary>DAMON_STAT's own published figures (null when it is off: its parameters then hold stale values).</summary>
    public void UpdateDamonStat(DamonStatPublished? published)
    {
        lock (gate)
        {
            damonStat = published;
            PublishLocked();
        }
    }

    /// <summary>A new snapshot of one target (one aggregation interval, or one tried_regions walk).</summary>
    public void UpdateAccess(int targetIndex, AccessSummary summary)
    {
        lock (gate)
        {
            if ((uint)targetIndex >= (uint)targets.Length)
            {
                return;
            }

            TargetSlot slot = targets[targetIndex];
            slot.Access = summary;
            slot.Sequence++;
            slot.AccessAtTicks = store.Now();
            intervals = summary.Intervals;
            PublishLocked();
        }
    }

    /// <summary>Marks the kdamond down and forgets its access data (its target exited, or it stopped).</summary>
    public void MarkDown()
    {
        lock (gate)
        {
            up = false;
            pid = -1;
            damonStat = null;
            foreach (TargetSlot t in targets)
            {
                t.Access = null;
                t.Rss = null;
            }

            PublishLocked();
        }
    }

    private void PublishLocked()
    {
        long now = store.Now();

        // The tracepoint feeds every aggregation, tried_regions every collection: expect
        // whichever is slower, so that an auto-tuned long aggregation is not called stale.
        // A collection comes every interval plus its own duration, which on a slow machine
        // (qemu TCG: 4-6 s for a 2 s interval) is the larger part: expect the measured cadence.
        TimeSpan aggr = intervals is { } iv ? TimeSpan.FromMicroseconds(iv.AggrUs) : TimeSpan.Zero;
        TimeSpan expected = aggr > CollectionInterval ? aggr : CollectionInterval;
        expected = cadence > expected ? cadence : expected;
        var targetObservations = new TargetObservation[targets.Length];
        for (int i = 0; i < targets.Length; i++)
        {
            TargetSlot t = targets[i];
            bool fresh = t.Access is not null && store.TimeProvider.GetElapsedTime(t.AccessAtTicks) <= ObservationStore.StaleAfterIntervals * expected;
            targetObservations[i] = new TargetObservation(t.Name, fresh ? t.Access : null, t.Sequence, t.Rss);
        }

        store.Publish(new KdamondObservation(Source, Name, up, cpuSeconds, intervals, targetObservations, schemes, now, expected) { DamonStat = damonStat });
    }

    private sealed class TargetSlot(string name)
    {
        public string Name { get; } = name;

        public AccessSummary? Access { get; set; }

        public long Sequence { get; set; }

        public long AccessAtTicks { get; set; }

        public ulong? Rss { get; set; }
    }
}
