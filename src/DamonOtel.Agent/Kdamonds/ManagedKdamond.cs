using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Kdamonds;

internal enum ManagedState
{
    /// <summary>Not started yet, or stopped by the agent.</summary>
    Stopped,
    Running,

    /// <summary>A target's process is not there (yet, or any more); retried every collection.</summary>
    WaitingForTarget,

    /// <summary>The kernel refused it; the reason is in LastError. Retried on reload.</summary>
    Failed,

    /// <summary>
    /// Not started because an exclusive DAMON module (DAMON_STAT, ...) holds DAMON; LastError
    /// has the one message with its remedies. Retried on reload or once the module stops.
    /// </summary>
    Blocked,
}

/// <summary>One kdamond the agent owns: its config, its slot under kdamonds/, and how it is doing.</summary>
internal sealed class ManagedKdamond(KdamondConfig config, int index, RegionSource regionSource)
{
    public KdamondConfig Config { get; set; } = config;

    public int Index { get; } = index;

    /// <summary>The resolved source (never Auto).</summary>
    public RegionSource RegionSource { get; set; } = regionSource;

    public ManagedState State { get; set; } = ManagedState.Stopped;

    public string? LastError { get; set; }

    /// <summary>The configured targets as last resolved (processes, ranges, counts).</summary>
    public IReadOnlyList<ResolvedTarget> Resolved { get; set; } = [];

    /// <summary>
    /// The kernel's target list and what each entry is. Replaced as a whole on every change;
    /// read by the collection side (another thread) to merge processes and read their mappings.
    /// </summary>
    public TargetLayout Layout
    {
        get => Volatile.Read(ref layout);
        set => Volatile.Write(ref layout, value);
    }

    /// <summary>The kernel has targets/&lt;T&gt;/obsolete_target (6.19+): removals need no tombstones.</summary>
    public bool CanObsolete { get; set; }

    /// <summary>pid: targets: the start time of the process first seen with the configured pid.</summary>
    public Dictionary<string, ulong> PidStarts { get; } = new(StringComparer.Ordinal);

    /// <summary>Targets already warned about (unpinned name, rejected impostor, cap reached), so each is logged once.</summary>
    public HashSet<string> Warned { get; } = [];

    private TargetLayout layout = TargetLayout.Empty;

    public string SpecHash { get; set; } = string.Empty;

    public int KdamondPid { get; set; } = -1;

    /// <summary>
    /// For tried_regions: the index of the monitoring scheme of each target. For tried_bytes:
    /// each target's bucket schemes in turn (<see cref="BucketSchemes"/>.Schemes.Count per target).
    /// </summary>
    public IReadOnlyList<int> MonitorSchemes { get; set; } = [];

    /// <summary>For tried_bytes: the bucket schemes of each target (null in the other modes).</summary>
    public DamonOtel.Analysis.IdleBucketSchemes? BucketSchemes { get; set; }
}
