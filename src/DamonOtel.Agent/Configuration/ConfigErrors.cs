namespace DamonOtel.Agent.Configuration;

/// <summary>One problem in a config file, with where it is.</summary>
internal sealed record ConfigError(string File, int Line, int Column, string Key, string Message)
{
    /// <summary>One line, always: line breaks inside a quoted value are shown as \n.</summary>
    public override string ToString() => OneLine(
        Line > 0 ? $"{File}:{Line}:{Column}: {Key}: {Message}" : $"{File}: {Key}: {Message}");

    private static string OneLine(string s) =>
        s.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

/// <summary>Thrown when a config file has errors; carries all of them, not just the first.</summary>
internal sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base(string.Join(Environment.NewLine, errors))
    {
        Errors = errors;
    }

    public ConfigException()
        : this([])
    {
    }

    public ConfigException(string message)
        : base(message)
    {
        Errors = [];
    }

    public ConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [];
    }

    public IReadOnlyList<ConfigError> Errors { get; }
}
