using DamonOtel.Damon.IO;
using DamonOtel.Telemetry.Otlp;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Configuration;

/// <summary>
/// Loads and validates the YAML config. Every problem is reported with file, line, column and
/// the dotted key, all at once; nothing is silently defaulted when written wrong.
/// </summary>
internal static partial class ConfigLoader
{
    /// <summary>Loads a file; throws <see cref="ConfigException"/> with every error found.</summary>
    public static AgentConfig LoadFile(string path)
    {
        string text;
        try
        {
            text = YamlLimits.ReadFile(path);
        }
        catch (SafeFileException e)
        {
            throw new ConfigException([new ConfigError(path, 0, 0, "(file)", e.Reason)]);
        }

        return Parse(text, path);
    }

    /// <summary>
    /// The configuration without a file, validated like a file's (the OTEL_* environment can
    /// still be wrong); errors name "(no config file)".
    /// </summary>
    public static AgentConfig Defaults() => Parse(string.Empty, NoFile) with { SourceFile = null };

    private const string NoFile = "(no config file)";

    /// <summary>
    /// Parses and validates config text. Everything `run` would refuse is refused here, so that
    /// `check-config` (which calls this) and `run` never disagree; that includes the web_config
    /// file with its TLS files, and OTLP settings resolved with the OTEL_* environment.
    /// </summary>
    public static AgentConfig Parse(string yaml, string file)
    {
        var errors = new List<ConfigError>();
        if (!YamlLimits.TryLoad(yaml, file, errors, out YamlNode? top))
        {
            throw new ConfigException(errors);
        }

        YamlMappingNode? root = top as YamlMappingNode;
        if (top is not null && root is null && top is not YamlScalarNode { Value: null or "" })
        {
            errors.Add(new ConfigError(file, (int)top.Start.Line, 1, "(top)", "the config must be a mapping of keys"));
        }

        AgentConfig config = Read(new YamlNodeReader(file, string.Empty, root, errors)) with { SourceFile = file };
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        return config;
    }

    private static AgentConfig Read(YamlNodeReader r)
    {
        var defaults = new AgentConfig();

        YamlNodeReader roots = r.Mapping("roots");
        var kernelRoots = new KernelRoots(
            roots.String("sysfs", KernelRoots.Default.Sysfs)!,
            roots.String("tracefs", KernelRoots.Default.Tracefs)!,
            roots.String("procfs", KernelRoots.Default.Procfs)!);
        roots.RejectUnknownKeys();

        YamlNodeReader collection = r.Mapping("collection");
        var collectionConfig = new CollectionConfig
        {
            Interval = PositiveDuration(collection, "interval") ?? defaults.Collection.Interval,
            CommandTimeout = PositiveDuration(collection, "command_timeout") ?? defaults.Collection.CommandTimeout,
            TraceReader = collection.Keyword("trace_reader", "auto", "auto", "raw", "text") switch
            {
                "raw" => TraceReaderChoice.Raw,
                "text" => TraceReaderChoice.Text,
                _ => TraceReaderChoice.Auto,
            },
        };
        collection.RejectUnknownKeys();

        MetricsConfig metrics = ReadMetrics(r.Mapping("metrics"));

        YamlNodeReader exporters = r.Mapping("exporters");
        PrometheusConfig prometheus = ReadPrometheus(exporters.Mapping("prometheus"));
        int errorsBeforeOtlp = r.Errors.Count;
        YamlNodeReader otlpNode = exporters.Mapping("otlp");
        var otlp = new OtlpConfig
        {
            Enabled = otlpNode.Bool("enabled", otlpNode.IsPresent),
            Endpoint = Endpoint(otlpNode, "endpoint"),
            Protocol = NullableKeyword(otlpNode, "protocol", "grpc", "http/protobuf"),
            Headers = otlpNode.StringMap("headers"),
            Compression = NullableKeyword(otlpNode, "compression", "none", "gzip"),
            Timeout = PositiveDuration(otlpNode, "timeout"),
            Interval = PositiveDuration(otlpNode, "interval"),
            Temporality = NullableKeyword(otlpNode, "temporality", "cumulative", "delta", "lowmemory"),
        };
        otlpNode.RejectUnknownKeys();
        if (r.Errors.Count == errorsBeforeOtlp)
        {
            // run resolves these with the OTEL_EXPORTER_OTLP_* environment: so does check-config.
            try
            {
                _ = OtlpSettings.Resolve(otlp.SettingsValues);
            }
            catch (OtlpSettingsException e)
            {
                exporters.Error(exporters.Raw("otlp"), "otlp", e.Message);
            }
        }

        exporters.RejectUnknownKeys();

        ResourceConfig resource = ReadResource(r.Mapping("resource"));

        YamlNodeReader attach = r.Mapping("attach");
        var attachConfig = new AttachConfig
        {
            Enabled = attach.Bool("enabled", true),
            Refresh = attach.Bool("refresh", false),
            RegionSource = Source(attach, "region_source", allowDamonStat: true),
            MappedOnly = attach.Bool("mapped_only", true),
        };
        attach.RejectUnknownKeys();

        YamlNodeReader logNode = r.Mapping("log");
        _ = Hosting.LogSettings.TryParseLevel(logNode.Keyword("level", "info", [.. Hosting.LogSettings.Levels]), out Microsoft.Extensions.Logging.LogLevel logLevel);
        var log = new Hosting.LogSettings { Level = logLevel, Format = logNode.Keyword("format", "logfmt", [.. Hosting.LogSettings.Formats]) };
        logNode.RejectUnknownKeys();

        string defaultMonitoring = r.Keyword("default_monitoring", "auto", "auto", "on", "off");
        KernelModulesConfig kernelModules = ReadKernelModules(r.Mapping("kernel_modules"));

        var kdamonds = new List<KdamondConfig>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyList<YamlNodeReader> kdamondNodes = r.MappingList("kdamonds");
        for (int i = 0; i < kdamondNodes.Count; i++)
        {
            KdamondConfig k = ReadKdamond(kdamondNodes[i], i);
            if (!names.Add(k.Name))
            {
                kdamondNodes[i].Error(kdamondNodes[i].Raw("name"), "name", $"'{k.Name}' is used by another kdamond; names must be unique");
            }

            kdamonds.Add(k);
        }

        var result = new AgentConfig
        {
            Roots = kernelRoots,
            StateDir = r.String("state_dir", defaults.StateDir)!,
            Collection = collectionConfig,
            Metrics = metrics,
            Prometheus = prometheus,
            Otlp = otlp,
            Resource = resource,
            Log = log,
            Attach = attachConfig,
            DefaultMonitoring = defaultMonitoring switch { "on" => DefaultMonitoring.On, "off" => DefaultMonitoring.Off, _ => DefaultMonitoring.Auto },
            KernelModules = kernelModules,
            StopOnExit = r.Bool("stop_on_exit", true),
            Kdamonds = kdamonds,
        };
        r.RejectUnknownKeys();
        return result;
    }
}
