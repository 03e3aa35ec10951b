using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace DamonOtel.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The real `damon-otel` executable in its own process (`run --simulate ...`), listening on a
/// kernel-chosen loopback port (read back from its log), with a private state dir. The binary is
/// <see cref="AgentBinaryVariable"/> when set (scripts/test.sh points it at the NativeAOT publish,
/// the shipped agent), else the JIT build next to this assembly (`dotnet damon-otel.dll`, for
/// development runs of this project alone).
/// </summary>
internal sealed partial class AgentProcess : IAsyncDisposable
{
    /// <summary>A published damon-otel executable to run instead of the build next to the tests.</summary>
    public const string AgentBinaryVariable = "DAMON_OTEL_AGENT_BINARY";

    private readonly Process process;
    private readonly StringBuilder log = new();
    private readonly string stateDir;
    private readonly TaskCompletionSource<int> port = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AgentProcess(Process process, string stateDir)
    {
        this.process = process;
        this.stateDir = stateDir;
    }

    public int Port { get; private set; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");

    public int Pid => process.Id;

    public bool HasExited => process.HasExited;

    /// <summary>Everything the agent wrote to stdout/stderr so far (for failure messages).</summary>
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

    /// <summary>The agent's dll, copied next to this test assembly by the project reference.</summary>
    public static string AgentDll
    {
        get
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "damon-otel.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("damon-otel.dll is not next to the test assembly (the Agent project reference copies it)", dll);
        }
    }

    /// <summary>
    /// Starts `damon-otel run --simulate <paramref name="workload"/> --listen 127.0.0.1:0` with only
    /// the given OTEL_* variables (inherited ones are removed so the machine cannot change the test).
    /// </summary>
    public static async Task<AgentProcess> StartAsync(IReadOnlyDictionary<string, string>? environment = null, string workload = "steady")
    {
        string stateDir = Directory.CreateTempSubdirectory("damon-otel-e2e-").FullName;
        (string program, string[] prefix) = Command();
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in prefix.Concat(["run", "--simulate", workload, "--listen", "127.0.0.1:0", "--state-dir", stateDir]))
        {
            psi.ArgumentList.Add(a);
        }

        foreach (string key in psi.Environment.Keys.Where(k => k.StartsWith("OTEL_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + program);
        var agent = new AgentProcess(process, stateDir);
        process.OutputDataReceived += (_, e) => agent.Append(e.Data);
        process.ErrorDataReceived += (_, e) => agent.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        Task exited = process.WaitForExitAsync();
        Task first = await Task.WhenAny(agent.port.Task, exited, Task.Delay(TimeSpan.FromSeconds(90)));
        if (first != agent.port.Task)
        {
            string why = first == exited ? $"exited with {process.ExitCode}" : "did not log its listen address within 90 s";
            string text = agent.Log;
            await agent.DisposeAsync();
            throw new InvalidOperationException($"damon-otel {why}:\n{text}");
        }

        agent.Port = await agent.port.Task;
        return agent;
    }

    /// <summary>The program and its leading arguments: the published binary, or `dotnet damon-otel.dll`.</summary>
    public static (string Program, string[] Prefix) Command()
    {
        if (Environment.GetEnvironmentVariable(AgentBinaryVariable) is { Length: > 0 } binary)
        {
            return File.Exists(binary) ? (binary, []) : throw new FileNotFoundException($"{AgentBinaryVariable}={binary} does not exist", binary);
        }

        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        return (dotnet, [AgentDll]);
    }

    /// <summary>Sends SIGTERM and waits up to <paramref name="limit"/> for the exit; returns the exit code, or null if it did not exit.</summary>
    public async Task<int?> TerminateAsync(TimeSpan limit)
    {
        using (var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync();
            if (kill.ExitCode != 0)
            {
                throw new InvalidOperationException($"kill -TERM {process.Id} failed with {kill.ExitCode}");
            }
        }

        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        return process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await ProcessRunner.KillAndDisposeAsync(process);
        try
        {
            Directory.Delete(stateDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [GeneratedRegex(@"Serving /metrics, /healthz, /readyz on http://127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();

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

        if (ListeningLine().Match(line) is { Success: true } m)
        {
            port.TrySetResult(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }
}
