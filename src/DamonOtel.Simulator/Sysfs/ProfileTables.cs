namespace DamonOtel.Simulator;

internal static class ProfileTables
{
    public static readonly string[] Operations = ["vaddr", "fvaddr", "paddr"];

    public static readonly string[] Actions = ["willneed", "cold", "pageout", "hugepage", "nohugepage", "lru_prio", "lru_deprio", "migrate_hot", "migrate_cold", "stat"];

    public static readonly string[] WmarkMetrics = ["none", "free_mem_rate"];

    public static string[] GoalMetrics(KernelProfile p) => p == KernelProfile.V6_12
        ? ["user_input", "some_mem_psi_us"]
        : ["user_input", "some_mem_psi_us", "node_mem_used_bp", "node_mem_free_bp"];

    public static readonly string[] CoreFilterTypes = ["addr", "target"];

    public static string[] OpsFilterTypes(KernelProfile p) => p == KernelProfile.V6_12
        ? ["anon", "memcg", "young"]
        : ["anon", "memcg", "young", "hugepage_size", "unmapped", "active"];

    public static string[] StateCommands(KernelProfile p) => p == KernelProfile.V6_12
        ? ["on", "off", "commit", "update_schemes_stats", "update_schemes_tried_regions", "update_schemes_tried_bytes", "clear_schemes_tried_regions", "commit_schemes_quota_goals", "update_schemes_effective_quotas"]
        : ["on", "off", "commit", "update_schemes_stats", "update_schemes_tried_regions", "update_schemes_tried_bytes", "clear_schemes_tried_regions", "commit_schemes_quota_goals", "update_schemes_effective_quotas", "update_tuned_intervals"];
}
