using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
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

    // Per-call scratch, grown on demand and reused. In region order: sizes, rates and sort keys.
    private ulong[] _sizes = [];
    private ulong[] _rates = [];
    private ulong[] _keys = [];
    private ulong[] _keysTmp = [];
    private int[] _order = [];
    private int[] _orderTmp = [];

    // Sorted by (age, rate) and split by access rate: Z = rate 0 (idle for damo), H = rate > 0.
    private ulong[] _zSizes = [];
    private uint[] _zAges = [];
    private bool[] _zNrZero = [];
    private ulong[] _hSizes = [];
    private uint[] _hAges = [];
    private ulong[] _hRates = [];

    private double[] _tempKeys = [];
    private ulong[] _tempSizes = [];
    private ulong[] _rateByNr = [];
    private ulong _rateTableSampleUs = ulong.MaxValue;
    private ulong _rateTableAggrUs = ulong.MaxValue;
    private readonly ulong[] _bucketAgeLimits;
    private ulong _bucketLimitsAggrUs = ulong.MaxValue;
    private ulong[] _heatBounds = [];
    // Digit histograms: 4 x 256 counts, then a second lane of the three low digits (see ScanKeys).
    private readonly int[] _radixCounts = new int[(4 * 256) + (3 * 256)];
    private readonly ulong[] _thresholds;
    // Per slice: covered bytes and the exact sum of bytes x rate (at most span x max rate < 2^128).
    private readonly UInt128[] _heatSum;
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
        _bucketAgeLimits = new ulong[bs.Count];
        _heatSum = new UInt128[_heatmapColumns];
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

        // The sort key packs age << rateShift | rate into 32 bits above the region index. rateShift
        // fits the largest rate the table holds (100 % at nr = max_nr_accesses); a rate or age that
        // does not fit sends the snapshot to the general 64-bit sort below.
        var rateShift = rateTable.Length > 0 ? 64 - BitOperations.LeadingZeroCount(rateTable[^1]) : 32;

        // Two short passes over the regions rather than one long one: each keeps its running
        // values in registers (one loop carrying all of them spilled most to the stack).
        var sizes = _sizes.AsSpan(0, n);
        var keys = _keys.AsSpan(0, n);
        var (monitored, wss, accessBytes) = SumBytes(regions, addrUnit, _wssThreshold, sizes);
        var scan = ScanKeys(regions, rateTable, intervals, rateShift, keys, _rates, _radixCounts);
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
            RadixSortHigh32(keys, (((ulong)maxAge << rateShift) | hotRateMax) >> 24 != 0);
            zCount = GatherPacked(regions, keys, rateShift, idleButAccessed > 0, out ratedBytes);
        }
        else
        {
            zCount = GatherGeneral(regions, idleButAccessed > 0, out ratedBytes);
        }

        var hCount = n - zCount;
        var w = _weights;
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

        if (_heatmapColumns > 0)
        {
            Heatmap(regions, into.HeatmapAccessRatePercent);
        }
    }

    /// <summary>Region sizes in bytes, their total, the working set and the 128-bit sum of bytes x nr_accesses.</summary>
    private static (ulong Monitored, ulong WorkingSet, UInt128 AccessBytes) SumBytes(ReadOnlySpan<DamonRegion> regions, ulong addrUnit, uint wssThreshold, Span<ulong> sizes)
    {
        ulong monitored = 0, wss = 0, accessLo = 0, accessHi = 0;
        for (var i = 0; i < regions.Length; i++)
        {
            var r = regions[i];
            if (r.End < r.Start)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"region {i}: end {r.End} < start {r.Start}"), nameof(regions));
            }

            var size = r.End - r.Start;
            if (addrUnit != 1 && Math.BigMul(size, addrUnit, out size) != 0)
            {
                throw Overflow(i, addrUnit);
            }

            var total = monitored + size;
            if (total < monitored)
            {
                throw Overflow(i, addrUnit);
            }

            monitored = total;
            sizes[i] = size;
            var nr = r.NrAccesses;
            wss += nr >= wssThreshold ? size : 0;

            // 128-bit sum by hand: UInt128's operators cost more than the rest of this loop.
            var prodHi = Math.BigMul(size, nr, out var prodLo);
            var sumLo = accessLo + prodLo;
            accessHi += prodHi + (sumLo < accessLo ? 1UL : 0UL);
            accessLo = sumLo;
        }

        return (monitored, wss, new UInt128(accessHi, accessLo));

        static ArgumentException Overflow(int i, ulong addrUnit) =>
            new(string.Create(CultureInfo.InvariantCulture, $"region {i}: monitored bytes overflow 64 bits (size x addr_unit {addrUnit})"), nameof(regions));
    }

    private readonly record struct KeyScan(ulong MaxRate, ulong MinNonZeroRate, uint MaxAge, int IdleButAccessed);

    /// <summary>
    /// Per region: the access rate, the packed sort key (age &lt;&lt; rateShift | rate above the index) and the
    /// histograms of its three low digits, plus the largest rate and age and the smallest rate
    /// above 0. Regions whose nr_accesses round down to a 0 % rate are counted (idle for damo,
    /// accessed for DAMON_STAT).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // its own frame in profiles
    private static KeyScan ScanKeys(ReadOnlySpan<DamonRegion> regions, ReadOnlySpan<ulong> rateTable, Intervals intervals, int rateShift, Span<ulong> keys, Span<ulong> rates, Span<int> counts)
    {
        counts.Clear();
        ulong maxRate = 0, minRateLess1 = ulong.MaxValue;
        uint maxAge = 0;
        var idleButAccessed = 0;
        var beyondTable = false;
        for (var i = 0; i < regions.Length; i++)
        {
            var nr = regions[i].NrAccesses;
            var age = regions[i].Age;
            if (nr >= (uint)rateTable.Length)
            {
                // nr_accesses above max_nr_accesses (intervals changed under the snapshot, or no
                // table): leave the loop, so that no call inside it makes the JIT spill its registers.
                beyondTable = true;
                break;
            }

            var rate = rateTable[(int)nr];
            rates[i] = rate;
            maxRate = Math.Max(maxRate, rate);
            minRateLess1 = Math.Min(minRateLess1, rate - 1); // rate 0 wraps to the maximum
            idleButAccessed += rate == 0 && nr != 0 ? 1 : 0;
            maxAge = Math.Max(maxAge, age);
            var packed = ((ulong)age << rateShift) | rate;
            keys[i] = (packed << 32) | (uint)i;

            // Two lanes by index parity: runs of equal digits (rate 0, young ages) would otherwise
            // chain every increment through a store-to-load forward on the same counter.
            var lane = (i & 1) << 10;
            counts[lane + (int)(packed & 0xFF)]++;
            counts[lane + 256 + (int)((packed >> 8) & 0xFF)]++;
            counts[lane + 512 + (int)((packed >> 16) & 0xFF)]++;
        }

        return beyondTable
            ? ScanKeysGeneral(regions, rateTable, intervals, rateShift, keys, rates, counts)
            : new KeyScan(maxRate, minRateLess1 == ulong.MaxValue ? ulong.MaxValue : minRateLess1 + 1, maxAge, idleButAccessed);
    }

    /// <summary><see cref="ScanKeys"/> for any nr_accesses, computing rates beyond the table.</summary>
    private static KeyScan ScanKeysGeneral(ReadOnlySpan<DamonRegion> regions, ReadOnlySpan<ulong> rateTable, Intervals intervals, int rateShift, Span<ulong> keys, Span<ulong> rates, Span<int> counts)
    {
        counts.Clear();
        ulong maxRate = 0, minRate = ulong.MaxValue;
        uint maxAge = 0;
        var idleButAccessed = 0;
        for (var i = 0; i < regions.Length; i++)
        {
            var r = regions[i];
            var rate = RateOf(r.NrAccesses, rateTable, intervals);
            rates[i] = rate;
            maxRate = Math.Max(maxRate, rate);
            if (rate != 0)
            {
                minRate = Math.Min(minRate, rate);
            }
            else if (r.NrAccesses != 0)
            {
                idleButAccessed++;
            }

            maxAge = Math.Max(maxAge, r.Age);
            var packed = ((ulong)r.Age << rateShift) | rate;
            keys[i] = (packed << 32) | (uint)i;
            counts[(int)(packed & 0xFF)]++;
            counts[256 + (int)((packed >> 8) & 0xFF)]++;
            counts[512 + (int)((packed >> 16) & 0xFF)]++;
        }

        return new KeyScan(maxRate, minRate, maxAge, idleButAccessed);
    }

    private void EnsureCapacity(int n)
    {
        if (_sizes.Length >= n)
        {
            return;
        }

        var cap = Math.Max(n, _sizes.Length * 2);
        _sizes = new ulong[cap];
        _rates = new ulong[cap];
        _keys = new ulong[cap];
        _keysTmp = new ulong[cap];
        _order = new int[cap];
        _orderTmp = new int[cap];
        _zSizes = new ulong[cap];
        _zAges = new uint[cap];
        _zNrZero = new bool[cap];
        _hSizes = new ulong[cap];
        _hAges = new uint[cap];
        _hRates = new ulong[cap];
        _tempKeys = new double[cap];
        _tempSizes = new ulong[cap];
    }

    /// <summary>
    /// Splits the (age, rate)-sorted keys into Z (rate 0, by age) and H (rate &gt; 0, by age then
    /// rate), decoding age and rate from the key itself. Returns the size of Z.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // its own frame in profiles
    private int GatherPacked(ReadOnlySpan<DamonRegion> regions, ReadOnlySpan<ulong> keys, int rateShift, bool idleButAccessed, out ulong hBytes)
    {
        ulong hSum = 0;
        var rateMask = (1UL << rateShift) - 1;
        var sizes = _sizes;
        var zSizes = _zSizes;
        var zAges = _zAges;
        var hSizes = _hSizes;
        var hAges = _hAges;
        var hRates = _hRates;
        int zc = 0, hc = 0;
        for (var k = 0; k < keys.Length; k++)
        {
            var key = keys[k];
            var i = (int)(uint)key;
            var packed = key >> 32;
            var rate = packed & rateMask;
            var age = (uint)(packed >> rateShift);
            if (rate == 0)
            {
                zSizes[zc] = sizes[i];
                zAges[zc] = age;
                if (idleButAccessed)
                {
                    _zNrZero[zc] = regions[i].NrAccesses == 0;
                }

                zc++;
            }
            else
            {
                var size = sizes[i];
                hSizes[hc] = size;
                hAges[hc] = age;
                hRates[hc] = rate;
                hSum += size;
                hc++;
            }
        }

        hBytes = hSum;
        return zc;
    }

    /// <summary>Ages or rates too large for the packed key: a 64-bit (age, rate) sort with an index array.</summary>
    private int GatherGeneral(ReadOnlySpan<DamonRegion> regions, bool idleButAccessed, out ulong hBytes)
    {
        hBytes = 0;
        var n = regions.Length;
        var keys = _keys.AsSpan(0, n);
        var order = _order.AsSpan(0, n);
        for (var i = 0; i < n; i++)
        {
            keys[i] = ((ulong)regions[i].Age << 32) | Math.Min(_rates[i], uint.MaxValue);
            order[i] = i;
        }

        RadixSort(keys, order);
        int zc = 0, hc = 0;
        for (var k = 0; k < n; k++)
        {
            var i = order[k];
            var r = regions[i];
            var rate = _rates[i];
            if (rate == 0)
            {
                _zSizes[zc] = _sizes[i];
                _zAges[zc] = r.Age;
                if (idleButAccessed)
                {
                    _zNrZero[zc] = r.NrAccesses == 0;
                }

                zc++;
            }
            else
            {
                _hSizes[hc] = _sizes[i];
                _hAges[hc] = r.Age;
                _hRates[hc] = rate;
                hBytes += _sizes[i];
                hc++;
            }
        }

        return zc;
    }

    private static ulong RateOf(uint nr, ReadOnlySpan<ulong> rateTable, Intervals intervals) =>
        nr < (uint)rateTable.Length ? rateTable[(int)nr] : AccessRatePercent(nr, intervals);

    /// <summary>
    /// Hands <paramref name="value"/> to every percentile from <paramref name="next"/> on whose byte
    /// threshold <paramref name="cum"/> reaches; returns the next threshold still ahead
    /// (<see cref="ulong.MaxValue"/> when none is), so callers compare one local per region.
    /// </summary>
    private ulong Reach<T>(ulong cum, ref int next, T[] output, T value)
    {
        var t = _thresholds;
        while (next < t.Length && cum >= t[next])
        {
            output[next++] = value;
        }

        return next < t.Length ? t[next] : ulong.MaxValue;
    }

    private ulong FirstThreshold => _thresholds.Length > 0 ? _thresholds[0] : ulong.MaxValue;

    /// <summary>
    /// damo idle time: all rate &gt; 0 bytes are one run at 0, then Z by age ascending; the same
    /// pass fills the cumulative idle-bytes buckets.
    /// </summary>
    private void IdleWalk(int zCount, ulong aggr, ulong ratedBytes, bool anyRated, AccessSummary into)
    {
        var idleP = into.IdleTimePercentilesUs;
        var next = 0;
        var nextT = FirstThreshold;

        // Every bound >= 0 holds the idle-0 bytes, so the bucket sum and the walk share one cumulative.
        var cum = ratedBytes;
        if (anyRated && cum >= nextT)
        {
            nextT = Reach(cum, ref next, idleP, 0UL);
        }

        // idle (age+1) x aggr > T exactly when age >= floor(T / aggr): compare ages, not products.
        var limits = BucketAgeLimits(aggr);
        var buckets = into.IdleBytesAtMost;
        var bucket = 0;
        var nextLimit = limits.Length > 0 ? limits[0] : ulong.MaxValue;
        var zSizes = _zSizes;
        var zAges = _zAges;
        for (var k = 0; k < zCount; k++)
        {
            var age = zAges[k];
            while (age >= nextLimit)
            {
                buckets[bucket++] = cum;
                nextLimit = bucket < limits.Length ? limits[bucket] : ulong.MaxValue;
            }

            cum += zSizes[k];
            if (cum >= nextT)
            {
                nextT = Reach(cum, ref next, idleP, IdleUs(age, aggr));
            }
        }

        while (bucket < limits.Length)
        {
            buckets[bucket++] = cum;
        }

        buckets[^1] = cum;
        FillRemaining(idleP, next);
    }

    /// <summary>floor(T / aggr) per idle bucket bound (all-max when aggr is 0: every idle time is then 0).</summary>
    private ReadOnlySpan<ulong> BucketAgeLimits(ulong aggr)
    {
        var limits = _bucketAgeLimits;
        if (_bucketLimitsAggrUs != aggr)
        {
            for (var b = 0; b < limits.Length; b++)
            {
                limits[b] = aggr == 0 ? ulong.MaxValue : _idleBucketUs[b] / aggr;
            }

            _bucketLimitsAggrUs = aggr;
        }

        return limits;
    }

    /// <summary>
    /// DAMON_STAT 6.18 signed idle time: accessed (nr &gt; 0) regions by age descending (most
    /// negative first), then nr == 0 regions by age ascending. Accessed = H plus any Z region whose
    /// nr_accesses rounds down to a 0 % rate (only possible with more than 100 samples per
    /// aggregation); without those, the second half crosses the same thresholds at the same Z
    /// regions as the damo idle walk, with the same values, so it is copied from there.
    /// </summary>
    private void SignedWalk(int zCount, int hCount, ulong aggr, int idleButAccessed, AccessSummary into)
    {
        var signedP = into.SignedIdleTimePercentilesUs;
        var hSizes = _hSizes;
        var hAges = _hAges;
        var zSizes = _zSizes;
        var zAges = _zAges;
        var nrZero = _zNrZero;
        ulong cum = 0;
        var next = 0;
        var nextT = FirstThreshold;
        var h = hCount - 1;
        var z = zCount - 1;
        while (true)
        {
            // Next accessed region by age descending: from H, or from Z when it has accessed ones.
            if (idleButAccessed > 0)
            {
                while (z >= 0 && nrZero[z])
                {
                    z--;
                }
            }
            else
            {
                z = -1;
            }

            uint age;
            ulong size;
            if (h >= 0 && (z < 0 || hAges[h] >= zAges[z]))
            {
                age = hAges[h];
                size = hSizes[h--];
            }
            else if (z >= 0)
            {
                age = zAges[z];
                size = zSizes[z--];
            }
            else
            {
                break;
            }

            cum += size;
            if (cum >= nextT)
            {
                nextT = Reach(cum, ref next, signedP, SignedIdleUs(age, aggr, accessed: true));
            }
        }

        if (idleButAccessed == 0)
        {
            var idleP = into.IdleTimePercentilesUs;
            for (var j = next; j < signedP.Length; j++)
            {
                signedP[j] = idleP[j] > long.MaxValue ? long.MaxValue : (long)idleP[j];
            }

            return;
        }

        for (var k = 0; k < zCount; k++)
        {
            if (!nrZero[k])
            {
                continue;
            }

            cum += zSizes[k];
            if (cum >= nextT)
            {
                nextT = Reach(cum, ref next, signedP, SignedIdleUs(zAges[k], aggr, accessed: false));
            }
        }

        FillRemaining(signedP, next);
    }

    /// <summary>
    /// Temperature when w_age &gt; 0, w_rate &gt;= 0 and one aggregation interval of age outweighs
    /// any access-rate difference among accessed regions: Z by age descending (most negative
    /// first), then H by (age, rate) ascending is ascending temperature, with no sort by temperature.
    /// </summary>
    private void TemperatureLexicographic(int zCount, int hCount, ulong aggr, double[] tempP)
    {
        ulong cum = 0;
        var next = 0;
        var nextT = FirstThreshold;
        var zSizes = _zSizes;
        var zAges = _zAges;
        for (var k = zCount - 1; k >= 0; k--)
        {
            cum += zSizes[k];
            if (cum >= nextT)
            {
                nextT = Reach(cum, ref next, tempP, Temperature(0, zAges[k], aggr));
            }
        }

        var hSizes = _hSizes;
        var hAges = _hAges;
        var hRates = _hRates;
        for (var k = 0; k < hCount; k++)
        {
            cum += hSizes[k];
            if (cum >= nextT)
            {
                nextT = Reach(cum, ref next, tempP, Temperature(hRates[k], hAges[k], aggr));
            }
        }

        FillRemaining(tempP, next);
    }

    /// <summary>
    /// Any weights. Idle (rate 0) regions need no sort: their temperature, -(age x aggr x w_age),
    /// is monotone in age and Z is already age-ordered (walked backward when w_age &gt;= 0). Only the
    /// accessed regions are sorted by temperature; the two ordered runs are then merged.
    /// </summary>
    private void TemperatureSorted(int zCount, int hCount, ulong aggr, double[] tempP)
    {
        var hKeys = _tempKeys.AsSpan(0, hCount);
        var hSizes = _tempSizes.AsSpan(0, hCount);
        for (var k = 0; k < hCount; k++)
        {
            hKeys[k] = Temperature(_hRates[k], _hAges[k], aggr);
            hSizes[k] = _hSizes[k];
        }

        hKeys.Sort(hSizes);

        var zAges = _zAges;
        var zSizes = _zSizes;
        var zStep = _weights.Age >= 0 ? -1 : 1;
        var z = zStep < 0 ? zCount - 1 : 0;
        var zLeft = zCount;
        var zTemp = zLeft > 0 ? Temperature(0, zAges[z], aggr) : 0;
        var h = 0;
        ulong cum = 0;
        var next = 0;
        var nextT = FirstThreshold;
        while (zLeft > 0 || h < hCount)
        {
            double value;
            if (zLeft > 0 && (h == hCount || zTemp <= hKeys[h]))
            {
                value = zTemp;
                cum += zSizes[z];
                z += zStep;
                if (--zLeft > 0)
                {
                    zTemp = Temperature(0, zAges[z], aggr);
                }
            }
            else
            {
                value = hKeys[h];
                cum += hSizes[h++];
            }

            if (cum >= nextT)
            {
                nextT = Reach(cum, ref next, tempP, value);
            }
        }

        FillRemaining(tempP, next);
    }

    /// <summary>
    /// N equal address slices between the lowest start and the highest end; slice i is
    /// [min + floor(i x span / N), min + floor((i+1) x span / N)). Each column is the access rate %
    /// averaged over the covered bytes of the slice (gaps between regions do not count); a slice
    /// with no region bytes is 0. Sums are exact integers, divided once.
    /// </summary>
    /// <remarks>When non-empty regions ascend without overlap (as DAMON keeps them), one merge walk
    /// over regions and slices; otherwise each region finds its slice by binary search.</remarks>
    private void Heatmap(ReadOnlySpan<DamonRegion> regions, double[] outCols)
    {
        ulong min = ulong.MaxValue, max = 0, prevEnd = 0;
        var addressSorted = true;
        foreach (var r in regions)
        {
            if (r.End > r.Start)
            {
                addressSorted &= r.Start >= prevEnd;
                prevEnd = r.End;
                min = Math.Min(min, r.Start);
                max = Math.Max(max, r.End);
            }
        }

        var cols = _heatmapColumns;
        var sum = _heatSum;
        var covered = _heatCovered;
        Array.Clear(sum);
        Array.Clear(covered);
        if (_heatBounds.Length < cols + 1)
        {
            _heatBounds = new ulong[cols + 1];
        }

        var bounds = _heatBounds;
        var span = max - min;
        // floor(c x span / cols) = c x q + floor(c x rem / cols) with span = q x cols + rem: two
        // 64-bit divisions instead of a 128-bit one per slice (c x rem < cols^2 cannot overflow).
        var q = span / (ulong)cols;
        var rem = span % (ulong)cols;
        for (var c = 0; c <= cols; c++)
        {
            bounds[c] = min + ((ulong)c * q) + ((ulong)c * rem / (ulong)cols);
        }

        if (addressSorted)
        {
            HeatmapMerge(regions, bounds);
        }
        else
        {
            HeatmapSearch(regions, bounds, cols);
        }

        for (var c = 0; c < cols; c++)
        {
            // UInt128 -> double is a software conversion; sums below 2^64 (all real ones) skip it.
            var total = sum[c];
            var numerator = total <= ulong.MaxValue ? (double)(ulong)total : (double)total;
            outCols[c] = covered[c] == 0 ? 0 : numerator / covered[c];
        }
    }

    /// <summary>
    /// Slices move forward only, so the current slice's sums stay in registers and reach memory when
    /// the walk leaves it: no store-to-load chain from one region to the next in the same slice.
    /// </summary>
    private void HeatmapMerge(ReadOnlySpan<DamonRegion> regions, ulong[] bounds)
    {
        var rates = _rates;
        var sum = _heatSum;
        var covered = _heatCovered;
        var c = 0;
        var hi = bounds[1];
        ulong cov = 0, sumLo = 0, sumHi = 0;
        for (var i = 0; i < regions.Length; i++)
        {
            var r = regions[i];
            if (r.End <= r.Start)
            {
                continue;
            }

            var rate = rates[i];
            var start = r.Start;
            while (true)
            {
                if (hi <= start)
                {
                    // Leave slice c. The last slice ends at the highest end, so c stays below cols.
                    covered[c] = cov;
                    sum[c] = new UInt128(sumHi, sumLo);
                    cov = sumLo = sumHi = 0;
                    hi = bounds[++c + 1];
                    continue;
                }

                var overlap = Math.Min(hi, r.End) - start;
                cov += overlap;
                var pHi = Math.BigMul(overlap, rate, out var pLo);
                var lo = sumLo + pLo;
                sumHi += pHi + (lo < sumLo ? 1UL : 0UL);
                sumLo = lo;
                if (r.End <= hi)
                {
                    break;
                }

                start = hi;
            }
        }

        covered[c] = cov;
        sum[c] = new UInt128(sumHi, sumLo);
    }

    private void HeatmapSearch(ReadOnlySpan<DamonRegion> regions, ulong[] bounds, int cols)
    {
        var rates = _rates;
        var sum = _heatSum;
        var covered = _heatCovered;
        for (var i = 0; i < regions.Length; i++)
        {
            var r = regions[i];
            if (r.End <= r.Start)
            {
                continue;
            }

            var rate = rates[i];

            // The last slice whose lower bound is <= start.
            int lo = 0, top = cols - 1;
            while (lo < top)
            {
                var mid = (lo + top + 1) >> 1;
                if (bounds[mid] <= r.Start)
                {
                    lo = mid;
                }
                else
                {
                    top = mid - 1;
                }
            }

            for (var c = lo; c < cols && bounds[c] < r.End; c++)
            {
                var overlap = Math.Min(bounds[c + 1], r.End) - Math.Max(bounds[c], r.Start);
                covered[c] += overlap;
                sum[c] += (UInt128)overlap * rate;
            }
        }
    }

    /// <summary>
    /// LSD radix sort on bits 32..63 only, 8 bits a pass, skipping digits every key shares; the low
    /// 32 bits (the index, ascending on entry) ride along, which makes the sort stable by index.
    /// The histograms of the three low key digits come from the per-region pass; the top digit is
    /// counted here only when some key uses it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // its own frame in profiles
    private void RadixSortHigh32(Span<ulong> keys, bool topDigitVaries)
    {
        var n = keys.Length;
        if (n < 2)
        {
            return;
        }

        var counts = _radixCounts.AsSpan();
        var lane0 = counts[..768];
        var lane1 = counts.Slice(1024, 768);
        for (var j = 0; j < lane0.Length; j += Vector<int>.Count)
        {
            (Vector.LoadUnsafe(ref lane0[j]) + Vector.LoadUnsafe(ref lane1[j])).StoreUnsafe(ref lane0[j]);
        }

        if (topDigitVaries)
        {
            for (var i = 0; i < n; i++)
            {
                counts[768 + (int)(keys[i] >> 56)]++;
            }
        }

        var src = keys;
        var dst = _keysTmp.AsSpan(0, n);
        var swapped = false;
        var digits = topDigitVaries ? 4 : 3;
        for (var d = 0; d < digits; d++)
        {
            var shift = 32 + (8 * d);
            var c = counts.Slice(256 * d, 256);
            if (c[(int)((keys[0] >> shift) & 0xFF)] == n)
            {
                continue; // every key has the same digit here
            }

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

    private double Temperature(ulong rate, uint age, ulong aggr)
    {
        // Integer arithmetic like damo's Python ints, so age 0 idle gives 0, not -0.0.
        var score = (Int128)rate * _weights.AccessRate + (Int128)age * aggr * _weights.Age;
        return (double)(rate > 0 ? score : -score);
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

}
