using System.Globalization;
using System.Runtime.CompilerServices;
using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis;

// The per-region passes: sizes and totals, rates and packed sort keys, and the gather of the
// sorted regions into their idle and accessed runs.
public sealed partial class AccessSummarizer
{
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

    /// <summary>
    /// Splits the (age, rate)-sorted keys into Z (rate 0, by age) and H (rate &gt; 0, by age then
    /// rate), decoding age and rate from the key itself. Returns the size of Z.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // its own frame in profiles
    private int GatherPacked(ReadOnlySpan<DamonRegion> regions, ReadOnlySpan<ulong> keys, int rateShift, bool idleButAccessed, out ulong hBytes)
    {
        ulong hSum = 0;
        var rateMask = (1UL << rateShift) - 1;
        var sizes = this.sizes;
        var zSizes = this.zSizes;
        var zAges = this.zAges;
        var hSizes = this.hSizes;
        var hAges = this.hAges;
        var hRates = this.hRates;
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
                    zNrZero[zc] = regions[i].NrAccesses == 0;
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
        var keys = this.keys.AsSpan(0, n);
        var order = this.order.AsSpan(0, n);
        for (var i = 0; i < n; i++)
        {
            keys[i] = ((ulong)regions[i].Age << 32) | Math.Min(rates[i], uint.MaxValue);
            order[i] = i;
        }

        RadixSort.Sort(keys, order, keysTmp.AsSpan(0, n), orderTmp.AsSpan(0, n), radixCounts.AsSpan(0, 256));
        int zc = 0, hc = 0;
        for (var k = 0; k < n; k++)
        {
            var i = order[k];
            var r = regions[i];
            var rate = rates[i];
            if (rate == 0)
            {
                zSizes[zc] = sizes[i];
                zAges[zc] = r.Age;
                if (idleButAccessed)
                {
                    zNrZero[zc] = r.NrAccesses == 0;
                }

                zc++;
            }
            else
            {
                hSizes[hc] = sizes[i];
                hAges[hc] = r.Age;
                hRates[hc] = rate;
                hBytes += sizes[i];
                hc++;
            }
        }

        return zc;
    }

    private static ulong RateOf(uint nr, ReadOnlySpan<ulong> rateTable, Intervals intervals) =>
        nr < (uint)rateTable.Length ? rateTable[(int)nr] : AccessRatePercent(nr, intervals);
}
