using System.Globalization;
using DamonOtel.Telemetry;
using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Prometheus;
using Microsoft.Extensions.Hosting;

namespace DamonOtel.MetricsLoadHost;

/// <summary>
/// /metrics over synthetic observations (8 kdamonds x 4 targets x 2 schemes by default).
///   --port N           listen on 127.0.0.1:N (0 = any free port; the URL is printed and written to --ready-file)
///   --cache-ms N       scrape cache duration (0 = collect and render on every scrape)
///   --alloc-scrapes N  measure bytes allocated per scrape (cache off) over N scrapes, print, exit
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

    private static TelemetryPipelineOptions PipelineOptions(TimeSpan cache) => new()
    {
        UseEnvironment = false,
        HostName = "bench",
        ScrapeCacheDuration = cache,
    };

    private sealed record Options(int Port, int CacheMs, int AllocScrapes, string? ReadyFile, int Kdamonds, int Targets, int Schemes)
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
