using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis.Tests;

public sealed class AccessSummarizerTests
{
    private static readonly Intervals Default = new(5_000, 100_000, 60_000_000);

    // Three regions, aggr 100 ms, sample 5 ms => max_nr_accesses = 100000 / 5000 = 20.
    //   A [0, 4096)       nr 10 age 2  -> rate 10*100/20 = 50 %
    //   B [4096, 12288)   nr 0  age 5  -> rate 0 %, 8 KiB
    //   C [12288, 16384)  nr 0  age 0  -> rate 0 %, 4 KiB
    private static readonly DamonRegion[] Three =
    [
        new(0, 4096, 10, 2),
        new(4096, 12288, 0, 5),
        new(12288, 16384, 0, 0),
    ];

    [Fact]
    public void Three_regions_scalars_by_hand()
    {
        var s = new AccessSummarizer(AccessOptions.Default).Summarize(Three, Default);

        Assert.Equal(3, s.RegionCount);
        Assert.Equal(Default, s.Intervals);
        // 4096 + 8192 + 4096
        Assert.Equal(16_384UL, s.MonitoredBytes);
        // only A has nr_accesses >= 1
        Assert.Equal(4_096UL, s.WorkingSetBytes);
        // 4096 B x 10 samples x 1e6 / 100000 us = 409600 B/s
        Assert.Equal(409_600d, s.BandwidthBytesPerSecond);
        // 4096 x 10 / (16384 x 20) = 40960 / 327680 = 0.125
        Assert.Equal(0.125, s.ObservedAccessRatio);
    }

    [Fact]
    public void Three_regions_percentiles_by_hand()
    {
        var s = new AccessSummarizer(AccessOptions.Default).Summarize(Three, Default);
        // Percentiles 0 1 5 10 25 50 75 90 95 99 100 need cum x 100 >= p x 16384, i.e. cum >=
        // 0, 164, 820, 1639, 4096, 8192, 12288, 14746, 15565, 16221, 16384 bytes.

        // damo idle: A 0 (rate 50 % > 0); C (0+1) x 100000 = 100000; B (5+1) x 100000 = 600000.
        // Sorted A(4096) C(4096) B(8192): cum 4096, 8192, 16384
        //  -> p0..p25 at A, p50 at C, p75..p100 at B.
        Assert.Equal([0UL, 0, 0, 0, 0, 100_000, 600_000, 600_000, 600_000, 600_000, 600_000], s.IdleTimePercentilesUs);

        // DAMON_STAT signed: A -(2+1) x 100000 = -300000; C 100000; B 600000; same order and cums.
        Assert.Equal([-300_000L, -300_000, -300_000, -300_000, -300_000, 100_000, 600_000, 600_000, 600_000, 600_000, 600_000], s.SignedIdleTimePercentilesUs);

        // Temperature (0, 100, 100): A 50 x 100 + 2 x 100000 x 100 = 20,005,000;
        // B -(5 x 100000 x 100) = -50,000,000; C -(0) = 0.
        // Sorted B(8192) C(4096) A(4096): cum 8192, 12288, 16384
        //  -> p0..p50 at B, p75 at C, p90..p100 at A.
        Assert.Equal([-50_000_000d, -50_000_000, -50_000_000, -50_000_000, -50_000_000, -50_000_000, 0, 20_005_000, 20_005_000, 20_005_000, 20_005_000], s.TemperaturePercentiles);
        Assert.False(double.IsNegative(s.TemperaturePercentiles[6]), "age-0 idle temperature is 0, not -0");
    }

    [Fact]
    public void Three_regions_idle_buckets_by_hand()
    {
        var s = new AccessSummarizer(AccessOptions.Default).Summarize(Three, Default);
        // Bounds (s): 0, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, +Inf.
        // idle: A 0 us, C 100000 us (= 0.1 s, included by <=), B 600000 us (<= 1 s).
        //   le 0   : A                = 4096
        //   le 0.1 : A + C            = 8192   (also 0.25, 0.5)
        //   le 1   : A + C + B        = 16384  (and every larger bound, +Inf)
        Assert.Equal([4096UL, 8192, 8192, 8192, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384], s.IdleBytesAtMost);
    }

    [Fact]
    public void Addr_unit_scales_sizes()
    {
        // Same regions in 4-byte core units: every byte count x 4, bandwidth x 4, ratio unchanged.
        var s = new AccessSummarizer(AccessOptions.Default).Summarize(Three, Default, addrUnit: 4);
        Assert.Equal(65_536UL, s.MonitoredBytes);
        Assert.Equal(16_384UL, s.WorkingSetBytes);
        Assert.Equal(1_638_400d, s.BandwidthBytesPerSecond);
        Assert.Equal(0.125, s.ObservedAccessRatio);
        Assert.Equal(16_384UL, s.IdleBytesAtMost[0]);
    }

    [Fact]
    public void One_sample_with_200_max_is_idle_for_damo_but_accessed_for_damon_stat()
    {
        // aggr 1 s, sample 5 ms => max_nr_accesses 200; 1 sample => rate int(1 x 100 / 200) = int(0.5) = 0 %.
        var iv = new Intervals(5_000, 1_000_000, 60_000_000);
        DamonRegion[] regions = [new(0, 4096, 1, 3)];
        var opts = new AccessOptions { Percentiles = [0, 50, 100] };
        var s = new AccessSummarizer(opts).Summarize(regions, iv);

        Assert.Equal(0UL, AccessSummarizer.AccessRatePercent(1, iv));
        Assert.Equal(1UL, AccessSummarizer.AccessRatePercent(2, iv)); // 2 x 100 / 200 = 1 %
        // WSS uses nr_accesses >= 1, not the percent.
        Assert.Equal(4096UL, s.WorkingSetBytes);
        // damo idle: rate 0 => (3+1) x 1,000,000 = 4,000,000 us.
        Assert.Equal([4_000_000UL, 4_000_000, 4_000_000], s.IdleTimePercentilesUs);
        // DAMON_STAT keys on nr_accesses > 0 => -(3+1) x 1,000,000.
        Assert.Equal([-4_000_000L, -4_000_000, -4_000_000], s.SignedIdleTimePercentilesUs);
        // temperature: rate 0 => -(3 x 1,000,000 x 100) = -300,000,000.
        Assert.Equal([-300_000_000d, -300_000_000, -300_000_000], s.TemperaturePercentiles);
        // bandwidth 4096 x 1 x 1e6 / 1e6 = 4096 B/s; ratio 4096 / (4096 x 200) = 0.005.
        Assert.Equal(4096d, s.BandwidthBytesPerSecond);
        Assert.Equal(0.005, s.ObservedAccessRatio);
        // Idle 4 s: not within 2.5 s (index 5), within 5 s (index 6).
        Assert.Equal(0UL, s.IdleBytesAtMost[5]);
        Assert.Equal(4096UL, s.IdleBytesAtMost[6]);
    }

    [Fact]
    public void Two_samples_with_200_max_is_one_percent_and_hot()
    {
        var iv = new Intervals(5_000, 1_000_000, 60_000_000);
        DamonRegion[] regions = [new(0, 4096, 2, 3)];
        var s = new AccessSummarizer(new AccessOptions { Percentiles = [50] }).Summarize(regions, iv);
        Assert.Equal([0UL], s.IdleTimePercentilesUs);
        // 1 % x 100 + 3 x 1,000,000 x 100 = 300,000,100
        Assert.Equal([300_000_100d], s.TemperaturePercentiles);
    }

    [Fact]
    public void Ties_and_exact_boundaries()
    {
        // Four idle 1000-byte regions, ages 0,0,1,1 at aggr 100 ms: idle 100000,100000,200000,200000 us.
        // Cumulative shares 25 %, 50 %, 75 %, 100 %.
        DamonRegion[] regions =
        [
            new(3000, 4000, 0, 1),
            new(0, 1000, 0, 0),
            new(2000, 3000, 0, 1),
            new(1000, 2000, 0, 0),
        ];
        var opts = new AccessOptions { Percentiles = [0, 25, 26, 50, 50.5, 51, 100] };
        var s = new AccessSummarizer(opts).Summarize(regions, Default);
        // p25: need 1000 B -> 1st region (100000). p26: 1040 B -> 2nd (100000).
        // p50: 2000 B -> 2nd (100000) — reaching the share counts ("reaches", not "exceeds").
        // p50.5: 2020 B -> 3rd (200000). p51: 2040 B -> 3rd. p100: 4000 B -> 4th (200000).
        Assert.Equal([100_000UL, 100_000, 100_000, 100_000, 200_000, 200_000, 200_000], s.IdleTimePercentilesUs);
    }

    [Fact]
    public void Unequal_sizes_boundary()
    {
        // 1 KiB idle age 0 (100000 us) + 3 KiB idle age 9 (1,000,000 us): first share is exactly 25 %.
        DamonRegion[] regions = [new(0, 1024, 0, 0), new(1024, 4096, 0, 9)];
        var opts = new AccessOptions { Percentiles = [25, 25.5, 26] };
        var s = new AccessSummarizer(opts).Summarize(regions, Default);
        // p25: 25 x 4096 / 100 = 1024 B -> first. p25.5: ceil(1044.48) = 1045 B -> second.
        Assert.Equal([100_000UL, 1_000_000, 1_000_000], s.IdleTimePercentilesUs);
    }

    [Fact]
    public void Empty_input_is_all_zero()
    {
        var summarizer = new AccessSummarizer(new AccessOptions { HeatmapColumns = 4 });
        var s = summarizer.Summarize(Three, Default);
        // Reuse the same summary: an empty snapshot must clear everything.
        summarizer.SummarizeInto([], Default, 1, s);
        Assert.Equal(0, s.RegionCount);
        Assert.Equal(0UL, s.MonitoredBytes);
        Assert.Equal(0UL, s.WorkingSetBytes);
        Assert.Equal(0d, s.BandwidthBytesPerSecond);
        Assert.Equal(0d, s.ObservedAccessRatio);
        Assert.All(s.IdleTimePercentilesUs, v => Assert.Equal(0UL, v));
        Assert.All(s.SignedIdleTimePercentilesUs, v => Assert.Equal(0L, v));
        Assert.All(s.TemperaturePercentiles, v => Assert.Equal(0d, v));
        Assert.All(s.IdleBytesAtMost, v => Assert.Equal(0UL, v));
        Assert.All(s.HeatmapAccessRatePercent, v => Assert.Equal(0d, v));
    }

    [Fact]
    public void Zero_intervals_do_not_throw()
    {
        var s = new AccessSummarizer(AccessOptions.Default).Summarize(Three, new Intervals(0, 0, 0));
        Assert.Equal(16_384UL, s.MonitoredBytes);
        Assert.Equal(0d, s.BandwidthBytesPerSecond);
        Assert.Equal(0d, s.ObservedAccessRatio);
        // aggr 0 => every idle time is (age+1) x 0 = 0.
        Assert.All(s.IdleTimePercentilesUs, v => Assert.Equal(0UL, v));
    }

    [Fact]
    public void Bad_input_is_named()
    {
        var summarizer = new AccessSummarizer(AccessOptions.Default);
        var ex = Assert.Throws<ArgumentException>(() => summarizer.Summarize([new DamonRegion(10, 5, 0, 0)], Default));
        Assert.Contains("region 0: end 5 < start 10", ex.Message);

        var opt = Assert.Throws<ArgumentException>(() => new AccessSummarizer(new AccessOptions { Percentiles = [50, 10] }));
        Assert.Contains("AccessOptions.Percentiles[1]", opt.Message);
        Assert.Throws<ArgumentException>(() => new AccessSummarizer(new AccessOptions { Percentiles = [101] }));
        Assert.Throws<ArgumentException>(() => new AccessSummarizer(new AccessOptions { IdleBucketsSeconds = [double.PositiveInfinity] }));
        Assert.Throws<ArgumentException>(() => new AccessSummarizer(new AccessOptions { HeatmapColumns = -1 }));

        var other = new AccessSummary(new AccessOptions { Percentiles = [50] });
        Assert.Throws<ArgumentException>(() => summarizer.SummarizeInto(Three, Default, 1, other));
    }

    [Fact]
    public void Custom_weights_take_the_sorting_path()
    {
        // Weights (0, 1000, 0): temperature = rate x 1000, negated (i.e. 0) when rate is 0.
        // A 50 % -> 50000; B, C -> 0. Sorted B C (12288 B at 0), A: p50 -> 0, p75 -> 0 (cum 12288 >= 12288), p76 -> 50000.
        var opts = new AccessOptions { Percentiles = [50, 75, 76], TemperatureWeights = new(0, 1000, 0) };
        var s = new AccessSummarizer(opts).Summarize(Three, Default);
        Assert.Equal([0d, 0, 50_000], s.TemperaturePercentiles);
    }

    [Fact]
    public void Summarize_into_allocates_nothing_after_warm_up()
    {
        var regions = new DamonRegion[1000];
        var rnd = new Random(42);
        ulong addr = 0;
        for (var i = 0; i < regions.Length; i++)
        {
            var size = (ulong)rnd.Next(1, 512) * 4096;
            regions[i] = new DamonRegion(addr, addr + size, (uint)rnd.Next(0, 21), (uint)rnd.Next(0, 3000));
            addr += size;
        }

        var summarizer = new AccessSummarizer(new AccessOptions { HeatmapColumns = 64 });
        var summary = summarizer.CreateSummary();
        summarizer.SummarizeInto(regions, Default, 1, summary);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var k = 0; k < 10; k++)
        {
            summarizer.SummarizeInto(regions, Default, 1, summary);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
