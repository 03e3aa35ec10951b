namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// Every command line the deployment files give the agent is parsed by the agent's own parser
/// (<c>DamonOtel.Agent.Cli.CommandLine.Build()</c>), with the checks its commands make before
/// acting; the controls show the same harness rejects what the agent rejects.
/// </summary>
public sealed class CommandLineTests
{
    internal static List<(string Where, List<string> Args)> DeploymentCommandLines()
    {
        var d = new DockerfileModel(Repo.Read("Dockerfile"));
        var lines = new List<(string Where, List<string> Args)>
        {
            ("Dockerfile CMD", DockerfileModel.ExecForm(Assert.Single(d.Instructions, i => i.Keyword == "CMD")).ToList()),
            ("DaemonSet args", DeployTests.DaemonSetArgs()),
        };
        var unit = SystemdTests.Parse(Repo.Read(Repo.SystemdUnit));
        foreach (var key in new[] { "ExecStartPre", "ExecStart", "ExecReload" })
        {
            foreach (var tokens in unit[("Service", key)].Select(AgentCli.SplitCommandLine).Where(t => t[0] == AgentCli.Binary))
            {
                lines.Add(($"systemd {key}", tokens.Skip(1).ToList()));
            }
        }

        return lines;
    }

    [Fact]
    public void Deployment_command_lines_parse_with_the_agents_own_parser()
    {
        var lines = DeploymentCommandLines();

        // Dockerfile CMD, DaemonSet args, ExecStartPre, ExecStart, ExecReload (check-config).
        Assert.Equal(5, lines.Count);
        var failures = new List<string>();
        foreach (var (where, args) in lines)
        {
            var errors = AgentCli.Validate(args, out var parsed);
            if (errors.Count > 0)
            {
                failures.Add($"{where}: damon-otel {string.Join(" ", args)}\n  {string.Join("\n  ", errors)}");
                continue;
            }

            // Parsed as the command it names, every token consumed by it.
            Assert.Equal(args[0], parsed!.Command);
            Assert.Empty(parsed.Result.UnmatchedTokens);
            if (parsed.Command == "run")
            {
                Assert.Equal(AgentCli.DefaultConfigPath, parsed.Option("--config"));
                Assert.False(parsed.Has("--simulate"), $"{where} runs the simulator");
            }
            else
            {
                Assert.Equal("check-config", parsed.Command);
                Assert.Equal([AgentCli.DefaultConfigPath], parsed.Positionals);
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Theory]
    [InlineData("", "no command")]
    [InlineData("run --sysfs /host/sys", "unknown option (it is --sysfs-root)")]
    [InlineData("run --config", "option without its value")]
    [InlineData("run --listen 127.0.0.1:99999", "port out of range")]
    [InlineData("run --simulate nosuchworkload", "unknown simulator workload")]
    [InlineData("run /etc/damon-otel/config.yaml", "positional argument run does not take")]
    [InlineData("check-config", "check-config without FILE")]
    [InlineData("features --config /etc/damon-otel/config.yaml", "features has no --config")]
    [InlineData("snapshot --format yaml", "--format is text or json")]
    [InlineData("serve --config /etc/damon-otel/config.yaml", "no such command")]
    public void The_parser_check_rejects_what_the_agent_rejects(string line, string why)
    {
        var errors = AgentCli.Validate(AgentCli.SplitCommandLine(line), out _);
        Assert.True(errors.Count > 0, $"'damon-otel {line}' was accepted, but should not be: {why}");
    }

    [Fact]
    public void The_parser_check_accepts_the_simulator_line_the_live_tests_run()
    {
        var args = AgentCli.SplitCommandLine("run --simulate steady --listen 127.0.0.1:19464 --state-dir /tmp/s");
        var errors = AgentCli.Validate(args, out var parsed);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        Assert.Equal("steady", parsed!.Option("--simulate"));
        Assert.Equal(19464, parsed.ListenPort);

        // --simulate takes its workload optionally.
        Assert.Empty(AgentCli.Validate(["run", "--simulate"], out parsed));
        Assert.True(parsed!.Has("--simulate"));
        Assert.Null(parsed.Option("--simulate"));
    }
}
