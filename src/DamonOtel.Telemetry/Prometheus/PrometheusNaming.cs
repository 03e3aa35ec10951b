using System.Text;

namespace DamonOtel.Telemetry.Prometheus;

/// <summary>The Prometheus type of a family.</summary>
internal enum PrometheusType
{
    Gauge,
    Counter,
    Histogram,

    /// <summary>
    /// "untyped" in text 0.0.4, "unknown" in OpenMetrics: used for gauge families that carry an
    /// `le` or `quantile` label or whose name ends in _count/_sum/_bucket, which promtool's
    /// linter (and Prometheus convention) reserve for histograms and summaries.
    /// </summary>
    Unknown,
}

/// <summary>Names of one OTel metric in the Prometheus formats, computed once per metric.</summary>
/// <param name="Family">OpenMetrics family name (no `_total`), e.g. damos_scheme_applied_size_bytes.</param>
/// <param name="TextTypeName">The name on text 0.0.4 TYPE/HELP lines (counters keep `_total`).</param>
/// <param name="Sample">The sample name for counters/gauges (counter: Family + "_total").</param>
/// <param name="Unit">The OpenMetrics UNIT (a suffix of Family), or empty.</param>
internal sealed record PrometheusNames(string Family, string TextTypeName, string Sample, string Unit);

/// <summary>OTel → Prometheus name translation (OTel compatibility spec, "Metric points to Prometheus").</summary>
internal static class PrometheusNaming
{
    private static readonly Dictionary<string, string> Units = new(StringComparer.Ordinal)
    {
        ["d"] = "days", ["h"] = "hours", ["min"] = "minutes", ["s"] = "seconds", ["ms"] = "milliseconds",
        ["us"] = "microseconds", ["ns"] = "nanoseconds", ["By"] = "bytes", ["KiBy"] = "kibibytes",
        ["MiBy"] = "mebibytes", ["GiBy"] = "gibibytes", ["TiBy"] = "tibibytes", ["KBy"] = "kilobytes",
        ["kBy"] = "kilobytes", ["MBy"] = "megabytes", ["GBy"] = "gigabytes", ["TBy"] = "terabytes",
        ["m"] = "meters", ["V"] = "volts", ["A"] = "amperes", ["J"] = "joules", ["W"] = "watts",
        ["g"] = "grams", ["Cel"] = "celsius", ["Hz"] = "hertz", ["%"] = "percent", ["$"] = "dollars",
    };

    private static readonly Dictionary<string, string> PerUnits = new(StringComparer.Ordinal)
    {
        ["s"] = "second", ["m"] = "minute", ["h"] = "hour", ["d"] = "day", ["w"] = "week", ["mo"] = "month", ["y"] = "year",
    };

    public static PrometheusNames For(string otelName, string? unit, bool monotonicCounter)
    {
        var name = SanitizeMetricName(otelName);
        var unitWord = UnitSuffix(unit);
        if (unitWord.Length > 0 && !name.EndsWith("_" + unitWord, StringComparison.Ordinal) && name != unitWord)
        {
            name = name + "_" + unitWord;
        }

        if (!monotonicCounter)
        {
            return new PrometheusNames(name, name, name, unitWord.Length > 0 && name.EndsWith("_" + unitWord, StringComparison.Ordinal) ? unitWord : "");
        }

        var family = name.EndsWith("_total", StringComparison.Ordinal) ? name[..^"_total".Length] : name;
        var familyUnit = unitWord.Length > 0 && family.EndsWith("_" + unitWord, StringComparison.Ordinal) ? unitWord : "";
        return new PrometheusNames(family, family + "_total", family + "_total", familyUnit);
    }

    /// <summary>UCUM unit → Prometheus suffix word: By → bytes, By/s → bytes_per_second, {region} and 1 → "".</summary>
    public static string UnitSuffix(string? unit)
    {
        if (string.IsNullOrEmpty(unit))
        {
            return "";
        }

        // Annotations ({region}) carry no unit.
        var sb = new StringBuilder(unit.Length);
        var depth = 0;
        foreach (var c in unit)
        {
            if (c == '{')
            {
                depth++;
            }
            else if (c == '}')
            {
                depth = Math.Max(0, depth - 1);
            }
            else if (depth == 0)
            {
                sb.Append(c);
            }
        }

        var u = sb.ToString().Trim();
        if (u.Length == 0 || u == "1")
        {
            return "";
        }

        var slash = u.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            var num = u[..slash];
            var den = u[(slash + 1)..];
            var numWord = num.Length == 0 || num == "1" ? "" : Units.GetValueOrDefault(num) ?? SanitizeMetricName(num);
            var denWord = PerUnits.GetValueOrDefault(den) ?? SanitizeMetricName(den);
            return numWord.Length == 0 ? "per_" + denWord : numWord + "_per_" + denWord;
        }

        return Units.GetValueOrDefault(u) ?? SanitizeMetricName(u).Trim('_');
    }

    /// <summary>_count/_sum/_bucket belong to histograms and summaries (promtool lints them elsewhere).</summary>
    public static bool HasReservedSuffix(string name) =>
        name.EndsWith("_count", StringComparison.Ordinal) || name.EndsWith("_sum", StringComparison.Ordinal) || name.EndsWith("_bucket", StringComparison.Ordinal);

    /// <summary>[^a-zA-Z0-9_:] → '_', runs of '_' collapsed, a leading digit gets a '_' prefix.</summary>
    public static string SanitizeMetricName(string name) => Sanitize(name, allowColon: true);

    /// <summary>[^a-zA-Z0-9_] → '_', runs of '_' collapsed, a leading digit gets a '_' prefix; empty → "_".</summary>
    public static string SanitizeLabelName(string name) => Sanitize(name, allowColon: false);

    private static string Sanitize(string name, bool allowColon)
    {
        if (name.Length == 0)
        {
            return "_";
        }

        var valid = true;
        var previousUnderscore = false;
        foreach (var c in name)
        {
            var ok = char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':');
            if (!ok || (c == '_' && previousUnderscore))
            {
                valid = false;
                break;
            }

            previousUnderscore = c == '_';
        }

        if (valid && !char.IsAsciiDigit(name[0]))
        {
            return name;
        }

        var sb = new StringBuilder(name.Length + 1);
        if (char.IsAsciiDigit(name[0]))
        {
            sb.Append('_');
        }

        foreach (var c in name)
        {
            var ok = char.IsAsciiLetterOrDigit(c) || (allowColon && c == ':');
            if (ok)
            {
                sb.Append(c);
            }
            else if (sb.Length == 0 || sb[^1] != '_')
            {
                sb.Append('_');
            }
        }

        return sb.ToString();
    }
}
