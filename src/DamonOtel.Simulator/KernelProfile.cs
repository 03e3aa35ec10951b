namespace DamonOtel.Simulator;

/// <summary>Which kernel release the simulated DAMON ABI imitates (file set, keywords, quirks).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1707", Justification = "Kernel versions read best as V6_12.")]
public enum KernelProfile
{
    /// <summary>Debian 13's 6.12: no refresh_ms, addr_unit, intervals_goal, core/ops filters, allow, dests, DAMON_STAT; damos_before_apply prints scheme/target swapped; tried_regions named 0..N-1.</summary>
    V6_12,

    /// <summary>6.18: everything up to addr_unit, DAMON_STAT with aggr_interval_us and signed idle percentiles; tried_regions named 1,3,5...</summary>
    V6_18,

    /// <summary>
    /// 7.3 as far as the agent tells kernels apart beyond 6.18: DAMON_STAT has kdamond_pid and
    /// monitors from the first to the last System RAM byte (holes included). The admin tree is
    /// 6.18's (7.x's pause, probes, obsolete_target... are not simulated).
    /// </summary>
    V7_3,
}
