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
    private PageSamplingSlot? pageSampling;

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

    /// <summary>
    /// paddr page sampling (<see cref="PageSamplingSource"/>): keep a copy of target 0's latest
    /// regions for it and, when <paramref name="deferSummary"/>, let it publish that target's
    /// summary (free pages left out) instead of the source that read the regions.
    /// </summary>
    public void EnablePageSampling(bool deferSummary)
    {
        lock (gate)
        {
            pageSampling = new PageSamplingSlot(deferSummary);
        }
    }

    /// <summary>
    /// A new snapshot of one target, as read: summarised and published here unless page sampling
    /// takes it over. <paramref name="sourceDir"/> names the kernel directory the regions came
    /// from in the error when they cannot be added up (malformed kernel values).
    /// </summary>
    public void OfferSnapshot(int targetIndex, ReadOnlySpan<DamonRegion> regions, Intervals snapshotIntervals, ulong addrUnit, AccessSummarizer summarizer, string? sourceDir = null)
    {
        ArgumentNullException.ThrowIfNull(summarizer);
        bool defer = false;
        lock (gate)
        {
            if (pageSampling is { } slot && targetIndex == 0)
            {
                slot.Keep(regions, snapshotIntervals, addrUnit);
                defer = slot.DeferSummary;
            }
        }

        if (!defer)
        {
            UpdateAccess(targetIndex, sourceDir is null
                ? summarizer.Summarize(regions, snapshotIntervals, addrUnit)
                : Cli.SnapshotTaker.Summarize(summarizer, regions, snapshotIntervals, addrUnit, sourceDir));
        }
    }

    /// <summary>
    /// Copies target 0's latest regions into <paramref name="buffer"/> (grown when too small) if
    /// they are newer than <paramref name="sequence"/>; false when there is nothing new.
    /// </summary>
    public bool TryTakeRegions(ref long sequence, ref DamonRegion[] buffer, out int count, out Intervals snapshotIntervals, out ulong addrUnit)
    {
        lock (gate)
        {
            count = 0;
            snapshotIntervals = default;
            addrUnit = 1;
            if (pageSampling is not { } slot || slot.Sequence == sequence)
            {
                return false;
            }

            if (buffer.Length < slot.Count)
            {
                buffer = new DamonRegion[Math.Max(slot.Count, buffer.Length * 2)];
            }

            slot.Regions.AsSpan(0, slot.Count).CopyTo(buffer);
            count = slot.Count;
            snapshotIntervals = slot.Intervals;
            addrUnit = slot.AddrUnit;
            sequence = slot.Sequence;
            return true;
        }
    }

    /// <summary>A page-sampling pass filled <paramref name="table"/> (already swapped): publish it.</summary>
    public void UpdatePages(PageOwnershipTable table)
    {
        lock (gate)
        {
            if (pageSampling is { } slot)
            {
                slot.Table = table;
                slot.TableAtTicks = store.Now();
                PublishLocked();
            }
        }
    }

    /// <summary>Marks the kdamond down and forgets its access data (its target exited, or it stopped).</summary>
    public void MarkDown()
    {
        lock (gate)
        {
            up = false;
            pid = -1;
            if (pageSampling is { } slot)
            {
                slot.Table = null;
            }

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

        PageOwnershipTable? pages = pageSampling is { Table: { } table } ps && store.TimeProvider.GetElapsedTime(ps.TableAtTicks) <= ObservationStore.StaleAfterIntervals * expected
            ? table
            : null;
        store.Publish(new KdamondObservation(Source, Name, up, cpuSeconds, intervals, targetObservations, schemes, now, expected) { Pages = pages, DamonStat = damonStat });
    }

    private sealed class PageSamplingSlot(bool deferSummary)
    {
        public bool DeferSummary { get; } = deferSummary;

        public DamonRegion[] Regions { get; private set; } = [];

        public int Count { get; private set; }

        public Intervals Intervals { get; private set; }

        public ulong AddrUnit { get; private set; } = 1;

        public long Sequence { get; private set; }

        public PageOwnershipTable? Table { get; set; }

        public long TableAtTicks { get; set; }

        public void Keep(ReadOnlySpan<DamonRegion> regions, Intervals snapshotIntervals, ulong addrUnit)
        {
            if (Regions.Length < regions.Length)
            {
                Regions = new DamonRegion[Math.Max(regions.Length, Regions.Length * 2)];
            }

            regions.CopyTo(Regions);
            Count = regions.Length;
            Intervals = snapshotIntervals;
            AddrUnit = addrUnit;
            Sequence++;
        }
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
