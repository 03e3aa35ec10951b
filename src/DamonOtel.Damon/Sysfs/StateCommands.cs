using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Damon.Sysfs;

/// <summary>Keywords accepted by kdamonds/&lt;K&gt;/state.</summary>
public enum StateCommand
{
    On,
    Off,
    Commit,
    UpdateSchemesStats,
    UpdateSchemesTriedRegions,
    UpdateSchemesTriedBytes,
    ClearSchemesTriedRegions,
    UpdateSchemesEffectiveQuotas,
    UpdateTunedIntervals,
    CommitSchemesQuotaGoals,
}

/// <summary>A state command that went through.</summary>
public sealed record CommandResult(int Kdamond, StateCommand Command, int Attempts, TimeSpan Elapsed);

/// <summary>Retry and deadline policy of <see cref="StateCommands"/>.</summary>
public sealed record StateCommandOptions
{
    public static StateCommandOptions Default { get; } = new();

    /// <summary>The whole command, all attempts and backoffs included.</summary>
    public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Write attempts when the kernel answers EBUSY (damo uses 5).</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>
    /// Sleep before retry number n (1-based: the wait after the first EBUSY is Backoff(1)).
    /// Default: randomized exponential, 10 ms doubling up to 320 ms, each uniformly in [½, 1] of its step.
    /// </summary>
    public Func<int, TimeSpan> Backoff { get; init; } = DefaultBackoff;

    /// <summary>
    /// Asked after each EBUSY answer (kdamond index, command): false makes that EBUSY final at
    /// once. EBUSY on `on` means either another writer's command (wait) or an exclusive DAMON
    /// module running (waiting cannot help): the caller tells them apart.
    /// </summary>
    public Func<int, StateCommand, bool>? RetryBusy { get; init; }

    public static TimeSpan DefaultBackoff(int retry)
    {
        double step = Math.Min(320.0, 10.0 * Math.Pow(2, Math.Max(0, retry - 1)));
        // Jitter keeps two agents that collided from colliding again in lockstep.
#pragma warning disable CA5394 // not security relevant
        return TimeSpan.FromMilliseconds(step * (0.5 + (Random.Shared.NextDouble() * 0.5)));
#pragma warning restore CA5394
    }
}

/// <summary>A state command failed: the errno (if the kernel gave one), the command and the kdamond are named.</summary>
public sealed class StateCommandException : Exception
{
    public StateCommandException(int kdamond, StateCommand command, Errno errno, int attempts, bool timedOut, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kdamond = kdamond;
        Command = command;
        Errno = errno;
        Attempts = attempts;
        TimedOut = timedOut;
    }

    public StateCommandException()
        : this("state command failed")
    {
    }

    public StateCommandException(string message)
        : base(message)
    {
    }

    public StateCommandException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public int Kdamond { get; }

    public StateCommand Command { get; }

    /// <summary>The kernel's error of the last attempt; None when the deadline fired first.</summary>
    public Errno Errno { get; }

    public int Attempts { get; }

    public bool TimedOut { get; }
}

/// <summary>
/// Sends commands to kdamonds/&lt;K&gt;/state. Some writes block in the kernel for an apply
/// interval or more (update_schemes_tried_regions) and buggy kernels can hang them, so each
/// write runs on its own dedicated background thread and the caller awaits it with a deadline:
/// the caller always gets control back by the deadline, even if the thread stays stuck in
/// write(2) (it is abandoned and finishes whenever the kernel lets it). EBUSY (the DAMON
/// sysfs mutex is taken with trylock) is retried with randomized exponential backoff.
/// </summary>
public sealed class StateCommands
{
    private readonly IKernelFs fs;
    private readonly KernelRoots roots;
    private readonly StateCommandOptions options;
    private readonly TimeProvider time;
    private readonly Lock queueLock = new();
    private Task queue = Task.CompletedTask; // completes when the last queued command is done

    public StateCommands(IKernelFs fs, KernelRoots roots, StateCommandOptions? options = null, TimeProvider? timeProvider = null)
    {
        this.fs = fs ?? throw new ArgumentNullException(nameof(fs));
        this.roots = roots ?? throw new ArgumentNullException(nameof(roots));
        this.options = options ?? StateCommandOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(this.options.MaxAttempts, 1);
        time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The sysfs keyword of a command.</summary>
    public static string Keyword(StateCommand command) => command switch
    {
        StateCommand.On => "on",
        StateCommand.Off => "off",
        StateCommand.Commit => "commit",
        StateCommand.UpdateSchemesStats => "update_schemes_stats",
        StateCommand.UpdateSchemesTriedRegions => "update_schemes_tried_regions",
        StateCommand.UpdateSchemesTriedBytes => "update_schemes_tried_bytes",
        StateCommand.ClearSchemesTriedRegions => "clear_schemes_tried_regions",
        StateCommand.UpdateSchemesEffectiveQuotas => "update_schemes_effective_quotas",
        StateCommand.UpdateTunedIntervals => "update_tuned_intervals",
        StateCommand.CommitSchemesQuotaGoals => "commit_schemes_quota_goals",
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, "unknown state command"),
    };

    /// <summary>
    /// Writes the command, retrying EBUSY. Throws <see cref="StateCommandException"/> on a
    /// kernel error (EINVAL, EPERM, ECANCELED, EBUSY after the last attempt...) or when the
    /// deadline passes; <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async Task<CommandResult> SendAsync(int kdamond, StateCommand command, CancellationToken cancellationToken = default)
    {
        string keyword = Keyword(command);
        string path = Path.Combine(roots.Kdamonds, kdamond.ToString(CultureInfo.InvariantCulture), "state");
        long started = time.GetTimestamp();

        // The kernel handles one command at a time for all kdamonds (6.12 answers EBUSY while
        // any other is pending, for the whole of a tried_regions update): collectors of several
        // kdamonds sharing this instance queue here instead of burning their EBUSY retries.
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task previous;
        lock (queueLock)
        {
            previous = queue;
            queue = mine.Task;
        }

        try
        {
            try
            {
                await previous.WaitAsync(options.Deadline, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw Timeout(kdamond, command, keyword, path, 0, Errno.None);
            }

            return await SendLockedAsync(kdamond, command, keyword, path, started, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            mine.SetResult();
        }
    }

    private async Task<CommandResult> SendLockedAsync(int kdamond, StateCommand command, string keyword, string path, long started, CancellationToken cancellationToken)
    {
        Errno lastErrno = Errno.None;
        for (int attempt = 1; ; attempt++)
        {
            TimeSpan remaining = options.Deadline - time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                throw Timeout(kdamond, command, keyword, path, attempt - 1, lastErrno);
            }

            Task write = StartWriteThread(path, keyword, kdamond);
            try
            {
                await write.WaitAsync(remaining, time, cancellationToken).ConfigureAwait(false);
                return new CommandResult(kdamond, command, attempt, time.GetElapsedTime(started));
            }
            catch (TimeoutException)
            {
                throw Timeout(kdamond, command, keyword, path, attempt, lastErrno);
            }
            catch (KernelIoException e) when (e.Errno == Errno.EBUSY && attempt < options.MaxAttempts && (options.RetryBusy?.Invoke(kdamond, command) ?? true))
            {
                lastErrno = e.Errno;
            }
            catch (KernelIoException e)
            {
                string tries = e.Errno == Errno.EBUSY ? $" after {attempt} attempts" : string.Empty;
                throw new StateCommandException(
                    kdamond, command, e.Errno, attempt, timedOut: false,
                    $"state command '{keyword}' on kdamond {kdamond} failed{tries}: {KernelIoException.Describe(e.Errno)} ({path})", e);
            }

            TimeSpan delay = options.Backoff(attempt);
            TimeSpan left = options.Deadline - time.GetElapsedTime(started);
            if (delay >= left)
            {
                throw Timeout(kdamond, command, keyword, path, attempt, lastErrno);
            }

            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private StateCommandException Timeout(int kdamond, StateCommand command, string keyword, string path, int attempts, Errno lastErrno)
    {
        string last = lastErrno == Errno.None ? string.Empty : $"; last error {KernelIoException.Describe(lastErrno)}";
        return new StateCommandException(
            kdamond, command, lastErrno, attempts, timedOut: true,
            $"state command '{keyword}' on kdamond {kdamond} did not complete within {options.Deadline.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms ({attempts} attempts{last}; {path})");
    }

    // One thread per write: a write stuck in the kernel must not hold up a shared worker.
    private Task StartWriteThread(string path, string keyword, int kdamond)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                fs.WriteText(path, keyword);
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = string.Create(CultureInfo.InvariantCulture, $"damon-state-{kdamond}"),
        };
        thread.Start();
        return done.Task;
    }
}
