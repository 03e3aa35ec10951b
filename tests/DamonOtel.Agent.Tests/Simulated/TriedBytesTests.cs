using System.Text;
using DamonOtel.Agent.Hosting;
using DamonOtel.Analysis;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Telemetry;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Prometheus;

namespace DamonOtel.Agent.Tests.Simulated;

/// <summary>The tried_bytes collection mode: bucket bytes from one stat scheme per idle bucket.</summary>
public class TriedBytesTests
{
    private const ulong HotSet = 128UL << 20; // the steady workload touches exactly 128 MiB

    [Fact]
    public async Task Tried_bytes_installs_bucket_schemes_and_exports_bytes_but_no_percentiles()
    {
        const string yaml = """
            collection: {interval: 1s}
            attach: {enabled: false}
            kdamonds:
              - name: buckets
                operations: vaddr
                region_source: tried_bytes
                targets: [{name: app, process_name: app}]
            """;
        await using var sim = new SimHarness(("app", "steady"));
        var store = new ObservationStore();
        await using AgentRunner runner = sim.Runner(sim.Config(yaml), store: store);
        await runner.StartAsync(CancellationToken.None);

        // One stat scheme per pattern, applied at each aggregation: accessed, then idle age ranges.
        var expected = new IdleBucketSchemes(AccessOptions.Default, new Intervals(5_000, 100_000, 1_000_000));
        Assert.Equal(expected.Schemes.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), sim.Read("0/contexts/0/schemes/nr_schemes"));
        for (int i = 0; i < expected.Schemes.Count; i++)
        {
            Assert.Equal("stat", sim.Read($"0/contexts/0/schemes/{i}/action"));
            Assert.Equal("0", sim.Read($"0/contexts/0/schemes/{i}/apply_interval_us"));
            Assert.Equal(expected.Schemes[i].Age.Min.ToString(System.Globalization.CultureInfo.InvariantCulture), sim.Read($"0/contexts/0/schemes/{i}/access_pattern/age/min"));
            Assert.Equal(expected.Schemes[i].NrAccesses.Max.ToString(System.Globalization.CultureInfo.InvariantCulture), sim.Read($"0/contexts/0/schemes/{i}/access_pattern/nr_accesses/max"));
        }

        TargetObservation app = await SimHarness.WaitFor(
            () => SimHarness.Target(store, "buckets", "app") is { Access: { WorkingSetBytes: >= (ulong)(HotSet * 0.9), WorkingSetBytes: <= (ulong)(HotSet * 1.1) } } t ? t : null,
            "tried_bytes WSS near 128 MiB");
        AccessSummary a = app.Access!;
        Assert.True(a.BucketsOnly);
        Assert.Equal(a.MonitoredBytes, a.IdleBytesAtMost[^1]);
        Assert.Equal(a.WorkingSetBytes, a.IdleBytesAtMost[0]); // bound 0 s: the accessed bytes only
        Assert.True(a.MonitoredBytes >= 1UL << 30, $"monitored {a.MonitoredBytes} should cover the 1 GiB allocation");
        for (int i = 1; i < a.IdleBytesAtMost.Length; i++)
        {
            Assert.True(a.IdleBytesAtMost[i] >= a.IdleBytesAtMost[i - 1]);
        }

        // The update removed the region directories: no walk happened.
        Assert.DoesNotContain(sim.Kernel.ListDirectory(Path.Combine(sim.Roots.Kdamonds, "0/contexts/0/schemes/0/tried_regions")), n => char.IsAsciiDigit(n[0]));

        using TelemetryPipeline pipeline = TelemetryPipeline.Build(store, new TelemetryPipelineOptions { UseEnvironment = false });
        string text = Encoding.UTF8.GetString((await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false)).Body);
        Assert.Contains("damon_memory_idle_bytes{otel_scope_name=\"DamonOtel\",otel_scope_version=\"0.1.0\",kdamond=\"buckets\",le=\"60.0\",target=\"app\"}", text);
        Assert.Contains("damon_memory_working_set_bytes{otel_scope_name=\"DamonOtel\",otel_scope_version=\"0.1.0\",kdamond=\"buckets\",target=\"app\"}", text);
        string buckets = SimHarness.SeriesOf(text, "buckets");
        Assert.DoesNotContain("damon_memory_idle_time_seconds{", buckets);
        Assert.DoesNotContain("damon_region_count", buckets);
        Assert.DoesNotContain("scheme=\"0\"", buckets); // the bucket schemes are the agent's own
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Bucket_totals_equal_the_walk_of_the_same_snapshot()
    {
        // One kdamond with the bucket schemes plus an all-matching one: a single
        // update_schemes_tried_regions fills every scheme from the same aggregation, so the
        // buckets from total_bytes must equal the summary of the walked regions exactly.
        await using var sim = new SimHarness(("app", "steady"));
        var intervals = new Intervals(5_000, 100_000, 1_000_000);
        var buckets = new IdleBucketSchemes(AccessOptions.Default, intervals);
        var schemes = buckets.Schemes.Select(p => new SchemeSpec("stat", p, ApplyIntervalUs: 0)).ToList();
        schemes.Add(new SchemeSpec("stat", AccessPattern.Everything, ApplyIntervalUs: 0));
        var writer = new DamonSysfsWriter(sim.Kernel, sim.Roots);
        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, new KdamondSpec([new ContextSpec("vaddr", intervals, [new TargetSpec(sim.Kernel.FindProcess("app"))], schemes)]));
        var commands = new StateCommands(sim.Kernel, sim.Roots);
        await commands.SendAsync(0, StateCommand.On);
        var reader = new DamonSysfsReader(sim.Kernel, sim.Roots);
        var summarizer = new AccessSummarizer(AccessOptions.Default);

        int compared = 0;
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (compared < 5 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(300);
            await commands.SendAsync(0, StateCommand.UpdateSchemesTriedRegions);
            TriedRegions walk = reader.ReadTriedRegions(0, 0, buckets.Schemes.Count)!;
            ulong[] totals = [.. Enumerable.Range(0, buckets.Schemes.Count).Select(i => reader.ReadTriedBytes(0, 0, i)!.Value)];
            var fromBuckets = new AccessSummary(AccessOptions.Default);
            buckets.Summarize(totals, 1, fromBuckets);
            AccessSummary fromWalk = summarizer.Summarize(walk.Regions, intervals);
            if (fromWalk.IdleBytesAtMost[^2] == fromWalk.IdleBytesAtMost[0])
            {
                continue; // nothing idle long enough yet to tell the buckets apart
            }

            Assert.Equal(fromWalk.IdleBytesAtMost, fromBuckets.IdleBytesAtMost);
            Assert.Equal(fromWalk.WorkingSetBytes, fromBuckets.WorkingSetBytes);
            Assert.Equal(fromWalk.MonitoredBytes, fromBuckets.MonitoredBytes);
            compared++;
        }

        Assert.Equal(5, compared);
        await commands.SendAsync(0, StateCommand.Off);
    }
}
