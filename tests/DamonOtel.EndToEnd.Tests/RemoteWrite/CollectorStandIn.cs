using System.Globalization;
using System.Text;
using DamonOtel.EndToEnd.Tests.RemoteWrite.Proto;
using DamonOtel.OtlpReceiver;
using DamonOtel.OtlpReceiver.Proto.Collector;
using DamonOtel.OtlpReceiver.Proto.Common;
using DamonOtel.OtlpReceiver.Proto.Metrics;

namespace DamonOtel.EndToEnd.Tests.RemoteWrite;

/// <summary>
/// What the OpenTelemetry Collector's prometheusremotewrite exporter does with one OTLP export in
/// the pipeline of deploy/otel-collector/config.yaml (resource_to_telemetry_conversion on, metric
/// suffixes on, no namespace, no external labels), written here from the documented rules
/// (RemoteWrite/README.md lists them) for the metric kinds the agent sends: gauges, cumulative sums
/// and cumulative explicit-bucket histograms. Not the Collector: a stand-in that lets a test put
/// OTLP-shaped series into Debian's Prometheus, which has no OTLP receiver.
/// </summary>
internal static class CollectorStandIn
{
    /// <summary>Prometheus' staleness marker (a NaN with this bit pattern).</summary>
    private const ulong StaleNaNBits = 0x7ff0000000000002;

    /// <summary>OTLP DataPointFlags bit: the point has no value (the series ended).</summary>
    private const uint NoRecordedValue = 1;

    private static readonly Dictionary<string, string> Units = new(StringComparer.Ordinal)
    {
        ["d"] = "days", ["h"] = "hours", ["min"] = "minutes", ["s"] = "seconds", ["ms"] = "milliseconds",
        ["us"] = "microseconds", ["ns"] = "nanoseconds",
        ["By"] = "bytes", ["KiBy"] = "kibibytes", ["MiBy"] = "mebibytes", ["GiBy"] = "gibibytes", ["TiBy"] = "tibibytes",
        ["KBy"] = "kilobytes", ["MBy"] = "megabytes", ["GBy"] = "gigabytes", ["TBy"] = "terabytes",
        ["m"] = "meters", ["V"] = "volts", ["A"] = "amperes", ["J"] = "joules", ["W"] = "watts", ["g"] = "grams",
        ["Cel"] = "celsius", ["Hz"] = "hertz", ["%"] = "percent", ["$"] = "dollars", ["1"] = "",
    };

    private static readonly Dictionary<string, string> PerUnits = new(StringComparer.Ordinal)
    {
        ["s"] = "second", ["m"] = "minute", ["h"] = "hour", ["d"] = "day", ["w"] = "week", ["mo"] = "month", ["y"] = "year",
    };

    /// <summary>The remote-write series of one export, one sample each (the point's own time).</summary>
    public static List<TimeSeries> Translate(ExportMetricsServiceRequest request)
    {
        var series = new List<TimeSeries>();
        foreach (ResourceMetrics resource in request.ResourceMetrics)
        {
            long latestMs = 0;
            foreach (ScopeMetrics scope in resource.ScopeMetrics)
            {
                foreach (Metric metric in scope.Metrics)
                {
                    foreach (var (name, labels, value, timeMs) in Samples(metric))
                    {
                        Dictionary<string, string> all = Labels(resource.Resource?.Attributes ?? [], scope.Scope, labels);
                        series.Add(RemoteWriteClient.Series(name, all, value, timeMs));
                        latestMs = Math.Max(latestMs, timeMs);
                    }
                }
            }

            // target_info: the resource once more, as an info series (value 1) beside job and
            // instance, minus the three attributes those two are made of.
            if (latestMs > 0 && resource.Resource is { } r)
            {
                KeyValue[] info = [.. r.Attributes.Where(a => a.Key is not ("service.name" or "service.namespace" or "service.instance.id"))];
                Dictionary<string, string> labels = Sanitized(info);
                AddJobAndInstance(labels, r.Attributes);
                series.Add(RemoteWriteClient.Series("target_info", labels, 1, latestMs));
            }
        }

        return series;
    }

    /// <summary>
    /// The Prometheus name of an OTLP metric: the name's alphanumeric words joined by '_', then the
    /// unit's word (By → bytes, s → seconds; {annotations} and 1 add nothing) unless the name has it
    /// already, "per" + the per-unit after a '/', "total" last for monotonic sums, and "ratio" last for
    /// gauges whose unit is exactly 1.
    /// </summary>
    public static string MetricName(Metric metric)
    {
        List<string> words = Words(metric.Name);
        string[] unit = metric.Unit.Split('/', 2);
        string main = unit[0].Trim();
        if (main.Length > 0 && !main.Contains('{', StringComparison.Ordinal) && !main.Contains('}', StringComparison.Ordinal))
        {
            string word = string.Join('_', Words(Units.GetValueOrDefault(main, main)));
            if (word.Length > 0 && !words.Contains(word))
            {
                words.Add(word);
            }
        }

        if (unit.Length > 1 && unit[1].Trim() is { Length: > 0 } per && !per.Contains('{', StringComparison.Ordinal) && !per.Contains('}', StringComparison.Ordinal))
        {
            string word = string.Join('_', Words(PerUnits.GetValueOrDefault(per, per)));
            if (word.Length > 0 && !words.Contains(word))
            {
                words.Add("per");
                words.Add(word);
            }
        }

        if (metric.DataCase == Metric.DataOneofCase.Sum && metric.Sum.IsMonotonic)
        {
            words.RemoveAll(w => w == "total");
            words.Add("total");
        }

        if (metric.Unit == "1" && metric.DataCase == Metric.DataOneofCase.Gauge)
        {
            words.RemoveAll(w => w == "ratio");
            words.Add("ratio");
        }

        string name = string.Join('_', words);
        return name.Length > 0 && char.IsAsciiDigit(name[0]) ? "_" + name : name;
    }

    /// <summary>An attribute key as a label name: other characters than letters, digits and '_' become '_'; a leading digit or single '_' gets "key" in front.</summary>
    public static string LabelName(string key)
    {
        var sb = new StringBuilder(key.Length);
        foreach (char c in key)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        }

        string label = sb.ToString();
        return label switch
        {
            { Length: 0 } => label,
            _ when char.IsAsciiDigit(label[0]) => "key_" + label,
            _ when label[0] == '_' && !label.StartsWith("__", StringComparison.Ordinal) => "key" + label,
            _ => label,
        };
    }

    private static IEnumerable<(string Name, IEnumerable<KeyValue> Attributes, double Value, long TimeMs)> Samples(Metric metric)
    {
        string name = MetricName(metric);
        switch (metric.DataCase)
        {
            case Metric.DataOneofCase.Gauge:
                foreach (NumberDataPoint p in metric.Gauge.DataPoints)
                {
                    yield return (name, p.Attributes, Number(p), Ms(p.TimeUnixNano));
                }

                break;

            // Only cumulative sums and histograms are written; the exporter drops delta ones.
            case Metric.DataOneofCase.Sum when metric.Sum.AggregationTemporality == AggregationTemporality.Cumulative:
                foreach (NumberDataPoint p in metric.Sum.DataPoints)
                {
                    yield return (name, p.Attributes, Number(p), Ms(p.TimeUnixNano));
                }

                break;
            case Metric.DataOneofCase.Histogram when metric.Histogram.AggregationTemporality == AggregationTemporality.Cumulative:
                foreach (HistogramDataPoint p in metric.Histogram.DataPoints)
                {
                    long ms = Ms(p.TimeUnixNano);
                    bool stale = (p.Flags & NoRecordedValue) != 0;
                    double Value(double v) => stale ? BitConverter.UInt64BitsToDouble(StaleNaNBits) : v;
                    if (p.HasSum)
                    {
                        yield return (name + "_sum", p.Attributes, Value(p.Sum), ms);
                    }

                    yield return (name + "_count", p.Attributes, Value(p.Count), ms);

                    // OTLP counts per bucket, Prometheus counts everything up to le.
                    ulong cumulative = 0;
                    for (var i = 0; i < p.ExplicitBounds.Count && i < p.BucketCounts.Count; i++)
                    {
                        cumulative += p.BucketCounts[i];
                        yield return (name + "_bucket", p.Attributes.Append(Le(Bound(p.ExplicitBounds[i]))), Value(cumulative), ms);
                    }

                    yield return (name + "_bucket", p.Attributes.Append(Le("+Inf")), Value(p.Count), ms);
                }

                break;
            default:
                throw new NotSupportedException($"{metric.Name}: {metric.DataCase} is not a kind the agent sends; the stand-in does not translate it");
        }

        static KeyValue Le(string bound) => new() { Key = "le", Value = new AnyValue { StringValue = bound } };
    }

    private static Dictionary<string, string> Labels(IEnumerable<KeyValue> resource, InstrumentationScope? scope, IEnumerable<KeyValue> point)
    {
        // resource_to_telemetry_conversion: the resource's attributes are copied onto every point
        // first (a resource attribute replaces a point attribute of the same key).
        Dictionary<string, KeyValue> merged = point.ToDictionary(a => a.Key);
        foreach (KeyValue a in resource)
        {
            merged[a.Key] = a;
        }

        Dictionary<string, string> labels = Sanitized(merged.Values);
        AddJobAndInstance(labels, resource);
        if (scope is { Name.Length: > 0 })
        {
            labels["otel_scope_name"] = scope.Name;
        }

        if (scope is { Version.Length: > 0 })
        {
            labels["otel_scope_version"] = scope.Version;
        }

        return labels;
    }

    /// <summary>Keys sanitised in key order; two keys that sanitise alike share one label, values joined by ';'.</summary>
    private static Dictionary<string, string> Sanitized(IEnumerable<KeyValue> attributes)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (KeyValue a in attributes.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            string name = LabelName(a.Key);
            string value = OtlpRequestExtensions.Render(a.Value);
            labels[name] = labels.TryGetValue(name, out string? before) ? before + ";" + value : value;
        }

        // Prometheus treats an empty label value as no label at all.
        foreach (string empty in labels.Where(l => l.Value.Length == 0).Select(l => l.Key).ToList())
        {
            labels.Remove(empty);
        }

        return labels;
    }

    /// <summary>job = service.namespace/service.name (service.name alone without a namespace); instance = service.instance.id. Only when present.</summary>
    private static void AddJobAndInstance(Dictionary<string, string> labels, IEnumerable<KeyValue> resource)
    {
        Dictionary<string, string> r = resource.ToDictionary();
        if (r.TryGetValue("service.name", out string? service))
        {
            labels["job"] = r.TryGetValue("service.namespace", out string? ns) ? ns + "/" + service : service;
        }

        if (r.TryGetValue("service.instance.id", out string? instance))
        {
            labels["instance"] = instance;
        }
    }

    private static List<string> Words(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        foreach (char c in text)
        {
            if (char.IsLetterOrDigit(c))
            {
                word.Append(c);
            }
            else if (word.Length > 0)
            {
                words.Add(word.ToString());
                word.Clear();
            }
        }

        if (word.Length > 0)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    private static double Number(NumberDataPoint p)
    {
        if ((p.Flags & NoRecordedValue) != 0)
        {
            return BitConverter.UInt64BitsToDouble(StaleNaNBits);
        }

        return p.ValueCase switch
        {
            NumberDataPoint.ValueOneofCase.AsDouble => p.AsDouble,
            NumberDataPoint.ValueOneofCase.AsInt => p.AsInt,
            _ => throw new InvalidOperationException("number point without a value"),
        };
    }

    private static long Ms(ulong unixNano) => (long)(unixNano / 1_000_000);

    /// <summary>A bucket bound as the shortest decimal without an exponent (1048576, 0.5).</summary>
    private static string Bound(double bound)
    {
        string text = bound.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('E', StringComparison.Ordinal)
            ? throw new NotSupportedException($"bucket bound {text}: the stand-in writes bounds without an exponent only")
            : text;
    }
}
