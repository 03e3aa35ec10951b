using DamonOtel.Agent.Configuration;
using DamonOtel.Damon.Cgroups;

namespace DamonOtel.Agent.Tests;

/// <summary>kdamonds[i].page_sampling and kdamonds[i].cgroups: values, defaults and one-line errors with file:line:column.</summary>
public class CgroupsConfigTests
{
    [Fact]
    public void A_full_cgroups_block_reads_as_written()
    {
        KdamondConfig k = Assert.Single(ConfigLoader.Parse("""
            kdamonds:
              - name: node
                operations: paddr
                page_sampling: {samples: 50000, min_per_region: 4, free_pages: include}
                cgroups:
                  root: /host/sys/fs/cgroup/
                  preset: [kubernetes-pods]
                  paths: [system.slice/postgresql.service, /machine.slice]
                  match: ["system.slice/*.service"]
                  max: 20
                  rediscover: 30s
                  idle_buckets: [0s, 30s, 5m]
                  percentiles: [50, 99]
            """, "c.yaml").Kdamonds);
        Assert.Equal(new PageSamplingConfig { Samples = 50_000, MinPerRegion = 4, ExcludeFree = false }, k.PageSampling);
        CgroupsConfig c = k.Cgroups!;
        Assert.Equal("/host/sys/fs/cgroup", c.Root);
        Assert.Equal(["/system.slice/postgresql.service", "/machine.slice"], c.Paths);
        Assert.Equal([.. CgroupPresets.KubernetesPods, "system.slice/*.service"], c.Match);
        Assert.Equal(20, c.Max);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Rediscover);
        Assert.Equal([0.0, 30, 300], c.IdleBucketsSeconds);
        Assert.Equal([50.0, 99], c.Percentiles);
        Assert.Equal(20 * (4 + 3 + 1 + 2), c.MaxSeries);
        Assert.True(k.SamplesPages);
    }

    [Fact]
    public void Paddr_leaves_free_pages_out_by_default_and_selects_no_cgroup()
    {
        KdamondConfig k = Assert.Single(ConfigLoader.Parse("kdamonds: [{name: node, operations: paddr}]", "c.yaml").Kdamonds);
        Assert.True(k.PageSampling.ExcludeFree);
        Assert.Equal(PageSamplingConfig.DefaultSamples, k.PageSampling.Samples);
        Assert.Null(k.Cgroups);
        Assert.True(k.SamplesPages);

        KdamondConfig pods = Assert.Single(ConfigLoader.Parse("kdamonds: [{name: node, operations: paddr, cgroups: {preset: kubernetes-containers}}]", "c.yaml").Kdamonds);
        Assert.Equal(CgroupPresets.KubernetesContainers, pods.Cgroups!.Match);
        Assert.Null(pods.Cgroups.Root);
        Assert.Equal(500, pods.Cgroups.Max);
        Assert.Equal(500 * (4 + 8 + 3), pods.Cgroups.MaxSeries); // the documented default bound: 7,500 series

        KdamondConfig vaddr = Assert.Single(ConfigLoader.Parse("kdamonds: [{name: app, targets: [{name: a, pid: 1}]}]", "c.yaml").Kdamonds);
        Assert.False(vaddr.SamplesPages);
        KdamondConfig raw = Assert.Single(ConfigLoader.Parse("kdamonds: [{name: node, operations: paddr, page_sampling: {free_pages: include}}]", "c.yaml").Kdamonds);
        Assert.False(raw.SamplesPages);
    }

    [Theory]
    [InlineData("cgroups: {preset: kubernetes-nodes}", 6, 23, "kdamonds[0].cgroups.preset", "'kubernetes-nodes' is not one of: kubernetes-pods, kubernetes-containers")]
    [InlineData("cgroups: {preset: kubernetes-pods, max: 5000}", 6, 45, "kdamonds[0].cgroups.max", "'5000' is not a whole number between 1 and 2000")]
    [InlineData("cgroups: {match: [\"kubepods/../x\"]}", 6, 23, "kdamonds[0].cgroups.match", "'kubepods/../x' has an empty, '.' or '..' segment")]
    [InlineData("cgroups: {paths: [\"/system.slice/*.service\"]}", 6, 23, "kdamonds[0].cgroups.paths", "has wildcards: put globs under 'match'")]
    [InlineData("cgroups: {root: sys/fs/cgroup, preset: kubernetes-pods}", 6, 21, "kdamonds[0].cgroups.root", "is not an absolute path")]
    [InlineData("cgroups: {max: 3}", 6, 14, "kdamonds[0].cgroups", "selects no cgroup")]
    [InlineData("cgroups: {preset: kubernetes-pods, rediscover: 100ms}", 6, 52, "kdamonds[0].cgroups.rediscover", "must be between 1s and 1d")]
    [InlineData("cgroups: {preset: kubernetes-pods, percentiles: [90, 50]}", 6, 58, "kdamonds[0].cgroups.percentiles", "must be larger than the previous percentile")]
    [InlineData("cgroups: {preset: kubernetes-pods, pods: yes}", 6, 40, "kdamonds[0].cgroups.pods", "unknown key")]
    [InlineData("page_sampling: {samples: 10}", 6, 30, "kdamonds[0].page_sampling.samples", "'10' is not a whole number between 1000 and 10000000")]
    [InlineData("page_sampling: {free_pages: keep}", 6, 33, "kdamonds[0].page_sampling.free_pages", "'keep' is not one of: exclude, include")]
    public void Mistakes_are_reported_at_their_line_and_column(string block, int line, int column, string key, string message)
    {
        string yaml = $"""
            kdamonds:
              - name: node
                operations: paddr
                targets: [{"{"}name: ram, memory: largest_block{"}"}]
                intervals: {"{"}sample: 5ms{"}"}
                {block}
            """;
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "bad.yaml"));
        ConfigError err = Assert.Single(e.Errors);
        Assert.Equal(("bad.yaml", line, column, key), (err.File, err.Line, err.Column, err.Key));
        Assert.Contains(message, err.Message, StringComparison.Ordinal);
        Assert.StartsWith($"bad.yaml:{line}:{column}: {key}: ", err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Cgroups_and_page_sampling_are_refused_on_vaddr_kdamonds()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            kdamonds:
              - name: app
                targets: [{name: a, pid: 1}]
                page_sampling: {samples: 5000}
                cgroups: {preset: kubernetes-pods}
            """, "v.yaml"));
        Assert.Equal(["kdamonds[0].page_sampling", "kdamonds[0].cgroups"], e.Errors.Select(x => x.Key));
        Assert.All(e.Errors, x => Assert.Contains("paddr only", x.Message, StringComparison.Ordinal));
        Assert.Equal([4, 5], e.Errors.Select(x => x.Line));
    }
}
