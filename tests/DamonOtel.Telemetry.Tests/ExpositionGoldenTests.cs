using System.Text;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Prometheus;
using DamonOtel.Telemetry.Tests.Infrastructure;

namespace DamonOtel.Telemetry.Tests;

/// <summary>The full /metrics body for fixed observations, in both formats (meter "DamonOtel", so these run sequentially in one class).</summary>
public sealed class ExpositionGoldenTests
{
    internal static async Task<(string Text, string OpenMetrics)> RenderFixtureAsync()
    {
        var time = new FakeTimeProvider();
        var store = new ObservationStore(time);
        using var pipeline = TelemetryPipeline.Build(store, new TelemetryPipelineOptions
        {
            ProcfsRoot = Fixtures.ProcRoot(),
            UseEnvironment = false,
            ScrapeCacheDuration = TimeSpan.Zero,

            // 1.25 s user, 0.5 s system, 48 MiB resident: fixed so the golden file stays exact.
            ProcessUsage = () => new(1.25, 0.5, 50_331_648),
        });

        // t = 0: first snapshots; "old" has a 1 s interval and will be stale at t = 4 s.
        store.Publish(Fixtures.Web(store, sequence: 1, wss: 268_435_456));
        store.RecordCollection("kdamond/web", TimeSpan.FromMilliseconds(2.5), null);
        store.Publish(Fixtures.Stat(store));
        store.RecordCollection("module/damon_stat", TimeSpan.FromMilliseconds(1), null);
        store.Publish(Fixtures.Node(store));
        store.RecordCollection("pages/node", TimeSpan.FromMilliseconds(20), null);
        store.Publish(Fixtures.Web(store) with { Source = "kdamond/old", Kdamond = "old", ExpectedInterval = TimeSpan.FromSeconds(1) });
        store.RecordCollection("kdamond/old", TimeSpan.FromMilliseconds(1), null);

        // t = 4 s: web advances (WSS 512 MiB), is re-published unchanged (no second record), damon_stat fails.
        time.Advance(TimeSpan.FromSeconds(4));
        store.Publish(Fixtures.Web(store, sequence: 2, wss: 536_870_912));
        store.Publish(Fixtures.Web(store, sequence: 2, wss: 536_870_912));
        store.RecordCollection("kdamond/web", TimeSpan.FromMilliseconds(7.5), null);
        store.Publish(Fixtures.Stat(store));
        store.RecordCollection("module/damon_stat", TimeSpan.FromMilliseconds(30), new IOException("EBUSY"));

        var text = await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        var om = await pipeline.Scrape.ScrapeAsync(ExpositionFormat.OpenMetrics100, gzip: false);
        return (Encoding.UTF8.GetString(text.Body), Encoding.UTF8.GetString(om.Body));
    }

    [Fact]
    public async Task Text_and_OpenMetrics_match_the_golden_files_and_promtool_accepts_the_text()
    {
        var (text, om) = await RenderFixtureAsync();
        GoldenFile.AssertMatches(Path.Combine(RepoRoot.Of("tests", "DamonOtel.Telemetry.Tests"), "Golden", "metrics.txt"), text);
        GoldenFile.AssertMatches(Path.Combine(RepoRoot.Of("tests", "DamonOtel.Telemetry.Tests"), "Golden", "metrics.openmetrics.txt"), om);

        var (code, stdout, stderr) = ProcessRunner.Run(ProcessRunner.Require("promtool", "prometheus"), ["check", "metrics"], text);
        Assert.True(code == 0 && stdout.Trim().Length == 0 && stderr.Trim().Length == 0,
            $"promtool check metrics reported problems (exit {code}):\n{stdout}{stderr}");
    }

    [Fact]
    public async Task Fixture_values_are_the_hand_computed_ones()
    {
        var (text, om) = await RenderFixtureAsync();
        string[] lines = text.Split('\n');
        void Has(string line) => Assert.Contains(line, lines);

        const string scope = "otel_scope_name=\"DamonOtel\",otel_scope_version=\"0.1.0\"";
        // Intervals 5000/100000/1000000 us -> 0.005/0.1/1 s.
        Has($"damon_monitoring_interval_seconds{{{scope},interval=\"sample\",kdamond=\"web\"}} 0.005");
        Has($"damon_monitoring_interval_seconds{{{scope},interval=\"update\",kdamond=\"web\"}} 1");
        // Idle bucket bounds rendered canonical; 1e6 s -> "1e+06".
        Has($"damon_memory_idle_bytes{{{scope},kdamond=\"web\",le=\"0.0\",target=\"nginx\"}} 268435456");
        Has($"damon_memory_idle_bytes{{{scope},kdamond=\"web\",le=\"1e+06\",target=\"nginx\"}} 1073741824");
        Has($"damon_memory_idle_bytes{{{scope},kdamond=\"web\",le=\"+Inf\",target=\"nginx\"}} 1073741824");
        // p50 idle 1,500,000 us = 1.5 s; p99 600 s; percentile 99 -> quantile "0.99", 100 -> "1.0".
        Has($"damon_memory_idle_time_seconds{{{scope},kdamond=\"web\",quantile=\"0.5\",target=\"nginx\"}} 1.5");
        Has($"damon_memory_idle_time_seconds{{{scope},kdamond=\"web\",quantile=\"0.99\",target=\"nginx\"}} 600");
        Has($"damon_memory_idle_time_seconds{{{scope},kdamond=\"web\",quantile=\"1.0\",target=\"nginx\"}} 3600");
        // signed p0: -200,000 us = -0.2 s.
        Has($"damon_memory_idle_time_signed_seconds{{{scope},kdamond=\"web\",quantile=\"0.0\",target=\"nginx\"}} -0.2");
        // 2.5e9 B/s in Go %g form.
        Has($"damon_memory_access_bandwidth_bytes_per_second{{{scope},kdamond=\"web\",target=\"nginx\"}} 2.5e+09");
        Has($"damos_scheme_applied_size_bytes_total{{{scope},action=\"pageout\",kdamond=\"web\",scheme=\"cold_pageout\"}} 122880");
        Has($"damon_kdamond_cpu_time_seconds_total{{{scope},kdamond=\"web\"}} 3.25");
        Has($"damon_kdamond_up{{{scope},kdamond=\"damon_stat\"}} 0");
        // WSS recorded twice (sequence 1 and 2, the re-publish of 2 does not count): 2^28 and 2^29.
        Has($"damon_memory_working_set_distribution_bytes_bucket{{{scope},kdamond=\"web\",target=\"nginx\",le=\"1.34217728e+08\"}} 0");
        Has($"damon_memory_working_set_distribution_bytes_bucket{{{scope},kdamond=\"web\",target=\"nginx\",le=\"2.68435456e+08\"}} 1");
        Has($"damon_memory_working_set_distribution_bytes_bucket{{{scope},kdamond=\"web\",target=\"nginx\",le=\"5.36870912e+08\"}} 2");
        Has($"damon_memory_working_set_distribution_bytes_bucket{{{scope},kdamond=\"web\",target=\"nginx\",le=\"+Inf\"}} 2");
        Has($"damon_memory_working_set_distribution_bytes_sum{{{scope},kdamond=\"web\",target=\"nginx\"}} 8.05306368e+08"); // 2^28 + 2^29, Go %g
        Has($"damon_memory_working_set_distribution_bytes_count{{{scope},kdamond=\"web\",target=\"nginx\"}} 2");
        // Sources: web succeeded at t=4 (age 0), damon_stat last succeeded at t=0 (age 4) and failed now.
        Has($"damon_otel_snapshot_age_seconds{{{scope},source=\"kdamond/web\"}} 0");
        Has($"damon_otel_snapshot_age_seconds{{{scope},source=\"module/damon_stat\"}} 4");
        Has($"damon_otel_source_up{{{scope},source=\"module/damon_stat\"}} 0");
        Has($"damon_otel_collection_errors_total{{{scope},source=\"module/damon_stat\"}} 1");
        Has($"damon_otel_collection_errors_total{{{scope},source=\"kdamond/web\"}} 0");
        // Collection durations 2.5 ms and 7.5 ms: both in (0.005, 0.01]? no: 2.5 ms is in (0.001, 0.0025].
        Has($"damon_otel_collection_duration_seconds_bucket{{{scope},source=\"kdamond/web\",le=\"0.0025\"}} 1");
        Has($"damon_otel_collection_duration_seconds_bucket{{{scope},source=\"kdamond/web\",le=\"0.01\"}} 2");
        Has($"damon_otel_collection_duration_seconds_sum{{{scope},source=\"kdamond/web\"}} 0.01");

        // "old" is stale at t = 4 s (4 s > 3 x 1 s): none of its series is exported, its source still is.
        // (The WSS histogram is synchronous: its cumulative series for "old" stays, as documented.)
        Assert.All(lines.Where(l => l.Contains("kdamond=\"old\"")), l => Assert.StartsWith("damon_memory_working_set_distribution_bytes_", l));
        Has($"damon_otel_snapshot_age_seconds{{{scope},source=\"kdamond/old\"}} 4");
        // Disabled by default.
        Assert.DoesNotContain("heatmap", text);
        // No region or address labels, no timestamps (every sample line has exactly 2 fields).
        Assert.DoesNotContain("region=", text);
        Assert.All(lines.Where(l => l.Length > 0 && l[0] != '#'), l =>
            Assert.DoesNotContain(' ', l.Contains('}') ? l[(l.LastIndexOf('}') + 2)..] : l[(l.IndexOf(' ') + 1)..]));

        Assert.StartsWith("# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{", text);
        // Resource keys are sanitized (host.name -> host_name).
        Assert.Contains("host_name=\"golden-host\"", text);
        Assert.Contains("os_version=\"6.12.38+deb13-amd64\"", text);
        Assert.Contains("service_name=\"damon-otel\"", text);

        Assert.StartsWith("# TYPE target info\n# HELP target Target metadata\ntarget_info{", om);
        Assert.EndsWith("\n# EOF\n", om);
        Assert.Contains("# TYPE damos_scheme_applied_size_bytes counter\n# UNIT damos_scheme_applied_size_bytes bytes\n", om);
        Assert.Contains("# TYPE damon_memory_idle_bytes unknown\n", om);
        Assert.Contains("# TYPE damon_memory_idle_bytes untyped\n", text);
    }
}
