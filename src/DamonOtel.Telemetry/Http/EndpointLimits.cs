namespace DamonOtel.Telemetry.Http;

/// <summary>
/// What one client may take from the metrics port (docs/operations.md, "Security: the port").
/// Defaults fit Prometheus scraping every few seconds from a handful of servers.
/// </summary>
public sealed record EndpointLimits
{
    /// <summary>Open connections on the metrics listener; more are closed at once.</summary>
    public int MaxConnections { get; init; } = 512;

    /// <summary>Open connections on the plain health listener (kubelet, systemd checks).</summary>
    public int MaxHealthConnections { get; init; } = 16;

    /// <summary>Requests per second on one connection; the excess is answered 429 and the connection closed.</summary>
    public int MaxRequestsPerSecondPerConnection { get; init; } = 10;

    /// <summary>bcrypt checks running at once; the excess is answered 429 at once.</summary>
    public int MaxConcurrentAuthChecks { get; init; } = 2;

    public int MaxRequestHeadersTotalSize { get; init; } = 16 * 1024;

    public int MaxRequestHeaderCount { get; init; } = 32;

    public int MaxRequestLineSize { get; init; } = 4 * 1024;

    /// <summary>GET only: a body is never needed.</summary>
    public long MaxRequestBodySize { get; init; } = 4 * 1024;

    /// <summary>Idle time of a kept-alive connection (Prometheus reconnects when needed).</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Slowloris: the whole request head must arrive within this time.</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>TLS handshakes that take longer are dropped.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Bodies and responses slower than this (bytes/s, after a 5 s grace) are dropped.</summary>
    public double MinDataRateBytesPerSecond { get; init; } = 240;
}
