using System.Diagnostics.Metrics;
using DamonOtel.Telemetry.Catalog;
using DamonOtel.Telemetry.Instruments;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Tests.Infrastructure;

namespace DamonOtel.Telemetry.Tests;

public sealed class StoreAndInstrumentTests
{
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener listener = new();

        public Recorder(Meter meter)
        {
            listener.InstrumentPublished = (i, l) =>
            {
                if (ReferenceEquals(i.Meter, meter))
                {
                    l.EnableMeasurementEvents(i);
                }
            };
            listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i.Name, v, t));
            listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i.Name, v, t));
            listener.Start();
        }

        public List<(string Name, double Value, Dictionary<string, string?> Tags)> Seen { get; } = [];

        public IReadOnlyList<(string Name, double Value, Dictionary<string, string?> Tags)> Observe()
        {
            Seen.Clear();
            listener.RecordObservableInstruments();
            return [.. Seen];
        }

        public void Dispose() => listener.Dispose();

        private void Add(string name, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (Seen)
            {
                Seen.Add((name, v, tags.ToArray().ToDictionary(t => t.Key, t => t.Value?.ToString())));
            }
        }
    }

    private static (ObservationStore Store, FakeTimeProvider Time, DamonInstruments Instruments, Recorder Recorder) Create(MetricSelection? selection = null)
    {
        var time = new FakeTimeProvider();
        var store = new ObservationStore(time);
        var instruments = new DamonInstruments(store, selection, "test." + Guid.NewGuid().ToString("N"));
        return (store, time, instruments, new Recorder(instruments.Meter));
    }

    [Fact]
    public void Damon_stats_published_figures_are_exported_as_the_kernel_gave_them()
    {
        var (store, _, instruments, rec) = Create();
        using var _i = instruments;
        using var _r = rec;
        var published = new DamonStatPublished([0, 50, 100], [-6.236, 18.708, 27.023], 2338317241);
        store.Publish(new KdamondObservation("module/damon_stat", "damon_stat", true, 1.5, null, [], [], store.Now(), TimeSpan.FromSeconds(5)) { DamonStat = published });
        var seen = rec.Observe();

        var idle = seen.Where(s => s.Name == "damon_stat.memory.idle_time").ToArray();
        Assert.Equal([("0.0", -6.236), ("0.5", 18.708), ("1.0", 27.023)], idle.Select(s => (s.Tags["quantile"]!, s.Value)));
        var bw = Assert.Single(seen, s => s.Name == "damon_stat.memory.bandwidth");
        Assert.Equal(2338317241, bw.Value);
        Assert.Empty(bw.Tags);

        // Not published (DAMON_STAT off, or another kdamond): no series.
        store.Publish(new KdamondObservation("module/damon_stat", "damon_stat", false, null, null, [], [], store.Now(), TimeSpan.FromSeconds(5)));
        Assert.DoesNotContain(rec.Observe(), s => s.Name.StartsWith("damon_stat.", StringComparison.Ordinal));
    }

    [Fact]
    public void Observable_values_are_converted_and_labelled()
    {
        var (store, _, instruments, rec) = Create();
        using var _i = instruments;
        using var _r = rec;
        store.Publish(Fixtures.Web(store));
        var seen = rec.Observe();

        // p99 idle 600,000,000 us = 600 s; quantile label "0.99".
        var p99 = Assert.Single(seen, s => s.Name == "damon.memory.idle_time" && s.Tags["quantile"] == "0.99");
        Assert.Equal(600, p99.Value);
        Assert.Equal("web", p99.Tags["kdamond"]);
        Assert.Equal("nginx", p99.Tags["target"]);
        // Idle buckets: 5 configured bounds + "+Inf" = 6 series per target, canonical labels.
        var idle = seen.Where(s => s.Name == "damon.memory.idle").Select(s => s.Tags["le"]!).ToArray();
        Assert.Equal(["0.0", "0.1", "1.0", "60.0", "1e+06", "+Inf"], idle);
        // redis has no access summary yet: only its RSS.
        Assert.DoesNotContain(seen, s => s.Tags.GetValueOrDefault("target") == "redis" && s.Name != "damon.target.memory.rss");
        Assert.Equal(52_428_800, Assert.Single(seen, s => s.Name == "damon.target.memory.rss" && s.Tags["target"] == "redis").Value);
        // Scheme "1" has no sz_ops_filter_passed (old kernel) and no effective quota: no series, not 0.
        Assert.Single(seen, s => s.Name == "damos.scheme.filter_passed.size");
        Assert.Single(seen, s => s.Name == "damos.scheme.quota.effective");
        Assert.Equal(2, seen.Count(s => s.Name == "damos.scheme.tried"));
        Assert.DoesNotContain(seen, s => s.Name == "damon.memory.heatmap.access_rate");
    }

    [Fact]
    public void Page_ownership_is_exported_per_cgroup_with_kubernetes_labels_only_where_they_apply()
    {
        var (store, _, instruments, rec) = Create();
        using var _i = instruments;
        using var _r = rec;
        store.Publish(Fixtures.Node(store));
        var seen = rec.Observe();

        const string Pod = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7c0a5b0e_5d5b_4b9f_9d43_2f1a3c6e8b01.slice";
        var podResident = Assert.Single(seen, s => s.Name == "damon.cgroup.memory.resident" && s.Tags["cgroup"] == Pod);
        Assert.Equal(268_435_456, podResident.Value);
        Assert.Equal(new Dictionary<string, string?> { ["kdamond"] = "node", ["cgroup"] = Pod, ["pod_uid"] = "7c0a5b0e-5d5b-4b9f-9d43-2f1a3c6e8b01", ["qos_class"] = "burstable" }, podResident.Tags);
        var pg = Assert.Single(seen, s => s.Name == "damon.cgroup.memory.resident" && s.Tags["cgroup"] == "/system.slice/postgresql.service");
        Assert.Equal(["kdamond", "cgroup"], pg.Tags.Keys);

        // Idle buckets 0 and 60 s + "+Inf" per cgroup; quantiles 0.5 and 0.9, NaN ones left out.
        Assert.Equal(["0.0", "60.0", "+Inf"], seen.Where(s => s.Name == "damon.cgroup.memory.idle" && s.Tags["cgroup"] == Pod).Select(s => s.Tags["le"]));
        Assert.Equal([67_108_864.0, 201_326_592, 268_435_456], seen.Where(s => s.Name == "damon.cgroup.memory.idle" && s.Tags["cgroup"] == Pod).Select(s => s.Value));
        Assert.Equal([("0.5", 30.0), ("0.9", 120.0)], seen.Where(s => s.Name == "damon.cgroup.memory.idle_time" && s.Tags["cgroup"] == Pod).Select(s => (s.Tags["quantile"], s.Value)));
        Assert.Equal([("0.9", 3600.0)], seen.Where(s => s.Name == "damon.cgroup.memory.idle_time" && s.Tags["cgroup"] != Pod).Select(s => (s.Tags["quantile"], s.Value)));
        Assert.Equal(0.875, Assert.Single(seen, s => s.Name == "damon.cgroup.memory.purity_ratio").Value);
        Assert.Equal(67_108_864, Assert.Single(seen, s => s.Name == "damon.cgroup.memory.working_set" && s.Tags["cgroup"] == Pod).Value);
        Assert.Equal(1_048_576.5, Assert.Single(seen, s => s.Name == "damon.cgroup.memory.resident.standard_error" && s.Tags["cgroup"] == Pod).Value);

        // Per kdamond / target: free pages, owners (whole bytes), selected and dropped cgroups.
        Assert.Equal(1_073_741_824, Assert.Single(seen, s => s.Name == "damon.memory.free").Value);
        Assert.Equal(
            [("selected_cgroups", 805_306_368.0), ("other_cgroups", 67_108_864), ("kernel", 134_217_728)],
            seen.Where(s => s.Name == "damon.memory.owned").Select(s => (s.Tags["owner"]!, s.Value)));
        Assert.Equal(2, Assert.Single(seen, s => s.Name == "damon.cgroups.selected").Value);
        Assert.Equal(3, Assert.Single(seen, s => s.Name == "damon.cgroups.dropped").Value);
    }

    [Fact]
    public void A_frame_not_yet_filled_exports_nothing_and_a_swap_publishes_the_next_pass()
    {
        var (store, _, instruments, rec) = Create();
        using var _i = instruments;
        using var _r = rec;
        var table = new PageOwnershipTable("node", "ram", [0], [50]);
        store.Publish(Fixtures.Stat(store) with { Source = "kdamond/node", Kdamond = "node", Pages = table });
        Assert.DoesNotContain(rec.Observe(), s => s.Name.StartsWith("damon.cgroup", StringComparison.Ordinal) || s.Name == "damon.memory.free");

        // The collector fills the back frame; nothing changes for readers until it swaps.
        table.Back.Reset(1, [new CgroupIdentity("/a", null, null, null)]);
        table.Back.Filled = true;
        table.Back.HasCgroups = true;
        table.Back.Row(0).ResidentBytes = 4096;
        Assert.DoesNotContain(rec.Observe(), s => s.Name == "damon.cgroup.memory.resident");
        table.Swap();
        Assert.Equal(4096, Assert.Single(rec.Observe(), s => s.Name == "damon.cgroup.memory.resident").Value);
    }

    [Fact]
    public void Stale_observations_disappear_and_come_back_when_refreshed()
    {
        var (store, time, instruments, rec) = Create();
        using var _i = instruments;
        using var _r = rec;
        store.Publish(Fixtures.Web(store)); // expected interval 10 s -> stale after 30 s
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Contains(rec.Observe(), s => s.Name == "damon.kdamond.up"); // exactly 3x: not yet stale
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.DoesNotContain(rec.Observe(), s => s.Tags.GetValueOrDefault("kdamond") == "web");
        store.Publish(Fixtures.Web(store));
        Assert.Contains(rec.Observe(), s => s.Name == "damon.kdamond.up");
    }

    [Fact]
    public void Wss_histogram_records_once_per_new_access_sequence()
    {
        var (store, _, instruments, rec) = Create();
        using var _i = instruments;
        using var _r = rec;
        store.Publish(Fixtures.Web(store, 1, 100));
        store.Publish(Fixtures.Web(store, 1, 100));
        store.Publish(Fixtures.Web(store, 2, 200));
        store.Publish(Fixtures.Web(store, 2, 200));
        store.Publish(Fixtures.Web(store, 1, 50)); // kdamond restart resets the sequence: a new snapshot too
        var records = rec.Seen.Where(s => s.Name == "damon.memory.working_set.distribution").Select(s => s.Value).ToArray();
        Assert.Equal([100.0, 200.0, 50.0], records);
    }

    [Fact]
    public void Remove_source_and_self_metrics()
    {
        var (store, time, instruments, rec) = Create();
        using var _i = instruments;
        using var _r = rec;
        store.Publish(Fixtures.Web(store));
        store.RecordCollection("kdamond/web", TimeSpan.FromMilliseconds(3), null);
        time.Advance(TimeSpan.FromSeconds(2));
        store.RecordCollection("kdamond/web", TimeSpan.FromMilliseconds(3), new IOException("boom"));
        // Errors: 0 added on first sight, then 1 for the failure (synchronous: seen at once).
        Assert.Equal([0.0, 1.0], rec.Seen.Where(s => s.Name == "damon_otel.collection.errors").Select(s => s.Value).ToArray());
        Assert.Equal([0.003, 0.003], rec.Seen.Where(s => s.Name == "damon_otel.collection.duration").Select(s => s.Value).ToArray());
        var seen = rec.Observe();
        Assert.Equal(2, Assert.Single(seen, s => s.Name == "damon_otel.snapshot.age").Value); // last success 2 s ago
        Assert.Equal(0, Assert.Single(seen, s => s.Name == "damon_otel.source.up").Value);
        Assert.False(store.Current.Sources["kdamond/web"].LastCollectionSucceeded);

        store.RemoveSource("kdamond/web");
        Assert.Equal(["damon_otel.build.info", "process.cpu.time", "process.cpu.time", "process.memory.usage"], rec.Observe().Select(s => s.Name).Order().ToArray()); // only the agent's own
        Assert.Empty(store.Current.Kdamonds);
    }

    [Fact]
    public void Process_metrics_report_the_given_usage_by_cpu_mode()
    {
        var store = new ObservationStore(new FakeTimeProvider());
        using var instruments = new DamonInstruments(store, null, "test." + Guid.NewGuid().ToString("N"), () => new(1.5, 0.25, 1 << 26));
        using var rec = new Recorder(instruments.Meter);
        var seen = rec.Observe();
        Assert.Equal(1.5, Assert.Single(seen, s => s.Name == "process.cpu.time" && s.Tags["cpu.mode"] == "user").Value);
        Assert.Equal(0.25, Assert.Single(seen, s => s.Name == "process.cpu.time" && s.Tags["cpu.mode"] == "system").Value);
        Assert.Equal(1 << 26, Assert.Single(seen, s => s.Name == "process.memory.usage").Value);
    }

    [Fact]
    public void Process_metrics_default_to_this_process()
    {
        // Burn a little CPU so that user time is certainly above zero, then compare with getrusage's view.
        var x = 0.0;
        for (var i = 0; i < 5_000_000; i++)
        {
            x += Math.Sqrt(i);
        }

        Assert.True(x > 0);
        var (_, _, instruments, rec) = Create();
        using var _i = instruments;
        using var _r = rec;
        var seen = rec.Observe();
        var user = Assert.Single(seen, s => s.Name == "process.cpu.time" && s.Tags["cpu.mode"] == "user").Value;
        var rss = Assert.Single(seen, s => s.Name == "process.memory.usage").Value;
        Assert.InRange(user, 0.001, Environment.CpuUsage.UserTime.TotalSeconds);

        // The test host's resident set: the kernel's VmRSS (/proc/self/status, kB) within 25 %
        // (pages come and go between the two reads).
        var vmRss = File.ReadLines("/proc/self/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        var kernelRss = long.Parse(vmRss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024.0;
        Assert.InRange(rss, kernelRss * 0.75, kernelRss * 1.25);
    }

    [Fact]
    public void Metrics_can_be_enabled_and_disabled_by_name()
    {
        var selection = new MetricSelection(enable: ["damon_memory_heatmap_access_rate_percent"], disable: ["damon.memory.idle", "damos.scheme.tried"]);
        var (store, _, instruments, rec) = Create(selection);
        using var _i = instruments;
        using var _r = rec;
        store.Publish(Fixtures.Web(store));
        var seen = rec.Observe();
        Assert.DoesNotContain(seen, s => s.Name is "damon.memory.idle" or "damos.scheme.tried");
        var heat = seen.Where(s => s.Name == "damon.memory.heatmap.access_rate").ToArray();
        Assert.Equal([12.5, 0.0], heat.Select(h => h.Value).ToArray());
        Assert.Equal(["0", "1"], heat.Select(h => h.Tags["column"]!).ToArray());

        var e = Assert.Throws<ArgumentException>(() => new MetricSelection(["damon.nope"], []));
        Assert.Contains("unknown metric 'damon.nope'", e.Message);
    }

    [Fact]
    public async Task Publish_is_atomic_under_concurrent_readers()
    {
        var store = new ObservationStore();
        var stop = false;
        var reads = 0;
        var reader = Task.Run(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                var snap = store.Current;
                foreach (var k in snap.Kdamonds)
                {
                    // Each observation is published whole: its two targets always agree.
                    Assert.Equal(k.Targets[0].AccessSequence, k.Targets[1].AccessSequence);
                }

                Interlocked.Increment(ref reads);
            }
        });
        for (var i = 0; i < 2000 || Volatile.Read(ref reads) < 100; i++)
        {
            var w = Fixtures.Web(store, i);
            store.Publish(w with { Targets = [w.Targets[0], w.Targets[1] with { AccessSequence = i }] });
        }

        Volatile.Write(ref stop, true);
        await reader; // rethrows a torn read
        Assert.Single(store.Current.Kdamonds);
    }
}
