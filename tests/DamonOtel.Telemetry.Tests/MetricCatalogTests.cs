using DamonOtel.Telemetry.Catalog;

namespace DamonOtel.Telemetry.Tests;

public sealed class MetricCatalogTests
{
    [Fact]
    public void Docs_are_up_to_date() =>
        GoldenFile.AssertMatches(Path.Combine(RepoRoot.Dir, "docs", "metrics.md"), MetricCatalog.GenerateMarkdown());

    [Theory]
    [InlineData("damon.memory.working_set", "damon_memory_working_set_bytes")]
    [InlineData("damon.memory.idle", "damon_memory_idle_bytes")]
    [InlineData("damon.memory.idle_time", "damon_memory_idle_time_seconds")]
    [InlineData("damon.memory.idle_time.signed", "damon_memory_idle_time_signed_seconds")]
    [InlineData("damon.memory.access_bandwidth", "damon_memory_access_bandwidth_bytes_per_second")]
    [InlineData("damos.scheme.applied.size", "damos_scheme_applied_size_bytes_total")]
    [InlineData("damos.scheme.tried", "damos_scheme_tried_total")]
    [InlineData("damos.scheme.quota_exceeds", "damos_scheme_quota_exceeds_total")]
    [InlineData("damon.kdamond.cpu.time", "damon_kdamond_cpu_time_seconds_total")]
    [InlineData("damon_otel.collection.duration", "damon_otel_collection_duration_seconds")]
    [InlineData("damon_otel.collection.errors", "damon_otel_collection_errors_total")]
    [InlineData("damon.memory.heatmap.access_rate", "damon_memory_heatmap_access_rate_percent")]
    [InlineData("damon.monitoring.interval", "damon_monitoring_interval_seconds")]
    [InlineData("damon.region.count", "damon_region_count")]
    public void Prometheus_names(string otel, string prometheus) =>
        Assert.Equal(prometheus, MetricCatalog.Find(otel)!.PrometheusName);

    [Fact]
    public void Catalog_names_are_unique_and_never_label_regions()
    {
        Assert.Equal(MetricCatalog.All.Count, MetricCatalog.All.Select(d => d.Name).Distinct().Count());
        Assert.Equal(MetricCatalog.All.Count, MetricCatalog.All.Select(d => d.PrometheusName).Distinct().Count());
        Assert.DoesNotContain(MetricCatalog.All, d => d.Attributes.Any(a => a.Contains("region") || a.Contains("addr")));
        Assert.Equal(["damon.memory.heatmap.access_rate"], MetricCatalog.All.Where(d => !d.EnabledByDefault).Select(d => d.Name));
    }

    [Fact]
    public void Wss_buckets_are_powers_of_two_from_1MiB_to_1TiB()
    {
        Assert.Equal(1_048_576, MetricCatalog.WorkingSetBucketsBytes[0]);
        Assert.Equal(1_099_511_627_776, MetricCatalog.WorkingSetBucketsBytes[^1]);
        Assert.Equal(21, MetricCatalog.WorkingSetBucketsBytes.Count);
    }
}
