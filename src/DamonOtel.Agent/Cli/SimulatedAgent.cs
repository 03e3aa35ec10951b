using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Simulator;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Cli;

/// <summary>
/// `--simulate` for the one-shot commands (record, status): the built-in simulated kernel with
/// the agent's simulation kdamonds started (each with its tried_regions monitoring scheme, so
/// both record sources work), warmed up for a few simulated seconds so regions have settled.
/// Its state directory is private and removed on dispose.
/// </summary>
internal sealed class SimulatedAgent : IAsyncDisposable
{
    // 5 s of simulated time (about 50 aggregations), waited for in 100 ms steps, for at most 60 s.
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan WarmUpPoll = TimeSpan.FromMilliseconds(100);
    private const int MaxWarmUpPolls = 600;

    private SimulatedAgent(KernelEnvironment env, AgentConfig config, KdamondManager manager)
    {
        Env = env;
        Config = config;
        Manager = manager;
    }

    public KernelEnvironment Env { get; }

    public AgentConfig Config { get; }

    public KdamondManager Manager { get; }

    public static bool IsKnown(string workload) => SimulatedWorkloads.Names.Contains(workload);

    public static async Task<SimulatedAgent> StartAsync(string workload, AgentConfig baseConfig, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        KernelEnvironment env = KernelEnvironment.Simulate(workload);
        string stateDir = Directory.CreateTempSubdirectory("damon-otel-sim-").FullName;
        AgentConfig config = SimulationConfig.For(workload, baseConfig) with { Roots = env.Roots, StateDir = stateDir };
        config = config with { Kdamonds = [.. config.Kdamonds.Select(k => k with { RegionSource = RegionSource.TriedRegions })] };
        var manager = new KdamondManager(env, config, loggers.CreateLogger<KdamondManager>());
        var agent = new SimulatedAgent(env, config, manager);
        try
        {
            await manager.StartAsync(cancellationToken).ConfigureAwait(false);
            // By simulated time: on a loaded machine the Simulator runs behind the wall clock.
            TimeSpan until = env.Simulator!.Now + WarmUp;
            for (int i = 0; i < MaxWarmUpPolls && env.Simulator.Now < until; i++)
            {
                await Task.Delay(WarmUpPoll, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await agent.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return agent;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Manager.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            Manager.Dispose();
            await Env.DisposeAsync().ConfigureAwait(false);
            try
            {
                Directory.Delete(Config.StateDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
