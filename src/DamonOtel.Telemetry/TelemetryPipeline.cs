using System.Runtime.InteropServices;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Procfs;
using DamonOtel.Telemetry.Catalog;
using DamonOtel.Telemetry.Instruments;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Prometheus;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace DamonOtel.Telemetry;

/// <summary>Settings of <see cref="TelemetryPipeline"/>.</summary>
public sealed class TelemetryPipelineOptions
{
    public string ServiceName { get; init; } = "damon-otel";

    /// <summary>Defaults to this assembly's version.</summary>
    public string? ServiceVersion { get; init; }

    /// <summary>procfs root (kernel release and host name are read under it).</summary>
    public string ProcfsRoot { get; init; } = "/proc";

    /// <summary>The file interface <see cref="ProcfsRoot"/> is read through.</summary>
    public IKernelFs KernelFs { get; init; } = LinuxKernelFs.Instance;

    /// <summary>Overrides the host name read from procfs.</summary>
    public string? HostName { get; init; }

    /// <summary>The Kubernetes node (K8S_NODE_NAME from the downward API); sets k8s.node.name when known.</summary>
    public string? NodeName { get; init; }

    /// <summary>service.instance.id; null = the node name when known, else the host name (one agent per machine).</summary>
    public string? ServiceInstanceId { get; init; }

    /// <summary>The labels of damon_otel_build_info; null is this build.</summary>
    public BuildInfo? BuildInfo { get; init; }

    public MetricSelection Metrics { get; init; } = MetricSelection.Default;

    /// <summary>Extra resource attributes (e.g. from the config).</summary>
    public IReadOnlyDictionary<string, object> ResourceAttributes { get; init; } = new Dictionary<string, object>();

    /// <summary>Apply OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES (on by default; tests turn it off).</summary>
    public bool UseEnvironment { get; init; } = true;

    /// <summary>How long a rendered /metrics response is reused.</summary>
    public TimeSpan ScrapeCacheDuration { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ScrapeCollectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Source of the agent's own CPU time and RSS; null reads this process (golden tests fix it).</summary>
    public Func<Instruments.ProcessUsage>? ProcessUsage { get; init; }

    /// <summary>
    /// The most series one metric stream keeps (the SDK's cardinality limit). The SDK allocates
    /// every stream's metric points up front at this size (2,000 by default, ~140 KB per
    /// instrument and reader), so the agent sizes it from its config; null keeps the SDK default.
    /// </summary>
    public int? CardinalityLimit { get; init; }

    /// <summary>Meter name; only tests change it.</summary>
    public string MeterName { get; init; } = MetricCatalog.MeterName;
}

/// <summary>
/// The metrics side: DamonOtel instruments over an <see cref="ObservationStore"/>, our Prometheus
/// pull reader (cumulative) and the resource. <see cref="ConfigureMetrics"/> puts them on a
/// MeterProviderBuilder, the hosted one (<c>services.AddOpenTelemetry().WithMetrics(...)</c>) or the
/// stand-alone one <see cref="Build"/> makes; <c>configure</c> adds the rest (the OTLP reader:
/// <c>b => OtlpExportConfigurator.AddOtlp(b, settings)</c>).
/// </summary>
public sealed class TelemetryPipeline : IDisposable
{
    private readonly PrometheusPullExporter exporter;
    private readonly TelemetryPipelineOptions options;

    private TelemetryPipeline(TelemetryPipelineOptions options, DamonInstruments instruments, PrometheusPullExporter exporter, PrometheusScrapeHandler scrape)
    {
        this.options = options;
        this.exporter = exporter;
        Instruments = instruments;
        Scrape = scrape;
    }

    /// <summary>The provider <see cref="Build"/> made; null when a host's provider collects (it owns that one).</summary>
    public MeterProvider? MeterProvider { get; private set; }

    public DamonInstruments Instruments { get; }

    /// <summary>The /metrics source (serve it with <see cref="Http.MetricsEndpoint"/>).</summary>
    public PrometheusScrapeHandler Scrape { get; }

    /// <summary>Instruments and the scrape handler, not yet attached to a provider (see <see cref="ConfigureMetrics"/>).</summary>
    public static TelemetryPipeline Create(ObservationStore store, TelemetryPipelineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new TelemetryPipelineOptions();
        var instruments = new DamonInstruments(store, options.Metrics, options.MeterName, options.ProcessUsage, options.BuildInfo);
        var exporter = new PrometheusPullExporter(store.TimeProvider);
        var scrape = new PrometheusScrapeHandler(exporter, options.ScrapeCacheDuration, options.ScrapeCollectTimeout, store.TimeProvider);
        return new TelemetryPipeline(options, instruments, exporter, scrape);
    }

    /// <summary>A pipeline with its own MeterProvider (tests, benchmarks, one-shot commands).</summary>
    public static TelemetryPipeline Build(ObservationStore store, TelemetryPipelineOptions? options = null, Action<MeterProviderBuilder>? configure = null)
    {
        var pipeline = Create(store, options);
        var builder = Sdk.CreateMeterProviderBuilder();
        pipeline.ConfigureMetrics(builder);
        configure?.Invoke(builder);
        pipeline.MeterProvider = builder.Build();
        return pipeline;
    }

    /// <summary>Resource, our meter and the Prometheus pull reader on <paramref name="builder"/>; call once.</summary>
    public void ConfigureMetrics(MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder
            .SetResourceBuilder(CreateResource(options))
            .AddMeter(options.MeterName);
        if (options.CardinalityLimit is int limit)
        {
            // No boundaries here: histograms keep the buckets their instruments advise.
            builder.AddView(instrument => instrument.Meter.Name == options.MeterName ? new MetricStreamConfiguration { CardinalityLimit = limit } : null);
        }

        builder.AddReader(new BaseExportingMetricReader(exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative });
    }

    public static ResourceBuilder CreateResource(TelemetryPipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var proc = new ProcReader(options.KernelFs, KernelRoots.Default with { Procfs = options.ProcfsRoot });
        var release = ReadOrNull(proc.ReadKernelRelease);
        var host = options.HostName ?? ReadOrNull(proc.ReadHostName) ?? Environment.MachineName;
        // service.instance.id is what a Collector's Prometheus exporters turn into `instance`:
        // the node name matches the `instance` of the scraped series and of kube-state-metrics joins.
        var node = string.IsNullOrWhiteSpace(options.NodeName) ? null : options.NodeName;
        var attributes = new Dictionary<string, object>
        {
            ["service.instance.id"] = options.ServiceInstanceId ?? node ?? host,
            ["host.name"] = host,
            ["os.type"] = "linux",
            ["os.description"] = release is null ? RuntimeInformation.OSDescription : "Linux " + release,
        };
        if (node is not null)
        {
            attributes["k8s.node.name"] = node;
        }
        if (release is not null)
        {
            attributes["os.version"] = release;
        }

        foreach (var kv in options.ResourceAttributes)
        {
            attributes[kv.Key] = kv.Value;
        }

        var builder = ResourceBuilder.CreateEmpty()
            .AddService(options.ServiceName, serviceVersion: options.ServiceVersion ?? DamonInstruments.MeterVersion, autoGenerateServiceInstanceId: false)
            .AddTelemetrySdk()
            .AddAttributes(attributes);
        if (options.UseEnvironment)
        {
            builder.AddEnvironmentVariableDetector();
        }

        return builder;
    }

    public void Dispose()
    {
        MeterProvider?.Dispose();
        Instruments.Dispose();
        Scrape.Dispose();
    }

    // An unreadable procfs (permissions, another OS) only leaves the attributes out.
    private static string? ReadOrNull(Func<string?> read)
    {
        try
        {
            return read();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
