using System.CommandLine;
using DamonOtel.Agent.Cli;

namespace DamonOtel.Agent.Tests;

/// <summary>
/// The agent builds only the invoked command (<see cref="CommandLine.ForArguments"/>): the
/// listed names must be the commands' own, or a command would silently stop being found.
/// </summary>
public sealed class CommandLineBuildTests
{
    [Fact]
    public void Each_listed_name_is_the_name_of_the_command_its_factory_makes()
    {
        foreach ((string name, Func<Command> create) in CommandLine.Commands)
        {
            Assert.Equal(name, create().Name);
        }

        Assert.Equal(CommandLine.Commands.Select(c => c.Name), CommandLine.Build().Subcommands.Select(c => c.Name));
    }

    [Theory]
    [InlineData("run")]
    [InlineData("check-config")]
    [InlineData("snapshot")]
    [InlineData("features")]
    [InlineData("import-damo")]
    [InlineData("record")]
    [InlineData("status")]
    public void A_named_command_is_built_alone_and_parses_as_in_the_whole_tree(string name)
    {
        RootCommand alone = CommandLine.ForArguments([name, "--help"]);
        Assert.Equal(name, Assert.Single(alone.Subcommands).Name);

        ParseResult part = alone.Parse([name, "--no-such-flag"]);
        ParseResult whole = CommandLine.Build().Parse([name, "--no-such-flag"]);
        Assert.Equal(whole.CommandResult.Command.Name, part.CommandResult.Command.Name);
        Assert.Equal(whole.Errors.Select(e => e.Message), part.Errors.Select(e => e.Message));
        Assert.Equal(
            CommandLine.Build().Subcommands.Single(c => c.Name == name).Options.Select(o => o.Name),
            part.CommandResult.Command.Options.Select(o => o.Name));
    }

    [Theory]
    [InlineData]
    [InlineData("--version")]
    [InlineData("--help")]
    [InlineData("snapshots")] // a typo: the whole tree, so the parser can suggest "snapshot"
    public void Anything_else_gets_every_command(params string[] args) =>
        Assert.Equal(CommandLine.Commands.Length, CommandLine.ForArguments(args).Subcommands.Count);
}
