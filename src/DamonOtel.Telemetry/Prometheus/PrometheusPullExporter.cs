using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace DamonOtel.Telemetry.Prometheus;

/// <summary>
/// Pull-only exporter: <see cref="IPullMetricExporter.Collect"/> (set by the
/// BaseExportingMetricReader) triggers an Export, which copies the batch into an immutable
/// <see cref="ScrapeData"/> published through a volatile field.
/// </summary>
[ExportModes(ExportModes.Pull)]
internal sealed class PrometheusPullExporter : BaseExporter<Metric>, IPullMetricExporter
{
    private readonly ConditionalWeakTable<Metric, MetricInfo> _infos = [];
    private readonly TimeProvider _time;
    private volatile ScrapeData? _latest;
    private string? _targetInfo;
    private bool _targetInfoResolved;

    public PrometheusPullExporter(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
    }

    public Func<int, bool>? Collect { get; set; }

    /// <summary>The data of the last Export, or null before the first collection.</summary>
    public ScrapeData? Latest => _latest;

    public override ExportResult Export(in Batch<Metric> batch)
    {
        var families = new Dictionary<string, (PrometheusNames Names, PrometheusType Type, string Help, List<(string SortKey, double SortNum, PointData Point)> Points, bool Conflict)>(StringComparer.Ordinal);
        foreach (var metric in batch)
        {
            if (metric.MetricType == MetricType.ExponentialHistogram)
            {
                // Not representable in the text formats; views map our histograms to explicit buckets.
                continue;
            }

            var info = _infos.GetValue(metric, m => new MetricInfo(m));
            var points = new List<(string, double, PointData)>();
            var hasReservedLabel = false;
            foreach (ref readonly var p in metric.GetMetricPoints())
            {
                points.Add(Copy(metric, info, in p, ref hasReservedLabel));
            }

            if (points.Count == 0)
            {
                continue;
            }

            var type = info.Type == PrometheusType.Gauge && (hasReservedLabel || PrometheusNaming.HasReservedSuffix(info.Names.Family))
                ? PrometheusType.Unknown
                : info.Type;
            if (families.TryGetValue(info.Names.Family, out var existing))
            {
                // The spec: same family name with different types → drop the family.
                existing.Conflict |= existing.Type != type;
                existing.Points.AddRange(points);
                families[info.Names.Family] = existing;
            }
            else
            {
                families[info.Names.Family] = (info.Names, type, info.Help, points, false);
            }
        }

        var result = families.Values
            .Where(f => !f.Conflict)
            .OrderBy(f => f.Names.Family, StringComparer.Ordinal)
            .Select(f => new FamilyData(f.Names, f.Type, f.Help,
                [.. f.Points.OrderBy(p => p.SortKey, StringComparer.Ordinal).ThenBy(p => p.SortNum).Select(p => p.Point)]))
            .ToArray();
        _latest = new ScrapeData(TargetInfo(), result, _time.GetTimestamp());
        return ExportResult.Success;
    }

    private string? TargetInfo()
    {
        if (!_targetInfoResolved)
        {
            var resource = ParentProvider?.GetResource() ?? Resource.Empty;
            var labels = RenderLabels("", resource.Attributes.Select(a => new KeyValuePair<string, object?>(a.Key, a.Value)));
            _targetInfo = labels.Length == 0 ? null : labels;
            _targetInfoResolved = true;
        }

        return _targetInfo;
    }

    private static (string SortKey, double SortNum, PointData Point) Copy(Metric metric, MetricInfo info, in MetricPoint p, ref bool hasReservedLabel)
    {
        var tags = new List<KeyValuePair<string, object?>>(p.Tags.Count);
        string? ordinalLabel = null;
        foreach (var t in p.Tags)
        {
            if (info.Type == PrometheusType.Histogram && t.Key == "le")
            {
                continue; // reserved for the bucket bound
            }

            if (t.Key is "le" or "quantile")
            {
                hasReservedLabel = true;
                ordinalLabel = ValueString(t.Value);
            }

            tags.Add(t);
        }

        var labels = RenderLabels(info.ScopeLabels, tags);
        var sortKey = labels;
        var sortNum = 0.0;
        if (ordinalLabel is not null)
        {
            // Order le/quantile numerically within a series group, not lexically.
            tags.RemoveAll(t => t.Key is "le" or "quantile");
            sortKey = RenderLabels(info.ScopeLabels, tags);
            var canonical = PrometheusNumbers.CanonicalizeLabel(ordinalLabel);
            sortNum = canonical == "+Inf" ? double.PositiveInfinity
                : double.TryParse(canonical, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0;
        }

        PointData data;
        switch (metric.MetricType)
        {
            case MetricType.LongSum:
            case MetricType.LongSumNonMonotonic:
                data = new PointData(labels, true, p.GetSumLong(), 0, null, 0, 0);
                break;
            case MetricType.DoubleSum:
            case MetricType.DoubleSumNonMonotonic:
                data = new PointData(labels, false, 0, p.GetSumDouble(), null, 0, 0);
                break;
            case MetricType.LongGauge:
                data = new PointData(labels, true, p.GetGaugeLastValueLong(), 0, null, 0, 0);
                break;
            case MetricType.DoubleGauge:
                data = new PointData(labels, false, 0, p.GetGaugeLastValueDouble(), null, 0, 0);
                break;
            default:
                var buckets = new List<(string, long)>(info.BucketLabels?.Length ?? 16);
                long cumulative = 0;
                var i = 0;
                foreach (var b in p.GetHistogramBuckets())
                {
                    cumulative += b.BucketCount;
                    var bounds = info.BucketLabels;
                    if (bounds is null || i >= bounds.Length || bounds[i].Bound != b.ExplicitBound)
                    {
                        // Bounds are fixed per instrument: render them once.
                        var rendered = new List<(double, string)>();
                        foreach (var x in p.GetHistogramBuckets())
                        {
                            rendered.Add((x.ExplicitBound, PrometheusNumbers.Canonical(x.ExplicitBound)));
                        }

                        info.BucketLabels = bounds = [.. rendered];
                    }

                    buckets.Add((bounds[i].Text, cumulative));
                    i++;
                }

                data = new PointData(labels, false, 0, 0, [.. buckets], p.GetHistogramSum(), p.GetHistogramCount());
                break;
        }

        return (sortKey, sortNum, data);
    }

    [ThreadStatic]
    private static StringBuilder? t_builder;

    /// <summary>Renders `k="v",...` with sanitized keys (collisions merged with ';' in key order) and escaped values.</summary>
    internal static string RenderLabels(string prefix, IEnumerable<KeyValuePair<string, object?>> tags)
    {
        var sb = t_builder ??= new StringBuilder(256);
        sb.Clear().Append(prefix);
        List<(string Original, string Key, string Value)>? merged = null;
        foreach (var t in tags)
        {
            var key = PrometheusNaming.SanitizeLabelName(t.Key);
            var value = ValueString(t.Value);
            merged ??= [];
            var at = merged.FindIndex(m => m.Key == key);
            if (at < 0)
            {
                merged.Add((t.Key, key, value));
            }
            else
            {
                // Keys that collide after sanitizing: values joined with ';', ordered by the original key.
                var m = merged[at];
                merged[at] = string.CompareOrdinal(t.Key, m.Original) < 0 ? (t.Key, key, value + ";" + m.Value) : (m.Original, key, m.Value + ";" + value);
            }
        }

        foreach (var (_, key, value) in merged ?? [])
        {
            AppendLabel(sb, key, key is "le" or "quantile" ? PrometheusNumbers.CanonicalizeLabel(value) : value);
        }

        return sb.ToString();
    }

    internal static void AppendLabel(StringBuilder sb, string key, string value)
    {
        if (sb.Length > 0)
        {
            sb.Append(',');
        }

        sb.Append(key).Append("=\"");
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => sb.Append("\\\\"),
                '"' => sb.Append("\\\""),
                '\n' => sb.Append("\\n"),
                _ => sb.Append(c),
            };
        }

        sb.Append('"');
    }

    private static string ValueString(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        double d => PrometheusNumbers.FormatValue(d),
        float f => PrometheusNumbers.FormatValue(f),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        System.Collections.IEnumerable e => "[" + string.Join(',', e.Cast<object?>().Select(x => x is string s ? "\"" + s + "\"" : ValueString(x))) + "]",
        _ => value.ToString() ?? "",
    };

    /// <summary>Per-Metric data computed once (Metric identity is stable across collections).</summary>
    private sealed class MetricInfo
    {
        public MetricInfo(Metric m)
        {
            var monotonic = m.MetricType is MetricType.LongSum or MetricType.DoubleSum;
            Names = PrometheusNaming.For(m.Name, m.Unit, monotonic);
            Type = m.MetricType switch
            {
                MetricType.LongSum or MetricType.DoubleSum => PrometheusType.Counter,
                MetricType.Histogram => PrometheusType.Histogram,
                _ => PrometheusType.Gauge,
            };
            Help = string.IsNullOrEmpty(m.Description) ? m.Name : m.Description;
            var scope = new List<(string, string)> { ("otel_scope_name", m.MeterName) };
            if (!string.IsNullOrEmpty(m.MeterVersion))
            {
                scope.Add(("otel_scope_version", m.MeterVersion));
            }

            if (!string.IsNullOrEmpty(m.MeterSchemaUrl))
            {
                scope.Add(("otel_scope_schema_url", m.MeterSchemaUrl));
            }

            foreach (var t in m.MeterTags ?? [])
            {
                var key = "otel_scope_" + PrometheusNaming.SanitizeLabelName(t.Key);
                if (key is not ("otel_scope_name" or "otel_scope_version" or "otel_scope_schema_url"))
                {
                    scope.Add((key, ValueString(t.Value)));
                }
            }

            var sb = new StringBuilder();
            foreach (var (k, v) in scope)
            {
                AppendLabel(sb, k, v);
            }

            ScopeLabels = sb.ToString();
        }

        public PrometheusNames Names { get; }

        public PrometheusType Type { get; }

        public string Help { get; }

        /// <summary>Canonical `le` texts of the histogram bounds (set by the exporting thread only).</summary>
        public (double Bound, string Text)[]? BucketLabels { get; set; }

        /// <summary>Rendered otel_scope_* labels, prefixed to every point.</summary>
        public string ScopeLabels { get; }
    }
}
