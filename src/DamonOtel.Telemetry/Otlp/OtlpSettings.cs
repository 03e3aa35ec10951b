using System.Globalization;

namespace DamonOtel.Telemetry.Otlp;

/// <summary>OTLP transport.</summary>
public enum OtlpProtocol
{
    /// <summary>gRPC over HTTP/2 (h2c for http:// endpoints).</summary>
    Grpc,

    /// <summary>Protobuf body over HTTP POST (`http/protobuf`).</summary>
    HttpProtobuf,
}

/// <summary>Request body compression.</summary>
public enum OtlpCompression
{
    /// <summary>No compression.</summary>
    None,

    /// <summary>gzip.</summary>
    Gzip,
}

/// <summary>Aggregation temporality preference of the OTLP reader.</summary>
public enum OtlpTemporality
{
    /// <summary>Cumulative for every instrument (what Prometheus-bound backends expect).</summary>
    Cumulative,

    /// <summary>Delta for counters and histograms, cumulative for up-down counters.</summary>
    Delta,

    /// <summary>Delta only for synchronous counters and histograms.</summary>
    LowMemory,
}

/// <summary>
/// OTLP values given explicitly (config file). Null means "not set": the standard
/// OTEL_* environment variables and then the defaults apply. Enum-like values are strings
/// so that a bad value is reported against the config key.
/// </summary>
public sealed record OtlpConfigValues
{
    /// <summary>`otlp.enabled`.</summary>
    public bool? Enabled { get; init; }

    /// <summary>`otlp.endpoint`: base URL. For http/protobuf `/v1/metrics` is appended unless the path already ends with it.</summary>
    public string? Endpoint { get; init; }

    /// <summary>`otlp.protocol`: `grpc` or `http/protobuf`.</summary>
    public string? Protocol { get; init; }

    /// <summary>`otlp.headers`: replaces any header set from the environment.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>`otlp.compression`: `none` or `gzip`.</summary>
    public string? Compression { get; init; }

    /// <summary>`otlp.timeout`: per-export request timeout.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>`otlp.export_interval`.</summary>
    public TimeSpan? ExportInterval { get; init; }

    /// <summary>`otlp.export_timeout`: bound of one collect+export cycle of the periodic reader.</summary>
    public TimeSpan? ExportTimeout { get; init; }

    /// <summary>`otlp.temporality`: `cumulative`, `delta` or `lowmemory`.</summary>
    public string? Temporality { get; init; }
}

/// <summary>Invalid OTLP setting; the message names the config key or environment variable.</summary>
public sealed class OtlpSettingsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OtlpSettingsException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public OtlpSettingsException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public OtlpSettingsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Fully resolved OTLP push settings. <see cref="Endpoint"/> is the exact URL the exporter
/// posts to (for http/protobuf it includes `/v1/metrics`), because an endpoint set in code
/// disables the exporter's own path appending.
/// </summary>
public sealed record OtlpSettings(
    bool Enabled,
    Uri Endpoint,
    OtlpProtocol Protocol,
    IReadOnlyDictionary<string, string> Headers,
    OtlpCompression Compression,
    TimeSpan Timeout,
    TimeSpan ExportInterval,
    TimeSpan ExportTimeout,
    OtlpTemporality Temporality)
{
    /// <summary>Signal path appended to base URLs for http/protobuf.</summary>
    public const string MetricsPath = "v1/metrics";

    /// <summary>Default OTLP/gRPC endpoint.</summary>
    public static readonly Uri DefaultGrpcEndpoint = new("http://localhost:4317");

    /// <summary>Default OTLP/HTTP base URL.</summary>
    public static readonly Uri DefaultHttpBase = new("http://localhost:4318");

    /// <summary>Default request timeout (OTel spec: 10 s).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Default export interval (OTel spec: 60 s).</summary>
    public static readonly TimeSpan DefaultExportInterval = TimeSpan.FromSeconds(60);

    /// <summary>Default export timeout (OTel spec: 30 s).</summary>
    public static readonly TimeSpan DefaultExportTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Resolves against the process environment.</summary>
    public static OtlpSettings Resolve(OtlpConfigValues? config) =>
        Resolve(config, Environment.GetEnvironmentVariable);

    /// <summary>Resolves against a fixed set of environment variables (tests).</summary>
    public static OtlpSettings Resolve(OtlpConfigValues? config, IReadOnlyDictionary<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return Resolve(config, name => environment.TryGetValue(name, out var v) ? v : null);
    }

    /// <summary>
    /// Resolves each value: explicit config wins, then OTEL_EXPORTER_OTLP_METRICS_*, then
    /// OTEL_EXPORTER_OTLP_*, then the spec defaults. Empty environment values count as unset.
    /// OTLP push is enabled when the config says so, or otherwise when an endpoint is given
    /// anywhere; OTEL_SDK_DISABLED=true disables it in every case because the SDK then
    /// disables the whole MeterProvider anyway.
    /// </summary>
    public static OtlpSettings Resolve(OtlpConfigValues? config, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        config ??= new OtlpConfigValues();
        string? Env(string name)
        {
            var v = environment(name);
            return string.IsNullOrWhiteSpace(v) ? null : v.Trim();
        }

        var sdkDisabled = Env(EnvVars.SdkDisabled) is { } disabledText && ParseBool(disabledText, EnvVars.SdkDisabled);

        var protocol = config.Protocol is { } p
            ? ParseProtocol(p, "otlp.protocol")
            : (Pick(Env, EnvVars.MetricsProtocol, EnvVars.Protocol) is { } pe ? ParseProtocol(pe.Value, pe.Name) : OtlpProtocol.Grpc);

        Uri? endpoint = null;
        if (config.Endpoint is { } configured)
        {
            var baseUri = ParseEndpoint(configured, "otlp.endpoint");
            endpoint = protocol == OtlpProtocol.HttpProtobuf ? AppendMetricsPath(baseUri) : baseUri;
        }
        else if (Env(EnvVars.MetricsEndpoint) is { } metricsEndpoint)
        {
            // The signal-specific variable is a full URL and used as-is (OTel spec).
            endpoint = ParseEndpoint(metricsEndpoint, EnvVars.MetricsEndpoint);
        }
        else if (Env(EnvVars.Endpoint) is { } genericEndpoint)
        {
            var baseUri = ParseEndpoint(genericEndpoint, EnvVars.Endpoint);
            endpoint = protocol == OtlpProtocol.HttpProtobuf ? AppendMetricsPath(baseUri) : baseUri;
        }

        var enabled = !sdkDisabled && (config.Enabled ?? endpoint is not null);
        endpoint ??= protocol == OtlpProtocol.HttpProtobuf ? AppendMetricsPath(DefaultHttpBase) : DefaultGrpcEndpoint;

        IReadOnlyDictionary<string, string> headers;
        if (config.Headers is { } configHeaders)
        {
            foreach (var (key, value) in configHeaders)
            {
                ValidateHeader(key, value, "otlp.headers");
            }

            headers = new Dictionary<string, string>(configHeaders, StringComparer.OrdinalIgnoreCase);
        }
        else
        {
            headers = Pick(Env, EnvVars.MetricsHeaders, EnvVars.Headers) is { } he
                ? ParseHeaders(he.Value, he.Name)
                : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        }

        var compression = config.Compression is { } c
            ? ParseCompression(c, "otlp.compression")
            : (Pick(Env, EnvVars.MetricsCompression, EnvVars.Compression) is { } ce ? ParseCompression(ce.Value, ce.Name) : OtlpCompression.None);

        var timeout = config.Timeout is { } t
            ? CheckDuration(t, "otlp.timeout")
            : (Pick(Env, EnvVars.MetricsTimeout, EnvVars.Timeout) is { } te ? ParseMilliseconds(te.Value, te.Name) : DefaultTimeout);

        var interval = config.ExportInterval is { } i
            ? CheckDuration(i, "otlp.export_interval")
            : (Env(EnvVars.ExportInterval) is { } iv ? ParseMilliseconds(iv, EnvVars.ExportInterval) : DefaultExportInterval);

        var exportTimeout = config.ExportTimeout is { } et
            ? CheckDuration(et, "otlp.export_timeout")
            : (Env(EnvVars.ExportTimeout) is { } etv ? ParseMilliseconds(etv, EnvVars.ExportTimeout) : DefaultExportTimeout);

        var temporality = config.Temporality is { } tp
            ? ParseTemporality(tp, "otlp.temporality")
            : (Env(EnvVars.TemporalityPreference) is { } tpv ? ParseTemporality(tpv, EnvVars.TemporalityPreference) : OtlpTemporality.Cumulative);

        return new OtlpSettings(enabled, endpoint, protocol, headers, compression, timeout, interval, exportTimeout, temporality);
    }

    /// <summary>The signal-specific variable if set, else the generic one, with its name for error messages.</summary>
    private static (string Name, string Value)? Pick(Func<string, string?> env, string specific, string generic) =>
        env(specific) is { } s ? (specific, s) : env(generic) is { } g ? (generic, g) : null;

    /// <summary>Parses `grpc` / `http/protobuf` (case-insensitive).</summary>
    public static OtlpProtocol ParseProtocol(string value, string source)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Trim().ToUpperInvariant() switch
        {
            "GRPC" => OtlpProtocol.Grpc,
            "HTTP/PROTOBUF" => OtlpProtocol.HttpProtobuf,
            "HTTP/JSON" => throw new OtlpSettingsException($"{source}: protocol 'http/json' is not supported by the .NET OTLP exporter; use 'grpc' or 'http/protobuf'."),
            _ => throw new OtlpSettingsException($"{source}: invalid protocol '{value}'; expected 'grpc' or 'http/protobuf'."),
        };
    }

    /// <summary>Parses `none` / `gzip` (case-insensitive).</summary>
    public static OtlpCompression ParseCompression(string value, string source)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Trim().ToUpperInvariant() switch
        {
            "NONE" => OtlpCompression.None,
            "GZIP" => OtlpCompression.Gzip,
            _ => throw new OtlpSettingsException($"{source}: invalid compression '{value}'; expected 'none' or 'gzip'."),
        };
    }

    /// <summary>Parses `cumulative` / `delta` / `lowmemory` (case-insensitive).</summary>
    public static OtlpTemporality ParseTemporality(string value, string source)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Trim().ToUpperInvariant() switch
        {
            "CUMULATIVE" => OtlpTemporality.Cumulative,
            "DELTA" => OtlpTemporality.Delta,
            "LOWMEMORY" => OtlpTemporality.LowMemory,
            _ => throw new OtlpSettingsException($"{source}: invalid temporality preference '{value}'; expected 'cumulative', 'delta' or 'lowmemory'."),
        };
    }

    /// <summary>
    /// Parses the OTEL_EXPORTER_OTLP_HEADERS format: comma-separated `key=value` pairs,
    /// whitespace around items trimmed, values percent-decoded (W3C baggage style).
    /// </summary>
    public static IReadOnlyDictionary<string, string> ParseHeaders(string value, string source)
    {
        ArgumentNullException.ThrowIfNull(value);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new OtlpSettingsException($"{source}: invalid header entry '{item}'; expected 'key=value'.");
            }

            var key = item[..eq].Trim();
            string decoded;
            try
            {
                decoded = Uri.UnescapeDataString(item[(eq + 1)..].Trim());
            }
            catch (UriFormatException e)
            {
                throw new OtlpSettingsException($"{source}: header '{key}' has an invalid percent-encoded value.", e);
            }

            ValidateHeader(key, decoded, source);
            headers[key] = decoded;
        }

        return headers;
    }

    private static void ValidateHeader(string key, string value, string source)
    {
        if (string.IsNullOrWhiteSpace(key) || key.Any(ch => ch <= ' ' || ch >= 0x7f || "()<>@,;:\\\"/[]?={}".Contains(ch, StringComparison.Ordinal)))
        {
            throw new OtlpSettingsException($"{source}: invalid header name '{key}'.");
        }

        if (value is null || value.Any(ch => ch is '\r' or '\n' or '\0'))
        {
            throw new OtlpSettingsException($"{source}: header '{key}' has a value with control characters.");
        }

        // The exporter takes headers as one "k=v,k=v" string that it percent-decodes before
        // splitting on ',', so no encoding can carry a comma inside a value (verified on 1.20.1).
        if (value.Contains(',', StringComparison.Ordinal))
        {
            throw new OtlpSettingsException($"{source}: header '{key}' has a value containing ',', which the .NET OTLP exporter cannot send.");
        }
    }

    private static TimeSpan ParseMilliseconds(string value, string source)
    {
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms <= 0 || ms > int.MaxValue)
        {
            throw new OtlpSettingsException($"{source}: invalid value '{value}'; expected a positive whole number of milliseconds.");
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    private static TimeSpan CheckDuration(TimeSpan value, string source)
    {
        // The exporter APIs take whole milliseconds as int.
        if (value < TimeSpan.FromMilliseconds(1) || value.TotalMilliseconds > int.MaxValue)
        {
            throw new OtlpSettingsException($"{source}: duration {value} out of range; expected between 1ms and {int.MaxValue}ms.");
        }

        return value;
    }

    private static bool ParseBool(string value, string source) => value.Trim().ToUpperInvariant() switch
    {
        "TRUE" => true,
        "FALSE" => false,
        _ => throw new OtlpSettingsException($"{source}: invalid value '{value}'; expected 'true' or 'false'."),
    };

    private static Uri ParseEndpoint(string value, string source)
    {
        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host))
        {
            throw new OtlpSettingsException($"{source}: invalid endpoint '{value}'; expected an absolute http:// or https:// URL.");
        }

        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw new OtlpSettingsException($"{source}: endpoint '{value}' must not have a query or fragment.");
        }

        return uri;
    }

    /// <summary>`http://h:4318` → `http://h:4318/v1/metrics`; `http://h/p/` → `http://h/p/v1/metrics`; a path already ending in `/v1/metrics` is kept.</summary>
    internal static Uri AppendMetricsPath(Uri baseUri)
    {
        var path = baseUri.AbsolutePath;
        if (path.EndsWith("/" + MetricsPath, StringComparison.Ordinal))
        {
            return baseUri;
        }

        var builder = new UriBuilder(baseUri) { Path = path.TrimEnd('/') + "/" + MetricsPath };
        return builder.Uri;
    }

    /// <summary>The environment variable names (OTel spec).</summary>
    public static class EnvVars
    {
        /// <summary>Disables the whole SDK.</summary>
        public const string SdkDisabled = "OTEL_SDK_DISABLED";

        /// <summary>Generic endpoint (base URL).</summary>
        public const string Endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";

        /// <summary>Generic protocol.</summary>
        public const string Protocol = "OTEL_EXPORTER_OTLP_PROTOCOL";

        /// <summary>Generic headers.</summary>
        public const string Headers = "OTEL_EXPORTER_OTLP_HEADERS";

        /// <summary>Generic timeout (ms).</summary>
        public const string Timeout = "OTEL_EXPORTER_OTLP_TIMEOUT";

        /// <summary>Generic compression.</summary>
        public const string Compression = "OTEL_EXPORTER_OTLP_COMPRESSION";

        /// <summary>Metrics endpoint (full URL, used as-is).</summary>
        public const string MetricsEndpoint = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";

        /// <summary>Metrics protocol.</summary>
        public const string MetricsProtocol = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";

        /// <summary>Metrics headers.</summary>
        public const string MetricsHeaders = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";

        /// <summary>Metrics timeout (ms).</summary>
        public const string MetricsTimeout = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";

        /// <summary>Metrics compression.</summary>
        public const string MetricsCompression = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";

        /// <summary>Periodic reader interval (ms).</summary>
        public const string ExportInterval = "OTEL_METRIC_EXPORT_INTERVAL";

        /// <summary>Periodic reader timeout (ms).</summary>
        public const string ExportTimeout = "OTEL_METRIC_EXPORT_TIMEOUT";

        /// <summary>Temporality preference.</summary>
        public const string TemporalityPreference = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
    }
}
