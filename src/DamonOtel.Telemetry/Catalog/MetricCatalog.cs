using System.Globalization;
using System.Text;
using DamonOtel.Telemetry.Prometheus;

namespace DamonOtel.Telemetry.Catalog;

/// <summary>The OTel instrument kind of a catalog entry.</summary>
public enum MetricKind
{
    /// <summary>ObservableGauge: a current value that is not additive.</summary>
    Gauge,

    /// <summary>ObservableUpDownCounter: a current value that is additive across attributes (bytes).</summary>
    UpDownCounter,

    /// <summary>ObservableCounter: a cumulative value read from the kernel (monotonic except on restarts).</summary>
    ObservableCounter,

    /// <summary>Synchronous Counter (agent events).</summary>
    Counter,

    /// <summary>Synchronous explicit-bucket Histogram.</summary>
    Histogram,
}

/// <summary>One metric of the catalog: drives instrument creation and docs/metrics.md.</summary>
public sealed record MetricDefinition(
    string Name,
    MetricKind Kind,
    string? Unit,
    string Description,
    IReadOnlyList<string> Attributes,
    bool EnabledByDefault = true)
{
    internal bool IsMonotonic => Kind is MetricKind.ObservableCounter or MetricKind.Counter;

    internal PrometheusNames PrometheusNames => PrometheusNaming.For(Name, Unit, IsMonotonic);

    /// <summary>The Prometheus family name as written in text 0.0.4 (counters with `_total`).</summary>
    public string PrometheusName => PrometheusNames.TextTypeName;

    internal PrometheusType PrometheusType => Kind switch
    {
        MetricKind.ObservableCounter or MetricKind.Counter => PrometheusType.Counter,
        MetricKind.Histogram => PrometheusType.Histogram,
        _ when Attributes.Contains("le") || Attributes.Contains("quantile") || PrometheusNaming.HasReservedSuffix(PrometheusNames.Family) => PrometheusType.Unknown,
        _ => PrometheusType.Gauge,
    };
}

/// <summary>Every metric DamonOtel exports. The single source of truth for instruments and docs.</summary>
public static class MetricCatalog
{
    public const string MeterName = "DamonOtel";

    private static readonly string[] K = ["kdamond"];
    private static readonly string[] KT = ["kdamond", "target"];
    private static readonly string[] KS = ["kdamond", "scheme", "action"];
    private static readonly string[] S = ["source"];
    private static readonly string[] Cg = ["kdamond", "cgroup", "pod_uid", "container_id", "qos_class"];

    public static MetricDefinition KdamondUp { get; } = new("damon.kdamond.up", MetricKind.Gauge, null,
        "1 when the kdamond (or DAMON module) is running, 0 when it is stopped.", K);

    public static MetricDefinition MonitoringInterval { get; } = new("damon.monitoring.interval", MetricKind.Gauge, "s",
        "DAMON intervals in force (possibly auto-tuned): sample, aggregation and ops update.", ["kdamond", "interval"]);

    public static MetricDefinition RegionCount { get; } = new("damon.region.count", MetricKind.Gauge, "{region}",
        "Number of DAMON regions of the target in the latest snapshot (an artefact of adaptive region splitting, not a memory size).", KT);

    public static MetricDefinition MemoryMonitored { get; } = new("damon.memory.monitored", MetricKind.UpDownCounter, "By",
        "Bytes covered by the target's DAMON regions (all its processes); vaddr/fvaddr with mapped_only: only the parts inside the processes' mappings; paddr targets leave free pages out (they are in damon_memory_free_bytes) unless the kdamond sets page_sampling.free_pages: include.", KT);

    public static MetricDefinition MemoryUnmapped { get; } = new("damon.memory.unmapped", MetricKind.UpDownCounter, "By",
        "vaddr/fvaddr with mapped_only: bytes of the target's DAMON regions outside its processes' mappings (never-mapped gaps, ---p reservations), left out of the other memory series; monitored + unmapped = DAMON's total.", KT);

    public static MetricDefinition WorkingSet { get; } = new("damon.memory.working_set", MetricKind.Gauge, "By",
        "Working set size: bytes of regions accessed at least once in the last aggregation interval (damo's wss).", KT);

    public static MetricDefinition WorkingSetDistribution { get; } = new("damon.memory.working_set.distribution", MetricKind.Histogram, "By",
        "Working set size, recorded once per aggregation interval (one observation per new snapshot).", KT);

    public static MetricDefinition MemoryIdle { get; } = new("damon.memory.idle", MetricKind.UpDownCounter, "By",
        "Bytes idle for at most le seconds (cumulative, le=\"+Inf\" = monitored bytes); histogram_quantile works on it directly.", ["kdamond", "target", "le"]);

    public static MetricDefinition IdleTime { get; } = new("damon.memory.idle_time", MetricKind.Gauge, "s",
        "Per-byte idle time percentiles, damo convention (0 when accessed in the last aggregation interval). Not aggregatable.", ["kdamond", "target", "quantile"]);

    public static MetricDefinition IdleTimeSigned { get; } = new("damon.memory.idle_time.signed", MetricKind.Gauge, "s",
        "Per-byte idle time percentiles, DAMON_STAT convention (accessed memory counts negative: -(age+1) x aggregation interval).", ["kdamond", "target", "quantile"]);

    public static MetricDefinition Temperature { get; } = new("damon.memory.temperature", MetricKind.Gauge, null,
        "Per-byte access temperature percentiles (damo weights; negative when not accessed).", ["kdamond", "target", "quantile"]);

    public static MetricDefinition AccessBandwidth { get; } = new("damon.memory.access_bandwidth", MetricKind.Gauge, "By/s",
        "Estimated memory access bandwidth (DAMON_STAT estimated_memory_bandwidth).", KT);

    public static MetricDefinition AccessRatio { get; } = new("damon.memory.access_ratio", MetricKind.Gauge, "1",
        "Observed accesses / maximum observable accesses (0..1), what intervals auto-tuning steers.", KT);

    public static MetricDefinition TargetRss { get; } = new("damon.target.memory.rss", MetricKind.Gauge, "By",
        "Resident set size of the target's processes (summed over them).", KT);

    public static MetricDefinition TargetProcesses { get; } = new("damon.target.processes", MetricKind.UpDownCounter, "{process}",
        "Processes a process target names, by state: monitored (each a DAMON target), over_cap (left out by max_processes), rejected (the right name or pid but the wrong exe or uid).", ["kdamond", "target", "state"]);

    public static MetricDefinition HeatmapAccessRate { get; } = new("damon.memory.heatmap.access_rate", MetricKind.Gauge, "%",
        "Size-weighted access rate of each equal address slice (column 0 = lowest addresses).", ["kdamond", "target", "column"], EnabledByDefault: false);

    public static MetricDefinition MemoryFree { get; } = new("damon.memory.free", MetricKind.UpDownCounter, "By",
        "paddr: free pages in the target's regions, estimated from sampled page frames (kpageflags: buddy pages and frames with no flag and no memory cgroup). "
        + "They are left out of the target's monitored bytes, working set, idle bytes and percentiles, so those count only memory in use; `damon-otel snapshot` keeps DAMON's raw view.", KT);

    public static MetricDefinition MemoryOwned { get; } = new("damon.memory.owned", MetricKind.UpDownCounter, "By",
        "paddr with cgroups: the target's pages in use by owner, estimated from sampled page frames: owner=selected_cgroups (the sum of damon_cgroup_memory_resident_bytes), "
        + "other_cgroups (charged to cgroups not selected), kernel (no memory cgroup and not free: slab, page tables, kernel stacks, reserved).", ["kdamond", "target", "owner"]);

    public static MetricDefinition CgroupResident { get; } = new("damon.cgroup.memory.resident", MetricKind.UpDownCounter, "By",
        "Bytes of the cgroup's pages (it and its descendants) in the paddr kdamond's regions, from sampled /proc/kpagecgroup: anon (swap cache included), page cache (file, tmpfs, shmem) "
        + "and kernel pages charged whole to it (page tables, stacks); not slab objects, per-CPU or socket memory, nor swapped-out memory. Shared page cache counts for the cgroup that faulted it in. "
        + "pod_uid, container_id and qos_class are present for kubepods cgroups only.", Cg);

    public static MetricDefinition CgroupResidentError { get; } = new("damon.cgroup.memory.resident.standard_error", MetricKind.Gauge, "By",
        "Standard error of damon_cgroup_memory_resident_bytes from the page sampling (binomial bound; contiguous memory is estimated far better).", Cg);

    public static MetricDefinition CgroupWorkingSet { get; } = new("damon.cgroup.memory.working_set", MetricKind.Gauge, "By",
        "The cgroup's bytes in regions accessed in the last aggregation interval (region-level: trust it where damon_cgroup_memory_purity_ratio is high).", Cg);

    public static MetricDefinition CgroupIdle { get; } = new("damon.cgroup.memory.idle", MetricKind.UpDownCounter, "By",
        "The cgroup's bytes idle for at most le seconds (cumulative, le=\"+Inf\" = resident bytes), region-level like the working set.", [.. Cg, "le"]);

    public static MetricDefinition CgroupIdleTime { get; } = new("damon.cgroup.memory.idle_time", MetricKind.Gauge, "s",
        "Per-byte idle time percentiles of the cgroup's pages (damo convention, region-level). Not aggregatable.", [.. Cg, "quantile"]);

    public static MetricDefinition CgroupPurity { get; } = new("damon.cgroup.memory.purity_ratio", MetricKind.Gauge, "1",
        "Share (0..1) of the cgroup's bytes lying in regions where it holds at least 90 % of the pages owned by cgroups. A region's access count covers all its pages, so the cgroup's "
        + "working set and idle times are its own only there: physically interleaved cgroups read near 0 and their WSS is a blend of their neighbours'.", Cg);

    public static MetricDefinition CgroupsSelected { get; } = new("damon.cgroups.selected", MetricKind.Gauge, "{cgroup}",
        "cgroups the paddr kdamond's page sampling reports (at most cgroups.max).", K);

    public static MetricDefinition CgroupsDropped { get; } = new("damon.cgroups.dropped", MetricKind.Gauge, "{cgroup}",
        "cgroups matching the selection but not reported because cgroups.max was reached.", K);

    public static MetricDefinition SchemeTried { get; } = new("damos.scheme.tried", MetricKind.ObservableCounter, "{region}",
        "Regions the DAMOS scheme tried to apply its action to (kernel cumulative nr_tried).", KS);

    public static MetricDefinition SchemeApplied { get; } = new("damos.scheme.applied", MetricKind.ObservableCounter, "{region}",
        "Regions the DAMOS action was applied to (kernel cumulative nr_applied).", KS);

    public static MetricDefinition SchemeTriedSize { get; } = new("damos.scheme.tried.size", MetricKind.ObservableCounter, "By",
        "Bytes the DAMOS scheme tried to apply its action to (kernel cumulative sz_tried).", KS);

    public static MetricDefinition SchemeAppliedSize { get; } = new("damos.scheme.applied.size", MetricKind.ObservableCounter, "By",
        "Bytes the DAMOS action was applied to (kernel cumulative sz_applied).", KS);

    public static MetricDefinition SchemeFilterPassedSize { get; } = new("damos.scheme.filter_passed.size", MetricKind.ObservableCounter, "By",
        "Bytes that passed the scheme's operations-layer filters (kernel cumulative sz_ops_filter_passed, 6.14+).", KS);

    public static MetricDefinition SchemeQuotaExceeds { get; } = new("damos.scheme.quota_exceeds", MetricKind.ObservableCounter, "1",
        "Times the scheme's quota was exceeded (kernel cumulative qt_exceeds).", KS);

    public static MetricDefinition SchemeQuotaEffective { get; } = new("damos.scheme.quota.effective", MetricKind.Gauge, "By",
        "Effective size quota of the scheme after goal tuning (quotas/effective_bytes, 6.9+).", KS);

    public static MetricDefinition DamonStatIdleTime { get; } = new("damon_stat.memory.idle_time", MetricKind.Gauge, "s",
        "DAMON_STAT's own memory_idle_ms_percentiles as the kernel publishes them (signed: accessed memory negative; refreshed every 5 s), at the configured integer percentiles.", ["quantile"]);

    public static MetricDefinition DamonStatBandwidth { get; } = new("damon_stat.memory.bandwidth", MetricKind.Gauge, "By/s",
        "DAMON_STAT's own estimated_memory_bandwidth as the kernel publishes it (computed mid-aggregation, so below damon_memory_access_bandwidth of its regions).", []);

    public static MetricDefinition KdamondCpuTime { get; } = new("damon.kdamond.cpu.time", MetricKind.ObservableCounter, "s",
        "CPU time used by the kdamond thread (user + system).", K);

    public static MetricDefinition CollectionDuration { get; } = new("damon_otel.collection.duration", MetricKind.Histogram, "s",
        "Duration of one collection by a source.", S);

    public static MetricDefinition CollectionErrors { get; } = new("damon_otel.collection.errors", MetricKind.Counter, "{error}",
        "Collections by a source that failed.", S);

    public static MetricDefinition SnapshotAge { get; } = new("damon_otel.snapshot.age", MetricKind.Gauge, "s",
        "Seconds since the source last collected successfully.", S);

    public static MetricDefinition SourceUp { get; } = new("damon_otel.source.up", MetricKind.Gauge, null,
        "1 when the source's last collection succeeded, else 0.", S);

    public static MetricDefinition BuildInfo { get; } = new("damon_otel.build.info", MetricKind.Gauge, null,
        "Always 1; the labels say which damon-otel build runs (version, revision: the git commit, runtime: the .NET runtime).", ["version", "revision", "runtime"]);

    public static MetricDefinition ProcessCpuTime { get; } = new("process.cpu.time", MetricKind.ObservableCounter, "s",
        "CPU time of the damon-otel process itself, by mode (user, system).", ["cpu.mode"]);

    public static MetricDefinition ProcessMemoryUsage { get; } = new("process.memory.usage", MetricKind.UpDownCounter, "By",
        "Resident memory of the damon-otel process itself (RSS).", []);

    public static IReadOnlyList<MetricDefinition> All { get; } =
    [
        KdamondUp, MonitoringInterval, KdamondCpuTime, RegionCount, MemoryMonitored, MemoryUnmapped, WorkingSet, WorkingSetDistribution,
        MemoryIdle, IdleTime, IdleTimeSigned, Temperature, AccessBandwidth, AccessRatio, TargetRss, TargetProcesses, HeatmapAccessRate,
        MemoryFree, MemoryOwned, CgroupResident, CgroupResidentError, CgroupWorkingSet, CgroupIdle, CgroupIdleTime, CgroupPurity,
        CgroupsSelected, CgroupsDropped,
        SchemeTried, SchemeApplied, SchemeTriedSize, SchemeAppliedSize, SchemeFilterPassedSize, SchemeQuotaExceeds,
        SchemeQuotaEffective, DamonStatIdleTime, DamonStatBandwidth, CollectionDuration, CollectionErrors, SnapshotAge, SourceUp, BuildInfo, ProcessCpuTime, ProcessMemoryUsage,
    ];

    /// <summary>Bucket bounds of damon.memory.working_set.distribution: powers of two, 1 MiB .. 1 TiB.</summary>
    public static IReadOnlyList<double> WorkingSetBucketsBytes { get; } =
        [.. Enumerable.Range(20, 21).Select(p => Math.Pow(2, p))];

    /// <summary>Bucket bounds of damon_otel.collection.duration, seconds.</summary>
    public static IReadOnlyList<double> CollectionDurationBucketsSeconds { get; } =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    public static MetricDefinition? Find(string name) =>
        All.FirstOrDefault(d => d.Name == name || d.PrometheusName == name || d.PrometheusNames.Family == name);

    /// <summary>The content of docs/metrics.md.</summary>
    public static string GenerateMarkdown()
    {
        var sb = new StringBuilder();
        sb.Append("# Metrics\n\n");
        sb.Append("<!-- Generated from src/DamonOtel.Telemetry/Catalog/MetricCatalog.cs by the test MetricCatalogTests.Docs_are_up_to_date;\n");
        sb.Append("     update with: UPDATE_GOLDEN=1 dotnet test tests/DamonOtel.Telemetry.Tests -->\n\n");
        sb.Append("All metrics come from the meter `DamonOtel`. Prometheus names follow the OpenTelemetry compatibility\n");
        sb.Append("specification (unit suffix, `_total` for counters); OpenMetrics uses the same names (counter families\n");
        sb.Append("without `_total` on the metadata lines). `kdamond`, `target` and `scheme` carry the names given in the\n");
        sb.Append("config (the index when none). No series is ever labelled by region or address.\n\n");
        sb.Append("Through an OpenTelemetry Collector (`prometheusremotewrite`, `prometheus` exporters) the names are the same:\n");
        sb.Append("the Collector also appends `_ratio` to gauges whose unit is `1`, so those (0..1 ratios) end in `_ratio`\n");
        sb.Append("already, and states, info and scores have no unit (docs/operations.md, \"OTLP through an OpenTelemetry Collector\").\n\n");
        sb.Append("| OTel name | Prometheus name | kind | unit | attributes | description | default |\n");
        sb.Append("|---|---|---|---|---|---|---|\n");
        foreach (var d in All)
        {
            var promType = d.PrometheusType switch
            {
                PrometheusType.Counter => "counter",
                PrometheusType.Histogram => "histogram",
                PrometheusType.Unknown => "untyped",
                _ => "gauge",
            };
            var kind = d.Kind switch
            {
                MetricKind.Gauge => "ObservableGauge",
                MetricKind.UpDownCounter => "ObservableUpDownCounter",
                MetricKind.ObservableCounter => "ObservableCounter",
                MetricKind.Counter => "Counter",
                _ => "Histogram",
            };
            sb.Append(CultureInfo.InvariantCulture,
                $"| `{d.Name}` | `{d.PrometheusName}` | {kind} ({promType}) | {(d.Unit is null ? "" : "`" + d.Unit + "`")} | {string.Join(", ", d.Attributes.Select(a => "`" + a + "`"))} | {d.Description.Replace("|", "\\|", StringComparison.Ordinal)} | {(d.EnabledByDefault ? "on" : "off")} |\n");
        }

        sb.Append("\n## Notes\n\n");
        sb.Append("* Staleness: a kdamond whose latest observation is older than 3 x its expected interval is not\n");
        sb.Append("  reported at all (its series disappear, Prometheus marks them stale); `damon_otel_snapshot_age_seconds`\n");
        sb.Append("  and `damon_otel_source_up` keep reporting the source.\n");
        sb.Append("* `damon_memory_idle_bytes` has an `le` label with OpenMetrics canonical numbers (`0.0`, `0.1`, `1.0`,\n");
        sb.Append("  `1e+06`, `+Inf`): `histogram_quantile(0.5, sum by (le) (damon_memory_idle_bytes))` gives the fleet-wide\n");
        sb.Append("  byte-weighted median idle time.\n");
        sb.Append("* Gauges with an `le` or `quantile` label, or whose name ends in `_count` (`damon_region_count`), are\n");
        sb.Append("  exposed as `untyped` (OpenMetrics `unknown`): Prometheus reserves those labels and suffixes for\n");
        sb.Append("  histograms and summaries (`promtool check metrics` flags them on gauges). PromQL treats both alike.\n");
        sb.Append("* Percentile gauges (`quantile` = p/100 as a canonical number: p50 is `0.5`, p0 is `0.0`, p100 is `1.0`)\n");
        sb.Append("  cannot be averaged or summed across targets or hosts; use `damon_memory_idle_bytes` for that.\n");
        sb.Append("* A kdamond with `region_source: tried_bytes` (docs/configuration.md) has bucket bytes, not regions:\n");
        sb.Append("  it exports `damon_memory_idle_bytes`, `damon_memory_working_set_bytes`, `damon_memory_monitored_bytes`\n");
        sb.Append("  and the working-set histogram, but no percentile gauges, `damon_region_count`, bandwidth, access\n");
        sb.Append("  ratio or heatmap; `histogram_quantile` over `damon_memory_idle_bytes` estimates the percentiles.\n");
        sb.Append("* DAMOS counters are the kernel's cumulative values, reported as they are. When a kdamond restarts\n");
        sb.Append("  they go back to 0: Prometheus' `rate()`/`increase()` treat the decrease as a counter reset, and an\n");
        sb.Append("  OTLP backend sees a cumulative series restart. Nothing is re-based in the agent.\n");
        sb.Append(CultureInfo.InvariantCulture,
            $"* `damon.memory.working_set.distribution` buckets (bytes): powers of two from 1 MiB to 1 TiB ({WorkingSetBucketsBytes.Count} bounds).\n");
        sb.Append("* Synchronous instruments (the WSS histogram, collection duration/errors) keep their series after a\n");
        sb.Append("  target or source goes away (OpenTelemetry has no way to delete a series).\n");
        sb.Append("* Disable or enable metrics by OTel or Prometheus name in the config (`metrics: {disable: [...], enable: [...]}`).\n");
        sb.Append("\n## What the memory numbers include\n\n");
        sb.Append("* **A target of several processes** (`process_name`, `cmdline`, or `include_children`) is one series: its\n");
        sb.Append("  processes' regions are summarised together. Monitored, idle and working-set bytes are sums;\n");
        sb.Append("  percentiles are taken over all their bytes at once (merged by bytes, never averaged). There is no\n");
        sb.Append("  `pid` label: cardinality stays one series set per configured target.\n");
        sb.Append("  Memory several of the processes map (shared libraries, shared memory, a forked worker's pages still\n");
        sb.Append("  shared copy-on-write) is in each of their address spaces and counts once per process, as in the sum\n");
        sb.Append("  of their RSS.\n");
        sb.Append("* **vaddr/fvaddr, `mapped_only: true` (the default):** DAMON's regions span whole areas of the address\n");
        sb.Append("  space, including gaps that were never mapped (between a program's data and its heap, between mmaps)\n");
        sb.Append("  and address space reserved without any permission (`---p`: guard areas, a JVM's or allocator's\n");
        sb.Append("  reservation). Those bytes are left out of `damon_memory_monitored_bytes`, `damon_memory_idle_bytes`,\n");
        sb.Append("  the idle-time and temperature percentiles, `damon_memory_working_set_bytes` and the bandwidth, and are\n");
        sb.Append("  reported as `damon_memory_unmapped_bytes`. What stays is every mapping with some permission, from\n");
        sb.Append("  `/proc/<pid>/maps`: anonymous memory, file mappings (binaries, libraries, mapped files: page cache),\n");
        sb.Append("  stacks, shared memory, **resident or not**: a mapped page never touched counts as idle since the\n");
        sb.Append("  kdamond started (`damon_target_memory_rss_bytes` is the resident part). Per-page guard pages inside a\n");
        sb.Append("  mapping (`PROT_NONE` via `mprotect` splits the VMA) are `---p` too and left out. Mappings are re-read\n");
        sb.Append("  at most once per ops update interval, DAMON's own cadence for following them.\n");
        sb.Append("* **`mapped_only: false`, and `damon-otel snapshot --raw`:** DAMON's regions as they are: the numbers of\n");
        sb.Append("  `damo report access`.\n");
        sb.Append("* **paddr:** the physical range as configured (free pages included, as in damo and DAMON_STAT).\n");
        return sb.ToString();
    }
}

/// <summary>Which metrics are exported: catalog defaults, overridden by name.</summary>
public sealed class MetricSelection
{
    private readonly HashSet<string> enabled;

    public static MetricSelection Default { get; } = new([], []);

    /// <param name="enable">OTel or Prometheus names to enable (e.g. the heatmap).</param>
    /// <param name="disable">OTel or Prometheus names to disable.</param>
    /// <exception cref="ArgumentException">A name is not in the catalog.</exception>
    public MetricSelection(IEnumerable<string> enable, IEnumerable<string> disable)
    {
        var on = Resolve(enable, nameof(enable));
        var off = Resolve(disable, nameof(disable));
        enabled = [.. MetricCatalog.All.Where(d => !off.Contains(d.Name) && (d.EnabledByDefault || on.Contains(d.Name))).Select(d => d.Name)];
    }

    public bool IsEnabled(MetricDefinition definition) => enabled.Contains(definition.Name);

    private static HashSet<string> Resolve(IEnumerable<string> names, string what)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in names)
        {
            var d = MetricCatalog.Find(n) ?? throw new ArgumentException(
                $"metrics.{what}: unknown metric '{n}'; known: {string.Join(", ", MetricCatalog.All.Select(x => x.Name))}", what);
            set.Add(d.Name);
        }

        return set;
    }
}
