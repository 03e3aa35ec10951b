using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Tests.Interop;

namespace DamonOtel.Agent.Tests.Simulated;

/// <summary>POST /record on the running agent (Simulator): off by default, behind web_config auth, one capture at a time.</summary>
public sealed class RecordEndpointTests
{
    private const string Agent = """
        collection: {interval: 1s}
        exporters: {prometheus: {listen: "127.0.0.1:0"RECORD}}
        kdamonds:
          - name: system
            operations: paddr
            region_source: tried_regions
            schemes:
              - name: cold
                action: stat
                access_pattern: {access_rate: {min: 0%, max: 0%}, age: {min: 2s, max: max}}
        """;

    // htpasswd -nbBC 4 alice apple
    private const string Alice = "alice: $2y$04$fgpjcpk6eF/hCP.W4fPR/OvvmBu/kh7gU/jgUVZNxOc3P4imwwFGW";

    [Fact]
    public async Task Off_by_default_it_is_not_found()
    {
        await using var sim = new SimHarness(("app", "steady"));
        string dir = DamoSandbox.TempDir();
        // Only the directory is set (a temporary one, should this ever write): enabled stays at its default.
        AgentConfig config = sim.Config(Agent.Replace("RECORD", $", record: {{dir: {dir}}}", StringComparison.Ordinal));
        Assert.False(config.Prometheus.Record.Enabled);
        await using KernelEnvironment env = KernelEnvironment.Wrap(sim.Kernel, sim.Roots);
        using var host = new AgentHost(config, env, null, SimHarness.QuietHost);
        using var stop = new CancellationTokenSource();
        Task<int> running = host.RunAsync(stop.Token);
        await host.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        using var http = new HttpClient();

        using HttpResponseMessage r = await http.PostAsync(Url(host.Port, "/record?kdamond=system&duration=1s"), null);
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);

        await stop.CancelAsync();
        Assert.Equal(0, await running.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Empty(Directory.GetFileSystemEntries(dir));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task A_post_records_in_the_background_into_a_damo_record_file()
    {
        await using var sim = new SimHarness(("app", "steady"));
        string dir = DamoSandbox.TempDir();
        string records = Path.Combine(dir, "records");
        string web = Path.Combine(dir, "web.yml");
        await File.WriteAllTextAsync(web, "basic_auth_users:\n  " + Alice + "\n");
        string yaml = Agent.Replace("RECORD", $", health_listen: \"127.0.0.1:0\", web_config: {web}, record: {{enabled: true, dir: {records}, max_duration: 1m}}", StringComparison.Ordinal);
        AgentConfig config = sim.Config(yaml);
        await using KernelEnvironment env = KernelEnvironment.Wrap(sim.Kernel, sim.Roots);
        using var host = new AgentHost(config, env, null, SimHarness.QuietHost);
        using var stop = new CancellationTokenSource();
        Task<int> running = host.RunAsync(stop.Token);
        await host.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        using var http = new HttpClient();

        // Behind the same auth as /metrics, and never on the plain health listener.
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post(http, host.Port, "/record?kdamond=system&duration=2s", password: null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Post(http, host.HealthPort, "/record?kdamond=system&duration=2s", password: null)).Status);
        Assert.False(Directory.Exists(records));

        // Bad requests: one line naming the problem.
        (HttpStatusCode status, string body) = await Post(http, host.Port, "/record?kdamond=web&duration=2s");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("record: no kdamond named 'web' (the agent's: system;", body, StringComparison.Ordinal);
        (status, body) = await Post(http, host.Port, "/record?kdamond=system&duration=2m");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("record: duration '2m': must be above 0 and at most 60 s (exporters.prometheus.record.max_duration)\n", body);
        (status, body) = await Post(http, host.Port, "/record?kdamond=system&source=perf");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("source 'perf'", body, StringComparison.Ordinal);
        (status, _) = await Post(http, host.Port, "/record?kdamond=system", method: HttpMethod.Get);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, status);

        // Accepted: the answer is the file it is writing; a second request meanwhile is refused.
        (status, body) = await Post(http, host.Port, "/record?kdamond=system&duration=3s&source=tried_regions");
        Assert.Equal(HttpStatusCode.Accepted, status);
        string file = body.TrimEnd('\n');
        Assert.Equal(records, Path.GetDirectoryName(file));
        Assert.Matches(@"^system-\d{8}T\d{6}Z\.data$", Path.GetFileName(file));
        (status, body) = await Post(http, host.Port, "/record?kdamond=system&duration=1s");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("record: a capture is already running; one at a time\n", body);

        await SimHarness.WaitUntil(() => File.Exists(file), "the record file written", seconds: 60);
        Assert.Equal("700", RecordTests.Stat("%a", records));
        Assert.Equal("600", RecordTests.Stat("%a", file));
        (int snapshots, ulong bytes) = ReadRecord(file);
        Assert.True(snapshots > 0, "snapshots in the record");
        Assert.True(bytes > 0, "regions with bytes in the record");

        // Done: the next capture is accepted.
        await SimHarness.WaitUntil(() => Post(http, host.Port, "/record?kdamond=system&duration=1s").Result.Status == HttpStatusCode.Accepted, "a second capture after the first");

        // damo itself reads what the endpoint wrote (all of it: `report wss` skips the first 20
        // snapshots by default, more than a 3 s capture holds when the machine is busy).
        DamoSandbox.Result wss = DamoSandbox.Run("3.4.1", records, "report", "wss", "--input", Path.GetFileName(file), "--exclude_samples", "0");
        Assert.True(wss.ExitCode == 0 && wss.StdOut.Contains("# avr:", StringComparison.Ordinal), wss.ToString());

        await stop.CancelAsync();
        Assert.Equal(0, await running.WaitAsync(TimeSpan.FromSeconds(60)));
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>Snapshots and the bytes of their regions, from the zlib JSON damo reads (docs/damo-interop.md, "Record files").</summary>
    private static (int Snapshots, ulong Bytes) ReadRecord(string file)
    {
        using FileStream raw = File.OpenRead(file);
        using var zlib = new ZLibStream(raw, CompressionMode.Decompress);
        using JsonDocument doc = JsonDocument.Parse(zlib);
        int snapshots = 0;
        ulong bytes = 0;
        foreach (JsonElement record in doc.RootElement.EnumerateArray())
        {
            foreach (JsonElement snapshot in record.GetProperty("snapshots").EnumerateArray())
            {
                snapshots++;
                foreach (JsonElement region in snapshot.GetProperty("regions").EnumerateArray())
                {
                    bytes += region.GetProperty("end").GetUInt64() - region.GetProperty("start").GetUInt64();
                }
            }
        }

        return (snapshots, bytes);
    }

    private static Uri Url(int port, string path) => new($"http://127.0.0.1:{port}{path}");

    private static async Task<(HttpStatusCode Status, string Body)> Post(HttpClient http, int port, string path, string? password = "apple", HttpMethod? method = null)
    {
        using var req = new HttpRequestMessage(method ?? HttpMethod.Post, Url(port, path));
        if (password is not null)
        {
            req.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:" + password)));
        }

        using HttpResponseMessage r = await http.SendAsync(req);
        return (r.StatusCode, await r.Content.ReadAsStringAsync());
    }
}
