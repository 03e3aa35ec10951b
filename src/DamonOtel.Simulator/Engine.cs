using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

internal sealed class Region(ulong start, ulong end)
{
    public ulong Start = start;
    public ulong End = end;
    public uint NrAccesses;      // counting in the current aggregation interval
    public uint LastNrAccesses;  // the previous finished interval
    public uint Age;

    public ulong Size => End - Start;

    public Region Clone(ulong start, ulong end) => new(start, end) { NrAccesses = NrAccesses, LastNrAccesses = LastNrAccesses, Age = Age };
}

internal sealed class TargetState(TargetConfig config, SimProcess? process)
{
    public TargetConfig Config { get; set; } = config;

    public SimProcess? Process { get; set; } = process;

    public List<Region> Regions { get; set; } = [];

    public bool Valid => Process is null || Process.Alive;
}

internal sealed class SchemeState(SchemeConfig config)
{
    public SchemeConfig Config { get; set; } = config;

    public ulong NrTried;
    public ulong SzTried;
    public ulong NrApplied;
    public ulong SzApplied;
    public ulong SzOpsFilterPassed;
    public ulong QtExceeds;

    public long NextApplyUs;
    public long ChargedFromUs = long.MinValue;
    public ulong ChargedSz;
    public ulong Esz;
    public ulong EszBp;
    public bool Activated = true;
    public long NextWmarkCheckUs;

    // Pending tried-regions walk: the regions of this scheme's next full apply.
    public bool WalkPending;
    public bool WalkStarted;
    public List<(DamonRegion Region, ulong SzFilterPassed)>? WalkRegions;
}

/// <summary>Tracepoint emission; implemented by the tracefs emulation.</summary>
internal interface ITraceSink
{
    bool AggregatedEnabled { get; }

    bool BeforeApplyEnabled { get; }

    void Aggregated(MonitorContext ctx, long nowUs, int targetIdx, int nrRegions, Region r);

    void BeforeApply(MonitorContext ctx, long nowUs, int schemeIdx, int targetIdx, int nrRegions, Region r, uint nrAccesses);
}

/// <summary>
/// One running DAMON context: sampling, aggregation, adaptive regions, DAMOS. Follows the kernel's
/// kdamond_fn order per sampling step: check accesses; on aggregation merge regions (updating
/// ages); apply due schemes; on aggregation emit damon_aggregated, reset counters and split.
/// </summary>
internal sealed class MonitorContext
{
    // Simulated kernel CPU cost, to make kdamond CPU time grow with the number of regions.
    private const ulong SampleCostNs = 200;
    private const ulong AggregateCostNs = 500;

    // DAMON's default throughput guess for converting a time quota to bytes: PAGE_SIZE * 1024 per ms.
    private const ulong QuotaBytesPerMs = 4096 * 1024;

    private readonly FastRandom rng;
    private readonly ProcessTable processes;
    private readonly ITraceSink trace;
    private readonly KernelProfile profile;
    private int lastNrRegions;
    private int aggregationsSinceTune;

    public MonitorContext(ContextConfig config, FastRandom rng, ProcessTable processes, ITraceSink trace, KernelProfile profile, long nowUs, SimProcess thread)
    {
        this.rng = rng;
        this.processes = processes;
        this.trace = trace;
        this.profile = profile;
        Thread = thread;
        Config = config;
        SampleUs = (long)config.SampleUs;
        AggrUs = (long)config.AggrUs;
        UpdateUs = (long)Math.Max(1, config.UpdateUs);
        NextSampleUs = nowUs + Math.Max(1, SampleUs);
        NextAggrUs = nowUs + Math.Max(AggrUs, 1);
        NextUpdateUs = nowUs + UpdateUs;
        LastAggrStartUs = nowUs;
        LastAggrEndUs = nowUs;
        AggrStartUs = nowUs;
        foreach (TargetConfig t in config.Targets)
        {
            var ts = new TargetState(t, config.Ops == "paddr" ? null : processes.Get(t.Pid));
            ts.Regions = InitialRegions(ts);
            Targets.Add(ts);
        }

        foreach (SchemeConfig s in config.Schemes)
        {
            Schemes.Add(NewScheme(s, nowUs));
        }
    }

    public ContextConfig Config { get; private set; }

    public SimProcess Thread { get; }

    public long SampleUs { get; private set; }

    public long AggrUs { get; private set; }

    public long UpdateUs { get; private set; }

    public long NextSampleUs { get; private set; }

    public long NextAggrUs { get; private set; }

    public long NextUpdateUs { get; private set; }

    public long AggrStartUs { get; private set; }

    public long LastAggrStartUs { get; private set; }

    public long LastAggrEndUs { get; private set; }

    public ulong AggregationCount { get; private set; }

    public List<TargetState> Targets { get; } = [];

    public List<SchemeState> Schemes { get; } = [];

    /// <summary>Set when every vaddr target has exited: the kdamond must stop.</summary>
    public bool NeedStop { get; private set; }

    /// <summary>Called after a walk completed in every scheme.</summary>
    public Action? WalkCompleted { get; set; }

    public ulong MinRegionSize => Math.Max(1, 4096 / Math.Max(1, Config.AddrUnit));

    public int TotalRegions
    {
        get
        {
            int n = 0;
            foreach (TargetState t in Targets)
            {
                n += t.Regions.Count;
            }

            return n;
        }
    }

    public uint MaxNrAccesses => SampleUs == 0 ? 0 : (uint)(AggrUs / SampleUs);

    /// <summary>Re-reads the configuration without losing monitoring results (commit).</summary>
    public void Commit(ContextConfig config, long nowUs)
    {
        long oldAggr = AggrUs;
        Config = config;
        SampleUs = (long)config.SampleUs;
        AggrUs = (long)config.AggrUs;
        UpdateUs = (long)Math.Max(1, config.UpdateUs);
        if (oldAggr != AggrUs && AggrUs > 0)
        {
            RescaleAges(oldAggr);
        }

        NextSampleUs = Math.Min(NextSampleUs, nowUs + SampleUs);
        NextAggrUs = Math.Min(NextAggrUs, AggrStartUs + AggrUs);
        for (int i = 0; i < config.Targets.Length; i++)
        {
            TargetConfig tc = config.Targets[i];
            if (i < Targets.Count)
            {
                TargetState ts = Targets[i];
                bool samePid = ts.Config.Pid == tc.Pid || config.Ops == "paddr";
                ts.Config = tc;
                if (config.Ops != "paddr" && !samePid)
                {
                    ts.Process = processes.Get(tc.Pid);
                    ts.Regions = InitialRegions(ts);
                }
                else if (tc.Regions.Length > 0 && config.Ops != "vaddr")
                {
                    ts.Regions = FitRegions(ts.Regions, tc.Regions);
                }
            }
            else
            {
                var ts = new TargetState(tc, config.Ops == "paddr" ? null : processes.Get(tc.Pid));
                ts.Regions = InitialRegions(ts);
                Targets.Add(ts);
            }
        }

        if (Targets.Count > config.Targets.Length)
        {
            Targets.RemoveRange(config.Targets.Length, Targets.Count - config.Targets.Length);
        }

        for (int i = 0; i < config.Schemes.Length; i++)
        {
            if (i < Schemes.Count)
            {
                Schemes[i].Config = config.Schemes[i]; // stats and quota charge history are kept
            }
            else
            {
                Schemes.Add(NewScheme(config.Schemes[i], nowUs));
            }
        }

        if (Schemes.Count > config.Schemes.Length)
        {
            Schemes.RemoveRange(config.Schemes.Length, Schemes.Count - config.Schemes.Length);
        }
    }

    public void CommitGoals(ContextConfig config)
    {
        for (int i = 0; i < Schemes.Count && i < config.Schemes.Length; i++)
        {
            Schemes[i].Config = Schemes[i].Config with { Goals = config.Schemes[i].Goals };
        }
    }

    /// <summary>Asks every scheme to record the regions it is tried on during its next full apply interval.</summary>
    public void StartWalk()
    {
        foreach (SchemeState s in Schemes)
        {
            s.WalkPending = true;
            s.WalkStarted = false;
            s.WalkRegions = [];
        }

        if (Schemes.Count == 0)
        {
            WalkCompleted?.Invoke();
        }
    }

    /// <summary>Runs one sampling step at <see cref="NextSampleUs"/>.</summary>
    public void Step()
    {
        long now = NextSampleUs;
        bool anyValid = Targets.Count == 0 ? Config.Ops == "paddr" : false;
        foreach (TargetState t in Targets)
        {
            anyValid |= t.Valid;
        }

        if (!anyValid)
        {
            NeedStop = true;
            return;
        }

        Sample(now);
        bool aggregate = now >= NextAggrUs;
        if (aggregate)
        {
            MergeRegions();
        }

        ApplySchemes(now, aggregate);
        if (aggregate)
        {
            ResetAggregated(now);
            SplitRegions();
            LastAggrStartUs = AggrStartUs;
            LastAggrEndUs = now;
            AggrStartUs = now;
            NextAggrUs = now + AggrUs;
            AggregationCount++;
            Thread.CpuNs += (ulong)TotalRegions * AggregateCostNs;
            TuneIntervals();
        }

        if (now >= NextUpdateUs)
        {
            NextUpdateUs = now + UpdateUs;
        }

        NextSampleUs = now + Math.Max(1, SampleUs);
    }

    private SchemeState NewScheme(SchemeConfig s, long nowUs) => new(s) { NextApplyUs = nowUs + (long)(s.ApplyIntervalUs == 0 ? (ulong)AggrUs : s.ApplyIntervalUs) };

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
                t.Regions = MergeOf(t.Regions, threshold, szLimit, first);
                nr += t.Regions.Count;
            }

            first = false;
            threshold = Math.Max(1, threshold * 2);
        }
        while ((ulong)nr > Config.MaxNrRegions && threshold / 2 < Math.Max(1, MaxNrAccesses));
    }

    private static List<Region> MergeOf(List<Region> regions, uint threshold, ulong szLimit, bool updateAge)
    {
        var result = new List<Region>(regions.Count);
        Region? prev = null;
        foreach (Region r in regions)
        {
            if (updateAge)
            {
                r.Age = Diff(r.NrAccesses, r.LastNrAccesses) > threshold ? 0 : r.Age + 1;
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

    private void TuneIntervals()
    {
        IntervalsGoal g = Config.Goal;
        if (!g.Enabled || profile == KernelProfile.V6_12)
        {
            return;
        }

        if (++aggregationsSinceTune < (int)g.Aggrs)
        {
            return;
        }

        aggregationsSinceTune = 0;
        decimal events = 0;
        decimal maxEvents = 0;
        foreach (TargetState t in Targets)
        {
            foreach (Region r in t.Regions)
            {
                events += (decimal)r.Size * r.LastNrAccesses;
                maxEvents += (decimal)r.Size * MaxNrAccesses;
            }
        }

        decimal target = Math.Max(1, maxEvents * g.AccessBp / 10000);
        ulong score = (ulong)Math.Min(events * 10000 / target, ulong.MaxValue / 2);
        ulong adaptationBp = FeedLoop(100_000_000, score) / 10000;
        ulong ratio = (ulong)(AggrUs / Math.Max(1, SampleUs));
        ulong sample = (ulong)SampleUs * adaptationBp / 10000;
        sample = Math.Clamp(sample, g.MinSampleUs, Math.Max(g.MinSampleUs, g.MaxSampleUs));
        if (sample == 0 || (long)sample == SampleUs)
        {
            return;
        }

        long oldAggr = AggrUs;
        SampleUs = (long)sample;
        AggrUs = (long)(sample * ratio);
        RescaleAges(oldAggr);
    }

    // damon_feed_loop_next_input(): proportional feedback towards score 10000.
    internal static ulong FeedLoop(ulong lastInput, ulong score)
    {
        const ulong goal = 10000;
        const ulong minInput = 10000;
        if (score == goal)
        {
            return lastInput;
        }

        if (score >= goal * 2)
        {
            return minInput;
        }

        bool over = score > goal;
        ulong diff = over ? score - goal : goal - score;
        ulong comp = lastInput < ulong.MaxValue / diff ? lastInput * diff / goal : lastInput / goal * diff;
        if (over)
        {
            return Math.Max(lastInput > comp ? lastInput - comp : 0, minInput);
        }

        return lastInput < ulong.MaxValue - comp ? lastInput + comp : ulong.MaxValue;
    }

    // ---- DAMOS ----

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
        SchemeConfig c = s.Config;
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
        SchemeConfig c = s.Config;
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
        SchemeConfig c = s.Config;
        ulong esz = ulong.MaxValue;
        GoalConfig[] goals = [.. c.Goals.Where(g => g.TargetValue != 0)];
        if (c.QuotaMs == 0 && goals.Length == 0)
        {
            return c.QuotaBytes;
        }

        if (goals.Length > 0)
        {
            ulong score = 0;
            foreach (GoalConfig g in goals)
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

    private bool Matches(SchemeConfig c, Region r, bool aggregate) =>
        InRange(r.Size * Math.Max(1, Config.AddrUnit), c.Size) && InRange(SchemeNrAccesses(r, aggregate), c.NrAccesses) && InRange(r.Age, c.Age);

    // Simplified damon_hot_score/damon_cold_score: frequency and log2(age in seconds) subscores
    // weighted by the per-mille weights, 0..99.
    private int Score(SchemeConfig c, Region r, bool aggregate)
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
        SchemeConfig c = s.Config;
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

                (ulong anon, ulong other) = ByteClasses(t, r);
                bool hasOps = c.Filters.Any(f => !f.CoreLayer);
                ulong passed = hasOps ? OpsPassed(c, anon, other) : 0;
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

    private bool CoreFiltersPass(SchemeConfig c, int ti, Region r)
    {
        // Core filters (addr, target), judged on the region's start; see OpsPassed for semantics.
        bool? decided = null;
        FilterConfig? last = null;
        foreach (FilterConfig f in c.Filters)
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
    private ulong OpsPassed(SchemeConfig c, ulong anonBytes, ulong otherBytes)
    {
        return (Passes(c, anon: true) ? anonBytes : 0) + (Passes(c, anon: false) ? otherBytes : 0);
    }

    private bool Passes(SchemeConfig c, bool anon)
    {
        FilterConfig? last = null;
        foreach (FilterConfig f in c.Filters)
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
    private ulong Act(SchemeConfig c, TargetState t, Region r, ulong eligible)
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
