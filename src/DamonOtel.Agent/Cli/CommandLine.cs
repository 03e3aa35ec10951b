using System.CommandLine;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Cli;

/// <summary>
/// The `damon-otel` command line: wires the commands (run, check-config, snapshot, features,
/// import-damo, record, status); each command's options and logic live in its own file.
/// </summary>
internal static class CommandLine
{
    public const string DefaultConfigPath = "/etc/damon-otel/config.yaml";

    /// <summary>Each command's name and factory, in the order help lists them.</summary>
    internal static readonly (string Name, Func<Command> Create)[] Commands =
    [
        ("run", RunCommand.Create),
        ("check-config", CheckConfigCommand.Create),
        ("snapshot", SnapshotCommand.Create),
        ("features", FeaturesCommand.Create),
        ("import-damo", ImportDamoCommand.Create),
        ("record", RecordCommand.Create),
        ("status", StatusCommand.Create),
    ];

    /// <summary>The whole command line: every command.</summary>
    public static RootCommand Build() => Build(static _ => true);

    /// <summary>
    /// The command line for these arguments: when the first one names a command, only that
    /// command is built (building all seven and their options was ~0.5 ms of a ~25 ms
    /// `snapshot`, bench/README.md); otherwise (root help, --version, a typo to suggest a
    /// command for) all of them.
    /// </summary>
    public static RootCommand ForArguments(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? first = args.Count > 0 ? args[0] : null;
        return Array.Exists(Commands, c => c.Name == first) ? Build(c => c == first) : Build();
    }

    private static RootCommand Build(Func<string, bool> include)
    {
        var root = new RootCommand("damon-otel: DAMON (the Linux data access monitor) as OpenTelemetry and Prometheus metrics");
        foreach ((string name, Func<Command> create) in Commands)
        {
            if (include(name))
            {
                root.Subcommands.Add(create());
            }
        }

        return root;
    }

    public static ILoggerFactory CreateLoggers(LogLevel level = LogLevel.Information) => LoggerFactory.Create(b => b
        .SetMinimumLevel(level)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        }));
}
