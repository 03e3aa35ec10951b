using DamonOtel.Agent.Configuration;
using DamonOtel.Damon.IO;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The shipped agent configs, loaded by the agent's own loader (what `damon-otel check-config`
/// runs; the live tests also run the published binary on them).
/// </summary>
public sealed class ConfigTests
{
    private static AgentConfig Load(string relative) => ConfigLoader.LoadFile(Repo.PathOf(relative));

    [Fact]
    public void Host_config_is_valid_and_uses_the_hosts_own_file_systems()
    {
        var c = Load(Repo.HostConfig);
        Assert.Equal(KernelRoots.Default, c.Roots);
        AssertObserveAndDefaultMonitoring(c);
    }

    [Fact]
    public void Container_config_is_valid_and_finds_the_host_file_systems_under_host()
    {
        var c = Load(Repo.ContainerConfig);
        Assert.Equal(new KernelRoots("/host/sys", "/host/sys/kernel/tracing", "/host/proc"), c.Roots);
        AssertObserveAndDefaultMonitoring(c);

        // The same roots the image's CMD and the DaemonSet pass on the command line (which win
        // over a mounted config written for a host).
        foreach (var (where, args) in CommandLineTests.DeploymentCommandLines().Where(l => l.Where is "Dockerfile CMD" or "DaemonSet args"))
        {
            Assert.Empty(AgentCli.Validate(args, out var parsed));
            Assert.Equal(c.Roots, new KernelRoots(parsed!.Option("--sysfs-root")!, parsed.Option("--tracefs-root")!, parsed.Option("--procfs-root")!));
            Assert.True(parsed.Option("--state-dir") is null or AgentCli.DefaultStateDir, $"{where}: state dir {parsed.Option("--state-dir")}");
        }

        // The image ships this file where its CMD reads it.
        var copy = Assert.Single(new DockerfileModel(Repo.Read("Dockerfile")).Instructions, i => i.Keyword == "COPY" && i.Arguments.Contains(".yaml", StringComparison.Ordinal));
        Assert.Equal([Repo.ContainerConfig, AgentCli.DefaultConfigPath], AgentCli.SplitCommandLine(copy.Arguments));
    }

    [Fact]
    public void Host_and_container_configs_differ_only_in_their_roots()
    {
        static string WithoutRoots(string relative)
        {
            var doc = Yaml.Single(relative);
            Assert.True(doc.Children.Remove(new YamlScalarNode("roots")), $"{relative}: no roots");
            var stream = new YamlStream(new YamlDocument(doc));
            using var w = new StringWriter();
            stream.Save(w, assignAnchors: false);
            return w.ToString();
        }

        Assert.Equal(WithoutRoots(Repo.HostConfig), WithoutRoots(Repo.ContainerConfig));
    }

    /// <summary>Control: the loader the tests above rely on rejects a wrong key, naming file, line and key.</summary>
    [Fact]
    public void The_config_loader_rejects_a_wrong_key()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("attach:\n  enabled: true\n  refesh: false\n", "bad.yaml"));
        Assert.Contains("bad.yaml", e.Message, StringComparison.Ordinal);
        Assert.Contains("refesh", e.Message, StringComparison.Ordinal);
    }

    private static void AssertObserveAndDefaultMonitoring(AgentConfig c)
    {
        // Observe what others run, read-only; monitor all memory when nothing runs; start no kdamond of its own.
        Assert.True(c.Attach.Enabled);
        Assert.False(c.Attach.Refresh);
        Assert.Equal(DefaultMonitoring.Auto, c.DefaultMonitoring);
        Assert.Empty(c.Kdamonds);
        Assert.Equal(AgentCli.DefaultStateDir, c.StateDir);
        Assert.True(c.StopOnExit);
        Assert.True(c.Prometheus.Enabled);
        Assert.Equal(":9464", c.Prometheus.Listen);
        Assert.False(c.Otlp.Enabled);
    }
}
