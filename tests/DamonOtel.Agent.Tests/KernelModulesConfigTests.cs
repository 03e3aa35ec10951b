using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Tests;

/// <summary>`kernel_modules: {take_over: [...]}`: validated like every other key.</summary>
public class KernelModulesConfigTests
{
    [Fact]
    public void Take_over_is_empty_by_default()
    {
        Assert.Empty(ConfigLoader.Parse(string.Empty, "t.yaml").KernelModules.TakeOver);
        Assert.Empty(ConfigLoader.Parse("kernel_modules: {}\n", "t.yaml").KernelModules.TakeOver);
    }

    [Fact]
    public void Take_over_names_the_exclusive_modules()
    {
        AgentConfig c = ConfigLoader.Parse("kernel_modules:\n  take_over: [damon_stat, damon_reclaim, damon_lru_sort]\n", "t.yaml");
        Assert.Equal(["damon_stat", "damon_reclaim", "damon_lru_sort"], c.KernelModules.TakeOver);
    }

    [Theory]
    [InlineData("kernel_modules:\n  take_over: [damon_stat, damon_sample]\n", "t.yaml:2:27: kernel_modules.take_over: 'damon_sample' is not a DAMON module that holds DAMON exclusively (known: damon_stat, damon_reclaim, damon_lru_sort)")]
    [InlineData("kernel_modules:\n  take_over: [DAMON_STAT]\n", "t.yaml:2:15: kernel_modules.take_over: 'DAMON_STAT' is not a DAMON module")]
    [InlineData("kernel_modules:\n  take_over: [damon_stat, damon_stat]\n", "t.yaml:2:27: kernel_modules.take_over: 'damon_stat' is listed twice")]
    [InlineData("kernel_modules:\n  take_over: damon_stat\n", "t.yaml:2:14: kernel_modules.take_over: expected a list")]
    [InlineData("kernel_modules:\n  takeover: [damon_stat]\n", "t.yaml:2:3: kernel_modules.takeover: unknown key (known here: take_over)")]
    [InlineData("kernel_modules: [damon_stat]\n", "t.yaml:1:17: kernel_modules:")]
    public void Mistakes_name_file_line_column_and_key(string yaml, string expected)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "t.yaml"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
