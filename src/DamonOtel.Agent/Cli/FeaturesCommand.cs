using System.CommandLine;
using DamonOtel.Damon.Features;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Cli;

/// <summary>`damon-otel features`: what this kernel's DAMON supports, read-only.</summary>
internal static class FeaturesCommand
{
    public static Command Create()
    {
        var cmd = new Command("features", "Show what this kernel's DAMON supports (read-only: looks at existing files, writes nothing)")
        {
            KernelRootOptions.Sysfs, KernelRootOptions.Tracefs, KernelRootOptions.Procfs,
        };
        cmd.SetAction(parse =>
        {
            KernelRoots roots = KernelRootOptions.Resolve(parse, KernelRoots.Default);
            DamonFeatures f;
            try
            {
                f = FeatureProbe.Detect(LinuxKernelFs.Instance, roots);
            }
            catch (Exception e) when (e is KernelIoException or KernelFormatException)
            {
                Console.Error.WriteLine("features: " + e.Message);
                return 1;
            }

            foreach ((string name, string value) in FeatureTable(f))
            {
                Console.WriteLine($"{name,-28} {value}");
            }

            return f.Sysfs ? 0 : 1;
        });
        return cmd;
    }

    internal static IEnumerable<(string Name, string Value)> FeatureTable(DamonFeatures f)
    {
        static string YesNo(bool? b) => b switch { true => "yes", false => "no", null => "unknown (no kdamond to inspect)" };
        yield return ("sysfs", YesNo(f.Sysfs));
        yield return ("operations", f.OperationSets is { } ops ? string.Join(" ", ops) : "unknown");
        yield return ("tried_regions", YesNo(f.TriedRegions));
        yield return ("tried_regions/total_bytes", YesNo(f.TriedRegionsTotalBytes));
        yield return ("apply_interval_us", YesNo(f.ApplyIntervalUs));
        yield return ("quota goals", YesNo(f.QuotaGoals));
        yield return ("effective_bytes", YesNo(f.EffectiveBytes));
        yield return ("target_nid", YesNo(f.TargetNid));
        yield return ("filters", YesNo(f.Filters));
        yield return ("core/ops filters", YesNo(f.CoreOpsFilters));
        yield return ("filter allow", YesNo(f.FilterAllow));
        yield return ("sz_ops_filter_passed", YesNo(f.SzOpsFilterPassed));
        yield return ("intervals_goal", YesNo(f.IntervalsGoal));
        yield return ("refresh_ms", YesNo(f.RefreshMs));
        yield return ("addr_unit", YesNo(f.AddrUnit));
        yield return ("dests", YesNo(f.Dests));
        yield return ("obsolete_target", YesNo(f.ObsoleteTarget));
        yield return ("nr_snapshots", YesNo(f.NrSnapshots));
        yield return ("goal_tuner", YesNo(f.GoalTuner));
        yield return ("pause", YesNo(f.Pause));
        yield return ("tracepoints", f.Tracepoints is { } t ? (t.Count == 0 ? "none" : string.Join(" ", t)) : "unknown (tracefs not at its root)");
        yield return ("module damon_stat", YesNo(f.ModuleDamonStat));
        yield return ("module damon_reclaim", YesNo(f.ModuleDamonReclaim));
        yield return ("module damon_lru_sort", YesNo(f.ModuleDamonLruSort));
    }
}
