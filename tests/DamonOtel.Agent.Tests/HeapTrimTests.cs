using DamonOtel.Agent.Collection;

namespace DamonOtel.Agent.Tests;

/// <summary>The heap trim runs once every budget of allocated bytes, counted from the last trim.</summary>
public sealed class HeapTrimTests
{
    private long allocated;
    private int trims;

    private HeapTrim New(long bytes) => new(bytes, () => allocated, () => trims++);

    [Fact]
    public void Trims_once_the_budget_is_allocated_and_counts_again_from_there()
    {
        HeapTrim trim = New(1000);
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
    public void The_agents_trim_runs_a_full_collection()
    {
        HeapTrim trim = HeapTrim.ForThisProcess();
        trim.Check();
        int before = GC.CollectionCount(2);
        for (int i = 0; i < 2 * HeapTrim.DefaultBytes / 4096; i++)
        {
            GC.KeepAlive(new byte[4096 - 24]);
        }

        Assert.True(trim.Check());
        Assert.True(GC.CollectionCount(2) > before);
    }
}
