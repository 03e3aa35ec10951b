using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Configuration;

/// <summary>
/// Reads a YAML mapping while remembering where each value came from, so every error can name
/// file, line, column and the dotted key. Unknown keys are errors (a typo must not silently
/// fall back to a default). Errors are collected, never thrown, so one pass reports them all.
/// </summary>
internal sealed class YamlNodeReader
{
    private readonly YamlMappingNode? node;
    private readonly HashSet<string> seen = new(StringComparer.Ordinal);
    private readonly HashSet<string> unsupported = new(StringComparer.Ordinal);

    public YamlNodeReader(string file, string path, YamlMappingNode? node, List<ConfigError> errors)
    {
        File = file;
        Path = path;
        this.node = node;
        Errors = errors;
    }

    public string File { get; }

    public string Path { get; }

    public List<ConfigError> Errors { get; }

    public bool IsPresent => node is not null;

    public int Line => node is null ? 0 : (int)node.Start.Line;

    public string KeyPath(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public void Error(YamlNode? at, string key, string message) =>
        Errors.Add(new ConfigError(File, at is null ? Line : (int)at.Start.Line, at is null ? 0 : (int)at.Start.Column, KeyPath(key), message));

    public YamlNode? Raw(string key)
    {
        seen.Add(key);
        if (node is null)
        {
            return null;
        }

        return node.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value) ? value : null;
    }

    public bool Has(string key) => node is not null && node.Children.ContainsKey(new YamlScalarNode(key));

    /// <summary>
    /// The plain keys of this mapping, in file order (for mappings whose keys are data, like user
    /// names); see <see cref="RejectComplexKeys"/> for the others.
    /// </summary>
    public IReadOnlyList<string> Keys =>
        node is null ? [] : [.. node.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? string.Empty)];

    /// <summary>Reports every key that is a list or a mapping (YAML's "? [a, b]: value").</summary>
    public void RejectComplexKeys()
    {
        foreach (YamlNode key in node?.Children.Keys ?? [])
        {
            if (key is not YamlScalarNode)
            {
                Error(key, "?", "a key must be a plain name, not a list or a mapping");
            }
        }
    }

    /// <summary>
    /// Reports <paramref name="key"/>, if present, as a known key this program does not support,
    /// with <paramref name="why"/>; it is then neither unknown nor listed among the known keys.
    /// </summary>
    public void RejectUnsupported(string key, string why)
    {
        seen.Add(key);
        unsupported.Add(key);
        if (node is null)
        {
            return;
        }

        foreach (KeyValuePair<YamlNode, YamlNode> kv in node.Children)
        {
            if ((kv.Key as YamlScalarNode)?.Value == key)
            {
                Error(kv.Key, key, why);
            }
        }
    }

    public string? String(string key, string? fallback = null)
    {
        YamlNode? v = Raw(key);
        if (v is null || IsNull(v))
        {
            return fallback;
        }

        if (v is YamlScalarNode s)
        {
            return s.Value;
        }

        Error(v, key, "expected a single value");
        return fallback;
    }

    public string Keyword(string key, string fallback, params string[] allowed)
    {
        YamlNode? v = Raw(key);
        string? s = String(key);
        if (s is null)
        {
            return fallback;
        }

        if (Array.IndexOf(allowed, s) < 0)
        {
            Error(v, key, $"'{s}' is not one of: {string.Join(", ", allowed)}");
            return fallback;
        }

        return s;
    }

    public bool Bool(string key, bool fallback)
    {
        YamlNode? v = Raw(key);
        string? s = String(key);
        if (s is null)
        {
            return fallback;
        }

        switch (s.ToLowerInvariant())
        {
            case "true" or "yes" or "on" or "y":
                return true;
            case "false" or "no" or "off" or "n":
                return false;
            default:
                Error(v, key, $"'{s}' is not true or false");
                return fallback;
        }
    }

    public long? Integer(string key, long min, long max)
    {
        YamlNode? v = Raw(key);
        string? s = String(key);
        if (s is null)
        {
            return null;
        }

        if (!long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) || n < min || n > max)
        {
            Error(v, key, $"'{s}' is not a whole number between {min} and {max}");
            return null;
        }

        return n;
    }

    public ulong? Size(string key)
    {
        YamlNode? v = Raw(key);
        string? s = String(key);
        if (s is null)
        {
            return null;
        }

        if (!Units.TryParseSize(s, out ulong bytes, out string error))
        {
            Error(v, key, error);
            return null;
        }

        return bytes;
    }

    /// <summary>A time in microseconds; a bare number is in <paramref name="bareUnitUs"/>.</summary>
    public ulong? TimeUs(string key, ulong bareUnitUs = 1)
    {
        YamlNode? v = Raw(key);
        string? s = String(key);
        if (s is null)
        {
            return null;
        }

        if (!Units.TryParseTimeUs(s, bareUnitUs, out ulong us, out string error))
        {
            Error(v, key, error);
            return null;
        }

        return us;
    }

    public TimeSpan? Duration(string key)
    {
        ulong? us = TimeUs(key, 1_000_000);
        // TimeSpan holds about 29k years; longer times (and "max") saturate instead of overflowing.
        return us is null ? null : us >= (ulong)(TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMicrosecond) ? TimeSpan.MaxValue : TimeSpan.FromMicroseconds(us.Value);
    }

    public double? Percent(string key)
    {
        YamlNode? v = Raw(key);
        string? s = String(key);
        if (s is null)
        {
            return null;
        }

        if (!Units.TryParsePercent(s, out double p, out string error))
        {
            Error(v, key, error);
            return null;
        }

        return p;
    }

    public YamlNodeReader Mapping(string key)
    {
        YamlNode? v = Raw(key);
        if (v is null || IsNull(v))
        {
            return new YamlNodeReader(File, KeyPath(key), null, Errors);
        }

        if (v is YamlMappingNode m)
        {
            return new YamlNodeReader(File, KeyPath(key), m, Errors);
        }

        Error(v, key, "expected a mapping (key: value lines)");
        return new YamlNodeReader(File, KeyPath(key), null, Errors);
    }

    /// <summary>The items of a sequence of mappings.</summary>
    public IReadOnlyList<YamlNodeReader> MappingList(string key)
    {
        YamlNode? v = Raw(key);
        if (v is null || IsNull(v))
        {
            return [];
        }

        if (v is not YamlSequenceNode seq)
        {
            Error(v, key, "expected a list (lines starting with '- ')");
            return [];
        }

        var items = new List<YamlNodeReader>();
        for (int i = 0; i < seq.Children.Count; i++)
        {
            if (seq.Children[i] is YamlMappingNode m)
            {
                items.Add(new YamlNodeReader(File, $"{KeyPath(key)}[{i}]", m, Errors));
            }
            else
            {
                Errors.Add(new ConfigError(File, (int)seq.Children[i].Start.Line, (int)seq.Children[i].Start.Column, $"{KeyPath(key)}[{i}]", "expected a mapping"));
            }
        }

        return items;
    }

    /// <summary>The scalar items of a sequence (e.g. percentiles), each with its node for errors.</summary>
    public IReadOnlyList<(string Value, YamlNode Node)>? ScalarList(string key)
    {
        YamlNode? v = Raw(key);
        if (v is null || IsNull(v))
        {
            return null;
        }

        if (v is not YamlSequenceNode seq)
        {
            Error(v, key, "expected a list");
            return null;
        }

        var items = new List<(string, YamlNode)>();
        foreach (YamlNode child in seq.Children)
        {
            if (child is YamlScalarNode s && s.Value is not null)
            {
                items.Add((s.Value, child));
            }
            else
            {
                Error(child, key, "expected a single value in the list");
            }
        }

        return items;
    }

    public IReadOnlyDictionary<string, string> StringMap(string key)
    {
        YamlNode? v = Raw(key);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (v is null || IsNull(v))
        {
            return map;
        }

        if (v is not YamlMappingNode m)
        {
            Error(v, key, "expected a mapping");
            return map;
        }

        foreach (KeyValuePair<YamlNode, YamlNode> kv in m.Children)
        {
            if (kv.Key is YamlScalarNode k && kv.Value is YamlScalarNode val && k.Value is not null)
            {
                map[k.Value] = val.Value ?? string.Empty;
            }
            else
            {
                Error(kv.Key, key, "expected 'name: value' pairs");
            }
        }

        return map;
    }

    /// <summary>Reports every key of this mapping that was never asked for.</summary>
    public void RejectUnknownKeys()
    {
        if (node is null)
        {
            return;
        }

        RejectComplexKeys();
        foreach (KeyValuePair<YamlNode, YamlNode> kv in node.Children)
        {
            if (kv.Key is not YamlScalarNode { Value: var name })
            {
                continue;
            }

            name ??= string.Empty;
            if (!seen.Contains(name))
            {
                var known = string.Join(", ", seen.Except(unsupported).Order(StringComparer.Ordinal));
                Error(kv.Key, name, $"unknown key (known here: {known})");
            }
        }
    }

    private static bool IsNull(YamlNode v) =>
        v is YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } s && (s.Value is null || s.Value.Length == 0 || s.Value == "~" || s.Value == "null");
}
