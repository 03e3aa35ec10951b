using System.CommandLine;
using System.Globalization;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Analysis.Reports;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Simulator;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Cli;

/// <summary>`damon-otel snapshot`: print access summaries of the running kdamonds' tried_regions, like damo report access.</summary>
internal static class SnapshotCommand
{
    // --simulate: 5 s of simulated time (about 50 aggregations) before the first snapshot,
    // waited for in 100 ms steps, for at most 60 s of wall-clock time.
    private static readonly TimeSpan SimulatedWarmUp = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan WarmUpPoll = TimeSpan.FromMilliseconds(100);
    private const int MaxWarmUpPolls = 600;

    public static Command Create()
    {
        var noRefresh = new Option<bool>("--no-refresh") { Description = "Read the tried_regions already in sysfs; write nothing at all" };
        var format = new Option<string>("--format") { Description = "text (like damo report access) or json", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var simulate = new Option<string?>("--simulate") { Description = "Snapshot a simulated kernel running this workload", Arity = ArgumentArity.ZeroOrOne };
        var repeat = new Option<int>("--repeat") { Description = "Take N consecutive snapshots in this process", DefaultValueFactory = _ => 1 };
        var config = new Option<string?>("--config", "-c") { Description = "Config file for metric options (percentiles) and attach.refresh" };
        var stateDir = new Option<string?>("--state-dir") { Description = "Where the agent records its kdamonds (default /run/damon-otel)" };
        var raw = new Option<bool>("--raw") { Description = "DAMON's regions as they are (damo report access's numbers): vaddr targets keep the unmapped space their regions span" };
        var cmd = new Command("snapshot", "Print access summaries of the running kdamonds' monitoring schemes (tried_regions)")
        {
            noRefresh, format, simulate, repeat, config, stateDir, raw, KernelRootOptions.Sysfs, KernelRootOptions.Tracefs, KernelRootOptions.Procfs,
        };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            AgentConfig cfg;
            try
            {
                cfg = parse.GetValue(config) is string p ? ConfigLoader.LoadFile(p) : ConfigLoader.Defaults();
            }
            catch (ConfigException e)
            {
                await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
                return 2;
            }

            bool refresh = !parse.GetValue(noRefresh);
            KernelEnvironment env;
            KdamondManager? manager = null;
            using var simulationState = parse.GetResult(simulate) is null ? null : new PrivateTempDirectory("damon-otel-snap-");

            // Only the simulated kdamonds' manager logs: building the logger factory (its DI
            // container, its generic types made at run time) was a fifth of the command's CPU
            // on a real tree (bench/README.md, "Reading tried_regions").
            using ILoggerFactory? loggers = parse.GetResult(simulate) is null ? null : CommandLine.CreateLoggers(LogLevel.Warning);
            if (loggers is not null)
            {
                string workload = parse.GetValue(simulate) ?? "steady";
                if (!SimulatedWorkloads.Names.Contains(workload))
                {
                    await Console.Error.WriteLineAsync($"--simulate: unknown workload '{workload}' (known: {string.Join(", ", SimulatedWorkloads.Names)})").ConfigureAwait(false);
                    return 2;
                }

                env = KernelEnvironment.Simulate(workload);
                AgentConfig simCfg = SimulationConfig.For(workload, cfg) with { Roots = env.Roots, StateDir = simulationState!.Path };
                simCfg = simCfg with { Kdamonds = [.. simCfg.Kdamonds.Select(k => k with { RegionSource = RegionSource.TriedRegions })] };
                manager = new KdamondManager(env, simCfg, loggers.CreateLogger<KdamondManager>());
                await manager.StartAsync(cancellationToken).ConfigureAwait(false);

                // Let the simulated kdamonds refine their regions first (about 50 aggregations),
                // by simulated time: on a loaded machine the Simulator runs behind the wall clock.
                TimeSpan warmUp = env.Simulator!.Now + SimulatedWarmUp;
                for (int i = 0; i < MaxWarmUpPolls && env.Simulator.Now < warmUp; i++)
                {
                    await Task.Delay(WarmUpPoll, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                env = KernelEnvironment.Real(KernelRootOptions.Resolve(parse, cfg.Roots));
            }

            await using (env.ConfigureAwait(false))
            {
                int n = Math.Max(1, parse.GetValue(repeat));
                try
                {
                    IReadOnlySet<int> writable = !refresh ? new HashSet<int>()
                        : manager is not null ? manager.OwnedIndexes
                        : cfg.Attach.Refresh ? AllIndexes(env)
                        : OwnedIndexes(parse.GetValue(stateDir) ?? cfg.StateDir);
                    // The agent's EBUSY handling: its command deadline and retries, its read retries.
                    StateCommands? commands = refresh ? new StateCommands(env.Fs, env.Roots, KdamondManager.CommandOptions(cfg)) : null;
                    var taker = new SnapshotTaker(env, cfg.Metrics.Access, commands, writable, parse.GetValue(raw), KdamondManager.NewReader(env, cfg));
                    for (int i = 0; i < n; i++)
                    {
                        IReadOnlyList<SnapshotReportTarget> targets = await taker.TakeAsync(cancellationToken).ConfigureAwait(false);
                        Console.WriteLine(parse.GetValue(format) == "json" ? SnapshotReport.ToJson(targets) : SnapshotReport.ToText(targets));
                    }
                }
                catch (Exception e) when (e is KernelIoException or KernelFormatException or StateCommandException or InvalidOperationException)
                {
                    await Console.Error.WriteLineAsync("snapshot: " + e.Message).ConfigureAwait(false);
                    return 1;
                }
                finally
                {
                    if (manager is not null)
                    {
                        await manager.StopAsync(CancellationToken.None).ConfigureAwait(false);
                        manager.Dispose();
                    }
                }
            }

            return 0;
        });
        return cmd;
    }

    // An unusable record refreshes nothing (writes go only to kdamonds known to be the agent's).
    private static HashSet<int> OwnedIndexes(string stateDir)
    {
        try
        {
            return new OwnershipStore(stateDir).Load()?.Kdamonds.Select(k => k.Index).ToHashSet() ?? [];
        }
        catch (SafeFileException e)
        {
            Console.Error.WriteLine($"snapshot: ignoring the ownership record ({e.Message}); refreshing no kdamond");
            return [];
        }
    }

    private static HashSet<int> AllIndexes(KernelEnvironment env)
    {
        string nr = Path.Combine(env.Roots.Kdamonds, "nr_kdamonds");
        return env.Fs.FileExists(nr) && int.TryParse(env.Fs.ReadText(nr).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 0 and <= MaxKdamonds
            ? [.. Enumerable.Range(0, n)]
            : [];
    }

    // More kdamond dirs than any machine runs: a garbage nr_kdamonds is not believed.
    private const int MaxKdamonds = 4096;
}
