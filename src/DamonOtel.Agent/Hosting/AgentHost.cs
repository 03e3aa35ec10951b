using System.Runtime.InteropServices;
using System.Text;
using DamonOtel.Agent.Configuration;
using DamonOtel.Telemetry;
using DamonOtel.Telemetry.Catalog;
using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// The `run` command's process: telemetry (Prometheus endpoint with /healthz and /readyz, OTLP
/// push), the DAMON side (<see cref="AgentRunner"/>), and the signals: SIGHUP or an edit of the
/// config file reloads (an invalid new config is reported and the old one kept), SIGTERM/SIGINT
/// stop our kdamonds (configurable), remove our tracefs instance and flush OTLP.
/// </summary>
internal sealed partial class AgentHost(AgentConfig config, KernelEnvironment env, string? configPath, ILoggerFactory loggers) : IDisposable
{
    // On SIGTERM: time to stop our kdamonds and the endpoint (the last OTLP export follows).
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(20);

    // Editors write a file in several steps: a reload waits this long for it to settle.
    private static readonly TimeSpan ConfigSettleDelay = TimeSpan.FromMilliseconds(200);

    private readonly ILogger logger = loggers.CreateLogger<AgentHost>();
    private readonly SemaphoreSlim reloadRequests = new(0, 1);

    /// <summary>Bound /metrics port once started (tests listen on port 0).</summary>
    public int Port { get; private set; }

    public AgentRunner? Runner { get; private set; }

    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static OtlpSettings ResolveOtlp(AgentConfig config) => OtlpSettings.Resolve(config.Otlp.SettingsValues);

    public void Dispose() => reloadRequests.Dispose();

    /// <summary>Asks for a config reload (what SIGHUP does).</summary>
    public void RequestReload()
    {
        if (reloadRequests.CurrentCount == 0)
        {
            reloadRequests.Release();
        }
    }

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => Stop(ctx, stop));
        using PosixSignalRegistration intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => Stop(ctx, stop));
        CancellationToken stopToken = stop.Token;
        var store = new ObservationStore(env.Time);
        OtlpSettings otlp = ResolveOtlp(config);
        var pipelineOptions = new TelemetryPipelineOptions
        {
            // The resource describes the machine: under --simulate that is the real /proc, not the Simulator's.
            ProcfsRoot = env.Simulator is null ? config.Roots.Procfs : "/proc",
            Metrics = new MetricSelection(config.Metrics.Enable, config.Metrics.Disable),
        };
        using TelemetryPipeline pipeline = TelemetryPipeline.Build(store, pipelineOptions, otlp.Enabled ? b => OtlpExportConfigurator.AddOtlp(b, otlp) : null);
        if (otlp.Enabled)
        {
            LogOtlp(otlp.Endpoint.ToString(), otlp.Protocol.ToString());
        }

        await using var runner = new AgentRunner(config, env, store, loggers);
        Runner = runner;

        MetricsEndpoint? endpoint = null;
        if (config.Prometheus.Enabled)
        {
            try
            {
                endpoint = MetricsEndpoint.Create(
                    new MetricsEndpointOptions { ListenAddress = config.Prometheus.Listen, WebConfig = config.Prometheus.WebConfig },
                    pipeline.Scrape,
                    app =>
                    {
                        // RequestDelegate handlers: the Delegate overloads bind parameters by reflection (not in NativeAOT).
                        app.MapGet("/healthz", ctx => Results.Text("ok\n").ExecuteAsync(ctx));
                        app.MapGet("/readyz", ctx => Readiness(runner, store).ExecuteAsync(ctx));
                        app.MapGet("/", ctx => Results.Text("damon-otel: /metrics /healthz /readyz\n").ExecuteAsync(ctx));
                    });
            }
            catch (WebConfigException e)
            {
                // The TLS files were valid when the config was loaded and changed since.
                LogCannotListen(config.Prometheus.Listen, e.Message);
                return 1;
            }

            try
            {
                await endpoint.StartAsync(stopToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                LogCannotListen(config.Prometheus.Listen, e.Message);
                return 1;
            }

            Port = endpoint.Port;
            LogListening(string.Join(", ", endpoint.Addresses));
        }

        using PosixSignalRegistration hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true;
            RequestReload();
        });
        using FileSystemWatcher? watcher = WatchConfig();

        await runner.StartAsync(stopToken).ConfigureAwait(false);
        Started.TrySetResult();
        try
        {
            while (!stopToken.IsCancellationRequested)
            {
                bool reload;
                try
                {
                    reload = await reloadRequests.WaitAsync(config.Collection.Interval, stopToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                try
                {
                    if (reload)
                    {
                        await ReloadAsync(runner, stopToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await runner.DiscoverAsync(stopToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (stopToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A reload or discovery that fails must not take the agent down: sources keep serving.
                    LogHousekeepingFailed(reload ? "reload" : "discovery", e.Message);
                }
            }
        }
        finally
        {
            LogStopping();
            using var deadline = new CancellationTokenSource(StopDeadline);
            await runner.StopAsync(deadline.Token).ConfigureAwait(false);
            // Disposing the pipeline (below, `using`) shuts the OTLP reader down, which exports once more.
            if (endpoint is not null)
            {
                await endpoint.StopAsync(deadline.Token).ConfigureAwait(false);
                await endpoint.DisposeAsync().ConfigureAwait(false);
            }
        }

        return 0;
    }

    private static void Stop(PosixSignalContext ctx, CancellationTokenSource stop)
    {
        ctx.Cancel = true;
        stop.Cancel();
    }

    private static IResult Readiness(AgentRunner runner, ObservationStore store) =>
        NotReadyBecause(runner, store) is string problems
            ? Results.Text(problems, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("ready\n");

    /// <summary>The /readyz body when not ready (one line per source and why), or null when ready.</summary>
    internal static string? NotReadyBecause(AgentRunner runner, ObservationStore store)
    {
        // Ready when every source has succeeded within 3 of its intervals (and at least once).
        StoreSnapshot snap = store.Current;
        var problems = new StringBuilder();
        foreach (string source in runner.SourceNames)
        {
            if (!snap.Sources.TryGetValue(source, out SourceState? s) || s.LastSuccessTicks is null)
            {
                // Say why when the source failed: e.g. kdamonds blocked by DAMON_STAT, with the remedies.
                problems.Append(source).Append(": no successful collection yet");
                if (s?.LastError is not null)
                {
                    problems.Append(" (").Append(s.LastError.Message).Append(')');
                }

                problems.Append('\n');
            }
            else if (store.SnapshotAgeSeconds(s) is double age && age > 3 * Math.Max(runner.Config.Collection.Interval.TotalSeconds, 1))
            {
                problems.Append(source).Append(": last success ").Append(age.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)).Append(" s ago");
                if (s.LastError is not null)
                {
                    problems.Append(" (").Append(s.LastError.Message).Append(')');
                }

                problems.Append('\n');
            }
        }

        return problems.Length == 0 ? null : problems.ToString();
    }

    private FileSystemWatcher? WatchConfig()
    {
        if (configPath is null || Path.GetDirectoryName(Path.GetFullPath(configPath)) is not string dir)
        {
            return null;
        }

        var w = new FileSystemWatcher(dir, Path.GetFileName(configPath)) { NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size };
        w.Changed += (_, _) => RequestReload();
        w.Created += (_, _) => RequestReload();
        w.Renamed += (_, _) => RequestReload();
        w.EnableRaisingEvents = true;
        return w;
    }

    private async Task ReloadAsync(AgentRunner runner, CancellationToken cancellationToken)
    {
        if (configPath is null)
        {
            LogNothingToReload();
            return;
        }

        await Task.Delay(ConfigSettleDelay, cancellationToken).ConfigureAwait(false);
        AgentConfig next;
        try
        {
            next = ConfigLoader.LoadFile(configPath) with { Roots = config.Roots, StateDir = config.StateDir, Prometheus = config.Prometheus };
        }
        catch (ConfigException e)
        {
            LogReloadRejected(configPath, e.Message);
            return;
        }

        await runner.ReloadAsync(next, cancellationToken).ConfigureAwait(false);
        LogReloaded(configPath);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Serving /metrics, /healthz, /readyz on {Addresses}")]
    private partial void LogListening(string addresses);

    [LoggerMessage(EventId = 7, Level = LogLevel.Critical, Message = "Cannot listen on {Listen}: {Reason}")]
    private partial void LogCannotListen(string listen, string reason);

    [LoggerMessage(EventId = 8, Level = LogLevel.Error, Message = "Config {What} failed: {Reason}; still serving")]
    private partial void LogHousekeepingFailed(string what, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Pushing OTLP to {Endpoint} ({Protocol})")]
    private partial void LogOtlp(string endpoint, string protocol);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Stopping")]
    private partial void LogStopping();

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "New config {File} is invalid; keeping the running one:\n{Errors}")]
    private partial void LogReloadRejected(string file, string errors);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Reloaded {File}")]
    private partial void LogReloaded(string file);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Reload requested, but the agent runs without a config file")]
    private partial void LogNothingToReload();
}
