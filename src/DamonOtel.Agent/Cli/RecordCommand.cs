using System.CommandLine;
using System.Globalization;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Interop;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Simulator;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Cli;

/// <summary>
/// `damon-otel record --kdamond NAME --duration D --output FILE`: captures a kdamond's region
/// snapshots into a damo record file (json_compressed, what `damo record` writes by default),
/// for `damo report access|wss|heatmap --input FILE`. See <see cref="RegionRecorder"/>.
/// </summary>
internal static class RecordCommand
{
    /// <summary>The longest capture one command takes (a record holds every aggregation: about 36,000 per hour at 100 ms).</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);

    public static Command Create()
    {
        var kdamond = new Option<string>("--kdamond", "-k") { Description = "The kdamond: its name in the agent's config, or its index under kdamonds/", Required = true };
        var duration = new Option<string>("--duration", "-d") { Description = "How long to record, e.g. 10s or 1m (at most 1h)", DefaultValueFactory = _ => "10s" };
        var output = new Option<string>("--output", "-o") { Description = "The record file to write (mode 0600), for damo report --input", Required = true };
        var source = new Option<string>("--source") { Description = "auto (tracepoint when available), tracepoint or tried_regions", DefaultValueFactory = _ => "auto" };
        source.AcceptOnlyFromAmong("auto", "tracepoint", "tried_regions");
        var snapshots = new Option<int>("--snapshots") { Description = "Stop after N snapshots (0: record for the whole duration)", DefaultValueFactory = _ => 0 };
        var simulate = new Option<string?>("--simulate") { Description = "Record from a simulated kernel running this workload", Arity = ArgumentArity.ZeroOrOne };
        var config = new Option<string?>("--config", "-c") { Description = "Config file: attach.refresh allows tried_regions on kdamonds the agent did not start" };
        var stateDir = new Option<string?>("--state-dir") { Description = "Where the agent records its kdamonds (default /run/damon-otel): names them" };
        var cmd = new Command("record", "Record a kdamond's region snapshots into a damo record file (json_compressed) for damo report access, wss and heatmap")
        {
            kdamond, duration, output, source, snapshots, simulate, config, stateDir, KernelRootOptions.Sysfs, KernelRootOptions.Tracefs, KernelRootOptions.Procfs,
        };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            if (!Units.TryParseTimeUs(parse.GetValue(duration)!, 1_000_000, out ulong us, out string timeError) || us == 0 || us > (ulong)(MaxDuration.Ticks / 10))
            {
                await Console.Error.WriteLineAsync($"--duration: {(timeError.Length > 0 ? timeError : $"must be above 0 and at most {MaxDuration.TotalHours:0} h")}").ConfigureAwait(false);
                return 2;
            }

            if (parse.GetValue(snapshots) < 0)
            {
                await Console.Error.WriteLineAsync("--snapshots: must be 0 or more").ConfigureAwait(false);
                return 2;
            }

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

            RecordSource from = RecordSources.Parse(parse.GetValue(source) ?? "auto") ?? RecordSource.Auto;
            using ILoggerFactory loggers = CommandLine.CreateLoggers(LogLevel.Warning);
            SimulatedAgent? sim = null;
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

                    sim = await SimulatedAgent.StartAsync(workload, cfg, loggers, cancellationToken).ConfigureAwait(false);
                    return await RunAsync(sim.Env, sim.Config, [.. sim.Manager.Owned.Select(m => new NamedKdamond(m.Config.Name, m.Index, true))], parse.GetValue(kdamond)!, TimeSpan.FromTicks((long)us * 10), from, parse.GetValue(snapshots), parse.GetValue(output)!, cancellationToken).ConfigureAwait(false);
                }

                KernelRoots roots = KernelRootOptions.Resolve(parse, cfg.Roots);
                cfg = cfg with { Roots = roots, StateDir = parse.GetValue(stateDir) ?? cfg.StateDir };
                await using KernelEnvironment env = KernelEnvironment.Real(roots);
                IReadOnlyList<NamedKdamond> owned = KdamondNames.Owned(cfg.StateDir, env.Fs, roots);
                return await RunAsync(env, cfg, owned, parse.GetValue(kdamond)!, TimeSpan.FromTicks((long)us * 10), from, parse.GetValue(snapshots), parse.GetValue(output)!, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (sim is not null)
                {
                    await sim.DisposeAsync().ConfigureAwait(false);
                }
            }
        });
        return cmd;
    }

    private static async Task<int> RunAsync(KernelEnvironment env, AgentConfig cfg, IReadOnlyList<NamedKdamond> owned, string name, TimeSpan duration, RecordSource source, int maxSnapshots, string output, CancellationToken cancellationToken)
    {
        if (KdamondNames.Find(name, owned, env.Fs, env.Roots, out string error) is not NamedKdamond target)
        {
            await Console.Error.WriteLineAsync("record: " + error).ConfigureAwait(false);
            return 1;
        }

        var commands = new StateCommands(env.Fs, env.Roots, KdamondManager.CommandOptions(cfg), env.Time);
        var recorder = new RegionRecorder(env, commands, index => owned.Any(o => o.Index == index) || cfg.Attach.Refresh);
        RecordResult result;
        try
        {
            result = await recorder.RecordAsync(new RecordRequest(target.Name, target.Index, duration, source, maxSnapshots), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RecordException or KernelIoException or StateCommandException)
        {
            await Console.Error.WriteLineAsync("record: " + e.Message).ConfigureAwait(false);
            return 1;
        }

        try
        {
            RecordFile.Write(output, result);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"record: cannot write {output}: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        int targets = result.Snapshots.Select(s => s.Snapshot.TargetIndex).Distinct().Count();
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"recorded {result.Snapshots.Count} snapshot(s) of kdamond {target.Name} ({targets} target(s)) from {RegionRecorder.Describe(result.Source)} into {output}"));
        Console.WriteLine($"read it with: damo report access --input {output}   (also: damo report wss, damo report heatmap)");
        return 0;
    }
}
