using System.Buffers;
using System.Text;

namespace DamonOtel.Telemetry.Prometheus;

/// <summary>The two exposition formats we serve.</summary>
public enum ExpositionFormat
{
    /// <summary>Prometheus text format 0.0.4.</summary>
    Text004,

    /// <summary>OpenMetrics text 1.0.0.</summary>
    OpenMetrics100,
}

/// <summary>Renders a <see cref="ScrapeData"/> as text 0.0.4 or OpenMetrics 1.0.0 (UTF-8 bytes).</summary>
internal static class PrometheusSerializer
{
    public const string TargetInfoHelp = "Target metadata";

    public static string ContentType(ExpositionFormat format) => format == ExpositionFormat.OpenMetrics100
        ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
        : "text/plain; version=0.0.4; charset=utf-8";

    // One builder kept between renders (taken with an exchange, so concurrent renders each get
    // their own): a ~300 KB body then costs its byte[] only, not builder growth + string + bytes.
    private static StringBuilder? SpareBuilder;

    public static byte[] Serialize(ScrapeData data, ExpositionFormat format)
    {
        var sb = Interlocked.Exchange(ref SpareBuilder, null) ?? new StringBuilder(4096 + (data.Families.Length * 512));
        try
        {
            sb.Clear();
            Write(data, format, sb);
            var chars = ArrayPool<char>.Shared.Rent(sb.Length);
            try
            {
                // One contiguous span, so no surrogate pair is split between encoder calls.
                sb.CopyTo(0, chars, 0, sb.Length);
                var text = chars.AsSpan(0, sb.Length);
                var body = new byte[Encoding.UTF8.GetByteCount(text)];
                _ = Encoding.UTF8.GetBytes(text, body);
                return body;
            }
            finally
            {
                ArrayPool<char>.Shared.Return(chars);
            }
        }
        finally
        {
            // Don't pin a pathological builder forever.
            if (sb.Capacity <= 16 * 1024 * 1024)
            {
                SpareBuilder = sb;
            }
        }
    }

    public static void Write(ScrapeData data, ExpositionFormat format, StringBuilder sb)
    {
        var om = format == ExpositionFormat.OpenMetrics100;
        if (data.TargetInfoLabels is { } ti)
        {
            if (om)
            {
                sb.Append("# TYPE target info\n# HELP target ").Append(TargetInfoHelp).Append('\n');
            }
            else
            {
                sb.Append("# HELP target_info ").Append(TargetInfoHelp).Append("\n# TYPE target_info gauge\n");
            }

            sb.Append("target_info{").Append(ti).Append("} 1\n");
        }

        Span<char> number = stackalloc char[40];
        foreach (var f in data.Families)
        {
            var type = f.Type switch
            {
                PrometheusType.Counter => "counter",
                PrometheusType.Histogram => "histogram",
                PrometheusType.Unknown => om ? "unknown" : "untyped",
                _ => "gauge",
            };
            if (om)
            {
                sb.Append("# TYPE ").Append(f.Names.Family).Append(' ').Append(type).Append('\n');
                if (f.Names.Unit.Length > 0)
                {
                    sb.Append("# UNIT ").Append(f.Names.Family).Append(' ').Append(f.Names.Unit).Append('\n');
                }

                sb.Append("# HELP ").Append(f.Names.Family).Append(' ');
                AppendHelp(sb, f.Help, escapeQuote: true);
                sb.Append('\n');
            }
            else
            {
                sb.Append("# HELP ").Append(f.Names.TextTypeName).Append(' ');
                AppendHelp(sb, f.Help, escapeQuote: false);
                sb.Append("\n# TYPE ").Append(f.Names.TextTypeName).Append(' ').Append(type).Append('\n');
            }

            if (f.Type == PrometheusType.Histogram)
            {
                foreach (var p in f.Points)
                {
                    foreach (var (le, count) in p.Buckets ?? [])
                    {
                        sb.Append(f.Names.Family).Append("_bucket{").Append(p.Labels);
                        if (p.Labels.Length > 0)
                        {
                            sb.Append(',');
                        }

                        sb.Append("le=\"").Append(le).Append("\"} ").Append(count).Append('\n');
                    }

                    AppendName(sb, f.Names.Family + "_sum", p.Labels);
                    var n = PrometheusNumbers.Write(p.Sum, canonical: false, number);
                    sb.Append(number[..n]).Append('\n');
                    AppendName(sb, f.Names.Family + "_count", p.Labels);
                    sb.Append(p.Count).Append('\n');
                }

                continue;
            }

            foreach (var p in f.Points)
            {
                AppendName(sb, f.Names.Sample, p.Labels);
                if (p.IsLong)
                {
                    sb.Append(p.LongValue);
                }
                else
                {
                    var n = PrometheusNumbers.Write(p.DoubleValue, canonical: false, number);
                    sb.Append(number[..n]);
                }

                sb.Append('\n');
            }
        }

        if (om)
        {
            sb.Append("# EOF\n");
        }
    }

    private static void AppendName(StringBuilder sb, string name, string labels)
    {
        sb.Append(name);
        if (labels.Length > 0)
        {
            sb.Append('{').Append(labels).Append('}');
        }

        sb.Append(' ');
    }

    private static void AppendHelp(StringBuilder sb, string help, bool escapeQuote)
    {
        foreach (var c in help)
        {
            _ = c switch
            {
                '\\' => sb.Append("\\\\"),
                '\n' => sb.Append("\\n"),
                '"' when escapeQuote => sb.Append("\\\""),
                _ => sb.Append(c),
            };
        }
    }
}
