using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>Static checks of the Grafana dashboards: importable, templated, and only querying the agent's interface.</summary>
public sealed class DashboardStaticTests
{
    public static TheoryData<string> DashboardFiles => new(Repo.Dashboards);

    [Theory]
    [MemberData(nameof(DashboardFiles))]
    public void Is_importable_with_a_prometheus_datasource_variable(string file)
    {
        var d = new Dashboard(file);
        Assert.True((int?)d.Json["schemaVersion"] >= 38, $"{file}: schemaVersion must be >= 38");
        Assert.Null(d.Json["id"]?.GetValue<int?>());
        Assert.False(string.IsNullOrEmpty((string?)d.Json["uid"]), $"{file}: uid missing");
        Assert.False(string.IsNullOrEmpty((string?)d.Json["title"]), $"{file}: title missing");

        var ds = Assert.Single(d.Variables, v => v.Name == "datasource");
        Assert.Equal("datasource", ds.Type);
        Assert.Equal("prometheus", (string?)ds.Node["query"]);
    }

    [Fact]
    public void Dashboard_uids_are_unique()
    {
        var uids = Repo.Dashboards.Select(f => (string?)new Dashboard(f).Json["uid"]).ToList();
        Assert.Equal(uids.Count, uids.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [MemberData(nameof(DashboardFiles))]
    public void Is_templated_by_instance_kdamond_and_target_via_label_values(string file)
    {
        var d = new Dashboard(file);
        foreach (var name in new[] { "instance", "kdamond", "target" })
        {
            var v = Assert.Single(d.Variables, x => x.Name == name);
            Assert.Equal("query", v.Type);
            Assert.StartsWith("label_values(", v.Definition, StringComparison.Ordinal);
            Assert.EndsWith($", {name})", v.Definition, StringComparison.Ordinal);
            Assert.Equal("${datasource}", (string?)v.Node["datasource"]?["uid"]);
        }

        // Each query variable's selector must itself be valid against the catalog.
        foreach (var v in d.Variables.Where(v => v.Type == "query"))
        {
            var query = Dashboard.LabelValuesQuery(v.Definition!);
            AssertSelectorsKnown($"{file} variable ${v.Name}", query);
        }
    }

    [Theory]
    [MemberData(nameof(DashboardFiles))]
    public void Every_panel_and_target_uses_the_datasource_variable(string file)
    {
        var d = new Dashboard(file);
        foreach (var p in d.Panels.Where(p => (string?)p["type"] != "row"))
        {
            var title = (string?)p["title"];
            Assert.False(string.IsNullOrWhiteSpace(title), $"{file}: a panel without title (id {p["id"]})");
            Assert.Equal("${datasource}", (string?)p["datasource"]?["uid"]);
            var targets = p["targets"]?.AsArray() ?? [];
            Assert.True(targets.Count > 0, $"{file}: panel '{title}' has no query");
            foreach (var t in targets)
            {
                Assert.Equal("${datasource}", (string?)t!["datasource"]?["uid"]);
                Assert.False(string.IsNullOrWhiteSpace((string?)t["expr"]), $"{file}: panel '{title}' target {t["refId"]} has no expr");
            }
        }
    }

    [Theory]
    [MemberData(nameof(DashboardFiles))]
    public void Panel_ids_are_unique_and_the_grid_has_no_overlaps(string file)
    {
        var d = new Dashboard(file);
        var panels = d.Panels.ToList();
        var ids = panels.Select(p => (int?)p["id"]).ToList();
        Assert.DoesNotContain(null, ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());

        var boxes = panels.Select(p => (Title: (string?)p["title"], X: (int)p["gridPos"]!["x"]!, Y: (int)p["gridPos"]!["y"]!, W: (int)p["gridPos"]!["w"]!, H: (int)p["gridPos"]!["h"]!)).ToList();
        foreach (var b in boxes)
        {
            Assert.True(b.X >= 0 && b.W > 0 && b.X + b.W <= 24, $"{file}: panel '{b.Title}' does not fit the 24-column grid");
        }

        for (var i = 0; i < boxes.Count; i++)
        {
            for (var j = i + 1; j < boxes.Count; j++)
            {
                var (a, b) = (boxes[i], boxes[j]);
                var overlap = a.X < b.X + b.W && b.X < a.X + a.W && a.Y < b.Y + b.H && b.Y < a.Y + a.H;
                Assert.False(overlap, $"{file}: panels '{a.Title}' and '{b.Title}' overlap");
            }
        }
    }

    [Theory]
    [MemberData(nameof(DashboardFiles))]
    public void Every_variable_used_is_defined_or_builtin(string file)
    {
        var d = new Dashboard(file);
        var defined = d.Variables.Select(v => v.Name).Concat(["__rate_interval", "__interval", "__range"]).ToHashSet(StringComparer.Ordinal);
        var texts = d.Targets.Select(t => (Where: $"panel '{t.Panel}' {t.RefId}", Text: t.Expr))
            .Concat(d.Panels.Select(p => (Where: "title", Text: (string?)p["title"] ?? "")))
            .Concat(d.Variables.Where(v => v.Type == "query").Select(v => (Where: $"variable {v.Name}", Text: v.Definition ?? "")));
        foreach (var (where, text) in texts)
        {
            foreach (var r in Dashboard.References(text))
            {
                Assert.True(defined.Contains(r), $"{file} {where}: ${r} is not a dashboard variable");
            }
        }
    }

    [Theory]
    [MemberData(nameof(DashboardFiles))]
    public void Every_query_uses_only_documented_metrics_and_their_labels(string file)
    {
        var d = new Dashboard(file);
        foreach (var t in d.Targets)
        {
            foreach (var (expr, desc) in d.Expansions(t.Expr))
            {
                AssertSelectorsKnown($"{file} panel '{t.Panel}' {t.RefId}{desc}", expr);
            }
        }
    }

    [Fact]
    public void Overview_has_the_required_views()
    {
        var d = new Dashboard("dashboards/damon-overview.json");
        var panels = d.Panels.ToList();

        // WSS next to RSS in one panel.
        Assert.Contains(panels, p => Exprs(p).Any(e => e.Contains("damon_memory_working_set_bytes{")) && Exprs(p).Any(e => e.Contains("damon_target_memory_rss_bytes{")));

        // Idle-time heatmap from the cumulative buckets, de-accumulated by Grafana's heatmap format.
        var heatmap = Assert.Single(panels, p => (string?)p["type"] == "heatmap");
        var ht = Assert.Single(heatmap["targets"]!.AsArray());
        Assert.Equal("heatmap", (string?)ht!["format"]);
        Assert.Contains("sum by (le) (damon_memory_idle_bytes{", (string?)ht["expr"], StringComparison.Ordinal);
        Assert.Equal("{{le}}", (string?)ht["legendFormat"]);
        Assert.Equal(false, (bool?)heatmap["options"]?["calculate"]);

        // Cold memory at or above a chosen idle time: custom variable 60/300/1800 s, matching the agent's le values.
        var cold = Assert.Single(d.Variables, v => v.Name == "cold_after");
        Assert.Equal("custom", cold.Type);
        Assert.Equal(["60.0", "300.0", "1800.0"], cold.OptionValues);
        Assert.Contains(d.Targets, t => t.Expr.Contains("le=\"$cold_after\"", StringComparison.Ordinal) && t.Expr.Contains("le=\"+Inf\"", StringComparison.Ordinal));

        // Per pod: the pods holding the most idle memory, named by joining kube-state-metrics' kube_pod_info
        // on the pod UID; their working set only where the attribution purity makes it theirs.
        var podsByIdle = Assert.Single(panels, p => (string?)p["title"] == "Pods by idle memory (idle at least $cold_after s)");
        string idleExpr = Exprs(podsByIdle).Single();
        Assert.Contains("damon_cgroup_memory_idle_bytes{", idleExpr, StringComparison.Ordinal);
        Assert.Contains("le=\"$cold_after\"", idleExpr, StringComparison.Ordinal);
        Assert.Contains("* on(pod_uid) group_left(namespace, pod)", idleExpr, StringComparison.Ordinal);
        Assert.Contains("label_replace(kube_pod_info{}, \"pod_uid\", \"$1\", \"uid\", \"(.+)\")", idleExpr, StringComparison.Ordinal);
        Assert.StartsWith("topk(20, ", idleExpr, StringComparison.Ordinal);
        var podWss = Assert.Single(panels, p => (string?)p["title"] == "Pod working set (purity at least 0.5)");
        Assert.Contains("and on(instance, kdamond, cgroup) damon_cgroup_memory_purity_ratio{", Exprs(podWss).Single(), StringComparison.Ordinal);
        Assert.Contains(">= 0.5", Exprs(podWss).Single(), StringComparison.Ordinal);

        foreach (var metric in new[]
                 {
                     "damon_memory_access_bandwidth_bytes_per_second{", "damon_memory_temperature{",
                     "damon_memory_idle_time_seconds{", "histogram_quantile(0.9, sum by (le) (damon_memory_idle_bytes{",
                 })
        {
            Assert.Contains(d.Targets, t => t.Expr.Contains(metric, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Schemes_dashboard_has_the_required_views()
    {
        var d = new Dashboard("dashboards/damon-schemes.json");
        foreach (var needle in new[]
                 {
                     "rate(damos_scheme_tried_size_bytes_total{", "rate(damos_scheme_applied_size_bytes_total{",
                     "rate(damos_scheme_quota_exceeds_total{", "damos_scheme_quota_effective_bytes{",
                     "kdamond=\"damon_reclaim\"", "kdamond=\"damon_lru_sort\"",
                 })
        {
            Assert.Contains(d.Targets, t => t.Expr.Contains(needle, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Health_dashboard_has_the_required_views()
    {
        var d = new Dashboard("dashboards/damon-agent-health.json");
        foreach (var needle in new[]
                 {
                     "up{", "damon_otel_source_up{", "histogram_quantile(0.99, sum by (le, instance, source) (rate(damon_otel_collection_duration_seconds_bucket{",
                     "rate(damon_otel_collection_errors_total{", "damon_otel_snapshot_age_seconds{", "rate(process_cpu_time_seconds_total{", "process_memory_usage_bytes{",
                 })
        {
            Assert.Contains(d.Targets, t => t.Expr.Contains(needle, StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// Every panel expression and variable query, with the variables substituted, parses: they are
    /// written into a rules file and checked by Debian's promtool.
    /// </summary>
    [Fact]
    public void Every_query_parses_with_promtool()
    {
        var promtool = Tools.Require("promtool", "prometheus");
        var queries = AllQueries().ToList();
        Assert.True(queries.Count > 40, $"expected the three dashboards to hold many queries, found {queries.Count}");

        var file = Path.Combine(Tools.TempDir("dash-rules"), "dashboards.rules.yml");
        File.WriteAllText(file, RulesFileOf(queries.Select(q => q.Expr)));
        var result = Tools.Run(promtool, ["check", "rules", file]);
        Assert.True(result.ExitCode == 0, $"promtool rejected a dashboard query:\n{result.Output}\n\nqueries:\n{string.Join("\n", queries.Select((q, i) => $"r{i}: {q.Where}: {q.Expr}"))}");
        Assert.Contains($"SUCCESS: {queries.Count} rules found", result.Output, StringComparison.Ordinal);
    }

    /// <summary>Control for the test above: the same harness rejects a broken expression.</summary>
    [Fact]
    public void Promtool_harness_rejects_a_broken_query()
    {
        var promtool = Tools.Require("promtool", "prometheus");
        var file = Path.Combine(Tools.TempDir("dash-rules"), "broken.rules.yml");
        File.WriteAllText(file, RulesFileOf(["sum by (le) (damon_memory_idle_bytes{target=~\".+\"}"]));
        var result = Tools.Run(promtool, ["check", "rules", file]);
        Assert.NotEqual(0, result.ExitCode);
    }

    internal static IEnumerable<(string Where, string Expr, JsonObject? Target)> AllQueries()
    {
        foreach (var file in Repo.Dashboards)
        {
            var d = new Dashboard(file);
            foreach (var t in d.Targets)
            {
                foreach (var (expr, desc) in d.Expansions(t.Expr))
                {
                    yield return ($"{file} panel '{t.Panel}' {t.RefId}{desc}", expr, t.Node);
                }
            }

            foreach (var v in d.Variables.Where(v => v.Type == "query"))
            {
                yield return ($"{file} variable ${v.Name}", Dashboard.Substitute(Dashboard.LabelValuesQuery(v.Definition!), new Dictionary<string, string>()), null);
            }
        }
    }

    internal static string RulesFileOf(IEnumerable<string> exprs)
    {
        var sb = new StringBuilder("groups:\n  - name: dashboard-queries\n    rules:\n");
        var i = 0;
        foreach (var e in exprs)
        {
            // JSON strings are valid YAML double-quoted scalars.
            sb.Append("      - record: dashboard_query_").Append(i++).Append('\n')
              .Append("        expr: ").Append(JsonSerializer.Serialize(e)).Append('\n');
        }

        return sb.ToString();
    }

    private static IEnumerable<string> Exprs(JsonObject panel) =>
        (panel["targets"]?.AsArray() ?? []).Select(t => (string?)t!["expr"] ?? "");

    internal static void AssertSelectorsKnown(string where, string expr)
    {
        var selectors = MetricCatalog.Selectors(expr);
        Assert.True(selectors.Count > 0, $"{where}: no metric selector found in {expr}");
        foreach (var s in selectors)
        {
            Assert.True(MetricCatalog.TryLabels(s.Metric, out var labels), $"{where}: '{s.Metric}' is not a documented damon-otel metric ({expr})");
            var allowed = labels.ToHashSet(StringComparer.Ordinal);
            foreach (var label in s.Labels)
            {
                Assert.True(allowed.Contains(label), $"{where}: '{s.Metric}' has no label '{label}' ({s.Text})");
            }
        }

        var bare = MetricCatalog.BareMetricNames(expr);
        Assert.True(bare.Count == 0, $"{where}: metric names without a selector brace: {string.Join(", ", bare)} ({expr})");
    }
}
