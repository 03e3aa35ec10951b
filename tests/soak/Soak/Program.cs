using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace DamonOtel.Soak;

/// <summary>
/// The soak test (tests/soak/README.md): one `damon-otel run --simulate` process with every
/// Simulator fault hook firing at random, config reloads (valid and invalid) every few seconds,
/// SIGHUPs, N concurrent scrapers, a slowloris, and a monitor scrape every second. Passes when
/// the agent never exits, its RSS stays under the limit without growing, /metrics answers
/// throughout, and SIGTERM ends it with exit code 0. Loopback only; bounded in time.
/// </summary>
internal static partial class Program
{
    private const string ValidConfig = """
        collection: {interval: 1s}
        exporters: {prometheus: {listen: "127.0.0.1:0"}}
        kdamonds:
          - name: steady
            operations: vaddr
            targets: [{name: steady, process_name: steady}]
          - name: system
            operations: paddr
            region_source: tried_regions
            targets: [{name: memory, memory: largest_block}]
            schemes:
              - name: cold
                action: pageout
                access_pattern: {access_rate: {min: 0%, max: 0%}, age: {min: 5s, max: max}}
                quotas: {size: QUOTA, reset_interval: 1s}
        """;

    private static async Task<int> Main(string[] args)
    {
        var o = Options.Parse(args);
        string dir = Directory.CreateTempSubdirectory("damon-otel-soak-").FullName;
        string config = Path.Combine(dir, "config.yaml");
        await File.WriteAllTextAsync(config, ValidConfig.Replace("QUOTA", "64M", StringComparison.Ordinal));
        var psi = new ProcessStartInfo(o.Agent[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in o.Agent.Skip(1).Concat(["run", "--simulate", "steady", "--config", config, "--state-dir", Path.Combine(dir, "state"), "--log.level", "warn"]))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["DAMON_OTEL_SIMULATOR_FAULTS"] = "random:" + o.Seed.ToString(CultureInfo.InvariantCulture);
        // --log.level warn hides the listen line: the port is read from /proc instead.
        using var agent = Process.Start(psi)!;
        var logLines = 0L;
        var lastLog = new Queue<string>();
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            Interlocked.Increment(ref logLines);
            lock (lastLog)
            {
                lastLog.Enqueue(line);
                if (lastLog.Count > 40)
                {
                    lastLog.Dequeue();
                }
            }
        }

        agent.OutputDataReceived += (_, e) => OnLine(e.Data);
        agent.ErrorDataReceived += (_, e) => OnLine(e.Data);
        agent.BeginOutputReadLine();
        agent.BeginErrorReadLine();
        int port = await ListeningPort(agent.Id, TimeSpan.FromSeconds(120));
        var metrics = new Uri($"http://127.0.0.1:{port}/metrics");
        Console.WriteLine($"soak: agent pid {agent.Id} on port {port}; {o.Duration.TotalMinutes:F0} min, {o.Scrapers} scrapers, {o.Slowloris} slowloris connections, seed {o.Seed}");

        using var stop = new CancellationTokenSource(o.Duration);
        var stats = new Stats();
        var tasks = new List<Task>
        {
            Monitor(metrics, stats, stop.Token),
            Reloader(config, agent.Id, stats, stop.Token),
            Memory(agent.Id, stats, stop.Token),
        };
        tasks.AddRange(Enumerable.Range(0, o.Scrapers).Select(i => Scraper(metrics, i, stats, stop.Token)));
        tasks.AddRange(Enumerable.Range(0, o.Slowloris).Select(i => Slowloris(port, stats, stop.Token)));
        await Task.WhenAll(tasks);

        bool aliveAtEnd = !agent.HasExited;
        int? exitCode = null;
        double stopSeconds = double.NaN;
        if (aliveAtEnd)
        {
            var clock = Stopwatch.StartNew();
            using (Process kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", agent.Id.ToString(CultureInfo.InvariantCulture) } })!)
            {
                await kill.WaitForExitAsync();
            }

            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await agent.WaitForExitAsync(limit.Token);
                exitCode = agent.ExitCode;
                stopSeconds = clock.Elapsed.TotalSeconds;
            }
            catch (OperationCanceledException)
            {
                agent.Kill(entireProcessTree: true);
            }
        }
        else
        {
            exitCode = agent.ExitCode;
        }

        string? faults;
        lock (lastLog)
        {
            faults = lastLog.LastOrDefault(l => l.StartsWith("simulator faults fired: ", StringComparison.Ordinal));
        }

        var failures = stats.Check(o, aliveAtEnd, exitCode);
        string[] hooks = ["fail_state_writes", "fail_reads", "garbage", "vanish_tried_regions", "stop_kdamond", "restart_process", "hang_reads"];
        foreach (string hook in hooks.Where(h => faults is null || !faults.Contains(h + "=", StringComparison.Ordinal)))
        {
            failures.Add($"the Simulator fault hook {hook} never fired ({faults ?? "no fault summary from the agent"})");
        }

        string report = stats.Report(o, aliveAtEnd, exitCode, stopSeconds, Interlocked.Read(ref logLines));
        Console.WriteLine(report + "  " + (faults ?? "simulator faults fired: (no summary)"));
        if (o.ReportFile is not null)
        {
            await File.WriteAllTextAsync(o.ReportFile, report);
        }

        if (failures.Count > 0)
        {
            Console.WriteLine("soak: FAILED");
            foreach (string f in failures)
            {
                Console.WriteLine("  - " + f);
            }

            lock (lastLog)
            {
                Console.WriteLine("last agent log lines:\n" + string.Join('\n', lastLog));
            }
        }
        else
        {
            Console.WriteLine("soak: PASSED");
        }

        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }

        return failures.Count == 0 ? 0 : 1;
    }

    /// <summary>The agent's listening TCP port on 127.0.0.1, from /proc/net/tcp and its socket inodes.</summary>
    private static async Task<int> ListeningPort(int pid, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            var inodes = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
                {
                    if (new FileInfo(fd).LinkTarget is { } t && SocketInode().Match(t) is { Success: true } m)
                    {
                        inodes.Add(m.Groups[1].Value);
                    }
                }

                foreach (string line in File.ReadLines("/proc/net/tcp").Skip(1))
                {
                    string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    // local_address rem_address st ... inode (field 9); st 0A = LISTEN
                    if (f.Length > 9 && f[3] == "0A" && inodes.Contains(f[9]))
                    {
                        return int.Parse(f[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }

            await Task.Delay(500);
        }

        throw new TimeoutException("the agent did not listen within " + limit);
    }

    private static HttpClient Client(TimeSpan timeout) => new(new SocketsHttpHandler { MaxConnectionsPerServer = 1, PooledConnectionLifetime = TimeSpan.FromSeconds(20) }) { Timeout = timeout };

    /// <summary>One scrape a second with a 10 s timeout: the "answering throughout" record.</summary>
    private static async Task Monitor(Uri metrics, Stats stats, CancellationToken token)
    {
        using var http = Client(TimeSpan.FromSeconds(10));
        var lastOk = Stopwatch.StartNew();
        while (!token.IsCancellationRequested)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                using var r = await http.GetAsync(metrics, CancellationToken.None);
                string body = await r.Content.ReadAsStringAsync(CancellationToken.None);
                if (r.StatusCode == HttpStatusCode.OK && body.Contains("damon_otel_build_info", StringComparison.Ordinal))
                {
                    stats.MonitorOk(Stopwatch.GetElapsedTime(start).TotalMilliseconds, lastOk.Elapsed.TotalSeconds);
                    lastOk.Restart();
                }
                else
                {
                    stats.MonitorFailed($"HTTP {(int)r.StatusCode}");
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                stats.MonitorFailed(e.GetType().Name);
            }

            try
            {
                await Task.Delay(1000, token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        stats.MonitorOk(0, lastOk.Elapsed.TotalSeconds, countIt: false);
    }

    private static async Task Scraper(Uri metrics, int index, Stats stats, CancellationToken token)
    {
        var random = new Random(index);
        using var http = Client(TimeSpan.FromSeconds(30));
        await Delay(random.Next(0, 1000), token);
        while (!token.IsCancellationRequested)
        {
            try
            {
                using var req = new HttpRequestMessage(HttpMethod.Get, metrics);
                if (random.Next(2) == 0)
                {
                    req.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
                }

                using var r = await http.SendAsync(req, token);
                _ = await r.Content.ReadAsByteArrayAsync(token);
                stats.Scrape((int)r.StatusCode);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                stats.Scrape(0);
            }

            await Delay(random.Next(500, 1500), token);
        }
    }

    /// <summary>Opens a connection, sends a request head one byte every 2 s; reconnects when the agent drops it.</summary>
    private static async Task Slowloris(int port, Stats stats, CancellationToken token)
    {
        byte[] head = Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + new string('a', 200));
        while (!token.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var opened = Stopwatch.StartNew();
            try
            {
                await socket.ConnectAsync(IPAddress.Loopback, port, token);
                foreach (byte b in head)
                {
                    await socket.SendAsync(new[] { b }, SocketFlags.None, token);
                    await Task.Delay(2000, token);
                    if (socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0)
                    {
                        break; // closed by the agent
                    }
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (SocketException)
            {
            }

            stats.SlowlorisDropped(opened.Elapsed.TotalSeconds);
        }
    }

    /// <summary>Every 3 s a new config: mostly valid (another quota), every 4th invalid, every 5th followed by SIGHUP.</summary>
    private static async Task Reloader(string config, int pid, Stats stats, CancellationToken token)
    {
        string[] quotas = ["64M", "32M", "16M", "128M"];
        for (int i = 1; !token.IsCancellationRequested; i++)
        {
            await Delay(3000, token);
            string text = i % 4 == 0
                ? ValidConfig.Replace("QUOTA", "64 parsecs", StringComparison.Ordinal)
                : ValidConfig.Replace("QUOTA", quotas[i % quotas.Length], StringComparison.Ordinal);
            // Half in place, half by rename (an editor's save).
            if (i % 2 == 0)
            {
                await File.WriteAllTextAsync(config, text, CancellationToken.None);
            }
            else
            {
                await File.WriteAllTextAsync(config + ".tmp", text, CancellationToken.None);
                File.Move(config + ".tmp", config, overwrite: true);
            }

            stats.Reload(valid: i % 4 != 0);
            if (i % 5 == 0)
            {
                using Process kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-HUP", pid.ToString(CultureInfo.InvariantCulture) } })!;
                await kill.WaitForExitAsync(CancellationToken.None);
                stats.Sighup();
            }
        }
    }

    private static async Task Memory(int pid, Stats stats, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                foreach (string line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        stats.Rss(long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024);
                    }
                }
            }
            catch (IOException)
            {
                stats.AgentGone();
            }

            await Delay(5000, token);
        }
    }

    private static async Task Delay(int ms, CancellationToken token)
    {
        try
        {
            await Task.Delay(ms, token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [GeneratedRegex(@"^socket:\[(\d+)\]$")]
    private static partial Regex SocketInode();
}
