using System.Net;
using System.Net.Sockets;
using System.Text;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Prometheus;
using DamonOtel.Telemetry.Tests.Infrastructure;
using OpenTelemetry.Metrics;

namespace DamonOtel.Telemetry.Tests;

/// <summary>
/// Our exposition against the official OpenTelemetry Prometheus exporter over the same instruments
/// (docs/architecture.md, "Prometheus exposition"): we keep our own exporter, but metric names and
/// label keys must stay those the official one derives, so an upstream naming change is noticed here.
/// </summary>
public sealed class PrometheusDriftTests
{
    [Fact]
    public async Task Official_exporter_gives_the_same_metric_names_and_label_keys()
    {
        var time = new FakeTimeProvider();
        var store = new ObservationStore(time);
        var port = FreePort();
        using var pipeline = TelemetryPipeline.Build(
            store,
            new TelemetryPipelineOptions
            {
                ProcfsRoot = Fixtures.ProcRoot(),
                UseEnvironment = false,
                ScrapeCacheDuration = TimeSpan.Zero,
                MeterName = "DamonOtel.DriftTest", // apart from the golden tests' meter
                ProcessUsage = () => new(1.25, 0.5, 50_331_648),
                BuildInfo = new("0.1.0", "0123456789ab", "dotnet10.0.0"),
            },
            builder => builder.AddPrometheusHttpListener(o =>
            {
                o.Host = "127.0.0.1";
                o.Port = port;
                o.ScrapeResponseCacheDurationMilliseconds = 0;
            }));

        store.Publish(Fixtures.Web(store, sequence: 1, wss: 268_435_456));
        store.RecordCollection("kdamond/web", TimeSpan.FromMilliseconds(2.5), null);
        store.Publish(Fixtures.Stat(store));
        store.RecordCollection("module/damon_stat", TimeSpan.FromMilliseconds(30), new IOException("EBUSY"));
        time.Advance(TimeSpan.FromSeconds(4));
        store.Publish(Fixtures.Web(store, sequence: 2, wss: 536_870_912));
        store.RecordCollection("kdamond/web", TimeSpan.FromMilliseconds(7.5), null);

        var ours = Families(Encoding.UTF8.GetString((await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false)).Body));
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Accept.ParseAdd("text/plain; version=0.0.4");
        var official = Families(await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics")));

        // Sanity: both saw the whole catalog (a silent empty scrape would make the comparison vacuous).
        Assert.Contains("damon_memory_working_set_bytes", ours.Keys);
        Assert.Contains("damon_otel_build_info", ours.Keys);
        Assert.True(ours.Count >= 20, $"only {ours.Count} families in our exposition");

        var report = new StringBuilder();
        foreach (var name in ours.Keys.Union(official.Keys).Order(StringComparer.Ordinal))
        {
            ours.TryGetValue(name, out var a);
            official.TryGetValue(name, out var b);
            if (a is null || b is null || !a.SetEquals(b))
            {
                report.Append(name).Append(": ours {").Append(Keys(a)).Append("} official {").Append(Keys(b)).AppendLine("}");
            }
        }
        Assert.True(report.Length == 0, "our exposition and the official exporter's drifted apart:\n" + report);
    }

    private static string Keys(HashSet<string>? keys) => keys is null ? "<absent>" : string.Join(',', keys.Order(StringComparer.Ordinal));

    /// <summary>Family name (histogram/summary suffixes folded) to the label keys seen on its samples.</summary>
    internal static Dictionary<string, HashSet<string>> Families(string exposition)
    {
        var families = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var line in exposition.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var name = brace >= 0 && brace < space ? line[..brace] : line[..space];
            // Resource/scope bookkeeping each exporter renders its own way; not part of our catalog.
            if (name is "target_info" or "otel_scope_info" || name.EndsWith("_created", StringComparison.Ordinal))
            {
                continue;
            }
            var keys = families.TryGetValue(name, out var k) ? k : families[name] = new HashSet<string>(StringComparer.Ordinal);
            if (brace >= 0 && brace < space)
            {
                var labels = line[(brace + 1)..line.LastIndexOf('}')];
                foreach (var pair in SplitLabels(labels))
                {
                    var key = pair[..pair.IndexOf('=', StringComparison.Ordinal)];
                    if (!key.StartsWith("otel_scope_", StringComparison.Ordinal))
                    {
                        keys.Add(key);
                    }
                }
            }
        }
        return families;
    }

    private static IEnumerable<string> SplitLabels(string labels)
    {
        var start = 0;
        var quoted = false;
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] == '\\')
            {
                i++;
            }
            else if (labels[i] == '"')
            {
                quoted = !quoted;
            }
            else if (labels[i] == ',' && !quoted)
            {
                yield return labels[start..i];
                start = i + 1;
            }
        }
        if (start < labels.Length)
        {
            yield return labels[start..];
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
