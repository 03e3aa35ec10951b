namespace DamonOtel.Analysis.Tests;

public sealed class DamoFiguresTests
{
    [Fact]
    public void Reproduces_damo_verified_figures()
    {
        var opts = new AccessOptions { Percentiles = DamoFixture.DamoPercentiles };
        var s = new AccessSummarizer(opts).Summarize(DamoFixture.Regions(), DamoFixture.Intervals);

        Assert.Equal(64_282_951_680UL, s.MonitoredBytes);
        Assert.Equal(81_029_201_920d, s.BandwidthBytesPerSecond);
        // damo: recency percentiles 0, 0, 44 m 33.600 s, 1 h 35 m 15.800 s, 1 h 43 m 13.600 s, 1 h 50 m 48.200 s x2.
        Assert.Equal([0UL, 0, 2_673_600_000, 5_715_800_000, 6_193_600_000, 6_648_200_000, 6_648_200_000], s.IdleTimePercentilesUs);
        // damo: temperature percentiles.
        Assert.Equal([-664_810_000_000d, -664_810_000_000, -619_350_000_000, -571_570_000_000, -267_350_000_000, 130_001_000, 290_010_000], s.TemperaturePercentiles);
        // WSS = hot pages 784,704 x 4096 = 3,214,147,584 B.
        Assert.Equal(3_214_147_584UL, s.WorkingSetBytes);
    }
}
