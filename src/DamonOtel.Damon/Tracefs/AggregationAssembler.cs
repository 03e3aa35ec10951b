using System.Diagnostics;
using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Tracefs;

/// <summary>
/// Turns the per-region damon_aggregated events into one <see cref="RegionSnapshot"/> per
/// (kdamond, target) and aggregation interval. The event carries no kdamond index: the
/// emitting pid is mapped through the caller's pid → kdamond map (kdamonds/&lt;K&gt;/pid).
/// All regions of one aggregation arrive back-to-back in ascending address order, each
/// carrying the same nr_regions, so an aggregation is complete after nr_regions events and a
/// new one has started when nr_regions changes or the start address goes back below the
/// previous region's end (then the unfinished one is dropped and counted).
/// </summary>
public sealed class AggregationAssembler
{
    private readonly Func<int, Intervals> intervalsOf;
    private readonly Func<int, ulong> addrUnitOf;
    private readonly Func<ulong, long> capturedAt;
    private readonly Dictionary<int, int> pidToKdamond = [];
    private readonly Dictionary<(int Kdamond, ulong TargetId), Pending> pending = [];
    private readonly Dictionary<int, long> unknownPids = [];
    private readonly Dictionary<int, ulong> tunedSampleUs = [];
    private readonly Dictionary<(int Kdamond, ulong TargetId), int> opaqueTargets = [];

    // Consecutive events almost always belong to the same kdamond and target.
    private int lastPid = -1;
    private int lastKdamond = -1;
    private Pending? last;

    /// <param name="intervalsOf">Configured intervals of a kdamond (by index) for the snapshots.</param>
    /// <param name="addrUnitOf">addr_unit of a kdamond's context; null means 1.</param>
    /// <param name="capturedAt">Maps the trace timestamp (ns) of an aggregation's last event to
    /// <see cref="RegionSnapshot.CapturedAtTicks"/>; null means <see cref="Stopwatch.GetTimestamp"/> at completion.</param>
    public AggregationAssembler(Func<int, Intervals> intervalsOf, Func<int, ulong>? addrUnitOf = null, Func<ulong, long>? capturedAt = null)
    {
        ArgumentNullException.ThrowIfNull(intervalsOf);
        this.intervalsOf = intervalsOf;
        this.addrUnitOf = addrUnitOf ?? (static _ => 1);
        this.capturedAt = capturedAt ?? (static _ => Stopwatch.GetTimestamp());
    }

    /// <summary>Snapshots completed so far.</summary>
    public long CompletedSnapshots { get; private set; }

    /// <summary>Aggregations abandoned before all their nr_regions events arrived (lost lines).</summary>
    public long DroppedSnapshots { get; private set; }

    /// <summary>Events whose pid is not in the map (counted per pid in <see cref="UnknownPids"/>).</summary>
    public long UnknownPidEvents { get; private set; }

    /// <summary>
    /// Events per unmapped pid. Such a pid may be a DAMON_RECLAIM / LRU_SORT / STAT kdamond:
    /// compare with the module's kdamond_pid parameter and add it with <see cref="MapPid"/>.
    /// </summary>
    public IReadOnlyDictionary<int, long> UnknownPids => unknownPids;

    /// <summary>Replaces the whole pid → kdamond index map (call when kdamonds start or stop).</summary>
    public void SetPidMap(IEnumerable<KeyValuePair<int, int>> map)
    {
        ArgumentNullException.ThrowIfNull(map);
        pidToKdamond.Clear();
        foreach (KeyValuePair<int, int> kv in map)
        {
            pidToKdamond[kv.Key] = kv.Value;
        }

        lastPid = -1;
        last = null;
    }

    /// <summary>Adds or changes one pid's kdamond index, and forgets its unknown-pid count.</summary>
    public void MapPid(int pid, int kdamondIndex)
    {
        pidToKdamond[pid] = kdamondIndex;
        _ = unknownPids.Remove(pid);
        lastPid = -1;
        last = null;
    }

    /// <summary>The sampling interval last reported by damon_monitor_intervals_tune for a kdamond, if any.</summary>
    public ulong? TunedSampleUs(int kdamondIndex) => tunedSampleUs.TryGetValue(kdamondIndex, out ulong v) ? v : null;

    /// <summary>Forgets a tuned sampling interval (e.g. after the kdamond was restarted).</summary>
    public void ResetTunedSampleUs(int kdamondIndex) => tunedSampleUs.Remove(kdamondIndex);

    /// <summary>The intervals a snapshot of this kdamond gets: configured ones, with the tuned sample interval if any.</summary>
    public Intervals EffectiveIntervals(int kdamondIndex)
    {
        Intervals configured = intervalsOf(kdamondIndex);
        if (!tunedSampleUs.TryGetValue(kdamondIndex, out ulong sample) || configured.SampleUs == 0)
        {
            return configured;
        }

        // aggr = sample × the configured aggr/sample ratio (the tuner keeps the ratio).
        ulong ratio = configured.AggrUs / configured.SampleUs;
        return new Intervals(sample, sample * ratio, configured.UpdateUs);
    }

    /// <summary>
    /// Feeds one event. damon_aggregated events are assembled (returns the completed snapshot
    /// or null); damon_monitor_intervals_tune updates the kdamond's sample interval; others are ignored.
    /// </summary>
    public RegionSnapshot? Add(in TraceEvent ev)
    {
        switch (ev.Kind)
        {
            case TraceEventKind.DamonAggregated:
                return AddRegion(ev.Pid, ev.TimestampNs, ev.TargetId, ev.NrRegions, new DamonRegion(ev.Start, ev.End, ev.NrAccesses, ev.Age));
            case TraceEventKind.MonitorIntervalsTune:
                if (TryKdamond(ev.Pid, out int k))
                {
                    tunedSampleUs[k] = ev.SampleUs;
                }

                return null;
            default:
                return null;
        }
    }

    /// <summary>Feeds one damon_aggregated region; returns a snapshot when this completed one.</summary>
    public RegionSnapshot? AddRegion(int pid, ulong timestampNs, ulong targetId, uint nrRegions, DamonRegion region)
    {
        if (!TryKdamond(pid, out int kdamond))
        {
            return null;
        }

        Pending? p = last;
        if (p is null || p.Kdamond != kdamond || p.TargetId != targetId)
        {
            if (!pending.TryGetValue((kdamond, targetId), out p))
            {
                p = new Pending(kdamond, targetId, TargetIndexOf(kdamond, targetId));
                pending.Add((kdamond, targetId), p);
            }

            last = p;
        }

        if (region.End < region.Start)
        {
            // Never printed by the kernel (a corrupt page or line): drop the aggregation as if
            // a line were lost, rather than hand the summarizer a negative size.
            DroppedSnapshots += p.Count > 0 ? 1 : 0;
            p.Count = 0;
            p.Resync = true;
            return null;
        }

        bool newAggregation = nrRegions != p.Expected || region.Start < p.LastEnd;
        if (p.Resync)
        {
            // Events were lost: skip until an aggregation visibly starts again.
            if (!newAggregation)
            {
                p.LastEnd = region.End;
                return null;
            }

            p.Resync = false;
        }
        else if (p.Count > 0 && newAggregation)
        {
            // A new aggregation began before the previous one was complete: a line was lost.
            p.Count = 0;
            DroppedSnapshots++;
        }

        if (nrRegions == 0)
        {
            return null;
        }

        if (p.Count == 0)
        {
            p.Expected = nrRegions;
        }

        // Grown by the regions that arrive, not by nr_regions: a garbage nr_regions of 2^32-1
        // must not allocate 100 GB up front.
        if (p.Count == p.Buffer.Length)
        {
            var grown = new DamonRegion[(int)Math.Min(Math.Max(16, (long)p.Buffer.Length * 2), Array.MaxLength)];
            p.Buffer.CopyTo(grown, 0);
            p.Buffer = grown;
        }

        p.Buffer[p.Count++] = region;
        p.LastEnd = region.End;
        if (p.Count < p.Expected)
        {
            return null;
        }

        p.Count = 0;
        CompletedSnapshots++;
        DamonRegion[] regions = p.Buffer.AsSpan(0, (int)p.Expected).ToArray();
        return new RegionSnapshot(kdamond, 0, p.TargetIndex, EffectiveIntervals(kdamond), regions, addrUnitOf(kdamond), capturedAt(timestampNs));
    }

    /// <summary>
    /// Drops every unfinished aggregation after the trace buffer lost events; returns how many.
    /// Until a target's regions visibly start over (address wraps back or nr_regions changes)
    /// its events are skipped, since the lost ones may have been the start of an aggregation.
    /// </summary>
    public int DropIncomplete()
    {
        int n = 0;
        foreach (Pending p in pending.Values)
        {
            p.Resync = true;
            if (p.Count > 0)
            {
                p.Count = 0;
                n++;
            }
        }

        DroppedSnapshots += n;
        return n;
    }

    private bool TryKdamond(int pid, out int kdamond)
    {
        if (pid == lastPid)
        {
            kdamond = lastKdamond;
            return true;
        }

        if (pidToKdamond.TryGetValue(pid, out kdamond))
        {
            lastPid = pid;
            lastKdamond = kdamond;
            return true;
        }

        UnknownPidEvents++;
        unknownPids[pid] = unknownPids.GetValueOrDefault(pid) + 1;
        return false;
    }

    // Since 5.17 target_id is the target's index; 5.15/5.16 printed an opaque kernel id,
    // which becomes an ordinal in order of first appearance.
    private int TargetIndexOf(int kdamond, ulong targetId)
    {
        if (targetId <= int.MaxValue)
        {
            return (int)targetId;
        }

        if (!opaqueTargets.TryGetValue((kdamond, targetId), out int idx))
        {
            idx = 0;
            foreach (((int k, ulong _), int _) in opaqueTargets)
            {
                if (k == kdamond)
                {
                    idx++;
                }
            }

            opaqueTargets.Add((kdamond, targetId), idx);
        }

        return idx;
    }

    private sealed class Pending(int kdamond, ulong targetId, int targetIndex)
    {
        public int Kdamond { get; } = kdamond;

        public ulong TargetId { get; } = targetId;

        public int TargetIndex { get; } = targetIndex;

        public uint Expected { get; set; }

        public int Count { get; set; }

        public ulong LastEnd { get; set; }

        public bool Resync { get; set; }

        public DamonRegion[] Buffer { get; set; } = new DamonRegion[16];
    }
}
