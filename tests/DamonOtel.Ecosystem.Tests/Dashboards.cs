using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>A Grafana dashboard file read as JSON, with its panels, targets and variables.</summary>
internal sealed partial class Dashboard
{
    public Dashboard(string relativePath)
    {
        RelativePath = relativePath;
        Json = JsonNode.Parse(Repo.Read(relativePath))?.AsObject()
            ?? throw new InvalidOperationException($"{relativePath}: not a JSON object");
    }

    public string RelativePath { get; }

    public JsonObject Json { get; }

    public sealed record Target(string Panel, string RefId, string Expr, JsonObject Node);

    public sealed record Variable(string Name, string Type, JsonObject Node)
    {
        /// <summary>The label_values(...) definition of a query variable.</summary>
        public string? Definition =>
            (string?)Node["definition"] ?? (Node["query"] is JsonObject q ? (string?)q["query"] : (string?)Node["query"]);

        /// <summary>Values of a custom variable, from its options.</summary>
        public IReadOnlyList<string> OptionValues =>
            Node["options"]?.AsArray().Select(o => (string?)o?["value"] ?? "").ToList() ?? [];
    }

    /// <summary>All panels, including those nested in collapsed rows.</summary>
    public IEnumerable<JsonObject> Panels
    {
        get
        {
            foreach (var p in Json["panels"]?.AsArray() ?? [])
            {
                var panel = p!.AsObject();
                yield return panel;
                foreach (var nested in panel["panels"]?.AsArray() ?? [])
                {
                    yield return nested!.AsObject();
                }
            }
        }
    }

    public IEnumerable<Target> Targets =>
        from panel in Panels
        from t in panel["targets"]?.AsArray() ?? []
        select new Target((string?)panel["title"] ?? "(untitled)", (string?)t!["refId"] ?? "?", (string?)t["expr"] ?? "", t.AsObject());

    public IReadOnlyList<Variable> Variables =>
        (Json["templating"]?["list"]?.AsArray() ?? [])
        .Select(v => new Variable((string?)v!["name"] ?? "", (string?)v["type"] ?? "", v.AsObject()))
        .ToList();

    /// <summary>
    /// Values the tests put in place of Grafana's variables. Regex variables get ".+" — what the
    /// dashboards' "All" option sends — and Grafana's built-ins typical values.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Substitutions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["__rate_interval"] = "1m",
        ["__interval"] = "15s",
        ["__range"] = "1h",
        ["job"] = ".+",
        ["instance"] = ".+",
        ["kdamond"] = ".+",
        ["target"] = ".+",
        ["scheme"] = ".+",
    };

    /// <summary>Every variable reference in a text ($name, ${name} or ${name:format}).</summary>
    public static IEnumerable<string> References(string text) =>
        VariableRegex().Matches(text).Select(m => m.Groups["b"].Success ? m.Groups["b"].Value : m.Groups["n"].Value);

    /// <summary>Replaces the variables of an expression; extra gives values for custom variables.</summary>
    public static string Substitute(string expr, IReadOnlyDictionary<string, string> extra) =>
        VariableRegex().Replace(expr, m =>
        {
            var name = m.Groups["b"].Success ? m.Groups["b"].Value : m.Groups["n"].Value;
            if (extra.TryGetValue(name, out var v) || Substitutions.TryGetValue(name, out v))
            {
                return v;
            }

            throw new InvalidOperationException($"no test value for dashboard variable ${name} in: {expr}");
        });

    /// <summary>
    /// Every way an expression is run: once per combination of the custom variables it uses
    /// (e.g. each $cold_after option), with the other variables substituted.
    /// </summary>
    public IEnumerable<(string Expr, string Description)> Expansions(string expr)
    {
        var customs = Variables.Where(v => v.Type == "custom" && References(expr).Contains(v.Name)).ToList();
        IEnumerable<Dictionary<string, string>> combos = [new Dictionary<string, string>(StringComparer.Ordinal)];
        foreach (var c in customs)
        {
            combos = combos.SelectMany(d => c.OptionValues.Select(v => new Dictionary<string, string>(d, StringComparer.Ordinal) { [c.Name] = v })).ToList();
        }

        foreach (var combo in combos)
        {
            var desc = combo.Count == 0 ? "" : " with " + string.Join(", ", combo.Select(kv => $"${kv.Key}={kv.Value}"));
            yield return (Substitute(expr, combo), desc);
        }
    }

    /// <summary>label_values(selector, label) as a PromQL query returning one series per value.</summary>
    public static string LabelValuesQuery(string definition)
    {
        var m = LabelValuesRegex().Match(definition.Trim());
        if (!m.Success)
        {
            throw new InvalidOperationException($"not a label_values(metric{{...}}, label) definition: {definition}");
        }

        var selector = m.Groups["sel"].Value;
        if (!selector.Contains('{', StringComparison.Ordinal))
        {
            // "metric{}" is valid PromQL and keeps every selector in the brace form the catalog scan expects.
            selector += "{}";
        }

        return $"group by ({m.Groups["label"].Value}) ({selector})";
    }

    [GeneratedRegex(@"\$(?:\{(?<b>[A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|(?<n>[A-Za-z_][A-Za-z0-9_]*))")]
    private static partial Regex VariableRegex();

    [GeneratedRegex(@"^label_values\((?<sel>[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?)\s*,\s*(?<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*\)$")]
    private static partial Regex LabelValuesRegex();
}
