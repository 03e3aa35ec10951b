using System.Globalization;
using DamonOtel.Analysis;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Configuration;

// metrics: percentiles, idle buckets, temperature weights and the metric on/off lists.
internal static partial class ConfigLoader
{
    // Every column is one series per target: a bound on cardinality.
    private const long MaxHeatmapColumns = 1024;

    private static MetricsConfig ReadMetrics(YamlNodeReader m)
    {
        AccessOptions d = AccessOptions.Default;
        IReadOnlyList<double> percentiles = PercentileList(m, "percentiles") ?? d.Percentiles;
        IReadOnlyList<double> buckets = IdleBucketList(m, "idle_buckets") ?? d.IdleBucketsSeconds;

        YamlNodeReader w = m.Mapping("temperature_weights");
        var weights = new TemperatureWeights(
            w.Integer("size", 0, int.MaxValue) ?? d.TemperatureWeights.Size,
            w.Integer("access_rate", 0, int.MaxValue) ?? d.TemperatureWeights.AccessRate,
            w.Integer("age", 0, int.MaxValue) ?? d.TemperatureWeights.Age);
        w.RejectUnknownKeys();

        var access = new AccessOptions
        {
            Percentiles = percentiles,
            IdleBucketsSeconds = buckets,
            TemperatureWeights = weights,
            WorkingSetAccessThreshold = (uint)(m.Integer("working_set_access_threshold", 1, uint.MaxValue) ?? d.WorkingSetAccessThreshold),
            HeatmapColumns = (int)(m.Integer("heatmap_columns", 0, MaxHeatmapColumns) ?? d.HeatmapColumns),
        };

        // The summarizer's own check: what it would refuse at run is refused here.
        if (access.Validate() is string problem)
        {
            m.Error(null, "(access options)", problem);
        }

        var enable = new HashSet<string>(StringComparer.Ordinal);
        var disable = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string v, YamlNode node) in m.ScalarList("enable") ?? [])
        {
            if (KnownMetric(m, node, "enable", v))
            {
                enable.Add(v);
            }
        }

        foreach ((string v, YamlNode node) in m.ScalarList("disable") ?? [])
        {
            if (KnownMetric(m, node, "disable", v))
            {
                disable.Add(v);
            }
        }

        m.RejectUnknownKeys();
        return new MetricsConfig { Access = access, Enable = enable, Disable = disable };
    }

    /// <summary>An ascending list of percentiles (0-100), or null when the key is absent or wrong (errors recorded).</summary>
    private static List<double>? PercentileList(YamlNodeReader m, string key)
    {
        var list = m.ScalarList(key);
        if (list is null)
        {
            return null;
        }

        var values = new List<double>();
        foreach ((string value, YamlNode node) in list)
        {
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) || !double.IsFinite(p) || p < 0 || p > 100)
            {
                m.Error(node, key, $"'{value}' is not a percentile between 0 and 100");
            }
            else if (values.Count > 0 && p <= values[^1])
            {
                m.Error(node, key, $"{value} must be larger than the previous percentile (list them in ascending order, no repeats)");
            }
            else
            {
                values.Add(p);
            }
        }

        if (values.Count == 0)
        {
            m.Error(m.Raw(key), key, "the list is empty");
            return null;
        }

        return values;
    }

    /// <summary>Ascending finite idle-time bounds in seconds (+Inf is implied), or null when absent or wrong.</summary>
    private static List<double>? IdleBucketList(YamlNodeReader m, string key)
    {
        var list = m.ScalarList(key);
        if (list is null)
        {
            return null;
        }

        var values = new List<double>();
        foreach ((string value, YamlNode node) in list)
        {
            if (!Units.TryParseTimeUs(value, 1_000_000, out ulong us, out string error) || us / 1e6 > AccessOptions.MaxIdleBucketSeconds)
            {
                m.Error(node, key, error.Length > 0 ? error : "must be finite and at most 1e12 s (+Inf is always added)");
            }
            else if (values.Count > 0 && us / 1e6 <= values[^1])
            {
                m.Error(node, key, $"{value} must be longer than the previous bucket (ascending, no repeats)");
            }
            else
            {
                values.Add(us / 1e6);
            }
        }

        if (values.Count == 0)
        {
            m.Error(m.Raw(key), key, "the list is empty");
            return null;
        }

        return values;
    }

    private static bool KnownMetric(YamlNodeReader m, YamlNode node, string key, string name)
    {
        if (Telemetry.Catalog.MetricCatalog.Find(name) is not null)
        {
            return true;
        }

        m.Error(node, key, $"unknown metric '{name}' (docs/metrics.md lists them)");
        return false;
    }
}
