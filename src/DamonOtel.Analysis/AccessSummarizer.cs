using System.Globalization;
using System.Numerics;
using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis;

/// <summary>
/// Pure computation snapshot -> <see cref="AccessSummary"/>. Holds scratch buffers so that,
/// after warm-up, summarising allocates nothing. Not thread-safe: one per worker.
/// </summary>
/// <remarks>
/// Definitions (damo report access / DAMON_STAT, see reference/damo-formulas-and-peers.md §1.3, §1.5):
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
public sealed class AccessSummarizer
{
    private readonly double[] _percentiles;
    private readonly bool[] _percentileIsInteger;
    private readonly ulong[] _idleBucketUs;
    private readonly TemperatureWeights _weights;
    private readonly uint _wssThreshold;
    private readonly int _heatmapColumns;

    // Per-call scratch, grown on demand and reused.
    private ulong[] _sizes = [];
    private uint[] _ages = [];
    private uint[] _nrs = [];
    private ulong[] _rates = [];
    private ulong[] _keys = [];
    private ulong[] _keysTmp = [];
    private ulong[] _sortedSizes = [];
    private ulong[] _sortedRates = [];
    private uint[] _sortedAges = [];
    private bool[] _sortedNrZero = [];
    private int[] _order = [];
    private int[] _orderTmp = [];
    private double[] _tempKeys = [];
    private ulong[] _tempSizes = [];
    private ulong[] _rateByNr = [];
    private ulong _rateTableSampleUs = ulong.MaxValue;
    private ulong _rateTableAggrUs = ulong.MaxValue;
    private ulong[] _heatBounds = [];
    private readonly int[] _radixCounts = new int[4 * 256];
    private readonly ulong[] _thresholds;
    private readonly int[] _picked;
    private readonly double[] _heatSum;
    private readonly ulong[] _heatCovered;

    public AccessSummarizer(AccessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;

        var ps = options.Percentiles;
        _percentiles = new double[ps.Count];
        _percentileIsInteger = new bool[ps.Count];
        for (var i = 0; i < ps.Count; i++)
        {
            var p = ps[i];
            if (double.IsNaN(p) || p < 0 || p > 100)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"AccessOptions.Percentiles[{i}] = {p}: percentiles must be within [0, 100]"), nameof(options));
            }

            if (i > 0 && p < ps[i - 1])
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"AccessOptions.Percentiles[{i}] = {p}: percentiles must be ascending (previous is {ps[i - 1]})"), nameof(options));
            }

            _percentiles[i] = p;
            _percentileIsInteger[i] = p == Math.Floor(p);
        }

        var bs = options.IdleBucketsSeconds;
        _idleBucketUs = new ulong[bs.Count];
        for (var i = 0; i < bs.Count; i++)
        {
            var s = bs[i];
            if (!double.IsFinite(s) || s < 0 || s > 1e12)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"AccessOptions.IdleBucketsSeconds[{i}] = {s}: bucket bounds must be finite seconds within [0, 1e12]"), nameof(options));
            }

            if (i > 0 && s < bs[i - 1])
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"AccessOptions.IdleBucketsSeconds[{i}] = {s}: bucket bounds must be ascending (previous is {bs[i - 1]})"), nameof(options));
            }

            // decimal keeps 0.1 s = 100000 us exact (double 0.1 x 1e6 is not guaranteed to be).
            _idleBucketUs[i] = (ulong)decimal.Floor((decimal)s * 1_000_000m);
        }

        if (options.HeatmapColumns < 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"AccessOptions.HeatmapColumns = {options.HeatmapColumns}: must be >= 0"), nameof(options));
        }

        _weights = options.TemperatureWeights;
        _wssThreshold = options.WorkingSetAccessThreshold;
        _heatmapColumns = options.HeatmapColumns;
        _thresholds = new ulong[ps.Count];
        _picked = new int[ps.Count];
        _heatSum = new double[_heatmapColumns];
        _heatCovered = new ulong[_heatmapColumns];
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
        if (into.IdleTimePercentilesUs.Length != _percentiles.Length
            || into.IdleBytesAtMost.Length != _idleBucketUs.Length + 1
            || into.HeatmapAccessRatePercent.Length != _heatmapColumns)
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

        // Pass 1: per-region scalars, sums, and the composite sort key (age, rate).
        var sizes = _sizes.AsSpan(0, n);
        var ages = _ages.AsSpan(0, n);
        var nrs = _nrs.AsSpan(0, n);
        var rates = _rates.AsSpan(0, n);
        var keys = _keys.AsSpan(0, n);
        var order = _order.AsSpan(0, n);
        ulong monitored = 0;
        ulong wss = 0;
        ulong accessLo = 0, accessHi = 0;
        ulong hotRateMin = ulong.MaxValue, hotRateMax = 0;
        ulong ratedBytes = 0;
        var ratedCount = 0;
        uint maxAge = 0;
        ulong heatMin = ulong.MaxValue, heatMax = 0;
        var rateFits = true;
        for (var i = 0; i < n; i++)
        {
            var r = regions[i];
            if (r.End < r.Start)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"region {i}: end {r.End} < start {r.Start}"), nameof(regions));
            }

            var hi = Math.BigMul(r.End - r.Start, addrUnit, out var size);
            if (hi != 0 || ulong.MaxValue - monitored < size)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"region {i}: monitored bytes overflow 64 bits (size x addr_unit {addrUnit})"), nameof(regions));
            }

            monitored += size;
            sizes[i] = size;
            ages[i] = r.Age;
            nrs[i] = r.NrAccesses;
            if (r.NrAccesses >= _wssThreshold)
            {
                wss += size;
            }

            // 128-bit sum of size x nr by hand: UInt128's operators cost more than this loop's other work.
            var prodHi = Math.BigMul(size, r.NrAccesses, out var prodLo);
            var sumLo = accessLo + prodLo;
            accessHi += prodHi + (sumLo < accessLo ? 1UL : 0UL);
            accessLo = sumLo;
            var rate = r.NrAccesses < rateTable.Length ? rateTable[(int)r.NrAccesses] : AccessRatePercent(r.NrAccesses, intervals);

            rates[i] = rate;
            if (rate != 0)
            {
                hotRateMin = Math.Min(hotRateMin, rate);
                hotRateMax = Math.Max(hotRateMax, rate);
                ratedBytes += size;
                ratedCount++;
            }

            maxAge = Math.Max(maxAge, r.Age);
            if (r.End > r.Start)
            {
                heatMin = Math.Min(heatMin, r.Start);
                heatMax = Math.Max(heatMax, r.End);
            }

            if (rate > uint.MaxValue)
            {
                rateFits = false;
            }

        }

        var accessBytes = new UInt128(accessHi, accessLo);
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
        SortByAgeThenRate(keys, order, maxAge, hotRateMax, rateFits);

        var w = _weights;
        var lexicographic = w.Age > 0 && w.AccessRate >= 0 && rateFits
            && (hotRateMax < hotRateMin || (Int128)w.Age * aggr > (Int128)w.AccessRate * (hotRateMax - hotRateMin));
        Walks(n, aggr, ratedBytes, ratedCount, lexicographic, into);
        if (!lexicographic)
        {
            TemperatureSorted(n, aggr, into.TemperaturePercentiles);
        }

        Heatmap(regions, heatMin, heatMax, into.HeatmapAccessRatePercent);
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
        if (_rateByNr.Length >= len && _rateTableSampleUs == intervals.SampleUs && _rateTableAggrUs == intervals.AggrUs)
        {
            // Same intervals as the previous call (the usual case): the table still holds.
            return _rateByNr.AsSpan(0, len);
        }

        if (_rateByNr.Length < len)
        {
            _rateByNr = new ulong[Math.Max(len, 32)];
        }

        _rateTableSampleUs = intervals.SampleUs;
        _rateTableAggrUs = intervals.AggrUs;
        var table = _rateByNr.AsSpan(0, len);
        for (var nr = 0; nr < len; nr++)
        {
            table[nr] = AccessRatePercent((uint)nr, intervals);
        }

        return table;
    }

    private void EnsureCapacity(int n)
    {
        if (_sizes.Length >= n)
        {
            return;
        }

        var cap = Math.Max(n, _sizes.Length * 2);
        _sizes = new ulong[cap];
        _ages = new uint[cap];
        _nrs = new uint[cap];
        _rates = new ulong[cap];
        _keys = new ulong[cap];
        _keysTmp = new ulong[cap];
        _sortedSizes = new ulong[cap];
        _sortedRates = new ulong[cap];
        _sortedAges = new uint[cap];
        _sortedNrZero = new bool[cap];
        _order = new int[cap];
        _orderTmp = new int[cap];
        _tempKeys = new double[cap];
        _tempSizes = new ulong[cap];
    }

    /// <summary>Bytes needed for each percentile: the least c with c x 100 &gt;= p x total.</summary>
    private void PrepareThresholds(ulong total)
    {
        for (var j = 0; j < _percentiles.Length; j++)
        {
            var p = _percentiles[j];
            if (_percentileIsInteger[j])
            {
                var prod = (UInt128)(ulong)p * total;
                _thresholds[j] = (ulong)((prod + 99u) / 100u);
            }
            else
            {
                // Fractional p (not in damo's or DAMON_STAT's lists): decimal keeps 99.9 exact.
                _thresholds[j] = (ulong)decimal.Ceiling((decimal)p * total / 100m);
            }
        }
    }

    /// <summary>
    /// Adds <paramref name="size"/> bytes of one metric value (or one run of equal values) and
    /// returns the index just past the percentiles it satisfies, starting at <paramref name="next"/>.
    /// </summary>
    private int Reach(ref ulong cum, int next, ulong size)
    {
        cum += size;
        var t = _thresholds;
        while (next < t.Length && cum >= t[next])
        {
            next++;
        }

        return next;
    }

    private static ulong IdleUs(uint age, ulong aggr)
    {
        var hi = Math.BigMul((ulong)age + 1, aggr, out var lo);
        return hi != 0 ? ulong.MaxValue : lo;
    }

    private static long SignedIdleUs(uint age, ulong aggr, bool accessed)
    {
        var v = ((UInt128)age + 1) * aggr;
        var m = v > long.MaxValue ? long.MaxValue : (long)v;
        return accessed ? -m : m;
    }

    /// <summary>
    /// The percentile walks over the regions in ascending (age, rate) order, fused into one
    /// backward and one forward pass over arrays gathered in that order:
    /// <list type="bullet">
    /// <item>damo idle time: all rate&gt;0 regions are one run at 0, then rate==0 regions by age
    /// ascending (also fills the idle-bytes buckets);</item>
    /// <item>DAMON_STAT 6.18 signed idle time: accessed (nr&gt;0) regions by age descending (most
    /// negative first), then nr==0 regions by age ascending;</item>
    /// <item>temperature, when <paramref name="lexicographic"/> (see below): rate==0 regions by age
    /// descending, then rate&gt;0 regions by (age, rate) ascending. With w_age &gt; 0, w_rate &gt;= 0
    /// and one aggregation interval of age outweighing any access-rate difference among accessed
    /// regions, that is ascending temperature, with no sort by temperature.</item>
    /// </list>
    /// Each walk keeps its own cumulative bytes and next percentile; interleaving them changes nothing.
    /// </summary>
    private void Walks(int n, ulong aggr, ulong ratedBytes, int ratedCount, bool lexicographic, AccessSummary into)
    {
        var sizes = _sortedSizes.AsSpan(0, n);
        var rates = _sortedRates.AsSpan(0, n);
        var ages = _sortedAges.AsSpan(0, n);
        var nrZero = _sortedNrZero.AsSpan(0, n);
        var idleP = into.IdleTimePercentilesUs;
        var signedP = into.SignedIdleTimePercentilesUs;
        var tempP = into.TemperaturePercentiles;

        // Backward: the first halves of the signed and temperature walks.
        ulong signedCum = 0, tempCum = 0;
        int signedNext = 0, tempNext = 0;
        for (var k = n - 1; k >= 0; k--)
        {
            if (!nrZero[k])
            {
                var reached = Reach(ref signedCum, signedNext, sizes[k]);
                if (reached != signedNext)
                {
                    signedP.AsSpan(signedNext, reached - signedNext).Fill(SignedIdleUs(ages[k], aggr, accessed: true));
                    signedNext = reached;
                }
            }

            if (lexicographic && rates[k] == 0)
            {
                var reached = Reach(ref tempCum, tempNext, sizes[k]);
                if (reached != tempNext)
                {
                    tempP.AsSpan(tempNext, reached - tempNext).Fill(Temperature(rates[k], ages[k], aggr));
                    tempNext = reached;
                }
            }
        }

        // damo idle: the rate>0 bytes come first, as one run at 0.
        ulong idleCum = 0;
        var idleNext = 0;
        if (ratedCount > 0)
        {
            idleNext = Reach(ref idleCum, 0, ratedBytes);
            idleP.AsSpan(0, idleNext).Clear();
        }

        // Every bucket bound >= 0 holds the idle-0 bytes.
        var buckets = into.IdleBytesAtMost;
        var bucketBounds = _idleBucketUs;
        var bucket = 0;
        var bucketCum = ratedBytes;

        // Forward: damo idle, the second half of signed, the second half of temperature.
        for (var k = 0; k < n; k++)
        {
            var size = sizes[k];
            if (rates[k] == 0)
            {
                var idle = IdleUs(ages[k], aggr);
                while (bucket < bucketBounds.Length && bucketBounds[bucket] < idle)
                {
                    buckets[bucket++] = bucketCum;
                }

                bucketCum += size;
                var reached = Reach(ref idleCum, idleNext, size);
                if (reached != idleNext)
                {
                    idleP.AsSpan(idleNext, reached - idleNext).Fill(idle);
                    idleNext = reached;
                }
            }
            else if (lexicographic)
            {
                var reached = Reach(ref tempCum, tempNext, size);
                if (reached != tempNext)
                {
                    tempP.AsSpan(tempNext, reached - tempNext).Fill(Temperature(rates[k], ages[k], aggr));
                    tempNext = reached;
                }
            }

            if (nrZero[k])
            {
                var reached = Reach(ref signedCum, signedNext, size);
                if (reached != signedNext)
                {
                    signedP.AsSpan(signedNext, reached - signedNext).Fill(SignedIdleUs(ages[k], aggr, accessed: false));
                    signedNext = reached;
                }
            }
        }

        while (bucket < bucketBounds.Length)
        {
            buckets[bucket++] = bucketCum;
        }

        buckets[^1] = bucketCum;
        FillRemaining(idleP, idleNext);
        FillRemaining(signedP, signedNext);
        if (lexicographic)
        {
            FillRemaining(tempP, tempNext);
        }
    }

    private double Temperature(ulong rate, uint age, ulong aggr)
    {
        // Integer arithmetic like damo's Python ints, so age 0 idle gives 0, not -0.0.
        var score = (Int128)rate * _weights.AccessRate + (Int128)age * aggr * _weights.Age;
        return (double)(rate > 0 ? score : -score);
    }

    /// <summary>Any weights: sort by the temperature itself.</summary>
    private void TemperatureSorted(int n, ulong aggr, double[] outP)
    {
        var keys = _tempKeys.AsSpan(0, n);
        var sizes = _tempSizes.AsSpan(0, n);
        for (var i = 0; i < n; i++)
        {
            keys[i] = Temperature(_rates[i], _ages[i], aggr);
            sizes[i] = _sizes[i];
        }

        keys.Sort(sizes);
        ulong cum = 0;
        var next = 0;
        for (var k = 0; k < n; k++)
        {
            var reached = Reach(ref cum, next, sizes[k]);
            if (reached != next)
            {
                outP.AsSpan(next, reached - next).Fill(keys[k]);
                next = reached;
            }
        }

        FillRemaining(outP, next);
    }

    private static void FillRemaining<T>(T[] values, int next)
    {
        // Unreachable with exact arithmetic (the last byte reaches every p <= 100); kept so a
        // summary never shows values of a previous snapshot.
        if (next >= values.Length)
        {
            return;
        }

        if (next == 0)
        {
            values.AsSpan().Clear();
        }
        else
        {
            values.AsSpan(next).Fill(values[next - 1]);
        }
    }

    /// <summary>
    /// N equal address slices between the lowest start and the highest end; slice i is
    /// [min + floor(i x span / N), min + floor((i+1) x span / N)). Each column is the access rate %
    /// averaged over the covered bytes of the slice (gaps between regions do not count); a slice
    /// with no region bytes is 0.
    /// </summary>
    /// <param name="min">Lowest start of a non-empty region (from the per-region pass).</param>
    /// <param name="max">Highest end of a non-empty region.</param>
    private void Heatmap(ReadOnlySpan<DamonRegion> regions, ulong min, ulong max, double[] outCols)
    {
        var cols = _heatmapColumns;
        if (cols == 0)
        {
            return;
        }

        var sum = _heatSum;
        var covered = _heatCovered;
        Array.Clear(sum);
        Array.Clear(covered);
        var span = max - min;
        if (_heatBounds.Length < cols + 1)
        {
            _heatBounds = new ulong[cols + 1];
        }

        var bounds = _heatBounds;
        for (var c = 0; c <= cols; c++)
        {
            bounds[c] = min + (ulong)((UInt128)span * (ulong)c / (ulong)cols);
        }

        var prevSlice = 0;
        for (var i = 0; i < regions.Length; i++)
        {
            var r = regions[i];
            if (r.End <= r.Start)
            {
                continue;
            }

            var rate = (double)_rates[i];
            // The last slice whose lower bound is <= start. Regions usually come sorted by address,
            // so first try stepping forward from the previous region's slice; else binary search.
            int lo0 = 0, hi0 = cols - 1;
            if (bounds[prevSlice] <= r.Start)
            {
                lo0 = prevSlice;
                while (lo0 < cols - 1 && bounds[lo0 + 1] <= r.Start && lo0 - prevSlice < 4)
                {
                    lo0++;
                }

                if (lo0 == cols - 1 || bounds[lo0 + 1] > r.Start)
                {
                    hi0 = lo0;
                }
            }

            while (lo0 < hi0)
            {
                var mid = (lo0 + hi0 + 1) >> 1;
                if (bounds[mid] <= r.Start)
                {
                    lo0 = mid;
                }
                else
                {
                    hi0 = mid - 1;
                }
            }

            var c = lo0;
            prevSlice = c;

            for (; c < cols; c++)
            {
                var lo = bounds[c];
                if (lo >= r.End)
                {
                    break;
                }

                var hi = bounds[c + 1];
                if (hi <= r.Start)
                {
                    continue;
                }

                var overlap = Math.Min(hi, r.End) - Math.Max(lo, r.Start);

                covered[c] += overlap;
                sum[c] += overlap * rate;
            }
        }

        for (var c = 0; c < cols; c++)
        {
            outCols[c] = covered[c] == 0 ? 0 : sum[c] / covered[c];
        }
    }

    /// <summary>
    /// Sorts the regions by (age, rate) ascending, ties by index (a stable order), and gathers
    /// size, rate, age and nr==0 in that order for <see cref="Walks"/>. When age and rate fit in
    /// 32 bits together (always for real snapshots: ages of days and rates of percent), the key is
    /// packed as age &lt;&lt; rateBits | rate above the 32-bit index in one ulong, so a pass moves one
    /// word and only the key's varying bytes are sorted (3 passes instead of 4 for ages up to 2^17).
    /// </summary>
    private void SortByAgeThenRate(Span<ulong> keys, Span<int> order, uint maxAge, ulong maxRate, bool rateFits)
    {
        var n = keys.Length;
        var sizes = _sortedSizes;
        var rates = _sortedRates;
        var ages = _sortedAges;
        var nrZero = _sortedNrZero;
        var rateBits = rateFits ? 64 - BitOperations.LeadingZeroCount(maxRate) : 64;
        var ageBits = 32 - BitOperations.LeadingZeroCount(maxAge);
        if (rateBits + ageBits <= 32)
        {
            var srcRates = _rates;
            var srcAges = _ages;
            for (var i = 0; i < n; i++)
            {
                keys[i] = (((ulong)srcAges[i] << rateBits | srcRates[i]) << 32) | (uint)i;
            }

            RadixSortHigh32(keys);
            var srcSizes = _sizes;
            var srcNrs = _nrs;
            for (var k = 0; k < n; k++)
            {
                var i = (int)(uint)keys[k];
                sizes[k] = srcSizes[i];
                rates[k] = srcRates[i];
                ages[k] = srcAges[i];
                nrZero[k] = srcNrs[i] == 0;
            }

            return;
        }

        for (var i = 0; i < n; i++)
        {
            keys[i] = ((ulong)_ages[i] << 32) | Math.Min(_rates[i], uint.MaxValue);
            order[i] = i;
        }

        RadixSort(keys, order);
        for (var k = 0; k < n; k++)
        {
            var i = order[k];
            sizes[k] = _sizes[i];
            rates[k] = _rates[i];
            ages[k] = _ages[i];
            nrZero[k] = _nrs[i] == 0;
        }
    }

    /// <summary>
    /// LSD radix sort on bits 32..63 only, 8 bits a pass, skipping bytes that never vary; the low
    /// 32 bits (the index, ascending on entry) ride along, which makes the sort stable by index.
    /// All digit histograms are counted in one read of the keys (they do not depend on order).
    /// </summary>
    private void RadixSortHigh32(Span<ulong> keys)
    {
        var n = keys.Length;
        if (n < 2)
        {
            return;
        }

        ulong diff = 0;
        var k0 = keys[0];
        var counts = _radixCounts.AsSpan();
        counts.Clear();
        for (var i = 0; i < n; i++)
        {
            var k = keys[i];
            diff |= k ^ k0;
            counts[(int)((k >> 32) & 0xFF)]++;
            counts[256 + (int)((k >> 40) & 0xFF)]++;
            counts[512 + (int)((k >> 48) & 0xFF)]++;
            counts[768 + (int)(k >> 56)]++;
        }

        var src = keys;
        var dst = _keysTmp.AsSpan(0, n);
        var swapped = false;
        for (var d = 0; d < 4; d++)
        {
            var shift = 32 + (8 * d);
            if (((diff >> shift) & 0xFF) == 0)
            {
                continue;
            }

            var c = counts.Slice(256 * d, 256);
            var total = 0;
            for (var b = 0; b < 256; b++)
            {
                var x = c[b];
                c[b] = total;
                total += x;
            }

            for (var i = 0; i < n; i++)
            {
                var k = src[i];
                dst[c[(int)((k >> shift) & 0xFF)]++] = k;
            }

            var t = src;
            src = dst;
            dst = t;
            swapped = !swapped;
        }

        if (swapped)
        {
            src.CopyTo(keys);
        }
    }

    /// <summary>LSD radix sort of keys with their indices, 8 bits a pass, skipping bytes that never vary.</summary>
    private void RadixSort(Span<ulong> keys, Span<int> order)
    {
        var n = keys.Length;
        if (n < 2)
        {
            return;
        }

        ulong diff = 0;
        var k0 = keys[0];
        for (var i = 1; i < n; i++)
        {
            diff |= keys[i] ^ k0;
        }

        var srcK = keys;
        var srcO = order;
        var dstK = _keysTmp.AsSpan(0, n);
        var dstO = _orderTmp.AsSpan(0, n);
        var counts = _radixCounts.AsSpan(0, 256);
        var swapped = false;
        for (var shift = 0; shift < 64; shift += 8)
        {
            if (((diff >> shift) & 0xFF) == 0)
            {
                continue;
            }

            counts.Clear();
            for (var i = 0; i < n; i++)
            {
                counts[(int)((srcK[i] >> shift) & 0xFF)]++;
            }

            var total = 0;
            for (var b = 0; b < 256; b++)
            {
                var c = counts[b];
                counts[b] = total;
                total += c;
            }

            for (var i = 0; i < n; i++)
            {
                var k = srcK[i];
                var pos = counts[(int)((k >> shift) & 0xFF)]++;
                dstK[pos] = k;
                dstO[pos] = srcO[i];
            }

            var tk = srcK;
            srcK = dstK;
            dstK = tk;
            var to = srcO;
            srcO = dstO;
            dstO = to;
            swapped = !swapped;
        }

        if (swapped)
        {
            srcK.CopyTo(keys);
            srcO.CopyTo(order);
        }
    }
}
