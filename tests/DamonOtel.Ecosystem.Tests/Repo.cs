namespace DamonOtel.Ecosystem.Tests;

/// <summary>Paths of the ecosystem files, found from the repository root (the folder holding DamonOtel.sln).</summary>
internal static class Repo
{
    public static string Root => RepoRoot.Dir;

    public static string PathOf(string relative) => Path.Combine(Root, relative.Replace('/', Path.DirectorySeparatorChar));

    public static string Read(string relative)
    {
        var path = PathOf(relative);
        Assert.True(File.Exists(path), $"missing file {relative} (looked at {path})");
        return File.ReadAllText(path);
    }

    public static readonly string[] Dashboards =
    [
        "dashboards/damon-overview.json",
        "dashboards/damon-schemes.json",
        "dashboards/damon-agent-health.json",
    ];

    public const string RulesFile = "config/prometheus/damon-otel-rules.yml";
    public const string RulesTestFile = "config/prometheus/damon-otel-rules.test.yml";
    public const string PublishScript = "scripts/publish-agent.sh";
    public const string HostConfig = "deploy/config/config.yaml";
    public const string ContainerConfig = "deploy/config/container.yaml";
    public const string DaemonSet = "deploy/kubernetes/daemonset.yaml";
    public const string ServiceMonitor = "deploy/kubernetes/servicemonitor.yaml";
    public const string CollectorConfig = "deploy/otel-collector/config.yaml";
    public const string SystemdUnit = "deploy/systemd/damon-otel.service";
}
