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

    public IReadOnlyList<ResolvedTarget> Targets { get; set; } = [];

    public string SpecHash { get; set; } = string.Empty;

    public int KdamondPid { get; set; } = -1;

    /// <summary>For tried_regions: the index of the monitoring scheme of each target.</summary>
    public IReadOnlyList<int> MonitorSchemes { get; set; } = [];
}
