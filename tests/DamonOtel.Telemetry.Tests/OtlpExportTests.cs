using System.Diagnostics.Metrics;
using DamonOtel.OtlpReceiver;
using DamonOtel.OtlpReceiver.Proto.Collector;
using DamonOtel.OtlpReceiver.Proto.Metrics;
using AggregationTemporality = DamonOtel.OtlpReceiver.Proto.Metrics.AggregationTemporality;
using Metric = DamonOtel.OtlpReceiver.Proto.Metrics.Metric;
using DamonOtel.Telemetry.Otlp;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace DamonOtel.Telemetry.Tests;

/// <summary>
/// The real OTLP exporter, configured by <see cref="OtlpExportConfigurator"/>, talking to
/// <see cref="OtlpTestReceiver"/>, which decodes the wire bytes with its own protobuf classes.
/// </summary>
public sealed class OtlpExportTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    // Long interval: only ForceFlush exports, so each flush yields exactly one request.
    private static readonly TimeSpan FlushOnly = TimeSpan.FromMinutes(10);

    private OtlpTestReceiver receiver = null!;

    public async Task InitializeAsync() => receiver = await OtlpTestReceiver.StartAsync();

    public async Task DisposeAsync() => await receiver.DisposeAsync();

    public static TheoryData<OtlpProtocol, OtlpCompression> Transports => new()
    {
        { OtlpProtocol.Grpc, OtlpCompression.None },
        { OtlpProtocol.Grpc, OtlpCompression.Gzip },
        { OtlpProtocol.HttpProtobuf, OtlpCompression.None },
        { OtlpProtocol.HttpProtobuf, OtlpCompression.Gzip },
    };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Export_carries_names_units_attributes_types_buckets_resource_and_headers(OtlpProtocol protocol, OtlpCompression compression)
    {
        var settings = Settings(protocol, compression, new Dictionary<string, string>
        {
            ["x-damon-token"] = "s3cret",
            // '=' '%' and a space must survive the exporter's "k=v,k=v" option string, which it percent-decodes.
            ["x-damon-tricky"] = "b=c%d e",
        });
        using var instruments = new TestInstruments();
        using (var provider = Build(instruments, settings))
        {
            Assert.True(provider.ForceFlush(30_000));
        }

        var export = await receiver.NextAsync(Wait);
        Assert.Empty(receiver.Errors);

        // Transport as configured.
        Assert.Equal(protocol == OtlpProtocol.Grpc ? OtlpTransport.Grpc : OtlpTransport.HttpProtobuf, export.Transport);
        Assert.Equal(protocol == OtlpProtocol.Grpc ? "HTTP/2" : "HTTP/1.1", export.HttpProtocol);
        Assert.Equal(compression == OtlpCompression.Gzip, export.Compressed);
        Assert.Equal("s3cret", export.Headers["x-damon-token"]);
        Assert.Equal("b=c%d e", export.Headers["x-damon-tricky"]);

        AssertResourceAndScope(export.Request, instruments.Meter.Name);
        var request = export.Request;

        // Observable gauge in By with kdamond/target.
        var wss = request.Metric("test.memory.working_set");
        Assert.Equal("By", wss.Unit);
        Assert.Equal("Working set size", wss.Description);
        Assert.Equal(Metric.DataOneofCase.Gauge, wss.DataCase);
        Assert.Equal(2, wss.Gauge.DataPoints.Count);
        Assert.Equal(4096, wss.Gauge.DataPoints.Point(("kdamond", "web"), ("target", "nginx")).AsInt);
        Assert.Equal(8192, wss.Gauge.DataPoints.Point(("kdamond", "web"), ("target", "php")).AsInt);

        // Observable counter: monotonic cumulative sum of doubles.
        var cpu = request.Metric("test.kdamond.cpu.time");
        Assert.Equal("s", cpu.Unit);
        Assert.Equal("CPU time of the kdamond thread", cpu.Description);
        Assert.Equal(Metric.DataOneofCase.Sum, cpu.DataCase);
        Assert.True(cpu.Sum.IsMonotonic);
        Assert.Equal(AggregationTemporality.Cumulative, cpu.Sum.AggregationTemporality);
        var cpuPoint = Assert.Single(cpu.Sum.DataPoints);
        Assert.Equal(1.5, cpuPoint.AsDouble);
        Assert.Equal("web", cpuPoint.Attributes.ToDictionary()["kdamond"]);
        Assert.True(cpuPoint.StartTimeUnixNano > 0 && cpuPoint.StartTimeUnixNano <= cpuPoint.TimeUnixNano);

        // Histogram with explicit bounds [1024, 4096, 16384]; OTel buckets are upper-inclusive:
        // 512, 1024 -> (-inf,1024]; 4096 -> (1024,4096]; 5000 -> (4096,16384]; 100000 -> (16384,+inf).
        var dist = request.Metric("test.memory.working_set.distribution");
        Assert.Equal("By", dist.Unit);
        Assert.Equal(Metric.DataOneofCase.Histogram, dist.DataCase);
        Assert.Equal(AggregationTemporality.Cumulative, dist.Histogram.AggregationTemporality);
        var h = dist.Histogram.DataPoints.Point(("kdamond", "web"), ("target", "nginx"));
        Assert.Equal(new double[] { 1024, 4096, 16384 }, h.ExplicitBounds);
        Assert.Equal(new ulong[] { 2, 1, 1, 1 }, h.BucketCounts);
        Assert.Equal(5ul, h.Count);
        Assert.Equal(512 + 1024 + 4096 + 5000 + 100000, h.Sum); // 110632
        Assert.Equal(512, h.Min);
        Assert.Equal(100000, h.Max);
    }

    [Fact]
    public async Task Cumulative_sums_keep_their_start_time_and_grow()
    {
        using var instruments = new TestInstruments();
        using var provider = Build(instruments, Settings(OtlpProtocol.HttpProtobuf, OtlpCompression.None));
        Assert.True(provider.ForceFlush(30_000));
        var first = await receiver.NextAsync(Wait);

        instruments.CpuSeconds = 4.0;
        instruments.Histogram.Record(2000, instruments.Nginx);
        Assert.True(provider.ForceFlush(30_000));
        var second = await receiver.NextAsync(Wait);
        Assert.Empty(receiver.Errors);

        var cpu1 = Assert.Single(first.Request.Metric("test.kdamond.cpu.time").Sum.DataPoints);
        var cpu2 = Assert.Single(second.Request.Metric("test.kdamond.cpu.time").Sum.DataPoints);
        Assert.Equal(1.5, cpu1.AsDouble);
        Assert.Equal(4.0, cpu2.AsDouble); // cumulative: the observed total, not 4.0 - 1.5
        Assert.Equal(cpu1.StartTimeUnixNano, cpu2.StartTimeUnixNano);

        // 5 earlier values plus 2000, which falls in (1024,4096] -> buckets [2,2,1,1].
        var h2 = second.Request.Metric("test.memory.working_set.distribution").Histogram.DataPoints.Point(("kdamond", "web"), ("target", "nginx"));
        Assert.Equal(AggregationTemporality.Cumulative, second.Request.Metric("test.memory.working_set.distribution").Histogram.AggregationTemporality);
        Assert.Equal(new ulong[] { 2, 2, 1, 1 }, h2.BucketCounts);
        Assert.Equal(6ul, h2.Count);
    }

    [Theory]
    [InlineData(OtlpProtocol.Grpc)]
    [InlineData(OtlpProtocol.HttpProtobuf)]
    public async Task Delta_temporality_is_honoured(OtlpProtocol protocol)
    {
        using var instruments = new TestInstruments();
        var settings = Settings(protocol, OtlpCompression.None) with { Temporality = OtlpTemporality.Delta };
        using var provider = Build(instruments, settings);
        Assert.True(provider.ForceFlush(30_000));
        var first = await receiver.NextAsync(Wait);

        instruments.CpuSeconds = 4.0;
        instruments.Histogram.Record(2000, instruments.Nginx);
        Assert.True(provider.ForceFlush(30_000));
        var second = await receiver.NextAsync(Wait);
        Assert.Empty(receiver.Errors);

        var cpu1 = first.Request.Metric("test.kdamond.cpu.time").Sum;
        var cpu2 = second.Request.Metric("test.kdamond.cpu.time").Sum;
        Assert.Equal(AggregationTemporality.Delta, cpu1.AggregationTemporality);
        Assert.True(cpu2.IsMonotonic);
        Assert.Equal(1.5, Assert.Single(cpu1.DataPoints).AsDouble);
        Assert.Equal(2.5, Assert.Single(cpu2.DataPoints).AsDouble); // 4.0 - 1.5

        // The second interval saw only the value 2000: bucket (1024,4096] -> [0,1,0,0].
        var hist2 = second.Request.Metric("test.memory.working_set.distribution").Histogram;
        Assert.Equal(AggregationTemporality.Delta, hist2.AggregationTemporality);
        var h2 = hist2.DataPoints.Point(("kdamond", "web"), ("target", "nginx"));
        Assert.Equal(new ulong[] { 0, 1, 0, 0 }, h2.BucketCounts);
        Assert.Equal(1ul, h2.Count);
        Assert.Equal(2000, h2.Sum);

        // Gauges have no temporality: still the last value.
        Assert.Equal(4096, second.Request.Metric("test.memory.working_set").Gauge.DataPoints.Point(("kdamond", "web"), ("target", "nginx")).AsInt);
    }

    [Fact]
    public async Task Periodic_reader_exports_without_flush()
    {
        using var instruments = new TestInstruments();
        var settings = Settings(OtlpProtocol.Grpc, OtlpCompression.None) with { ExportInterval = TimeSpan.FromMilliseconds(100) };
        using var provider = Build(instruments, settings);
        var export = await receiver.NextAsync(Wait);
        Assert.Empty(receiver.Errors);
        Assert.Equal(1.5, Assert.Single(export.Request.Metric("test.kdamond.cpu.time").Sum.DataPoints).AsDouble);
    }

    [Fact]
    public async Task Generic_env_endpoint_with_http_protobuf_posts_to_v1_metrics()
    {
        var env = new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.HttpBase.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_EXPORTER_OTLP_HEADERS"] = "x-from-env=yes%20indeed%3D%25",
            ["OTEL_EXPORTER_OTLP_COMPRESSION"] = "gzip",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "600000",
        };
        var settings = OtlpSettings.Resolve(null, env);
        Assert.True(settings.Enabled);

        using var instruments = new TestInstruments();
        using (var provider = Build(instruments, settings))
        {
            Assert.True(provider.ForceFlush(30_000));
        }

        var export = await receiver.NextAsync(Wait);
        Assert.Empty(receiver.Errors);
        Assert.Equal("/v1/metrics", export.Path);
        Assert.True(export.Compressed);
        Assert.Equal("yes indeed=%", export.Headers["x-from-env"]);
    }

    [Fact]
    public async Task Metrics_specific_env_endpoint_is_used_as_is_over_grpc_settings_of_generic_vars()
    {
        var env = new Dictionary<string, string?>
        {
            // Generic vars point at a wrong place; the metrics-specific ones must win.
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:1",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
            ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = receiver.HttpMetricsEndpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "600000",
        };
        var settings = OtlpSettings.Resolve(null, env);

        using var instruments = new TestInstruments();
        using (var provider = Build(instruments, settings))
        {
            Assert.True(provider.ForceFlush(30_000));
        }

        var export = await receiver.NextAsync(Wait);
        Assert.Empty(receiver.Errors);
        Assert.Equal(OtlpTransport.HttpProtobuf, export.Transport);
        Assert.Equal("/v1/metrics", export.Path);
    }

    [Fact]
    public async Task Disabled_settings_add_no_exporter()
    {
        using var instruments = new TestInstruments();
        var settings = Settings(OtlpProtocol.HttpProtobuf, OtlpCompression.None) with { Enabled = false };
        using (var provider = Build(instruments, settings))
        {
            provider.ForceFlush(30_000);
        }

        // The provider is disposed (its shutdown would have flushed an exporter); nothing may have been sent.
        await Task.Yield();
        Assert.Empty(receiver.All);
        Assert.Empty(receiver.Errors);
    }

    private OtlpSettings Settings(OtlpProtocol protocol, OtlpCompression compression, Dictionary<string, string>? headers = null) =>
        new(
            Enabled: true,
            Endpoint: protocol == OtlpProtocol.Grpc ? receiver.GrpcEndpoint : receiver.HttpMetricsEndpoint,
            Protocol: protocol,
            Headers: headers ?? [],
            Compression: compression,
            Timeout: TimeSpan.FromSeconds(20),
            ExportInterval: FlushOnly,
            ExportTimeout: TimeSpan.FromSeconds(25),
            Temporality: OtlpTemporality.Cumulative);

    private static MeterProvider Build(TestInstruments instruments, OtlpSettings settings)
    {
        var builder = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.Clear().AddService("damon-otel", serviceVersion: "0.1.0", serviceInstanceId: "host-a").AddTelemetrySdk())
            .AddMeter(instruments.Meter.Name);
        OtlpExportConfigurator.AddOtlp(builder, settings);
        var provider = builder.Build();

        // Synchronous measurements made before a provider listens are dropped, so record now.
        instruments.RecordInitial();
        return provider;
    }

    private static void AssertResourceAndScope(ExportMetricsServiceRequest request, string meterName)
    {
        var rm = Assert.Single(request.ResourceMetrics);
        var resource = rm.Resource.Attributes.ToDictionary();
        Assert.Equal("damon-otel", resource["service.name"]);
        Assert.Equal("0.1.0", resource["service.version"]);
        Assert.Equal("host-a", resource["service.instance.id"]);
        Assert.Equal("dotnet", resource["telemetry.sdk.language"]);
        Assert.Equal("opentelemetry", resource["telemetry.sdk.name"]);

        var scope = Assert.Single(rm.ScopeMetrics);
        Assert.Equal(meterName, scope.Scope.Name);
        Assert.Equal("1.2.3", scope.Scope.Version);
        Assert.Equal(3, scope.Metrics.Count);
    }

    /// <summary>Instruments shaped like the agent's: a By gauge, a CPU-seconds counter and a bounded histogram.</summary>
    private sealed class TestInstruments : IDisposable
    {
        public TestInstruments()
        {
            Meter = new Meter("DamonOtel.Tests.Otlp." + Guid.NewGuid().ToString("N"), "1.2.3");
            Meter.CreateObservableGauge(
                "test.memory.working_set",
                () => new[]
                {
                    new Measurement<long>(4096, Nginx),
                    new Measurement<long>(8192, new KeyValuePair<string, object?>("kdamond", "web"), new KeyValuePair<string, object?>("target", "php")),
                },
                unit: "By",
                description: "Working set size");
            Meter.CreateObservableCounter(
                "test.kdamond.cpu.time",
                () => new Measurement<double>(CpuSeconds, new KeyValuePair<string, object?>("kdamond", "web")),
                unit: "s",
                description: "CPU time of the kdamond thread");
            Histogram = Meter.CreateHistogram<double>(
                "test.memory.working_set.distribution",
                unit: "By",
                description: "Working set size per aggregation interval",
                tags: null,
                advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1024, 4096, 16384] });
        }

        public void RecordInitial()
        {
            foreach (var v in new double[] { 512, 1024, 4096, 5000, 100000 })
            {
                Histogram.Record(v, Nginx);
            }
        }

        public Meter Meter { get; }

        public Histogram<double> Histogram { get; }

        public KeyValuePair<string, object?>[] Nginx { get; } = [new("kdamond", "web"), new("target", "nginx")];

        public double CpuSeconds { get; set; } = 1.5;

        public void Dispose() => Meter.Dispose();
    }
}
