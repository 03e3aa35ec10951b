using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
    private readonly ConditionalWeakTable<Metric, MetricInfo> infos = [];
    private readonly Lock exportLock = new();

    // Reused by every Export (under exportLock): no per-collection growth of these buffers.
    private readonly List<SortablePoint> points = [];
    private readonly List<SortablePoint> sorting = [];
    private readonly List<PendingFamily> families = [];
    private readonly TimeProvider time;
    private volatile ScrapeData? latest;
    private string? targetInfo;
    private bool targetInfoResolved;

    public PrometheusPullExporter(TimeProvider? time = null)
    {
        this.time = time ?? TimeProvider.System;
    }

    public Func<int, bool>? Collect { get; set; }

    /// <summary>The data of the last Export, or null before the first collection.</summary>
    public ScrapeData? Latest => latest;

    public override ExportResult Export(in Batch<Metric> batch)
    {
        // The reader serializes collections, but the buffers below are reused across Exports:
        // make that explicit rather than rely on it.
        lock (exportLock)
        {
            return ExportLocked(in batch);
        }
    }

    private ExportResult ExportLocked(in Batch<Metric> batch)
    {
        families.Clear();
        foreach (var metric in batch)
        {
            if (metric.MetricType == MetricType.ExponentialHistogram)
            {
                // Not representable in the text formats; views map our histograms to explicit buckets.
                continue;
            }

            var info = infos.GetValue(metric, m => new MetricInfo(m));
            info.BeginCollection();
            var first = this.points.Count;
            var hasReservedLabel = false;
            foreach (ref readonly var p in metric.GetMetricPoints())
            {
                var labels = info.LabelsFor(p.Tags);
                hasReservedLabel |= labels.HasReservedLabel;
                this.points.Add(new SortablePoint(labels.SortKey, labels.SortNum, this.points.Count, Copy(metric, info, in p, labels.Labels)));
            }

            if (this.points.Count == first)
            {
                continue;
            }

            var type = info.Type == PrometheusType.Gauge && (hasReservedLabel || PrometheusNaming.HasReservedSuffix(info.Names.Family))
                ? PrometheusType.Unknown
                : info.Type;
            var range = (first, this.points.Count - first);
            var at = families.FindIndex(f => f.Names.Family == info.Names.Family);
            if (at >= 0)
            {
                // The spec: same family name with different types → drop the family.
                var existing = families[at];
                existing.Ranges.Add(range);
                families[at] = existing with { Conflict = existing.Conflict || existing.Type != type };
            }
            else
            {
                families.Add(new PendingFamily(info.Names, type, info.Help, [range], false));
            }
        }

        families.Sort(static (a, b) => string.CompareOrdinal(a.Names.Family, b.Names.Family));
        var count = 0;
        foreach (var f in families)
        {
            count += f.Conflict ? 0 : 1;
        }

        var result = new FamilyData[count];
        var r = 0;
        foreach (var f in families)
        {
            if (f.Conflict)
            {
                continue;
            }

            sorting.Clear();
            foreach (var (start, length) in f.Ranges)
            {
                sorting.AddRange(CollectionsMarshal.AsSpan(this.points).Slice(start, length));
            }

            // Labels (without le/quantile) ordinally, then le/quantile numerically; Position keeps
            // equal keys in arrival order (a stable sort).
            CollectionsMarshal.AsSpan(sorting).Sort(SortablePointComparer.Instance);
            var points = new PointData[sorting.Count];
            for (var i = 0; i < points.Length; i++)
            {
                points[i] = sorting[i].Point;
            }

            result[r++] = new FamilyData(f.Names, f.Type, f.Help, points);
        }

        this.points.Clear();
        sorting.Clear();
        latest = new ScrapeData(TargetInfo(), result, time.GetTimestamp());
        return ExportResult.Success;
    }

    private string? TargetInfo()
    {
        if (!targetInfoResolved)
        {
            var resource = ParentProvider?.GetResource() ?? Resource.Empty;
            var labels = RenderLabels("", resource.Attributes.Select(a => new KeyValuePair<string, object?>(a.Key, a.Value)));
            targetInfo = labels.Length == 0 ? null : labels;
            targetInfoResolved = true;
        }

        return targetInfo;
    }

    /// <summary>Rendered labels of one series and its sort key (what the text formats need of the tags).</summary>
    private sealed class SeriesLabels(KeyValuePair<string, object?>[] tags, string labels, string sortKey, double sortNum, bool hasReservedLabel)
    {
        public KeyValuePair<string, object?>[] Tags { get; } = tags;

        public string Labels { get; } = labels;

        public string SortKey { get; } = sortKey;

        public double SortNum { get; } = sortNum;

        public bool HasReservedLabel { get; } = hasReservedLabel;

        public static SeriesLabels Render(MetricInfo info, ReadOnlyTagCollection pointTags)
        {
            var all = new KeyValuePair<string, object?>[pointTags.Count];
            var tags = new List<KeyValuePair<string, object?>>(pointTags.Count);
            string? ordinalLabel = null;
            var hasReservedLabel = false;
            var n = 0;
            foreach (var t in pointTags)
            {
                all[n++] = t;
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

            return new SeriesLabels(all, labels, sortKey, sortNum, hasReservedLabel);
        }

        public bool Matches(ReadOnlyTagCollection pointTags)
        {
            if (pointTags.Count != Tags.Length)
            {
                return false;
            }

            var i = 0;
            foreach (var t in pointTags)
            {
                var c = Tags[i++];
                if (!string.Equals(t.Key, c.Key, StringComparison.Ordinal) || !Equals(t.Value, c.Value))
                {
                    return false;
                }
            }

            return true;
        }

        public static int Hash(ReadOnlyTagCollection pointTags)
        {
            var h = default(HashCode);
            foreach (var t in pointTags)
            {
                h.Add(t.Key);
                h.Add(t.Value);
            }

            return h.ToHashCode();
        }
    }

    private readonly record struct SortablePoint(string SortKey, double SortNum, int Position, PointData Point);

    private readonly record struct PendingFamily(PrometheusNames Names, PrometheusType Type, string Help, List<(int Start, int Length)> Ranges, bool Conflict);

    private sealed class SortablePointComparer : IComparer<SortablePoint>
    {
        public static readonly SortablePointComparer Instance = new();

        public int Compare(SortablePoint x, SortablePoint y)
        {
            var c = string.CompareOrdinal(x.SortKey, y.SortKey);
            if (c == 0)
            {
                c = x.SortNum.CompareTo(y.SortNum);
            }

            return c != 0 ? c : x.Position.CompareTo(y.Position);
        }
    }

    private static PointData Copy(Metric metric, MetricInfo info, in MetricPoint p, string labels)
    {
        switch (metric.MetricType)
        {
            case MetricType.LongSum:
            case MetricType.LongSumNonMonotonic:
                return new PointData(labels, true, p.GetSumLong(), 0, null, 0, 0);
            case MetricType.DoubleSum:
            case MetricType.DoubleSumNonMonotonic:
                return new PointData(labels, false, 0, p.GetSumDouble(), null, 0, 0);
            case MetricType.LongGauge:
                return new PointData(labels, true, p.GetGaugeLastValueLong(), 0, null, 0, 0);
            case MetricType.DoubleGauge:
                return new PointData(labels, false, 0, p.GetGaugeLastValueDouble(), null, 0, 0);
            default:
                var bounds = info.BucketLabels;
                var valid = bounds is not null;
                var n = 0;
                foreach (var b in p.GetHistogramBuckets())
                {
                    valid = valid && n < bounds!.Length && bounds[n].Bound.Equals(b.ExplicitBound);
                    n++;
                }

                if (!valid || bounds is null || n != bounds.Length)
                {
                    // Bounds are fixed per instrument: render them once.
                    bounds = new (double, string)[n];
                    var j = 0;
                    foreach (var x in p.GetHistogramBuckets())
                    {
                        bounds[j++] = (x.ExplicitBound, PrometheusNumbers.Canonical(x.ExplicitBound));
                    }

                    info.BucketLabels = bounds;
                }

                var buckets = new (string, long)[n];
                long cumulative = 0;
                var i = 0;
                foreach (var b in p.GetHistogramBuckets())
                {
                    cumulative += b.BucketCount;
                    buckets[i] = (bounds[i].Text, cumulative);
                    i++;
                }

                return new PointData(labels, false, 0, 0, buckets, p.GetHistogramSum(), p.GetHistogramCount());
        }
    }

    [ThreadStatic]
    private static StringBuilder? ThreadBuilder;

    /// <summary>Renders `k="v",...` with sanitized keys (collisions merged with ';' in key order) and escaped values.</summary>
    internal static string RenderLabels(string prefix, IEnumerable<KeyValuePair<string, object?>> tags)
    {
        var sb = ThreadBuilder ??= new StringBuilder(256);
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

        // Rendered labels by tag hash. Series seen in the previous collection are carried over,
        // the rest dropped, so the cache follows the live series set and cannot grow without bound.
        private Dictionary<int, SeriesLabels> previous = [];
        private Dictionary<int, SeriesLabels> current = [];

        public void BeginCollection()
        {
            (this.previous, current) = (current, this.previous);
            current.Clear();
        }

        public SeriesLabels LabelsFor(ReadOnlyTagCollection tags)
        {
            var hash = SeriesLabels.Hash(tags);
            if (current.TryGetValue(hash, out var seen))
            {
                // Two series of one collection with one hash (rare): the first keeps the slot.
                return seen.Matches(tags) ? seen : SeriesLabels.Render(this, tags);
            }

            if (!this.previous.TryGetValue(hash, out var labels) || !labels.Matches(tags))
            {
                labels = SeriesLabels.Render(this, tags);
            }

            current[hash] = labels;
            return labels;
        }
    }
}
