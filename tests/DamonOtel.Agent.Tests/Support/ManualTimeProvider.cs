using System.Diagnostics;

namespace DamonOtel.Agent.Tests.Support;

/// <summary>
/// The agent's clock in tests: it stands still unless <see cref="Advance"/> moves it, and its
/// timers (Task.Delay, WaitAsync timeouts) fire only then. Code that waits on it while the
/// test does not advance it never finishes, so "it did not wait" is observable.
/// </summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock gate = new();
    private readonly List<ManualTimer> timers = [];
    private long ticks = 1_000_000_000;

    public override long TimestampFrequency => Stopwatch.Frequency;

    /// <summary>Timers created so far (every Task.Delay and WaitAsync with a timeout creates one).</summary>
    public int TimersCreated { get; private set; }

    public override long GetTimestamp()
    {
        lock (gate)
        {
            return ticks;
        }
    }

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(GetTimestamp() * TimeSpan.TicksPerSecond / Stopwatch.Frequency);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var t = new ManualTimer(this, callback, state);
        lock (gate)
        {
            TimersCreated++;
            timers.Add(t);
        }

        t.Change(dueTime, period);
        return t;
    }

    /// <summary>Moves the clock and fires every timer that came due, in order.</summary>
    public void Advance(TimeSpan by)
    {
        long end;
        lock (gate)
        {
            end = ticks + (long)(by.TotalSeconds * Stopwatch.Frequency);
        }

        while (true)
        {
            ManualTimer? next;
            lock (gate)
            {
                next = timers.Where(t => t.DueTicks is long d && d <= end).MinBy(t => t.DueTicks);
                if (next is null)
                {
                    ticks = end;
                    return;
                }

                ticks = Math.Max(ticks, next.DueTicks!.Value);
                next.DueTicks = next.PeriodTicks > 0 ? ticks + next.PeriodTicks : null;
            }

            next.Fire();
        }
    }

    private long ToTicks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public long? DueTicks { get; set; }

        public long PeriodTicks { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner.gate)
            {
                DueTicks = dueTime == Timeout.InfiniteTimeSpan ? null : owner.ticks + owner.ToTicks(dueTime);
                PeriodTicks = period == Timeout.InfiniteTimeSpan ? 0 : owner.ToTicks(period);
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner.gate)
            {
                DueTicks = null;
                owner.timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
