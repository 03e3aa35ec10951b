using System.Text.RegularExpressions;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The catalog the dashboards and rules are checked against (<see cref="MetricCatalog.Agent"/>) is
/// exactly the agent's documented metric table, docs/metrics.md (generated from the agent's own
/// catalog): same series names, same labels, nothing more, nothing less.
/// </summary>
public sealed partial class MetricDocsTests
{
    private const string MetricsDoc = "docs/metrics.md";

    /// <summary>Series names with their own labels, from the docs table's default-on rows.</summary>
    private static Dictionary<string, string[]> Documented()
    {
        var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (Match m in RowRegex().Matches(Repo.Read(MetricsDoc)))
        {
            if (m.Groups["default"].Value.Trim() != "on")
            {
                continue;
            }

            var name = m.Groups["prom"].Value;
            // OTel attribute names become Prometheus labels with dots as underscores (cpu.mode -> cpu_mode).
            var labels = AttributeRegex().Matches(m.Groups["attrs"].Value).Select(a => a.Groups[1].Value.Replace('.', '_')).ToArray();
            if (m.Groups["kind"].Value.Contains("(histogram)", StringComparison.Ordinal))
            {
                result[name + "_bucket"] = [.. labels, "le"];
                result[name + "_sum"] = labels;
                result[name + "_count"] = labels;
            }
            else
            {
                result[name] = labels;
            }
        }

        return result;
    }

    [Fact]
    public void Test_catalog_is_the_documented_metric_table()
    {
        var docs = Documented();

        // 43 rows, one off by default (the heatmap); two histograms give 3 series names each: 42 + 2 x 2.
        Assert.Equal(46, docs.Count);
        Assert.Equal(docs.Keys.Order(StringComparer.Ordinal), MetricCatalog.Agent.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, labels) in docs)
        {
            Assert.True(labels.Order(StringComparer.Ordinal).SequenceEqual(MetricCatalog.Agent[name].Order(StringComparer.Ordinal)),
                $"{name}: docs/metrics.md labels [{string.Join(", ", labels)}], test catalog [{string.Join(", ", MetricCatalog.Agent[name])}]");
        }
    }

    [GeneratedRegex(@"^\| `(?<otel>[a-z_.]+)` \| `(?<prom>[a-z_]+)` \| (?<kind>[^|]+) \| (?:`[^`]*`)? \| (?<attrs>[^|]*) \| [^|]* \| (?<default>[^|]+) \|$", RegexOptions.Multiline)]
    private static partial Regex RowRegex();

    [GeneratedRegex("`([a-z_.]+)`")]
    private static partial Regex AttributeRegex();
}
