using System.Globalization;
using DamonOtel.Telemetry;
using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Instruments;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Prometheus;
using Microsoft.Extensions.Hosting;

namespace DamonOtel.MetricsLoadHost;

/// <summary>
/// /metrics over synthetic observations (8 kdamonds x 4 targets x 2 schemes by default).
///   --port N           listen on 127.0.0.1:N (0 = any free port; the URL is printed and written to --ready-file)
///   --cache-ms N       scrape cache duration (0 = collect and render on every scrape)
///   --alloc-scrapes N  measure bytes allocated per scrape (cache off) over N scrapes, print, exit
///   --profile-scrapes N  split one scrape's allocations/CPU into callbacks, SDK + copy-out, render; print, exit
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var opts = Options.Parse(args);
        var store = new ObservationStore();
        SyntheticObservations.PublishTo(store, opts.Kdamonds, opts.Targets, opts.Schemes);

        if (opts.AllocScrapes > 0)
        {
            return await MeasureAllocationsAsync(store, opts);
        }

        if (opts.ProfileScrapes > 0)
        {
            return await ProfileAsync(store, opts);
        }

        using var pipeline = TelemetryPipeline.Build(store, PipelineOptions(TimeSpan.FromMilliseconds(opts.CacheMs)));

        // The agent's own endpoint (Kestrel, content negotiation, gzip), loopback only.
        await using var endpoint = MetricsEndpoint.Create(
            new MetricsEndpointOptions { ListenAddress = "127.0.0.1:" + opts.Port.ToString(CultureInfo.InvariantCulture) },
            pipeline.Scrape);
        await endpoint.StartAsync();
        var url = $"http://127.0.0.1:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";
        Console.WriteLine($"listening {url}/metrics (cache {opts.CacheMs} ms)");
        if (opts.ReadyFile is { } ready)
        {
            await File.WriteAllTextAsync(ready, url + "/metrics\n");
        }

        var app = endpoint.App;
        await app.WaitForShutdownAsync();
        return 0;
    }

    private static async Task<int> MeasureAllocationsAsync(ObservationStore store, Options opts)
    {
        using var pipeline = TelemetryPipeline.Build(store, PipelineOptions(TimeSpan.Zero));
        ScrapeResponse last = null!;
        for (var i = 0; i < 50; i++)
        {
            last = await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        // Process-wide (all threads), precise: per-thread counters would miss SDK work done elsewhere.
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < opts.AllocScrapes; i++)
        {
            last = await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        }

        var after = GC.GetTotalAllocatedBytes(precise: true);
        var text = System.Text.Encoding.UTF8.GetString(last.Body);
        var samples = text.Split('\n').Count(l => l.Length > 0 && l[0] != '#');
        var perScrape = (after - before) / (double)opts.AllocScrapes;

        // Split: with a long cache a second format re-renders the same collection without collecting.
        using var cached = TelemetryPipeline.Build(store, PipelineOptions(TimeSpan.FromHours(1)));
        await cached.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        var renderBefore = GC.GetTotalAllocatedBytes(precise: true);
        await cached.Scrape.ScrapeAsync(ExpositionFormat.OpenMetrics100, gzip: false);
        var renderOnly = GC.GetTotalAllocatedBytes(precise: true) - renderBefore;

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"alloc: {perScrape:F0} bytes/scrape over {opts.AllocScrapes} scrapes (cache off; collect + render text 0.0.4); rendering alone (OpenMetrics, one sample) {renderOnly} bytes; body {last.Body.Length} bytes, {samples} samples"));
        return 0;
    }

    /// <summary>
    /// Splits one uncached scrape into its parts, on the calling thread (a pull collection runs on
    /// the scraping thread): the observable callbacks alone (through a bare MeterListener), the
    /// whole scrape (callbacks + SDK aggregation + copy-out + text 0.0.4 render), and a second
    /// format rendered from the same collection. Also CPU time per scrape (load-independent).
    /// </summary>
    private static async Task<int> ProfileAsync(ObservationStore store, Options opts)
    {
        var n = opts.ProfileScrapes;
        using var instruments = new DamonInstruments(store, null, "bench.profile");
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == "bench.profile")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        long measurements = 0;
        listener.SetMeasurementEventCallback<long>((_, _, _, _) => measurements++);
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => measurements++);
        listener.Start();
        for (var i = 0; i < 50; i++)
        {
            listener.RecordObservableInstruments();
        }

        measurements = 0;
        var a0 = GC.GetAllocatedBytesForCurrentThread();
        var c0 = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < n; i++)
        {
            listener.RecordObservableInstruments();
        }

        var callbacksBytes = (GC.GetAllocatedBytesForCurrentThread() - a0) / (double)n;
        var callbacksCpu = (Environment.CpuUsage.TotalTime - c0).TotalMicroseconds / n;
        var perCall = measurements / n;

        using var pipeline = TelemetryPipeline.Build(store, PipelineOptions(TimeSpan.Zero));

        // Long enough a warm-up that tiered JIT (background compilation counts as process CPU) is done.
        var warmUntil = Environment.TickCount64 + 3000;
        while (Environment.TickCount64 < warmUntil)
        {
            _ = await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        }

        a0 = GC.GetAllocatedBytesForCurrentThread();
        var g0 = GC.GetTotalAllocatedBytes(precise: true);
        c0 = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < n; i++)
        {
            _ = await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        }

        var scrapeCpu = (Environment.CpuUsage.TotalTime - c0).TotalMicroseconds / n;
        var scrapeBytes = (GC.GetAllocatedBytesForCurrentThread() - a0) / (double)n;
        var scrapeBytesAll = (GC.GetTotalAllocatedBytes(precise: true) - g0) / (double)n;

        // Collection alone (callbacks + SDK + copy-out, no render): the exporter's Collect hook,
        // reached by reflection since the exporter is internal (bench only).
        var exporter = typeof(PrometheusScrapeHandler).GetField("_exporter", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(pipeline.Scrape)!;
        var collect = (Func<int, bool>)exporter.GetType().GetProperty("Collect")!.GetValue(exporter)!;
        a0 = GC.GetAllocatedBytesForCurrentThread();
        c0 = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < n; i++)
        {
            _ = collect(10_000);
        }

        var collectCpu = (Environment.CpuUsage.TotalTime - c0).TotalMicroseconds / n;
        var collectBytes = (GC.GetAllocatedBytesForCurrentThread() - a0) / (double)n;

        // Rendering alone: the internal serializer over the last collection (reflection, bench only).
        var latest = exporter.GetType().GetProperty("Latest")!.GetValue(exporter)!;
        var serialize = typeof(PrometheusScrapeHandler).Assembly.GetType("DamonOtel.Telemetry.Prometheus.PrometheusSerializer")!.GetMethod("Serialize")!;
        object[] serializeArgs = [latest, ExpositionFormat.Text004];
        a0 = GC.GetAllocatedBytesForCurrentThread();
        c0 = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < n; i++)
        {
            _ = serialize.Invoke(null, serializeArgs);
        }

        var renderLoopBytes = (GC.GetAllocatedBytesForCurrentThread() - a0) / (double)n;
        var renderCpu = (Environment.CpuUsage.TotalTime - c0).TotalMicroseconds / n;

        // The whole scrape once more, now that every piece has run n times (order effects).
        c0 = Environment.CpuUsage.TotalTime;
        var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++)
        {
            _ = await pipeline.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        }

        var scrapeCpu2 = (Environment.CpuUsage.TotalTime - c0).TotalMicroseconds / n;
        var scrapeWall2 = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds / n;

        using var cached = TelemetryPipeline.Build(store, PipelineOptions(TimeSpan.FromHours(1)));
        var body = await cached.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        a0 = GC.GetAllocatedBytesForCurrentThread();
        var om = await cached.Scrape.ScrapeAsync(ExpositionFormat.OpenMetrics100, gzip: false);
        var renderBytes = GC.GetAllocatedBytesForCurrentThread() - a0;
        a0 = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < n; i++)
        {
            _ = await cached.Scrape.ScrapeAsync(ExpositionFormat.Text004, gzip: false);
        }

        var cachedBytes = (GC.GetAllocatedBytesForCurrentThread() - a0) / (double)n;

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            profile over {n} scrapes, {perCall} measurements per collection, body {body.Body.Length} bytes (OpenMetrics {om.Body.Length}):
              observable callbacks alone (bare MeterListener): {callbacksBytes:F0} B, {callbacksCpu:F0} us CPU
              uncached scrape, this thread (callbacks + SDK + copy-out + render): {scrapeBytes:F0} B; all threads {scrapeBytesAll:F0} B; {scrapeCpu:F0} us CPU (process)
              collection alone (exporter Collect: callbacks + SDK + copy-out): {collectBytes:F0} B, {collectCpu:F0} us CPU
              rendering alone (text 0.0.4): {renderLoopBytes:F0} B, {renderCpu:F0} us CPU
              uncached scrape again: {scrapeCpu2:F0} us CPU, {scrapeWall2:F0} us wall
              rendering one more format from the same collection: {renderBytes} B
              cached scrape (handler only): {cachedBytes:F0} B
            """));
        return 0;
    }

    private static TelemetryPipelineOptions PipelineOptions(TimeSpan cache) => new()
    {
        UseEnvironment = false,
        HostName = "bench",
        ScrapeCacheDuration = cache,
    };

    private sealed record Options(int Port, int CacheMs, int AllocScrapes, string? ReadyFile, int Kdamonds, int Targets, int Schemes, int ProfileScrapes = 0)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(0, 1000, 0, null, 8, 4, 2);
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int NextInt()
                {
                    var name = args[i];
                    var v = Next();
                    return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                        ? n
                        : throw new ArgumentException($"{name}: '{v}' is not a non-negative integer");
                }

                o = args[i] switch
                {
                    "--port" => o with { Port = NextInt() },
                    "--cache-ms" => o with { CacheMs = NextInt() },
                    "--alloc-scrapes" => o with { AllocScrapes = NextInt() },
                    "--profile-scrapes" => o with { ProfileScrapes = NextInt() },
                    "--ready-file" => o with { ReadyFile = Next() },
                    "--kdamonds" => o with { Kdamonds = NextInt() },
                    "--targets" => o with { Targets = NextInt() },
                    "--schemes" => o with { Schemes = NextInt() },
                    _ => throw new ArgumentException($"unknown option '{args[i]}'"),
                };
            }

            return o;
        }
    }
}
