namespace DamonOtel.Analysis;

// The percentile walks over the sorted runs: damo idle time with its buckets, DAMON_STAT's
// signed idle time, and temperature.
public sealed partial class AccessSummarizer
{
    /// <summary>
    /// Hands <paramref name="value"/> to every percentile from <paramref name="next"/> on whose byte
    /// threshold <paramref name="cum"/> reaches; returns the next threshold still ahead
    /// (<see cref="ulong.MaxValue"/> when none is), so callers compare one local per region.
    /// </summary>
    private ulong Reach<T>(ulong cum, ref int next, T[] output, T value)
    {
        var t = thresholds;
        while (next < t.Length && cum >= t[next])
        {
            output[next++] = value;
        }

        return next < t.Length ? t[next] : ulong.MaxValue;
    }

    private ulong FirstThreshold => thresholds.Length > 0 ? thresholds[0] : ulong.MaxValue;

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
        var zSizes = this.zSizes;
        var zAges = this.zAges;
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
        var limits = bucketAgeLimits;
        if (bucketLimitsAggrUs != aggr)
        {
            for (var b = 0; b < limits.Length; b++)
            {
                limits[b] = aggr == 0 ? ulong.MaxValue : idleBucketUs[b] / aggr;
            }

            bucketLimitsAggrUs = aggr;
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
        var hSizes = this.hSizes;
        var hAges = this.hAges;
        var zSizes = this.zSizes;
        var zAges = this.zAges;
        var nrZero = zNrZero;
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
        var zSizes = this.zSizes;
        var zAges = this.zAges;
        for (var k = zCount - 1; k >= 0; k--)
        {
            cum += zSizes[k];
            if (cum >= nextT)
            {
                nextT = Reach(cum, ref next, tempP, Temperature(0, zAges[k], aggr));
            }
        }

        var hSizes = this.hSizes;
        var hAges = this.hAges;
        var hRates = this.hRates;
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
        var hKeys = tempKeys.AsSpan(0, hCount);
        var hSizes = tempSizes.AsSpan(0, hCount);
        for (var k = 0; k < hCount; k++)
        {
            hKeys[k] = Temperature(hRates[k], hAges[k], aggr);
            hSizes[k] = this.hSizes[k];
        }

        hKeys.Sort(hSizes);

        var zAges = this.zAges;
        var zSizes = this.zSizes;
        var zStep = weights.Age >= 0 ? -1 : 1;
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
        var score = (Int128)rate * weights.AccessRate + (Int128)age * aggr * weights.Age;
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
