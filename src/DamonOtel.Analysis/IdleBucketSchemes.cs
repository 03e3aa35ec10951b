using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis;

/// <summary>
/// The `tried_bytes` collection mode's view of one target: one DAMOS `stat` scheme per idle
/// bucket (an age range of regions with access rate 0) plus one for the accessed regions (and
/// one for the working set when its threshold differs), so that after
/// `update_schemes_tried_bytes` each scheme's `tried_regions/total_bytes` is the bytes of one
/// bucket, and a byte distribution costs a few dozen file reads instead of a walk of every
/// region (~4,000 files for 1,000 regions). It yields exactly the bytes of
/// <see cref="AccessSummary.IdleBytesAtMost"/>, <see cref="AccessSummary.WorkingSetBytes"/> and
/// <see cref="AccessSummary.MonitoredBytes"/> that <see cref="AccessSummarizer"/> computes from
/// the regions of the same snapshot, and nothing that needs regions (percentiles, region
/// count, bandwidth, heatmap): bucket bytes, not exact percentiles.
/// </summary>
/// <remarks>
/// Definitions as the summariser's: a region is accessed when its access rate
/// floor(nr_accesses x 100 x sample / aggr) is above 0, i.e. nr_accesses &gt;= ceil(aggr /
/// (100 x sample)); an idle region counts in the bucket of bound T when (age + 1) x aggr &lt;= T,
/// i.e. age &lt; floor(T / aggr). DAMOS matches nr_accesses and age ranges inclusively at both ends.
/// </remarks>
public sealed class IdleBucketSchemes
{
    private readonly int[] firstBucket; // per idle scheme: the first cumulative bucket it counts in
    private readonly int idleStart;     // index of the first idle scheme
    private readonly bool separateWorkingSet;

    public IdleBucketSchemes(AccessOptions options, Intervals intervals)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Intervals = intervals;
        ulong aggr = intervals.AggrUs;
        ulong sample = intervals.SampleUs;
        ulong accessed = sample == 0 || aggr == 0 ? 1 : Math.Max(1, (aggr + (100 * sample) - 1) / (100 * sample));
        ulong wss = options.WorkingSetAccessThreshold;
        var schemes = new List<AccessPattern> { Pattern(accessed, AccessPattern.CountMax, 0, AccessPattern.CountMax) };
        separateWorkingSet = wss != accessed;
        if (separateWorkingSet)
        {
            schemes.Add(Pattern(wss, AccessPattern.CountMax, 0, AccessPattern.CountMax));
        }

        idleStart = schemes.Count;
        var first = new List<int>();
        ulong from = 0;
        IReadOnlyList<double> bounds = options.IdleBucketsSeconds;
        for (int b = 0; b < bounds.Count; b++)
        {
            // As AccessSummarizer: decimal keeps 0.1 s = 100,000 us exact.
            ulong limit = aggr == 0 ? AccessPattern.CountMax : Math.Min(AccessPattern.CountMax, (ulong)decimal.Floor((decimal)bounds[b] * 1_000_000m) / aggr);
            if (limit > from)
            {
                schemes.Add(Pattern(0, accessed - 1, from, limit - 1));
                first.Add(b);
                from = limit;
            }
        }

        if (from <= AccessPattern.CountMax)
        {
            schemes.Add(Pattern(0, accessed - 1, from, AccessPattern.CountMax));
            first.Add(bounds.Count); // only in the +Inf bucket
        }

        Schemes = schemes;
        firstBucket = [.. first];
    }

    public AccessOptions Options { get; }

    /// <summary>The intervals the age and access-count ranges were computed with.</summary>
    public Intervals Intervals { get; }

    /// <summary>The schemes' access patterns, in the order their totals are passed to <see cref="Summarize"/>.</summary>
    public IReadOnlyList<AccessPattern> Schemes { get; }

    /// <summary>
    /// Fills the byte fields of <paramref name="into"/> (marked <see cref="AccessSummary.BucketsOnly"/>)
    /// from each scheme's total_bytes, in <see cref="Schemes"/> order, times the address unit.
    /// </summary>
    public void Summarize(ReadOnlySpan<ulong> totalBytes, ulong addrUnit, AccessSummary into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (totalBytes.Length != Schemes.Count)
        {
            throw new ArgumentException($"{totalBytes.Length} totals for {Schemes.Count} schemes", nameof(totalBytes));
        }

        if (into.Options != Options)
        {
            throw new ArgumentException("the summary was made for other options", nameof(into));
        }

        ulong unit = Math.Max(1, addrUnit);
        ulong accessedBytes = totalBytes[0] * unit;
        ulong cum = accessedBytes;
        ulong[] buckets = into.IdleBytesAtMost;
        int next = 0;
        for (int j = 0; j < firstBucket.Length; j++)
        {
            while (next < firstBucket[j])
            {
                buckets[next++] = cum;
            }

            cum += totalBytes[idleStart + j] * unit;
        }

        while (next < buckets.Length)
        {
            buckets[next++] = cum;
        }

        into.BucketsOnly = true;
        into.Intervals = Intervals;
        into.MonitoredBytes = cum;
        into.WorkingSetBytes = separateWorkingSet ? totalBytes[1] * unit : accessedBytes;
        into.RegionCount = 0;
        into.BandwidthBytesPerSecond = double.NaN;
        into.ObservedAccessRatio = double.NaN;
    }

    private static AccessPattern Pattern(ulong nrMin, ulong nrMax, ulong ageMin, ulong ageMax) =>
        new(new ValueRange(0, AccessPattern.SizeMax), new ValueRange(nrMin, nrMax), new ValueRange(ageMin, ageMax));
}
