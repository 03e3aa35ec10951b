using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Tests.Support;

/// <summary>An ILoggerFactory that keeps every log entry (level, category, event id, message).</summary>
internal sealed class CapturingLoggers : IDisposable
{
    private readonly List<Entry> entries = [];

    public CapturingLoggers()
    {
        Factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new Provider(this)));
    }

    public ILoggerFactory Factory { get; }

    public IReadOnlyList<Entry> Entries
    {
        get
        {
            lock (entries)
            {
                return [.. entries];
            }
        }
    }

    public void Dispose() => Factory.Dispose();

    internal sealed record Entry(LogLevel Level, string Category, int EventId, string Message);

    private sealed class Provider(CapturingLoggers owner) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(owner, categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class Logger(CapturingLoggers owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner.entries)
            {
                owner.entries.Add(new Entry(logLevel, category, eventId.Id, formatter(state, exception)));
            }
        }
    }
}
