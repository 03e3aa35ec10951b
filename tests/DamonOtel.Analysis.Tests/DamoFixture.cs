using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis.Tests;

/// <summary>
/// A snapshot built to reproduce the figures damo prints for its own test fixture
/// (tests/report/damon.data.snapshot, nofilter): recency p25 2,673,600,000 us, p50 5,715,800,000 us,
/// bandwidth 81,029,201,920 B/s, total 64,282,951,680 B, and the temperature percentiles. The
/// fixture itself is a binary record we cannot read here, so the regions are solved by hand.
/// </summary>
internal static class DamoFixture
{
    public static readonly Intervals Intervals = new(5_000, 100_000, 1_000_000);

    public static readonly double[] DamoPercentiles = [0, 1, 25, 50, 75, 99, 100];

    // Sizes in 4 KiB pages; total 15,694,080 pages = 64,282,951,680 B. Percent shares of the total:
    //   c1..c3 25 % each, c4 20 %, hot h3+h1+h2 = 784,704 pages = 5 %.
    // Idle (damo) = (age+1) x 100 ms: c1 26736 x 0.1 s = 2673.6 s = 44 m 33.6 s; c2 5715.8 s;
    //   c3 6193.6 s; c4 6648.2 s = 1 h 50 m 48.2 s.
    // Temperature: cold -(age x 100000 x 100): c4 -664,810,000,000 ... c1 -267,350,000,000;
    //   h3 5 % x 100 + 0 = 500; h1 10 % x 100 + 13 x 100000 x 100 = 130,001,000;
    //   h2 100 % x 100 + 29 x 100000 x 100 = 290,010,000.
    // Bandwidth: sum(pages x nr) = 215,828 x 1 + 534,172 x 2 + 34,704 x 20 = 1,978,252 page-samples,
    //   x 4096 B x 1e6 / 100000 us = 81,029,201,920 B/s.
    public static readonly (ulong Pages, uint Nr, uint Age)[] Parts =
    [
        (3_923_520, 0, 26_735), // c1
        (3_923_520, 0, 57_157), // c2
        (3_923_520, 0, 61_935), // c3
        (3_138_816, 0, 66_481), // c4
        (215_828, 1, 0),        // h3
        (534_172, 2, 13),       // h1
        (34_704, 20, 29),       // h2
    ];

    public static DamonRegion[] Regions()
    {
        var regions = new DamonRegion[Parts.Length];
        ulong addr = 1UL << 32;
        for (var i = 0; i < Parts.Length; i++)
        {
            var (pages, nr, age) = Parts[i];
            regions[i] = new DamonRegion(addr, addr + (pages * 4096), nr, age);
            addr = regions[i].End;
        }

        return regions;
    }
}
