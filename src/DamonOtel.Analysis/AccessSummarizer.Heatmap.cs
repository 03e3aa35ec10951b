using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis;

// The address-space heatmap: access rate averaged per equal address slice.
public sealed partial class AccessSummarizer
{
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

        var cols = heatmapColumns;
        var sum = heatSum;
        var covered = heatCovered;
        Array.Clear(sum);
        Array.Clear(covered);
        if (heatBounds.Length < cols + 1)
        {
            heatBounds = new ulong[cols + 1];
        }

        var bounds = heatBounds;
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
        var rates = this.rates;
        var sum = heatSum;
        var covered = heatCovered;
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
        var rates = this.rates;
        var sum = heatSum;
        var covered = heatCovered;
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
}
