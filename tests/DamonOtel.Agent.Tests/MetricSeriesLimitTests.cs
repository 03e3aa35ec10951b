using DamonOtel.Agent.Configuration;
using DamonOtel.Analysis;

namespace DamonOtel.Agent.Tests;

public class MetricSeriesLimitTests
{
    private static KdamondConfig Kdamond(string name, int targets) => new()
    {
        Name = name,
        Targets = [.. Enumerable.Range(0, targets).Select(t => new TargetConfig { Name = "t" + t, Pid = 1 })],
    };

    [Fact]
    public void A_small_config_gets_the_floor()
    {
        // (2 targets + 3 modules) x 17 idle series = 85 pairs' series, doubled: 170 < 256.
        var config = new AgentConfig { Attach = new AttachConfig { Enabled = false }, Kdamonds = [Kdamond("a", 2)] };
        Assert.Equal(MetricSeriesLimit.Floor, MetricSeriesLimit.For(config));
    }

    [Fact]
    public void Attach_allows_for_others_kdamonds()
    {
        // (3 modules + 16 attached pairs) x (16 idle bounds + Inf) = 323, doubled.
        Assert.Equal(646, MetricSeriesLimit.For(new AgentConfig()));
    }

    [Fact]
    public void The_widest_per_target_family_decides_and_the_SDK_default_caps()
    {
        var wide = new AgentConfig
        {
            Attach = new AttachConfig { Enabled = false },
            Kdamonds = [Kdamond("a", 4), Kdamond("b", 4)],
            Metrics = new MetricsConfig { Access = new AccessOptions { HeatmapColumns = 80 } },
        };

        // (8 + 3) pairs x 80 columns = 880, doubled: 1760.
        Assert.Equal(1760, MetricSeriesLimit.For(wide));
        Assert.Equal(MetricSeriesLimit.Ceiling, MetricSeriesLimit.For(wide with { Attach = new AttachConfig() }));
    }
}
