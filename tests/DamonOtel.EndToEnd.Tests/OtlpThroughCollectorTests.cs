using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using DamonOtel.EndToEnd.Tests.Infrastructure;
using DamonOtel.EndToEnd.Tests.RemoteWrite;
using DamonOtel.EndToEnd.Tests.RemoteWrite.Proto;
using DamonOtel.OtlpReceiver;
using DamonOtel.OtlpReceiver.Proto.Collector;
using DamonOtel.OtlpReceiver.Proto.Common;
using DamonOtel.OtlpReceiver.Proto.Metrics;
using DamonOtel.Telemetry.Catalog;
using DamonOtel.Telemetry.Tests.Infrastructure;
using Xunit.Abstractions;

namespace DamonOtel.EndToEnd.Tests;

/// <summary>
/// The real agent (`run --simulate steady`) pushing OTLP/HTTP protobuf as it would on a Kubernetes
/// node (K8S_NODE_NAME set by the DaemonSet), once: <see cref="Exports"/> are the exports of a
/// converged working set, decoded from the wire by the test receiver.
/// </summary>
public sealed class SteadyOtlpExportsFixture : IAsyncLifetime
{
    public const string Node = "worker-7.example";

    /// <summary>The steady workload's hot set: 128 MiB.</summary>
    public const double HotBytes = 134_217_728;

    internal List<ExportMetricsServiceRequest> Exports { get; } = [];

    public async Task InitializeAsync()
    {
        await using OtlpTestReceiver receiver = await OtlpTestReceiver.StartAsync();
        await using AgentProcess agent = await AgentProcess.StartAsync(new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.HttpBase.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
            ["K8S_NODE_NAME"] = Node,
        });

        // The alert extrapolates the working set's trend 4 h ahead (predict_linear over 1 h). Over
        // the few seconds a test can wait that multiplies the estimate's jitter between two
        // aggregations by thousands, so the test forwards a stretch in which the estimate holds
        // still: two consecutive exports with the same, non-zero working set for both targets, the
        // steady one near its 128 MiB (a Collector forwards every export; over a real hour the
        // jitter averages out).
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        ExportMetricsServiceRequest? previous = null;
        var seen = 0;
        while (true)
        {
            if (agent.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"no two consecutive exports with the same working sets among {seen} in 90 s (errors: {string.Join("; ", receiver.Errors)}):\n{agent.Log}");
            }

            ExportMetricsServiceRequest export = (await receiver.NextAsync(TimeSpan.FromSeconds(30))).Request;
            seen++;
            if (previous is not null && Still(previous, export))
            {
                Exports.Add(previous);
                Exports.Add(export);
                break;
            }

            previous = export;
        }

        if (receiver.Errors.Count > 0)
        {
            throw new InvalidOperationException("the OTLP receiver reported errors: " + string.Join("; ", receiver.Errors));
        }

        int? code = await agent.TerminateAsync(TimeSpan.FromSeconds(10));
        if (code != 0)
        {
            throw new InvalidOperationException($"damon-otel did not exit with 0 within 10 s of SIGTERM (exit {code}):\n{agent.Log}");
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    internal static double? SteadyWorkingSet(ExportMetricsServiceRequest? export) => WorkingSet(export, "steady", "steady");

    private static double? WorkingSet(ExportMetricsServiceRequest? export, string kdamond, string target) =>
        export?.AllMetrics().FirstOrDefault(m => m.Name == "damon.memory.working_set")?.Gauge.DataPoints
            .FirstOrDefault(p => p.Attributes.ToDictionary() is var a && a.GetValueOrDefault("kdamond") == kdamond && a.GetValueOrDefault("target") == target)
            switch
            {
                null => null,
                { ValueCase: NumberDataPoint.ValueOneofCase.AsInt } p => p.AsInt,
                var p => p.AsDouble,
            };

    private static bool Still(ExportMetricsServiceRequest before, ExportMetricsServiceRequest after) =>
        SteadyWorkingSet(after) is { } steady && Math.Abs(steady - HotBytes) <= HotBytes * 0.1 && steady == SteadyWorkingSet(before) &&
        WorkingSet(after, "system", "memory") is > 0 and var system && system == WorkingSet(before, "system", "memory");
}

/// <summary>
/// Agent → OTLP → Collector → Prometheus remote write → the shipped rules. Debian's Prometheus 2.42
/// has no OTLP receiver, so <see cref="CollectorStandIn"/> does the Collector's part
/// (deploy/otel-collector/config.yaml: prometheusremotewrite with resource_to_telemetry_conversion)
/// and <see cref="RemoteWriteClient"/> sends the result with the real remote-write protocol to a
/// real `prometheus --web.enable-remote-write-receiver` that has config/prometheus/damon-otel-rules.yml
/// loaded.
/// </summary>
public sealed class OtlpThroughCollectorTests(SteadyOtlpExportsFixture fx, ITestOutputHelper output) : IClassFixture<SteadyOtlpExportsFixture>
{
    private const string Node = SteadyOtlpExportsFixture.Node;
    private const string Alert = "DamonWorkingSetNearMemoryLimit";

    /// <summary>A memory limit the steady target's 128 MiB working set is above (by more than the rules' 0.9).</summary>
    private const double MemoryLimit = 64 * 1024 * 1024;

    [Fact]
    public async Task Shipped_memory_limit_alert_joins_OTLP_series_on_the_node_as_instance()
    {
        await using PrometheusServer prometheus = await PrometheusServer.StartAsync(
            scrapeConfigs: string.Empty,
            scrapeInterval: TimeSpan.FromSeconds(1),
            ruleFiles: [RepoRoot.Of("config/prometheus/damon-otel-rules.yml")],
            extraArguments: ["--web.enable-remote-write-receiver"]);
        using var remoteWrite = new RemoteWriteClient(prometheus.BaseAddress);
        using var promql = new Promql(prometheus);

        // What the Collector writes for every export, in order; beside it the same export with
        // service.instance.id removed from the resource (so without `instance`): that copy must not
        // join.
        foreach (ExportMetricsServiceRequest export in fx.Exports)
        {
            await WriteAsync(remoteWrite, prometheus, CollectorStandIn.Translate(export));
            await WriteAsync(remoteWrite, prometheus, CollectorStandIn.Translate(WithoutResourceAttribute(export, "service.instance.id")));
        }

        // The join partner. In a user's setup damon_otel:target_memory_limit_bytes is recorded from
        // scraped cAdvisor data relabelled to {instance, kdamond, target} (the rules file's header):
        // whatever produces it, the join sees a series with the node name as `instance`, so the test
        // writes that series itself, through the same remote-write endpoint. The system/memory
        // target gets a limit too, but under another node's name: it must not join.
        long nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await WriteAsync(remoteWrite, prometheus,
        [
            RemoteWriteClient.Series("damon_otel:target_memory_limit_bytes", new Dictionary<string, string> { ["instance"] = Node, ["kdamond"] = "steady", ["target"] = "steady" }, MemoryLimit, nowMs),
            RemoteWriteClient.Series("damon_otel:target_memory_limit_bytes", new Dictionary<string, string> { ["instance"] = "worker-8.example", ["kdamond"] = "system", ["target"] = "memory" }, MemoryLimit, nowMs),
        ]);

        // The series as the Collector delivers them: the rules' name, job from service.name,
        // instance from service.instance.id, resource attributes as labels.
        string rulesText = File.ReadAllText(RepoRoot.Of("config/prometheus/damon-otel-rules.yml"));
        Assert.Contains("predict_linear(damon_memory_working_set_bytes[1h]", rulesText, StringComparison.Ordinal);
        PromSample wss = Assert.Single(await promql.QueryAsync($"damon_memory_working_set_bytes{{instance=\"{Node}\",kdamond=\"steady\",target=\"steady\"}}"));
        string hostName = File.ReadAllText("/proc/sys/kernel/hostname").Trim();
        Assert.Equal("damon-otel", wss["job"]);
        Assert.Equal(Node, wss["service_instance_id"]);
        Assert.Equal(Node, wss["k8s_node_name"]);
        Assert.Equal(hostName, wss["host_name"]);
        Assert.Equal("damon-otel", wss["service_name"]);
        Assert.Equal(typeof(Agent.Hosting.AgentHost).Assembly.GetName().Version!.ToString(3), wss["service_version"]);
        Assert.Equal(SteadyOtlpExportsFixture.SteadyWorkingSet(fx.Exports[^1]), wss.Value);
        Assert.Contains("damos_scheme_tried_size_bytes_total", rulesText, StringComparison.Ordinal);
        Assert.NotEmpty(await promql.QueryAsync($"damos_scheme_tried_size_bytes_total{{instance=\"{Node}\",kdamond=\"system\"}}"));

        // The two that must not join: system/memory (its limit carries another node's name) and the
        // copy without `instance`. Both would alert if they joined: their predicted working set is
        // above the threshold too.
        double threshold = MemoryLimit * 0.9;
        Assert.Single(await promql.QueryAsync($"predict_linear(damon_memory_working_set_bytes{{instance=\"{Node}\",kdamond=\"system\",target=\"memory\"}}[1h], 4 * 3600) > {threshold.ToString(CultureInfo.InvariantCulture)}"));
        Assert.Single(await promql.QueryAsync($"predict_linear(damon_memory_working_set_bytes{{job=\"damon-otel\",instance=\"\",kdamond=\"steady\",target=\"steady\"}}[1h], 4 * 3600) > {threshold.ToString(CultureInfo.InvariantCulture)}"));

        // The shipped alert, evaluated by Prometheus' rule manager every second. `for: 15m` keeps it
        // pending for this test's lifetime; pending alerts carry their labels and rendered annotations.
        await promql.WaitAsync($"ALERTS{{alertname=\"{Alert}\"}}", _ => true, TimeSpan.FromSeconds(30), $"{Alert} active");
        JsonElement[] alerts = [.. (await prometheus.GetDataAsync("api/v1/alerts")).GetProperty("alerts").EnumerateArray()
            .Where(a => a.GetProperty("labels").GetProperty("alertname").GetString() == Alert)];
        output.WriteLine($"{Alert}: {string.Join(" | ", alerts.Select(a => a.ToString()))}");
        JsonElement alert = Assert.Single(alerts);
        JsonElement labels = alert.GetProperty("labels");
        Assert.Equal(Node, labels.GetProperty("instance").GetString());
        Assert.Equal("steady", labels.GetProperty("kdamond").GetString());
        Assert.Equal("steady", labels.GetProperty("target").GetString());
        Assert.Equal("damon-otel", labels.GetProperty("job").GetString());
        Assert.Equal("critical", labels.GetProperty("severity").GetString());
        Assert.Equal("pending", alert.GetProperty("state").GetString());
        Assert.Equal($"Working set of steady on {Node} approaches its memory limit within 4h", alert.GetProperty("annotations").GetProperty("summary").GetString());
        Assert.Contains($"(kdamond steady) on {Node} reaches", alert.GetProperty("annotations").GetProperty("description").GetString(), StringComparison.Ordinal);

        // The rule as Prometheus loaded it, healthy, and its expression run as a query: the same one element.
        JsonElement rule = (await prometheus.GetDataAsync("api/v1/rules")).GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .Single(r => r.GetProperty("name").GetString() == Alert);
        Assert.Equal("ok", rule.GetProperty("health").GetString());
        PromSample joined = Assert.Single(await promql.QueryAsync(rule.GetProperty("query").GetString()!));
        Assert.Equal(Node, joined["instance"]);
        Assert.Equal("steady", joined["target"]);
    }

    /// <summary>
    /// The names a Collector gives the agent's metrics against the names the agent serves on
    /// /metrics (docs/metrics.md, the names the rules and dashboards use): every one the same, so
    /// one set of rules and dashboards serves both paths. The Collector appends _ratio to gauges
    /// whose unit is 1 and /metrics does not, so a unit-1 gauge must have "ratio" as its last word
    /// already (docs/operations.md).
    /// </summary>
    [Fact]
    public void Collector_names_equal_the_metrics_endpoint_names()
    {
        Dictionary<string, string> documented = DocumentedNames();
        var differing = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var compared = new SortedSet<string>(StringComparer.Ordinal);
        foreach (Metric metric in fx.Exports[^1].AllMetrics())
        {
            string collector = CollectorStandIn.MetricName(metric);
            Assert.True(documented.TryGetValue(metric.Name, out string? documentedName), $"{metric.Name} is not in docs/metrics.md");
            compared.Add(metric.Name);
            if (collector != documentedName)
            {
                differing[metric.Name] = $"/metrics {documentedName}, Collector {collector}";
            }
        }

        output.WriteLine($"{compared.Count} metrics compared: {string.Join(", ", compared)}");

        // The unit-1 gauges and the states the rules alert on must be among them, or the comparison
        // misses the very class of divergence it is about.
        Assert.True(compared.Count >= 30, $"only {compared.Count} metrics in the export");
        Assert.Superset(new SortedSet<string>(StringComparer.Ordinal) { "damon.cgroup.memory.purity_ratio", "damon.kdamond.up", "damon.memory.access_ratio", "damon.memory.temperature", "damon_otel.build.info", "damon_otel.source.up" }, compared);
        Assert.True(differing.Count == 0, "names differ between /metrics and the Collector:\n" + string.Join("\n", differing.Select(d => $"{d.Key}: {d.Value}")));
    }

    /// <summary>
    /// The same for every metric of the catalog, also those the steady simulation does not export
    /// (per-cgroup, DAMOS, DAMON_STAT, the heatmap): the catalog entry as the SDK puts it on the
    /// wire (name, unit, gauge / monotonic sum / histogram) through the Collector's rules, against
    /// the name of docs/metrics.md.
    /// </summary>
    [Fact]
    public void Collector_names_equal_the_metrics_endpoint_names_for_the_whole_catalog()
    {
        Dictionary<string, string> documented = DocumentedNames();
        Assert.Equal(MetricCatalog.All.Count, documented.Count);
        var differing = new List<string>();
        foreach (MetricDefinition d in MetricCatalog.All)
        {
            var metric = new Metric { Name = d.Name, Unit = d.Unit ?? string.Empty };
            switch (d.Kind)
            {
                case MetricKind.Gauge:
                    metric.Gauge = new Gauge();
                    break;
                case MetricKind.Histogram:
                    metric.Histogram = new Histogram { AggregationTemporality = AggregationTemporality.Cumulative };
                    break;
                default:
                    metric.Sum = new Sum { AggregationTemporality = AggregationTemporality.Cumulative, IsMonotonic = d.Kind is MetricKind.ObservableCounter or MetricKind.Counter };
                    break;
            }

            string collector = CollectorStandIn.MetricName(metric);
            if (collector != documented[d.Name])
            {
                differing.Add($"{d.Name} (unit '{d.Unit}'): /metrics {documented[d.Name]}, Collector {collector}");
            }
        }

        Assert.True(differing.Count == 0, "names differ between /metrics and the Collector:\n" + string.Join("\n", differing));
    }

    /// <summary>OTel name → Prometheus name from the table of docs/metrics.md.</summary>
    private static Dictionary<string, string> DocumentedNames()
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(File.ReadAllText(RepoRoot.Of("docs/metrics.md")), @"^\| `([^`]+)` \| `([^`]+)` \|", RegexOptions.Multiline))
        {
            // Counters are listed with _total, as the Collector names them too.
            names[m.Groups[1].Value] = m.Groups[2].Value;
        }

        return names;
    }

    private static ExportMetricsServiceRequest WithoutResourceAttribute(ExportMetricsServiceRequest export, string key)
    {
        ExportMetricsServiceRequest copy = export.Clone();
        foreach (ResourceMetrics r in copy.ResourceMetrics)
        {
            KeyValue[] keep = [.. r.Resource.Attributes.Where(a => a.Key != key)];
            r.Resource.Attributes.Clear();
            r.Resource.Attributes.AddRange(keep);
        }

        return copy;
    }

    private static async Task WriteAsync(RemoteWriteClient client, PrometheusServer prometheus, IReadOnlyCollection<TimeSeries> series)
    {
        (HttpStatusCode status, string body) = await client.SendAsync(series);
        Assert.True(status == HttpStatusCode.NoContent, $"remote write of {series.Count} series: HTTP {(int)status} {body}\n{prometheus.Log}");
    }
}
