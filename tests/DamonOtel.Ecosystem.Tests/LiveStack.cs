using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The real stack the live tests query: the agent published by scripts/publish-agent.sh (the
/// Dockerfile's command) running on the Simulator, scraped every second by Debian's prometheus
/// with the damon-otel rules loaded. Construction fails, with the reason and the processes'
/// output, when any piece cannot start — the live tests then fail, they are never skipped.
/// </summary>
public sealed class LiveStack : IDisposable
{
    /// <summary>Set to an already published damon-otel binary to skip the publish step.</summary>
    public const string AgentBinaryVariable = "DAMON_OTEL_AGENT_BINARY";

    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string work;
    private readonly OwnedProcess? agent;
    private readonly OwnedProcess? prometheus;
    private KubeStateMetricsStandIn? kubeStateMetrics;

    public LiveStack()
    {
        work = Tools.TempDir("damon-otel-live");
        try
        {
            (agent, prometheus) = Start();
        }
        catch
        {
            // xunit does not dispose a fixture whose constructor threw: stop what was started.
            Dispose();
            throw;
        }
    }

    private (OwnedProcess Agent, OwnedProcess Prometheus) Start()
    {
        OwnedProcess? agent = null;
        try
        {
            return StartCore(out agent);
        }
        catch
        {
            agent?.Dispose();
            throw;
        }
    }

    private (OwnedProcess Agent, OwnedProcess Prometheus) StartCore(out OwnedProcess? agentOut)
    {
        agentOut = null;
        var clock = Stopwatch.StartNew();
        AgentBinary = PublishAgent();
        var published = clock.Elapsed;
        AgentPort = FreePort();

        // Explicit, empty roots: the simulated agent must never look at this machine's DAMON or tracing.
        var args = new List<string>
        {
            "run", "--simulate", "steady", "--listen", $"127.0.0.1:{AgentPort}",
            "--state-dir", Dir("state"), "--sysfs-root", Dir("sys"), "--tracefs-root", Dir("tracing"), "--procfs-root", Dir("proc"),
        };
        var errors = AgentCli.Validate(args, out _);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("live test command line does not match the documented CLI: " + string.Join("; ", errors));
        }

        var agent = OwnedProcess.Start("damon-otel agent", AgentBinary, args, work);
        agentOut = agent;
        Agent = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{AgentPort}"), Timeout = TimeSpan.FromSeconds(10) };
        WaitFor(agent, "the agent's /readyz to answer 200", () => Status(Agent, "/readyz") == HttpStatusCode.OK);
        var agentReady = clock.Elapsed;

        kubeStateMetrics = new KubeStateMetricsStandIn(FreePort());
        var prometheusBinary = Tools.Find("prometheus")
            ?? throw new InvalidOperationException("'prometheus' is not installed: the live tests need Debian's prometheus package (apt-get install -y prometheus).");
        PrometheusPort = FreePort();
        var config = Path.Combine(work, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            rule_files:
              - {Repo.PathOf(Repo.RulesFile)}
            scrape_configs:
              - job_name: damon-otel
                static_configs:
                  - targets: ['127.0.0.1:{AgentPort}']
              - job_name: kube-state-metrics
                static_configs:
                  - targets: ['127.0.0.1:{kubeStateMetrics.Port}']
            """);
        var prometheus = OwnedProcess.Start("prometheus", prometheusBinary,
            [$"--config.file={config}", $"--storage.tsdb.path={Dir("tsdb")}", $"--web.listen-address=127.0.0.1:{PrometheusPort}", "--log.level=warn"], work);
        Prometheus = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{PrometheusPort}"), Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            WaitFor(prometheus, "prometheus to be ready", () => Status(Prometheus, "/-/ready") == HttpStatusCode.OK);

        // Enough scrapes for rate()/deriv() over the dashboards' 1m windows (they need two samples).
            WaitFor(prometheus, "6 successful scrapes of the agent", () =>
                Query("min_over_time(up{job=\"damon-otel\"}[1m]) == 1 and count_over_time(up{job=\"damon-otel\"}[1m]) >= 6").Count > 0);
            WaitFor(prometheus, "a scrape of the kube-state-metrics stand-in", () => Query("up{job=\"kube-state-metrics\"} == 1").Count > 0);
        }
        catch (Exception e)
        {
            var agentLog = Tail(agent.Output, 40);
            prometheus.Dispose();
            throw new InvalidOperationException($"{e.Message}\n--- agent output ---\n{agentLog}", e);
        }

        Timings = string.Create(CultureInfo.InvariantCulture,
            $"publish {published.TotalSeconds:F1} s, agent ready {(agentReady - published).TotalSeconds:F1} s, prometheus ready with 6 scrapes {(clock.Elapsed - agentReady).TotalSeconds:F1} s");
        return (agent, prometheus);
    }

    public string AgentBinary { get; private set; } = "";

    /// <summary>How long the fixture's steps took (printed by a test, for the record; never asserted).</summary>
    public string Timings { get; private set; } = "";

    public int AgentPort { get; private set; }

    public int PrometheusPort { get; private set; }

    public HttpClient Agent { get; private set; } = null!;

    public HttpClient Prometheus { get; private set; } = null!;

    public string AgentOutput => agent?.Output ?? "";

    /// <summary>Runs an instant query; throws with Prometheus' error message when it fails.</summary>
    public JsonArray Query(string promql)
    {
        var json = GetJson(Prometheus, "/api/v1/query?query=" + Uri.EscapeDataString(promql));
        if ((string?)json["status"] != "success")
        {
            throw new InvalidOperationException($"query failed: {json["errorType"]}: {json["error"]}\n  {promql}");
        }

        return json["data"]!["result"]!.AsArray();
    }

    public static JsonObject GetJson(HttpClient client, string path)
    {
        using var response = client.GetAsync(new Uri(path, UriKind.Relative)).GetAwaiter().GetResult();
        var body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        return JsonNode.Parse(body)?.AsObject() ?? throw new InvalidOperationException($"{path}: not JSON: {body}");
    }

    public static HttpStatusCode? Status(HttpClient client, string path)
    {
        try
        {
            using var response = client.GetAsync(new Uri(path, UriKind.Relative)).GetAwaiter().GetResult();
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Runs the published agent with arguments (for check-config and --help).</summary>
    internal ProcessResult RunAgent(params string[] args) => Tools.Run(AgentBinary, args, work, TimeSpan.FromSeconds(60));

    public string Dir(string name)
    {
        var d = Path.Combine(work, name);
        Directory.CreateDirectory(d);
        return d;
    }

    public void Dispose()
    {
        Agent?.Dispose();
        Prometheus?.Dispose();
        prometheus?.Dispose();
        kubeStateMetrics?.Dispose();
        agent?.Dispose();
        try
        {
            Directory.Delete(work, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
    }

    private static string PublishAgent()
    {
        var preset = Environment.GetEnvironmentVariable(AgentBinaryVariable);
        if (!string.IsNullOrEmpty(preset))
        {
            return File.Exists(preset) ? preset : throw new InvalidOperationException($"{AgentBinaryVariable}={preset} does not exist");
        }

        var outDir = Repo.PathOf("artifacts/ecosystem-tests/agent");
        var result = Tools.Run("bash", [Repo.PathOf(Repo.PublishScript), outDir], Repo.Root, PublishTimeout);
        var binary = Path.Combine(outDir, "damon-otel");
        if (result.ExitCode != 0 || !File.Exists(binary))
        {
            throw new InvalidOperationException(
                $"the damon-otel agent could not be published with {Repo.PublishScript} (exit {result.ExitCode}); the live ecosystem tests need the real agent.\n{Tail(result.Output, 60)}");
        }

        return binary;
    }

    private static void WaitFor(OwnedProcess process, string what, Func<bool> condition)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{process.Name} exited with code {process.ExitCode} while waiting for {what}:\n{Tail(process.Output, 60)}");
            }

            try
            {
                if (condition())
                {
                    return;
                }
            }
            catch (InvalidOperationException)
            {
                // Not up yet (no data / not ready): keep waiting until the deadline.
            }
            catch (HttpRequestException)
            {
            }

            if (sw.Elapsed > StartTimeout)
            {
                throw new TimeoutException($"timed out after {StartTimeout.TotalSeconds} s waiting for {what}; {process.Name} output:\n{Tail(process.Output, 60)}");
            }

            Thread.Sleep(250);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>
    /// A child process this fixture started and must stop (by its own handle, never by name).
    /// It runs under a small sh watchdog holding the read end of a pipe from this test process:
    /// when the test host goes away in any way (even SIGKILL) the pipe closes and the watchdog
    /// sends the child SIGTERM, so no agent or prometheus outlives the tests.
    /// </summary>
    private sealed class OwnedProcess : IDisposable
    {
        // $@ is the command. fd 3 keeps our stdin pipe for the watchdog (an asynchronous list's
        // stdin would otherwise be /dev/null); the child gets neither.
        private const string Watchdog = """
            exec 3<&0
            "$@" </dev/null 3<&- &
            child=$!
            ( while read -r _ <&3; do :; done; kill -TERM "$child" 2>/dev/null ) &
            watchdog=$!
            wait "$child"
            rc=$?
            kill "$watchdog" 2>/dev/null
            exit "$rc"
            """;

        private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

        private readonly Process process;
        private readonly StringBuilder output = new();

        private OwnedProcess(string name, Process process)
        {
            Name = name;
            this.process = process;
        }

        public string Name { get; }

        public bool HasExited => this.process.HasExited;

        public int ExitCode => this.process.ExitCode;

        public string Output
        {
            get
            {
                lock (output)
                {
                    return output.ToString();
                }
            }
        }

        public static OwnedProcess Start(string name, string file, IEnumerable<string> args, string workingDirectory)
        {
            var psi = new ProcessStartInfo("/bin/sh")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = workingDirectory,
            };
            foreach (var a in (string[])["-c", Watchdog, "watchdog", file, .. args])
            {
                psi.ArgumentList.Add(a);
            }

            Process process;
            try
            {
                process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {name} ({file})");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new InvalidOperationException($"could not start {name} ({file}): {e.Message}", e);
            }

            var owned = new OwnedProcess(name, process);
            process.OutputDataReceived += (_, e) => owned.Append(e.Data);
            process.ErrorDataReceived += (_, e) => owned.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return owned;
        }

        public void Dispose()
        {
            try
            {
                if (!this.process.HasExited)
                {
                    // An orderly stop first (the watchdog sends SIGTERM), then by force.
                    this.process.StandardInput.Close();
                    if (!this.process.WaitForExit(StopGrace))
                    {
                        this.process.Kill(entireProcessTree: true);
                        this.process.WaitForExit(StopGrace);
                    }
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            this.process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LiveCollection : ICollectionFixture<LiveStack>
{
    public const string Name = "live agent + prometheus";
}
