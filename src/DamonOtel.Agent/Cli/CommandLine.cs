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

    public static RootCommand Build()
    {
        var root = new RootCommand("damon-otel: DAMON (the Linux data access monitor) as OpenTelemetry and Prometheus metrics");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(CheckConfigCommand.Create());
        root.Subcommands.Add(SnapshotCommand.Create());
        root.Subcommands.Add(FeaturesCommand.Create());
        root.Subcommands.Add(ImportDamoCommand.Create());
        root.Subcommands.Add(RecordCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
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
