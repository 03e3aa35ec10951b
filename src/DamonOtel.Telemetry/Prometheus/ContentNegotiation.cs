using System.Globalization;

namespace DamonOtel.Telemetry.Prometheus;

/// <summary>Accept / Accept-Encoding handling for /metrics (Prometheus scrape protocol negotiation).</summary>
public static class ContentNegotiation
{
    /// <summary>
    /// Picks the supported format with the highest q (first wins on ties); unknown media types,
    /// versions and q=0 entries are ignored; nothing acceptable → text 0.0.4.
    /// Unversioned application/openmetrics-text means 1.0.0.
    /// </summary>
    public static ExpositionFormat Negotiate(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept))
        {
            return ExpositionFormat.Text004;
        }

        ExpositionFormat? best = null;
        var bestQ = 0.0;
        foreach (var entry in accept.Split(','))
        {
            var parts = entry.Split(';');
            var media = parts[0].Trim().ToLowerInvariant();
            string? version = null;
            var q = 1.0;
            var valid = true;
            foreach (var raw in parts.AsSpan(1))
            {
                var eq = raw.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0)
                {
                    continue;
                }

                var key = raw[..eq].Trim().ToLowerInvariant();
                var value = raw[(eq + 1)..].Trim().Trim('"');
                if (key == "version")
                {
                    version = value;
                }
                else if (key == "q")
                {
                    valid &= double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out q) && q is >= 0 and <= 1;
                }
            }

            // Escaping schemes are all acceptable: our names are valid legacy names, so every scheme yields the same bytes.
            ExpositionFormat? format = media switch
            {
                "application/openmetrics-text" when version is null or "1.0.0" => ExpositionFormat.OpenMetrics100,
                "text/plain" when version is null or "0.0.4" => ExpositionFormat.Text004,
                "text/*" or "*/*" => ExpositionFormat.Text004,
                _ => null,
            };
            if (!valid || format is null || q <= 0)
            {
                continue;
            }

            if (best is null || q > bestQ)
            {
                best = format;
                bestQ = q;
            }
        }

        return best ?? ExpositionFormat.Text004;
    }

    /// <summary>True when Accept-Encoding allows gzip (q &gt; 0).</summary>
    public static bool AcceptsGzip(string? acceptEncoding)
    {
        if (string.IsNullOrEmpty(acceptEncoding))
        {
            return false;
        }

        foreach (var entry in acceptEncoding.Split(','))
        {
            var parts = entry.Split(';');
            var coding = parts[0].Trim();
            if (!coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) && !coding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var q = 1.0;
            foreach (var p in parts.AsSpan(1))
            {
                var kv = p.Split('=', 2);
                if (kv.Length == 2 && kv[0].Trim().Equals("q", StringComparison.OrdinalIgnoreCase) &&
                    double.TryParse(kv[1].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                {
                    q = v;
                }
            }

            return q > 0;
        }

        return false;
    }
}
