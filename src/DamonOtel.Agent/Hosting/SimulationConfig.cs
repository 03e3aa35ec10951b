using DamonOtel.Agent.Configuration;
using DamonOtel.Damon.Cgroups;
using DamonOtel.Simulator;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// What `--simulate` runs when no config is given: one vaddr kdamond on the workload's process
/// (regions from the tracepoint) and one paddr kdamond over physical memory with a cold-memory
/// pageout scheme (regions from tried_regions), so both region sources and DAMOS counters move.
/// The paddr kdamond also reports the simulated node's Kubernetes pods and system services by
/// cgroup (<see cref="Pods"/>, placed by <see cref="PopulateCgroups"/>).
/// </summary>
internal static class SimulationConfig
{
    private const ulong MiB = 1UL << 20;

    /// <summary>
    /// The simulated pods (one container each). web-0 runs the `--simulate` workload; the others
    /// only touch their memory once, so the machine's working set stays the workload's hot set
    /// (what the end-to-end tests compare with) while every pod has idle memory to show.
    /// </summary>
    public static IReadOnlyList<SimulatedPod> Pods { get; } =
    [
        new("web-0", "shop", "7c0a5b0e-5d5b-4b9f-9d43-2f1a3c6e8b01", "burstable", "4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796", 0),
        new("batch-0", "jobs", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", "besteffort", "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", 192 * MiB),
        new("cache-0", "shop", "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "guaranteed", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 128 * MiB),
    ];

    /// <summary>A system service next to the pods (a cgroup without Kubernetes labels).</summary>
    public const string Service = "/system.slice/journald.service";

    /// <summary>Starts the workload in web-0's container, idle processes in the other pods and in <see cref="Service"/> (systemd driver layout).</summary>
    public static void PopulateCgroups(SimulatedKernel sim, string workload)
    {
        ArgumentNullException.ThrowIfNull(sim);
        foreach (SimulatedPod pod in Pods)
        {
            IWorkload w = pod.IdleBytes == 0 ? SimulatedWorkloads.Create(workload) : SimulatedWorkloads.HotCold(pod.Name, pod.IdleBytes, 0);
            sim.SpawnProcess(pod.IdleBytes == 0 ? workload : pod.Name, w, pod.ContainerCgroup);
        }

        sim.SpawnProcess("journald", SimulatedWorkloads.HotCold("journald", 32 * MiB, 0), Service);
    }

    /// <summary>A pod of the simulated node (one container).</summary>
    /// <param name="IdleBytes">The allocation of an idle pod; 0 = the pod runs the `--simulate` workload.</param>
    internal sealed record SimulatedPod(string Name, string Namespace, string Uid, string QosClass, string ContainerId, ulong IdleBytes)
    {
        /// <summary>kubepods.slice/.../cri-containerd-&lt;id&gt;.scope, as the kubelet's systemd driver names it.</summary>
        public string ContainerCgroup
        {
            get
            {
                string uid = Uid.Replace('-', '_');
                string pod = QosClass == "guaranteed"
                    ? $"/kubepods.slice/kubepods-pod{uid}.slice"
                    : $"/kubepods.slice/kubepods-{QosClass}.slice/kubepods-{QosClass}-pod{uid}.slice";
                return $"{pod}/cri-containerd-{ContainerId}.scope";
            }
        }
    }

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
                Targets = [new TargetConfig { Name = workload, ProcessName = workload }],
                Intervals = new IntervalsConfig(),
            },
            new KdamondConfig
            {
                Name = "system",
                Operations = "paddr",
                RegionSource = RegionSource.TriedRegions,
                Targets = [new TargetConfig { Name = "memory", Memory = PhysicalRange.LargestBlock }],
                Intervals = new IntervalsConfig(),
                Cgroups = new CgroupsConfig
                {
                    Match = [.. CgroupPresets.KubernetesPods, "system.slice/*.service"],
                },
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
