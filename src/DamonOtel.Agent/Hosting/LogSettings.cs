using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Hosting;

/// <summary>How the agent logs: --log.level and --log.format (node_exporter's flags).</summary>
internal sealed record LogSettings
{
    public static readonly IReadOnlyList<string> Levels = ["debug", "info", "warn", "error"];

    public static readonly IReadOnlyList<string> Formats = ["logfmt", "json"];

    public LogLevel Level { get; init; } = LogLevel.Information;

    /// <summary>"logfmt" (default) or "json".</summary>
    public string Format { get; init; } = "logfmt";

    public static bool TryParseLevel(string text, out LogLevel level)
    {
        level = text switch
        {
            "debug" => LogLevel.Debug,
            "info" => LogLevel.Information,
            "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => LogLevel.None,
        };
        return level != LogLevel.None;
    }
}
