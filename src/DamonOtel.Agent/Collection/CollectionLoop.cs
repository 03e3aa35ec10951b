using System.Diagnostics;
using DamonOtel.Telemetry.Observations;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Runs every source on its own task and schedule: one source failing, hanging or throwing
/// never delays or stops another. Each collection's duration and outcome go to the
/// self-metrics; a failure is logged once with its reason, then again only when it changes,
/// so a broken source does not flood the journal.
/// </summary>
internal sealed partial class CollectionLoop(ObservationStore store, ILogger<CollectionLoop> logger, TimeProvider time) : IAsyncDisposable
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

        worker.Task = Task.Run(() => RunAsync(worker));
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

    public async ValueTask DisposeAsync()
    {
        Worker[] all;
        lock (gate)
        {
            all = [.. workers.Values];
            workers.Clear();
        }

        foreach (Worker w in all)
        {
            await w.StopAsync().ConfigureAwait(false);
        }
    }

    private async Task RunAsync(Worker worker)
    {
        CancellationToken token = worker.Stop.Token;
        while (!token.IsCancellationRequested)
        {
            await CollectOnceAsync(worker, token).ConfigureAwait(false);
            try
            {
                await Task.Delay(worker.Source.Interval, time, token).ConfigureAwait(false);
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
        await worker.Busy.WaitAsync(token).ConfigureAwait(false);
        long start = Stopwatch.GetTimestamp();
        Exception? error = null;
        try
        {
            await worker.Source.CollectAsync(token).ConfigureAwait(false);
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
