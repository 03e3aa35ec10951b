using System.Net;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The dashboards, rules and deployment files against the real agent (on the Simulator) and
/// Debian's prometheus. These fail — never skip — while the agent cannot be published or started;
/// select them with --filter Category=Live, or leave them out with --filter Category!=Live.
/// </summary>
[Collection(LiveCollection.Name)]
[Trait("Category", "Live")]
public sealed class LiveTests(LiveStack stack, ITestOutputHelper output)
{
    [Fact]
    public void Every_dashboard_query_returns_data_from_the_simulated_agent()
    {
        var failures = new List<string>();
        var count = 0;
        foreach (var (where, expr, target) in DashboardStaticTests.AllQueries())
        {
            count++;
            JsonArray result;
            try
            {
                result = stack.Query(expr);
            }
            catch (InvalidOperationException e)
            {
                failures.Add($"{where}: {e.Message}");
                continue;
            }

            if (result.Count == 0)
            {
                var excuse = EmptyAllowedBecause(expr);
                if (excuse is null)
                {
                    failures.Add($"{where}: empty result\n  {expr}");
                }
                else
                {
                    output.WriteLine($"allowed empty: {where}: {excuse}");
                }

                continue;
            }

            // Data a panel can draw: at least one number (0/0 ratios and quantiles of nothing are NaN).
            var values = result.Select(r => (string?)r!["value"]?[1]).ToList();
            if (!values.Any(v => double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x) && double.IsFinite(x)))
            {
                failures.Add($"{where}: no finite value, only [{string.Join(", ", values)}]\n  {expr}");
                continue;
            }

            // A heatmap needs several buckets, including +Inf, to be cut into bands.
            if ((string?)target?["format"] == "heatmap")
            {
                var les = result.Select(r => (string?)r!["metric"]?["le"]).ToList();
                if (les.Count < 2 || !les.Contains("+Inf"))
                {
                    failures.Add($"{where}: heatmap query returned le values [{string.Join(", ", les)}]; need several buckets and +Inf");
                }
            }
        }

        output.WriteLine($"{count} queries run");
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} dashboard queries failed:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void The_agent_exposes_every_documented_metric_and_idle_bucket()
    {
        var names = stack.Query("group by (__name__) ({job=\"damon-otel\"})").Select(r => (string?)r!["metric"]!["__name__"]).ToHashSet(StringComparer.Ordinal);
        var missing = MetricCatalog.Agent.Keys.Where(m => !names.Contains(m)).ToList();
        Assert.True(missing.Count == 0, "metrics of the documented interface the simulated agent does not expose: " + string.Join(", ", missing));

        var scopes = stack.Query("count by (otel_scope_name) ({job=\"damon-otel\",__name__=~\"damon_.*|damos_.*\"})").Select(r => (string?)r!["metric"]!["otel_scope_name"]);
        Assert.Equal(["DamonOtel"], scopes);

        var les = stack.Query("group by (le) (damon_memory_idle_bytes{job=\"damon-otel\"})").Select(r => (string?)r!["metric"]!["le"]).ToHashSet(StringComparer.Ordinal);
        foreach (var le in MetricCatalog.RequiredIdleBuckets)
        {
            Assert.True(les.Contains(le), $"damon_memory_idle_bytes has no le=\"{le}\" bucket (the dashboards' $cold_after and the rules use it); got: {string.Join(", ", les)}");
        }
    }

    [Fact]
    public void Rules_load_and_evaluate_without_errors()
    {
        JsonArray groups = [];
        for (var attempt = 0; attempt < 40; attempt++)
        {
            groups = LiveStack.GetJson(stack.Prometheus, "/api/v1/rules")["data"]!["groups"]!.AsArray();
            if (groups.SelectMany(g => g!["rules"]!.AsArray()).All(r => (string?)r!["health"] != "unknown"))
            {
                break;
            }

            Thread.Sleep(250);
        }

        var rules = groups.SelectMany(g => g!["rules"]!.AsArray()).ToList();
        Assert.Equal(24, rules.Count);
        var bad = rules.Where(r => (string?)r!["health"] != "ok").Select(r => $"{r!["name"]}: {r["health"]} {r["lastError"]}").ToList();
        Assert.True(bad.Count == 0, "rules that did not evaluate cleanly:\n" + string.Join("\n", bad));

        // Every recording rule produces series from the agent's data (the thresholds are constants).
        var recordings = rules.Where(r => (string?)r!["type"] == "recording").Select(r => (string)r!["name"]!).ToList();
        Assert.Equal(11, recordings.Count);
        var empty = recordings.Where(name => !Eventually(() => stack.Query(name + "{}").Count > 0)).ToList();
        Assert.True(empty.Count == 0, "recording rules without output: " + string.Join(", ", empty));

        // A healthy simulated agent puts none of the availability alerts even in "pending" (the
        // simulated kernel's disabled DAMON_RECLAIM and DAMON_STAT report up 0: not an alert).
        var active = LiveStack.GetJson(stack.Prometheus, "/api/v1/alerts")["data"]!["alerts"]!.AsArray()
            .Select(a => (string?)a!["labels"]!["alertname"]).ToList();
        foreach (var name in new[] { "DamonOtelAgentAbsent", "DamonOtelAgentDown", "DamonOtelSourceDown", "DamonOtelSnapshotStale", "DamonKdamondDown" })
        {
            Assert.DoesNotContain(name, active);
        }
    }

    [Fact]
    public async Task Probe_and_scrape_endpoints_answer()
    {
        output.WriteLine(stack.Timings);
        foreach (var path in AgentCli.Endpoints)
        {
            Assert.Equal(HttpStatusCode.OK, LiveStack.Status(stack.Agent, path));
        }

        var metrics = await stack.Agent.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("otel_scope_name=\"DamonOtel\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public void Shipped_configs_pass_check_config_and_a_broken_one_does_not()
    {
        foreach (var shipped in new[] { Repo.HostConfig, Repo.ContainerConfig })
        {
            var ok = stack.RunAgent("check-config", Repo.PathOf(shipped));
            Assert.True(ok.ExitCode == 0, $"check-config {shipped}: exit {ok.ExitCode}\n{ok.Output}");
            Assert.Contains(": OK (0 kdamond(s))", ok.Output, StringComparison.Ordinal);
        }

        // The ConfigMap's copy, as the pod sees it.
        var cm = Yaml.Documents(Repo.DaemonSet).Single(d => d.Str("kind") == "ConfigMap");
        var file = Path.Combine(stack.Dir("configmap"), "config.yaml");
        File.WriteAllText(file, cm.Get("data").Str("config.yaml"));
        var cmResult = stack.RunAgent("check-config", file);
        Assert.True(cmResult.ExitCode == 0, $"check-config on the ConfigMap's config.yaml: exit {cmResult.ExitCode}\n{cmResult.Output}");

        var broken = Path.Combine(stack.Dir("configmap"), "broken.yaml");
        File.WriteAllText(broken, "kdamonds: [\n  - name: x\n    unknown_key: {\n");
        var bad = stack.RunAgent("check-config", broken);
        Assert.NotEqual(0, bad.ExitCode);
    }

    /// <summary>Polls a condition for up to 10 s (rules evaluate every second).</summary>
    private static bool Eventually(Func<bool> condition)
    {
        for (var attempt = 0; attempt < 40; attempt++)
        {
            if (condition())
            {
                return true;
            }

            Thread.Sleep(250);
        }

        return false;
    }

    /// <summary>Why an empty result is acceptable for this query on the Simulator, or null when it is not.</summary>
    private string? EmptyAllowedBecause(string expr)
    {
        // A module the simulated kernel does not have: the agent has no source for it (it observes
        // every module whose parameters exist, running or not) and no series names it.
        var modules = MetricCatalog.ModuleKdamonds.Where(m => expr.Contains(m, StringComparison.Ordinal)).ToList();
        if (modules.Count > 0)
        {
            var alternatives = string.Join("|", modules);
            var series = stack.Query($"count({{job=\"damon-otel\",kdamond=~\"{alternatives}\"}})").Count;
            var sources = stack.Query($"count(damon_otel_source_up{{job=\"damon-otel\",source=~\"module/({alternatives})\"}})").Count;
            if (series == 0 && sources == 0)
            {
                return $"the simulated kernel has no {string.Join("/", modules)} module (no module source, no series)";
            }
        }

        return null;
    }
}
