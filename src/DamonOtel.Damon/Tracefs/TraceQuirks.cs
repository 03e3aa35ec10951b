namespace DamonOtel.Damon.Tracefs;

/// <summary>Kernel-version facts about the DAMON tracepoints (docs/damon-tracepoints.md, "Events").</summary>
public static class TraceQuirks
{
    /// <summary>
    /// True for 6.7–6.12, whose damos_before_apply passes scheme_idx and target_idx in
    /// swapped order (fixed in 6.13, Nov 2024). Stable kernels of that range may carry the
    /// backported fix: callers that know better (distro changelog, config) should override.
    /// </summary>
    public static bool BeforeApplyIndicesSwapped(int major, int minor) => major == 6 && minor is >= 7 and <= 12;

    /// <summary>damon_aggregated prints no age before 5.17.</summary>
    public static bool AggregatedHasAge(int major, int minor) => major > 5 || (major == 5 && minor >= 17);
}
