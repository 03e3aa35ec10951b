using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The dashboards load through Grafana's file provisioning, which unlike the import dialog
/// substitutes nothing. Grafana itself cannot run here (Debian 12 has no grafana package and no
/// Grafana server is published on npm), so <see cref="GrafanaFileProvisioning"/> applies what
/// provisioning and the dashboard loader do to a file, and a control test shows that the
/// import-only form these dashboards used to have is rejected.
/// </summary>
public sealed class DashboardProvisioningTests
{
    public static TheoryData<string> DashboardFiles => new(Repo.Dashboards);

    public const string ProviderFile = "deploy/grafana/dashboards.yaml";

    [Fact]
    public void Provisioning_picks_up_exactly_the_dashboards_the_tests_check()
    {
        var found = GrafanaFileProvisioning.DashboardFiles(Repo.PathOf("dashboards"))
            .Select(p => "dashboards/" + Path.GetRelativePath(Repo.PathOf("dashboards"), p).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal);
        Assert.Equal(Repo.Dashboards.Order(StringComparer.Ordinal), found);
    }

    [Theory]
    [MemberData(nameof(DashboardFiles))]
    public void Loads_through_file_provisioning_without_substitution(string file)
    {
        var problems = GrafanaFileProvisioning.Problems(file, Repo.Read(file));
        Assert.True(problems.Count == 0, $"{file}:\n{string.Join("\n", problems)}");
    }

    [Fact]
    public void Titles_and_uids_are_unique_within_the_provider()
    {
        // Provisioning refuses to write dashboards whose uid or title another file of the provider uses.
        var docs = Repo.Dashboards.Select(f => JsonNode.Parse(Repo.Read(f))!).ToList();
        foreach (var key in new[] { "uid", "title" })
        {
            var values = docs.Select(d => (string?)d[key]).ToList();
            Assert.Equal(values.Count, values.Distinct(StringComparer.Ordinal).Count());
        }
    }

    /// <summary>Control: the export-for-sharing form (datasource input, default `${DS_PROMETHEUS}`) is reported.</summary>
    [Fact]
    public void Control_the_import_only_form_is_rejected()
    {
        var file = Repo.Dashboards[0];
        var d = JsonNode.Parse(Repo.Read(file))!.AsObject();
        d["__inputs"] = JsonNode.Parse("""[{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}]""");
        var ds = d["templating"]!["list"]!.AsArray().Single(v => (string?)v!["type"] == "datasource")!;
        ds["current"] = JsonNode.Parse("""{"selected": false, "text": "Prometheus", "value": "${DS_PROMETHEUS}"}""");
        var firstPanel = d["panels"]!.AsArray().Select(p => p!.AsObject()).First(p => (string?)p["type"] != "row");
        firstPanel["datasource"] = JsonNode.Parse("""{"type": "prometheus", "uid": "${DS_PROMETHEUS}"}""");

        var problems = GrafanaFileProvisioning.Problems(file, d.ToJsonString());
        Assert.Contains(problems, p => p.Contains("__inputs", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("$DS_PROMETHEUS is not a variable", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("datasource variable starts on", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains($"panels[{d["panels"]!.AsArray().IndexOf(firstPanel)}].datasource", StringComparison.Ordinal));
    }

    /// <summary>Control: what the loader rejects outright (no title, bad uid, not JSON) is reported.</summary>
    [Fact]
    public void Control_missing_title_bad_uid_and_broken_json_are_rejected()
    {
        var file = Repo.Dashboards[0];
        var d = JsonNode.Parse(Repo.Read(file))!.AsObject();
        d["title"] = "";
        d["uid"] = "damon overview/with a space and far more than forty characters";
        var problems = GrafanaFileProvisioning.Problems(file, d.ToJsonString());
        Assert.Contains(problems, p => p.Contains("title", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("uid", StringComparison.Ordinal));

        var broken = GrafanaFileProvisioning.Problems(file, Repo.Read(file).TrimEnd().TrimEnd('}'));
        Assert.Contains(broken, p => p.Contains("not valid JSON", StringComparison.Ordinal));
    }

    [Fact]
    public void Provider_config_serves_the_dashboards_from_one_file_provider()
    {
        var cfg = Yaml.Single(ProviderFile);
        Assert.Equal("1", cfg.Str("apiVersion"));
        var provider = Assert.Single(cfg.Need("providers", ProviderFile).Items());
        Assert.Equal("file", provider.Str("type"));
        Assert.False(string.IsNullOrEmpty(provider.Str("name")), $"{ProviderFile}: provider without name");
        Assert.False(string.IsNullOrEmpty(provider.Str("folder")), $"{ProviderFile}: provider without folder");
        var path = provider.Need("options", "provider").Str("path");
        Assert.True(path is not null && path.StartsWith('/'), $"{ProviderFile}: options.path must be an absolute directory, got '{path}'");

        // The install lines in its header copy the dashboards to exactly that directory.
        var install = Assert.Single(Repo.Read(ProviderFile).Split('\n'), l => l.Contains("install -m 0644 dashboards/*.json ", StringComparison.Ordinal));
        Assert.Equal(path, install.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1].TrimEnd('/'));
    }
}

/// <summary>
/// What Grafana does with a dashboard file it provisions, as checks:
/// <list type="bullet">
/// <item>the provider walks its directory (skipping hidden directories) and takes every *.json file;</item>
/// <item>each file is parsed as strict JSON, and a dashboard without a title is refused;</item>
/// <item>the uid is kept as given (at most 40 of [A-Za-z0-9_-]); without one every Grafana invents its own, which breaks links and bookmarks;</item>
/// <item>nothing is substituted: `__inputs`, `__requires` and `__elements` are import-dialog features, so a
///   `${DS_...}` placeholder stays a literal string and no data source has that uid;</item>
/// <item>at load, `$name`, `${name}`, `${name:format}` and `[[name]]` resolve only to template variables and
///   Grafana's built-ins; a data-source reference resolves when its uid is a data-source variable of the same
///   plugin type or one of Grafana's own pseudo data sources;</item>
/// <item>a data-source variable whose current value is "default" (text and value) starts on the default data
///   source of its type, or the first one of that type when the default is of another type.</item>
/// </list>
/// </summary>
internal static partial class GrafanaFileProvisioning
{
    private static readonly HashSet<string> BuiltinVariables = new(StringComparer.Ordinal)
    {
        "__all", "__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range", "__range_s", "__range_ms",
        "__from", "__to", "__now", "__dashboard", "__user", "__org", "__name", "__timezone",
    };

    // Grafana's own pseudo data sources, referenced by uid with their type.
    private static readonly Dictionary<string, string> BuiltinDatasources = new(StringComparer.Ordinal)
    {
        ["-- Grafana --"] = "grafana",
        ["-- Mixed --"] = "mixed",
        ["-- Dashboard --"] = "dashboard",
    };

    private static readonly string[] ImportOnlyKeys = ["__inputs", "__requires", "__elements"];

    /// <summary>The files a file provider with this directory as options.path loads.</summary>
    public static IEnumerable<string> DashboardFiles(string directory)
    {
        foreach (var f in Directory.EnumerateFiles(directory, "*.json"))
        {
            yield return f;
        }

        foreach (var sub in Directory.EnumerateDirectories(directory).Where(d => !Path.GetFileName(d).StartsWith('.')))
        {
            foreach (var f in DashboardFiles(sub))
            {
                yield return f;
            }
        }
    }

    /// <summary>Every reason the file would not load, or would load with a data source that does not resolve.</summary>
    public static List<string> Problems(string file, string text)
    {
        var problems = new List<string>();
        JsonObject d;
        try
        {
            d = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow })?.AsObject()
                ?? throw new JsonException("null document");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            problems.Add($"{file}: not valid JSON ({e.Message})");
            return problems;
        }

        if (string.IsNullOrWhiteSpace((string?)d["title"]))
        {
            problems.Add($"{file}: no title (provisioning refuses the dashboard)");
        }

        var uid = d["uid"] is JsonValue u && u.TryGetValue<string>(out var s) ? s : null;
        if (uid is null || !UidRegex().IsMatch(uid))
        {
            problems.Add($"{file}: uid '{uid}' must be 1-40 of [A-Za-z0-9_-] (a missing uid is generated anew by every Grafana)");
        }

        if (d["schemaVersion"] is not JsonValue sv || !sv.TryGetValue<int>(out _))
        {
            problems.Add($"{file}: schemaVersion missing or not an integer (the loader migrates from it)");
        }

        foreach (var key in ImportOnlyKeys.Where(d.ContainsKey))
        {
            problems.Add($"{file}: {key} is only read by the import dialog; provisioning substitutes nothing");
        }

        var variables = (d["templating"]?["list"]?.AsArray() ?? []).Select(v => v!.AsObject()).ToList();
        var names = variables.Select(v => (string?)v["name"] ?? "").ToHashSet(StringComparer.Ordinal);
        var datasourceVariables = variables.Where(v => (string?)v["type"] == "datasource")
            .ToDictionary(v => (string?)v["name"] ?? "", v => (string?)v["query"] ?? "", StringComparer.Ordinal);

        var ds = variables.Where(v => (string?)v["type"] == "datasource").ToList();
        if (ds.Count != 1 || (string?)ds[0]["name"] != "datasource" || (string?)ds[0]["query"] != "prometheus")
        {
            problems.Add($"{file}: expected one variable 'datasource' of type datasource with query 'prometheus', found [{string.Join(", ", ds.Select(v => $"{v["name"]}:{v["query"]}"))}]");
        }
        else
        {
            var current = ds[0]["current"];
            if ((string?)current?["value"] != "default" || (string?)current?["text"] != "default")
            {
                problems.Add($"{file}: the datasource variable starts on '{current?["value"]}'; give it current {{\"text\": \"default\", \"value\": \"default\"}} so it starts on a Prometheus data source that exists");
            }

            if (!string.IsNullOrEmpty((string?)ds[0]["regex"]) || (bool?)ds[0]["multi"] == true || (bool?)ds[0]["includeAll"] == true)
            {
                problems.Add($"{file}: the datasource variable must offer every Prometheus data source, one at a time (no regex, multi or includeAll)");
            }
        }

        Walk(d, "$", (path, node) =>
        {
            switch (node)
            {
                case JsonValue v when v.TryGetValue<string>(out var str):
                    foreach (var name in References(str).Where(n => !names.Contains(n) && !BuiltinVariables.Contains(n)))
                    {
                        problems.Add($"{file} {path}: ${name} is not a variable of the dashboard (left as literal text by provisioning): \"{str}\"");
                    }

                    break;
                case JsonObject o when o.ContainsKey("datasource"):
                    if (DatasourceProblem(o["datasource"], datasourceVariables) is string why)
                    {
                        problems.Add($"{file} {path}.datasource: {why}");
                    }

                    break;
            }
        });

        // Panels and their queries name their data source: a panel without one queries Grafana's
        // default data source, which need not be Prometheus.
        foreach (var (panel, path) in Panels(d))
        {
            if ((string?)panel["type"] == "row")
            {
                continue;
            }

            if (panel["datasource"] is null)
            {
                problems.Add($"{file} {path}: panel '{panel["title"]}' has no datasource");
            }

            var targets = panel["targets"]?.AsArray() ?? [];
            for (var i = 0; i < targets.Count; i++)
            {
                if (targets[i]?["datasource"] is null)
                {
                    problems.Add($"{file} {path}.targets[{i}]: query without datasource");
                }
            }
        }

        return problems;
    }

    private static string? DatasourceProblem(JsonNode? reference, IReadOnlyDictionary<string, string> datasourceVariables)
    {
        if (reference is null)
        {
            return null; // a row or a panel checked separately
        }

        if (reference is not JsonObject r)
        {
            return $"'{reference.ToJsonString()}' is a legacy name reference; use {{\"type\", \"uid\"}}";
        }

        var type = (string?)r["type"];
        var uid = (string?)r["uid"] ?? "";
        if (BuiltinDatasources.TryGetValue(uid, out var builtinType))
        {
            return type == builtinType ? null : $"uid '{uid}' is Grafana's {builtinType} data source, not type '{type}'";
        }

        var m = WholeReferenceRegex().Match(uid);
        if (!m.Success)
        {
            return $"uid '{uid}' is a fixed data source uid that no other Grafana has; use the datasource variable";
        }

        var name = m.Groups["name"].Value;
        if (!datasourceVariables.TryGetValue(name, out var plugin))
        {
            return $"uid '{uid}' is not a data-source variable of the dashboard";
        }

        return type == plugin ? null : $"type '{type}' differs from the variable ${name}'s plugin '{plugin}'";
    }

    private static IEnumerable<(JsonObject Panel, string Path)> Panels(JsonObject d)
    {
        var top = d["panels"]?.AsArray() ?? [];
        for (var i = 0; i < top.Count; i++)
        {
            var p = top[i]!.AsObject();
            yield return (p, $"$.panels[{i}]");
            var nested = p["panels"]?.AsArray() ?? [];
            for (var j = 0; j < nested.Count; j++)
            {
                yield return (nested[j]!.AsObject(), $"$.panels[{i}].panels[{j}]");
            }
        }
    }

    private static void Walk(JsonNode? node, string path, Action<string, JsonNode> visit)
    {
        if (node is null)
        {
            return;
        }

        visit(path, node);
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, child) in o)
                {
                    Walk(child, $"{path}.{key}", visit);
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    Walk(a[i], $"{path}[{i}]", visit);
                }

                break;
        }
    }

    /// <summary>Names referenced as $name, ${name}, ${name:format} or [[name]].</summary>
    public static IEnumerable<string> References(string text) =>
        ReferenceRegex().Matches(text).Select(m => m.Groups["a"].Success ? m.Groups["a"].Value : m.Groups["b"].Success ? m.Groups["b"].Value : m.Groups["c"].Value);

    [GeneratedRegex(@"\$\{(?<a>[A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}|\$(?<b>[A-Za-z_][A-Za-z0-9_]*)|\[\[(?<c>[A-Za-z_][A-Za-z0-9_]*)(?::[^\]]*)?\]\]")]
    private static partial Regex ReferenceRegex();

    [GeneratedRegex(@"^(?:\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?<name>[A-Za-z_][A-Za-z0-9_]*))$")]
    private static partial Regex WholeReferenceRegex();

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,40}$")]
    private static partial Regex UidRegex();
}
