namespace DamonOtel.Simulator;

/// <summary>Tracepoint emission; implemented by the tracefs emulation.</summary>
internal interface ITraceSink
{
    bool AggregatedEnabled { get; }

    bool BeforeApplyEnabled { get; }

    void Aggregated(MonitorContext ctx, long nowUs, int targetIdx, int nrRegions, Region r);

    void BeforeApply(MonitorContext ctx, long nowUs, int schemeIdx, int targetIdx, int nrRegions, Region r, uint nrAccesses);
}
