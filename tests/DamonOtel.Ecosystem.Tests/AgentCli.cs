using System.CommandLine;
using System.CommandLine.Parsing;
using DamonOtel.Agent.Configuration;
using DamonOtel.Simulator;
using AgentCommandLine = DamonOtel.Agent.Cli.CommandLine;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The agent's command line as the agent itself parses it (<see cref="AgentCommandLine.Build"/>),
/// plus its fixed endpoints: the contract the deployment files are written against. Command
/// lines are parsed, never invoked, so nothing here touches a kernel.
/// </summary>
internal static class AgentCli
{
    public const string Binary = "/usr/local/bin/damon-otel";
    public const int DefaultPort = 9464;
    public const string DefaultConfigPath = AgentCommandLine.DefaultConfigPath;
    public const string DefaultStateDir = "/run/damon-otel";

    public static readonly string[] Endpoints = ["/metrics", "/healthz", "/readyz"];

    /// <summary>A command line accepted by the agent's parser.</summary>
    public sealed class Parsed(ParseResult result)
    {
        public ParseResult Result { get; } = result;

        public string Command => Result.CommandResult.Command.Name;

        /// <summary>The value given on the command line (last one wins), or null when the option is absent or has no value.</summary>
        public string? Option(string name) => Given(name)?.Tokens is { Count: > 0 } tokens ? tokens[^1].Value : null;

        public bool Has(string name) => Given(name) is not null;

        /// <summary>The positional arguments (check-config's FILE).</summary>
        public IReadOnlyList<string> Positionals =>
            Result.CommandResult.Children.OfType<ArgumentResult>().SelectMany(a => a.Tokens).Select(t => t.Value).ToList();

        /// <summary>The port the agent listens on: --web.listen-address (alias --listen) ADDR:PORT, else the default.</summary>
        public int ListenPort
        {
            get
            {
                var listen = Option("--web.listen-address");
                if (listen is null)
                {
                    return DefaultPort;
                }

                Assert.True(ListenAddress.TryValidate(listen, out var error), error);
                return DamonOtel.Telemetry.Http.MetricsEndpoint.ParseListenAddress(listen).Port;
            }
        }

        private OptionResult? Given(string name) => Result.CommandResult.Children.OfType<OptionResult>()
            .FirstOrDefault(o => !o.Implicit && (o.Option.Name == name || o.Option.Aliases.Contains(name)));
    }

    /// <summary>Options of a command, from the agent's own parser.</summary>
    public static IReadOnlyCollection<string> FlagsOf(string command) =>
        AgentCommandLine.Build().Subcommands.Single(c => c.Name == command).Options.Select(o => o.Name).ToList();

    /// <summary>
    /// Parses arguments (without the binary name) with the agent's parser and applies the checks its
    /// commands make before acting (listen address, simulator workload); returns the errors.
    /// </summary>
    public static List<string> Validate(IReadOnlyList<string> args, out Parsed? parsed)
    {
        ParseResult result = AgentCommandLine.Build().Parse(args.ToArray());
        var errors = result.Errors.Select(e => e.Message).ToList();
        parsed = new Parsed(result);
        if (result.CommandResult.Command is RootCommand)
        {
            errors.Add("no command given");
        }

        foreach (string flag in new[] { "--web.listen-address", "--web.health-listen-address" })
        {
            if (parsed.Option(flag) is string listen && !ListenAddress.TryValidate(listen, out var error))
            {
                errors.Add(flag + ": " + error);
            }
        }

        if (parsed.Option("--simulate") is string workload && !SimulatedWorkloads.Names.Contains(workload))
        {
            errors.Add($"--simulate: unknown workload '{workload}'");
        }

        return errors;
    }

    /// <summary>Splits a command line the way systemd and a shell would for the simple, unquoted-or-double-quoted lines used here.</summary>
    public static List<string> SplitCommandLine(string line)
    {
        var result = new List<string>();
        var current = new System.Text.StringBuilder();
        var inQuotes = false;
        var any = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                inQuotes = !inQuotes;
                any = true;
            }
            else if (char.IsWhiteSpace(c) && !inQuotes)
            {
                if (any)
                {
                    result.Add(current.ToString());
                    current.Clear();
                    any = false;
                }
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }

        Assert.False(inQuotes, $"unbalanced quotes in: {line}");
        if (any)
        {
            result.Add(current.ToString());
        }

        return result;
    }
}
