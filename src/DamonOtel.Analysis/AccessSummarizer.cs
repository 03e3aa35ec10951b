using System.Globalization;
using System.Numerics;
using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis;

/// <summary>
/// Pure computation snapshot -> <see cref="AccessSummary"/>. Holds scratch buffers so that,
/// after warm-up, summarising allocates nothing. Not thread-safe: one per worker.
/// </summary>
/// <remarks>
/// Definitions (damo report access / DAMON_STAT, see docs/damon-formulas.md):
/// <list type="bullet">
/// <item>access rate % = floor(nr_accesses x 100 / (aggr_us / sample_us)), computed exactly as
/// floor(nr_accesses x 100 x sample_us / aggr_us) because damo divides by the float ratio and
/// truncates; equal to the integer max_nr_accesses form whenever aggr_us is a multiple of sample_us
/// (always, unless someone writes odd intervals by hand).</item>
/// <item>damo idle time = 0 when access rate % &gt; 0, else (age + 1) x aggr_us. DAMON_STAT 6.18 signed
/// idle time keys on nr_accesses == 0 instead (the kernel has no percent), negative when accessed.</item>
/// <item>temperature = rate% x w_rate + age x aggr_us x w_age, negated when rate % == 0; the size
/// weight is forced to 0 as damo does for percentiles.</item>
/// </list>
/// Percentiles are per byte and exact: percentile p takes the metric of the first region (in
/// ascending metric order) whose cumulative bytes c satisfy c x 100 &gt;= p x total. For integer p
/// this is both damo's rule (cumulative share reaches p) and DAMON_STAT's (p &lt;= c x 100 / total
/// in integer division, since floor(x) &gt;= p iff x &gt;= p for integer p). damo accumulates the share
/// in floating point; we use exact integers, which can only differ when damo's float sum lands a
/// hair below an exact boundary. p = 0 is the first region (the minimum), p = 100 the first region
/// at which all bytes are accounted (the maximum over regions with non-zero size). Ties need no
/// rule: regions with equal metric give the same value whichever comes first.
/// </remarks>
public sealed partial class AccessSummarizer
{
    private readonly double[] percentiles;
    private readonly bool[] percentileIsInteger;
    private readonly ulong[] idleBucketUs;
    private readonly TemperatureWeights weights;
    private readonly uint wssThreshold;
    private readonly int heatmapColumns;

    // Per-call scratch, grown on demand and reused. In region order: sizes, rates and sort keys.
    private ulong[] sizes = [];
    private ulong[] rates = [];
    private ulong[] keys = [];
    private ulong[] keysTmp = [];
    private int[] order = [];
    private int[] orderTmp = [];

    // Sorted by (age, rate) and split by access rate: Z = rate 0 (idle for damo), H = rate > 0.
    private ulong[] zSizes = [];
    private uint[] zAges = [];
    private bool[] zNrZero = [];
    private ulong[] hSizes = [];
    private uint[] hAges = [];
    private ulong[] hRates = [];

    private double[] tempKeys = [];
    private ulong[] tempSizes = [];
    private ulong[] rateByNr = [];
    private ulong rateTableSampleUs = ulong.MaxValue;
    private ulong rateTableAggrUs = ulong.MaxValue;
    private readonly ulong[] bucketAgeLimits;
    private ulong bucketLimitsAggrUs = ulong.MaxValue;
    private ulong[] heatBounds = [];
    // Digit histograms: 4 x 256 counts, then a second lane of the three low digits (see ScanKeys).
    private readonly int[] radixCounts = new int[(4 * 256) + (3 * 256)];
    private readonly ulong[] thresholds;
    // Per slice: covered bytes and the exact sum of bytes x rate (at most span x max rate < 2^128).
    private readonly UInt128[] heatSum;
    private readonly ulong[] heatCovered;

    public AccessSummarizer(AccessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;

        if (options.Validate() is string problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        var ps = options.Percentiles;
        this.percentiles = new double[ps.Count];
        percentileIsInteger = new bool[ps.Count];
        for (var i = 0; i < ps.Count; i++)
        {
            this.percentiles[i] = ps[i];
            percentileIsInteger[i] = ps[i] == Math.Floor(ps[i]);
        }

        var bs = options.IdleBucketsSeconds;
        idleBucketUs = new ulong[bs.Count];
        for (var i = 0; i < bs.Count; i++)
        {
            // decimal keeps 0.1 s = 100000 us exact (double 0.1 x 1e6 is not guaranteed to be).
            idleBucketUs[i] = (ulong)decimal.Floor((decimal)bs[i] * 1_000_000m);
        }

        weights = options.TemperatureWeights;
        wssThreshold = options.WorkingSetAccessThreshold;
        heatmapColumns = options.HeatmapColumns;
        thresholds = new ulong[ps.Count];
        bucketAgeLimits = new ulong[bs.Count];
        heatSum = new UInt128[heatmapColumns];
        heatCovered = new ulong[heatmapColumns];
    }

    public AccessOptions Options { get; }

    public AccessSummary CreateSummary() => new(Options);

    /// <summary>Summarises one snapshot into a new summary.</summary>
    public AccessSummary Summarize(ReadOnlySpan<DamonRegion> regions, Intervals intervals, ulong addrUnit = 1)
    {
        var summary = CreateSummary();
        SummarizeInto(regions, intervals, addrUnit, summary);
        return summary;
    }

    /// <summary>damo's access rate (%) of a region: floor(nr x 100 x sample_us / aggr_us); 0 when aggr_us is 0.</summary>
    public static ulong AccessRatePercent(uint nrAccesses, Intervals intervals)
    {
        if (intervals.AggrUs == 0)
        {
            return 0;
        }

        var r = (UInt128)nrAccesses * 100u * intervals.SampleUs / intervals.AggrUs;
        return r > ulong.MaxValue ? ulong.MaxValue : (ulong)r;
    }

    /// <summary>Summarises one snapshot into <paramref name="into"/>, which must come from <see cref="CreateSummary"/>.</summary>
    public void SummarizeInto(ReadOnlySpan<DamonRegion> regions, Intervals intervals, ulong addrUnit, AccessSummary into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (into.IdleTimePercentilesUs.Length != this.percentiles.Length
            || into.IdleBytesAtMost.Length != idleBucketUs.Length + 1
            || into.HeatmapAccessRatePercent.Length != heatmapColumns)
        {
            throw new ArgumentException("the summary was not created by this summarizer's CreateSummary (array sizes differ from its options)", nameof(into));
        }

        if (addrUnit == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(addrUnit), "addr_unit must be >= 1");
        }

        var n = regions.Length;
        EnsureCapacity(n);
        var aggr = intervals.AggrUs;
        var rateTable = RateTable(intervals);

        // The sort key packs age << rateShift | rate into 32 bits above the region index. rateShift
        // fits the largest rate the table holds (100 % at nr = max_nr_accesses); a rate or age that
        // does not fit sends the snapshot to the general 64-bit sort below.
        var rateShift = rateTable.Length > 0 ? 64 - BitOperations.LeadingZeroCount(rateTable[^1]) : 32;

        // Two short passes over the regions rather than one long one: each keeps its running
        // values in registers (one loop carrying all of them spilled most to the stack).
        var sizes = this.sizes.AsSpan(0, n);
        var keys = this.keys.AsSpan(0, n);
        var (monitored, wss, accessBytes) = SumBytes(regions, addrUnit, wssThreshold, sizes);
        var scan = ScanKeys(regions, rateTable, intervals, rateShift, keys, rates, radixCounts);
        var hotRateMax = scan.MaxRate;
        var hotRateMin = scan.MinNonZeroRate;
        var idleButAccessed = scan.IdleButAccessed;
        var maxAge = scan.MaxAge;

        into.Intervals = intervals;
        into.RegionCount = n;
        into.MonitoredBytes = monitored;
        into.WorkingSetBytes = wss;
        into.BandwidthBytesPerSecond = aggr == 0 ? 0 : (double)(accessBytes * 1_000_000u) / aggr;
        var maxNr = intervals.MaxNrAccesses;
        into.ObservedAccessRatio = maxNr == 0 || monitored == 0 ? 0 : (double)accessBytes / ((double)monitored * maxNr);

        if (monitored == 0)
        {
            // No bytes: percentiles are undefined (damo divides by zero); report zeros.
            into.IdleTimePercentilesUs.AsSpan().Clear();
            into.SignedIdleTimePercentilesUs.AsSpan().Clear();
            into.TemperaturePercentiles.AsSpan().Clear();
            into.IdleBytesAtMost.AsSpan().Clear();
            into.HeatmapAccessRatePercent.AsSpan().Clear();
            return;
        }

        PrepareThresholds(monitored);
        var rateFits = hotRateMax <= uint.MaxValue;
        var packable = rateShift < 32 && hotRateMax >> rateShift == 0 && ((ulong)maxAge << rateShift) >> 32 == 0;
        int zCount;
        ulong ratedBytes;
        if (packable)
        {
            RadixSort.SortHigh32(keys, keysTmp.AsSpan(0, n), radixCounts, (((ulong)maxAge << rateShift) | hotRateMax) >> 24 != 0);
            zCount = GatherPacked(regions, keys, rateShift, idleButAccessed > 0, out ratedBytes);
        }
        else
        {
            zCount = GatherGeneral(regions, idleButAccessed > 0, out ratedBytes);
        }

        var hCount = n - zCount;
        var w = weights;
        var lexicographic = w.Age > 0 && w.AccessRate >= 0 && rateFits
            && (hotRateMax < hotRateMin || (Int128)w.Age * aggr > (Int128)w.AccessRate * (hotRateMax - hotRateMin));
        IdleWalk(zCount, aggr, ratedBytes, hCount > 0, into);
        SignedWalk(zCount, hCount, aggr, idleButAccessed, into);
        if (lexicographic)
        {
            TemperatureLexicographic(zCount, hCount, aggr, into.TemperaturePercentiles);
        }
        else
        {
            TemperatureSorted(zCount, hCount, aggr, into.TemperaturePercentiles);
        }

        if (heatmapColumns > 0)
        {
            Heatmap(regions, into.HeatmapAccessRatePercent);
        }
    }

    private void EnsureCapacity(int n)
    {
        if (sizes.Length >= n)
        {
            return;
        }

        var cap = Math.Max(n, sizes.Length * 2);
        sizes = new ulong[cap];
        rates = new ulong[cap];
        keys = new ulong[cap];
        keysTmp = new ulong[cap];
        order = new int[cap];
        orderTmp = new int[cap];
        zSizes = new ulong[cap];
        zAges = new uint[cap];
        zNrZero = new bool[cap];
        hSizes = new ulong[cap];
        hAges = new uint[cap];
        hRates = new ulong[cap];
        tempKeys = new double[cap];
        tempSizes = new ulong[cap];
    }

    /// <summary>Access rate % for nr_accesses 0..max_nr_accesses (divisions are the costly part of pass 1).</summary>
    private ReadOnlySpan<ulong> RateTable(Intervals intervals)
    {
        var max = intervals.MaxNrAccesses;
        if (max > 65_536)
        {
            return [];
        }

        var len = (int)max + 1;
        if (rateByNr.Length >= len && rateTableSampleUs == intervals.SampleUs && rateTableAggrUs == intervals.AggrUs)
        {
            // Same intervals as the previous call (the usual case): the table still holds.
            return rateByNr.AsSpan(0, len);
        }

        if (rateByNr.Length < len)
        {
            rateByNr = new ulong[Math.Max(len, 32)];
        }

        rateTableSampleUs = intervals.SampleUs;
        rateTableAggrUs = intervals.AggrUs;
        var table = rateByNr.AsSpan(0, len);
        for (var nr = 0; nr < len; nr++)
        {
            table[nr] = AccessRatePercent((uint)nr, intervals);
        }

        return table;
    }

    /// <summary>Bytes needed for each percentile: the least c with c x 100 &gt;= p x total.</summary>
    private void PrepareThresholds(ulong total)
    {
        for (var j = 0; j < percentiles.Length; j++)
        {
            var p = percentiles[j];
            if (percentileIsInteger[j])
            {
                var prod = (UInt128)(ulong)p * total;
                thresholds[j] = (ulong)((prod + 99u) / 100u);
            }
            else
            {
                // Fractional p (not in damo's or DAMON_STAT's lists): decimal keeps 99.9 exact.
                thresholds[j] = (ulong)decimal.Ceiling((decimal)p * total / 100m);
            }
        }
    }
}
