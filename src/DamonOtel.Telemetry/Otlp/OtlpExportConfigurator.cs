using System.Text;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace DamonOtel.Telemetry.Otlp;

/// <summary>Adds the OTLP push exporter (a periodic reader of its own) to a MeterProvider.</summary>
public static class OtlpExportConfigurator
{
    /// <summary>
    /// Adds an OTLP exporter configured entirely from <paramref name="settings"/>; does nothing when
    /// the settings are disabled. Every option is set in code, so the exporter's own reading of
    /// OTEL_EXPORTER_OTLP_* cannot disagree with what <see cref="OtlpSettings.Resolve(OtlpConfigValues?)"/>
    /// decided (it would otherwise ignore the OTEL_EXPORTER_OTLP_METRICS_* variables).
    /// </summary>
    public static MeterProviderBuilder AddOtlp(MeterProviderBuilder builder, OtlpSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.Enabled)
        {
            return builder;
        }

        return builder.AddOtlpExporter((exporter, reader) =>
        {
            Apply(exporter, settings);
            reader.TemporalityPreference = settings.Temporality switch
            {
                OtlpTemporality.Delta => MetricReaderTemporalityPreference.Delta,
                OtlpTemporality.LowMemory => MetricReaderTemporalityPreference.LowMemory,
                _ => MetricReaderTemporalityPreference.Cumulative,
            };
            reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = ToMilliseconds(settings.ExportInterval);
            reader.PeriodicExportingMetricReaderOptions.ExportTimeoutMilliseconds = ToMilliseconds(settings.ExportTimeout);
        });
    }

    /// <summary>Copies the transport settings onto exporter options.</summary>
    internal static void Apply(OtlpExporterOptions options, OtlpSettings settings)
    {
        // Setting Endpoint in code turns off the exporter's `/v1/metrics` appending; the
        // resolved endpoint already is the full URL for http/protobuf.
        options.Endpoint = settings.Endpoint;
        options.Protocol = settings.Protocol == OtlpProtocol.HttpProtobuf ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        options.Compression = settings.Compression == OtlpCompression.Gzip ? OtlpExportCompression.GZip : OtlpExportCompression.None;
        options.TimeoutMilliseconds = ToMilliseconds(settings.Timeout);
        options.Headers = FormatHeaders(settings.Headers);
    }

    /// <summary>
    /// Formats headers as the exporter's `k1=v1,k2=v2` option string. The exporter (1.20.1)
    /// percent-decodes the whole string, then splits on ',' and each item on its first '=', so
    /// values are percent-encoded here ('%' and spaces survive; '=' in a value is fine) and
    /// commas are refused earlier by <see cref="OtlpSettings"/>.
    /// </summary>
    internal static string? FormatHeaders(IReadOnlyDictionary<string, string> headers)
    {
        if (headers.Count == 0)
        {
            return null;
        }

        var sb = new StringBuilder();
        foreach (var (key, value) in headers)
        {
            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(key).Append('=').Append(Uri.EscapeDataString(value));
        }

        return sb.ToString();
    }

    private static int ToMilliseconds(TimeSpan value) => (int)Math.Clamp(Math.Round(value.TotalMilliseconds), 1, int.MaxValue);
}
