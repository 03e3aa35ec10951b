namespace DamonOtel.Agent.Collection;

/// <summary>
/// Runs an async body on a thread of its own whose <see cref="SynchronizationContext"/> brings
/// every continuation back to that thread. A collection is mostly synchronous file I/O (a
/// tried_regions walk is thousands of open/read/close): on the thread pool it would hold pool
/// threads for its whole duration, and on a 2-CPU machine the pool has 2 threads to start with,
/// so Kestrel's first request waited behind the first collections (bench/README.md, "The agent
/// as a whole"). Awaits in the collection code that precede such work must not use
/// ConfigureAwait(false), or the rest would move to the pool.
/// </summary>
internal sealed class CollectionThread : SynchronizationContext
{
    // A collection needs little stack: a few stackalloc'd read buffers and shallow calls.
    private const int StackBytes = 512 * 1024;

    private readonly Queue<(SendOrPostCallback Callback, object? State)> queue = new();
    private readonly object gate = new();
    private bool completed;
    private int threadId;

    private CollectionThread()
    {
    }

    /// <summary>
    /// Starts <paramref name="body"/> on a new background thread named <paramref name="name"/>;
    /// the returned task completes as the body does, after the thread has left it.
    /// </summary>
    public static Task Run(string name, Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var context = new CollectionThread();
        var thread = new Thread(() => context.Loop(body, done), StackBytes)
        {
            IsBackground = true,
            // Linux shows 15 characters of a thread name (top -H, /proc/<pid>/task/*/comm).
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    public override void Post(SendOrPostCallback d, object? state)
    {
        lock (gate)
        {
            if (completed)
            {
                // The body finished; a late callback (a timer or cancellation registration) still runs.
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.Callback(s.State), (Callback: d, State: state), preferLocal: false);
                return;
            }

            queue.Enqueue((d, state));
            Monitor.Pulse(gate);
        }
    }

    public override void Send(SendOrPostCallback d, object? state)
    {
        if (Environment.CurrentManagedThreadId != threadId)
        {
            throw new NotSupportedException("Send from another thread onto a collection thread");
        }

        d(state);
    }

    public override SynchronizationContext CreateCopy() => this;

    private void Loop(Func<Task> body, TaskCompletionSource done)
    {
        threadId = Environment.CurrentManagedThreadId;
        SetSynchronizationContext(this);
        Task task;
        try
        {
            task = body();
        }
        catch (Exception e)
        {
            task = Task.FromException(e);
        }

        task.ContinueWith(static (_, s) => ((CollectionThread)s!).Complete(), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        while (true)
        {
            (SendOrPostCallback Callback, object? State) next;
            lock (gate)
            {
                while (queue.Count == 0 && !completed)
                {
                    Monitor.Wait(gate);
                }

                if (queue.Count == 0)
                {
                    break;
                }

                next = queue.Dequeue();
            }

            next.Callback(next.State);
        }

        SetSynchronizationContext(null);
        if (task.IsFaulted)
        {
            done.SetException(task.Exception.InnerExceptions);
        }
        else if (task.IsCanceled)
        {
            done.SetCanceled();
        }
        else
        {
            done.SetResult();
        }
    }

    private void Complete()
    {
        lock (gate)
        {
            completed = true;
            Monitor.Pulse(gate);
        }
    }
}
