namespace DamonOtel.Agent.Configuration;

/// <summary>
/// `kernel_modules:` what the agent may do to the kernel's own DAMON users. DAMON_STAT,
/// DAMON_RECLAIM and DAMON_LRU_SORT hold DAMON exclusively while they run (every sysfs `on`
/// answers EBUSY), so configured kdamonds cannot start next to them. Off by default: the agent
/// never touches a module that is not named here.
/// </summary>
internal sealed record KernelModulesConfig
{
    /// <summary>
    /// Modules the agent switches off (`enabled` = N) before it starts its kdamonds, and back on
    /// when it stops them at exit. A module that is absent or already off is left alone.
    /// </summary>
    public IReadOnlyList<string> TakeOver { get; init; } = [];
}
