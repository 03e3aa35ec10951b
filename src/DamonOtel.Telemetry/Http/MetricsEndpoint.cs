using System.Globalization;
using System.Net;
using DamonOtel.Telemetry.Prometheus;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Telemetry.Http;

/// <summary>Settings of <see cref="MetricsEndpoint"/>.</summary>
public sealed class MetricsEndpointOptions
{
    /// <summary>host:port; ":9464" = all interfaces. "127.0.0.1:0" picks a free port (see <see cref="MetricsEndpoint.Port"/>).</summary>
    public string ListenAddress { get; init; } = ":9464";

    public string MetricsPath { get; init; } = "/metrics";

    /// <summary>TLS and basic auth from a web_config file, as the agent's configuration read it; null = neither.</summary>
    public WebConfig? WebConfig { get; init; }

    /// <summary>A second, plain-HTTP listener serving only /healthz and /readyz (probes with TLS/auth on); null = none.</summary>
    public string? HealthListenAddress { get; init; }

    public EndpointLimits Limits { get; init; } = new();
}

/// <summary>
/// The HTTP side: Kestrel listeners with limits, TLS and basic auth from the live
/// <see cref="WebConfigState"/>, and GET /metrics from a <see cref="PrometheusScrapeHandler"/>.
/// The agent puts it in its own Generic Host (<see cref="ConfigureKestrel"/>, <see cref="UseEndpoint"/>);
/// <see cref="Create"/> makes a stand-alone one (tests, benchmarks).
/// </summary>
public sealed class MetricsEndpoint : IAsyncDisposable
{
    /// <summary>The paths the health listener serves.</summary>
    public static readonly IReadOnlySet<string> HealthPaths = new HashSet<string>(StringComparer.Ordinal) { "/healthz", "/readyz" };

    private const string ListenerKey = "damon-otel.listener";
    private const string HealthListener = "health";
    private const string RateKey = "damon-otel.rate";

    private MetricsEndpoint(WebApplication app, Listeners listeners)
    {
        App = app;
        BoundListeners = listeners;
    }

    public WebApplication App { get; }

    /// <summary>Bound addresses after <see cref="StartAsync"/> (e.g. "http://127.0.0.1:41234").</summary>
    public IReadOnlyList<string> Addresses =>
        [.. App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []];

    /// <summary>The bound metrics port after <see cref="StartAsync"/>.</summary>
    public int Port => BoundListeners.MetricsPort;

    /// <summary>The bound health port after <see cref="StartAsync"/>, or 0 without a health listener.</summary>
    public int HealthPort => BoundListeners.HealthPort;

    private Listeners BoundListeners { get; }

    public static MetricsEndpoint Create(
        MetricsEndpointOptions options,
        PrometheusScrapeHandler scrape,
        Action<WebApplication>? mapEndpoints = null,
        Action<WebApplicationBuilder>? configureBuilder = null,
        WebConfigState? webConfig = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(scrape);
        var web = webConfig ?? new WebConfigState(options.WebConfig, options.Limits.MaxConcurrentAuthChecks);
        // Not CreateSlimBuilder: its appsettings.json reload watches the working directory
        // recursively (cwd / in a container or under systemd: ~54,000 inotify watches over /proc
        // and /sys, seconds of start-up). Only Kestrel and routing are needed.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        if (web.TlsEnabled)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
        }

        builder.Services.AddRoutingCore();
        builder.Logging.ClearProviders();
        Listeners listeners = null!;
        builder.WebHost.ConfigureKestrel(k => listeners = ConfigureKestrel(k, options, web));
        configureBuilder?.Invoke(builder);
        var app = builder.Build();
        UseEndpoint(app, options, web, scrape);
        mapEndpoints?.Invoke(app);
        return new MetricsEndpoint(app, new LazyListeners(() => listeners));
    }

    /// <summary>Listeners (metrics, optional health) and limits on <paramref name="kestrel"/>.</summary>
    public static Listeners ConfigureKestrel(KestrelServerOptions kestrel, MetricsEndpointOptions options, WebConfigState web)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(web);
        var limits = options.Limits;
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
        kestrel.Limits.MaxRequestHeadersTotalSize = limits.MaxRequestHeadersTotalSize;
        kestrel.Limits.MaxRequestHeaderCount = limits.MaxRequestHeaderCount;
        kestrel.Limits.MaxRequestLineSize = limits.MaxRequestLineSize;
        kestrel.Limits.MaxRequestBodySize = limits.MaxRequestBodySize;
        kestrel.Limits.KeepAliveTimeout = limits.KeepAliveTimeout;
        kestrel.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout;
        kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(limits.MinDataRateBytesPerSecond, TimeSpan.FromSeconds(5));
        kestrel.Limits.MinResponseDataRate = new MinDataRate(limits.MinDataRateBytesPerSecond, TimeSpan.FromSeconds(5));
        kestrel.Limits.Http2.MaxStreamsPerConnection = limits.MaxRequestsPerSecondPerConnection;
        kestrel.Limits.Http2.MaxRequestHeaderFieldSize = limits.MaxRequestHeadersTotalSize;

        var result = new Listeners();
        result.Metrics = Listen(kestrel, options.ListenAddress, lo =>
        {
            lo.Use(LimitConnections(limits.MaxConnections));
            if (web.TlsEnabled)
            {
                lo.UseHttps(new TlsHandshakeCallbackOptions
                {
                    OnConnection = _ => ValueTask.FromResult(web.ServerAuthentication()),
                    HandshakeTimeout = limits.HandshakeTimeout,
                });
            }
        });
        if (options.HealthListenAddress is { } health)
        {
            result.Health = Listen(kestrel, health, lo =>
            {
                lo.Use(LimitConnections(limits.MaxHealthConnections));
                lo.Use(next => connection =>
                {
                    connection.Items[ListenerKey] = HealthListener;
                    return next(connection);
                });
            });
        }

        return result;
    }

    /// <summary>Per-connection request rate, health-listener isolation, basic auth, then GET /metrics.</summary>
    public static void UseEndpoint(WebApplication app, MetricsEndpointOptions options, WebConfigState web, PrometheusScrapeHandler scrape)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(web);
        ArgumentNullException.ThrowIfNull(scrape);
        int perSecond = options.Limits.MaxRequestsPerSecondPerConnection;
        app.Use(async (ctx, next) =>
        {
            var items = ctx.Features.Get<IConnectionItemsFeature>()?.Items;
            if (items is not null && !AllowRequest(items, perSecond))
            {
                ctx.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                ctx.Response.Headers.Connection = "close";
                await ctx.Response.WriteAsync("too many requests on this connection\n").ConfigureAwait(false);
                return;
            }

            if (items is not null && items.TryGetValue(ListenerKey, out var listener) && HealthListener.Equals(listener))
            {
                // The plain listener: probes only, never the metrics (they stay behind TLS/auth).
                if (!HealthPaths.Contains(ctx.Request.Path.Value ?? string.Empty))
                {
                    ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                    return;
                }

                await next(ctx).ConfigureAwait(false);
                return;
            }

            if (web.Auth is { } auth)
            {
                switch (auth.Check(ctx.Request.Headers.Authorization))
                {
                    case AuthOutcome.Busy:
                        ctx.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                        ctx.Response.Headers.RetryAfter = "1";
                        await ctx.Response.WriteAsync("too many authentication attempts at once\n").ConfigureAwait(false);
                        return;
                    case AuthOutcome.Denied:
                        ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                        ctx.Response.Headers.WWWAuthenticate = "Basic";
                        await ctx.Response.WriteAsync("Unauthorized\n").ConfigureAwait(false);
                        return;
                }
            }

            await next(ctx).ConfigureAwait(false);
        });
        app.MapGet(options.MetricsPath, ctx => ServeMetrics(ctx, scrape));
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => App.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => App.StopAsync(cancellationToken);

    public ValueTask DisposeAsync() => App.DisposeAsync();

    /// <summary>":9464" → (any, 9464); "127.0.0.1:9464"; "[::1]:9464"; "localhost:9464" → loopback.</summary>
    public static (IPAddress? Address, int Port) ParseListenAddress(string listen)
    {
        ArgumentNullException.ThrowIfNull(listen);
        var colon = listen.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(listen.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new FormatException($"listen address '{listen}': expected host:port or :port");
        }

        var host = listen[..colon].Trim('[', ']');
        if (host.Length == 0 || host is "0.0.0.0" or "::" or "*")
        {
            return (host == "0.0.0.0" ? IPAddress.Any : null, port);
        }

        if (host == "localhost")
        {
            return (IPAddress.Loopback, port);
        }

        return IPAddress.TryParse(host, out var ip)
            ? (ip, port)
            : throw new FormatException($"listen address '{listen}': '{host}' is not an IP address (or localhost)");
    }

    private static ListenOptions Listen(KestrelServerOptions kestrel, string address, Action<ListenOptions> configure)
    {
        var (ip, port) = ParseListenAddress(address);
        ListenOptions? bound = null;
        void Capture(ListenOptions lo)
        {
            bound = lo;
            configure(lo);
        }

        if (ip is null)
        {
            kestrel.ListenAnyIP(port, Capture);
        }
        else
        {
            kestrel.Listen(ip, port, Capture);
        }

        return bound!;
    }

    private static Func<ConnectionDelegate, ConnectionDelegate> LimitConnections(int max)
    {
        var open = 0;
        return next => async connection =>
        {
            try
            {
                if (Interlocked.Increment(ref open) > max)
                {
                    return; // closed at once: the limit of this listener is reached
                }

                await next(connection).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref open);
            }
        };
    }

    private static bool AllowRequest(IDictionary<object, object?> items, int perSecond)
    {
        var now = Environment.TickCount64;
        if (items.TryGetValue(RateKey, out var o) && o is RequestWindow w)
        {
            if (now - w.StartMs >= 1000)
            {
                w.StartMs = now;
                w.Count = 0;
            }

            return ++w.Count <= perSecond;
        }

        items[RateKey] = new RequestWindow { StartMs = now, Count = 1 };
        return true;
    }

    private static async Task ServeMetrics(HttpContext ctx, PrometheusScrapeHandler scrape)
    {
        var format = ContentNegotiation.Negotiate(ctx.Request.Headers.Accept.ToString());
        var gzip = ContentNegotiation.AcceptsGzip(ctx.Request.Headers.AcceptEncoding.ToString());
        ScrapeResponse response;
        try
        {
            response = await scrape.ScrapeAsync(format, gzip, ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            ctx.Response.StatusCode = StatusCodes.Status500InternalServerError;
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            await ctx.Response.WriteAsync("collection failed: " + e.Message + "\n").ConfigureAwait(false);
            return;
        }

        ctx.Response.StatusCode = StatusCodes.Status200OK;
        ctx.Response.ContentType = response.ContentType;
        ctx.Response.Headers.Vary = "Accept, Accept-Encoding";
        if (response.Gzipped)
        {
            ctx.Response.Headers.ContentEncoding = "gzip";
        }

        ctx.Response.ContentLength = response.Body.Length;
        await ctx.Response.Body.WriteAsync(response.Body, ctx.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The listeners as configured; their ports are the bound ones once the server started.</summary>
    public class Listeners
    {
        public ListenOptions? Metrics { get; set; }

        public ListenOptions? Health { get; set; }

        public virtual int MetricsPort => Metrics?.IPEndPoint?.Port ?? 0;

        public virtual int HealthPort => Health?.IPEndPoint?.Port ?? 0;
    }

    private sealed class LazyListeners(Func<Listeners> get) : Listeners
    {
        public override int MetricsPort => get().MetricsPort;

        public override int HealthPort => get().HealthPort;
    }

    private sealed class RequestWindow
    {
        public long StartMs { get; set; }

        public int Count { get; set; }
    }
}
