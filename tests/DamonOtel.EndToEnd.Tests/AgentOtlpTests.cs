using DamonOtel.EndToEnd.Tests.Infrastructure;
using DamonOtel.OtlpReceiver;
using DamonOtel.OtlpReceiver.Proto.Collector;
using DamonOtel.OtlpReceiver.Proto.Metrics;
using Xunit.Abstractions;

namespace DamonOtel.EndToEnd.Tests;

/// <summary>
/// OTLP on the wire: the real agent process pushes to a receiver that decodes the
/// actual bytes (gRPC frames / HTTP bodies) with its own protobuf classes.
/// </summary>
public sealed class AgentOtlpTests(ITestOutputHelper output)
{
    // steady: 128 MiB = 134217728 bytes hot (see AgentWithPrometheusTests); +-10 % estimation error.
    private const double HotBytes = 134_217_728;
    private const double Tolerance = 0.10;

    private static readonly TimeSpan DataTimeout = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("grpc", OtlpTransport.Grpc)]
    [InlineData("http/protobuf", OtlpTransport.HttpProtobuf)]
    public async Task Agent_pushes_decodable_metrics_over_OTLP(string protocol, OtlpTransport transport)
    {
        await using OtlpTestReceiver receiver = await OtlpTestReceiver.StartAsync();
        await using AgentProcess agent = await AgentProcess.StartAsync(new Dictionary<string, string>
        {
            // Only the generic endpoint is set: that alone enables OTLP (OtlpSettings.Resolve); for
            // http/protobuf the agent appends /v1/metrics to it.
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = (transport == OtlpTransport.Grpc ? receiver.GrpcEndpoint : receiver.HttpBase).ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol,
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
            ["K8S_NODE_NAME"] = string.Empty, // not on Kubernetes
        });

        // Exports start before the first collection; wait for one carrying warmed-up data.
        (ReceivedExport first, ExportMetricsServiceRequest request) = await NextWithDataAsync(receiver, agent);
        Assert.Equal(transport, first.Transport);
        Assert.Equal(transport == OtlpTransport.Grpc ? OtlpTestReceiver.GrpcPath : OtlpTestReceiver.HttpPath, first.Path);

        // Resource.
        Assert.Single(request.ResourceMetrics);
        Dictionary<string, string> resource = request.ResourceMetrics[0].Resource.Attributes.ToDictionary();
        Assert.Equal("damon-otel", resource["service.name"]);
        Assert.Equal(typeof(Agent.Hosting.AgentHost).Assembly.GetName().Version!.ToString(3), resource["service.version"]);
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/hostname").Trim(), resource["host.name"]);
        Assert.Equal("linux", resource["os.type"]);
        // Off Kubernetes the instance is the host: a Collector's Prometheus exporters make it `instance`.
        Assert.Equal(resource["host.name"], resource["service.instance.id"]);
        Assert.False(resource.ContainsKey("k8s.node.name"));

        // The working-set gauge: unit By, one point per (kdamond, target).
        Metric wss = request.Metric("damon.memory.working_set");
        Assert.Equal("By", wss.Unit);
        Assert.Equal(Metric.DataOneofCase.Gauge, wss.DataCase);

        // DAMOS tried bytes: a monotonic cumulative Sum.
        Metric tried = request.Metric("damos.scheme.tried.size");
        Assert.Equal("By", tried.Unit);
        Assert.Equal(Metric.DataOneofCase.Sum, tried.DataCase);
        Assert.True(tried.Sum.IsMonotonic);
        Assert.Equal(AggregationTemporality.Cumulative, tried.Sum.AggregationTemporality);
        NumberDataPoint triedPoint = tried.Sum.DataPoints.Point(("kdamond", "system"), ("scheme", "cold-pageout"), ("action", "pageout"));
        Assert.True(Value(triedPoint) > 0);

        // The working-set distribution: an explicit-bucket Histogram, powers of two 1 MiB .. 1 TiB.
        Metric dist = request.Metric("damon.memory.working_set.distribution");
        Assert.Equal("By", dist.Unit);
        Assert.Equal(Metric.DataOneofCase.Histogram, dist.DataCase);
        Assert.Equal(AggregationTemporality.Cumulative, dist.Histogram.AggregationTemporality);
        HistogramDataPoint steadyHist = dist.Histogram.DataPoints.Point(("kdamond", "steady"), ("target", "steady"));
        double[] expectedBounds = [.. Enumerable.Range(20, 21).Select(p => (double)(1L << p))]; // 2^20 = 1 MiB ... 2^40 = 1 TiB
        Assert.Equal(expectedBounds, steadyHist.ExplicitBounds);
        Assert.Equal(expectedBounds.Length + 1, steadyHist.BucketCounts.Count);
        Assert.Equal(steadyHist.Count, steadyHist.BucketCounts.Aggregate(0UL, (a, b) => a + b));
        Assert.True(steadyHist.Count > 0);

        // Cumulative means: a later export counts on from the same start time, never down.
        ExportMetricsServiceRequest later = await NextAsync(receiver, agent);
        ExportMetricsServiceRequest third = await NextAsync(receiver, agent);

        // Near the truth: the gauge is one aggregation's estimate, so the median of three exports
        // is judged (a fresh-clone run once read 159 MB, +18.8 %, in a single export).
        foreach ((string kdamond, string target) in new[] { ("steady", "steady"), ("system", "memory") })
        {
            double[] v = [.. new[] { request, later, third }.Select(r => Value(r.Metric("damon.memory.working_set").Gauge.DataPoints.Point(("kdamond", kdamond), ("target", target))))];
            double median = v.Order().ElementAt(1);
            output.WriteLine($"{protocol}: damon.memory.working_set{{{kdamond}/{target}}} = {string.Join(", ", v)} (median {(median / HotBytes) - 1:P2} vs truth)");
            Assert.InRange(median, HotBytes * (1 - Tolerance), HotBytes * (1 + Tolerance));
        }

        NumberDataPoint triedLater = later.Metric("damos.scheme.tried.size").Sum.DataPoints.Point(("kdamond", "system"), ("scheme", "cold-pageout"), ("action", "pageout"));
        Assert.Equal(triedPoint.StartTimeUnixNano, triedLater.StartTimeUnixNano);
        Assert.True(Value(triedLater) >= Value(triedPoint));
        Assert.True(triedLater.TimeUnixNano > triedPoint.TimeUnixNano);
        HistogramDataPoint steadyLater = later.Metric("damon.memory.working_set.distribution").Histogram.DataPoints.Point(("kdamond", "steady"), ("target", "steady"));
        Assert.True(steadyLater.Count > steadyHist.Count, $"histogram count {steadyHist.Count} -> {steadyLater.Count}: recorded once per 100 ms aggregation, it must grow between 1 s exports");

        // The recordings between the two exports (both after warm-up; the cumulative counts also hold
        // the first aggregations, which overestimate before DAMON's regions split around the hot
        // set) are estimates of 128 MiB: (64 MiB, 128 MiB] is bucket index 7 (bounds[6] = 2^26,
        // bounds[7] = 2^27) and (128 MiB, 256 MiB] index 8; nearly all of them fall there.
        ulong[] delta = [.. steadyLater.BucketCounts.Zip(steadyHist.BucketCounts, (b, a) => b - a)];
        ulong recorded = steadyLater.Count - steadyHist.Count;
        ulong near = delta[7] + delta[8];
        output.WriteLine($"{protocol}: distribution count {steadyHist.Count} -> {steadyLater.Count}, of the {recorded} between the exports {near} in (64 MiB, 256 MiB]");
        Assert.Equal(recorded, delta.Aggregate(0UL, (a, b) => a + b));
        Assert.True(near >= recorded * 0.9, $"only {near} of {recorded} working-set recordings after warm-up are within (64 MiB, 256 MiB]");

        Assert.Empty(receiver.Errors);
        Assert.Equal(0, await agent.TerminateAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task On_kubernetes_the_resource_names_the_node_as_the_service_instance()
    {
        await using OtlpTestReceiver receiver = await OtlpTestReceiver.StartAsync();
        await using AgentProcess agent = await AgentProcess.StartAsync(new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.HttpBase.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
            // What the DaemonSet's downward API sets (deploy/kubernetes/daemonset.yaml).
            ["K8S_NODE_NAME"] = "worker-7.example",
        });

        ExportMetricsServiceRequest request = await NextAsync(receiver, agent);
        Dictionary<string, string> resource = Assert.Single(request.ResourceMetrics).Resource.Attributes.ToDictionary();
        Assert.Equal("worker-7.example", resource["service.instance.id"]);
        Assert.Equal("worker-7.example", resource["k8s.node.name"]);
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/hostname").Trim(), resource["host.name"]);
        Assert.Equal("damon-otel", resource["service.name"]);
        Assert.Equal(typeof(Agent.Hosting.AgentHost).Assembly.GetName().Version!.ToString(3), resource["service.version"]);
    }

    [Fact]
    public async Task Sigterm_flushes_a_final_export()
    {
        await using OtlpTestReceiver receiver = await OtlpTestReceiver.StartAsync();

        // A 10-minute export interval: no periodic export can happen during this test, so
        // whatever arrives was sent by the shutdown flush.
        await using AgentProcess agent = await AgentProcess.StartAsync(new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.GrpcEndpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "600000",
        });

        // Wait until the agent has a warm working set of both kdamonds (seen on its own /metrics):
        // both present, and the steady one converged to the hot set on two reads in a row. The
        // first aggregations, before DAMON's regions have split around the hot set, overestimate it;
        // stopping then would test the simulator's warm-up, not the flush.
        using var http = new HttpClient { BaseAddress = agent.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
        DateTime deadline = DateTime.UtcNow + DataTimeout;
        var converged = 0;
        while (converged < 2)
        {
            string text = await http.GetStringAsync("metrics");
            double? steady = WorkingSetOnMetrics(text, "steady", "steady");
            converged = steady is { } w && WorkingSetOnMetrics(text, "system", "memory") is not null
                && w >= HotBytes * (1 - Tolerance) && w <= HotBytes * (1 + Tolerance) ? converged + 1 : 0;
            Assert.True(DateTime.UtcNow < deadline, $"no warm working set on /metrics (steady: {steady}):\n" + agent.Log);
            await Task.Delay(300);
        }

        Assert.Empty(receiver.All);
        Assert.Equal(0, await agent.TerminateAsync(TimeSpan.FromSeconds(10)));

        // The flush happened before the process exited: the export is already here. (The agent
        // sends two: its explicit ForceFlush, then the reader's own export when the MeterProvider
        // is disposed; the last one is the final state.)
        Assert.NotEmpty(receiver.All);
        ReceivedExport final = receiver.All[^1];
        Assert.Empty(receiver.Errors);
        Metric wss = final.Request.Metric("damon.memory.working_set");
        double v = Value(wss.Gauge.DataPoints.Point(("kdamond", "steady"), ("target", "steady")));
        output.WriteLine($"{receiver.All.Count} export(s) after SIGTERM; last: {final.WireBytes} bytes, steady working set {v}");
        Assert.InRange(v, HotBytes * (1 - Tolerance), HotBytes * (1 + Tolerance));
    }

    private static double? WorkingSetOnMetrics(string text, string kdamond, string target)
    {
        string series = $"kdamond=\"{kdamond}\",target=\"{target}\"}} ";
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith("damon_memory_working_set_bytes{", StringComparison.Ordinal) && line.Contains(series, StringComparison.Ordinal))
            {
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    private static double Value(NumberDataPoint p) => p.ValueCase switch
    {
        NumberDataPoint.ValueOneofCase.AsInt => p.AsInt,
        NumberDataPoint.ValueOneofCase.AsDouble => p.AsDouble,
        _ => throw new InvalidOperationException("number point without a value"),
    };

    private static async Task<ExportMetricsServiceRequest> NextAsync(OtlpTestReceiver receiver, AgentProcess agent)
    {
        Assert.False(agent.HasExited, "agent exited:\n" + agent.Log);
        return (await receiver.NextAsync(TimeSpan.FromSeconds(30))).Request;
    }

    /// <summary>
    /// The first export in which both targets report a working set, the pageout scheme has been
    /// tried (it needs memory idle for 5 s), and the steady kdamond has recorded at least 50
    /// aggregations: DAMON's regions need 10-25 to split around the hot set, and on a loaded
    /// machine the 5 s of the scheme can pass with fewer.
    /// </summary>
    private async Task<(ReceivedExport Export, ExportMetricsServiceRequest Request)> NextWithDataAsync(OtlpTestReceiver receiver, AgentProcess agent)
    {
        DateTime deadline = DateTime.UtcNow + DataTimeout;
        int seen = 0;
        while (true)
        {
            Assert.False(agent.HasExited, "agent exited:\n" + agent.Log);
            ReceivedExport e = await receiver.NextAsync(TimeSpan.FromSeconds(30));
            seen++;
            ExportMetricsServiceRequest r = e.Request;
            if (Ready(r))
            {
                output.WriteLine($"export #{seen} ({e.WireBytes} bytes on the wire) carries warmed-up data");
                return (e, r);
            }

            Assert.True(DateTime.UtcNow < deadline, $"no export with warmed-up data among {seen}; errors: {string.Join("; ", receiver.Errors)}\n{agent.Log}");
        }

        static bool Ready(ExportMetricsServiceRequest r)
        {
            List<Metric> all = [.. r.AllMetrics()];
            Metric? wss = all.FirstOrDefault(m => m.Name == "damon.memory.working_set");
            Metric? tried = all.FirstOrDefault(m => m.Name == "damos.scheme.tried.size");
            if (wss is null || tried is null || !all.Any(m => m.Name == "damon.memory.working_set.distribution"))
            {
                return false;
            }

            // Not the values themselves (the test asserts those): only that both targets report.
            bool Has(string k, string t) => wss.Gauge.DataPoints.Any(p =>
                p.Attributes.ToDictionary() is var a && a.GetValueOrDefault("kdamond") == k && a.GetValueOrDefault("target") == t);
            Metric dist = all.First(m => m.Name == "damon.memory.working_set.distribution");
            return Has("steady", "steady") && Has("system", "memory") &&
                   tried.Sum.DataPoints.Any(p => p.Attributes.ToDictionary().GetValueOrDefault("scheme") == "cold-pageout" && Value(p) > 0) &&
                   dist.Histogram.DataPoints.Any(p => p.Attributes.ToDictionary().GetValueOrDefault("kdamond") == "steady" && p.Count >= 50);
        }
    }
}
