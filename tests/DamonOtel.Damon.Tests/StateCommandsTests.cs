using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Damon.Tests;

public class StateCommandsTests
{
    private static readonly KernelRoots Roots = KernelRoots.Under("/fake");

    private static StateCommandOptions Fast(TimeSpan? deadline = null) => new()
    {
        Backoff = _ => TimeSpan.Zero,
        Deadline = deadline ?? TimeSpan.FromSeconds(30),
    };

    [Fact]
    public async Task EBUSY_twice_then_success_takes_three_attempts()
    {
        var fs = new ScriptedStateFs(attempt => attempt <= 2 ? Errno.EBUSY : Errno.None);
        CommandResult r = await new StateCommands(fs, Roots, Fast()).SendAsync(0, StateCommand.UpdateSchemesStats);
        Assert.Equal(3, r.Attempts);
        Assert.Equal(StateCommand.UpdateSchemesStats, r.Command);
        Assert.Equal(
            Enumerable.Repeat(("/fake/sys/kernel/mm/damon/admin/kdamonds/0/state", "update_schemes_stats"), 3),
            fs.Writes);
    }

    [Fact]
    public async Task EBUSY_forever_fails_after_five_attempts_naming_command_and_errno()
    {
        var fs = new ScriptedStateFs(_ => Errno.EBUSY);
        StateCommandException e = await Assert.ThrowsAsync<StateCommandException>(
            () => new StateCommands(fs, Roots, Fast()).SendAsync(2, StateCommand.UpdateSchemesTriedRegions));
        Assert.Equal(5, fs.Writes.Count);
        Assert.Equal(5, e.Attempts);
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.False(e.TimedOut);
        Assert.Equal(2, e.Kdamond);
        Assert.Contains("'update_schemes_tried_regions' on kdamond 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("EBUSY", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_commands_to_different_kdamonds_queue_instead_of_colliding()
    {
        // Like 6.12: while one command is pending (for any kdamond) another write gets EBUSY.
        // Seen in the qemu VM: three collectors' commands collided until their retries ran out.
        int inFlight = 0;
        var fs = new ScriptedStateFs(_ =>
        {
            if (Interlocked.Increment(ref inFlight) > 1)
            {
                Interlocked.Decrement(ref inFlight);
                return Errno.EBUSY;
            }

            Thread.Sleep(50); // the kernel handles the command
            Interlocked.Decrement(ref inFlight);
            return Errno.None;
        });
        var commands = new StateCommands(fs, Roots, Fast() with { MaxAttempts = 1 });

        CommandResult[] results = await Task.WhenAll(Enumerable.Range(0, 3).Select(k => commands.SendAsync(k, StateCommand.UpdateSchemesStats)));

        Assert.All(results, r => Assert.Equal(1, r.Attempts)); // no EBUSY at all: one write at a time
        Assert.Equal(3, fs.Writes.Count);
    }

    [Fact]
    public async Task Other_errors_are_not_retried()
    {
        var fs = new ScriptedStateFs(_ => Errno.EINVAL);
        StateCommandException e = await Assert.ThrowsAsync<StateCommandException>(
            () => new StateCommands(fs, Roots, Fast()).SendAsync(0, StateCommand.Commit));
        Assert.Single(fs.Writes);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("'commit'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_write_that_never_returns_hits_the_deadline()
    {
        using var release = new ManualResetEventSlim(false);
        var fs = new ScriptedStateFs(_ =>
        {
            release.Wait(); // a kernel write stuck forever (until the test ends)
            return Errno.None;
        });
        try
        {
            StateCommandException e = await Assert.ThrowsAsync<StateCommandException>(
                () => new StateCommands(fs, Roots, Fast(TimeSpan.FromMilliseconds(200))).SendAsync(0, StateCommand.UpdateSchemesTriedRegions));
            Assert.True(e.TimedOut);
            Assert.Equal(1, e.Attempts);
            Assert.Contains("did not complete within 200 ms", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task The_blocking_write_runs_off_the_callers_thread()
    {
        int callerThread = Environment.CurrentManagedThreadId;
        int writerThread = -1;
        var fs = new ScriptedStateFs(_ =>
        {
            writerThread = Environment.CurrentManagedThreadId;
            return Errno.None;
        });
        await new StateCommands(fs, Roots, Fast()).SendAsync(0, StateCommand.On);
        Assert.NotEqual(-1, writerThread);
        Assert.NotEqual(callerThread, writerThread);
    }

    [Fact]
    public async Task Cancellation_is_honoured_while_waiting()
    {
        using var release = new ManualResetEventSlim(false);
        var fs = new ScriptedStateFs(_ =>
        {
            release.Wait();
            return Errno.None;
        });
        using var cts = new CancellationTokenSource();
        Task<CommandResult> t = new StateCommands(fs, Roots, Fast()).SendAsync(0, StateCommand.Off, cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t);
        release.Set();
    }

    [Theory]
    [InlineData(StateCommand.On, "on")]
    [InlineData(StateCommand.UpdateSchemesTriedBytes, "update_schemes_tried_bytes")]
    [InlineData(StateCommand.ClearSchemesTriedRegions, "clear_schemes_tried_regions")]
    [InlineData(StateCommand.UpdateSchemesEffectiveQuotas, "update_schemes_effective_quotas")]
    [InlineData(StateCommand.UpdateTunedIntervals, "update_tuned_intervals")]
    [InlineData(StateCommand.CommitSchemesQuotaGoals, "commit_schemes_quota_goals")]
    public void Keywords_are_the_kernels(StateCommand cmd, string keyword) => Assert.Equal(keyword, StateCommands.Keyword(cmd));

    [Fact]
    public void Default_backoff_doubles_from_10ms_to_320ms_with_jitter()
    {
        // Retry n waits within [step/2, step], step = min(320, 10 * 2^(n-1)) ms: 10, 20, 40, 80, 160, 320, 320.
        double[] steps = [10, 20, 40, 80, 160, 320, 320];
        for (int n = 1; n <= steps.Length; n++)
        {
            for (int i = 0; i < 50; i++)
            {
                double ms = StateCommandOptions.DefaultBackoff(n).TotalMilliseconds;
                Assert.InRange(ms, steps[n - 1] / 2, steps[n - 1]);
            }
        }
    }

    /// <summary>Only state writes matter here; the outcome of attempt n (1-based) is scripted.</summary>
    [Fact]
    public async Task EBUSY_on_a_command_stops_at_once_when_the_caller_says_waiting_cannot_help()
    {
        // An exclusive module holds DAMON: `on` answers EBUSY for as long as it runs.
        var fs = new ScriptedStateFs(_ => Errno.EBUSY);
        var asked = new List<(int, StateCommand)>();
        var options = new StateCommandOptions
        {
            Backoff = _ => TimeSpan.Zero,
            MaxAttempts = 1000,
            RetryBusy = (k, c) =>
            {
                asked.Add((k, c));
                return c != StateCommand.On;
            },
        };
        StateCommandException e = await Assert.ThrowsAsync<StateCommandException>(
            () => new StateCommands(fs, Roots, options).SendAsync(1, StateCommand.On));
        Assert.Equal((1, Errno.EBUSY, false), (e.Attempts, e.Errno, e.TimedOut));
        Assert.Single(fs.Writes);
        Assert.Equal([(1, StateCommand.On)], asked);

        // Other commands keep their retries.
        var fs2 = new ScriptedStateFs(attempt => attempt <= 3 ? Errno.EBUSY : Errno.None);
        CommandResult r = await new StateCommands(fs2, Roots, options).SendAsync(1, StateCommand.UpdateSchemesStats);
        Assert.Equal(4, r.Attempts);
    }

    private sealed class ScriptedStateFs(Func<int, Errno> outcome) : IKernelFs
    {
        private int attempts;

        public List<(string Path, string Value)> Writes { get; } = [];

        public void WriteText(string path, string text)
        {
            int n;
            lock (Writes)
            {
                Writes.Add((path, text));
                n = ++attempts;
            }

            Errno e = outcome(n);
            if (e != Errno.None)
            {
                throw new KernelIoException(e, path, "write");
            }
        }

        public string ReadText(string path) => throw new NotSupportedException();

        public int ReadBytes(string path, Span<byte> buffer) => throw new NotSupportedException();

        public IReadOnlyList<string> ListDirectory(string path) => throw new NotSupportedException();

        public bool FileExists(string path) => true;

        public bool DirectoryExists(string path) => true;

        public void CreateDirectory(string path) => throw new NotSupportedException();

        public void RemoveDirectory(string path) => throw new NotSupportedException();

        public Stream OpenPipe(string path) => throw new NotSupportedException();
    }
}
