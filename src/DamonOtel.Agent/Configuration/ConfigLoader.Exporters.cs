namespace DamonOtel.Agent.Configuration;

// exporters.prometheus (listeners, web_config, limits) and resource.
internal static partial class ConfigLoader
{
    // Above this the agent would hold more sockets than a scrape target ever needs.
    private const long MaxConnectionsLimit = 65536;

    /// <summary>Loads a web_config file on its own (--web.config.file); throws <see cref="ConfigException"/> with every error.</summary>
    public static Telemetry.Http.WebConfig LoadWebConfig(string path)
    {
        var errors = new List<ConfigError>();
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([new ConfigError(path, 0, 0, "(file)", e.Message)]);
        }

        Telemetry.Http.WebConfig? web = WebConfigLoader.Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", errors);
        return errors.Count > 0 || web is null ? throw new ConfigException(errors) : web;
    }

    private static PrometheusConfig ReadPrometheus(YamlNodeReader prom)
    {
        var defaults = new PrometheusConfig();
        string? webConfigFile = prom.String("web_config");
        var prometheus = new PrometheusConfig
        {
            Enabled = prom.Bool("enabled", true),
            Listen = Listen(prom, "listen") ?? defaults.Listen,
            WebConfigFile = webConfigFile,
            WebConfig = webConfigFile is null ? null : WebConfigLoader.Load(webConfigFile, prom, "web_config"),
            HealthListen = Listen(prom, "health_listen"),
            MaxConnections = (int)(prom.Integer("max_connections", 1, MaxConnectionsLimit) ?? defaults.MaxConnections),
            Record = ReadRecordEndpoint(prom.Mapping("record")),
        };
        prom.RejectUnknownKeys();
        return prometheus;
    }

    private static RecordEndpointConfig ReadRecordEndpoint(YamlNodeReader r)
    {
        var defaults = new RecordEndpointConfig();
        string dir = r.String("dir", defaults.Dir)!;
        if (!Path.IsPathFullyQualified(dir))
        {
            r.Error(r.Raw("dir"), "dir", $"'{dir}' must be an absolute path");
        }

        TimeSpan? max = r.Duration("max_duration");
        if (max is { } m && (m <= TimeSpan.Zero || m > RecordEndpointConfig.MaxDurationLimit))
        {
            r.Error(r.Raw("max_duration"), "max_duration", $"must be above 0 and at most {RecordEndpointConfig.MaxDurationLimit.TotalHours:0}h");
            max = null;
        }

        var record = new RecordEndpointConfig
        {
            Enabled = r.Bool("enabled", false),
            Dir = dir,
            MaxDuration = max ?? defaults.MaxDuration,
        };
        r.RejectUnknownKeys();
        return record;
    }

    private static ResourceConfig ReadResource(YamlNodeReader r)
    {
        var resource = new ResourceConfig { ServiceInstanceId = r.String("service_instance_id") };
        if (resource.ServiceInstanceId is { } id && string.IsNullOrWhiteSpace(id))
        {
            r.Error(r.Raw("service_instance_id"), "service_instance_id", "must not be empty (leave it out for the node or host name)");
        }

        r.RejectUnknownKeys();
        return resource;
    }
}
