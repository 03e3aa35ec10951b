namespace DamonOtel.Agent.Configuration;

/// <summary>
/// The OTel cardinality limit the agent builds its metric streams with. The SDK allocates each
/// stream's points at this size when the stream is created (its default, 2,000, cost ~4 MB over
/// the agent's ~27 instruments, bench/README.md), and the agent's series are bounded by its
/// config: per (kdamond, target) pair at most one series per idle bucket, percentile or heatmap
/// column, per kdamond one per scheme. The limit is twice that for the configured kdamonds, the
/// three DAMON modules and <see cref="AttachedPairsAllowance"/> pairs of others' kdamonds, and
/// never below <see cref="Floor"/>. A stream past its limit keeps working and reports the excess
/// as one `otel.metric.overflow` series; the limit is fixed until the agent restarts.
/// </summary>
internal static class MetricSeriesLimit
{
    public const int Floor = 256;

    /// <summary>(kdamond, target) pairs assumed for kdamonds the agent attaches to.</summary>
    public const int AttachedPairsAllowance = 16;

    /// <summary>The SDK's own default and our ceiling.</summary>
    public const int Ceiling = 2000;

    private const int DamonModules = 3;

    // Per kdamond: up, CPU time, three intervals; per scheme: the DAMOS counters.
    private const int PerKdamondSeries = 3;

    public static int For(AgentConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int pairs = DamonModules + (config.Attach.Enabled ? AttachedPairsAllowance : 0);
        int schemes = 0;
        foreach (KdamondConfig k in config.Kdamonds)
        {
            pairs += Math.Max(1, k.Targets.Count);
            schemes += k.Schemes.Count;
        }

        var access = config.Metrics.Access;
        int perPair = Math.Max(access.IdleBucketsSeconds.Count + 1, Math.Max(access.Percentiles.Count, access.HeatmapColumns));
        long needed = Math.Max((long)pairs * perPair, (long)(config.Kdamonds.Count + DamonModules + AttachedPairsAllowance) * Math.Max(PerKdamondSeries, schemes));
        return (int)Math.Clamp(2 * needed, Floor, Ceiling);
    }
}
