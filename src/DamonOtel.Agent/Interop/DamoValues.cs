using System.Globalization;
using System.Text.Json;

namespace DamonOtel.Agent.Interop;

/// <summary>
/// Reads values of damo's kdamonds JSON the way damo reads them back (docs/damo-interop.md,
/// "Units"): a JSON number, a digit string or a human string ("5 ms", "128.000 MiB", "50 %",
/// "4,294,967,296", "max"). A bare number is in the key's own unit. Sizes and times are truncated
/// to whole units, as damo does, so damo's 3-decimal size strings read as damo reads them.
/// </summary>
internal static class DamoValues
{
    /// <summary>2^64 - 1: what damo means by "max".</summary>
    public const ulong Max = ulong.MaxValue;

    private static readonly (string Unit, int Shift)[] SizeUnits =
    [
        ("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40), ("PiB", 50), ("EiB", 60),
        ("KB", 10), ("MB", 20), ("GB", 30), ("TB", 40), ("PB", 50), ("EB", 60),
        ("K", 10), ("M", 20), ("G", 30), ("T", 40), ("P", 50), ("E", 60), ("B", 0),
    ];

    /// <summary>The text of a scalar: JSON strings as they are, numbers in their JSON spelling.</summary>
    public static bool TryText(JsonElement value, out string text)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                text = value.GetString() ?? string.Empty;
                return true;
            case JsonValueKind.Number:
                text = value.GetRawText();
                return true;
            default:
                text = string.Empty;
                return false;
        }
    }

    /// <summary>Whether the value is a bare number (a JSON number or a string of digits), i.e. in the key's unit.</summary>
    public static bool IsBareNumber(JsonElement value) =>
        TryText(value, out string text) && decimal.TryParse(text.Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    public static bool TryCount(JsonElement value, out ulong count, out string error)
    {
        count = 0;
        if (!TryText(value, out string text) || !TryCommon(text, out decimal number, out bool isMax))
        {
            error = $"{Show(value)} is not a number";
            return false;
        }

        count = isMax ? Max : Truncate(number);
        error = string.Empty;
        return true;
    }

    public static bool TrySize(JsonElement value, out ulong bytes, out string error)
    {
        bytes = 0;
        error = $"{Show(value)} is not a size (bytes, or a number with B/K/KiB/M/MiB/G/GiB/T/P/E)";
        if (!TryText(value, out string text))
        {
            return false;
        }

        if (TryCommon(text, out decimal plain, out bool isMax))
        {
            bytes = isMax ? Max : Truncate(plain);
            return true;
        }

        string s = text.Trim().Replace(",", string.Empty, StringComparison.Ordinal);
        foreach ((string unit, int shift) in SizeUnits)
        {
            if (s.EndsWith(unit, StringComparison.Ordinal) &&
                decimal.TryParse(s[..^unit.Length].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out decimal number) && number >= 0)
            {
                decimal value2 = number * (decimal)Math.Pow(2, shift);
                bytes = value2 >= Max ? Max : (ulong)decimal.Truncate(value2);
                return true;
            }
        }

        return false;
    }

    /// <summary>A time in microseconds; a bare number is in units of <paramref name="bareUnitUs"/> µs (1000 for _ms keys).</summary>
    public static bool TryTimeUs(JsonElement value, decimal bareUnitUs, out ulong microseconds, out string error)
    {
        microseconds = 0;
        error = $"{Show(value)} is not a time (a number, or parts like \"1 m 30 s\" with ns/us/ms/s/m/h/d)";
        if (!TryText(value, out string text))
        {
            return false;
        }

        if (TryCommon(text, out decimal plain, out bool isMax))
        {
            microseconds = isMax ? Max : Clamp(plain * bareUnitUs);
            return true;
        }

        // "2 h 46 m 40 s", "5ms", "1.500 s": number/unit pairs, separated or not.
        string s = text.Replace(",", string.Empty, StringComparison.Ordinal);
        decimal total = 0;
        int i = 0;
        bool any = false;
        while (i < s.Length)
        {
            while (i < s.Length && char.IsWhiteSpace(s[i]))
            {
                i++;
            }

            if (i == s.Length)
            {
                break;
            }

            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (!decimal.TryParse(s.AsSpan(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out decimal number))
            {
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

            decimal factor = s[unitStart..i] switch
            {
                "ns" => 0.001m,
                "us" => 1m,
                "ms" => 1_000m,
                "s" => 1_000_000m,
                "m" => 60_000_000m,
                "h" => 3_600_000_000m,
                "d" => 86_400_000_000m,
                _ => -1m,
            };
            if (factor < 0)
            {
                return false;
            }

            total += number * factor;
            any = true;
        }

        if (!any)
        {
            return false;
        }

        microseconds = Clamp(total);
        return true;
    }

    /// <summary>A ratio as a multiple of 1/<paramref name="perUnit"/> ("50 %" is 500 with perUnit 1000); a bare number is already in that unit.</summary>
    public static bool TryRatio(JsonElement value, decimal perUnit, out decimal amount, out string error)
    {
        amount = 0;
        error = $"{Show(value)} is not a ratio (a number, or a percentage like \"50 %\")";
        if (!TryText(value, out string text))
        {
            return false;
        }

        if (TryCommon(text, out decimal plain, out bool isMax))
        {
            amount = isMax ? Max : plain;
            return true;
        }

        string s = text.Trim();
        if (!s.EndsWith('%'))
        {
            return false;
        }

        if (!decimal.TryParse(s[..^1].Replace(",", string.Empty, StringComparison.Ordinal).Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out decimal percent))
        {
            return false;
        }

        amount = percent * perUnit / 100m;
        return true;
    }

    public static string Show(JsonElement value) => value.ValueKind == JsonValueKind.String ? $"\"{value.GetString()}\"" : value.GetRawText();

    /// <summary>"min", "max", or a plain number with optional thousands separators.</summary>
    private static bool TryCommon(string text, out decimal number, out bool isMax)
    {
        isMax = false;
        number = 0;
        string s = text.Trim();
        if (s == "min")
        {
            return true;
        }

        if (s == "max")
        {
            isMax = true;
            return true;
        }

        return decimal.TryParse(s.Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out number) && number >= 0;
    }

    private static ulong Truncate(decimal value) => value >= Max ? Max : (ulong)decimal.Truncate(value);

    private static ulong Clamp(decimal value) => Truncate(value);
}
