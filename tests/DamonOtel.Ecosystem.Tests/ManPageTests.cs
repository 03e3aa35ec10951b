using System.Text.RegularExpressions;
using AgentCommandLine = DamonOtel.Agent.Cli.CommandLine;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The systemd unit's Documentation= is the manual page docs/damon-otel.8: it exists, passes
/// mandoc's linter, is found by man(1) and systemd-analyze where the documented install puts it,
/// and documents every command and option of the agent's own parser.
/// </summary>
public sealed partial class ManPageTests
{
    public const string ManPage = "docs/damon-otel.8";

    /// <summary>Where the install instructions put it: a directory Debian's man-db searches by default.</summary>
    public const string InstalledPath = "/usr/local/share/man/man8/damon-otel.8";

    private const string InstallLine = "install -D -m 0644 " + ManPage + " " + InstalledPath;

    /// <summary>Installs the man page under root as the docs do; returns the MANPATH entry to use.</summary>
    internal static string InstallInto(string root)
    {
        var target = Path.Combine(root, InstalledPath.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(Repo.PathOf(ManPage), target, overwrite: true);
        return Path.Combine(root, "usr/local/share/man");
    }

    [Fact]
    public void Unit_documentation_is_the_shipped_man_page_and_the_installs_put_it_in_the_man_path()
    {
        var docs = SystemdTests.Parse(Repo.Read(Repo.SystemdUnit))[("Unit", "Documentation")]
            .SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Equal(["man:damon-otel(8)"], docs);
        var m = ManUri().Match(docs[0]);
        Assert.Equal(ManPage, $"docs/{m.Groups["name"].Value}.{m.Groups["section"].Value}");
        Assert.EndsWith($"/man{m.Groups["section"].Value}/{m.Groups["name"].Value}.{m.Groups["section"].Value}", InstalledPath, StringComparison.Ordinal);

        // Both install instructions (the unit's header and docs/operations.md) install it there.
        Assert.Contains(InstallLine, Repo.Read(Repo.SystemdUnit), StringComparison.Ordinal);
        Assert.Contains(InstallLine, Repo.Read("docs/operations.md"), StringComparison.Ordinal);

        // And that directory is on Debian's default man path (man-db's configuration).
        var manpathConfig = File.ReadAllText("/etc/manpath.config");
        Assert.Matches(new Regex(@"^MANDATORY_MANPATH\s+/usr/local/share/man\s*$", RegexOptions.Multiline), manpathConfig);
    }

    [Fact]
    public void Mandoc_lint_reports_nothing()
    {
        var mandoc = Tools.Require("mandoc", "mandoc");
        var result = Tools.Run(mandoc, ["-T", "lint", "-W", "style", Repo.PathOf(ManPage)]);
        Assert.True(result.ExitCode == 0 && result.Output.Length == 0, $"mandoc -T lint -W style {ManPage}:\n{result.Output}");
    }

    [Fact]
    public void Control_mandoc_lint_reports_a_broken_page()
    {
        var mandoc = Tools.Require("mandoc", "mandoc");
        var file = Path.Combine(Tools.TempDir("man"), "damon-otel.8");
        var text = Repo.Read(ManPage);
        var tp = text.IndexOf("\n.TP\n", StringComparison.Ordinal);
        Assert.True(tp > 0, $"{ManPage}: no .TP to misspell");
        File.WriteAllText(file, text.Remove(tp, "\n.TP\n".Length).Insert(tp, "\n.Tp\n")); // a macro typo
        var result = Tools.Run(mandoc, ["-T", "lint", "-W", "style", file]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unknown macro: .Tp", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Man_finds_the_installed_page_by_the_units_reference()
    {
        var man = Tools.Require("man", "man-db");
        var manpath = InstallInto(Tools.TempDir("manpath"));
        var result = Tools.Run("/usr/bin/env", [$"MANPATH={manpath}", man, "-w", "damon-otel(8)"]);
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Equal(Path.Combine(manpath, "man8/damon-otel.8"), result.Stdout.Trim());

        // The rendered page names the program and its section.
        var rendered = Tools.Run("/usr/bin/env", [$"MANPATH={manpath}", "MANWIDTH=100", man, "-P", "cat", "damon-otel(8)"]);
        Assert.True(rendered.ExitCode == 0, rendered.Output);
        Assert.Contains("DAMON memory access monitoring as OpenTelemetry", rendered.Stdout, StringComparison.Ordinal);
    }

    /// <summary>Control: systemd-analyze verify does report a Documentation= man page it cannot find.</summary>
    [Fact]
    public void Control_systemd_analyze_reports_a_missing_man_page()
    {
        var analyze = Tools.Require("systemd-analyze", "systemd");
        var dir = Tools.TempDir("unit-noman");
        var stub = Path.Combine(dir, "damon-otel");
        File.WriteAllText(stub, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var unitPath = Path.Combine(dir, "damon-otel.service");
        File.WriteAllText(unitPath, Repo.Read(Repo.SystemdUnit).Replace(AgentCli.Binary, stub, StringComparison.Ordinal));
        var emptyManpath = Directory.CreateDirectory(Path.Combine(dir, "man")).FullName;
        var result = Tools.Run("/usr/bin/env", [$"MANPATH={emptyManpath}", analyze, "verify", unitPath], workingDirectory: dir);
        Assert.Contains("man damon-otel(8)", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Documents_every_command_and_option_of_the_agents_parser()
    {
        // Roff escapes '-' as '\-' in names and options.
        var text = Repo.Read(ManPage).Replace("\\-", "-", StringComparison.Ordinal);
        var commands = AgentCommandLine.Build().Subcommands.ToList();
        Assert.NotEmpty(commands);
        foreach (var command in commands)
        {
            Assert.True(Regex.IsMatch(text, $@"^\.B(I)? {Regex.Escape(command.Name)}\b", RegexOptions.Multiline), $"{ManPage}: command '{command.Name}' has no entry");
            foreach (var option in command.Options)
            {
                foreach (var name in option.Aliases.Append(option.Name))
                {
                    Assert.True(Regex.IsMatch(text, $@"(?<![\w-]){Regex.Escape(name)}(?![\w-])"), $"{ManPage}: option {name} of '{command.Name}' is not documented");
                }
            }
        }

        // The title line carries the version the project builds.
        var version = Regex.Match(Repo.Read("Directory.Build.props"), "<Version>(?<v>[^<]+)</Version>").Groups["v"].Value;
        Assert.Matches($@"^\.TH DAMON-OTEL 8 \S+ ""damon-otel {Regex.Escape(version)}""", text.Split('\n').First(l => l.StartsWith(".TH", StringComparison.Ordinal)));
    }

    [GeneratedRegex(@"^man:(?<name>[a-z0-9._-]+)\((?<section>[1-9])\)$")]
    private static partial Regex ManUri();
}
