using DamonOtel.Analysis;
using DamonOtel.Damon.IO;
using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Otlp;

namespace DamonOtel.Agent.Configuration;

// The validated, typed configuration. Times are microseconds (DAMON's native unit) or
// TimeSpan for agent-side durations; sizes are bytes. See docs/configuration.md.

/// <summary>Which pipe of its tracefs instance the tracepoint source reads.</summary>
internal enum TraceReaderChoice
{
    /// <summary>The binary per-CPU trace_pipe_raw where it can be used, else the text trace_pipe.</summary>
    Auto,

    /// <summary>trace_pipe_raw only: the source fails (and says why) where it cannot be used.</summary>
    Raw,

    /// <summary>The text trace_pipe.</summary>
    Text,
}

/// <summary>How a kdamond's regions reach the agent.</summary>
internal enum RegionSource
{
    /// <summary>tracepoint when tracefs and damon_aggregated are usable, else tried_regions.</summary>
    Auto,

    /// <summary>damon:damon_aggregated in a private tracefs instance: every aggregation, passive.</summary>
    Tracepoint,

    /// <summary>A persistent all-matching stat scheme whose tried_regions are read each collection.</summary>
    TriedRegions,

    /// <summary>
    /// One stat scheme per idle bucket; update_schemes_tried_bytes and each scheme's total_bytes
    /// give the bucket bytes (a few dozen reads instead of a walk of every region): bytes only,
    /// no percentiles (<see cref="DamonOtel.Analysis.IdleBucketSchemes"/>). Kdamonds of ours only.
    /// </summary>
    TriedBytes,

    /// <summary>DAMON_STAT module parameters only (6.17+).</summary>
    DamonStat,
}

/// <summary>Which part of physical memory a paddr target covers (from /proc/iomem).</summary>
internal enum PhysicalRange
{
    /// <summary>The largest System RAM block (what DAMON_STAT/RECLAIM use).</summary>
    LargestBlock,

    /// <summary>From the first to the last System RAM byte, holes included (damo 3.1.5+).</summary>
    WholeSpan,
}

internal enum DefaultMonitoring
{
    /// <summary>Start a paddr kdamond only when none is configured and none runs.</summary>
    Auto,
    On,
    Off,
}

internal sealed record AgentConfig
{
    public string? SourceFile { get; init; }

    public KernelRoots Roots { get; init; } = KernelRoots.Default;

    public string StateDir { get; init; } = "/run/damon-otel";

    public CollectionConfig Collection { get; init; } = new();

    public MetricsConfig Metrics { get; init; } = new();

    public PrometheusConfig Prometheus { get; init; } = new();

    public OtlpConfig Otlp { get; init; } = new();

    public ResourceConfig Resource { get; init; } = new();

    /// <summary>log.level and log.format; --log.level / --log.format override. Read at start only.</summary>
    public Hosting.LogSettings Log { get; init; } = new();

    public AttachConfig Attach { get; init; } = new();

    public DefaultMonitoring DefaultMonitoring { get; init; } = DefaultMonitoring.Auto;

    public KernelModulesConfig KernelModules { get; init; } = new();

    /// <summary>Stop the kdamonds this agent started when it exits (SIGTERM).</summary>
    public bool StopOnExit { get; init; } = true;

    public IReadOnlyList<KdamondConfig> Kdamonds { get; init; } = [];
}

internal sealed record CollectionConfig
{
    /// <summary>How often sysfs is read (tried_regions snapshots, scheme stats, CPU).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Deadline for one state command (EBUSY retries included).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>What the tracepoint source reads (collection.trace_reader).</summary>
    public TraceReaderChoice TraceReader { get; init; } = TraceReaderChoice.Auto;
}

internal sealed record MetricsConfig
{
    public AccessOptions Access { get; init; } = AccessOptions.Default;

    /// <summary>Metric names (OTel names) switched on or off relative to the catalog defaults.</summary>
    public IReadOnlySet<string> Enable { get; init; } = new HashSet<string>();

    public IReadOnlySet<string> Disable { get; init; } = new HashSet<string>();
}

internal sealed record PrometheusConfig
{
    public bool Enabled { get; init; } = true;

    public string Listen { get; init; } = ":9464";

    public string? WebConfigFile { get; init; }

    /// <summary>TLS and basic auth read from <see cref="WebConfigFile"/>; null when there is none.</summary>
    public WebConfig? WebConfig { get; init; }

    /// <summary>A plain-HTTP listener for /healthz and /readyz only (probes with TLS/auth on); null = none.</summary>
    public string? HealthListen { get; init; }

    /// <summary>Open connections allowed on the metrics listener.</summary>
    public int MaxConnections { get; init; } = 512;

    /// <summary>POST /record on the metrics listener (exporters.prometheus.record); off by default.</summary>
    public RecordEndpointConfig Record { get; init; } = new();
}

/// <summary>The HTTP record trigger: whether it answers, where its files go, and the longest capture it takes.</summary>
internal sealed record RecordEndpointConfig
{
    /// <summary>The longest max_duration allowed: what `damon-otel record` takes at most too.</summary>
    public static readonly TimeSpan MaxDurationLimit = TimeSpan.FromHours(1);

    public bool Enabled { get; init; }

    /// <summary>Where record files are written (created 0700 when missing).</summary>
    public string Dir { get; init; } = "/var/lib/damon-otel/records";

    /// <summary>The longest duration a request may ask for.</summary>
    public TimeSpan MaxDuration { get; init; } = TimeSpan.FromMinutes(5);
}

internal sealed record OtlpConfig
{
    public bool Enabled { get; init; }

    public string? Endpoint { get; init; }

    public string? Protocol { get; init; }

    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    public string? Compression { get; init; }

    public TimeSpan? Timeout { get; init; }

    public TimeSpan? Interval { get; init; }

    public string? Temporality { get; init; }

    /// <summary>What <see cref="OtlpSettings.Resolve(OtlpConfigValues?)"/> takes; the loader and the host resolve the same values.</summary>
    public OtlpConfigValues SettingsValues => new()
    {
        Enabled = Enabled ? true : null,
        Endpoint = Endpoint,
        Protocol = Protocol,
        Headers = Headers.Count > 0 ? Headers : null,
        Compression = Compression,
        Timeout = Timeout,
        ExportInterval = Interval,
        Temporality = Temporality,
    };
}

internal sealed record AttachConfig
{
    /// <summary>Observe kdamonds and DAMON modules started by others (read-only unless Refresh).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Allow writing refresh state commands to kdamonds the agent did not start.</summary>
    public bool Refresh { get; init; }

    public RegionSource RegionSource { get; init; } = RegionSource.Auto;

    /// <summary>vaddr/fvaddr kdamonds of others: export only their targets' mapped memory, as for ours.</summary>
    public bool MappedOnly { get; init; } = true;
}

internal sealed record KdamondConfig
{
    /// <summary>DAMON's own defaults for nr_regions min and max.</summary>
    public const ulong DefaultMinNrRegions = 10;
    public const ulong DefaultMaxNrRegions = 1000;

    /// <summary>refresh_ms when the config does not say: stats refreshed once a second.</summary>
    public const uint DefaultRefreshMs = 1000;

    public required string Name { get; init; }

    public int Line { get; init; }

    public RegionSource RegionSource { get; init; } = RegionSource.Auto;

    public string Operations { get; init; } = "vaddr";

    public IReadOnlyList<TargetConfig> Targets { get; init; } = [];

    public IntervalsConfig Intervals { get; init; } = new();

    public ulong MinNrRegions { get; init; } = DefaultMinNrRegions;

    public ulong MaxNrRegions { get; init; } = DefaultMaxNrRegions;

    /// <summary>refresh_ms for kernels that have it (6.17+); 0 = off.</summary>
    public uint RefreshMs { get; init; } = DefaultRefreshMs;

    /// <summary>
    /// vaddr/fvaddr: export only the parts of DAMON's regions inside the process's mappings
    /// (never-mapped gaps and `---p` reservations are exported apart, as unmapped bytes).
    /// False exports DAMON's regions as they are, as damo reports them.
    /// </summary>
    public bool MappedOnly { get; init; } = true;

    public IReadOnlyList<SchemeConfig> Schemes { get; init; } = [];

    /// <summary>paddr: page-frame sampling (free pages left out, cgroup attribution). Ignored for vaddr/fvaddr.</summary>
    public PageSamplingConfig PageSampling { get; init; } = new();

    /// <summary>paddr: the cgroups whose pages are reported (docs/per-cgroup.md); null = none.</summary>
    public CgroupsConfig? Cgroups { get; init; }

    /// <summary>Whether a page-sampling pass runs for this kdamond after each snapshot.</summary>
    public bool SamplesPages => Operations == "paddr" && (PageSampling.ExcludeFree || Cgroups is not null);
}

internal sealed record TargetConfig
{
    public required string Name { get; init; }

    public int? Pid { get; init; }

    public string? PidFile { get; init; }

    public string? ProcessName { get; init; }

    /// <summary>A regular expression matched against the NUL-joined-by-space command line.</summary>
    public string? CmdlinePattern { get; init; }

    /// <summary>paddr: which System RAM range.</summary>
    public PhysicalRange? Memory { get; init; }

    /// <summary>fvaddr/paddr: explicit [start, end) ranges.</summary>
    public IReadOnlyList<(ulong Start, ulong End)> Regions { get; init; } = [];

    /// <summary>Every process a target names is monitored, up to this many (the oldest first).</summary>
    public const int DefaultMaxProcesses = 64;

    /// <summary>The largest max_processes accepted: each process is a DAMON target with regions of its own.</summary>
    public const int MaxProcessesLimit = 1024;

    /// <summary>Also monitor the descendants of the matching processes (damo's --include_child_tasks).</summary>
    public bool IncludeChildren { get; init; }

    /// <summary>Cap on the processes monitored for this target; further matches are counted, not monitored.</summary>
    public int MaxProcesses { get; init; } = DefaultMaxProcesses;

    /// <summary>Pin: a matching process's /proc/&lt;pid&gt;/exe must be one of these absolute paths (empty = any).</summary>
    public IReadOnlyList<string> Executables { get; init; } = [];

    /// <summary>Pin: a matching process's real, effective, saved and filesystem uids must all be in this list (empty = any).</summary>
    public IReadOnlyList<uint> Uids { get; init; } = [];

    /// <summary>pid_file: besides root, the uid that may own the pid file.</summary>
    public uint? PidFileOwner { get; init; }

    public bool IsProcess => Pid is not null || PidFile is not null || ProcessName is not null || CmdlinePattern is not null;

    /// <summary>Whether a name or pattern selects processes, so that any user could start a match.</summary>
    public bool IsPinned => Executables.Count > 0 || Uids.Count > 0;
}

/// <summary>A kdamond's monitoring intervals; the defaults are the ones every config starts from.</summary>
internal sealed record IntervalsConfig
{
    /// <summary>DAMON's default sampling (5 ms) and aggregation (100 ms) intervals.</summary>
    public const ulong DefaultSampleUs = 5_000;
    public const ulong DefaultAggrUs = 100_000;

    /// <summary>1 s rather than DAMON's 60 s, so vaddr follows new mappings of the process soon.</summary>
    public const ulong DefaultUpdateUs = 1_000_000;

    public ulong SampleUs { get; init; } = DefaultSampleUs;

    public ulong AggrUs { get; init; } = DefaultAggrUs;

    public ulong UpdateUs { get; init; } = DefaultUpdateUs;

    /// <summary>intervals_goal (6.15+); null = no auto-tuning.</summary>
    public IntervalsGoalConfig? Goal { get; init; }
}

internal sealed record IntervalsGoalConfig(ulong AccessBp, ulong Aggrs, ulong MinSampleUs, ulong MaxSampleUs)
{
    /// <summary>DAMON_STAT's and damo's recommended goal: 4 %, 3 aggregations, 5 ms..10 s.</summary>
    public static IntervalsGoalConfig Recommended { get; } = new(400, 3, 5_000, 10_000_000);
}

/// <summary>Access pattern in user units; converted to samples and aggregation intervals per context.</summary>
internal sealed record PatternConfig
{
    public ulong SizeMin { get; init; }

    public ulong SizeMax { get; init; } = ulong.MaxValue;

    /// <summary>Percent of the maximum nr_accesses; null max = no upper bound.</summary>
    public double AccessRateMinPercent { get; init; }

    public double? AccessRateMaxPercent { get; init; }

    public ulong AgeMinUs { get; init; }

    /// <summary>ulong.MaxValue = no upper bound.</summary>
    public ulong AgeMaxUs { get; init; } = ulong.MaxValue;
}

internal sealed record QuotaGoalConfig(string Metric, ulong TargetValue, ulong CurrentValue, int? Nid, string? Path);

internal sealed record QuotaConfig
{
    public const ulong DefaultResetIntervalMs = 1000;

    public ulong TimeMs { get; init; }

    public ulong SizeBytes { get; init; }

    public ulong ResetIntervalMs { get; init; } = DefaultResetIntervalMs;

    public uint WeightSizePermil { get; init; }

    public uint WeightAccessRatePermil { get; init; }

    public uint WeightAgePermil { get; init; }

    public IReadOnlyList<QuotaGoalConfig> Goals { get; init; } = [];
}

internal sealed record WatermarksConfig(string Metric, ulong IntervalUs, ulong HighPermil, ulong MidPermil, ulong LowPermil)
{
    /// <summary>How often the watermark metric is checked when the config does not say.</summary>
    public const ulong DefaultIntervalUs = 5_000_000;
}

internal sealed record FilterConfig
{
    public required string Type { get; init; }

    public bool Matching { get; init; } = true;

    /// <summary>true = allow filter, false = reject filter (the only kind before 6.14).</summary>
    public bool Allow { get; init; }

    public string? MemcgPath { get; init; }

    public ulong? AddrStart { get; init; }

    public ulong? AddrEnd { get; init; }

    public int? TargetIndex { get; init; }

    public ulong? Min { get; init; }

    public ulong? Max { get; init; }

    public int Line { get; init; }

    /// <summary>Core-layer types are handled by DAMON core; the others by the operations set.</summary>
    public bool IsCoreLayer => Type is "addr" or "target";
}

internal sealed record DestConfig(int Node, uint Weight);

internal sealed record SchemeConfig
{
    public required string Name { get; init; }

    public string Action { get; init; } = "stat";

    public PatternConfig Pattern { get; init; } = new();

    public ulong ApplyIntervalUs { get; init; }

    public QuotaConfig? Quotas { get; init; }

    public WatermarksConfig? Watermarks { get; init; }

    public IReadOnlyList<FilterConfig> Filters { get; init; } = [];

    public int? TargetNid { get; init; }

    public IReadOnlyList<DestConfig> Dests { get; init; } = [];

    public int Line { get; init; }
}
