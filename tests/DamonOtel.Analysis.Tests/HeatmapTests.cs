using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis.Tests;

public sealed class HeatmapTests
{
    // aggr 100 ms / sample 5 ms => 20 samples max; rate % = nr x 5.
    private static readonly Intervals Default = new(5_000, 100_000, 60_000_000);

    private static double[] Heat(int columns, params DamonRegion[] regions) =>
        new AccessSummarizer(new AccessOptions { HeatmapColumns = columns }).Summarize(regions, Default).HeatmapAccessRatePercent;

    [Fact]
    public void Region_spanning_several_slices()
    {
        // [0,100) 100 %, [100,350) 25 %, [350,400) 50 %; 4 slices of 100.
        //   [0,100)   : 100
        //   [100,200) : 25 (inside the long region)
        //   [200,300) : 25
        //   [300,400) : 50 B at 25 % + 50 B at 50 % => (50x25 + 50x50) / 100 = 37.5
        var cols = Heat(4, new(0, 100, 20, 0), new(100, 350, 5, 0), new(350, 400, 10, 0));
        Assert.Equal([100d, 25, 25, 37.5], cols);
    }

    [Fact]
    public void Slices_with_uneven_integer_bounds()
    {
        // 16384 bytes in 3 slices: bounds 0, floor(16384/3) = 5461, floor(2x16384/3) = 10922, 16384.
        // A [0,4096) 50 %, B [4096,12288) 0 %, C [12288,16384) 0 %.
        //   slice 0: 4096 B at 50 % + 1365 B at 0 % => 50 x 4096 / 5461
        //   slice 1: B only => 0;  slice 2: 1366 B of B + C => 0
        var cols = Heat(3, new(0, 4096, 10, 2), new(4096, 12288, 0, 5), new(12288, 16384, 0, 0));
        Assert.Equal(50d * 4096 / 5461, cols[0], 12);
        Assert.Equal(0d, cols[1]);
        Assert.Equal(0d, cols[2]);

        // 2 slices of 8192: (4096 x 50 + 4096 x 0) / 8192 = 25, then 0.
        Assert.Equal([25d, 0], Heat(2, new(0, 4096, 10, 2), new(4096, 12288, 0, 5), new(12288, 16384, 0, 0)));
    }

    [Fact]
    public void Gaps_do_not_dilute_and_empty_slices_are_zero()
    {
        // [1000,1100) 100 % and [1300,1400) 50 %, unsorted input; span [1000,1400) in 4 slices.
        //   [1000,1100): 100; [1100,1200): no region => 0; [1200,1300): 0;
        //   [1300,1400): 50 (only the covered bytes count).
        var cols = Heat(4, new(1300, 1400, 10, 0), new(1000, 1100, 20, 0));
        Assert.Equal([100d, 0, 0, 50], cols);
    }

    [Fact]
    public void More_slices_than_bytes()
    {
        // span 2 bytes, 4 slices: bounds 1000, 1000, 1001, 1001, 1002 -> slices 0 and 2 are empty.
        var cols = Heat(4, new(1000, 1001, 20, 0), new(1001, 1002, 10, 0));
        Assert.Equal([0d, 100, 0, 50], cols);
    }
}
