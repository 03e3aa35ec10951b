using System.Globalization;

namespace DamonOtel.Agent.Configuration;

/// <summary>
/// damo's unit grammar: binary sizes (4K = 4096, "max" = 2^64-1, commas allowed), times
/// (ns/us/ms/s/m/h/d, several parts like "1m 30s"; a bare number is the field's native unit)
/// and percentages ("80%", "80 %"). Every parser returns false with a reason instead of throwing,
/// whatever the text (tests/DamonOtel.Agent.Tests/Fuzzing fuzzes them).
/// </summary>
internal static class Units
{
    public static bool TryParseSize(string text, out ulong bytes, out string error)
    {
        bytes = 0;
        error = string.Empty;
        string s = text.Trim().Replace(",", string.Empty, StringComparison.Ordinal);
        if (s.Equals("max", StringComparison.OrdinalIgnoreCase))
        {
            bytes = ulong.MaxValue;
            return true;
        }

        if (s.Equals("min", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
        {
            i++;
        }

        if (i == 0 || !decimal.TryParse(s.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number))
        {
            error = $"'{text}' is not a size (examples: 4096, 4K, 128M, 1.5G, max)";
            return false;
        }

        string unit = s[i..].Trim();
        int shift = unit.ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            "T" or "TB" or "TIB" => 40,
            "P" or "PB" or "PIB" => 50,
            "E" or "EB" or "EIB" => 60,
            _ => -1,
        };
        if (shift < 0)
        {
            error = $"'{text}' has an unknown size unit '{unit}' (use B, K, M, G, T, P, E; all binary)";
            return false;
        }

        // Compared before multiplying: decimal multiplication itself overflows past ~7.9e28.
        decimal scale = 1UL << shift;
        if (number > ulong.MaxValue / scale)
        {
            error = $"'{text}' is larger than 2^64-1 bytes";
            return false;
        }

        decimal value = number * scale;

        if (value != decimal.Truncate(value))
        {
            error = $"'{text}' is not a whole number of bytes";
            return false;
        }

        bytes = (ulong)value;
        return true;
    }

    /// <summary>Parses a time; a bare number is taken in <paramref name="bareUnitUs"/> microseconds.</summary>
    public static bool TryParseTimeUs(string text, ulong bareUnitUs, out ulong microseconds, out string error)
    {
        microseconds = 0;
        error = string.Empty;
        string s = text.Trim();
        if (s.Equals("max", StringComparison.OrdinalIgnoreCase))
        {
            microseconds = ulong.MaxValue;
            return true;
        }

        if (s.Equals("min", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        decimal total = 0;
        int i = 0;
        bool any = false;
        while (i < s.Length)
        {
            while (i < s.Length && char.IsWhiteSpace(s[i]))
            {
                i++;
            }

            if (i >= s.Length)
            {
                break;
            }

            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (start == i || !decimal.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number))
            {
                error = $"'{text}' is not a time (examples: 5ms, 100ms, 60s, 1m 30s, 2h)";
                return false;
            }

            while (i < s.Length && char.IsWhiteSpace(s[i]))
            {
                i++;
            }

            int unitStart = i;
            while (i < s.Length && char.IsAsciiLetter(s[i]))
            {
                i++;
            }

            string unit = s[unitStart..i];
            decimal factor = unit switch
            {
                "" => bareUnitUs,
                "ns" => 0.001m,
                "us" => 1m,
                "ms" => 1_000m,
                "s" or "sec" => 1_000_000m,
                "m" or "min" => 60_000_000m,
                "h" => 3_600_000_000m,
                "d" => 86_400_000_000m,
                _ => -1m,
            };
            if (factor < 0)
            {
                error = $"'{text}' has an unknown time unit '{unit}' (use ns, us, ms, s, m, h, d)";
                return false;
            }

            if (unit.Length == 0 && any)
            {
                error = $"'{text}': only the last part may omit its unit";
                return false;
            }

            // Checked before the arithmetic: decimal itself overflows past ~7.9e28.
            if (number > (ulong.MaxValue - total) / factor)
            {
                error = $"'{text}' is too long (more than 2^64-1 microseconds)";
                return false;
            }

            total += number * factor;
            any = true;
        }

        if (!any)
        {
            error = $"'{text}' is not a time";
            return false;
        }

        microseconds = (ulong)decimal.Truncate(total);
        return true;
    }

    /// <summary>Parses "80%", "80 %" or a bare number (taken as percent) into a fraction of 100.</summary>
    public static bool TryParsePercent(string text, out double percent, out string error)
    {
        error = string.Empty;
        string s = text.Trim();
        if (s.Equals("max", StringComparison.OrdinalIgnoreCase))
        {
            percent = 100;
            return true;
        }

        if (s.Equals("min", StringComparison.OrdinalIgnoreCase))
        {
            percent = 0;
            return true;
        }

        if (s.EndsWith('%'))
        {
            s = s[..^1].TrimEnd();
        }

        // double.TryParse also accepts "NaN" and "Infinity", whatever the NumberStyles.
        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out percent) || !double.IsFinite(percent) || percent < 0 || percent > 100)
        {
            error = $"'{text}' is not a percentage between 0% and 100%";
            return false;
        }

        return true;
    }

    public static string FormatTimeUs(ulong us) => us switch
    {
        ulong.MaxValue => "max",
        _ when us % 3_600_000_000 == 0 && us != 0 => $"{us / 3_600_000_000}h",
        _ when us % 60_000_000 == 0 && us != 0 => $"{us / 60_000_000}m",
        _ when us % 1_000_000 == 0 && us != 0 => $"{us / 1_000_000}s",
        _ when us % 1_000 == 0 && us != 0 => $"{us / 1_000}ms",
        _ => $"{us}us",
    };
}
