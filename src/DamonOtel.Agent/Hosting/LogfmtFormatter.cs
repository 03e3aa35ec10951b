using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// One logfmt line per entry, as Prometheus exporters log: <c>ts=... level=info source=... msg="..."</c>.
/// Under systemd the line starts with the syslog priority (<c>&lt;6&gt;</c>), which journald turns
/// into the entry's level and strips, and the timestamp is left to the journal.
/// </summary>
internal sealed class LogfmtFormatter(bool underSystemd) : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "logfmt";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        string? message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }

        var sb = new StringBuilder(128);
        if (underSystemd)
        {
            sb.Append('<').Append(Priority(logEntry.LogLevel)).Append('>');
        }
        else
        {
            sb.Append("ts=").Append(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)).Append(' ');
        }

        sb.Append("level=").Append(Level(logEntry.LogLevel));
        sb.Append(" source=").Append(Short(logEntry.Category));
        sb.Append(" msg=");
        Quote(sb, message ?? string.Empty);
        if (logEntry.Exception is { } e)
        {
            sb.Append(" err=");
            Quote(sb, e.GetType().Name + ": " + e.Message);
        }

        textWriter.WriteLine(sb.ToString());
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        _ => "error",
    };

    // syslog priorities: 3 err, 4 warning, 6 info, 7 debug (2 crit for Critical).
    private static int Priority(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => 7,
        LogLevel.Information => 6,
        LogLevel.Warning => 4,
        LogLevel.Error => 3,
        _ => 2,
    };

    // "DamonOtel.Agent.Hosting.AgentHost" → "AgentHost"; Kestrel's categories keep their last part too.
    private static string Short(string category)
    {
        int dot = category.LastIndexOf('.');
        return dot < 0 ? category : category[(dot + 1)..];
    }

    private static void Quote(StringBuilder sb, string value)
    {
        sb.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': break;
                default: sb.Append(c); break;
            }
        }

        sb.Append('"');
    }
}
