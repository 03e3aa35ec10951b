using System.Diagnostics;
using DamonOtel.Telemetry.Observations;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Runs every source on its own thread and schedule (<see cref="CollectionThread"/>): one source
/// failing, hanging or throwing never delays or stops another, and none holds a thread-pool
/// thread (the HTTP endpoint's) while it reads. Each collection's duration and outcome go to the
/// self-metrics; a failure is logged once with its reason, then again only when it changes,
/// so a broken source does not flood the journal.
/// </summary>
internal sealed partial class CollectionLoop(ObservationStore store, ILogger<CollectionLoop> logger, TimeProvider time, HeapTrim? heapTrim = null) : IAsyncDisposable
{
    private readonly Dictionary<string, Worker> workers = new(StringComparer.Ordinal);
    private readonly Lock gate = new();

    public IReadOnlyCollection<string> SourceNames
    {
        get
        {
            lock (gate)
            {
                return [.. workers.Keys];
            }
        }
    }

    /// <summary>Starts collecting from <paramref name="source"/>; replaces a source of the same name.</summary>
    public async Task AddAsync(ICollectionSource source)
    {
        Worker? old;
        var worker = new Worker(source);
        lock (gate)
        {
            workers.TryGetValue(source.Name, out old);
            workers[source.Name] = worker;
        }

        if (old is not null)
        {
            await old.StopAsync().ConfigureAwait(false);
        }

        worker.Task = CollectionThread.Run(source.Name, () => RunAsync(worker));
    }

    public async Task RemoveAsync(string name)
    {
        Worker? old;
        lock (gate)
        {
            if (!workers.Remove(name, out old))
            {
                return;
            }
        }

        await old.StopAsync().ConfigureAwait(false);
        store.RemoveSource(name);
    }

    /// <summary>Runs one collection of every source now (tests, and `snapshot`-like one-shots).</summary>
    public async Task CollectAllOnceAsync(CancellationToken cancellationToken)
    {
        Worker[] all;
        lock (gate)
        {
            all = [.. workers.Values];
        }

        await Task.WhenAll(all.Select(w => CollectOnceAsync(w, cancellationToken))).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => new(StopAllAsync(Timeout.InfiniteTimeSpan));

    /// <summary>
    /// Stops every source, waiting at most <paramref name="abandonAfter"/> for each: a source stuck
    /// in a kernel call (a hung read never returns) is abandoned, so stopping stays bounded.
    /// </summary>
    public async Task StopAllAsync(TimeSpan abandonAfter)
    {
        Worker[] all;
        lock (gate)
        {
            all = [.. workers.Values];
            workers.Clear();
        }

        await Task.WhenAll(all.Select(async w =>
        {
            try
            {
                await w.StopAsync().WaitAsync(abandonAfter).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                LogSourceAbandoned(w.Source.Name, abandonAfter.TotalSeconds);
            }
        })).ConfigureAwait(false);
    }

    // No ConfigureAwait(false) here: the loop stays on its collection thread (see CollectionThread).
    private async Task RunAsync(Worker worker)
    {
        CancellationToken token = worker.Stop.Token;
        while (!token.IsCancellationRequested)
        {
            await CollectOnceAsync(worker, token);
            try
            {
                await Task.Delay(worker.Source.Interval, time, token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task CollectOnceAsync(Worker worker, CancellationToken token)
    {
        // One collection at a time per source, even when a one-shot overlaps the schedule.
        await worker.Busy.WaitAsync(token);
        long start = Stopwatch.GetTimestamp();
        Exception? error = null;
        try
        {
            await worker.Source.CollectAsync(token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            worker.Busy.Release();
        }

        store.RecordCollection(worker.Source.Name, Stopwatch.GetElapsedTime(start), error);
        heapTrim?.Check();
        string? message = error?.Message;
        if (message != worker.LastError)
        {
            if (error is SourceBlockedException)
            {
                // Already reported once, with its remedies, by whoever blocked it.
            }
            else if (error is not null)
            {
                LogSourceFailed(worker.Source.Name, message!);
            }
            else
            {
                LogSourceRecovered(worker.Source.Name);
            }

            worker.LastError = message;
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Source {Source} failed: {Reason}")]
    private partial void LogSourceFailed(string source, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Source {Source} did not stop within {Seconds} s (stuck in a kernel call); abandoned")]
    private partial void LogSourceAbandoned(string source, double seconds);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Source {Source} collects again")]
    private partial void LogSourceRecovered(string source);

    private sealed class Worker(ICollectionSource source)
    {
        public ICollectionSource Source { get; } = source;

        public CancellationTokenSource Stop { get; } = new();

        public SemaphoreSlim Busy { get; } = new(1, 1);

        public Task Task { get; set; } = Task.CompletedTask;

        public string? LastError { get; set; }

        public async Task StopAsync()
        {
            await Stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            await Source.DisposeAsync().ConfigureAwait(false);
            Stop.Dispose();
        }
    }
}
