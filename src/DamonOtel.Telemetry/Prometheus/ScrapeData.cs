namespace DamonOtel.Telemetry.Prometheus;

/// <summary>One sample line's data, copied out of a MetricPoint.</summary>
/// <param name="Labels">Rendered, escaped label pairs without braces (may be empty).</param>
/// <param name="LongValue">Counter/gauge value when <see cref="IsLong"/>.</param>
/// <param name="Buckets">Histogram: (canonical le, cumulative count) including +Inf.</param>
internal sealed record PointData(
    string Labels,
    bool IsLong,
    long LongValue,
    double DoubleValue,
    (string Le, long Count)[]? Buckets,
    double Sum,
    long Count);

/// <summary>One Prometheus family with every point of every OTel metric that maps to it.</summary>
internal sealed record FamilyData(PrometheusNames Names, PrometheusType Type, string Help, PointData[] Points);

/// <summary>
/// An immutable copy of one collection: everything a serializer needs, nothing that refers to
/// SDK storage (MetricPoints are only valid during Export).
/// </summary>
internal sealed class ScrapeData
{
    public ScrapeData(string? targetInfoLabels, FamilyData[] families, long collectedAtTimestamp)
    {
        TargetInfoLabels = targetInfoLabels;
        Families = families;
        CollectedAtTimestamp = collectedAtTimestamp;
    }

    public static ScrapeData Empty { get; } = new(null, [], 0);

    /// <summary>Rendered resource labels for target_info, or null when the resource is empty.</summary>
    public string? TargetInfoLabels { get; }

    /// <summary>Sorted by family name.</summary>
    public FamilyData[] Families { get; }

    public long CollectedAtTimestamp { get; }
}
