using System.CommandLine;
using System.Globalization;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Status;
using DamonOtel.Damon.IO;
using DamonOtel.Simulator;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Cli;

/// <summary>
/// `damon-otel status [--format text|json]`: every kdamond's parameters, targets, schemes and
/// statistics (what `damo report damon` shows), the DAMON modules, and which of them the agent
/// owns, attaches to or ignores. Read-only. The JSON is documented in docs/status.md.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format") { Description = "text (like damo report damon) or json (docs/status.md)", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var config = new Option<string?>("--config", "-c") { Description = "The agent's config: its attach settings and the names of its kdamonds' schemes" };
        var stateDir = new Option<string?>("--state-dir") { Description = "Where the agent records its kdamonds (default /run/damon-otel)" };
        var simulate = new Option<string?>("--simulate") { Description = "Show a simulated kernel running this workload, with the agent's simulation kdamonds", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("status", "Show every kdamond (parameters, targets, schemes, stats) and DAMON module, and whether the agent owns, attaches to or ignores it; read-only")
        {
            format, config, stateDir, simulate, KernelRootOptions.Sysfs, KernelRootOptions.Tracefs, KernelRootOptions.Procfs,
        };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            AgentConfig cfg;
            try
            {
                cfg = parse.GetValue(config) is string p ? ConfigLoader.LoadFile(p) : new AgentConfig();
            }
            catch (ConfigException e)
            {
                await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
                return 2;
            }

            StatusSnapshot status;
            try
            {
                if (parse.GetResult(simulate) is not null)
                {
                    string workload = parse.GetValue(simulate) ?? "steady";
                    if (!SimulatedAgent.IsKnown(workload))
                    {
                        await Console.Error.WriteLineAsync($"--simulate: unknown workload '{workload}' (known: {string.Join(", ", SimulatedWorkloads.Names)})").ConfigureAwait(false);
                        return 2;
                    }

                    using ILoggerFactory loggers = CommandLine.CreateLoggers(LogLevel.Warning);
                    await using SimulatedAgent sim = await SimulatedAgent.StartAsync(workload, cfg, loggers, cancellationToken).ConfigureAwait(false);
                    status = StatusReader.Read(sim.Env.Fs, sim.Env.Roots, sim.Config, KdamondNames.Owned(sim.Config.StateDir, sim.Env.Fs, sim.Env.Roots), pid => Directory.Exists($"/proc/{pid}"));
                }
                else
                {
                    KernelRoots roots = KernelRootOptions.Resolve(parse, cfg.Roots);
                    cfg = cfg with { Roots = roots, StateDir = parse.GetValue(stateDir) ?? cfg.StateDir };
                    status = StatusReader.Read(LinuxKernelFs.Instance, roots, cfg, KdamondNames.Owned(cfg.StateDir, LinuxKernelFs.Instance, roots), pid => LinuxKernelFs.Instance.DirectoryExists(roots.Proc(pid.ToString(CultureInfo.InvariantCulture))));
                }
            }
            catch (KernelIoException e)
            {
                await Console.Error.WriteLineAsync("status: " + e.Message).ConfigureAwait(false);
                return 1;
            }

            Console.Out.Write(parse.GetValue(format) == "json" ? StatusReport.ToJson(status) : StatusReport.ToText(status));
            return 0;
        });
        return cmd;
    }
}
