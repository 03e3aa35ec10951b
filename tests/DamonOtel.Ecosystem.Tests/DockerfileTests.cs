using System.Text.RegularExpressions;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>Docker cannot run here: the Dockerfile is parsed and checked against the publish script and the agent's CLI.</summary>
public sealed partial class DockerfileTests
{
    /// <summary>The publish command of the brief, with the output directory left to the caller.</summary>
    internal static readonly string[] CanonicalPublish =
    [
        "dotnet", "publish", "src/DamonOtel.Agent", "-c", "Release", "-r", "linux-x64", "${build[@]}",
        "-p:InvariantGlobalization=true", "-p:UseArtifactsOutput=true", "-p:ArtifactsPath=$PWD/artifacts/publish-build-$mode", "-o",
    ];

    internal static readonly string[] ExpectedCmd =
    [
        "run", "--config", "/etc/damon-otel/config.yaml", "--path.sysfs", "/host/sys",
        "--path.tracefs", "/host/sys/kernel/tracing", "--path.procfs", "/host/proc",
    ];

    private static DockerfileModel Model() => new(Repo.Read("Dockerfile"));

    [Fact]
    public void Publish_script_holds_the_one_publish_command()
    {
        var lines = Repo.Read(Repo.PublishScript).Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("dotnet ", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(lines);
        var tokens = AgentCli.SplitCommandLine(line);
        Assert.Equal(CanonicalPublish, tokens.Take(CanonicalPublish.Length));
        Assert.Equal(CanonicalPublish.Length + 1, tokens.Count);
        Assert.Equal("$out", tokens[^1]);
        // NativeAOT unless --jit (the JIT single file stays for comparison).
        Assert.Contains("build=(-p:PublishAot=true)", Repo.Read(Repo.PublishScript), StringComparison.Ordinal);

        // Executable, so the Dockerfile's RUN and the tests can call it directly.
        var mode = File.GetUnixFileMode(Repo.PathOf(Repo.PublishScript));
        Assert.True(mode.HasFlag(UnixFileMode.UserExecute), $"{Repo.PublishScript} is not executable");
    }

    [Fact]
    public void Dockerfile_builds_with_the_sdk_through_the_publish_script_and_ships_runtime_deps()
    {
        var d = Model();
        Assert.Equal(2, d.Stages.Count);
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:10.0.", d.Stages[0].Image, StringComparison.Ordinal);
        Assert.StartsWith("mcr.microsoft.com/dotnet/runtime-deps:10.0.", d.Stages[1].Image, StringComparison.Ordinal);
        var buildName = d.Stages[0].Name;
        Assert.NotNull(buildName);

        // The build stage publishes only through scripts/publish-agent.sh, never its own dotnet publish.
        var runs = d.InStage(0, "RUN").ToList();
        Assert.DoesNotContain(d.Instructions, i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal));
        var publish = Assert.Single(runs, r => r.Arguments.Contains("scripts/publish-agent.sh", StringComparison.Ordinal));
        var publishArgs = AgentCli.SplitCommandLine(publish.Arguments);
        Assert.Equal("./scripts/publish-agent.sh", publishArgs[0]);
        var outDir = Assert.Single(publishArgs.Skip(1));

        // The final stage copies exactly that binary to the ENTRYPOINT path.
        var copy = Assert.Single(d.InStage(1, "COPY"), c => c.Arguments.StartsWith($"--from={buildName} ", StringComparison.Ordinal));
        var copyArgs = AgentCli.SplitCommandLine(copy.Arguments);
        Assert.Equal([$"--from={buildName}", $"{outDir}/damon-otel", AgentCli.Binary], copyArgs);

        // Every other file the image copies exists in the repository.
        foreach (var c in d.InStage(1, "COPY").Where(c => c != copy))
        {
            var src = AgentCli.SplitCommandLine(c.Arguments)[0];
            Assert.True(File.Exists(Repo.PathOf(src)), $"Dockerfile line {c.Line}: {src} does not exist");
        }
    }

    [Fact]
    public void Entrypoint_and_cmd_are_the_agent_with_host_roots()
    {
        var d = Model();
        var entrypoint = DockerfileModel.ExecForm(Assert.Single(d.Instructions, i => i.Keyword == "ENTRYPOINT"));
        Assert.Equal([AgentCli.Binary], entrypoint);
        var cmd = DockerfileModel.ExecForm(Assert.Single(d.Instructions, i => i.Keyword == "CMD"));
        Assert.Equal(ExpectedCmd, cmd);

        var errors = AgentCli.Validate(cmd, out var parsed);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        Assert.Equal("run", parsed!.Command);
        Assert.Contains(d.Instructions, i => i.Keyword == "EXPOSE" && i.Arguments == AgentCli.DefaultPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Comments_document_privileges_and_mounts()
    {
        var comments = string.Join("\n", Model().Comments);
        foreach (var needle in new[]
                 {
                     "--privileged", "SYS_ADMIN", "--pid=host",
                     "/sys:/host/sys", "/sys/kernel/tracing:/host/sys/kernel/tracing", "/proc:/host/proc",
                 })
        {
            Assert.Contains(needle, comments, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Dockerignore_keeps_the_build_inputs()
    {
        var patterns = Repo.Read(".dockerignore").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.Contains("**/bin/", patterns);
        Assert.Contains("**/obj/", patterns);
        foreach (var needed in new[] { "src/DamonOtel.Agent/DamonOtel.Agent.csproj", "scripts/publish-agent.sh", "deploy/config/config.yaml", "Directory.Build.props", "Directory.Packages.props", "global.json" })
        {
            Assert.DoesNotContain(patterns, p => Glob(p).IsMatch(needed));
        }
    }

    // Enough of .dockerignore's matching for the patterns used here (**, *, trailing / for directories).
    private static Regex Glob(string pattern)
    {
        var p = pattern.TrimEnd('/');
        var rx = Regex.Escape(p).Replace(@"\*\*/", "(.*/)?", StringComparison.Ordinal).Replace(@"\*", "[^/]*", StringComparison.Ordinal);
        return new Regex($"^{rx}(/.*)?$");
    }
}
