using Microsoft.AspNetCore.Builder;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Tests.Infrastructure;

namespace DamonOtel.Telemetry.Tests;

/// <summary>Real HTTP against Kestrel on a loopback port.</summary>
public sealed class EndpointTests
{
    private static async Task<(MetricsEndpoint Endpoint, TelemetryPipeline Pipeline)> StartAsync(WebConfig? web = null, Action<Microsoft.AspNetCore.Builder.WebApplication>? map = null)
    {
        var store = new ObservationStore();
        var pipeline = TelemetryPipeline.Build(store, new TelemetryPipelineOptions
        {
            ProcfsRoot = Fixtures.ProcRoot(),
            UseEnvironment = false,
            MeterName = "test." + Guid.NewGuid().ToString("N"),
            // Fixed: two collections (an expired 1 s cache) must differ only in snapshot ages.
            ProcessUsage = () => new(1.25, 0.5, 50_331_648),
        });
        store.Publish(Fixtures.Web(store));
        store.RecordCollection("kdamond/web", TimeSpan.FromMilliseconds(1), null);
        var endpoint = MetricsEndpoint.Create(new MetricsEndpointOptions { ListenAddress = "127.0.0.1:0", WebConfig = web }, pipeline.Scrape, map);
        await endpoint.StartAsync();
        return (endpoint, pipeline);
    }

    private static HttpClient Client(int port, string scheme = "http", HttpMessageHandler? handler = null) =>
        new(handler ?? new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = new Uri($"{scheme}://127.0.0.1:{port}/"),
        };

    [Fact]
    public async Task Serves_both_formats_gzip_and_extra_endpoints()
    {
        var (endpoint, pipeline) = await StartAsync(map: app => app.MapGet("/healthz", () => "ok"));
        await using var _e = endpoint;
        using var _p = pipeline;
        using var http = Client(endpoint.Port);

        using var text = await http.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, text.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", text.Content.Headers.ContentType!.ToString());
        var body = await text.Content.ReadAsStringAsync();
        Assert.Contains("damon_memory_working_set_bytes{", body);

        using var omRequest = new HttpRequestMessage(HttpMethod.Get, "metrics");
        omRequest.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
        using var om = await http.SendAsync(omRequest);
        Assert.Equal("application/openmetrics-text; version=1.0.0; charset=utf-8", om.Content.Headers.ContentType!.ToString());
        Assert.EndsWith("# EOF\n", await om.Content.ReadAsStringAsync());

        using var gzRequest = new HttpRequestMessage(HttpMethod.Get, "metrics");
        gzRequest.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        using var gz = await http.SendAsync(gzRequest);
        Assert.Equal("gzip", Assert.Single(gz.Content.Headers.ContentEncoding));
        await using var unzip = new GZipStream(await gz.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        var unzipped = await new StreamReader(unzip, Encoding.UTF8).ReadToEndAsync();
        // Same exposition. Usually the same cached collection (1 s cache); on a loaded machine
        // the cache may expire in between, and then only the wall-clock-based snapshot age differs.
        static string WithoutAges(string text) =>
            string.Join('\n', text.Split('\n').Where(l => !l.StartsWith("damon_otel_snapshot_age_seconds{", StringComparison.Ordinal)));
        Assert.Equal(WithoutAges(body), WithoutAges(unzipped));

        Assert.Equal("ok", await http.GetStringAsync("healthz"));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("nope")).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await http.PostAsync("metrics", new StringContent(""))).StatusCode);
    }

    [Fact]
    public async Task Basic_auth_from_web_config()
    {
        // htpasswd -bnBC 4 alice 'correct horse'
        var web = new WebConfig(null, new Dictionary<string, string> { ["alice"] = "$2y$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq" });
        var (endpoint, pipeline) = await StartAsync(web);
        await using var _e = endpoint;
        using var _p = pipeline;
        using var http = Client(endpoint.Port);

        using var none = await http.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Basic", none.Headers.WwwAuthenticate.Single().Scheme);

        async Task<HttpStatusCode> With(string user, string password)
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, "metrics");
            req.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));
            using var r = await http.SendAsync(req);
            return r.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await With("alice", "wrong"));
        Assert.Equal(HttpStatusCode.Unauthorized, await With("bob", "correct horse"));
        Assert.Equal(HttpStatusCode.OK, await With("alice", "correct horse"));
        Assert.Equal(HttpStatusCode.OK, await With("alice", "correct horse")); // cached verification
        Assert.Equal(HttpStatusCode.Unauthorized, await With("alice", "correct horsE"));
    }

    private static (X509Certificate2 Cert, string Dir) WriteCert(string cn, X509Certificate2? issuer = null, RSA? issuerKey = null, bool ca = false)
    {
        var dir = Path.Combine(Path.GetTempPath(), "damon-otel-tls-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        using var key = RSA.Create(2048);
        var req = new CertificateRequest("CN=" + cn, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, false, 0, true));
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        req.CertificateExtensions.Add(san.Build());
        // Fixed window: leaves must end before their issuer does.
        var now = DateTimeOffset.UtcNow.Date;
        X509Certificate2 cert = issuer is null
            ? req.CreateSelfSigned(now.AddDays(-1), now.AddDays(2))
            : req.Create(issuer, now.AddDays(-1), now.AddDays(1), Guid.NewGuid().ToByteArray()[..8]).CopyWithPrivateKey(key);
        File.WriteAllText(Path.Combine(dir, "cert.pem"), cert.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        _ = issuerKey;
        return (X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null), dir);
    }

    [Fact]
    public async Task Tls_with_a_self_signed_certificate_and_client_certificate_verification()
    {
        var (server, dir) = WriteCert("damon-otel-test");
        var (ca, caDir) = WriteCert("test-ca", ca: true);
        var (client, _) = WriteCert("scraper", ca);
        var (rogue, _) = WriteCert("rogue");
        var tls = new TlsServerConfig(
            Path.Combine(dir, "cert.pem"), Path.Combine(dir, "key.pem"), ClientAuthType.RequireAndVerifyClientCert, Path.Combine(caDir, "cert.pem"), null, null);
        var web = new WebConfig(tls, new Dictionary<string, string>());
        var (endpoint, pipeline) = await StartAsync(web);
        await using var _e = endpoint;
        using var _p = pipeline;

        HttpClient Https(X509Certificate2? clientCert)
        {
            var h = new HttpClientHandler
            {
                // Trust exactly our server certificate.
                ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert!.Thumbprint == server.Thumbprint,
            };
            if (clientCert is not null)
            {
                h.ClientCertificateOptions = ClientCertificateOption.Manual;
                h.ClientCertificates.Add(clientCert);
            }

            return Client(endpoint.Port, "https", h);
        }

        using (var ok = Https(client))
        {
            using var r = await ok.GetAsync("metrics");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains("damon_kdamond_up", await r.Content.ReadAsStringAsync());
        }

        using (var noCert = Https(null))
        {
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => noCert.GetAsync("metrics"));
        }

        using (var bad = Https(rogue))
        {
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => bad.GetAsync("metrics"));
        }

        using var plain = Client(endpoint.Port);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync("metrics"));
    }

    [Theory]
    [InlineData(":9464", null, 9464)]
    [InlineData("0.0.0.0:9464", "0.0.0.0", 9464)]
    [InlineData("127.0.0.1:0", "127.0.0.1", 0)]
    [InlineData("[::1]:9100", "::1", 9100)]
    [InlineData("localhost:80", "127.0.0.1", 80)]
    public void Listen_addresses(string listen, string? ip, int port)
    {
        var (a, p) = MetricsEndpoint.ParseListenAddress(listen);
        Assert.Equal(ip, a?.ToString());
        Assert.Equal(port, p);
    }

    [Theory]
    [InlineData("9464")]
    [InlineData("host.example:9464")]
    [InlineData(":99999")]
    public void Bad_listen_addresses_are_rejected(string listen) =>
        Assert.Contains(listen, Assert.Throws<FormatException>(() => MetricsEndpoint.ParseListenAddress(listen)).Message);
}
