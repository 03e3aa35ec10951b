using DamonOtel.Agent.Collection;

namespace DamonOtel.Agent.Tests;

/// <summary>The heap trim runs once the budget of allocated bytes and the shortest interval have both passed since the last trim.</summary>
public sealed class HeapTrimTests
{
    private readonly FakeTimeProvider time = new();
    private long allocated;
    private int trims;

    private HeapTrim New(long bytes, TimeSpan interval) => new(bytes, interval, time, () => allocated, () => trims++);

    [Fact]
    public void Trims_once_the_budget_is_allocated_and_counts_again_from_there()
    {
        HeapTrim trim = New(1000, TimeSpan.Zero);
        Assert.False(trim.Check()); // the first look only sets the baseline
        allocated += 999;
        Assert.False(trim.Check());
        allocated += 1;
        Assert.True(trim.Check());
        Assert.Equal(1, trims);

        allocated += 999;
        Assert.False(trim.Check());
        allocated += 1;
        Assert.True(trim.Check());
        Assert.Equal(2, trims);
    }

    [Fact]
    public void Trims_at_most_once_per_interval_however_much_is_allocated()
    {
        HeapTrim trim = New(1000, TimeSpan.FromSeconds(30));
        Assert.False(trim.Check());
        allocated += 1_000_000;
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(trim.Check());
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(trim.Check());

        allocated += 1_000_000;
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(trim.Check());
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.True(trim.Check());
        Assert.Equal(2, trims);
    }

    [Fact]
    public void The_agents_trim_runs_a_full_collection()
    {
        HeapTrim trim = HeapTrim.ForThisProcess(time);
        trim.Check();
        int before = GC.CollectionCount(2);
        for (int i = 0; i < 2 * HeapTrim.DefaultBytes / 4096; i++)
        {
            GC.KeepAlive(new byte[4096 - 24]);
        }

        time.Advance(HeapTrim.DefaultMinInterval);
        Assert.True(trim.Check());
        Assert.True(GC.CollectionCount(2) > before);
    }
}
