namespace DamonOtel.Agent.Collection;

/// <summary>
/// One failure domain of the collection loop (a kdamond, the tracepoint reader, a DAMON
/// module): it reads, publishes what it read, and throws when it could not. A failing source
/// never stops the others.
/// </summary>
internal interface ICollectionSource : IAsyncDisposable
{
    /// <summary>Stable name for logs and the `source` attribute of self-metrics.</summary>
    string Name { get; }

    /// <summary>How long to wait between two collections.</summary>
    TimeSpan Interval { get; }

    Task CollectAsync(CancellationToken cancellationToken);
}
