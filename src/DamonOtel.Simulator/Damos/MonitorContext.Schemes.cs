using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

// DAMOS: watermarks, quotas (with goals), access-pattern matching, filters and the actions'
// effect on the simulated processes.
internal sealed partial class MonitorContext
{
    // DAMON's default throughput guess for converting a time quota to bytes: PAGE_SIZE * 1024 per ms.
    private const ulong QuotaBytesPerMs = 4096 * 1024;

    private void ApplySchemes(long now, bool aggregate)
    {
        for (int si = 0; si < Schemes.Count; si++)
        {
            SchemeState s = Schemes[si];
            UpdateWatermark(s, now);
            if (now < s.NextApplyUs)
            {
                continue;
            }

            long interval = (long)(s.Config.ApplyIntervalUs == 0 ? (ulong)AggrUs : s.Config.ApplyIntervalUs);
            s.NextApplyUs = now + Math.Max(1, interval);
            bool walking = s.WalkPending;
            if (walking)
            {
                s.WalkStarted = true;
            }

            if (s.Activated)
            {
                ApplyScheme(si, s, now, aggregate);
            }

            if (walking)
            {
                s.WalkPending = false;
                if (Schemes.TrueForAll(x => !x.WalkPending))
                {
                    WalkCompleted?.Invoke();
                }
            }
        }
    }

    private void UpdateWatermark(SchemeState s, long now)
    {
        CommittedScheme c = s.Config;
        if (c.WmarkMetric != "free_mem_rate")
        {
            s.Activated = true;
            return;
        }

        if (now < s.NextWmarkCheckUs)
        {
            return;
        }

        s.NextWmarkCheckUs = now + (long)c.WmarkIntervalUs;
        ulong metric = FreeMemRatePermil();
        if (metric > c.WmarkHigh || c.WmarkLow > metric)
        {
            s.Activated = false;
        }
        else if (!(c.WmarkHigh >= metric && metric >= c.WmarkMid && !s.Activated))
        {
            s.Activated = true;
        }
    }

    public Func<ulong> FreeMemRatePermil { get; set; } = () => 1000;

    /// <summary>nr_accesses DAMOS compares: approximates the kernel's pseudo-moving sum by the last finished interval's count.</summary>
    private static uint SchemeNrAccesses(Region r, bool aggregate) => aggregate ? r.NrAccesses : r.LastNrAccesses;

    private static void AdjustQuota(SchemeState s, long now)
    {
        CommittedScheme c = s.Config;
        long reset = (long)c.ResetIntervalMs * 1000;
        if (s.ChargedFromUs == long.MinValue || now >= s.ChargedFromUs + reset)
        {
            if (s.ChargedFromUs != long.MinValue && s.Esz != 0 && s.ChargedSz >= s.Esz)
            {
                s.QtExceeds++;
            }

            s.ChargedFromUs = now;
            s.ChargedSz = 0;
            s.Esz = EffectiveQuota(s);
        }
    }

    internal static ulong EffectiveQuota(SchemeState s)
    {
        CommittedScheme c = s.Config;
        ulong esz = ulong.MaxValue;
        CommittedGoal[] goals = [.. c.Goals.Where(g => g.TargetValue != 0)];
        if (c.QuotaMs == 0 && goals.Length == 0)
        {
            return c.QuotaBytes;
        }

        if (goals.Length > 0)
        {
            ulong score = 0;
            foreach (CommittedGoal g in goals)
            {
                ulong current = g.Metric == "user_input" ? g.CurrentValue : 0;
                score = Math.Max(score, current * 10000 / g.TargetValue);
            }

            s.EszBp = FeedLoop(Math.Max(s.EszBp, 10000), score);
            esz = s.EszBp / 10000;
        }

        if (c.QuotaMs != 0)
        {
            esz = Math.Min(esz, c.QuotaMs * QuotaBytesPerMs);
        }

        if (c.QuotaBytes != 0 && c.QuotaBytes < esz)
        {
            esz = c.QuotaBytes;
        }

        return esz;
    }

    private static bool InRange(ulong v, ValueRange r) => v >= r.Min && v <= r.Max;

    private bool Matches(CommittedScheme c, Region r, bool aggregate) =>
        InRange(r.Size * Math.Max(1, Config.AddrUnit), c.Size) && InRange(SchemeNrAccesses(r, aggregate), c.NrAccesses) && InRange(r.Age, c.Age);

    // Simplified damon_hot_score/damon_cold_score: frequency and log2(age in seconds) subscores
    // weighted by the per-mille weights, 0..99.
    private int Score(CommittedScheme c, Region r, bool aggregate)
    {
        ulong freq = MaxNrAccesses == 0 ? 0 : (ulong)SchemeNrAccesses(r, aggregate) * 100 / MaxNrAccesses;
        ulong ageSec = (ulong)r.Age * (ulong)AggrUs / 1_000_000;
        int ageLog = 0;
        while (ageLog < 32 && ageSec != 0)
        {
            ageLog++;
            ageSec >>= 1;
        }

        long ageSub = ageLog * 100 / 32;
        if (freq == 0)
        {
            ageSub = -ageSub; // idle for long = cold
        }

        long wf = c.WeightNr;
        long wa = c.WeightAge;
        long hot = (wf * (long)freq) + (wa * (ageSub + 100) / 2);
        hot = wf + wa == 0 ? 0 : hot / (wf + wa);
        int hotScore = (int)Math.Clamp(hot * 99 / 100, 0, 99);
        return c.Action is "pageout" or "lru_deprio" or "migrate_cold" or "cold" ? 99 - hotScore : hotScore;
    }

    private void ApplyScheme(int si, SchemeState s, long now, bool aggregate)
    {
        CommittedScheme c = s.Config;
        AdjustQuota(s, now);
        bool quota = s.Esz != 0;
        int minScore = 0;
        if (quota && (c.WeightSz | c.WeightNr | c.WeightAge) != 0)
        {
            // Lowest score whose cumulative size (from the best) still fits the quota.
            var hist = new ulong[100];
            foreach (TargetState t in Targets)
            {
                foreach (Region r in t.Regions)
                {
                    if (Matches(c, r, aggregate))
                    {
                        hist[Score(c, r, aggregate)] += r.Size;
                    }
                }
            }

            ulong cum = 0;
            for (minScore = 99; minScore > 0; minScore--)
            {
                cum += hist[minScore];
                if (cum >= s.Esz)
                {
                    break;
                }
            }
        }

        ulong unit = Math.Max(1, Config.AddrUnit);
        for (int ti = 0; ti < Targets.Count; ti++)
        {
            TargetState t = Targets[ti];
            List<Region> regions = t.Regions;
            for (int ri = 0; ri < regions.Count; ri++)
            {
                if (quota && s.ChargedSz >= s.Esz)
                {
                    return;
                }

                Region r = regions[ri];
                if (!Matches(c, r, aggregate))
                {
                    continue;
                }

                if (quota && minScore > 0 && Score(c, r, aggregate) < minScore)
                {
                    continue;
                }

                if (!CoreFiltersPass(c, ti, r))
                {
                    continue;
                }

                ulong sz = r.Size * unit;
                if (quota && s.ChargedSz + sz > s.Esz)
                {
                    ulong keep = (s.Esz - s.ChargedSz) / unit / MinRegionSize * MinRegionSize;
                    if (keep == 0)
                    {
                        return;
                    }

                    Region rest = r.Clone(r.Start + keep, r.End);
                    r.End = r.Start + keep;
                    regions.Insert(ri + 1, rest);
                    sz = keep * unit;
                }

                uint nrAcc = SchemeNrAccesses(r, aggregate);
                if (trace.BeforeApplyEnabled)
                {
                    trace.BeforeApply(this, now, si, ti, regions.Count, r, nrAcc);
                }

                bool hasOps = c.Filters.Any(f => !f.CoreLayer);
                ulong passed = hasOps ? OpsPassed(c, t, r) : 0;
                s.NrTried++;
                s.SzTried += sz;
                s.SzOpsFilterPassed += passed;
                if (s.WalkPending && s.WalkStarted)
                {
                    s.WalkRegions!.Add((new DamonRegion(r.Start, r.End, nrAcc, r.Age), passed));
                }

                ulong applied = Act(c, t, r, hasOps ? passed : sz);
                if (applied > 0)
                {
                    s.NrApplied++;
                    s.SzApplied += applied;
                }

                if (c.Action != "stat")
                {
                    r.Age = 0;
                }

                s.ChargedSz += sz;
            }
        }
    }

    private bool CoreFiltersPass(CommittedScheme c, int ti, Region r)
    {
        // Core filters (addr, target), judged on the region's start; see OpsPassed for semantics.
        bool? decided = null;
        CommittedFilter? last = null;
        foreach (CommittedFilter f in c.Filters)
        {
            if (!f.CoreLayer)
            {
                continue;
            }

            last = f;
            bool has = f.Type == "addr" ? r.Start >= f.AddrStart && r.Start < f.AddrEnd : f.TargetIdx == ti;
            if (has == f.Matching)
            {
                decided = profile == KernelProfile.V6_12 ? false : f.Allow;
                break;
            }
        }

        return decided ?? (last is null || profile == KernelProfile.V6_12 || !last.Allow);
    }

    // Ops filters evaluated per byte class: process memory is anonymous, the rest is unmapped.
    private ulong OpsPassed(CommittedScheme c, TargetState t, Region r)
    {
        if (Config.Ops == "paddr" && c.Filters.Any(f => !f.CoreLayer && f.Type == "memcg"))
        {
            // memcg filters judge each page by the memcg it is charged to (exactly that memcg, not
            // its descendants; a removed cgroup's pages belong to its nearest live ancestor). Only
            // pages on the LRU are walked: free and kernel pages never pass.
            ulong unit = Math.Max(1, Config.AddrUnit);
            ulong passedBytes = 0;
            foreach (var o in processes.Owned(r.Start * unit, r.End * unit))
            {
                string memcg = o.Proc.ChargedTo?.Effective.Path ?? "/";
                if (Passes(c, anon: true, memcg))
                {
                    passedBytes += o.PhysEnd - o.PhysStart;
                }
            }

            return passedBytes;
        }

        (ulong anonBytes, ulong otherBytes) = ByteClasses(t, r);
        return (Passes(c, anon: true, memcg: null) ? anonBytes : 0) + (Passes(c, anon: false, memcg: null) ? otherBytes : 0);
    }

    private bool Passes(CommittedScheme c, bool anon, string? memcg)
    {
        CommittedFilter? last = null;
        foreach (CommittedFilter f in c.Filters)
        {
            if (f.CoreLayer)
            {
                continue;
            }

            last = f;
            bool has = f.Type switch
            {
                "anon" => anon,
                "unmapped" => !anon,
                "memcg" => memcg is not null && string.Equals(memcg, f.MemcgPath, StringComparison.Ordinal),
                _ => false,
            };
            if (has == f.Matching)
            {
                return profile != KernelProfile.V6_12 && f.Allow;
            }
        }

        return last is null || profile == KernelProfile.V6_12 || !last.Allow;
    }

    private (ulong Anon, ulong Other) ByteClasses(TargetState t, Region r)
    {
        ulong unit = Math.Max(1, Config.AddrUnit);
        if (Config.Ops == "paddr")
        {
            ulong owned = 0;
            foreach (var o in processes.Owned(r.Start * unit, r.End * unit))
            {
                owned += o.PhysEnd - o.PhysStart;
            }

            return (owned, (r.Size * unit) - owned);
        }

        ulong mapped = 0;
        if (t.Process?.Workload is not null)
        {
            foreach (AddressRange m in t.Process.Workload.Mappings)
            {
                ulong s = Math.Max(m.Start, r.Start);
                ulong e = Math.Min(m.End, r.End);
                mapped += e > s ? e - s : 0;
            }
        }

        return (mapped, r.Size - mapped);
    }

    // The ops layer's effect; returns bytes applied.
    private ulong Act(CommittedScheme c, TargetState t, Region r, ulong eligible)
    {
        bool paddr = Config.Ops == "paddr";
        ulong unit = Math.Max(1, Config.AddrUnit);
        switch (c.Action)
        {
            case "stat":
                return 0;
            case "pageout":
                if (paddr)
                {
                    ulong reclaimed = 0;
                    foreach (var o in processes.Owned(r.Start * unit, r.End * unit))
                    {
                        ulong len = o.PhysEnd - o.PhysStart;
                        ulong before = o.Proc.PagedOut.Overlap(o.VirtStart, o.VirtStart + len);
                        o.Proc.PagedOut.Add(new AddressRange(o.VirtStart, o.VirtStart + len));
                        reclaimed += len - before;
                    }

                    return Math.Min(reclaimed, eligible);
                }

                if (t.Process?.Workload is not null)
                {
                    foreach (AddressRange m in t.Process.Workload.Mappings)
                    {
                        ulong s = Math.Max(m.Start, r.Start);
                        ulong e = Math.Min(m.End, r.End);
                        if (e > s)
                        {
                            t.Process.PagedOut.Add(new AddressRange(s, e));
                        }
                    }
                }

                return eligible;
            case "willneed" or "cold" or "hugepage" or "nohugepage":
                return paddr ? 0 : eligible;
            case "lru_prio" or "lru_deprio":
                return paddr ? eligible : 0;
            default:
                return 0; // migrate_*: single-node machine, nowhere to migrate
        }
    }
}
