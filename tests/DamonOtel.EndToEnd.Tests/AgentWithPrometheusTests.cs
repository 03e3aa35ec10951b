using System.Globalization;
using System.Net;
using DamonOtel.EndToEnd.Tests.Infrastructure;
using DamonOtel.Telemetry.Tests.Infrastructure;
using Xunit.Abstractions;

namespace DamonOtel.EndToEnd.Tests;

/// <summary>
/// One real `damon-otel run --simulate steady` process and one Debian `prometheus` scraping it
/// every second, shared by the tests of <see cref="AgentWithPrometheusTests"/>. Disposal sends
/// SIGTERM and fails if the agent does not exit cleanly within 10 s.
/// </summary>
public sealed class AgentWithPrometheusFixture : IAsyncLifetime
{
    public const string Job = "damon-otel";

    private readonly SemaphoreSlim warmGate = new(1, 1);
    private bool warm;

    internal AgentProcess Agent { get; private set; } = null!;

    internal PrometheusServer Prometheus { get; private set; } = null!;

    internal Promql Promql { get; private set; } = null!;

    /// <summary>Unix time at which <see cref="WarmAsync"/> found the agent warmed up.</summary>
    internal double WarmAt { get; private set; }

    public async Task InitializeAsync()
    {
        Agent = await AgentProcess.StartAsync();
        Prometheus = await PrometheusServer.StartAsync(PrometheusServer.ScrapeJob(Job, $"127.0.0.1:{Agent.Port.ToString(CultureInfo.InvariantCulture)}"), TimeSpan.FromSeconds(1));
        Promql = new Promql(Prometheus);
    }

    /// <summary>
    /// Waits (once) until the agent has run long enough for every assertion: scraped, the
    /// pageout scheme tried (it needs memory idle for 5 s), and 10 s of samples of both kdamonds.
    /// </summary>
    internal async Task WarmAsync()
    {
        await warmGate.WaitAsync();
        try
        {
            if (warm)
            {
                return;
            }

            TimeSpan limit = TimeSpan.FromSeconds(90);
            await Promql.WaitAsync($"up{{job=\"{Job}\"}}", s => s.Value == 1, limit, "agent scraped");
            await Promql.WaitAsync("damos_scheme_tried_size_bytes_total{kdamond=\"system\",scheme=\"cold-pageout\"}", s => s.Value > 0, limit, "pageout scheme tried");
            await Promql.WaitAsync("count_over_time(damon_memory_working_set_bytes[12s])", s => s.Value >= 10, limit, "12 s of working-set samples");
            WarmAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
            warm = true;
        }
        finally
        {
            warmGate.Release();
        }
    }

    public async Task DisposeAsync()
    {
        Promql?.Dispose();
        if (Prometheus is not null)
        {
            await Prometheus.DisposeAsync();
        }

        if (Agent is not null)
        {
            int? code = Agent.HasExited ? null : await Agent.TerminateAsync(TimeSpan.FromSeconds(10));
            string log = Agent.Log;
            await Agent.DisposeAsync();
            if (code != 0)
            {
                throw new InvalidOperationException($"damon-otel did not exit with 0 within 10 s of SIGTERM (exit {code?.ToString(CultureInfo.InvariantCulture) ?? "none"}):\n{log}");
            }
        }

        warmGate.Dispose();
    }
}

/// <summary>The real agent process scraped by the real Prometheus, checked with PromQL.</summary>
public sealed class AgentWithPrometheusTests(AgentWithPrometheusFixture fx, ITestOutputHelper output) : IClassFixture<AgentWithPrometheusFixture>
{
    // The steady workload touches [alloc + 256 MiB, alloc + 384 MiB) of its 1 GiB allocation in
    // every aggregation interval: 384 - 256 = 128 MiB = 128 * 1024 * 1024 = 134217728 bytes hot.
    private const double HotBytes = 134_217_728;

    // DAMON estimates from sampled regions: within 10 % of the truth is the accuracy asked of it.
    private const double Tolerance = 0.10;

    private const string Steady = "kdamond=\"steady\",target=\"steady\"";
    private const string System = "kdamond=\"system\",target=\"memory\"";

    [Fact]
    public async Task Prometheus_scrapes_the_agent_and_its_endpoints_answer()
    {
        await fx.WarmAsync();
        Assert.Equal(1, await fx.Promql.ScalarAsync($"up{{job=\"{AgentWithPrometheusFixture.Job}\"}}"));

        using var http = new HttpClient { BaseAddress = fx.Agent.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
        using (HttpResponseMessage health = await http.GetAsync("healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Equal("ok\n", await health.Content.ReadAsStringAsync());
        }

        using (HttpResponseMessage ready = await http.GetAsync("readyz"))
        {
            Assert.True(ready.StatusCode == HttpStatusCode.OK, $"/readyz {(int)ready.StatusCode}: {await ready.Content.ReadAsStringAsync()}");
        }

        // Without Accept: the Prometheus text format 0.0.4.
        using (HttpResponseMessage text = await http.GetAsync("metrics"))
        {
            Assert.Equal(HttpStatusCode.OK, text.StatusCode);
            Assert.Equal("text/plain; version=0.0.4; charset=utf-8", text.Content.Headers.ContentType!.ToString());
            string body = await text.Content.ReadAsStringAsync();
            Assert.Contains("# TYPE damon_memory_working_set_bytes gauge\n", body);
            Assert.DoesNotContain("# EOF", body);
        }

        using var om = new HttpRequestMessage(HttpMethod.Get, "metrics");
        om.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text; version=1.0.0");
        using (HttpResponseMessage openMetrics = await http.SendAsync(om))
        {
            Assert.Equal(HttpStatusCode.OK, openMetrics.StatusCode);
            Assert.Equal("application/openmetrics-text; version=1.0.0; charset=utf-8", openMetrics.Content.Headers.ContentType!.ToString());
            string body = await openMetrics.Content.ReadAsStringAsync();
            Assert.EndsWith("# EOF\n", body);
        }
    }

    [Fact]
    public async Task Working_set_matches_the_simulator_truth_for_vaddr_and_paddr()
    {
        await fx.WarmAsync();
        double at = await NowAsync();
        foreach (string target in new[] { Steady, System })
        {
            // Every sample of the last 6 s, not just the latest, must be within the tolerance.
            double min = await fx.Promql.ScalarAsync($"min_over_time(damon_memory_working_set_bytes{{{target}}}[6s])", at);
            double max = await fx.Promql.ScalarAsync($"max_over_time(damon_memory_working_set_bytes{{{target}}}[6s])", at);
            output.WriteLine($"{target}: working set over the last 6 s in [{min}, {max}] = [{(min / HotBytes) - 1:P2}, {(max / HotBytes) - 1:P2}] vs truth");
            Assert.True(min >= HotBytes * (1 - Tolerance) && max <= HotBytes * (1 + Tolerance),
                $"{target}: working set over 6 s in [{min}, {max}] bytes, truth {HotBytes} +-{Tolerance:P0}");
        }
    }

    [Fact]
    public async Task Idle_histogram_quantile_and_idle_time_gauge_agree_on_the_bucket()
    {
        await fx.WarmAsync();

        // Both queries at one evaluation time: they read the same scrape, hence the same summary.
        double at = await NowAsync();
        double fromBuckets = await fx.Promql.ScalarAsync($"histogram_quantile(0.5, damon_memory_idle_bytes{{{System}}})", at);
        double exact = await fx.Promql.ScalarAsync($"damon_memory_idle_time_seconds{{{System},quantile=\"0.5\"}}", at);
        IReadOnlyList<PromSample> buckets = await fx.Promql.QueryAsync($"damon_memory_idle_bytes{{{System}}}", at);
        double[] bounds = [.. buckets.Select(b => b["le"] == "+Inf" ? double.PositiveInfinity : double.Parse(b["le"], CultureInfo.InvariantCulture)).Order()];
        Assert.True(bounds.Length >= 3, $"idle buckets: {string.Join(", ", bounds)}");

        // Why "the same bucket" is the right tolerance, and a tight one:
        // * the agent's median is exact per byte: the idle time of the first region (by idle time)
        //   at which the cumulative bytes c reach c * 100 >= 50 * total;
        // * the bucket series are exact too: bytes idle at most `le`. So the exact median m lies in
        //   (le[i-1], le[i]] for the first i whose count reaches total / 2;
        // * histogram_quantile picks that very bucket (first count >= 0.5 * total; counts are
        //   integers so ">= total/2" and ">= ceil(total/2)" agree) and then interpolates linearly
        //   inside it, which assumes bytes spread evenly over (le[i-1], le[i]]. Real idle times are
        //   a few discrete region ages, so the interpolated value can be anywhere in the bucket.
        // Hence both are in the same (lower, upper] bucket, and nothing finer can be promised.
        // (First bucket le=0: Prometheus returns its bound 0, and m = 0 too.)
        (double lo, double hi) BucketOf(double v)
        {
            for (int i = 0; i < bounds.Length; i++)
            {
                if (v <= bounds[i])
                {
                    return (i == 0 ? double.NegativeInfinity : bounds[i - 1], bounds[i]);
                }
            }

            return (bounds[^1], double.PositiveInfinity);
        }

        // The +Inf bucket has no upper bound to interpolate to; Prometheus then answers the highest finite bound.
        Assert.True(exact <= bounds[^2], $"median idle time {exact} s is beyond the largest finite bucket {bounds[^2]}; the test needs a finite bucket");
        output.WriteLine($"median idle time: exact {exact} s, histogram_quantile {fromBuckets} s, bucket {BucketOf(exact)}");
        Assert.Equal(BucketOf(exact), BucketOf(fromBuckets));
        Assert.True(exact > 0, $"after warm-up most of physical memory is idle: median idle time {exact} s");
    }

    [Fact]
    public async Task Damos_counters_increase()
    {
        await fx.WarmAsync();
        await fx.Promql.WaitAsync(
            "increase(damos_scheme_tried_size_bytes_total{kdamond=\"system\",scheme=\"cold-pageout\"}[30s])",
            s => s.Value > 0,
            TimeSpan.FromSeconds(30),
            "pageout scheme tried bytes increase");
        await fx.Promql.WaitAsync(
            "increase(damos_scheme_tried_total{kdamond=\"system\",scheme=\"cold-pageout\",action=\"pageout\"}[30s])",
            s => s.Value > 0,
            TimeSpan.FromSeconds(30),
            "pageout scheme tried regions increase");
    }

    [Fact]
    public async Task Kdamonds_up_no_collection_errors_cpu_time_increasing()
    {
        await fx.WarmAsync();
        double at = await NowAsync();
        IReadOnlyList<PromSample> up = await fx.Promql.QueryAsync("damon_kdamond_up{kdamond=~\"steady|system\"}", at);
        Assert.Equal(["steady", "system"], up.Select(s => s["kdamond"]).Order());
        Assert.All(up, s => Assert.Equal(1, s.Value));

        // Every source has its error counter (created at 0 on first sight), none ever counted.
        IReadOnlyList<PromSample> errors = await fx.Promql.QueryAsync("damon_otel_collection_errors_total", at);
        Assert.Contains(errors, s => s["source"] == "kdamond/steady");
        Assert.Contains(errors, s => s["source"] == "kdamond/system");
        Assert.Contains(errors, s => s["source"] == "tracepoint");
        Assert.All(errors, s => Assert.True(s.Value == 0, "collection errors: " + Promql.Describe(s)));
        IReadOnlyList<PromSample> increase = await fx.Promql.QueryAsync("increase(damon_otel_collection_errors_total[30s])", at);
        Assert.All(increase, s => Assert.True(s.Value == 0, "collection errors increased: " + Promql.Describe(s)));

        await fx.Promql.WaitAsync("increase(damon_kdamond_cpu_time_seconds_total{kdamond=~\"steady|system\"}[30s])", s => s.Value > 0, TimeSpan.FromSeconds(30), "kdamond CPU time increases");
        Assert.Equal(2, (await fx.Promql.QueryAsync("increase(damon_kdamond_cpu_time_seconds_total{kdamond=~\"steady|system\"}[30s]) > 0")).Count);
    }

    [Fact]
    public async Task Working_set_histogram_counts_aggregations_and_its_p99_is_near_128_MiB()
    {
        await fx.WarmAsync();

        // The [30s] windows must not reach back into the first seconds, when paddr's adaptive
        // regions have not converged yet (its first tried_regions snapshots report ~1.6 GB):
        // evaluate 30 s after warm-up.
        double at = fx.WarmAt + 30;
        double wait = at + 1 - await NowAsync();
        if (wait > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(wait));
        }

        // steady's regions come from the tracepoint: one recording per aggregation interval
        // (100 ms), i.e. 10 per second of the real-time simulator. Once per collection (2 s) would
        // be 0.5/s, once per scrape 1/s; the band separates those while tolerating a busy machine.
        double perSecond = await fx.Promql.ScalarAsync($"rate(damon_memory_working_set_distribution_bytes_count{{{Steady}}}[30s])", at);
        output.WriteLine($"steady working-set histogram: {perSecond:F2} recordings/s");
        Assert.InRange(perSecond, 5, 15);

        // system's come from tried_regions: once per collection, every 2 s.
        Assert.True(await fx.Promql.ScalarAsync($"increase(damon_memory_working_set_distribution_bytes_count{{{System}}}[30s])", at) > 0);

        // The buckets are powers of two and 128 MiB is exactly one of the bounds, so a +-10 %
        // estimate of 128 MiB falls in (64 MiB, 128 MiB] or (128 MiB, 256 MiB]: the p99 must be in
        // one of the two buckets that meet at 128 MiB.
        foreach (string target in new[] { Steady, System })
        {
            double p99 = await fx.Promql.ScalarAsync($"histogram_quantile(0.99, rate(damon_memory_working_set_distribution_bytes_bucket{{{target}}}[30s]))", at);
            output.WriteLine($"{target}: p99 of the working-set histogram {p99:F0} bytes");
            Assert.True(p99 > 67_108_864 && p99 <= 268_435_456, $"{target}: p99 of the working-set histogram {p99} bytes is not in (64 MiB, 256 MiB]");
        }
    }

    // Prometheus runs on this machine: its clock is ours.
    private static Task<double> NowAsync() => Task.FromResult(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);
}
