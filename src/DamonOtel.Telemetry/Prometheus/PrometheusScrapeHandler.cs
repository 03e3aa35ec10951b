using System.IO.Compression;

namespace DamonOtel.Telemetry.Prometheus;

/// <summary>One rendered response: immutable bytes, safe to share between concurrent requests.</summary>
public sealed class ScrapeResponse
{
    internal ScrapeResponse(ExpositionFormat format, byte[] body, bool gzipped)
    {
        Format = format;
        Body = body;
        Gzipped = gzipped;
    }

    public ExpositionFormat Format { get; }

    public string ContentType => PrometheusSerializer.ContentType(Format);

    public byte[] Body { get; }

    public bool Gzipped { get; }
}

/// <summary>
/// Collection single-flight + a short response cache in front of the pull exporter. A collection
/// younger than <see cref="CacheDuration"/> is reused; otherwise one caller collects while the
/// others wait for it. Rendered bytes (plain and gzip) are cached per collection and format and
/// never overwritten, so no reader can see a buffer being rewritten.
/// </summary>
public sealed class PrometheusScrapeHandler : IDisposable
{
    private readonly PrometheusPullExporter exporter;
    private readonly TimeProvider time;
    private readonly SemaphoreSlim gate = new(1, 1);
    private volatile Rendered? rendered;

    internal PrometheusScrapeHandler(PrometheusPullExporter exporter, TimeSpan cacheDuration, TimeSpan collectTimeout, TimeProvider? time = null)
    {
        this.exporter = exporter;
        CacheDuration = cacheDuration;
        CollectTimeout = collectTimeout;
        this.time = time ?? TimeProvider.System;
    }

    public TimeSpan CacheDuration { get; }

    public TimeSpan CollectTimeout { get; }

    /// <summary>Returns the exposition in <paramref name="format"/>, collecting when the cache is older than <see cref="CacheDuration"/>.</summary>
    /// <exception cref="InvalidOperationException">The collection failed or timed out.</exception>
    public async Task<ScrapeResponse> ScrapeAsync(ExpositionFormat format, bool gzip, CancellationToken cancellationToken = default)
    {
        var rendered = this.rendered;
        if (rendered is null || !Fresh(rendered))
        {
            // Under heavy polling (previous collection younger than 2 x the cache duration), answer
            // with it while another request collects instead of queueing: only the collector waits.
            var acquired = gate.Wait(0, CancellationToken.None);
            if (!acquired && rendered is not null && time.GetElapsedTime(rendered.Timestamp) < 2 * CacheDuration)
            {
                return rendered.Get(format, gzip);
            }

            if (!acquired)
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            try
            {
                // Whoever waited behind a collection reuses its result.
                rendered = this.rendered;
                if (rendered is null || !Fresh(rendered))
                {
                    var collect = this.exporter.Collect ?? throw new InvalidOperationException("the Prometheus exporter is not registered with a MeterProvider");
                    var before = this.exporter.Latest;
                    if (!collect((int)CollectTimeout.TotalMilliseconds) || this.exporter.Latest is null || ReferenceEquals(before, this.exporter.Latest))
                    {
                        throw new InvalidOperationException("metrics collection failed or timed out");
                    }

                    rendered = new Rendered(this.exporter.Latest, time.GetTimestamp());
                    this.rendered = rendered;
                }
            }
            finally
            {
                gate.Release();
            }
        }

        return rendered.Get(format, gzip);
    }

    public void Dispose() => gate.Dispose();

    private bool Fresh(Rendered r) => CacheDuration > TimeSpan.Zero && time.GetElapsedTime(r.Timestamp) < CacheDuration;

    private sealed class Rendered(ScrapeData data, long timestamp)
    {
        private readonly Lazy<ScrapeResponse>[] responses =
        [
            new(() => new ScrapeResponse(ExpositionFormat.Text004, PrometheusSerializer.Serialize(data, ExpositionFormat.Text004), false)),
            new(() => new ScrapeResponse(ExpositionFormat.OpenMetrics100, PrometheusSerializer.Serialize(data, ExpositionFormat.OpenMetrics100), false)),
        ];

        private readonly Lazy<ScrapeResponse>?[] gzipped = new Lazy<ScrapeResponse>?[2];

        public long Timestamp { get; } = timestamp;

        public ScrapeResponse Get(ExpositionFormat format, bool gzip)
        {
            var i = (int)format;
            var plain = responses[i].Value;
            if (!gzip)
            {
                return plain;
            }

            var lazy = Volatile.Read(ref gzipped[i]);
            if (lazy is null)
            {
                Interlocked.CompareExchange(ref gzipped[i], new Lazy<ScrapeResponse>(() => new ScrapeResponse(format, Gzip(plain.Body), true)), null);
                lazy = Volatile.Read(ref gzipped[i])!;
            }

            return lazy.Value;
        }

        private static byte[] Gzip(byte[] body)
        {
            using var ms = new MemoryStream(body.Length / 4 + 64);
            using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            {
                gz.Write(body);
            }

            return ms.ToArray();
        }
    }
}
