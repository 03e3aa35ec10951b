using DamonOtel.Agent.Collection;
using DamonOtel.Analysis;
using DamonOtel.Damon.Model;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Agent.Tests;

public class KdamondStateTests
{
    [Fact]
    public void Slow_collections_do_not_make_their_own_data_stale()
    {
        // Seen in the qemu VM (6.12, TCG): with a 2 s interval a tried_regions collection took
        // 4-6 s, so data arrived every 6-8 s, past 3 x 2 s: the kdamond's series vanished from
        // /metrics between collections. Staleness must follow the measured cadence.
        var clock = new FakeTimeProvider();
        var store = new ObservationStore(clock);
        var state = new KdamondState(store, "kdamond/k", "k", 0, ["t"], TimeSpan.FromSeconds(2));
        var intervals = new Intervals(20_000, 1_000_000, 5_000_000);
        AccessSummary summary = new AccessSummarizer(AccessOptions.Default).Summarize(new DamonRegion[] { new(0, 4096, 1, 0) }, intervals);

        state.UpdateStatus(true, 42, 1.0, intervals, [], null);   // t = 0
        clock.Advance(TimeSpan.FromSeconds(8));
        state.UpdateAccess(0, summary);                           // t = 8: a collection's snapshot
        state.UpdateStatus(true, 42, 1.1, intervals, [], null);   // t = 8: its status; cadence 8 s
        clock.Advance(TimeSpan.FromSeconds(8));
        state.UpdateStatus(true, 42, 1.2, intervals, [], null);   // t = 16: next status, snapshot 8 s old

        KdamondObservation o = store.Current.Kdamonds.Single();
        Assert.NotNull(o.Targets[0].Access);                        // 8 s <= 3 x 8 s (it was > 3 x 2 s)
        Assert.Equal(TimeSpan.FromSeconds(8), o.ExpectedInterval);
        clock.Advance(TimeSpan.FromSeconds(20));                  // 20 s after the last status: < 24 s
        Assert.False(store.IsStale(o));
        clock.Advance(TimeSpan.FromSeconds(5));                   // 25 s: > 3 x 8 s, stale
        Assert.True(store.IsStale(o));
    }
}
