using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// What `--simulate` runs when no config is given: one vaddr kdamond on the workload's process
/// (regions from the tracepoint) and one paddr kdamond over physical memory with a cold-memory
/// pageout scheme (regions from tried_regions), so both region sources and DAMOS counters move.
/// </summary>
internal static class SimulationConfig
{
    public static AgentConfig For(string workload, AgentConfig baseConfig) => baseConfig with
    {
        Collection = baseConfig.Collection with { Interval = TimeSpan.FromSeconds(2) },
        Kdamonds =
        [
            new KdamondConfig
            {
                Name = workload,
                Operations = "vaddr",
                RegionSource = RegionSource.Tracepoint,
                // Pinned like a production target should be: the Simulator runs it as root from /usr/bin.
                Targets = [new TargetConfig { Name = workload, ProcessName = workload, Executables = ["/usr/bin/" + workload], Uids = [0] }],
                Intervals = new IntervalsConfig(),
            },
            new KdamondConfig
            {
                Name = "system",
                Operations = "paddr",
                RegionSource = RegionSource.TriedRegions,
                Targets = [new TargetConfig { Name = "memory", Memory = PhysicalRange.LargestBlock }],
                Intervals = new IntervalsConfig(),
                Schemes =
                [
                    new SchemeConfig
                    {
                        Name = "cold-pageout",
                        Action = "pageout",
                        Pattern = new PatternConfig { SizeMin = 4096, AccessRateMinPercent = 0, AccessRateMaxPercent = 0, AgeMinUs = 5_000_000 },
                        Quotas = new QuotaConfig { SizeBytes = 64UL << 20, WeightAgePermil = 1000 },
                    },
                ],
            },
        ],
    };
}
