using System.Globalization;

namespace DamonOtel.Analysis;

/// <summary>What to compute for each snapshot. Immutable; arrays are copied in.</summary>
public sealed class AccessOptions
{
    /// <summary>damo's default percentile list, plus 5/10/90/95 for dashboards.</summary>
    public static IReadOnlyList<double> DefaultPercentiles { get; } = [0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 100];

    /// <summary>
    /// Upper bounds (seconds) of the cumulative "bytes idle at most T" family, log-spaced.
    /// 0 holds the memory accessed in the last aggregation interval. +Inf is implicit.
    /// </summary>
    public static IReadOnlyList<double> DefaultIdleBucketsSeconds { get; } =
        [0, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

    public static AccessOptions Default { get; } = new();

    /// <summary>Percentiles in [0, 100], ascending.</summary>
    public IReadOnlyList<double> Percentiles { get; init; } = DefaultPercentiles;

    /// <summary>Idle-time bucket bounds in seconds, ascending, finite.</summary>
    public IReadOnlyList<double> IdleBucketsSeconds { get; init; } = DefaultIdleBucketsSeconds;

    /// <summary>damo's temperature weights: size, access rate (%), age (us). Default 0, 100, 100.</summary>
    public TemperatureWeights TemperatureWeights { get; init; } = new(0, 100, 100);

    /// <summary>A region is in the working set when nr_accesses &gt;= this (damo's acc_thres, default 1).</summary>
    public uint WorkingSetAccessThreshold { get; init; } = 1;

    /// <summary>Number of equal address slices of the heatmap; 0 disables it.</summary>
    public int HeatmapColumns { get; init; }

    /// <summary>
    /// The first reason <see cref="AccessSummarizer"/> would refuse these options, or null. The
    /// agent's config loader asks the same question, so a config that loads is one that runs.
    /// </summary>
    public string? Validate()
    {
        var ps = Percentiles;
        for (var i = 0; i < ps.Count; i++)
        {
            var p = ps[i];
            if (double.IsNaN(p) || p < 0 || p > 100)
            {
                return string.Create(CultureInfo.InvariantCulture, $"AccessOptions.Percentiles[{i}] = {p}: percentiles must be within [0, 100]");
            }

            if (i > 0 && p < ps[i - 1])
            {
                return string.Create(CultureInfo.InvariantCulture, $"AccessOptions.Percentiles[{i}] = {p}: percentiles must be ascending (previous is {ps[i - 1]})");
            }
        }

        var bs = IdleBucketsSeconds;
        for (var i = 0; i < bs.Count; i++)
        {
            var s = bs[i];
            if (!double.IsFinite(s) || s < 0 || s > MaxIdleBucketSeconds)
            {
                return string.Create(CultureInfo.InvariantCulture, $"AccessOptions.IdleBucketsSeconds[{i}] = {s}: bucket bounds must be finite seconds within [0, 1e12]");
            }

            if (i > 0 && s < bs[i - 1])
            {
                return string.Create(CultureInfo.InvariantCulture, $"AccessOptions.IdleBucketsSeconds[{i}] = {s}: bucket bounds must be ascending (previous is {bs[i - 1]})");
            }
        }

        return HeatmapColumns < 0
            ? string.Create(CultureInfo.InvariantCulture, $"AccessOptions.HeatmapColumns = {HeatmapColumns}: must be >= 0")
            : null;
    }

    /// <summary>The longest idle bucket bound, seconds (about 31700 years: microseconds still fit 64 bits).</summary>
    public const double MaxIdleBucketSeconds = 1e12;
}

/// <summary>damo's access temperature weights (size, access rate percent, age in microseconds).</summary>
public readonly record struct TemperatureWeights(long Size, long AccessRate, long Age);
