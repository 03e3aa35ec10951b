namespace DamonOtel.Simulator;

/// <summary>
/// One running DAMON context: sampling, aggregation, adaptive regions, DAMOS. Follows the kernel's
/// kdamond_fn order per sampling step: check accesses; on aggregation merge regions (updating
/// ages); apply due schemes; on aggregation emit damon_aggregated, reset counters and split.
/// </summary>
internal sealed partial class MonitorContext
{
    // Simulated kernel CPU cost, to make kdamond CPU time grow with the number of regions.
    private const ulong SampleCostNs = 200;
    private const ulong AggregateCostNs = 500;

    private readonly FastRandom rng;
    private readonly ProcessTable processes;
    private readonly ITraceSink trace;
    private readonly KernelProfile profile;
    private int lastNrRegions;
    private int aggregationsSinceTune;

    public MonitorContext(CommittedContext config, FastRandom rng, ProcessTable processes, ITraceSink trace, KernelProfile profile, long nowUs, SimProcess thread)
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
        foreach (CommittedTarget t in config.Targets)
        {
            var ts = new TargetState(t, config.Ops == "paddr" ? null : processes.Get(t.Pid));
            ts.Regions = InitialRegions(ts);
            Targets.Add(ts);
        }

        foreach (CommittedScheme s in config.Schemes)
        {
            Schemes.Add(NewScheme(s, nowUs));
        }
    }

    public CommittedContext Config { get; private set; }

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
    public void Commit(CommittedContext config, long nowUs)
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
            CommittedTarget tc = config.Targets[i];
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

    public void CommitGoals(CommittedContext config)
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
            TuneIntervals(now);
        }

        if (now >= NextUpdateUs)
        {
            NextUpdateUs = now + UpdateUs;
        }

        NextSampleUs = now + Math.Max(1, SampleUs);
    }

    private SchemeState NewScheme(CommittedScheme s, long nowUs) => new(s) { NextApplyUs = nowUs + (long)(s.ApplyIntervalUs == 0 ? (ulong)AggrUs : s.ApplyIntervalUs) };
}
