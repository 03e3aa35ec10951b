using System.Globalization;

namespace DamonOtel.Telemetry.Prometheus;

/// <summary>
/// Number rendering for the exposition formats. Values use Go's shortest "%g" form (what
/// client_golang writes); `le` and `quantile` use OpenMetrics canonical numbers (the same form
/// with ".0" appended when it has neither '.' nor an exponent), in both formats.
/// .NET's "R" gives "1E-05" / "1000000", hence the re-rendering.
/// </summary>
internal static class PrometheusNumbers
{
    public static string FormatValue(double value) => Format(value, canonical: false);

    public static string Canonical(double value) => Format(value, canonical: true);

    public static string Format(double value, bool canonical)
    {
        Span<char> buffer = stackalloc char[40];
        var n = Write(value, canonical, buffer);
        return new string(buffer[..n]);
    }

    /// <summary>Writes the rendering into <paramref name="destination"/> (at least 40 chars); returns the length.</summary>
    public static int Write(double value, bool canonical, Span<char> destination)
    {
        if (double.IsNaN(value))
        {
            return Copy("NaN", destination);
        }

        if (double.IsPositiveInfinity(value))
        {
            return Copy("+Inf", destination);
        }

        if (double.IsNegativeInfinity(value))
        {
            return Copy("-Inf", destination);
        }

        if (value == 0)
        {
            return Copy(canonical ? "0.0" : "0", destination);
        }

        // Shortest round-trip digits from .NET, then Go's layout rules.
        Span<char> r = stackalloc char[32];
        value.TryFormat(r, out var rn, "R", CultureInfo.InvariantCulture);
        r = r[..rn];
        var pos = 0;
        var negative = r[0] == '-';
        var start = negative ? 1 : 0;
        Span<char> digits = stackalloc char[24];
        var nd = 0;
        var pointAt = -1;
        var exponent = 0;
        var i = start;
        for (; i < r.Length; i++)
        {
            var c = r[i];
            if (c == '.')
            {
                pointAt = nd;
            }
            else if (c is 'E' or 'e')
            {
                exponent = int.Parse(r[(i + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                break;
            }
            else
            {
                digits[nd++] = c;
            }
        }

        if (pointAt < 0)
        {
            pointAt = nd;
        }

        // Strip leading zeros (e.g. "0.001") and trailing zeros (e.g. "1000000").
        var lead = 0;
        while (lead < nd - 1 && digits[lead] == '0')
        {
            lead++;
        }

        var dp = pointAt - lead + exponent; // value = 0.d1d2... x 10^dp
        digits = digits[lead..nd];
        nd -= lead;
        while (nd > 1 && digits[nd - 1] == '0')
        {
            nd--;
        }

        digits = digits[..nd];
        if (negative)
        {
            destination[pos++] = '-';
        }

        var exp10 = dp - 1;
        var hasMark = false;
        if (exp10 < -4 || exp10 >= 6)
        {
            destination[pos++] = digits[0];
            if (nd > 1)
            {
                destination[pos++] = '.';
                digits[1..].CopyTo(destination[pos..]);
                pos += nd - 1;
            }

            destination[pos++] = 'e';
            destination[pos++] = exp10 < 0 ? '-' : '+';
            var abs = Math.Abs(exp10);
            if (abs < 10)
            {
                destination[pos++] = '0';
            }

            abs.TryFormat(destination[pos..], out var en, default, CultureInfo.InvariantCulture);
            pos += en;
            hasMark = true;
        }
        else if (dp <= 0)
        {
            destination[pos++] = '0';
            destination[pos++] = '.';
            for (var z = 0; z < -dp; z++)
            {
                destination[pos++] = '0';
            }

            digits.CopyTo(destination[pos..]);
            pos += nd;
            hasMark = true;
        }
        else if (dp >= nd)
        {
            digits.CopyTo(destination[pos..]);
            pos += nd;
            for (var z = 0; z < dp - nd; z++)
            {
                destination[pos++] = '0';
            }
        }
        else
        {
            digits[..dp].CopyTo(destination[pos..]);
            pos += dp;
            destination[pos++] = '.';
            digits[dp..].CopyTo(destination[pos..]);
            pos += nd - dp;
            hasMark = true;
        }

        if (canonical && !hasMark)
        {
            destination[pos++] = '.';
            destination[pos++] = '0';
        }

        return pos;
    }

    /// <summary>Re-renders a label value that is a number as a canonical number; other text is returned unchanged.</summary>
    public static string CanonicalizeLabel(string value)
    {
        // le/quantile values come from a small fixed set: remember them.
        if (CanonicalCache.TryGetValue(value, out var cached))
        {
            return cached;
        }

        var result = CanonicalizeUncached(value);
        if (CanonicalCache.Count < 4096)
        {
            CanonicalCache[value] = result;
        }

        return result;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> CanonicalCache = new(StringComparer.Ordinal);

    private static string CanonicalizeUncached(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ||
        TryParseInf(value, out d)
            ? Canonical(d)
            : value;

    private static bool TryParseInf(string value, out double d)
    {
        d = value switch
        {
            "+Inf" or "Inf" or "+inf" or "inf" => double.PositiveInfinity,
            "-Inf" or "-inf" => double.NegativeInfinity,
            _ => 0,
        };
        return d != 0;
    }

    private static int Copy(string s, Span<char> destination)
    {
        s.AsSpan().CopyTo(destination);
        return s.Length;
    }
}
