using System.Globalization;

namespace DamonOtel.Agent.Configuration;

// Value readers shared by the sections: keywords, durations, addresses, per-mille, URLs.
internal static partial class ConfigLoader
{
    private static string? NullableKeyword(YamlNodeReader r, string key, params string[] allowed) =>
        r.Has(key) ? r.Keyword(key, allowed[0], allowed) : r.String(key);

    /// <summary>
    /// The longest agent-side duration (collection interval, command and OTLP timeouts, OTLP
    /// interval): they become .NET timers, which refuse about 24.8 days and more.
    /// </summary>
    public static readonly TimeSpan MaxAgentDuration = TimeSpan.FromDays(1);

    private static TimeSpan? PositiveDuration(YamlNodeReader r, string key)
    {
        TimeSpan? d = r.Duration(key);
        if (d is { } v && v <= TimeSpan.Zero)
        {
            r.Error(r.Raw(key), key, "must be longer than 0");
            return null;
        }

        if (d is { } w && w > MaxAgentDuration)
        {
            r.Error(r.Raw(key), key, "must be at most 24h");
            return null;
        }

        return d;
    }

    private static string? Listen(YamlNodeReader r, string key)
    {
        string? value = r.String(key);
        if (value is not null && !ListenAddress.TryValidate(value, out string error))
        {
            r.Error(r.Raw(key), key, error);
            return null;
        }

        return value;
    }

    private static string? Endpoint(YamlNodeReader r, string key)
    {
        string? value = r.String(key);
        if (value is not null && (!Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) || (uri.Scheme != "http" && uri.Scheme != "https")))
        {
            r.Error(r.Raw(key), key, $"'{value}' is not an http:// or https:// URL");
            return null;
        }

        return value;
    }

    private static ulong? Address(YamlNodeReader r, string key)
    {
        string? s = r.String(key);
        if (s is null)
        {
            return null;
        }

        string t = s.Trim().Replace(",", string.Empty, StringComparison.Ordinal);
        bool ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            : Units.TryParseSize(t, out v, out _);
        if (!ok)
        {
            r.Error(r.Raw(key), key, $"'{s}' is not an address (decimal, 0x-hex, or a size like 4G)");
            return null;
        }

        return v;
    }

    /// <summary>Per-mille: "50%" = 500, a bare number is per-mille.</summary>
    private static uint? Permil(YamlNodeReader r, string key)
    {
        string? s = r.String(key);
        if (s is null)
        {
            return null;
        }

        if (s.TrimEnd().EndsWith('%'))
        {
            if (Units.TryParsePercent(s, out double p, out string error))
            {
                return (uint)Math.Round(p * 10);
            }

            r.Error(r.Raw(key), key, error);
            return null;
        }

        if (uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out uint permil) && permil <= 1000)
        {
            return permil;
        }

        r.Error(r.Raw(key), key, $"'{s}' is not a per-mille value 0..1000 or a percentage like 40%");
        return null;
    }

    private static string? UniqueNames(IEnumerable<string> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string n in names)
        {
            if (!seen.Add(n))
            {
                return n;
            }
        }

        return null;
    }
}
