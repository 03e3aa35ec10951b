using System.Text.RegularExpressions;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The Prometheus series the agent exposes (the fixed interface), with their own labels. Every
/// series also has job and instance (added by Prometheus) and otel_scope_name="DamonOtel".
/// </summary>
internal static partial class MetricCatalog
{
    private static readonly string[] CommonLabels = ["job", "instance", "otel_scope_name"];

    private static readonly string[] KdTarget = ["kdamond", "target"];
    private static readonly string[] KdTargetQuantile = ["kdamond", "target", "quantile"];
    private static readonly string[] Scheme = ["kdamond", "scheme", "action"];
    private static readonly string[] Source = ["source"];
    private static readonly string[] Cgroup = ["kdamond", "cgroup", "pod_uid", "container_id", "qos_class"];

    public static readonly IReadOnlyDictionary<string, string[]> Agent = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["damon_kdamond_up"] = ["kdamond"],
        ["process_cpu_time_seconds_total"] = ["cpu_mode"],
        ["process_memory_usage_bytes"] = [],
        ["damon_monitoring_interval_seconds"] = ["kdamond", "interval"],
        ["damon_region_count"] = KdTarget,
        ["damon_memory_monitored_bytes"] = KdTarget,
        ["damon_memory_unmapped_bytes"] = KdTarget,
        ["damon_target_processes"] = ["kdamond", "target", "state"],
        ["damon_memory_working_set_bytes"] = KdTarget,
        ["damon_memory_working_set_distribution_bytes_bucket"] = ["kdamond", "target", "le"],
        ["damon_memory_working_set_distribution_bytes_sum"] = KdTarget,
        ["damon_memory_working_set_distribution_bytes_count"] = KdTarget,
        ["damon_memory_idle_bytes"] = ["kdamond", "target", "le"],
        ["damon_memory_idle_time_seconds"] = KdTargetQuantile,
        ["damon_memory_idle_time_signed_seconds"] = KdTargetQuantile,
        ["damon_memory_temperature"] = KdTargetQuantile,
        ["damon_memory_access_bandwidth_bytes_per_second"] = KdTarget,
        ["damon_memory_access_ratio"] = KdTarget,
        ["damon_target_memory_rss_bytes"] = KdTarget,
        ["damon_memory_free_bytes"] = KdTarget,
        ["damon_memory_owned_bytes"] = ["kdamond", "target", "owner"],
        ["damon_cgroup_memory_resident_bytes"] = Cgroup,
        ["damon_cgroup_memory_resident_standard_error_bytes"] = Cgroup,
        ["damon_cgroup_memory_working_set_bytes"] = Cgroup,
        ["damon_cgroup_memory_idle_bytes"] = [.. Cgroup, "le"],
        ["damon_cgroup_memory_idle_time_seconds"] = [.. Cgroup, "quantile"],
        ["damon_cgroup_memory_purity_ratio"] = Cgroup,
        ["damon_cgroups_selected"] = ["kdamond"],
        ["damon_cgroups_dropped"] = ["kdamond"],
        ["damos_scheme_tried_total"] = Scheme,
        ["damos_scheme_applied_total"] = Scheme,
        ["damos_scheme_tried_size_bytes_total"] = Scheme,
        ["damos_scheme_applied_size_bytes_total"] = Scheme,
        ["damos_scheme_filter_passed_size_bytes_total"] = Scheme,
        ["damos_scheme_quota_exceeds_total"] = Scheme,
        ["damos_scheme_quota_effective_bytes"] = Scheme,
        ["damon_kdamond_cpu_time_seconds_total"] = ["kdamond"],
        ["damon_otel_collection_duration_seconds_bucket"] = ["source", "le"],
        ["damon_otel_collection_duration_seconds_sum"] = Source,
        ["damon_otel_collection_duration_seconds_count"] = Source,
        ["damon_otel_collection_errors_total"] = Source,
        ["damon_otel_snapshot_age_seconds"] = Source,
        ["damon_otel_source_up"] = Source,
        ["damon_otel_build_info"] = ["version", "revision", "runtime"],
        ["damon_stat_memory_idle_time_seconds"] = ["quantile"],
        ["damon_stat_memory_bandwidth_bytes_per_second"] = [],
    };

    /// <summary>DAMON_STAT's own figures: only where the module runs (not in `run --simulate`, whose 6.18 boots it off).</summary>
    public static readonly IReadOnlySet<string> OnlyWithDamonStat = new HashSet<string>(StringComparer.Ordinal)
    {
        "damon_stat_memory_idle_time_seconds", "damon_stat_memory_bandwidth_bytes_per_second",
    };

    /// <summary>Series Prometheus itself adds for every scrape target.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Prometheus = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["up"] = [],
        ["scrape_duration_seconds"] = [],
        ["scrape_samples_scraped"] = [],
    };

    /// <summary>Series of kube-state-metrics the per-pod panels and the pod alert join with (by uid).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> KubeStateMetrics = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["kube_pod_info"] = ["namespace", "pod", "uid", "node", "host_ip", "pod_ip", "created_by_kind", "created_by_name", "priority_class", "host_network"],
    };

    /// <summary>The pseudo-kdamonds of kernel modules, present only on kernels running those modules.</summary>
    public static readonly string[] ModuleKdamonds = ["damon_reclaim", "damon_lru_sort", "damon_stat"];

    /// <summary>The cumulative idle-time bucket bounds dashboards and rules rely on.</summary>
    public static readonly string[] RequiredIdleBuckets = ["60.0", "300.0", "1800.0", "+Inf"];

    public static bool TryLabels(string metric, out IEnumerable<string> labels)
    {
        foreach (var table in new[] { Agent, Prometheus, KubeStateMetrics })
        {
            if (table.TryGetValue(metric, out var own))
            {
                labels = own.Concat(CommonLabels);
                return true;
            }
        }

        labels = [];
        return false;
    }

    /// <summary>A selector in a PromQL expression: metric name and the label names it matches on.</summary>
    public sealed record Selector(string Metric, IReadOnlyList<string> Labels, string Text);

    /// <summary>
    /// Finds every "name{...}" selector. The dashboards and rules always write a brace after a metric
    /// name (functions are followed by "("), which keeps this scan simple and exact.
    /// </summary>
    public static List<Selector> Selectors(string expr)
    {
        var result = new List<Selector>();
        foreach (Match m in SelectorRegex().Matches(expr))
        {
            var labels = LabelRegex().Matches(m.Groups["body"].Value).Select(l => l.Groups["label"].Value).ToList();
            result.Add(new Selector(m.Groups["name"].Value, labels, m.Value));
        }

        return result;
    }

    /// <summary>Metric-looking identifiers used without a brace (e.g. "foo[5m]" or a bare name), which the scan above would miss.</summary>
    public static List<string> BareMetricNames(string expr)
    {
        // Strip strings, selectors and grouping clauses, then look for identifiers that are not keywords/functions.
        var s = StringRegex().Replace(expr, "\"\"");
        s = SelectorRegex().Replace(s, " ");
        s = GroupingRegex().Replace(s, " ");
        s = DurationRegex().Replace(s, " ");
        return IdentifierRegex().Matches(s)
            .Select(m => m.Value)
            .Where(id => !PromqlWords.Contains(id))
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    private static readonly HashSet<string> PromqlWords = new(StringComparer.Ordinal)
    {
        "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "group", "count_values",
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
        "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "histogram_quantile", "absent",
        "absent_over_time", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time",
        "last_over_time", "label_replace", "label_join", "vector", "scalar", "clamp_min", "clamp_max", "abs", "time",
        "changes", "resets", "sort", "sort_desc", "e", "Inf", "NaN", "inf", "nan",
    };

    [GeneratedRegex(@"(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{(?<body>[^}]*)\}")]
    private static partial Regex SelectorRegex();

    [GeneratedRegex(@"(?<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*""")]
    private static partial Regex LabelRegex();

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""")]
    private static partial Regex StringRegex();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex GroupingRegex();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex DurationRegex();

    [GeneratedRegex(@"(?<![0-9.])\b[a-zA-Z_:][a-zA-Z0-9_:]*\b")]
    private static partial Regex IdentifierRegex();
}
