using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Interop;

/// <summary>
/// Reads a kdamonds file as damo accepts it: JSON (`damo args damon --format json`,
/// `--kdamonds FILE`), or YAML (`--format yaml`, a positional FILE.yaml), which becomes the
/// equivalent JSON text for <see cref="DamoKdamondsImporter"/>. Plain YAML scalars are typed
/// as PyYAML's safe loader types them (null, booleans, integers, floats, else strings); quoted
/// ones stay strings. Both forms then read the same, as damo reads them.
/// </summary>
internal static class DamoInput
{
    /// <summary>Far above any kdamonds file (damo's output for a scheme is about 2 KiB).</summary>
    public const long MaxBytes = 16 << 20;

    /// <summary>YAML when the name ends in .yaml or .yml (damo's rule is .yaml), or when the text does not start like JSON.</summary>
    public static bool LooksLikeYaml(string path, string text) =>
        path.EndsWith(".yaml", StringComparison.Ordinal) || path.EndsWith(".yml", StringComparison.Ordinal) ||
        !text.TrimStart().StartsWith('{');

    /// <summary>The file's JSON text, or an error naming the file (and line, for YAML).</summary>
    public static bool TryRead(string path, out string json, out string error)
    {
        json = string.Empty;
        string text;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.CanSeek && stream.Length > MaxBytes)
            {
                error = $"{path}: larger than {MaxBytes >> 20} MiB; not a kdamonds file";
                return false;
            }

            using var reader = new StreamReader(stream);
            var sb = new System.Text.StringBuilder();
            char[] buffer = new char[64 << 10];
            int n;
            while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
            {
                sb.Append(buffer, 0, n);
                if (sb.Length > MaxBytes)
                {
                    error = $"{path}: larger than {MaxBytes >> 20} MiB; not a kdamonds file";
                    return false;
                }
            }

            text = sb.ToString();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"{path}: {e.Message}";
            return false;
        }

        if (!LooksLikeYaml(path, text))
        {
            json = text;
            error = string.Empty;
            return true;
        }

        return TryYamlToJson(text, path, out json, out error);
    }

    public static bool TryYamlToJson(string yaml, string path, out string json, out string error)
    {
        json = string.Empty;
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            error = $"{path}:{e.Start.Line}:{e.Start.Column}: not YAML: {e.Message}";
            return false;
        }

        if (stream.Documents.Count != 1)
        {
            error = $"{path}: expected one YAML document, found {stream.Documents.Count}";
            return false;
        }

        try
        {
            JsonNode? node = Convert(stream.Documents[0].RootNode, path, depth: 0);
            json = node?.ToJsonString() ?? "null";
        }
        catch (FormatException e)
        {
            error = e.Message;
            return false;
        }

        error = string.Empty;
        return true;
    }

    // kdamonds JSON nests about 10 levels; anything much deeper is not one.
    private const int MaxDepth = 64;

    private static JsonNode? Convert(YamlNode node, string path, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new FormatException($"{path}:{node.Start.Line}: nested deeper than {MaxDepth} levels");
        }

        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (KeyValuePair<YamlNode, YamlNode> kv in map.Children)
                {
                    if (kv.Key is not YamlScalarNode { Value: string key })
                    {
                        throw new FormatException($"{path}:{kv.Key.Start.Line}: a mapping key must be a scalar");
                    }

                    if (obj.ContainsKey(key))
                    {
                        throw new FormatException($"{path}:{kv.Key.Start.Line}: key '{key}' appears twice");
                    }

                    obj[key] = Convert(kv.Value, path, depth + 1);
                }

                return obj;
            case YamlSequenceNode seq:
                var array = new JsonArray();
                foreach (YamlNode item in seq.Children)
                {
                    array.Add(Convert(item, path, depth + 1));
                }

                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw new FormatException($"{path}:{node.Start.Line}: unsupported YAML node");
        }
    }

    // PyYAML's safe loader (YAML 1.1 core types as damo's yaml.safe_load sees them).
    private static JsonValue? Scalar(YamlScalarNode scalar)
    {
        string value = scalar.Value ?? string.Empty;
        if (scalar.Style != ScalarStyle.Plain)
        {
            return JsonValue.Create(value);
        }

        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF":
                return JsonValue.Create(false);
            default:
                break;
        }

        // Digits only (no commas: PyYAML reads "1,000" as a string, and so does damo).
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long integer))
        {
            return JsonValue.Create(integer);
        }

        if (ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong big))
        {
            return JsonValue.Create(big);
        }

        if (value.Contains('.', StringComparison.Ordinal) &&
            double.TryParse(value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out double real))
        {
            return JsonValue.Create(real);
        }

        return JsonValue.Create(value);
    }
}
