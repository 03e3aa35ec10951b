namespace DamonOtel.Ecosystem.Tests;

/// <summary>The Prometheus rules: valid, unit-tested by promtool, and complete.</summary>
public sealed class RulesTests
{
    private static readonly string[] RequiredAlerts =
    [
        "DamonWorkingSetGrowing",
        "DamonPodWorkingSetGrowing",
        "DamonWorkingSetNearMonitoredMemory",
        "DamonWorkingSetNearMemoryLimit",
        "DamonWorkingSetNearRss",
        "DamosSchemeNotApplying",
        "DamonKdamondDown",
        "DamonOtelAgentAbsent",
        "DamonOtelAgentDown",
        "DamonOtelSnapshotStale",
        "DamonOtelSourceDown",
    ];

    [Fact]
    public void Promtool_check_rules_passes()
    {
        var promtool = Tools.Require("promtool", "prometheus");
        var result = Tools.Run(promtool, ["check", "rules", Repo.RulesFile]);
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("SUCCESS", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Promtool_unit_tests_pass()
    {
        var promtool = Tools.Require("promtool", "prometheus");
        var result = Tools.Run(promtool, ["test", "rules", Path.GetFileName(Repo.RulesTestFile)], workingDirectory: Path.GetDirectoryName(Repo.PathOf(Repo.RulesTestFile)));
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("SUCCESS", result.Output, StringComparison.Ordinal);
    }

    /// <summary>Control: the unit tests do catch a changed threshold (the WSS growth alert then stays silent).</summary>
    [Fact]
    public void Promtool_unit_tests_catch_a_changed_threshold()
    {
        var promtool = Tools.Require("promtool", "prometheus");
        var dir = Tools.TempDir("rules-mutant");
        var rules = Repo.Read(Repo.RulesFile);
        const string original = "record: damon_otel:threshold:wss_growth_fraction_per_hour\n        expr: vector(0.1)";
        Assert.Contains(original, rules, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir, "damon-otel-rules.yml"), rules.Replace(original, original.Replace("0.1", "0.2", StringComparison.Ordinal), StringComparison.Ordinal));
        File.Copy(Repo.PathOf(Repo.RulesTestFile), Path.Combine(dir, "damon-otel-rules.test.yml"));
        var result = Tools.Run(promtool, ["test", "rules", "damon-otel-rules.test.yml"], workingDirectory: dir);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("DamonWorkingSetGrowing", result.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Control: with the scrape-only expression DamonOtelAgentAbsent fires while an agent pushes
    /// OTLP (no up at all); the unit tests catch that.
    /// </summary>
    [Fact]
    public void Promtool_unit_tests_catch_an_agent_absent_alert_blind_to_OTLP()
    {
        var promtool = Tools.Require("promtool", "prometheus");
        var dir = Tools.TempDir("rules-mutant-absent");
        var rules = Repo.Read(Repo.RulesFile);
        const string original = "expr: absent(up{job=\"damon-otel\"}) and absent(damon_otel_build_info{job=\"damon-otel\"})";
        Assert.Contains(original, rules, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir, "damon-otel-rules.yml"), rules.Replace(original, "expr: absent(up{job=\"damon-otel\"})", StringComparison.Ordinal));
        File.Copy(Repo.PathOf(Repo.RulesTestFile), Path.Combine(dir, "damon-otel-rules.test.yml"));
        var result = Tools.Run(promtool, ["test", "rules", "damon-otel-rules.test.yml"], workingDirectory: dir);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("alertname: DamonOtelAgentAbsent, time: 15m", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Required_alerts_exist_with_severity_and_runbook_annotations()
    {
        var alerts = Alerts().ToList();
        foreach (var name in RequiredAlerts)
        {
            Assert.Contains(alerts, a => a.Str("alert") == name);
        }

        foreach (var a in alerts)
        {
            var name = a.Str("alert");
            Assert.Contains(a.Get("labels").Str("severity"), new[] { "critical", "warning", "info" });
            var annotations = a.Need("annotations", $"alert {name}");
            foreach (var key in new[] { "summary", "description", "runbook_url" })
            {
                Assert.False(string.IsNullOrWhiteSpace(annotations.Str(key)), $"alert {name}: annotation '{key}' missing");
            }

            // Say where (labels) unless the series is gone altogether (absent() has only the job).
            if (!a.Str("expr")!.StartsWith("absent(", StringComparison.Ordinal))
            {
                Assert.Contains("{{ $labels.", annotations.Str("description") + annotations.Str("summary"), StringComparison.Ordinal);
            }
            Assert.False(string.IsNullOrWhiteSpace(a.Str("for")), $"alert {name}: no 'for' duration (a single bad scrape would page)");
        }
    }

    [Fact]
    public void Every_alert_is_unit_tested_firing_and_not_firing()
    {
        var cases = Yaml.Single(Repo.RulesTestFile).Need("tests", Repo.RulesTestFile).Items()
            .SelectMany(t => t.Get("alert_rule_test").Items())
            .Select(c => (Name: c.Str("alertname"), Firing: c.Get("exp_alerts").Items().Any()))
            .ToList();
        foreach (var name in Alerts().Select(a => a.Str("alert")))
        {
            Assert.True(cases.Any(c => c.Name == name && c.Firing), $"{Repo.RulesTestFile}: no test where {name} fires");
            Assert.True(cases.Any(c => c.Name == name && !c.Firing), $"{Repo.RulesTestFile}: no test where {name} stays silent");
        }
    }

    [Fact]
    public void Rules_use_only_documented_metrics_and_labels()
    {
        var recorded = Groups().SelectMany(g => g.Get("rules").Items()).Select(r => r.Str("record")).Where(r => r is not null).ToHashSet(StringComparer.Ordinal);

        // The one input an operator records (documented in the rules file header).
        recorded.Add("damon_otel:target_memory_limit_bytes");
        foreach (var rule in Groups().SelectMany(g => g.Get("rules").Items()))
        {
            var expr = rule.Str("expr")!;
            var where = $"{Repo.RulesFile} {rule.Str("alert") ?? rule.Str("record")}";
            foreach (var s in MetricCatalog.Selectors(expr))
            {
                Assert.True(recorded.Contains(s.Metric) || MetricCatalog.TryLabels(s.Metric, out _), $"{where}: unknown metric '{s.Metric}'");
                if (MetricCatalog.TryLabels(s.Metric, out var labels))
                {
                    foreach (var l in s.Labels)
                    {
                        Assert.Contains(l, labels);
                    }
                }
            }

            foreach (var bare in MetricCatalog.BareMetricNames(expr))
            {
                Assert.True(recorded.Contains(bare) || MetricCatalog.TryLabels(bare, out _), $"{where}: unknown metric '{bare}'");
            }
        }
    }

    [Fact]
    public void Rules_select_the_damon_otel_job()
    {
        var rules = Repo.Read(Repo.RulesFile);
        Assert.Contains("absent(up{job=\"damon-otel\"})", rules, StringComparison.Ordinal);
        Assert.Contains("absent(damon_otel_build_info{job=\"damon-otel\"})", rules, StringComparison.Ordinal);
        Assert.Contains("up{job=\"damon-otel\"} == 0", rules, StringComparison.Ordinal);
    }

    private static IEnumerable<YamlDotNet.RepresentationModel.YamlNode> Groups() =>
        Yaml.Single(Repo.RulesFile).Need("groups", Repo.RulesFile).Items();

    private static IEnumerable<YamlDotNet.RepresentationModel.YamlNode> Alerts() =>
        Groups().SelectMany(g => g.Get("rules").Items()).Where(r => r.Str("alert") is not null);
}
