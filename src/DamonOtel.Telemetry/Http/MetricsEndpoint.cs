using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using DamonOtel.Telemetry.Prometheus;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
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
}

/// <summary>
/// Kestrel host serving GET /metrics from a <see cref="PrometheusScrapeHandler"/>, with optional TLS
/// and basic auth from a <see cref="WebConfig"/>. The agent adds /healthz and /readyz through
/// <c>mapEndpoints</c> (and may tune the builder, e.g. logging, through <c>configureBuilder</c>).
/// </summary>
public sealed class MetricsEndpoint : IAsyncDisposable
{
    private MetricsEndpoint(WebApplication app)
    {
        App = app;
    }

    public WebApplication App { get; }

    /// <summary>Bound addresses after <see cref="StartAsync"/> (e.g. "http://127.0.0.1:41234").</summary>
    public IReadOnlyList<string> Addresses =>
        [.. App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []];

    /// <summary>The bound port after <see cref="StartAsync"/>.</summary>
    public int Port => new Uri(Addresses[0].Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "localhost", StringComparison.Ordinal)).Port;

    public static MetricsEndpoint Create(
        MetricsEndpointOptions options,
        PrometheusScrapeHandler scrape,
        Action<WebApplication>? mapEndpoints = null,
        Action<WebApplicationBuilder>? configureBuilder = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(scrape);
        var web = options.WebConfig ?? WebConfig.None;
        var (address, port) = ParseListenAddress(options.ListenAddress);
        var certificate = web.Tls is { } tls ? WebConfig.LoadCertificate(tls) : null;
        var clientCas = web.Tls?.ClientCaFile is { } caFile ? LoadCas(caFile) : null;

        // Not CreateSlimBuilder: its appsettings.json reload watches the working directory
        // recursively (cwd / in a container or under systemd: ~54,000 inotify watches over /proc
        // and /sys, seconds of start-up). Only Kestrel and routing are needed.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        if (certificate is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
        }

        builder.Services.AddRoutingCore();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            void Configure(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions lo)
            {
                if (certificate is not null)
                {
                    lo.UseHttps(Https(web.Tls!, certificate, clientCas));
                }
            }

            if (address is null)
            {
                k.ListenAnyIP(port, Configure);
            }
            else
            {
                k.Listen(address, port, Configure);
            }
        });
        configureBuilder?.Invoke(builder);
        var app = builder.Build();

        if (web.BasicAuthUsers.Count > 0)
        {
            var auth = new BasicAuth(web.BasicAuthUsers);
            app.Use(async (ctx, next) =>
            {
                if (!auth.Check(ctx.Request.Headers.Authorization))
                {
                    ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    ctx.Response.Headers.WWWAuthenticate = "Basic";
                    await ctx.Response.WriteAsync("Unauthorized\n").ConfigureAwait(false);
                    return;
                }

                await next(ctx).ConfigureAwait(false);
            });
        }

        app.MapGet(options.MetricsPath, ctx => ServeMetrics(ctx, scrape));
        mapEndpoints?.Invoke(app);
        return new MetricsEndpoint(app);
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

    private static HttpsConnectionAdapterOptions Https(TlsServerConfig tls, X509Certificate2 certificate, X509Certificate2Collection? cas)
    {
        var o = new HttpsConnectionAdapterOptions { ServerCertificate = certificate };
        if (tls.MinVersion is not null || tls.MaxVersion is not null)
        {
            // Only TLS 1.2 and 1.3 exist for us: min 1.3 or max 1.2 pins one, anything else allows both.
            o.SslProtocols = tls.MinVersion == SslProtocols.Tls13 ? SslProtocols.Tls13
                : tls.MaxVersion == SslProtocols.Tls12 ? SslProtocols.Tls12
                : SslProtocols.Tls12 | SslProtocols.Tls13;
        }

        o.ClientCertificateMode = tls.ClientAuthType switch
        {
            ClientAuthType.NoClientCert => ClientCertificateMode.NoCertificate,
            ClientAuthType.RequestClientCert or ClientAuthType.VerifyClientCertIfGiven => ClientCertificateMode.AllowCertificate,
            _ => ClientCertificateMode.RequireCertificate,
        };
        var verify = tls.ClientAuthType is ClientAuthType.VerifyClientCertIfGiven or ClientAuthType.RequireAndVerifyClientCert;
        o.ClientCertificateValidation = (cert, _, _) =>
        {
            if (!verify)
            {
                return true;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.CustomTrustStore.AddRange(cas!);
            return chain.Build(cert);
        };
        return o;
    }

    private static X509Certificate2Collection LoadCas(string file) => WebConfig.LoadClientCertificateAuthorities(file);

    /// <summary>Basic auth against bcrypt hashes; successful checks are remembered (bcrypt is slow on purpose).</summary>
    private sealed class BasicAuth(IReadOnlyDictionary<string, string> users)
    {
        // Bounds the memory a flood of distinct valid logins could take.
        private const int MaxRememberedLogins = 1024;

        private readonly ConcurrentDictionary<string, bool> verified = new(StringComparer.Ordinal);

        public bool Check(string? header)
        {
            if (header is null || !header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
            }
            catch (FormatException)
            {
                return false;
            }

            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || !users.TryGetValue(decoded[..colon], out var hash))
            {
                return false;
            }

            var password = decoded[(colon + 1)..];
            // Cache key: hash + SHA-256 of the password, never the password itself.
            var key = hash + ":" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(password)));
            if (verified.ContainsKey(key))
            {
                return true;
            }

            if (!Bcrypt.Verify(password, hash))
            {
                return false;
            }

            if (verified.Count < MaxRememberedLogins)
            {
                verified[key] = true;
            }

            return true;
        }
    }
}
