using System.Text;
using System.Text.RegularExpressions;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Damon.IO;
using DamonOtel.Simulator;
using DamonOtel.Telemetry;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Prometheus;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace DamonOtel.EndToEnd.Tests;

/// <summary>
/// Golden: the whole agent (config, kdamonds, collection, telemetry) on a
/// seeded Simulator whose time moves only when the test says so, scraped once; the text 0.0.4
/// body must equal Golden/simulator-metrics.txt (UPDATE_GOLDEN=1 rewrites it) and promtool must
/// accept it.
/// </summary>
public sealed partial class GoldenMetricsTests(ITestOutputHelper output)
{
    private const string GoldenRelativePath = "tests/DamonOtel.EndToEnd.Tests/Golden/simulator-metrics.txt";

    // Simulated seconds, one collection after each.
    private const int Steps = 12;

    // Both kdamonds take their regions from the tracepoint: then no collection moves simulated time
    // (a tried_regions walk blocks until the kdamond passed an apply interval, i.e. advances the
    // Simulator while the other sources of the same round read it, and which of them reads first
    // is up to the thread pool). The tried_regions source is covered by the process tests.
    // The collection interval is long so that the loop's own timers never collect on their own
    // except once at start; the test drives every later collection.
    // The paddr kdamond keeps free pages in (page_sampling.free_pages: include): a page-sampling
    // pass runs as its own source, and which source of a round runs first is up to the thread
    // pool; PageSamplingTests cover it on a deterministic Simulator instead.
    private const string Config = """
        collection: {interval: 1h}
        kdamonds:
          - name: app
            operations: vaddr
            region_source: tracepoint
            intervals: {sample: 5ms, aggregation: 100ms, update: 1s}
            targets: [{name: app, process_name: app}]
          - name: system
            operations: paddr
            region_source: tracepoint
            intervals: {sample: 5ms, aggregation: 100ms, update: 1s}
            targets: [{name: memory, memory: largest_block}]
            page_sampling: {free_pages: include}
            schemes:
              - name: cold-pageout
                action: pageout
                access_pattern: {size: {min: 4K, max: max}, access_rate: {min: 0%, max: 0%}, age: {min: 5s, max: max}}
                quotas: {size: 64M, reset_interval: 1s}
        """;

    [Fact]
    public async Task Simulator_scenario_metrics_match_the_golden_file_and_promtool_accepts_them()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        (string raw, ScenarioFacts facts) = await RunScenarioAsync();
        output.WriteLine($"scenario took {sw.Elapsed.TotalSeconds:F1} s of wall time");

        // The tracepoint source saw every aggregation: each kdamond aggregates every 100 ms, so
        // 12 simulated seconds are 12 / 0.1 = 120 aggregations, each recorded once in the
        // working-set histogram (the first at 100 ms, the last at exactly 12 s).
        Assert.Equal(120, facts.AppAggregations);
        Assert.Equal(120, facts.SystemAggregations);

        string scrubbed = Scrub(raw);
        string goldenPath = RepoRoot.Of(GoldenRelativePath);
        GoldenFile.AssertMatches(goldenPath, scrubbed);
        string golden = await File.ReadAllTextAsync(goldenPath);

        // promtool lints the golden file (scrubbed values are still valid samples) and the raw body.
        foreach ((string what, string text) in new[] { ("golden file", golden), ("raw scrape", raw) })
        {
            (int code, string stdout, string stderr) = await ProcessRunner.RunAsync("promtool", ["check", "metrics"], text);
            Assert.True(code == 0 && stdout.Length == 0 && stderr.Length == 0, $"promtool check metrics on the {what}: exit {code}\n{stdout}{stderr}");
        }
    }

    /// <summary>
    /// Replaces what cannot be deterministic, each for a stated reason:
    /// damon_otel_collection_duration_seconds (bucket, sum and count): measured with the wall-clock
    /// Stopwatch, and the tracepoint source also polls on its own 250 ms wall-clock timer, so how
    /// many collections happened depends on the machine's speed. Values become 0 (still a valid
    /// histogram for promtool). Everything else is deterministic: the Simulator is seeded, its time
    /// moves only in the test, the store's clock is a manual one moved in step (snapshot ages),
    /// and the resource reads host and OS from a fixture procfs.
    /// </summary>
    internal static string Scrub(string text) => CollectionDuration().Replace(text, "$1 0");

    [GeneratedRegex(@"^(damon_otel_collection_duration_seconds_(?:bucket|sum|count)\{[^}]*\}) \S+$", RegexOptions.Multiline)]
    private static partial Regex CollectionDuration();

    private sealed record ScenarioFacts(long AppAggregations, long SystemAggregations);

    private static async Task<(string Text, ScenarioFacts Facts)> RunScenarioAsync()
    {
        var sim = new SimulatedKernel(new SimulatorOptions
        {
            Roots = KernelRoots.Under("/golden"),
            Seed = 4242,
            Processes = [("app", "steady")],
        });
        string work = Directory.CreateTempSubdirectory("damon-otel-golden-").FullName;
        try
        {
            // Resource attributes come from this procfs, not the machine's.
            string procfs = Path.Combine(work, "proc");
            Directory.CreateDirectory(Path.Combine(procfs, "sys", "kernel"));
            await File.WriteAllTextAsync(Path.Combine(procfs, "sys", "kernel", "osrelease"), "6.18.0-golden\n");

            var clock = new FakeTimeProvider();
            var store = new ObservationStore(clock);

            // Built before anything runs: the working-set histogram records from the first aggregation.
            using TelemetryPipeline pipeline = TelemetryPipeline.Build(store, new TelemetryPipelineOptions
            {
                UseEnvironment = false,
                HostName = "golden",
                ProcfsRoot = procfs,
                ProcessUsage = () => new(2.5, 0.75, 100_663_296), // fixed: the golden file is exact
            });
            AgentConfig config = ConfigLoader.Parse(Config, "golden.yaml") with { Roots = sim.Options.Roots, StateDir = Path.Combine(work, "state") };
            await using var env = KernelEnvironment.Wrap(sim, sim.Options.Roots);
            await using var runner = new AgentRunner(config, env, store, NullLoggerFactory.Instance);
            await runner.StartAsync(CancellationToken.None);

            // Let every source finish its first (timer-driven) collection before time moves, so
            // the tracepoint reader knows both kdamonds' pids before the first event exists.
            DateTime deadline = DateTime.UtcNow.AddSeconds(60);
            while (!runner.SourceNames.All(s => store.Current.Sources.TryGetValue(s, out SourceState? st) && st.LastSuccessTicks is not null))
            {
                Assert.True(DateTime.UtcNow < deadline, "sources never collected: " + string.Join(", ", runner.SourceNames));
                await Task.Delay(20);
            }

            Assert.Contains("tracepoint", runner.SourceNames);
            for (int i = 0; i < Steps; i++)
            {
                sim.Advance(TimeSpan.FromSeconds(1));
                clock.Advance(TimeSpan.FromSeconds(1));
                await runner.Loop.CollectAllOnceAsync(CancellationToken.None);
            }

            long Sequence(string kdamond) =>
                store.Current.Kdamonds.Single(k => k.Kdamond == kdamond).Targets.Single().AccessSequence;
            var facts = new ScenarioFacts(Sequence("app"), Sequence("system"));

            ScrapeResponse response = await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
            string text = Encoding.UTF8.GetString(response.Body);
            await runner.StopAsync(CancellationToken.None);
            return (text, facts);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
