using Microsoft.AspNetCore.Builder;
using System.Collections.Concurrent;
using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Tests.Infrastructure;

namespace DamonOtel.Telemetry.Tests;

/// <summary>Debian's real Prometheus scrapes our endpoint (it prefers OpenMetrics 1.0.0, whose parser is strict).</summary>
public sealed class PrometheusScrapeTests
{
    [Fact]
    public async Task Prometheus_scrapes_OpenMetrics_without_errors_and_histogram_quantile_works_on_idle_bytes()
    {
        var store = new ObservationStore();
        using var pipeline = TelemetryPipeline.Build(store, new TelemetryPipelineOptions
        {
            ProcfsRoot = Fixtures.ProcRoot(),
            UseEnvironment = false,
            MeterName = "test." + Guid.NewGuid().ToString("N"),
            ScrapeCacheDuration = TimeSpan.Zero,
        });
        var web = Fixtures.Web(store) with { ExpectedInterval = TimeSpan.FromDays(1) };
        store.Publish(web);
        store.RecordCollection("kdamond/web", TimeSpan.FromMilliseconds(1), null);
        var accepts = new ConcurrentQueue<string>();
        await using var endpoint = MetricsEndpoint.Create(new MetricsEndpointOptions { ListenAddress = "127.0.0.1:0" }, pipeline.Scrape, app =>
            app.Use(async (ctx, next) =>
            {
                accepts.Enqueue(ctx.Request.Headers.Accept.ToString());
                await next(ctx);
            }));
        await endpoint.StartAsync();

        await using var prometheus = await PrometheusServer.StartAsync(PrometheusServer.ScrapeJob("damon", $"127.0.0.1:{endpoint.Port}"));
        await prometheus.WaitUntilAsync(async () => await prometheus.QueryValueAsync("up{job=\"damon\"}") == 1, TimeSpan.FromSeconds(30), "up == 1");
        // Wait for one more scrape so that all series are in.
        await prometheus.WaitUntilAsync(async () => await prometheus.QueryValueAsync("count(damon_memory_idle_bytes)") == 6, TimeSpan.FromSeconds(30), "idle series");

        var target = (await prometheus.ActiveTargetsAsync()).EnumerateArray().Single();
        Assert.Equal("up", target.GetProperty("health").GetString());
        Assert.Equal("", target.GetProperty("lastError").GetString());
        Assert.Contains(accepts, a => a.StartsWith("application/openmetrics-text", StringComparison.Ordinal));

        // Idle bytes (MiB) at le 1 s = 384, le 60 s = 768, total 1024: the median (512) lies in (1, 60]:
        // 1 + (60 - 1) x (512 - 384) / (768 - 384) = 1 + 59/3 = 20.666...
        var median = await prometheus.QueryValueAsync("histogram_quantile(0.5, sum by (le) (damon_memory_idle_bytes{target=\"nginx\"}))");
        Assert.NotNull(median);
        Assert.Equal(1 + (59.0 / 3), median!.Value, 9);
        Assert.Equal(1.5, await prometheus.QueryValueAsync("damon_memory_idle_time_seconds{quantile=\"0.5\"}"));
        Assert.Equal(122_880, await prometheus.QueryValueAsync("damos_scheme_applied_size_bytes_total{scheme=\"cold_pageout\"}"));
        Assert.Equal(1, await prometheus.QueryValueAsync("target_info{host_name=\"golden-host\"}"));
        Assert.Equal(1, await prometheus.QueryValueAsync("sum(damon_otel_collection_duration_seconds_count)"));
    }
}
