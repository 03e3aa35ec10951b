using System.Runtime.InteropServices;
using System.Text;
using DamonOtel.Agent.Configuration;
using DamonOtel.Telemetry;
using DamonOtel.Telemetry.Catalog;
using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Metrics;

namespace DamonOtel.Agent.Hosting;

/// <summary>Settings of <see cref="AgentHost"/> that come from the command line, not the config file.</summary>
internal sealed record HostSettings
{
    public LogSettings Log { get; init; } = new();

    /// <summary>--web.config.file: a web_config that replaces the config file's (also on reload).</summary>
    public string? WebConfigPath { get; init; }

    /// <summary>Tests replace the console logger (e.g. with nothing).</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    /// <summary>How often the config files are re-read when no file event came.</summary>
    public TimeSpan ConfigPollInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The process (not a test) ends itself when stopping takes this much longer than
    /// <see cref="AgentHost.StopBudget"/>: the last line of defence against a hang nobody foresaw.
    /// </summary>
    public TimeSpan? ExitProcessAfterStopBudget { get; init; }

    /// <summary>Basic-auth checks go through this (tests record them); null = BCrypt.Net-Next.</summary>
    public Func<string, string, bool>? PasswordVerifier { get; init; }
}

/// <summary>
/// The `run` command's process, one .NET Generic Host: Kestrel (/metrics, /healthz, /readyz and an
/// optional plain health listener), OpenTelemetry metrics through OpenTelemetry.Extensions.Hosting
/// (the Prometheus reader and the OTLP push), the DAMON side as the hosted <see cref="AgentWorker"/>,
/// systemd integration (Type=notify readiness, journald log levels) and one logging setup for all
/// of them. Signals: SIGHUP or a change of the config/web_config files reloads (an invalid new
/// config is reported and the old one kept); SIGTERM/SIGINT stop within <see cref="StopBudget"/>:
/// our kdamonds stopped, the tracefs instance removed, OTLP flushed (provider disposal).
/// </summary>
internal sealed partial class AgentHost(AgentConfig config, KernelEnvironment env, string? configPath, HostSettings? settings = null) : IDisposable
{
    /// <summary>SIGTERM to an orderly exit; the process ends itself 2 s later at most (10 s, docs/operations.md "Stopping").</summary>
    public static readonly TimeSpan StopBudget = TimeSpan.FromSeconds(8);

    private readonly HostSettings settings = settings ?? new HostSettings();
    private readonly SemaphoreSlim reloadRequests = new(0, 1);
    private MetricsEndpoint.Listeners? listeners;

    /// <summary>Bound /metrics port once started (tests listen on port 0).</summary>
    public int Port => listeners?.MetricsPort ?? 0;

    /// <summary>Bound port of the plain health listener once started; 0 without one.</summary>
    public int HealthPort => listeners?.HealthPort ?? 0;

    public AgentRunner? Runner { get; private set; }

    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string? ConfigPath => configPath;

    public string? WebConfigPath => settings?.WebConfigPath ?? config.Prometheus.WebConfigFile;

    public static OtlpSettings ResolveOtlp(AgentConfig config) => OtlpSettings.Resolve(config.Otlp.SettingsValues);

    public void Dispose() => reloadRequests.Dispose();

    /// <summary>Asks for a config reload (what SIGHUP does).</summary>
    public void RequestReload()
    {
        try
        {
            reloadRequests.Release();
        }
        catch (SemaphoreFullException)
        {
            // One pending reload covers every request made before it runs.
        }
    }

    /// <summary>True when a reload was requested within <paramref name="timeout"/>.</summary>
    public Task<bool> WaitForReloadAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        reloadRequests.WaitAsync(timeout, cancellationToken);

    /// <summary>The config as a reload sees it: the file again, with what the command line fixed kept.</summary>
    public AgentConfig LoadConfig()
    {
        AgentConfig next = configPath is null ? config : ConfigLoader.LoadFile(configPath);
        if (settings.WebConfigPath is { } webPath)
        {
            next = next with { Prometheus = next.Prometheus with { WebConfigFile = webPath, WebConfig = ConfigLoader.LoadWebConfig(webPath) } };
        }

        return next with
        {
            Roots = config.Roots,
            StateDir = config.StateDir,
            Prometheus = next.Prometheus with { Enabled = config.Prometheus.Enabled, Listen = config.Prometheus.Listen, HealthListen = config.Prometheus.HealthListen },
        };
    }

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var store = new ObservationStore(env.Time);
        OtlpSettings otlp = ResolveOtlp(config);
        var limits = new EndpointLimits { MaxConnections = config.Prometheus.MaxConnections };
        WebConfigState web = new(config.Prometheus.WebConfig, limits.MaxConcurrentAuthChecks, settings.PasswordVerifier);
        var endpointOptions = new MetricsEndpointOptions
        {
            ListenAddress = config.Prometheus.Listen,
            HealthListenAddress = config.Prometheus.HealthListen,
            Limits = limits,
        };

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "damon-otel" });
        ConfigureLogging(builder.Logging);
        builder.Services.AddSystemd();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = StopBudget);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        // The empty builder: no appsettings.json watch over the working directory (/ under
        // systemd or in a container), only what is used.
        builder.WebHost.UseKestrelCore();
        if (web.TlsEnabled)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
        }

        builder.Services.AddRoutingCore();
        if (config.Prometheus.Enabled)
        {
            builder.WebHost.ConfigureKestrel(k => listeners = MetricsEndpoint.ConfigureKestrel(k, endpointOptions, web));
        }

        using TelemetryPipeline pipeline = TelemetryPipeline.Create(store, new TelemetryPipelineOptions
        {
            // The resource describes the machine: under --simulate that is the real /proc, not the Simulator's.
            ProcfsRoot = env.Simulator is null ? config.Roots.Procfs : "/proc",
            Metrics = new MetricSelection(config.Metrics.Enable, config.Metrics.Disable),
            NodeName = Environment.GetEnvironmentVariable("K8S_NODE_NAME"),
            ServiceInstanceId = config.Resource.ServiceInstanceId,
            CardinalityLimit = MetricSeriesLimit.For(config),
        });
        builder.Services.AddOpenTelemetry().WithMetrics(b =>
        {
            pipeline.ConfigureMetrics(b);
            if (otlp.Enabled)
            {
                OtlpExportConfigurator.AddOtlp(b, otlp);
            }
        });
        builder.Services.AddSingleton(sp => new AgentRunner(config, env, store, sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddHostedService(sp => new AgentWorker(this, sp.GetRequiredService<AgentRunner>(), web, sp.GetRequiredService<ILogger<AgentWorker>>()));

        await using WebApplication app = builder.Build();
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<AgentHost>();
        Runner = app.Services.GetRequiredService<AgentRunner>();
        RecordEndpoint? record = null;
        if (config.Prometheus.Enabled)
        {
            AgentRunner runner = Runner;
            MetricsEndpoint.UseEndpoint(app, endpointOptions, web, pipeline.Scrape);
            // RequestDelegate handlers: the Delegate overloads bind parameters by reflection (not in NativeAOT).
            app.MapGet("/healthz", ctx => Results.Text("ok\n").ExecuteAsync(ctx));
            app.MapGet("/readyz", ctx => Readiness(runner, store).ExecuteAsync(ctx));
            // Always mapped: it answers 404 itself while exporters.prometheus.record.enabled is
            // false, so a reload can turn it on. Behind UseEndpoint's auth; never on the health listener.
            record = new RecordEndpoint(runner, env, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<RecordEndpoint>(), app.Lifetime.ApplicationStopping);
            app.Map(RecordEndpoint.Path, record.HandleAsync);
            app.MapGet("/", ctx => Results.Text("damon-otel: /metrics /healthz /readyz\n").ExecuteAsync(ctx));
        }

        if (otlp.Enabled)
        {
            LogOtlp(logger, otlp.Endpoint.ToString(), otlp.Protocol.ToString());
        }

        using PosixSignalRegistration hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true;
            RequestReload();
        });
        using var watcher = new ConfigWatcher(WatchedFiles, RequestReload, settings.ConfigPollInterval);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            LogCannotListen(logger, config.Prometheus.Listen, e.Message);
            return 1;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }

        if (listeners is not null)
        {
            LogListening(logger, Url(listeners.Metrics, web.TlsEnabled));
            if (listeners.Health is not null)
            {
                LogHealthListening(logger, Url(listeners.Health, tls: false));
            }
        }

        using CancellationTokenRegistration watchdog = settings.ExitProcessAfterStopBudget is { } grace
            ? app.Lifetime.ApplicationStopping.Register(() => _ = ExitIfStuckAsync(logger, StopBudget + grace))
            : default;
        await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        if (record is not null)
        {
            // Cancelled by ApplicationStopping; wait for it to remove its tracefs instance.
            try
            {
                await record.Current.WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                LogRecordStillRunning(logger);
            }
        }

        return 0;
    }

    /// <summary>
    /// Ready = serving and at least one DAMON source up: a kdamond or DAMON module that runs and
    /// whose source collected within 3 of its intervals. Not ready when there is no such source
    /// (nothing to monitor yet, or DAMON missing). One stale source among several keeps the pod
    /// ready (its own series say so), so a rolling update does not stall on it. Configured
    /// kdamonds blocked by an exclusive kernel module (DAMON_STAT, ...) make it not ready: that
    /// config cannot work on this node, and a rollout should stop on it.
    /// </summary>
    internal static IResult Readiness(AgentRunner runner, ObservationStore store)
    {
        string? problems = NotReadyBecause(runner, store, out string report);
        return problems is null
            ? Results.Text("ready\n" + report)
            : Results.Text("not ready: " + problems + "\n" + report, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>Why the agent is not ready (null when ready); <paramref name="report"/> has one line per source.</summary>
    internal static string? NotReadyBecause(AgentRunner runner, ObservationStore store) => NotReadyBecause(runner, store, out string report) is null ? null : report;

    private static string? NotReadyBecause(AgentRunner runner, ObservationStore store, out string reportText)
    {
        StoreSnapshot snap = store.Current;
        var running = new HashSet<string>(snap.Kdamonds.Where(k => k.Up).Select(k => k.Source), StringComparer.Ordinal);
        var report = new StringBuilder();
        int up = 0;
        bool blocked = false;
        foreach (string source in runner.SourceNames.Order(StringComparer.Ordinal))
        {
            bool isDamon = source.StartsWith("kdamond/", StringComparison.Ordinal) || source.StartsWith("module/", StringComparison.Ordinal);
            if (!snap.Sources.TryGetValue(source, out SourceState? s) || s.LastSuccessTicks is null)
            {
                // Say why when the source failed: e.g. kdamonds blocked by DAMON_STAT, with the remedies.
                report.Append(source).Append(": no successful collection yet");
                if (s?.LastError is not null)
                {
                    report.Append(" (").Append(s.LastError.Message).Append(')');
                    blocked |= s.LastError is Collection.SourceBlockedException;
                }

                report.Append('\n');
            }
            else if (store.SnapshotAgeSeconds(s) is double age && age > 3 * Math.Max(runner.Config.Collection.Interval.TotalSeconds, 1))
            {
                report.Append(source).Append(": last success ").Append(age.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)).Append(" s ago");
                if (s.LastError is not null)
                {
                    report.Append(" (").Append(s.LastError.Message).Append(')');
                }

                report.Append('\n');
            }
            else if (isDamon && !running.Contains(source))
            {
                report.Append(source).Append(": not running\n");
            }
            else
            {
                up += isDamon ? 1 : 0;
                report.Append(source).Append(": up\n");
            }
        }

        reportText = report.ToString();
        return blocked ? "configured kdamonds cannot start (see below)"
            : up == 0 ? "no DAMON source is up (no kdamond or DAMON module runs and collects)"
            : null;
    }

    private static async Task ExitIfStuckAsync(ILogger logger, TimeSpan after)
    {
        await Task.Delay(after).ConfigureAwait(false);
        LogStopStuck(logger, after.TotalSeconds);
        Environment.Exit(1);
    }

    private static string Url(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions? listener, bool tls) =>
        (tls ? "https://" : "http://") + (listener?.IPEndPoint?.ToString() ?? "?");

    private List<string> WatchedFiles()
    {
        var files = new List<string>();
        if (configPath is not null)
        {
            files.Add(configPath);
        }

        if ((Runner?.Config.Prometheus.WebConfigFile ?? WebConfigPath) is { } web)
        {
            files.Add(web);
        }

        if ((Runner?.Config ?? config).Prometheus.WebConfig?.Tls is { } tls)
        {
            files.Add(tls.CertFile);
            files.Add(tls.KeyFile);
            if (tls.ClientCaFile is not null)
            {
                files.Add(tls.ClientCaFile);
            }
        }

        return files;
    }

    private void ConfigureLogging(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(settings.Log.Level);
        // Kestrel's connection chatter stays at debug; its errors (bad requests, TLS) come through.
        logging.AddFilter("Microsoft.AspNetCore", settings.Log.Level > LogLevel.Warning ? settings.Log.Level : LogLevel.Warning);
        if (settings.ConfigureLogging is { } configure)
        {
            configure(logging);
            return;
        }

        if (settings.Log.Format == "json")
        {
            logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            logging.Services.AddSingleton<ConsoleFormatter>(new LogfmtFormatter(SystemdHelpers.IsSystemdService()));
            logging.AddConsole(o => o.FormatterName = LogfmtFormatter.FormatterName);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Serving /metrics, /healthz, /readyz on {Addresses}")]
    private static partial void LogListening(ILogger logger, string addresses);

    [LoggerMessage(EventId = 9, Level = LogLevel.Information, Message = "Serving /healthz, /readyz (plain HTTP, no auth) on {Address}")]
    private static partial void LogHealthListening(ILogger logger, string address);

    [LoggerMessage(EventId = 10, Level = LogLevel.Critical, Message = "Stopping did not finish within {Seconds} s; exiting anyway")]
    private static partial void LogStopStuck(ILogger logger, double seconds);

    [LoggerMessage(EventId = 7, Level = LogLevel.Critical, Message = "Cannot listen on {Listen}: {Reason}")]
    private static partial void LogCannotListen(ILogger logger, string listen, string reason);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "A record capture did not end within 2 s of stopping; exiting anyway")]
    private static partial void LogRecordStillRunning(ILogger logger);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Pushing OTLP to {Endpoint} ({Protocol})")]
    private static partial void LogOtlp(ILogger logger, string endpoint, string protocol);
}
