using System.CommandLine;
using System.Globalization;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Analysis.Reports;
using DamonOtel.Damon.Features;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Simulator;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Cli;

/// <summary>The `damon-otel` command line: run, check-config, snapshot, features.</summary>
internal static class CommandLine
{
    public const string DefaultConfigPath = "/etc/damon-otel/config.yaml";

    private static readonly Option<string?> SysfsRoot = new("--sysfs-root") { Description = "Where sysfs is mounted (default /sys; containers: /host/sys)" };
    private static readonly Option<string?> TracefsRoot = new("--tracefs-root") { Description = "Where tracefs is mounted (default /sys/kernel/tracing)" };
    private static readonly Option<string?> ProcfsRoot = new("--procfs-root") { Description = "Where procfs is mounted (default /proc)" };

    public static RootCommand Build()
    {
        var root = new RootCommand("damon-otel: DAMON (the Linux data access monitor) as OpenTelemetry and Prometheus metrics");
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(CheckConfigCommand());
        root.Subcommands.Add(SnapshotCommand());
        root.Subcommands.Add(FeaturesCommand());
        return root;
    }

    private static Command RunCommand()
    {
        var config = new Option<string?>("--config", "-c") { Description = $"YAML config file (default {DefaultConfigPath} when it exists)" };
        var simulate = new Option<string?>("--simulate")
        {
            Description = $"Run on the built-in simulated DAMON kernel with a workload: {string.Join(", ", SimulatedWorkloads.Names)} (default steady)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var listen = new Option<string?>("--listen") { Description = "ADDRESS:PORT of /metrics, /healthz, /readyz (overrides exporters.prometheus.listen; default :9464)" };
        var stateDir = new Option<string?>("--state-dir") { Description = "Where owned kdamonds are recorded (default /run/damon-otel)" };
        var cmd = new Command("run", "Run the agent: start the configured kdamonds, observe the others, export metrics")
        {
            config, simulate, listen, SysfsRoot, TracefsRoot, ProcfsRoot, stateDir,
        };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            string? path = parse.GetValue(config) ?? (File.Exists(DefaultConfigPath) ? DefaultConfigPath : null);
            AgentConfig cfg;
            try
            {
                cfg = path is null ? new AgentConfig() : ConfigLoader.LoadFile(path);
            }
            catch (ConfigException e)
            {
                await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
                return 2;
            }

            using ILoggerFactory loggers = CreateLoggers();
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
                    StateDir = parse.GetValue(stateDir) ?? Path.Combine(Path.GetTempPath(), $"damon-otel-sim-{Environment.ProcessId}"),
                };
            }
            else
            {
                cfg = cfg with { Roots = Roots(parse, cfg.Roots), StateDir = parse.GetValue(stateDir) ?? cfg.StateDir };
                env = KernelEnvironment.Real(cfg.Roots);
            }

            if (parse.GetValue(listen) is string l)
            {
                if (!ListenAddress.TryValidate(l, out string error))
                {
                    await Console.Error.WriteLineAsync("--listen: " + error).ConfigureAwait(false);
                    return 2;
                }

                cfg = cfg with { Prometheus = cfg.Prometheus with { Listen = l } };
            }

            await using (env.ConfigureAwait(false))
            {
                using var host = new AgentHost(cfg, env, path, loggers);
                return await host.RunAsync(cancellationToken).ConfigureAwait(false);
            }
        });
        return cmd;
    }

    private static Command CheckConfigCommand()
    {
        var file = new Argument<string>("FILE") { Description = "The YAML config file to validate" };
        var cmd = new Command("check-config", "Validate a config file: exit 0, or print every error with its file, line and key") { file };
        cmd.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            try
            {
                AgentConfig c = ConfigLoader.LoadFile(path);
                Console.WriteLine($"{path}: OK ({c.Kdamonds.Count} kdamond(s){(c.Kdamonds.Count > 0 ? ": " + string.Join(", ", c.Kdamonds.Select(k => k.Name)) : string.Empty)})");
                return 0;
            }
            catch (ConfigException e)
            {
                Console.Error.WriteLine(e.Message);
                Console.Error.WriteLine($"{path}: {e.Errors.Count} error(s)");
                return 1;
            }
        });
        return cmd;
    }

    private static Command SnapshotCommand()
    {
        var noRefresh = new Option<bool>("--no-refresh") { Description = "Read the tried_regions already in sysfs; write nothing at all" };
        var format = new Option<string>("--format") { Description = "text (like damo report access) or json", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var simulate = new Option<string?>("--simulate") { Description = "Snapshot a simulated kernel running this workload", Arity = ArgumentArity.ZeroOrOne };
        var repeat = new Option<int>("--repeat") { Description = "Take N consecutive snapshots in this process", DefaultValueFactory = _ => 1 };
        var config = new Option<string?>("--config", "-c") { Description = "Config file for metric options (percentiles) and attach.refresh" };
        var stateDir = new Option<string?>("--state-dir") { Description = "Where the agent records its kdamonds (default /run/damon-otel)" };
        var cmd = new Command("snapshot", "Print access summaries of the running kdamonds' monitoring schemes (tried_regions)")
        {
            noRefresh, format, simulate, repeat, config, stateDir, SysfsRoot, TracefsRoot, ProcfsRoot,
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

            bool refresh = !parse.GetValue(noRefresh);
            KernelEnvironment env;
            KdamondManager? manager = null;
            using ILoggerFactory loggers = CreateLoggers(LogLevel.Warning);
            if (parse.GetResult(simulate) is not null)
            {
                string workload = parse.GetValue(simulate) ?? "steady";
                env = KernelEnvironment.Simulate(workload);
                AgentConfig simCfg = SimulationConfig.For(workload, cfg) with { Roots = env.Roots, StateDir = Path.Combine(Path.GetTempPath(), $"damon-otel-snap-{Environment.ProcessId}") };
                simCfg = simCfg with { Kdamonds = [.. simCfg.Kdamonds.Select(k => k with { RegionSource = RegionSource.TriedRegions })] };
                manager = new KdamondManager(env, simCfg, loggers.CreateLogger<KdamondManager>());
                await manager.StartAsync(cancellationToken).ConfigureAwait(false);

                // Let the simulated kdamonds refine their regions first (about 50 aggregations),
                // by simulated time: on a loaded machine the Simulator runs behind the wall clock.
                TimeSpan warmUp = env.Simulator!.Now + TimeSpan.FromSeconds(5);
                for (int i = 0; i < 600 && env.Simulator.Now < warmUp; i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                env = KernelEnvironment.Real(Roots(parse, cfg.Roots));
            }

            await using (env.ConfigureAwait(false))
            {
                IReadOnlySet<int> writable = !refresh ? new HashSet<int>()
                    : manager is not null ? manager.OwnedIndexes
                    : cfg.Attach.Refresh ? AllIndexes(env)
                    : OwnedIndexes(parse.GetValue(stateDir) ?? cfg.StateDir);
                StateCommands? commands = refresh ? new StateCommands(env.Fs, env.Roots, KdamondManager.CommandOptions(cfg)) : null;
                var taker = new SnapshotTaker(env, cfg.Metrics.Access, commands, writable);
                int n = Math.Max(1, parse.GetValue(repeat));
                try
                {
                    for (int i = 0; i < n; i++)
                    {
                        IReadOnlyList<SnapshotReportTarget> targets = await taker.TakeAsync(cancellationToken).ConfigureAwait(false);
                        Console.WriteLine(parse.GetValue(format) == "json" ? SnapshotReport.ToJson(targets) : SnapshotReport.ToText(targets));
                    }
                }
                catch (Exception e) when (e is KernelIoException or StateCommandException or InvalidOperationException)
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

    private static Command FeaturesCommand()
    {
        var cmd = new Command("features", "Show what this kernel's DAMON supports (read-only: looks at existing files, writes nothing)")
        {
            SysfsRoot, TracefsRoot, ProcfsRoot,
        };
        cmd.SetAction(parse =>
        {
            KernelRoots roots = Roots(parse, KernelRoots.Default);
            DamonFeatures f = FeatureProbe.Detect(LinuxKernelFs.Instance, roots);
            foreach ((string name, string value) in FeatureTable(f))
            {
                Console.WriteLine($"{name,-28} {value}");
            }

            return f.Sysfs ? 0 : 1;
        });
        return cmd;
    }

    internal static IEnumerable<(string Name, string Value)> FeatureTable(DamonFeatures f)
    {
        static string YesNo(bool? b) => b switch { true => "yes", false => "no", null => "unknown (no kdamond to inspect)" };
        yield return ("sysfs", YesNo(f.Sysfs));
        yield return ("operations", f.OperationSets is { } ops ? string.Join(" ", ops) : "unknown");
        yield return ("tried_regions", YesNo(f.TriedRegions));
        yield return ("tried_regions/total_bytes", YesNo(f.TriedRegionsTotalBytes));
        yield return ("apply_interval_us", YesNo(f.ApplyIntervalUs));
        yield return ("quota goals", YesNo(f.QuotaGoals));
        yield return ("effective_bytes", YesNo(f.EffectiveBytes));
        yield return ("target_nid", YesNo(f.TargetNid));
        yield return ("filters", YesNo(f.Filters));
        yield return ("core/ops filters", YesNo(f.CoreOpsFilters));
        yield return ("filter allow", YesNo(f.FilterAllow));
        yield return ("sz_ops_filter_passed", YesNo(f.SzOpsFilterPassed));
        yield return ("intervals_goal", YesNo(f.IntervalsGoal));
        yield return ("refresh_ms", YesNo(f.RefreshMs));
        yield return ("addr_unit", YesNo(f.AddrUnit));
        yield return ("dests", YesNo(f.Dests));
        yield return ("obsolete_target", YesNo(f.ObsoleteTarget));
        yield return ("nr_snapshots", YesNo(f.NrSnapshots));
        yield return ("goal_tuner", YesNo(f.GoalTuner));
        yield return ("pause", YesNo(f.Pause));
        yield return ("tracepoints", f.Tracepoints is { } t ? (t.Count == 0 ? "none" : string.Join(" ", t)) : "unknown (tracefs not at its root)");
        yield return ("module damon_stat", YesNo(f.ModuleDamonStat));
        yield return ("module damon_reclaim", YesNo(f.ModuleDamonReclaim));
        yield return ("module damon_lru_sort", YesNo(f.ModuleDamonLruSort));
    }

    private static KernelRoots Roots(ParseResult parse, KernelRoots fallback) => new(
        parse.GetValue(SysfsRoot) ?? fallback.Sysfs,
        parse.GetValue(TracefsRoot) ?? (parse.GetValue(SysfsRoot) is string s && fallback == KernelRoots.Default ? Path.Combine(s, "kernel", "tracing") : fallback.Tracefs),
        parse.GetValue(ProcfsRoot) ?? fallback.Procfs);

    private static HashSet<int> OwnedIndexes(string stateDir) =>
        new OwnershipStore(stateDir).Load()?.Kdamonds.Select(k => k.Index).ToHashSet() ?? [];

    private static HashSet<int> AllIndexes(KernelEnvironment env)
    {
        string nr = Path.Combine(env.Roots.Kdamonds, "nr_kdamonds");
        return env.Fs.FileExists(nr) && int.TryParse(env.Fs.ReadText(nr).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            ? [.. Enumerable.Range(0, n)]
            : [];
    }

    private static ILoggerFactory CreateLoggers(LogLevel level = LogLevel.Information) => LoggerFactory.Create(b => b
        .SetMinimumLevel(level)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        }));
}
