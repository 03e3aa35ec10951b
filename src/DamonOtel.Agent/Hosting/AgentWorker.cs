using DamonOtel.Agent.Configuration;
using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Observations;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// The DAMON side as a hosted service: starts <see cref="AgentRunner"/>, then re-plans on each
/// collection interval (others' kdamonds come and go) and applies reloads (SIGHUP, config or
/// web_config changes). Stopping is bounded (<see cref="AgentHost.StopBudget"/>): sources stuck
/// in a kernel call are abandoned, our kdamonds are stopped anyway, the tracefs instance removed.
/// </summary>
internal sealed partial class AgentWorker(AgentHost host, AgentRunner runner, WebConfigState web, ILogger<AgentWorker> logger) : BackgroundService
{
    // Editors write a file in several steps: a reload waits this long for it to settle.
    private static readonly TimeSpan ConfigSettleDelay = TimeSpan.FromMilliseconds(200);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        LogStopping();
        using var budget = new CancellationTokenSource(AgentHost.StopBudget - TimeSpan.FromSeconds(1));
        try
        {
            // Ends the loop; a reload in progress gets a moment to finish.
            await base.StopAsync(budget.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await runner.StopAsync(budget.Token).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await runner.StartAsync(stoppingToken).ConfigureAwait(false);
        host.Started.TrySetResult();
        while (!stoppingToken.IsCancellationRequested)
        {
            bool reload;
            try
            {
                reload = await host.WaitForReloadAsync(runner.Config.Collection.Interval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            try
            {
                if (reload)
                {
                    await ReloadAsync(stoppingToken).ConfigureAwait(false);
                }
                else
                {
                    await runner.DiscoverAsync(stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
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

    private async Task ReloadAsync(CancellationToken cancellationToken)
    {
        if (host.ConfigPath is null && host.WebConfigPath is null)
        {
            LogNothingToReload();
            return;
        }

        await Task.Delay(ConfigSettleDelay, cancellationToken).ConfigureAwait(false);
        AgentConfig next;
        try
        {
            next = host.LoadConfig();
        }
        catch (ConfigException e)
        {
            LogReloadRejected(host.ConfigPath ?? host.WebConfigPath!, e.Message);
            return;
        }

        // The listeners stay as started; their TLS material and users follow the new web_config.
        try
        {
            web.Apply(next.Prometheus.WebConfig ?? WebConfig.None);
        }
        catch (WebConfigException e)
        {
            LogReloadRejected(next.Prometheus.WebConfigFile ?? "web_config", e.Message);
            return;
        }

        await runner.ReloadAsync(next with { Prometheus = runner.Config.Prometheus with { WebConfig = next.Prometheus.WebConfig, WebConfigFile = next.Prometheus.WebConfigFile } }, cancellationToken).ConfigureAwait(false);
        LogReloaded(host.ConfigPath ?? host.WebConfigPath!);
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Stopping")]
    private partial void LogStopping();

    [LoggerMessage(EventId = 8, Level = LogLevel.Error, Message = "Config {What} failed: {Reason}; still serving")]
    private partial void LogHousekeepingFailed(string what, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "New config {File} is invalid; keeping the running one:\n{Errors}")]
    private partial void LogReloadRejected(string file, string errors);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Reloaded {File}")]
    private partial void LogReloaded(string file);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Reload requested, but the agent runs without a config file")]
    private partial void LogNothingToReload();
}
