using System.CommandLine;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Simulator;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Cli;

/// <summary>`damon-otel run`: load the config (or the simulation one), resolve roots and listen address, run <see cref="AgentHost"/>.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config", "-c") { Description = $"YAML config file (default {CommandLine.DefaultConfigPath} when it exists)" };
        var simulate = new Option<string?>("--simulate")
        {
            Description = $"Run on the built-in simulated DAMON kernel with a workload: {string.Join(", ", SimulatedWorkloads.Names)} (default steady)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var listen = new Option<string?>("--web.listen-address", "--listen") { Description = "ADDRESS:PORT of /metrics, /healthz, /readyz (overrides exporters.prometheus.listen; default :9464)" };
        var webConfig = new Option<string?>("--web.config.file") { Description = "web_config file for TLS and basic auth (overrides exporters.prometheus.web_config; reloaded like the config)" };
        var healthListen = new Option<string?>("--web.health-listen-address") { Description = "ADDRESS:PORT of a plain-HTTP listener serving only /healthz and /readyz (overrides exporters.prometheus.health_listen)" };
        var logLevel = new Option<string?>("--log.level") { Description = "Log level: debug, info (default), warn, error (overrides log.level)" };
        var logFormat = new Option<string?>("--log.format") { Description = "Log format: logfmt (default) or json (overrides log.format)" };
        var stateDir = new Option<string?>("--state-dir") { Description = "Where owned kdamonds are recorded (default /run/damon-otel)" };
        var cmd = new Command("run", "Run the agent: start the configured kdamonds, observe the others, export metrics")
        {
            config, simulate, listen, webConfig, healthListen, KernelRootOptions.Sysfs, KernelRootOptions.Tracefs, KernelRootOptions.Procfs, stateDir, logLevel, logFormat,
        };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            string? path = parse.GetValue(config) ?? (File.Exists(CommandLine.DefaultConfigPath) ? CommandLine.DefaultConfigPath : null);
            AgentConfig cfg;
            try
            {
                cfg = path is null ? ConfigLoader.Defaults() : ConfigLoader.LoadFile(path);
            }
            catch (ConfigException e)
            {
                await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
                return 2;
            }

            LogSettings log = cfg.Log;
            if (parse.GetValue(logLevel) is string level)
            {
                if (!LogSettings.TryParseLevel(level, out LogLevel parsed))
                {
                    await Console.Error.WriteLineAsync($"--log.level: unknown level '{level}' (known: {string.Join(", ", LogSettings.Levels)})").ConfigureAwait(false);
                    return 2;
                }

                log = log with { Level = parsed };
            }

            if (parse.GetValue(logFormat) is string format)
            {
                if (!LogSettings.Formats.Contains(format))
                {
                    await Console.Error.WriteLineAsync($"--log.format: unknown format '{format}' (known: {string.Join(", ", LogSettings.Formats)})").ConfigureAwait(false);
                    return 2;
                }

                log = log with { Format = format };
            }

            string? webConfigPath = parse.GetValue(webConfig);
            if (webConfigPath is not null)
            {
                try
                {
                    cfg = cfg with { Prometheus = cfg.Prometheus with { WebConfigFile = webConfigPath, WebConfig = ConfigLoader.LoadWebConfig(webConfigPath) } };
                }
                catch (ConfigException e)
                {
                    await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
                    return 2;
                }
            }

            using var simulationState = parse.GetResult(simulate) is not null && parse.GetValue(stateDir) is null ? new PrivateTempDirectory("damon-otel-sim-") : null;
            KernelEnvironment env;
            if (parse.GetResult(simulate) is not null)
            {
                string workload = parse.GetValue(simulate) ?? "steady";
                if (!SimulatedWorkloads.Names.Contains(workload))
                {
                    await Console.Error.WriteLineAsync($"--simulate: unknown workload '{workload}' (known: {string.Join(", ", SimulatedWorkloads.Names)})").ConfigureAwait(false);
                    return 2;
                }

                env = KernelEnvironment.Simulate(workload);
                cfg = (parse.GetValue(config) is null ? SimulationConfig.For(workload, cfg) : cfg) with
                {
                    Roots = env.Roots,
                    StateDir = parse.GetValue(stateDir) ?? simulationState!.Path,
                };
            }
            else
            {
                cfg = cfg with { Roots = KernelRootOptions.Resolve(parse, cfg.Roots), StateDir = parse.GetValue(stateDir) ?? cfg.StateDir };
                env = KernelEnvironment.Real(cfg.Roots);
            }

            if (parse.GetValue(listen) is string l)
            {
                if (!ListenAddress.TryValidate(l, out string error))
                {
                    await Console.Error.WriteLineAsync("--web.listen-address: " + error).ConfigureAwait(false);
                    return 2;
                }

                cfg = cfg with { Prometheus = cfg.Prometheus with { Listen = l } };
            }

            if (parse.GetValue(healthListen) is string h)
            {
                if (!ListenAddress.TryValidate(h, out string error))
                {
                    await Console.Error.WriteLineAsync("--web.health-listen-address: " + error).ConfigureAwait(false);
                    return 2;
                }

                cfg = cfg with { Prometheus = cfg.Prometheus with { HealthListen = h } };
            }

            await using (env.ConfigureAwait(false))
            {
                using var host = new AgentHost(cfg, env, path, new HostSettings { Log = log, WebConfigPath = webConfigPath, ExitProcessAfterStopBudget = TimeSpan.FromSeconds(2) });
                return await host.RunAsync(cancellationToken).ConfigureAwait(false);
            }
        });
        return cmd;
    }
}
