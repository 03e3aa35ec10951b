using DamonOtel.Telemetry.Otlp;

namespace DamonOtel.Telemetry.Tests;

/// <summary>Precedence and validation of <see cref="OtlpSettings.Resolve(OtlpConfigValues?, IReadOnlyDictionary{string, string?})"/>.</summary>
public sealed class OtlpSettingsTests
{
    private const string E = "OTEL_EXPORTER_OTLP_";

    // Each env entry is "NAME=value" (split on the first '=').
    private static Dictionary<string, string?> Env(string[] entries) =>
        entries.ToDictionary(e => e[..e.IndexOf('=', StringComparison.Ordinal)], e => (string?)e[(e.IndexOf('=', StringComparison.Ordinal) + 1)..]);

    public static TheoryData<string, string?, string?, bool?, string[], string, OtlpProtocol, bool> EndpointCases => new()
    {
        // name, config endpoint, config protocol, config enabled, env, expected URL, protocol, enabled
        { "nothing set: default gRPC endpoint, push off", null, null, null, [], "http://localhost:4317/", OtlpProtocol.Grpc, false },
        { "generic endpoint enables, gRPC keeps it as-is", null, null, null, [E + "ENDPOINT=http://c:4317"], "http://c:4317/", OtlpProtocol.Grpc, true },
        { "generic endpoint + http/protobuf appends /v1/metrics", null, null, null, [E + "ENDPOINT=http://c:4318", E + "PROTOCOL=http/protobuf"], "http://c:4318/v1/metrics", OtlpProtocol.HttpProtobuf, true },
        { "generic endpoint with a base path", null, null, null, [E + "ENDPOINT=http://c:9090/api/v1/otlp/", E + "PROTOCOL=http/protobuf"], "http://c:9090/api/v1/otlp/v1/metrics", OtlpProtocol.HttpProtobuf, true },
        { "metrics endpoint is used as-is and beats the generic one", null, null, null, [E + "ENDPOINT=http://c:4318", E + "METRICS_ENDPOINT=http://m:9000/custom", E + "METRICS_PROTOCOL=http/protobuf"], "http://m:9000/custom", OtlpProtocol.HttpProtobuf, true },
        { "http/protobuf without endpoint: default base + path, push off", null, null, null, [E + "PROTOCOL=http/protobuf"], "http://localhost:4318/v1/metrics", OtlpProtocol.HttpProtobuf, false },
        { "metrics protocol beats generic protocol", null, null, null, [E + "PROTOCOL=http/protobuf", E + "METRICS_PROTOCOL=grpc", E + "ENDPOINT=http://c:4317"], "http://c:4317/", OtlpProtocol.Grpc, true },
        { "config endpoint beats env, is a base URL", "http://cfg:4318", "http/protobuf", null, [E + "METRICS_ENDPOINT=http://m:1/x"], "http://cfg:4318/v1/metrics", OtlpProtocol.HttpProtobuf, true },
        { "config endpoint already ending in /v1/metrics is kept", "http://cfg:4318/v1/metrics", "http/protobuf", null, [], "http://cfg:4318/v1/metrics", OtlpProtocol.HttpProtobuf, true },
        { "config protocol beats env protocols", null, "GRPC", null, [E + "PROTOCOL=http/protobuf", E + "METRICS_PROTOCOL=http/protobuf", E + "ENDPOINT=http://c:4317"], "http://c:4317/", OtlpProtocol.Grpc, true },
        { "config enabled without endpoint uses the default", null, null, true, [], "http://localhost:4317/", OtlpProtocol.Grpc, true },
        { "config disabled beats an env endpoint", null, null, false, [E + "ENDPOINT=http://c:4317"], "http://c:4317/", OtlpProtocol.Grpc, false },
        { "OTEL_SDK_DISABLED=true turns push off", null, null, null, [E + "ENDPOINT=http://c:4317", "OTEL_SDK_DISABLED=true"], "http://c:4317/", OtlpProtocol.Grpc, false },
        { "OTEL_SDK_DISABLED=TRUE even against config enabled (the SDK disables the provider)", null, null, true, ["OTEL_SDK_DISABLED=TRUE"], "http://localhost:4317/", OtlpProtocol.Grpc, false },
        { "OTEL_SDK_DISABLED=false changes nothing", null, null, null, [E + "ENDPOINT=http://c:4317", "OTEL_SDK_DISABLED=false"], "http://c:4317/", OtlpProtocol.Grpc, true },
        { "empty env values count as unset", null, null, null, [E + "ENDPOINT=", E + "METRICS_ENDPOINT=  ", E + "PROTOCOL="], "http://localhost:4317/", OtlpProtocol.Grpc, false },
    };

    [Theory]
    [MemberData(nameof(EndpointCases))]
    public void Endpoint_protocol_and_enabled(string name, string? endpoint, string? protocol, bool? enabled, string[] env, string url, OtlpProtocol expectedProtocol, bool expectedEnabled)
    {
        var s = OtlpSettings.Resolve(new OtlpConfigValues { Endpoint = endpoint, Protocol = protocol, Enabled = enabled }, Env(env));
        Assert.True(url == s.Endpoint.AbsoluteUri, $"{name}: endpoint {s.Endpoint.AbsoluteUri}");
        Assert.True(expectedProtocol == s.Protocol, $"{name}: protocol {s.Protocol}");
        Assert.True(expectedEnabled == s.Enabled, $"{name}: enabled {s.Enabled}");
    }

    [Fact]
    public void Defaults_follow_the_spec()
    {
        var s = OtlpSettings.Resolve(null, new Dictionary<string, string?>());
        Assert.Empty(s.Headers);
        Assert.Equal(OtlpCompression.None, s.Compression);
        Assert.Equal(TimeSpan.FromMilliseconds(10000), s.Timeout);
        Assert.Equal(TimeSpan.FromMilliseconds(60000), s.ExportInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(30000), s.ExportTimeout);
        Assert.Equal(OtlpTemporality.Cumulative, s.Temporality);
    }

    public static TheoryData<string, string[], string> HeaderCases => new()
    {
        // name, env, expected headers rendered "k=v;k=v" sorted by key
        { "generic headers, trimmed and percent-decoded", [E + "HEADERS= a=1 , b = x%20y%3D ,"], "a=1;b=x y=" },
        { "metrics headers replace generic ones", [E + "HEADERS=a=1", E + "METRICS_HEADERS=c=3"], "c=3" },
        { "value may contain '='", [E + "HEADERS=authorization=Basic dXNlcjpwYXNz=="], "authorization=Basic dXNlcjpwYXNz==" },
    };

    [Theory]
    [MemberData(nameof(HeaderCases))]
    public void Headers_from_env(string name, string[] env, string expected)
    {
        var s = OtlpSettings.Resolve(null, Env(env));
        var rendered = string.Join(";", s.Headers.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => $"{h.Key}={h.Value}"));
        Assert.True(expected == rendered, $"{name}: got '{rendered}'");
    }

    [Fact]
    public void Config_headers_beat_env_headers_entirely()
    {
        var s = OtlpSettings.Resolve(
            new OtlpConfigValues { Headers = new Dictionary<string, string> { ["k"] = "v" } },
            Env([E + "HEADERS=a=1", E + "METRICS_HEADERS=c=3"]));
        Assert.Equal("v", Assert.Single(s.Headers, h => true).Value);
        Assert.Equal("k", s.Headers.Single().Key);
    }

    public static TheoryData<string, string[], string?, OtlpCompression> CompressionCases => new()
    {
        { "generic gzip", [E + "COMPRESSION=gzip"], null, OtlpCompression.Gzip },
        { "metrics none beats generic gzip", [E + "COMPRESSION=gzip", E + "METRICS_COMPRESSION=none"], null, OtlpCompression.None },
        { "config gzip beats env none", [E + "COMPRESSION=none", E + "METRICS_COMPRESSION=none"], "GZip", OtlpCompression.Gzip },
    };

    [Theory]
    [MemberData(nameof(CompressionCases))]
    public void Compression_precedence(string name, string[] env, string? config, OtlpCompression expected)
    {
        var s = OtlpSettings.Resolve(new OtlpConfigValues { Compression = config }, Env(env));
        Assert.True(expected == s.Compression, $"{name}: {s.Compression}");
    }

    public static TheoryData<string, string[], int?, int?, int?, int, int, int> DurationCases => new()
    {
        // name, env, config timeout/interval/export timeout (ms), expected timeout/interval/export timeout (ms)
        { "generic timeout", [E + "TIMEOUT=5000"], null, null, null, 5000, 60000, 30000 },
        { "metrics timeout beats generic", [E + "TIMEOUT=5000", E + "METRICS_TIMEOUT=2500"], null, null, null, 2500, 60000, 30000 },
        { "config timeout beats env", [E + "TIMEOUT=5000", E + "METRICS_TIMEOUT=2500"], 1000, null, null, 1000, 60000, 30000 },
        { "reader interval and timeout from env", ["OTEL_METRIC_EXPORT_INTERVAL=15000", "OTEL_METRIC_EXPORT_TIMEOUT=7000"], null, null, null, 10000, 15000, 7000 },
        { "config interval and timeout beat env", ["OTEL_METRIC_EXPORT_INTERVAL=15000", "OTEL_METRIC_EXPORT_TIMEOUT=7000"], null, 5000, 4000, 10000, 5000, 4000 },
    };

    [Theory]
    [MemberData(nameof(DurationCases))]
    public void Duration_precedence(string name, string[] env, int? timeout, int? interval, int? exportTimeout, int expTimeout, int expInterval, int expExportTimeout)
    {
        static TimeSpan? Ms(int? v) => v is { } x ? TimeSpan.FromMilliseconds(x) : null;
        var s = OtlpSettings.Resolve(new OtlpConfigValues { Timeout = Ms(timeout), ExportInterval = Ms(interval), ExportTimeout = Ms(exportTimeout) }, Env(env));
        Assert.True(TimeSpan.FromMilliseconds(expTimeout) == s.Timeout, $"{name}: timeout {s.Timeout}");
        Assert.True(TimeSpan.FromMilliseconds(expInterval) == s.ExportInterval, $"{name}: interval {s.ExportInterval}");
        Assert.True(TimeSpan.FromMilliseconds(expExportTimeout) == s.ExportTimeout, $"{name}: export timeout {s.ExportTimeout}");
    }

    public static TheoryData<string, string[], string?, OtlpTemporality> TemporalityCases => new()
    {
        { "env delta (any case)", ["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=Delta"], null, OtlpTemporality.Delta },
        { "env lowmemory", ["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=LOWMEMORY"], null, OtlpTemporality.LowMemory },
        { "config cumulative beats env delta", ["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta"], "cumulative", OtlpTemporality.Cumulative },
        { "config delta", [], "delta", OtlpTemporality.Delta },
    };

    [Theory]
    [MemberData(nameof(TemporalityCases))]
    public void Temporality_precedence(string name, string[] env, string? config, OtlpTemporality expected)
    {
        var s = OtlpSettings.Resolve(new OtlpConfigValues { Temporality = config }, Env(env));
        Assert.True(expected == s.Temporality, $"{name}: {s.Temporality}");
    }

    public static TheoryData<string[], string> EnvErrorCases => new()
    {
        // env, text the message must contain (the variable name and the culprit)
        { [E + "PROTOCOL=http/json"], "OTEL_EXPORTER_OTLP_PROTOCOL: protocol 'http/json' is not supported" },
        { [E + "METRICS_PROTOCOL=udp"], "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: invalid protocol 'udp'" },
        { [E + "ENDPOINT=localhost:4317"], "OTEL_EXPORTER_OTLP_ENDPOINT: invalid endpoint 'localhost:4317'" },
        { [E + "METRICS_ENDPOINT=ftp://c/x"], "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: invalid endpoint 'ftp://c/x'" },
        { [E + "ENDPOINT=http://c:4318/?a=b"], "OTEL_EXPORTER_OTLP_ENDPOINT: endpoint 'http://c:4318/?a=b' must not have a query" },
        { [E + "TIMEOUT=abc"], "OTEL_EXPORTER_OTLP_TIMEOUT: invalid value 'abc'" },
        { [E + "METRICS_TIMEOUT=-5"], "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: invalid value '-5'" },
        { [E + "TIMEOUT=0"], "OTEL_EXPORTER_OTLP_TIMEOUT: invalid value '0'" },
        { ["OTEL_METRIC_EXPORT_INTERVAL=1.5s"], "OTEL_METRIC_EXPORT_INTERVAL: invalid value '1.5s'" },
        { ["OTEL_METRIC_EXPORT_TIMEOUT=99999999999"], "OTEL_METRIC_EXPORT_TIMEOUT: invalid value '99999999999'" },
        { [E + "COMPRESSION=brotli"], "OTEL_EXPORTER_OTLP_COMPRESSION: invalid compression 'brotli'" },
        { ["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=sometimes"], "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: invalid temporality preference 'sometimes'" },
        { [E + "HEADERS=novalue"], "OTEL_EXPORTER_OTLP_HEADERS: invalid header entry 'novalue'" },
        { [E + "METRICS_HEADERS==v"], "OTEL_EXPORTER_OTLP_METRICS_HEADERS: invalid header entry '=v'" },
        { [E + "HEADERS=k=a%2Cb"], "OTEL_EXPORTER_OTLP_HEADERS: header 'k' has a value containing ','" },
        { [E + "HEADERS=bad key=v"], "OTEL_EXPORTER_OTLP_HEADERS: invalid header name 'bad key'" },
        { ["OTEL_SDK_DISABLED=yes"], "OTEL_SDK_DISABLED: invalid value 'yes'" },
    };

    [Theory]
    [MemberData(nameof(EnvErrorCases))]
    public void Invalid_env_values_name_the_variable(string[] env, string expected)
    {
        var e = Assert.Throws<OtlpSettingsException>(() => OtlpSettings.Resolve(null, Env(env)));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<OtlpConfigValues, string> ConfigErrorCases => new()
    {
        { new OtlpConfigValues { Protocol = "grpcx" }, "otlp.protocol: invalid protocol 'grpcx'" },
        { new OtlpConfigValues { Endpoint = "not a url" }, "otlp.endpoint: invalid endpoint 'not a url'" },
        { new OtlpConfigValues { Compression = "zstd" }, "otlp.compression: invalid compression 'zstd'" },
        { new OtlpConfigValues { Temporality = "both" }, "otlp.temporality: invalid temporality preference 'both'" },
        { new OtlpConfigValues { Timeout = TimeSpan.Zero }, "otlp.timeout: duration 00:00:00 out of range" },
        { new OtlpConfigValues { ExportInterval = TimeSpan.FromDays(30) }, "otlp.export_interval: duration 30.00:00:00 out of range" },
        { new OtlpConfigValues { ExportTimeout = TimeSpan.FromMilliseconds(-1) }, "otlp.export_timeout: duration -00:00:00.0010000 out of range" },
        { new OtlpConfigValues { Headers = new Dictionary<string, string> { ["bad name"] = "v" } }, "otlp.headers: invalid header name 'bad name'" },
        { new OtlpConfigValues { Headers = new Dictionary<string, string> { ["k"] = "a\r\nInjected: 1" } }, "otlp.headers: header 'k' has a value with control characters" },
    };

    [Theory]
    [MemberData(nameof(ConfigErrorCases))]
    public void Invalid_config_values_name_the_key(OtlpConfigValues config, string expected)
    {
        // A valid env must not mask the config error.
        var e = Assert.Throws<OtlpSettingsException>(() => OtlpSettings.Resolve(config, Env([E + "PROTOCOL=grpc"])));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_env_value_is_ignored_when_config_sets_the_key()
    {
        // An invalid env var is irrelevant when the config sets that value.
        var s = OtlpSettings.Resolve(new OtlpConfigValues { Protocol = "grpc" }, Env([E + "PROTOCOL=carrier-pigeon"]));
        Assert.Equal(OtlpProtocol.Grpc, s.Protocol);
    }
}
