using System.CommandLine;
using DamonOtel.Agent.Cli;
using DamonOtel.Damon.IO;

namespace DamonOtel.Agent.Tests;

/// <summary>node_exporter's flag names, with the earlier names kept as aliases of the same options.</summary>
public sealed class FlagTests
{
    [Theory]
    [InlineData("--web.listen-address", "--listen")]
    [InlineData("--path.sysfs", "--sysfs-root")]
    [InlineData("--path.tracefs", "--tracefs-root")]
    [InlineData("--path.procfs", "--procfs-root")]
    public void The_earlier_name_is_an_alias_of_the_node_exporter_name(string name, string earlier)
    {
        Command run = CommandLine.Build().Subcommands.Single(c => c.Name == "run");
        Option option = Assert.Single(run.Options, o => o.Name == name);
        Assert.Contains(earlier, option.Aliases);

        // Both spellings give the option its value.
        foreach (string spelling in new[] { name, earlier })
        {
            ParseResult parsed = CommandLine.Build().Parse(["run", spelling, "/x:1"]);
            Assert.Empty(parsed.Errors);
            Assert.Equal("/x:1", parsed.GetValue((Option<string?>)parsed.CommandResult.Command.Options.Single(o => o.Name == name)));
        }
    }

    [Theory]
    [InlineData("--web.config.file")]
    [InlineData("--web.health-listen-address")]
    [InlineData("--log.level")]
    [InlineData("--log.format")]
    public void Run_has_the_exporter_flags(string name) =>
        Assert.Single(CommandLine.Build().Subcommands.Single(c => c.Name == "run").Options, o => o.Name == name);

    [Fact]
    public void The_old_and_new_root_flags_resolve_the_same_roots()
    {
        KernelRoots New(params string[] args) => KernelRootOptions.Resolve(CommandLine.Build().Parse(["features", .. args]), KernelRoots.Default);
        Assert.Equal(New("--sysfs-root", "/host/sys", "--procfs-root", "/host/proc"), New("--path.sysfs", "/host/sys", "--path.procfs", "/host/proc"));
        Assert.Equal("/host/sys/kernel/tracing", New("--path.sysfs", "/host/sys").Tracefs);
    }

    [Theory]
    [InlineData("--log.level", "loud", "--log.level: unknown level 'loud'")]
    [InlineData("--log.format", "xml", "--log.format: unknown format 'xml'")]
    [InlineData("--web.listen-address", "nowhere", "--web.listen-address: ")]
    [InlineData("--web.health-listen-address", "nowhere", "--web.health-listen-address: ")]
    public async Task Bad_values_are_one_line_errors_with_exit_code_2(string flag, string value, string message)
    {
        (int code, _, string stderr) = await CliTests.Run("run", "--simulate", "--state-dir", Path.GetTempPath(), flag, value);
        Assert.Equal(2, code);
        Assert.StartsWith(message, stderr, StringComparison.Ordinal);
    }
}
