using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis;

/// <summary>
/// The access summary of one snapshot of one target, with damo's and DAMON_STAT's definitions.
/// Arrays are sized from <see cref="AccessOptions"/> once, so a summary can be reused by
/// <see cref="AccessSummarizer"/> without allocating. Treat a published summary as immutable.
/// </summary>
public sealed class AccessSummary
{
    public AccessSummary(AccessOptions options)
    {
        Options = options;
        IdleTimePercentilesUs = new ulong[options.Percentiles.Count];
        SignedIdleTimePercentilesUs = new long[options.Percentiles.Count];
        TemperaturePercentiles = new double[options.Percentiles.Count];
        IdleBytesAtMost = new ulong[options.IdleBucketsSeconds.Count + 1];
        HeatmapAccessRatePercent = new double[options.HeatmapColumns];
    }

    public AccessOptions Options { get; }

    /// <summary>
    /// Only the byte figures are set (<see cref="MonitoredBytes"/>, <see cref="WorkingSetBytes"/>,
    /// <see cref="IdleBytesAtMost"/>): the summary came from per-bucket totals
    /// (<see cref="IdleBucketSchemes"/>, the tried_bytes mode), not from regions, so there are no
    /// percentiles, region count, bandwidth or heatmap to export.
    /// </summary>
    public bool BucketsOnly { get; set; }

    /// <summary>The snapshot's own intervals (possibly auto-tuned): every conversion uses these.</summary>
    public Intervals Intervals { get; set; }

    public int RegionCount { get; set; }

    /// <summary>Sum of region sizes in bytes (core units x addr_unit).</summary>
    public ulong MonitoredBytes { get; set; }

    /// <summary>Bytes of regions with nr_accesses &gt;= the working-set threshold (damo wss).</summary>
    public ulong WorkingSetBytes { get; set; }

    /// <summary>DAMON_STAT's estimated_memory_bandwidth: sum(size x nr_accesses) x 1e6 / aggr_us, bytes/s.</summary>
    public double BandwidthBytesPerSecond { get; set; }

    /// <summary>sum(size x nr_accesses) / sum(size x max_nr_accesses): what intervals auto-tuning steers.</summary>
    public double ObservedAccessRatio { get; set; }

    /// <summary>Per-byte idle time percentiles, damo convention (0 if accessed, else (age+1) x aggr_us), microseconds.</summary>
    public ulong[] IdleTimePercentilesUs { get; }

    /// <summary>Per-byte idle time percentiles, DAMON_STAT 6.18 convention (accessed: -(age+1) x aggr_us), microseconds.</summary>
    public long[] SignedIdleTimePercentilesUs { get; }

    /// <summary>Per-byte access temperature percentiles (damo weights; negative when the access rate is 0).</summary>
    public double[] TemperaturePercentiles { get; }

    /// <summary>
    /// Cumulative bytes whose idle time (damo convention) is at most IdleBucketsSeconds[i];
    /// the last element is the +Inf bucket and equals <see cref="MonitoredBytes"/>.
    /// </summary>
    public ulong[] IdleBytesAtMost { get; }

    /// <summary>Size-weighted access rate (%) of each equal address slice, low addresses first.</summary>
    public double[] HeatmapAccessRatePercent { get; }
}
