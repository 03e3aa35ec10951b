// Self-contained harness around Debian's `prometheus` binary (no dependency on the test project):
// start on a free loopback port with a temp config and storage dir, wait until ready, query the
// HTTP API, stop. Reused by the end-to-end tests.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace DamonOtel.Telemetry.Tests.Infrastructure;

public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process process;
    private readonly string dir;
    private readonly StringBuilder log = new();
    private readonly HttpClient http;

    private PrometheusServer(Process process, string dir, Uri baseAddress)
    {
        this.process = process;
        this.dir = dir;
        BaseAddress = baseAddress;
        http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri BaseAddress { get; }

    /// <summary>Prometheus' own stderr/stdout so far (for failure messages).</summary>
    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    /// <summary>A scrape job YAML fragment for <see cref="StartAsync"/>.</summary>
    public static string ScrapeJob(string job, string target, string metricsPath = "/metrics", string scheme = "http", string extra = "") =>
        $"  - job_name: {job}\n    scheme: {scheme}\n    metrics_path: {metricsPath}\n    static_configs:\n      - targets: ['{target}']\n{extra}";

    /// <summary>
    /// Starts `prometheus` (from PATH, or PROMETHEUS_BINARY) with the given scrape_configs entries
    /// (empty: none), <paramref name="ruleFiles"/> as rule_files (absolute paths) and
    /// <paramref name="extraArguments"/> after the usual flags (e.g. --web.enable-remote-write-receiver).
    /// </summary>
    public static async Task<PrometheusServer> StartAsync(
        string scrapeConfigs,
        TimeSpan? scrapeInterval = null,
        TimeSpan? readyTimeout = null,
        IReadOnlyList<string>? ruleFiles = null,
        IReadOnlyList<string>? extraArguments = null)
    {
        var binary = Environment.GetEnvironmentVariable("PROMETHEUS_BINARY")
                     ?? (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "prometheus")).FirstOrDefault(File.Exists)
                     ?? throw new InvalidOperationException("prometheus not found: install prometheus (apt-get install prometheus)");
        var dir = Path.Combine(Path.GetTempPath(), "prometheus-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        var interval = (int)(scrapeInterval ?? TimeSpan.FromSeconds(1)).TotalMilliseconds;
        var rules = ruleFiles is { Count: > 0 } ? "rule_files:\n" + string.Concat(ruleFiles.Select(f => $"  - '{f}'\n")) : "";
        var scrapes = scrapeConfigs.Length > 0 ? "scrape_configs:\n" + scrapeConfigs : "scrape_configs: []\n";
        var config = $"global:\n  scrape_interval: {interval}ms\n  scrape_timeout: {interval}ms\n  evaluation_interval: {interval}ms\n{rules}{scrapes}";
        File.WriteAllText(Path.Combine(dir, "prometheus.yml"), config);
        var port = FreePort();
        var psi = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
                 {
                     "--config.file=" + Path.Combine(dir, "prometheus.yml"),
                     "--storage.tsdb.path=" + Path.Combine(dir, "data"),
                     "--web.listen-address=127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture),
                     "--log.level=info",
                 }.Concat(extraArguments ?? []))
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + binary);
        var server = new PrometheusServer(process, dir, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        var timeout = readyTimeout ?? TimeSpan.FromSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                var log = server.Log;
                await server.DisposeAsync();
                throw new InvalidOperationException($"prometheus exited with {process.ExitCode}:\n{log}\nconfig:\n{config}");
            }

            try
            {
                using var r = await server.http.GetAsync("-/ready");
                if (r.StatusCode == HttpStatusCode.OK)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (deadline.Elapsed > timeout)
            {
                var log = server.Log;
                await server.DisposeAsync();
                throw new TimeoutException($"prometheus not ready after {timeout}:\n{log}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Instant query; returns data.result (an array of {metric, value}).</summary>
    public async Task<JsonElement> QueryAsync(string promql)
    {
        var json = await http.GetStringAsync("api/v1/query?query=" + Uri.EscapeDataString(promql));
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"query {promql} failed: {json}");
        }

        return doc.RootElement.GetProperty("data").GetProperty("result").Clone();
    }

    /// <summary>The `data` of a successful API response (e.g. api/v1/alerts, api/v1/rules).</summary>
    public async Task<JsonElement> GetDataAsync(string apiPath)
    {
        var json = await http.GetStringAsync(apiPath);
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"GET {apiPath} failed: {json}");
        }

        return doc.RootElement.GetProperty("data").Clone();
    }

    /// <summary>The value of the first sample of an instant query, or null when it returned nothing.</summary>
    public async Task<double?> QueryValueAsync(string promql)
    {
        var result = await QueryAsync(promql);
        if (result.ValueKind == JsonValueKind.Array && result.GetArrayLength() > 0)
        {
            var v = result[0].GetProperty("value")[1].GetString()!;
            return double.Parse(v.Replace("+Inf", "Infinity", StringComparison.Ordinal), CultureInfo.InvariantCulture);
        }

        return null;
    }

    /// <summary>data.activeTargets of /api/v1/targets (health, lastError, scrapeUrl...).</summary>
    public async Task<JsonElement> ActiveTargetsAsync()
    {
        var json = await http.GetStringAsync("api/v1/targets");
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("data").GetProperty("activeTargets").Clone();
    }

    /// <summary>Polls until <paramref name="condition"/> holds; throws with Prometheus' log on timeout.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (sw.Elapsed > timeout)
            {
                var targets = await ActiveTargetsAsync();
                throw new TimeoutException($"{what}: not reached after {timeout}. targets: {targets}\nprometheus log:\n{Log}");
            }

            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ProcessRunner.KillAndDisposeAsync(process);
        http.Dispose();
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.AppendLine(line);
        }
    }
}
