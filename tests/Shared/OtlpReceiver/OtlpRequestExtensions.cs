using System.Globalization;
using DamonOtel.OtlpReceiver.Proto.Collector;
using DamonOtel.OtlpReceiver.Proto.Common;
using DamonOtel.OtlpReceiver.Proto.Metrics;

namespace DamonOtel.OtlpReceiver;

/// <summary>Lookup helpers over decoded OTLP requests, for readable assertions.</summary>
public static class OtlpRequestExtensions
{
    /// <summary>All metrics of all resources and scopes.</summary>
    public static IEnumerable<Metric> AllMetrics(this ExportMetricsServiceRequest request) =>
        request.ResourceMetrics.SelectMany(r => r.ScopeMetrics).SelectMany(s => s.Metrics);

    /// <summary>The single metric with this name (throws naming the metrics present otherwise).</summary>
    public static Metric Metric(this ExportMetricsServiceRequest request, string name)
    {
        var matches = request.AllMetrics().Where(m => m.Name == name).ToList();
        return matches.Count == 1
            ? matches[0]
            : throw new InvalidOperationException(
                $"expected exactly one metric '{name}', found {matches.Count}; present: {string.Join(", ", request.AllMetrics().Select(m => m.Name))}");
    }

    /// <summary>Attributes rendered as strings (string/bool/int/double values) keyed by name.</summary>
    public static Dictionary<string, string> ToDictionary(this IEnumerable<KeyValue> attributes) =>
        attributes.ToDictionary(kv => kv.Key, kv => Render(kv.Value));

    /// <summary>Renders an AnyValue for comparison: strings as-is, numbers invariant, bools lower-case.</summary>
    public static string Render(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString("R", CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.ArrayValue => "[" + string.Join(",", value.ArrayValue.Values.Select(Render)) + "]",
        null or AnyValue.ValueOneofCase.None => string.Empty,
        _ => value.ToString(),
    };

    /// <summary>Number data point whose attributes equal exactly <paramref name="attributes"/>.</summary>
    public static NumberDataPoint Point(this IEnumerable<NumberDataPoint> points, params (string Key, string Value)[] attributes) =>
        Single(points, p => p.Attributes, attributes);

    /// <summary>Histogram data point whose attributes equal exactly <paramref name="attributes"/>.</summary>
    public static HistogramDataPoint Point(this IEnumerable<HistogramDataPoint> points, params (string Key, string Value)[] attributes) =>
        Single(points, p => p.Attributes, attributes);

    private static T Single<T>(IEnumerable<T> points, Func<T, IEnumerable<KeyValue>> attrs, (string Key, string Value)[] wanted)
    {
        var want = wanted.ToDictionary(w => w.Key, w => w.Value);
        var list = points.ToList();
        var matches = list.Where(p =>
        {
            var have = attrs(p).ToDictionary();
            return have.Count == want.Count && want.All(w => have.TryGetValue(w.Key, out var v) && v == w.Value);
        }).ToList();
        return matches.Count == 1
            ? matches[0]
            : throw new InvalidOperationException(
                $"expected one point with {{{string.Join(",", wanted.Select(w => $"{w.Key}={w.Value}"))}}}, found {matches.Count} among: "
                + string.Join(" | ", list.Select(p => string.Join(",", attrs(p).Select(kv => $"{kv.Key}={Render(kv.Value)}")))));
    }
}
