using System.Text.Json;
using DamonOtel.Analysis.Reports;
using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis.Tests;

/// <summary>
/// Golden files were checked line by line against the hand arithmetic in AccessSummarizerTests
/// (three regions) and DamoFixture (damo's figures); the damo blocks below are damo's own expected
/// output (tests/report/expects/report-{recency,temperature}-percentiles-nofilter).
/// </summary>
public sealed class SnapshotReportTests
{
    private static readonly Intervals Default = new(5_000, 100_000, 60_000_000);

    private static readonly DamonRegion[] Three = [new(0, 4096, 10, 2), new(4096, 12288, 0, 5), new(12288, 16384, 0, 0)];

    private static string Golden(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", name));

    private static SnapshotReportTarget DamoTarget() =>
        new(1, 0, 2, DamoFixture.Intervals, new AccessSummarizer(new AccessOptions { Percentiles = DamoFixture.DamoPercentiles }).Summarize(DamoFixture.Regions(), DamoFixture.Intervals));

    [Fact]
    public void Json_three_regions_exact()
    {
        var s = new AccessSummarizer(AccessOptions.Default).Summarize(Three, Default);
        var json = SnapshotReport.ToJson([new(0, 0, 0, Default, s)]);
        // Values: see AccessSummarizerTests.Three_regions_* for the arithmetic.
        const string Expected = """
            {"targets":[{"kdamond":0,"context":0,"target":0,"sample_us":5000,"aggr_us":100000,"regions":3,"monitored_bytes":16384,"working_set_bytes":4096,"bandwidth_bytes_per_second":409600,"observed_access_ratio":0.125,
            "idle_time_percentiles_us":{"0":0,"1":0,"5":0,"10":0,"25":0,"50":100000,"75":600000,"90":600000,"95":600000,"99":600000,"100":600000},
            "signed_idle_time_percentiles_us":{"0":-300000,"1":-300000,"5":-300000,"10":-300000,"25":-300000,"50":100000,"75":600000,"90":600000,"95":600000,"99":600000,"100":600000},
            "temperature_percentiles":{"0":-50000000,"1":-50000000,"5":-50000000,"10":-50000000,"25":-50000000,"50":-50000000,"75":0,"90":20005000,"95":20005000,"99":20005000,"100":20005000},
            "idle_bytes_at_most":{"0":4096,"0.1":8192,"0.25":8192,"0.5":8192,"1":16384,"2.5":16384,"5":16384,"10":16384,"30":16384,"60":16384,"120":16384,"300":16384,"600":16384,"1800":16384,"3600":16384,"7200":16384,"+Inf":16384}}]}
            """;
        Assert.Equal(Expected.ReplaceLineEndings(string.Empty), json);
    }

    [Fact]
    public void Json_damo_fixture_golden_and_parseable()
    {
        var json = SnapshotReport.ToJson([DamoTarget()], indented: true);
        Assert.Equal(Golden("damo-fixture.json").ReplaceLineEndings("\n").TrimEnd('\n'), json.ReplaceLineEndings("\n"));

        using var doc = JsonDocument.Parse(json);
        var t = doc.RootElement.GetProperty("targets")[0];
        Assert.Equal(2_673_600_000L, t.GetProperty("idle_time_percentiles_us").GetProperty("25").GetInt64());
        Assert.Equal(81_029_201_920d, t.GetProperty("bandwidth_bytes_per_second").GetDouble());
        Assert.Equal(64_282_951_680L, t.GetProperty("idle_bytes_at_most").GetProperty("+Inf").GetInt64());
    }

    [Fact]
    public void Json_keys_follow_the_configured_percentiles()
    {
        var opts = new AccessOptions { Percentiles = [50, 99.9] };
        var s = new AccessSummarizer(opts).Summarize(Three, Default);
        using var doc = JsonDocument.Parse(SnapshotReport.ToJson([new(0, 0, 0, Default, s)]));
        var names = doc.RootElement.GetProperty("targets")[0].GetProperty("temperature_percentiles").EnumerateObject().Select(p => p.Name);
        Assert.Equal(["50", "99.9"], names);
    }

    [Fact]
    public void Text_three_regions_golden() =>
        Assert.Equal(
            Golden("three-regions.txt"),
            SnapshotReport.ToText([new(0, 0, 0, Default, new AccessSummarizer(AccessOptions.Default).Summarize(Three, Default))]));

    [Fact]
    public void Text_damo_fixture_golden_including_an_empty_target()
    {
        var empty = new AccessSummarizer(new AccessOptions { Percentiles = DamoFixture.DamoPercentiles }).Summarize([], Default);
        Assert.Equal(Golden("damo-fixture.txt"), SnapshotReport.ToText([DamoTarget(), new(1, 0, 3, Default, empty)]));
    }

    [Fact]
    public void Text_contains_damos_own_tables_verbatim()
    {
        var text = SnapshotReport.ToText([DamoTarget()]);
        const string Recency = """
            <percentile> <idle time>
              0               0 ns  |                    |
              1               0 ns  |                    |
             25      44 m 33.600 s  |********            |
             50  1 h 35 m 15.800 s  |*****************   |
             75  1 h 43 m 13.600 s  |******************  |
             99  1 h 50 m 48.200 s  |********************|
            100  1 h 50 m 48.200 s  |********************|

            """;
        const string Temperature = """
            <percentile> <temperature (weights: [0, 100, 100])>
              0  -664,810,000,000  |                    |
              1  -664,810,000,000  |                    |
             25  -619,350,000,000  |*                   |
             50  -571,570,000,000  |**                  |
             75  -267,350,000,000  |***********         |
             99       130,001,000  |******************* |
            100       290,010,000  |********************|

            """;
        Assert.Contains(Recency.ReplaceLineEndings("\n"), text);
        Assert.Contains(Temperature.ReplaceLineEndings("\n"), text);
        Assert.Contains("memory bw estimate: 75.464 GiB per second\n", text);
        Assert.Contains("total size: 59.868 GiB\n", text);
    }

    [Theory]
    [InlineData(0d, "0 B")]
    [InlineData(1024d, "1024 B")]           // damo switches units only strictly above 1 KiB
    [InlineData(1088d, "1.062 KiB")]        // 1.0625 rounds half-even like Python's %.3f
    [InlineData(1073741824d, "1024.000 MiB")]
    [InlineData(64282951680d, "59.868 GiB")]
    public void Sizes_like_damo(double bytes, string expected) => Assert.Equal(expected, HumanFormat.Size(bytes));

    [Theory]
    [InlineData(0L, "0 ns")]
    [InlineData(5_300_000L, "5.300 s")]
    [InlineData(100_000L, "100 ms")]
    [InlineData(1_500L, "1.500 ms")]
    [InlineData(120_000_000L, "2 m")]
    [InlineData(125_000_000L, "2 m 5 s")]
    [InlineData(3_600_000_000L, "1 h")]
    [InlineData(5_715_800_000L, "1 h 35 m 15.800 s")]
    [InlineData(-1_400_000L, "-1.400 s")]
    public void Times_like_damo(long us, string expected) => Assert.Equal(expected, HumanFormat.TimeUs(us));
}
