using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

// Adaptive regions: the initial split of a target, sampling, merging (with ages) and splitting.
internal sealed partial class MonitorContext
{
    private List<Region> InitialRegions(TargetState t)
    {
        ulong min = MinRegionSize;
        if (Config.Ops == "vaddr")
        {
            if (t.Process?.Workload is null)
            {
                return [];
            }

            // Three big areas around the two largest gaps between VMAs, split evenly so that
            // there are at least min_nr_regions regions.
            var maps = t.Process.Workload.Mappings;
            var areas = ThreeAreas(maps);
            ulong total = 0;
            foreach (AddressRange a in areas)
            {
                total += a.Size;
            }

            ulong piece = Math.Max(min, total / Math.Max(1, Config.MinNrRegions) / min * min);
            var list = new List<Region>();
            foreach (AddressRange a in areas)
            {
                ulong n = Math.Max(1, a.Size / piece);
                ulong sz = a.Size / n / min * min;
                ulong s = a.Start;
                for (ulong i = 0; i < n; i++)
                {
                    ulong e = i == n - 1 ? a.End : s + sz;
                    list.Add(new Region(s, e));
                    s = e;
                }
            }

            return list;
        }

        return [.. t.Config.Regions.Select(r => new Region(r.Start, r.End))];
    }

    // The vaddr ops update (damon_va_update): each live process's regions fitted to the three
    // areas of its current mappings, keeping the history of what stays covered. Kernel threads
    // (tombstone targets) and exited processes have no mappings and are left alone.
    private void UpdateTargetRanges()
    {
        if (Config.Ops != "vaddr")
        {
            return;
        }

        foreach (TargetState t in Targets)
        {
            if (t.Process is { Alive: true, Workload: { } w })
            {
                t.Regions = FitRegions(t.Regions, [.. ThreeAreas(w.Mappings)]);
            }
        }
    }

    private static List<AddressRange> ThreeAreas(IReadOnlyList<AddressRange> maps)
    {
        if (maps.Count <= 3)
        {
            return [.. maps];
        }

        // Indices of the two largest gaps (gap i lies between maps[i] and maps[i+1]).
        int g1 = -1;
        int g2 = -1;
        for (int i = 0; i < maps.Count - 1; i++)
        {
            ulong gap = maps[i + 1].Start - maps[i].End;
            if (g1 < 0 || gap > maps[g1 + 1].Start - maps[g1].End)
            {
                g2 = g1;
                g1 = i;
            }
            else if (g2 < 0 || gap > maps[g2 + 1].Start - maps[g2].End)
            {
                g2 = i;
            }
        }

        int a = Math.Min(g1, g2);
        int b = Math.Max(g1, g2);
        return
        [
            new(maps[0].Start, maps[a].End),
            new(maps[a + 1].Start, maps[b].End),
            new(maps[b + 1].Start, maps[^1].End),
        ];
    }

    // Like damon_set_regions: keep the parts of existing regions inside the new ranges (with
    // their history) and fill the uncovered parts with fresh regions.
    private static List<Region> FitRegions(List<Region> old, AddressRange[] ranges)
    {
        var result = new List<Region>();
        foreach (AddressRange range in ranges)
        {
            ulong cursor = range.Start;
            foreach (Region r in old)
            {
                ulong s = Math.Max(r.Start, range.Start);
                ulong e = Math.Min(r.End, range.End);
                if (e <= s)
                {
                    continue;
                }

                if (s > cursor)
                {
                    result.Add(new Region(cursor, s));
                }

                result.Add(r.Clone(s, e));
                cursor = e;
            }

            if (cursor < range.End)
            {
                result.Add(new Region(cursor, range.End));
            }
        }

        return result;
    }

    private void RescaleAges(long oldAggrUs)
    {
        foreach (TargetState t in Targets)
        {
            foreach (Region r in t.Regions)
            {
                r.Age = (uint)((ulong)r.Age * (ulong)oldAggrUs / (ulong)AggrUs);
            }
        }
    }

    private void Sample(long now)
    {
        ulong unit = Math.Max(1, Config.AddrUnit);
        ulong minSz = MinRegionSize;
        bool paddr = Config.Ops == "paddr";
        int sampled = 0;
        foreach (TargetState t in Targets)
        {
            SimProcess? proc = t.Process;
            if (!paddr && (proc is null || !proc.Alive || proc.Workload is null))
            {
                continue;
            }

            List<Region> regions = t.Regions;
            TimeSpan rel = paddr ? default : proc!.Relative(now);
            IWorkload? workload = proc?.Workload;
            var cursor = new ProcessTable.Cursor(processes);
            for (int i = 0; i < regions.Count; i++)
            {
                Region r = regions[i];
                ulong size = r.End - r.Start;
                ulong addr = size <= minSz ? r.Start : r.Start + (rng.Below(size / minSz) * minSz);
                bool accessed = paddr
                    ? cursor.Resolve(addr * unit, out SimProcess owner, out ulong virt) && owner.Workload!.Accessed(virt, owner.Relative(now))
                    : workload!.Accessed(addr, rel);
                if (accessed)
                {
                    r.NrAccesses++;
                }
            }

            sampled += regions.Count;
        }

        Thread.CpuNs += (ulong)sampled * SampleCostNs;
    }

    private void MergeRegions()
    {
        uint maxObserved = 0;
        ulong total = 0;
        foreach (TargetState t in Targets)
        {
            foreach (Region r in t.Regions)
            {
                maxObserved = Math.Max(maxObserved, r.NrAccesses);
                total += r.Size;
            }
        }

        uint threshold = Math.Max(1, maxObserved / 10);
        ulong szLimit = Math.Max(MinRegionSize, total / Math.Max(1, Config.MinNrRegions));
        bool first = true;
        int nr;
        do
        {
            nr = 0;
            foreach (TargetState t in Targets)
            {
                t.Regions = MergeOf(t.Regions, threshold, szLimit, first, AgeRestartsOnZeroCrossing);
                nr += t.Regions.Count;
            }

            first = false;
            threshold = Math.Max(1, threshold * 2);
        }
        while ((ulong)nr > Config.MaxNrRegions && threshold / 2 < Math.Max(1, MaxNrAccesses));
    }

    /// <summary>
    /// 6.18 and later also restart a region's age when its access count goes between zero and
    /// non-zero, however small the change: a cold region holding a few accessed pages never ages
    /// there (docs/per-cgroup.md, "Per-cgroup idle on 6.18 and later"). 6.12 restarts it only on
    /// a change above the merge threshold.
    /// </summary>
    private bool AgeRestartsOnZeroCrossing => profile != KernelProfile.V6_12;

    private static List<Region> MergeOf(List<Region> regions, uint threshold, ulong szLimit, bool updateAge, bool restartOnZeroCrossing)
    {
        var result = new List<Region>(regions.Count);
        Region? prev = null;
        foreach (Region r in regions)
        {
            if (updateAge)
            {
                bool restart = Diff(r.NrAccesses, r.LastNrAccesses) > threshold
                    || (restartOnZeroCrossing && (r.NrAccesses == 0) != (r.LastNrAccesses == 0));
                r.Age = restart ? 0 : r.Age + 1;
            }

            if (prev is not null && prev.End == r.Start && Diff(prev.NrAccesses, r.NrAccesses) <= threshold && prev.Size + r.Size <= szLimit)
            {
                ulong sl = prev.Size;
                ulong sr = r.Size;
                prev.NrAccesses = (uint)((((ulong)prev.NrAccesses * sl) + ((ulong)r.NrAccesses * sr)) / (sl + sr));
                prev.LastNrAccesses = (uint)((((ulong)prev.LastNrAccesses * sl) + ((ulong)r.LastNrAccesses * sr)) / (sl + sr));
                prev.Age = (uint)((((ulong)prev.Age * sl) + ((ulong)r.Age * sr)) / (sl + sr));
                prev.End = r.End;
            }
            else
            {
                result.Add(r);
                prev = r;
            }
        }

        return result;
    }

    private static uint Diff(uint a, uint b) => a > b ? a - b : b - a;

    private void ResetAggregated(long now)
    {
        bool traced = trace.AggregatedEnabled;
        for (int ti = 0; ti < Targets.Count; ti++)
        {
            List<Region> regions = Targets[ti].Regions;
            foreach (Region r in regions)
            {
                if (traced)
                {
                    trace.Aggregated(this, now, ti, regions.Count, r);
                }

                r.LastNrAccesses = r.NrAccesses;
                r.NrAccesses = 0;
            }
        }
    }

    private void SplitRegions()
    {
        int nr = TotalRegions;
        if ((ulong)nr > Config.MaxNrRegions / 2)
        {
            lastNrRegions = nr;
            return;
        }

        int subs = lastNrRegions == nr && (ulong)nr < Config.MaxNrRegions / 3 ? 3 : 2;
        ulong min = MinRegionSize;
        foreach (TargetState t in Targets)
        {
            var result = new List<Region>(t.Regions.Count * subs);
            foreach (Region r in t.Regions)
            {
                // Split the left part repeatedly at 10..90 % (like damon_split_regions_of).
                var pieces = new List<Region> { r };
                ulong szRegion = r.Size;
                for (int i = 0; i < subs - 1 && szRegion > 2 * min; i++)
                {
                    ulong szSub = (ulong)rng.Next(1, 10) * szRegion / 10 / min * min;
                    if (szSub == 0 || szSub >= szRegion)
                    {
                        continue;
                    }

                    Region left = pieces[0];
                    Region right = left.Clone(left.Start + szSub, left.End);
                    left.End = left.Start + szSub;
                    pieces.Insert(1, right);
                    szRegion = szSub;
                }

                result.AddRange(pieces);
            }

            t.Regions = result;
        }

        lastNrRegions = nr;
    }
}
