using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Tests;

public class UnitsTests
{
    [Theory]
    [InlineData("4096", 4096UL)]
    [InlineData("4K", 4096UL)]
    [InlineData("4 KiB", 4096UL)]
    [InlineData("128M", 134_217_728UL)]          // 128 * 1024 * 1024
    [InlineData("1.5G", 1_610_612_736UL)]        // 1.5 * 2^30
    [InlineData("1,048,576", 1_048_576UL)]
    [InlineData("min", 0UL)]
    [InlineData("max", ulong.MaxValue)]
    [InlineData("16E", 0UL)]                     // 16 * 2^60 = 2^64: overflows, see below
    public void Sizes_are_binary(string text, ulong expected)
    {
        bool ok = Units.TryParseSize(text, out ulong bytes, out string error);
        if (text == "16E")
        {
            Assert.False(ok);
            Assert.Contains("larger than", error);
            return;
        }

        Assert.True(ok, error);
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("12Q")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("")]
    public void Bad_sizes_say_why(string text)
    {
        Assert.False(Units.TryParseSize(text, out _, out string error));
        Assert.Contains(text.Length == 0 ? "not a size" : text, error);
    }

    [Theory]
    [InlineData("5ms", 1UL, 5_000UL)]
    [InlineData("100ms", 1UL, 100_000UL)]
    [InlineData("60s", 1UL, 60_000_000UL)]
    [InlineData("1m 30s", 1UL, 90_000_000UL)]    // 60 s + 30 s
    [InlineData("2h", 1UL, 7_200_000_000UL)]
    [InlineData("1500ns", 1UL, 1UL)]             // 1.5 us, truncated
    [InlineData("250", 1_000UL, 250_000UL)]      // bare number in the field's unit (ms here)
    [InlineData("max", 1UL, ulong.MaxValue)]
    public void Times(string text, ulong bareUnitUs, ulong expectedUs)
    {
        Assert.True(Units.TryParseTimeUs(text, bareUnitUs, out ulong us, out string error), error);
        Assert.Equal(expectedUs, us);
    }

    [Theory]
    [InlineData("5 parsecs")]
    [InlineData("1m 30")]
    [InlineData("s")]
    public void Bad_times_say_why(string text)
    {
        Assert.False(Units.TryParseTimeUs(text, 1, out _, out string error));
        Assert.NotEmpty(error);
    }

    [Theory]
    [InlineData("80%", 80.0)]
    [InlineData("80 %", 80.0)]
    [InlineData("0.5%", 0.5)]
    [InlineData("max", 100.0)]
    public void Percentages(string text, double expected)
    {
        Assert.True(Units.TryParsePercent(text, out double p, out string error), error);
        Assert.Equal(expected, p);
    }

    [Fact]
    public void Percentages_above_100_are_rejected() => Assert.False(Units.TryParsePercent("120%", out _, out _));
}
