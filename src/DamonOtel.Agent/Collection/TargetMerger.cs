using System.Runtime.InteropServices;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Analysis;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Turns the snapshots of a kdamond's DAMON targets (one per process) into one summary per
/// configured target: the regions of all its processes together, so that WSS, monitored and
/// idle bytes are sums and percentiles are taken over the union of the regions (merged by
/// bytes, never averaged). For vaddr/fvaddr with mapped_only, each process's regions are first
/// cut to its mappings (/proc/&lt;pid&gt;/maps, re-read at most once per <c>mapsMaxAge</c>), and
/// the bytes cut away are reported apart (unmapped).
/// </summary>
/// <remarks>
/// Snapshots of one aggregation arrive target by target in kernel order (damon_aggregated, or
/// the tried_regions walk), so a configured target is published when its last process reports.
/// A process that has not reported yet (a new target gets its regions at the next ops update)
/// is left out; one that reported before and not in this round counts with its previous regions.
/// Not thread-safe: one source feeds it (the tracepoint reader or the sysfs collector).
/// </remarks>
internal sealed class TargetMerger
{
    private readonly KdamondState state;
    private readonly ProcReader proc;
    private readonly bool mappedOnly;
    private readonly TimeProvider time;
    private readonly TimeSpan mapsMaxAge;
    private readonly List<DamonRegion> merged = [];
    private Slot[] slots = [];
    private TargetLayout layout = TargetLayout.Empty;
    private TargetLayout? offered;
    private TargetLayout? quarantinedFor;
    private bool quarantined;

    /// <param name="mappedOnly">Cut regions to the processes' mappings (vaddr/fvaddr only).</param>
    /// <param name="mapsMaxAge">How long a process's mappings are reused: DAMON itself follows them
    /// once per ops update interval, so re-reading them more often buys little.</param>
    public TargetMerger(KdamondState state, ProcReader proc, bool mappedOnly, TimeProvider time, TimeSpan mapsMaxAge)
    {
        this.state = state;
        this.proc = proc;
        this.mappedOnly = mappedOnly;
        this.time = time;
        this.mapsMaxAge = mapsMaxAge;
    }

    /// <summary>Reads of /proc/&lt;pid&gt;/maps so far (for tests and the cost in bench/README.md).</summary>
    public long MapsReads { get; private set; }

    public TargetLayout Layout => layout;

    /// <summary>
    /// A new kernel target list. The sysfs collector applies it at once (<paramref name="immediately"/>,
    /// on the thread that feeds this merger: its next walk already sees the new list); for the
    /// tracepoint reader it is offered from the collector's thread and taken up by
    /// <see cref="BeginPoll"/> one poll later.
    /// </summary>
    public void SetLayout(TargetLayout next, bool immediately)
    {
        // The first list: no earlier order that events in flight could be of.
        if (immediately || layout.Targets.Count == 0)
        {
            if (!ReferenceEquals(next, layout))
            {
                Apply(next);
            }
        }
        else
        {
            Volatile.Write(ref offered, next);
        }
    }

    /// <summary>
    /// Called by the tracepoint reader before each read of trace_pipe. Events read in the first
    /// poll after a commit may have been emitted before it (with the old target order), so that
    /// poll's snapshots are dropped and the new list applies from the next one.
    /// </summary>
    public void BeginPoll()
    {
        TargetLayout? next = Volatile.Read(ref offered);
        if (next is null || ReferenceEquals(next, layout))
        {
            quarantined = false;
            return;
        }

        if (!ReferenceEquals(next, quarantinedFor))
        {
            quarantinedFor = next;
            quarantined = true;
            return;
        }

        Apply(next);
        quarantinedFor = null;
        quarantined = false;
    }

    /// <summary>
    /// One snapshot of kernel target <paramref name="kernelIndex"/>. With <paramref name="publishWhenComplete"/>
    /// (tracepoint) its configured target is published once its last process has reported.
    /// </summary>
    public void Add(int kernelIndex, ReadOnlySpan<DamonRegion> regions, Intervals intervals, ulong addrUnit, AccessSummarizer summarizer, bool publishWhenComplete)
    {
        if (quarantined)
        {
            return;
        }

        if (layout.Targets.Count == 0)
        {
            // No list known (yet): the kernel's targets are the configured ones, one to one.
            Apply(TargetLayout.Identity(state.TargetCount));
        }

        if ((uint)kernelIndex >= (uint)slots.Length || layout.Targets[kernelIndex].IsTombstone)
        {
            return;
        }

        Slot slot = slots[kernelIndex];
        KernelTarget target = layout.Targets[kernelIndex];
        slot.Regions.Clear();
        slot.Unmapped = 0;
        if (mappedOnly && target.Process.Pid > 0)
        {
            if (!RefreshMaps(slot, target.Process.Pid))
            {
                slot.HasData = false; // the process is gone: it no longer counts
                return;
            }

            slot.Unmapped = MappedRanges.Clip(regions, CollectionsMarshal.AsSpan(slot.Mapped), slot.Regions) * addrUnit;
        }
        else
        {
            slot.Regions.AddRange(regions);
        }

        slot.HasData = true;
        slot.Intervals = intervals;
        slot.AddrUnit = addrUnit;
        if (publishWhenComplete && kernelIndex == LastReporting(target.ConfigIndex))
        {
            Publish(target.ConfigIndex, summarizer);
        }
    }

    /// <summary>Publishes every configured target that has data (the sysfs collector, after its walk).</summary>
    public void PublishAll(AccessSummarizer summarizer)
    {
        for (int t = 0; t < state.TargetCount; t++)
        {
            Publish(t, summarizer);
        }
    }

    private void Apply(TargetLayout next)
    {
        var old = slots;
        var oldLayout = layout;
        slots = new Slot[next.Targets.Count];
        for (int i = 0; i < slots.Length; i++)
        {
            // A kernel index that still holds the same process keeps its data and cached mappings.
            slots[i] = i < old.Length && i < oldLayout.Targets.Count && oldLayout.Targets[i] == next.Targets[i] ? old[i] : new Slot();
        }

        layout = next;
        state.UpdateProcesses(next.Counts);
    }

    private bool RefreshMaps(Slot slot, int pid)
    {
        long now = time.GetTimestamp();
        if (slot.MapsReadAt != 0 && time.GetElapsedTime(slot.MapsReadAt, now) < mapsMaxAge)
        {
            return true;
        }

        MapsReads++;
        if (!proc.ReadMappings(pid, slot.Mapped))
        {
            return false;
        }

        slot.MapsReadAt = now;
        return true;
    }

    private int LastReporting(int configIndex)
    {
        int last = -1;
        for (int i = 0; i < slots.Length; i++)
        {
            if (layout.Targets[i].ConfigIndex == configIndex && slots[i].HasData)
            {
                last = i;
            }
        }

        return last;
    }

    private void Publish(int configIndex, AccessSummarizer summarizer)
    {
        merged.Clear();
        ulong unmapped = 0;
        Intervals? intervals = null;
        ulong addrUnit = 1;
        for (int i = 0; i < slots.Length; i++)
        {
            Slot s = slots[i];
            if (layout.Targets[i].ConfigIndex != configIndex || !s.HasData)
            {
                continue;
            }

            merged.AddRange(s.Regions);
            unmapped += s.Unmapped;
            intervals = s.Intervals;
            addrUnit = s.AddrUnit;
        }

        if (intervals is not { } iv)
        {
            return;
        }

        state.UpdateAccess(configIndex, summarizer.Summarize(CollectionsMarshal.AsSpan(merged), iv, addrUnit), mappedOnly ? unmapped : null);
    }

    private sealed class Slot
    {
        public List<DamonRegion> Regions { get; } = [];

        public List<AddressRange> Mapped { get; } = [];

        public long MapsReadAt { get; set; }

        public ulong Unmapped { get; set; }

        public bool HasData { get; set; }

        public Intervals Intervals { get; set; }

        public ulong AddrUnit { get; set; } = 1;
    }
}
