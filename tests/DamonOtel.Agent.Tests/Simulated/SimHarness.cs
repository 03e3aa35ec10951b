using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Damon.IO;
using DamonOtel.Simulator;
using DamonOtel.Telemetry.Observations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DamonOtel.Agent.Tests.Simulated;

/// <summary>
/// A simulated kernel running at wall-clock pace (the agent's state commands wait for the
/// kdamond like on a real kernel), a private state dir, and helpers to wait for conditions.
/// </summary>
internal sealed class SimHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly Task clock;

    public SimHarness(params (string Name, string Workload)[] processes)
        : this(KernelProfile.V6_18, damonStat: false, processes)
    {
    }

    /// <summary>A kernel of <paramref name="profile"/>, with DAMON_STAT enabled at boot when <paramref name="damonStat"/>.</summary>
    public SimHarness(KernelProfile profile, bool damonStat, params (string Name, string Workload)[] processes)
        : this(new SimulatorOptions { Roots = KernelRoots.Under("/sim"), Seed = 7, Profile = profile, Processes = processes, DamonStatEnabled = damonStat })
    {
    }

    public SimHarness(SimulatorOptions options)
    {
        Kernel = new SimulatedKernel(options);
        Roots = Kernel.Options.Roots;
        StateDir = Directory.CreateTempSubdirectory("damon-otel-test-").FullName;
        clock = Kernel.RunRealTime(stop.Token);
    }

    public SimulatedKernel Kernel { get; }

    public KernelRoots Roots { get; }

    public string StateDir { get; }

    public ILoggerFactory Loggers { get; } = NullLoggerFactory.Instance;

    /// <summary>An <see cref="Hosting.AgentHost"/> that logs nothing (tests assert on state, not on logs).</summary>
    public static Hosting.HostSettings QuietHost { get; } = new() { ConfigureLogging = b => b.ClearProviders() };

    /// <summary>Parses YAML and points it at the simulator and the private state dir.</summary>
    public AgentConfig Config(string yaml) => ConfigLoader.Parse(yaml, "test.yaml") with { Roots = Roots, StateDir = StateDir };

    public AgentRunner Runner(AgentConfig config, IKernelFs? fs = null, ObservationStore? store = null) =>
        new(config, KernelEnvironment.Wrap(fs ?? Kernel, Roots, Kernel), store ?? new ObservationStore(), Loggers);

    public string Read(string relativeToKdamonds) => Kernel.ReadText(Path.Combine(Roots.Kdamonds, relativeToKdamonds)).Trim();

    /// <summary>A module parameter, e.g. Module("damon_stat", "enabled").</summary>
    public string Module(string module, string parameter) => Kernel.ReadText(Path.Combine(Roots.ModuleParameters(module), parameter)).Trim();

    /// <summary>
    /// The lines of an exposition that belong to these kdamonds. A MeterProvider listens to every
    /// Meter named DamonOtel in the process, so a scrape also shows the agents of tests running
    /// in parallel: assertions that something is absent look at their own kdamonds' series.
    /// </summary>
    public static string SeriesOf(string exposition, params string[] kdamonds) => string.Join('\n', exposition.Split('\n')
        .Where(line => kdamonds.Any(k => line.Contains($"kdamond=\"{k}\"", StringComparison.Ordinal))));

    public static async Task<T> WaitFor<T>(Func<T?> probe, string what, double seconds = 30)
        where T : class
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is T value)
            {
                return value;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"waited {seconds} s for {what}");
    }

    public static async Task WaitUntil(Func<bool> condition, string what, double seconds = 30)
    {
        _ = await WaitFor(() => condition() ? string.Empty : null, what, seconds);
    }

    public static TargetObservation? Target(ObservationStore store, string kdamond, string target) =>
        store.Current.Kdamonds.FirstOrDefault(k => k.Kdamond == kdamond)?.Targets.FirstOrDefault(t => t.Target == target && t.Access is not null);

    public static KdamondObservation? Kdamond(ObservationStore store, string kdamond) =>
        store.Current.Kdamonds.FirstOrDefault(k => k.Kdamond == kdamond);

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        try
        {
            await clock;
        }
        catch (OperationCanceledException)
        {
        }

        stop.Dispose();
        try
        {
            Directory.Delete(StateDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
