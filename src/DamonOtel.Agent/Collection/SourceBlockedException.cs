namespace DamonOtel.Agent.Collection;

/// <summary>
/// A source that cannot collect for a reason the agent has already reported once (e.g. an
/// exclusive DAMON module holds DAMON, so its kdamond could not start): the collection loop
/// records it (source down, collection error, /readyz) but does not log it again.
/// </summary>
internal sealed class SourceBlockedException : Exception
{
    public SourceBlockedException()
    {
    }

    public SourceBlockedException(string message)
        : base(message)
    {
    }

    public SourceBlockedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
