using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// What a cluster operator expects of a node agent's manifests: every deploy file parses, and the
/// DaemonSet is node-critical (with the quota some clusters need for that), tolerates every taint,
/// follows host mounts, probes liveness and readiness separately, rolls out without ever running
/// two agents on a node, and gets its node name from the downward API.
/// </summary>
public sealed partial class DaemonSetConventionsTests
{
    private static readonly string[] NamespacedKinds = ["ServiceAccount", "ConfigMap", "ResourceQuota", "DaemonSet", "Service", "ServiceMonitor"];

    public static TheoryData<string> DeployYamlFiles => new(
        Directory.EnumerateFiles(Repo.PathOf("deploy"), "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(Repo.Root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal));

    private static List<YamlMappingNode> Docs() => Yaml.Documents(Repo.DaemonSet);

    private static YamlMappingNode Doc(string kind) => Assert.Single(Docs(), d => d.Str("kind") == kind);

    private static YamlNode PodSpec() => Doc("DaemonSet").Need("spec", "DaemonSet").Need("template", "spec").Need("spec", "template");

    private static YamlNode Container() => Assert.Single(PodSpec().Need("containers", "pod spec").Items());

    [Theory]
    [MemberData(nameof(DeployYamlFiles))]
    public void Every_deploy_file_parses_and_kubernetes_objects_are_complete(string file)
    {
        // YamlDotNet rejects syntax errors and duplicate keys, which kubectl would reject too.
        var docs = Yaml.Documents(file);
        Assert.NotEmpty(docs);
        if (!file.StartsWith("deploy/kubernetes/", StringComparison.Ordinal))
        {
            return;
        }

        foreach (var d in docs)
        {
            var kind = d.Str("kind");
            Assert.False(string.IsNullOrEmpty(kind), $"{file}: a document without kind");
            Assert.False(string.IsNullOrEmpty(d.Str("apiVersion")), $"{file}: {kind} without apiVersion");
            var metadata = d.Need("metadata", $"{file} {kind}");
            Assert.Matches(DnsLabel(), metadata.Str("name") ?? "");
            if (NamespacedKinds.Contains(kind))
            {
                Assert.False(string.IsNullOrEmpty(metadata.Str("namespace")), $"{file}: {kind} {metadata.Str("name")} has no namespace (kubectl would use the caller's)");
            }

            Assert.Equal("damon-otel", metadata.Get("labels").Str("app.kubernetes.io/name"));
        }
    }

    [Fact]
    public void Daemonset_is_node_critical_and_the_namespace_admits_that_priority()
    {
        Assert.Equal("system-node-critical", PodSpec().Str("priorityClassName"));

        var quota = Doc("ResourceQuota");
        Assert.Equal(Doc("DaemonSet").Get("metadata").Str("namespace"), quota.Get("metadata").Str("namespace"));
        var spec = quota.Need("spec", "ResourceQuota");
        var expression = Assert.Single(spec.Need("scopeSelector", "ResourceQuota spec").Need("matchExpressions", "scopeSelector").Items());
        Assert.Equal("PriorityClass", expression.Str("scopeName"));
        Assert.Equal("In", expression.Str("operator"));
        Assert.Contains("system-node-critical", expression.Get("values").Items().Select(v => v.Str()));

        // One pod per node, for clusters up to Kubernetes' supported maximum of 5,000 nodes.
        var pods = int.Parse(spec.Need("hard", "ResourceQuota spec").Str("pods")!, CultureInfo.InvariantCulture);
        Assert.True(pods >= 5000, $"ResourceQuota allows {pods} pods: fewer than nodes in a large cluster");
    }

    [Fact]
    public void Daemonset_tolerates_every_taint()
    {
        // An Exists toleration without key and effect matches every taint (NoSchedule, PreferNoSchedule, NoExecute).
        var tolerations = PodSpec().Need("tolerations", "pod spec").Items().ToList();
        Assert.Contains(tolerations, t => t.Str("operator") == "Exists" && t.Get("key") is null && t.Get("effect") is null);
    }

    [Fact]
    public void Rolling_update_bounds_unavailability_and_never_runs_two_agents_on_a_node()
    {
        var strategy = Doc("DaemonSet").Need("spec", "DaemonSet").Need("updateStrategy", "spec");
        Assert.Equal("RollingUpdate", strategy.Str("type"));
        var rolling = strategy.Need("rollingUpdate", "updateStrategy");

        var maxUnavailable = rolling.Str("maxUnavailable");
        var m = IntOrPercent().Match(maxUnavailable ?? "");
        Assert.True(m.Success, $"maxUnavailable '{maxUnavailable}' is neither a count nor a percentage");
        var n = int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        Assert.True(n >= 1 && (!m.Groups["pct"].Success || n <= 25), $"maxUnavailable {maxUnavailable}: at least one node, at most a quarter of them at a time");

        // maxSurge > 0 would start the new pod next to the old one: two agents driving one node's DAMON.
        Assert.Equal("0", rolling.Str("maxSurge"));
    }

    [Fact]
    public void Host_sys_and_tracefs_mounts_follow_mounts_the_host_makes_later()
    {
        var volumes = PodSpec().Need("volumes", "pod spec").Items().ToDictionary(v => v.Str("name")!, v => v.Get("hostPath").Str("path"), StringComparer.Ordinal);
        var mounts = Container().Need("volumeMounts", "container").Items().ToList();
        foreach (var hostPath in new[] { "/sys", "/sys/kernel/tracing" })
        {
            var mount = Assert.Single(mounts, x => volumes[x.Str("name")!] == hostPath);
            Assert.True(mount.Str("mountPropagation") == "HostToContainer", $"the mount of host {hostPath} must use mountPropagation: HostToContainer, has '{mount.Str("mountPropagation")}'");
        }

        // Bidirectional would let mounts made in the pod leak onto the host.
        Assert.DoesNotContain(mounts, x => x.Str("mountPropagation") == "Bidirectional");
    }

    [Fact]
    public void Liveness_and_readiness_are_separate_and_liveness_tolerates_a_slow_start()
    {
        var c = Container();
        var liveness = c.Need("livenessProbe", "container");
        var readiness = c.Need("readinessProbe", "container");
        var startup = c.Need("startupProbe", "container");
        Assert.Equal("/healthz", liveness.Need("httpGet", "livenessProbe").Str("path"));
        Assert.Equal("/readyz", readiness.Need("httpGet", "readinessProbe").Str("path"));
        Assert.Equal("/healthz", startup.Need("httpGet", "startupProbe").Str("path"));

        // Kubernetes' defaults when a field is absent: periodSeconds 10, failureThreshold 3, timeoutSeconds 1.
        static int Seconds(YamlNode probe, string key, int dflt) => probe.Str(key) is string s ? int.Parse(s, CultureInfo.InvariantCulture) : dflt;
        var startupWindow = Seconds(startup, "periodSeconds", 10) * Seconds(startup, "failureThreshold", 3);
        Assert.True(startupWindow >= 30, $"the startup probe gives {startupWindow} s before liveness counts; starting kdamonds on a loaded node takes longer");
        var livenessWindow = Seconds(liveness, "periodSeconds", 10) * Seconds(liveness, "failureThreshold", 3);
        Assert.True(livenessWindow >= 30, $"liveness restarts after {livenessWindow} s of failures: a GC pause or a busy node would restart the agent");
        foreach (var probe in new[] { liveness, readiness })
        {
            Assert.True(Seconds(probe, "timeoutSeconds", 1) >= 2, "a 1 s probe timeout fails on a loaded node");
        }
    }

    [Fact]
    public void Readiness_is_documented_as_serving_and_at_least_one_source_up()
    {
        var ops = Repo.Read("docs/operations.md");
        var section = ops[ops.IndexOf("## Install on Kubernetes", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        Assert.Contains("readiness: `/readyz`, which means **serving and at least one source up**", section, StringComparison.Ordinal);
        Assert.Contains("liveness: `/healthz`", section, StringComparison.Ordinal);
    }

    [Fact]
    public void Node_name_comes_from_the_downward_api_and_every_env_reference_resolves()
    {
        var env = Container().Need("env", "container").Items().ToList();
        var node = Assert.Single(env, e => e.Str("name") == "K8S_NODE_NAME");
        Assert.Equal("spec.nodeName", node.Need("valueFrom", "K8S_NODE_NAME").Need("fieldRef", "valueFrom").Str("fieldPath"));
        var pod = Assert.Single(env, e => e.Str("name") == "K8S_POD_NAME");
        Assert.Equal("metadata.name", pod.Get("valueFrom").Get("fieldRef").Str("fieldPath"));
        var ns = Assert.Single(env, e => e.Str("name") == "K8S_NAMESPACE_NAME");
        Assert.Equal("metadata.namespace", ns.Get("valueFrom").Get("fieldRef").Str("fieldPath"));

        var attributes = Assert.Single(env, e => e.Str("name") == "OTEL_RESOURCE_ATTRIBUTES").Str("value")!
            .Split(',').Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
        Assert.Equal("$(K8S_NODE_NAME)", attributes["k8s.node.name"]);
        Assert.Equal("$(K8S_POD_NAME)", attributes["k8s.pod.name"]);
        Assert.Equal("$(K8S_NAMESPACE_NAME)", attributes["k8s.namespace.name"]);

        // Kubernetes expands $(VAR) only for variables defined earlier in the same env list
        // (args may use all of them); anything else stays literal text.
        var defined = new List<string>();
        foreach (var e in env)
        {
            foreach (Match r in EnvReference().Matches(e.Str("value") ?? ""))
            {
                Assert.True(defined.Contains(r.Groups["name"].Value), $"env {e.Str("name")}: $({r.Groups["name"].Value}) is not defined before it, so Kubernetes leaves it unexpanded");
            }

            defined.Add(e.Str("name")!);
        }

        foreach (var arg in DeployTests.DaemonSetArgs())
        {
            foreach (Match r in EnvReference().Matches(arg))
            {
                Assert.Contains(r.Groups["name"].Value, defined);
            }
        }
    }

    [Fact]
    public void Resources_limits_cover_requests_and_the_grace_period_matches_the_unit()
    {
        var resources = Container().Need("resources", "container");
        Assert.True(Quantity(resources.Get("limits").Str("memory")!) >= Quantity(resources.Get("requests").Str("memory")!), "memory limit below request");
        Assert.True(Quantity(resources.Get("limits").Str("cpu")!) >= Quantity(resources.Get("requests").Str("cpu")!), "cpu limit below request");

        // Both give the agent the same time to stop its kdamonds and flush OTLP before SIGKILL.
        var unitStop = SystemdTests.Parse(Repo.Read(Repo.SystemdUnit))[("Service", "TimeoutStopSec")].Single();
        Assert.Equal(unitStop.TrimEnd('s'), PodSpec().Str("terminationGracePeriodSeconds"));
    }

    /// <summary>Control: the env-reference rule reports a variable used before its definition.</summary>
    [Fact]
    public void Control_env_reference_rule_catches_a_reference_to_a_later_variable()
    {
        var env = new[] { ("OTEL_RESOURCE_ATTRIBUTES", "k8s.node.name=$(K8S_NODE_NAME)"), ("K8S_NODE_NAME", "") };
        var defined = new List<string>();
        var unresolved = new List<string>();
        foreach (var (name, value) in env)
        {
            unresolved.AddRange(EnvReference().Matches(value).Select(m => m.Groups["name"].Value).Where(v => !defined.Contains(v)));
            defined.Add(name);
        }

        Assert.Equal(["K8S_NODE_NAME"], unresolved);
    }

    /// <summary>A Kubernetes quantity in base units (cores or bytes): 200m, 1, 256Mi, 1G.</summary>
    internal static double Quantity(string q)
    {
        var m = QuantityRegex().Match(q);
        Assert.True(m.Success, $"'{q}' is not a Kubernetes quantity");
        var value = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        return value * m.Groups["suffix"].Value switch
        {
            "" => 1,
            "m" => 1e-3,
            "k" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            "Ki" => 1024d,
            "Mi" => 1024d * 1024,
            "Gi" => 1024d * 1024 * 1024,
            var s => throw new InvalidOperationException($"unexpected quantity suffix {s}"),
        };
    }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^(?<n>[0-9]+)(?<pct>%)?$")]
    private static partial Regex IntOrPercent();

    [GeneratedRegex(@"\$\((?<name>[A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex EnvReference();

    [GeneratedRegex(@"^(?<n>[0-9]+(\.[0-9]+)?)(?<suffix>m|k|M|G|Ki|Mi|Gi)?$")]
    private static partial Regex QuantityRegex();
}
