using System.Diagnostics.Metrics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using DamonOtel.Telemetry.Prometheus;
using FsCheck;
using FsCheck.Fluent;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace DamonOtel.Telemetry.Tests;

public sealed class SerializerTests
{
    [Theory]
    [InlineData(0.0, "0.0", "0")]
    [InlineData(0.1, "0.1", "0.1")]
    [InlineData(1.0, "1.0", "1")]
    [InlineData(10.0, "10.0", "10")]
    [InlineData(100000.0, "100000.0", "100000")]
    [InlineData(1e6, "1e+06", "1e+06")]
    [InlineData(1e-5, "1e-05", "1e-05")]
    [InlineData(0.0001, "0.0001", "0.0001")]
    [InlineData(0.005, "0.005", "0.005")]
    [InlineData(0.99, "0.99", "0.99")]
    [InlineData(1048576.0, "1.048576e+06", "1.048576e+06")]
    [InlineData(1.5e300, "1.5e+300", "1.5e+300")]
    [InlineData(-0.2, "-0.2", "-0.2")]
    [InlineData(-1e7, "-1e+07", "-1e+07")]
    [InlineData(123456.5, "123456.5", "123456.5")]
    [InlineData(double.PositiveInfinity, "+Inf", "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf", "-Inf")]
    [InlineData(double.NaN, "NaN", "NaN")]
    public void Numbers_render_like_Go_g_and_OpenMetrics_canonical(double value, string canonical, string plain)
    {
        Assert.Equal(canonical, PrometheusNumbers.Canonical(value));
        Assert.Equal(plain, PrometheusNumbers.FormatValue(value));
    }

    [Fact]
    public void Canonical_numbers_round_trip_and_have_the_canonical_shape()
    {
        Prop.ForAll<double>(d =>
        {
            if (!double.IsFinite(d))
            {
                return true;
            }

            var s = PrometheusNumbers.Canonical(d);
            var back = double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
            var shape = System.Text.RegularExpressions.Regex.IsMatch(s, @"^-?(\d+\.\d+|\d(\.\d+)?e[+-]\d{2,3})$");
            return back.Equals(d == 0 ? 0.0 : d) && shape;
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData("damon.memory.working_set", "By", false, "damon_memory_working_set_bytes", "bytes")]
    [InlineData("damon.memory.access_bandwidth", "By/s", false, "damon_memory_access_bandwidth_bytes_per_second", "bytes_per_second")]
    [InlineData("damos.scheme.applied.size", "By", true, "damos_scheme_applied_size_bytes_total", "bytes")]
    [InlineData("damos.scheme.tried", "{region}", true, "damos_scheme_tried_total", "")]
    [InlineData("damon.kdamond.cpu.time", "s", true, "damon_kdamond_cpu_time_seconds_total", "seconds")]
    [InlineData("damon.memory.access_ratio", "1", false, "damon_memory_access_ratio", "")]
    [InlineData("damon.kdamond.up", null, false, "damon_kdamond_up", "")]
    [InlineData("damon.cgroup.memory.purity_ratio", "1", false, "damon_cgroup_memory_purity_ratio", "")]
    [InlineData("damon.memory.heatmap.access_rate", "%", false, "damon_memory_heatmap_access_rate_percent", "percent")]
    [InlineData("requests_total", "1", true, "requests_total", "")]
    [InlineData("latency.seconds", "s", false, "latency_seconds", "seconds")]
    [InlineData("9lives..cat-x", "ms", false, "_9lives_cat_x_milliseconds", "milliseconds")]
    public void Names_follow_the_compatibility_spec(string otel, string? unit, bool counter, string text, string omUnit)
    {
        var n = PrometheusNaming.For(otel, unit, counter);
        Assert.Equal(text, n.TextTypeName);
        Assert.Equal(omUnit, n.Unit);
        if (counter)
        {
            Assert.Equal(text, n.Sample);
            Assert.Equal(text[..^"_total".Length], n.Family);
        }
    }

    [Theory]
    [InlineData(null, ExpositionFormat.Text004)]
    [InlineData("", ExpositionFormat.Text004)]
    [InlineData("text/plain", ExpositionFormat.Text004)]
    [InlineData("application/openmetrics-text", ExpositionFormat.OpenMetrics100)]
    [InlineData("application/openmetrics-text; version=1.0.0", ExpositionFormat.OpenMetrics100)]
    [InlineData("application/openmetrics-text;version=0.0.1", ExpositionFormat.Text004)]
    [InlineData("application/openmetrics-text;version=1.0.0;q=0.1,text/plain;version=0.0.4;q=0.5", ExpositionFormat.Text004)]
    [InlineData("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1", ExpositionFormat.OpenMetrics100)]
    [InlineData("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", ExpositionFormat.OpenMetrics100)]
    [InlineData("application/openmetrics-text;q=0,text/plain;q=0.1", ExpositionFormat.Text004)]
    [InlineData("application/json", ExpositionFormat.Text004)]
    [InlineData("text/plain;q=0.5,application/openmetrics-text;q=0.5", ExpositionFormat.Text004)]
    public void Accept_header_negotiation(string? accept, ExpositionFormat expected) =>
        Assert.Equal(expected, ContentNegotiation.Negotiate(accept));

    [Theory]
    [InlineData(null, false)]
    [InlineData("identity", false)]
    [InlineData("gzip", true)]
    [InlineData("deflate, gzip;q=0.5", true)]
    [InlineData("gzip;q=0", false)]
    [InlineData("GZIP", true)]
    public void Gzip_negotiation(string? acceptEncoding, bool expected) =>
        Assert.Equal(expected, ContentNegotiation.AcceptsGzip(acceptEncoding));

    [Fact]
    public void Content_types_are_exact()
    {
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", PrometheusSerializer.ContentType(ExpositionFormat.Text004));
        Assert.Equal("application/openmetrics-text; version=1.0.0; charset=utf-8", PrometheusSerializer.ContentType(ExpositionFormat.OpenMetrics100));
    }

    /// <summary>A private meter through the real SDK and our exporter: naming, escaping, collisions, histograms.</summary>
    private static async Task<(string Text, string Om)> RenderAsync(Action<Meter> instruments, bool emptyResource = false)
    {
        var meterName = "test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(meterName, "1.2.3");
        var exporter = new PrometheusPullExporter();
        using var provider = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(emptyResource ? ResourceBuilder.CreateEmpty() : ResourceBuilder.CreateEmpty().AddAttributes([new("service.name", "svc"), new("weird key", "a\"b\\c\nd")]))
            .AddMeter(meterName)
            .AddReader(new BaseExportingMetricReader(exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative })
            .Build();
        instruments(meter); // after Build: measurements before the provider listens are lost
        using var handler = new PrometheusScrapeHandler(exporter, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        var text = await handler.ScrapeAsync(ExpositionFormat.Text004, false);
        var om = await handler.ScrapeAsync(ExpositionFormat.OpenMetrics100, false);
        return (Encoding.UTF8.GetString(text.Body), Encoding.UTF8.GetString(om.Body));
    }

    [Fact]
    public async Task Labels_are_sanitized_merged_and_escaped_and_help_is_escaped_per_format()
    {
        var (text, om) = await RenderAsync(m =>
        {
            var c = m.CreateCounter<long>("app.requests", "{request}", "Requests \"served\"\\ok\nnext");
            // "a.b" and "a-b" both sanitize to a_b: values joined with ';' ordered by the original key ("a-b" < "a.b").
            c.Add(3, new("a.b", "dot"), new("a-b", "dash"), new("path", "C:\\x\"y\"\nz"), new("1st", true));
        });

        Assert.Contains("# HELP app_requests_total Requests \"served\"\\\\ok\\nnext\n# TYPE app_requests_total counter\n", text);
        Assert.Contains("app_requests_total{otel_scope_name=\"", text);
        Assert.Contains("otel_scope_version=\"1.2.3\"", text);
        Assert.Contains("_1st=\"true\"", text);
        Assert.Contains("a_b=\"dash;dot\"", text);
        Assert.Contains("path=\"C:\\\\x\\\"y\\\"\\nz\"", text);
        Assert.Contains("} 3\n", text);
        Assert.Contains("target_info{service_name=\"svc\",weird_key=\"a\\\"b\\\\c\\nd\"} 1\n", text);

        Assert.Contains("# TYPE app_requests counter\n# HELP app_requests Requests \\\"served\\\"\\\\ok\\nnext\n", om);
        Assert.Contains("app_requests_total{", om);
        Assert.DoesNotContain("# UNIT app_requests", om);
    }

    [Fact]
    public async Task Histograms_are_cumulative_with_canonical_le_and_inf_equal_to_count()
    {
        var (text, om) = await RenderAsync(m =>
        {
            var h = m.CreateHistogram("op.duration", "s", "Op duration", tags: null,
                new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.1, 1, 1e6] });
            // 0.001 -> (-inf, 0.005]; 0.05 and 0.1 -> (0.005, 0.1]; 2 -> (1, 1e6]; 2e6 -> +Inf.
            foreach (var v in new[] { 0.001, 0.05, 0.1, 2, 2e6 })
            {
                h.Record(v, new KeyValuePair<string, object?>("k", "v"));
            }
        });

        var expected =
            "# HELP op_duration_seconds Op duration\n# TYPE op_duration_seconds histogram\n" +
            "op_duration_seconds_bucket{S,k=\"v\",le=\"0.005\"} 1\n" +
            "op_duration_seconds_bucket{S,k=\"v\",le=\"0.1\"} 3\n" +
            "op_duration_seconds_bucket{S,k=\"v\",le=\"1.0\"} 3\n" +
            "op_duration_seconds_bucket{S,k=\"v\",le=\"1e+06\"} 4\n" +
            "op_duration_seconds_bucket{S,k=\"v\",le=\"+Inf\"} 5\n" +
            // 0.001 + 0.05 + 0.1 + 2 + 2e6 = 2000002.151
            "op_duration_seconds_sum{S,k=\"v\"} 2.000002151e+06\n" +
            "op_duration_seconds_count{S,k=\"v\"} 5\n";
        var scope = text[(text.IndexOf("op_duration_seconds_bucket{", StringComparison.Ordinal) + "op_duration_seconds_bucket{".Length)..];
        scope = scope[..scope.IndexOf(",k=", StringComparison.Ordinal)];
        Assert.Contains(expected.Replace("{S,", "{" + scope + ",", StringComparison.Ordinal), text);
        Assert.Contains("# TYPE op_duration_seconds histogram\n# UNIT op_duration_seconds seconds\n# HELP op_duration_seconds Op duration\n", om);
        Assert.Contains("le=\"1.0\"} 3\n", om);
    }

    [Fact]
    public async Task Empty_scrape_is_empty_text_and_only_EOF_in_OpenMetrics()
    {
        var (text, om) = await RenderAsync(_ => { }, emptyResource: true);
        Assert.Equal("", text);
        Assert.Equal("# EOF\n", om);
    }

    [Fact]
    public async Task Counter_that_goes_down_is_exported_as_the_absolute_kernel_value()
    {
        long value = 100;
        var meterName = "test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(meterName);
        meter.CreateObservableCounter("damos.x", () => value, "By");
        var exporter = new PrometheusPullExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meterName)
            .AddReader(new BaseExportingMetricReader(exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative }).Build();
        using var handler = new PrometheusScrapeHandler(exporter, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        async Task<string> Scrape() => Encoding.UTF8.GetString((await handler.ScrapeAsync(ExpositionFormat.Text004, false)).Body);

        Assert.Contains("damos_x_bytes_total{otel_scope_name=\"" + meterName + "\"} 100\n", await Scrape());
        value = 7; // kdamond restarted: Prometheus sees a counter reset
        Assert.Contains("damos_x_bytes_total{otel_scope_name=\"" + meterName + "\"} 7\n", await Scrape());
    }

    [Fact]
    public async Task Gzip_response_decompresses_to_the_plain_one_and_cache_reuses_bytes()
    {
        var meterName = "test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(meterName);
        var calls = 0;
        meter.CreateObservableGauge("g", () => ++calls);
        var exporter = new PrometheusPullExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meterName).AddReader(new BaseExportingMetricReader(exporter)).Build();
        var time = new FakeTimeProvider();
        using var handler = new PrometheusScrapeHandler(exporter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), time);

        var plain = await handler.ScrapeAsync(ExpositionFormat.Text004, false);
        var gz = await handler.ScrapeAsync(ExpositionFormat.Text004, true);
        Assert.True(gz.Gzipped);
        using var ms = new MemoryStream();
        using (var z = new GZipStream(new MemoryStream(gz.Body), CompressionMode.Decompress))
        {
            z.CopyTo(ms);
        }

        Assert.Equal(plain.Body, ms.ToArray());
        Assert.Equal(1, calls); // both served from one collection

        time.Advance(TimeSpan.FromSeconds(2)); // cache expired -> a new collection
        var again = await handler.ScrapeAsync(ExpositionFormat.Text004, false);
        Assert.Equal(2, calls);
        Assert.Contains("g{otel_scope_name=\"" + meterName + "\"} 2\n", Encoding.UTF8.GetString(again.Body));
    }

    [Fact]
    public async Task Concurrent_scrapes_share_one_collection()
    {
        var meterName = "test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(meterName);
        var calls = 0;
        meter.CreateObservableGauge("g", () =>
        {
            Thread.Sleep(50); // hold the collection so the others queue behind it
            return Interlocked.Increment(ref calls);
        });
        var exporter = new PrometheusPullExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meterName).AddReader(new BaseExportingMetricReader(exporter)).Build();
        using var handler = new PrometheusScrapeHandler(exporter, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(5));
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => handler.ScrapeAsync(i % 2 == 0 ? ExpositionFormat.Text004 : ExpositionFormat.OpenMetrics100, false))));
        Assert.Equal(1, calls);
        Assert.All(results, r => Assert.Contains("} 1\n", Encoding.UTF8.GetString(r.Body)));
    }

    [Fact]
    public async Task While_a_collection_runs_recent_data_is_served_instead_of_queueing()
    {
        var meterName = "test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(meterName);
        var calls = 0;
        using var entered = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim(true);
        meter.CreateObservableGauge("g", () =>
        {
            var n = Interlocked.Increment(ref calls);
            entered.Release();
            release.Wait();
            return n;
        });
        var exporter = new PrometheusPullExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meterName).AddReader(new BaseExportingMetricReader(exporter)).Build();
        var time = new FakeTimeProvider();
        using var handler = new PrometheusScrapeHandler(exporter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), time);
        string Body(ScrapeResponse r) => Encoding.UTF8.GetString(r.Body);

        Assert.Contains("} 1\n", Body(await handler.ScrapeAsync(ExpositionFormat.Text004, false)));
        await entered.WaitAsync();

        // 1.5 s later: expired, but younger than 2 x 1 s. A collects (blocked); B gets collection 1 at once.
        time.Advance(TimeSpan.FromSeconds(1.5));
        release.Reset();
        var a = Task.Run(() => handler.ScrapeAsync(ExpositionFormat.Text004, false));
        await entered.WaitAsync();
        Assert.Contains("} 1\n", Body(await handler.ScrapeAsync(ExpositionFormat.Text004, false)));
        release.Set();
        Assert.Contains("} 2\n", Body(await a));

        // 3 s later (older than 2 x 1 s): B waits for A's collection instead of serving old data.
        time.Advance(TimeSpan.FromSeconds(3));
        release.Reset();
        var a2 = Task.Run(() => handler.ScrapeAsync(ExpositionFormat.Text004, false));
        await entered.WaitAsync();
        var b2 = handler.ScrapeAsync(ExpositionFormat.Text004, false);
        await Task.Delay(100);
        Assert.False(b2.IsCompleted);
        release.Set();
        Assert.Contains("} 3\n", Body(await a2));
        Assert.Contains("} 3\n", Body(await b2));
        Assert.Equal(3, calls);
    }
}
