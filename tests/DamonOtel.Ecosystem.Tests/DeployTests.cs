using System.Globalization;
using DamonOtel.Agent.Configuration;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>The Kubernetes manifests and the OpenTelemetry Collector config, parsed and cross-checked.</summary>
public sealed class DeployTests
{
    private static YamlMappingNode Doc(string file, string kind) =>
        Assert.Single(Yaml.Documents(file), d => d.Str("kind") == kind);

    private static YamlNode Container()
    {
        var ds = Doc(Repo.DaemonSet, "DaemonSet");
        return Assert.Single(ds.Need("spec", "DaemonSet").Need("template", "spec").Need("spec", "template").Need("containers", "pod spec").Items());
    }

    private static YamlNode PodSpec() =>
        Doc(Repo.DaemonSet, "DaemonSet").Need("spec", "DaemonSet").Need("template", "spec").Need("spec", "template");

    internal static List<string> DaemonSetArgs() => Container().Need("args", "container").Items().Select(i => i.Str()!).ToList();

    [Fact]
    public void Daemonset_file_has_namespace_serviceaccount_configmap_and_daemonset_in_one_namespace()
    {
        var docs = Yaml.Documents(Repo.DaemonSet);
        Assert.Equal(["Namespace", "ServiceAccount", "ConfigMap", "ResourceQuota", "DaemonSet"], docs.Select(d => d.Str("kind")));
        var ns = docs[0].Get("metadata").Str("name");
        foreach (var d in docs.Skip(1))
        {
            Assert.Equal(ns, d.Get("metadata").Str("namespace"));
        }

        Assert.Equal(docs[1].Get("metadata").Str("name"), PodSpec().Str("serviceAccountName"));
    }

    [Fact]
    public void Daemonset_selector_matches_its_pod_labels()
    {
        var spec = Doc(Repo.DaemonSet, "DaemonSet").Need("spec", "DaemonSet");
        var match = spec.Need("selector", "spec").Need("matchLabels", "selector");
        var labels = spec.Need("template", "spec").Need("metadata", "template").Need("labels", "metadata");
        foreach (var key in match.Keys())
        {
            Assert.Equal(match.Str(key), labels.Str(key));
        }
    }

    [Fact]
    public void Daemonset_runs_privileged_in_the_host_pid_namespace_with_resources()
    {
        Assert.Equal(true, PodSpec().Bool("hostPID"));
        var c = Container();
        Assert.Equal(true, c.Get("securityContext").Bool("privileged"));
        foreach (var kind in new[] { "requests", "limits" })
        {
            var r = c.Need("resources", "container").Need(kind, "resources");
            Assert.False(string.IsNullOrEmpty(r.Str("cpu")), $"resources.{kind}.cpu missing");
            Assert.False(string.IsNullOrEmpty(r.Str("memory")), $"resources.{kind}.memory missing");
        }
    }

    [Fact]
    public void Daemonset_args_are_known_agent_flags_and_the_roots_are_the_host_mounts()
    {
        var args = DaemonSetArgs();
        var errors = AgentCli.Validate(args, out var parsed);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        Assert.Equal("run", parsed!.Command);

        // root flag -> host path that must be mounted there
        var expected = new Dictionary<string, string>
        {
            ["--path.sysfs"] = "/sys",
            ["--path.tracefs"] = "/sys/kernel/tracing",
            ["--path.procfs"] = "/proc",
        };
        var mounts = Mounts();
        foreach (var (flag, hostPath) in expected)
        {
            var inContainer = parsed.Option(flag);
            Assert.Equal("/host" + hostPath, inContainer);
            Assert.True(mounts.TryGetValue(inContainer!, out var m), $"{flag} {inContainer} is not a volume mount");
            Assert.Equal(hostPath, m.HostPath);
        }

        Assert.True(mounts["/host/proc"].ReadOnly, "/proc should be mounted read-only");

        // The config file comes from the ConfigMap, which has that key.
        var config = parsed.Option("--config")!;
        var configMount = mounts[Path.GetDirectoryName(config)!];
        Assert.NotNull(configMount.ConfigMap);
        var cm = Doc(Repo.DaemonSet, "ConfigMap");
        Assert.Equal(configMount.ConfigMap, cm.Get("metadata").Str("name"));
        Assert.NotNull(cm.Get("data").Str(Path.GetFileName(config)));

        // The state dir survives pod restarts on the host.
        Assert.Equal(AgentCli.DefaultStateDir, mounts[parsed.Option("--state-dir")!].HostPath);
    }

    [Fact]
    public void Configmap_holds_the_same_config_as_the_image()
    {
        var cm = Doc(Repo.DaemonSet, "ConfigMap");
        Assert.Equal(Repo.Read(Repo.ContainerConfig), cm.Get("data").Str("config.yaml"));
    }

    [Fact]
    public void Ports_probes_and_scrape_annotations_agree_on_9464_and_the_agent_endpoints()
    {
        var args = DaemonSetArgs();
        AgentCli.Validate(args, out var parsed);
        Assert.Equal(AgentCli.DefaultPort, parsed!.ListenPort);

        var c = Container();
        var ports = c.Need("ports", "container").Items().ToDictionary(p => p.Str("name")!, p => int.Parse(p.Str("containerPort")!, CultureInfo.InvariantCulture));
        Assert.Equal(AgentCli.DefaultPort, ports["metrics"]);

        // Probes go to the plain health listener (they must work with TLS/auth on), whose port is the container's "health".
        var health = parsed.Option("--web.health-listen-address");
        Assert.NotNull(health);
        Assert.True(ListenAddress.TryValidate(health, out var error), error);
        Assert.Equal(ports["health"], DamonOtel.Telemetry.Http.MetricsEndpoint.ParseListenAddress(health).Port);
        foreach (var (probe, path) in new[] { ("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz") })
        {
            var get = c.Need(probe, "container").Need("httpGet", probe);
            Assert.Equal(path, get.Str("path"));
            Assert.Contains(path, DamonOtel.Telemetry.Http.MetricsEndpoint.HealthPaths);
            var p = get.Str("port");
            Assert.True(p == "health" || p == ports["health"].ToString(CultureInfo.InvariantCulture), $"{probe} port {p} is not the health listener's");
        }

        var annotations = Doc(Repo.DaemonSet, "DaemonSet").Need("spec", "DaemonSet").Need("template", "spec").Need("metadata", "template").Need("annotations", "metadata");
        Assert.Equal("true", annotations.Str("prometheus.io/scrape"));
        Assert.Equal(AgentCli.DefaultPort.ToString(CultureInfo.InvariantCulture), annotations.Str("prometheus.io/port"));
        Assert.Contains(annotations.Str("prometheus.io/path"), AgentCli.Endpoints);
    }

    [Fact]
    public void Headless_service_and_servicemonitor_select_the_agent_pods_on_9464()
    {
        var service = Doc(Repo.ServiceMonitor, "Service");
        var spec = service.Need("spec", "Service");
        Assert.Equal("None", spec.Str("clusterIP"));

        // The job label Prometheus Operator gives is the Service name; the rules select job="damon-otel".
        Assert.Equal("damon-otel", service.Get("metadata").Str("name"));
        var dsNamespace = Doc(Repo.DaemonSet, "DaemonSet").Get("metadata").Str("namespace");
        Assert.Equal(dsNamespace, service.Get("metadata").Str("namespace"));

        var podLabels = Doc(Repo.DaemonSet, "DaemonSet").Need("spec", "DaemonSet").Need("template", "spec").Need("metadata", "template").Need("labels", "metadata");
        foreach (var key in spec.Need("selector", "Service spec").Keys())
        {
            Assert.Equal(spec.Get("selector").Str(key), podLabels.Str(key));
        }

        var port = Assert.Single(spec.Need("ports", "Service spec").Items());
        Assert.Equal(AgentCli.DefaultPort, int.Parse(port.Str("port")!, CultureInfo.InvariantCulture));
        // The Service exposes the metrics port only (not the plain health listener).
        var containerPortName = Assert.Single(Container().Need("ports", "container").Items(), p => p.Str("containerPort") == AgentCli.DefaultPort.ToString(CultureInfo.InvariantCulture)).Str("name");
        Assert.Equal(containerPortName, port.Str("targetPort"));

        var sm = Doc(Repo.ServiceMonitor, "ServiceMonitor");
        Assert.Equal("monitoring.coreos.com/v1", sm.Str("apiVersion"));
        var smSpec = sm.Need("spec", "ServiceMonitor");
        foreach (var key in smSpec.Need("selector", "ServiceMonitor spec").Need("matchLabels", "selector").Keys())
        {
            Assert.Equal(smSpec.Get("selector").Get("matchLabels").Str(key), service.Get("metadata").Get("labels").Str(key));
        }

        Assert.Contains(dsNamespace, smSpec.Get("namespaceSelector").Get("matchNames").Items().Select(i => i.Str()));
        var endpoint = Assert.Single(smSpec.Need("endpoints", "ServiceMonitor spec").Items());
        Assert.Equal(port.Str("name"), endpoint.Str("port"));
        Assert.Contains(endpoint.Str("path"), AgentCli.Endpoints);
    }

    [Fact]
    public void Collector_pipeline_references_only_defined_components()
    {
        var cfg = Yaml.Single(Repo.CollectorConfig);
        var protocols = cfg.Need("receivers", "collector").Need("otlp", "receivers").Need("protocols", "otlp");
        Assert.Equal("0.0.0.0:4317", protocols.Need("grpc", "protocols").Str("endpoint"));
        Assert.Equal("0.0.0.0:4318", protocols.Need("http", "protocols").Str("endpoint"));

        var pipelines = cfg.Need("service", "collector").Need("pipelines", "service");
        Assert.NotEmpty(pipelines.Keys());
        foreach (var name in pipelines.Keys())
        {
            var pipeline = pipelines.Get(name);
            foreach (var section in new[] { "receivers", "processors", "exporters" })
            {
                var defined = cfg.Get(section).Keys().ToHashSet(StringComparer.Ordinal);
                foreach (var used in pipeline.Get(section).Items().Select(i => i.Str()!))
                {
                    Assert.True(defined.Contains(used), $"{Repo.CollectorConfig}: pipeline {name} uses {section[..^1]} '{used}' that is not defined under {section}");
                }
            }

            Assert.NotEmpty(pipeline.Get("receivers").Items());
            Assert.NotEmpty(pipeline.Get("exporters").Items());
        }

        var metrics = pipelines.Need("metrics", "pipelines");
        Assert.Equal(["otlp"], metrics.Get("receivers").Items().Select(i => i.Str()));
        Assert.Contains("batch", metrics.Get("processors").Items().Select(i => i.Str()));
        Assert.Equal(["prometheusremotewrite", "debug"], metrics.Get("exporters").Items().Select(i => i.Str()));
        Assert.EndsWith("/api/v1/write", cfg.Get("exporters").Get("prometheusremotewrite").Str("endpoint"), StringComparison.Ordinal);
    }

    internal sealed record Mount(string? HostPath, string? ConfigMap, bool ReadOnly);

    private static Dictionary<string, Mount> Mounts()
    {
        var volumes = PodSpec().Need("volumes", "pod spec").Items().ToDictionary(v => v.Str("name")!, v => v, StringComparer.Ordinal);
        var result = new Dictionary<string, Mount>(StringComparer.Ordinal);
        foreach (var m in Container().Need("volumeMounts", "container").Items())
        {
            var name = m.Str("name")!;
            Assert.True(volumes.TryGetValue(name, out var v), $"volumeMount {name} has no volume");
            result[m.Str("mountPath")!] = new Mount(v!.Get("hostPath").Str("path"), v.Get("configMap").Str("name"), m.Bool("readOnly") ?? false);
        }

        return result;
    }
}
