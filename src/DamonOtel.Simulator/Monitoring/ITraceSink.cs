namespace DamonOtel.Simulator;

/// <summary>Tracepoint emission; implemented by the tracefs emulation.</summary>
internal interface ITraceSink
{
    bool AggregatedEnabled { get; }

    bool BeforeApplyEnabled { get; }

    void Aggregated(MonitorContext ctx, long nowUs, int targetIdx, int nrRegions, Region r);

    void BeforeApply(MonitorContext ctx, long nowUs, int schemeIdx, int targetIdx, int nrRegions, Region r, uint nrAccesses);

    /// <summary>damon_monitor_intervals_tune (6.17+): the auto-tuned sampling interval changed.</summary>
    void IntervalsTune(MonitorContext ctx, long nowUs, ulong sampleUs);
}
