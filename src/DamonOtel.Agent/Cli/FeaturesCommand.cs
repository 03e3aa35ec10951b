using System.CommandLine;
using DamonOtel.Damon.Features;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Modules;
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

            var modules = new ExclusiveModules(LinuxKernelFs.Instance, roots);
            foreach ((string name, string value) in FeatureTable(f, ExclusiveModules.Names.Select(n => (n, ReadModule(modules, n)))))
            {
                Console.WriteLine($"{name,-28} {value}");
            }

            return f.Sysfs ? 0 : 1;
        });
        return cmd;
    }

    /// <summary>Every feature, in the kernel's order of appearance (5.18 first); modules last, with their state.</summary>
    internal static IEnumerable<(string Name, string Value)> FeatureTable(DamonFeatures f, IEnumerable<(string Name, ExclusiveModuleState? State)>? modules = null)
    {
        static string YesNo(bool? b) => b switch { true => "yes", false => "no", null => "unknown (no kdamond to inspect)" };
        yield return ("sysfs", YesNo(f.Sysfs));
        yield return ("operations", f.OperationSets is { } ops ? string.Join(" ", ops) : "unknown");
        yield return ("tried_regions", YesNo(f.TriedRegions));
        yield return ("tried_regions/total_bytes", YesNo(f.TriedRegionsTotalBytes));
        yield return ("apply_interval_us", YesNo(f.ApplyIntervalUs));
        yield return ("quota goals", YesNo(f.QuotaGoals));
        yield return ("goal target_metric", YesNo(f.GoalTargetMetric));
        yield return ("effective_bytes", YesNo(f.EffectiveBytes));
        yield return ("target_nid", YesNo(f.TargetNid));
        yield return ("filters", YesNo(f.Filters));
        yield return ("core/ops filters", YesNo(f.CoreOpsFilters));
        yield return ("filter allow", YesNo(f.FilterAllow));
        yield return ("filter min/max (hugepage)", YesNo(f.FilterHugepageSize));
        yield return ("sz_ops_filter_passed", YesNo(f.SzOpsFilterPassed));
        yield return ("region sz_filter_passed", YesNo(f.TriedRegionSzFilterPassed));
        yield return ("intervals_goal", YesNo(f.IntervalsGoal));
        yield return ("goal nid", YesNo(f.GoalNid));
        yield return ("refresh_ms", YesNo(f.RefreshMs));
        yield return ("dests", YesNo(f.Dests));
        yield return ("addr_unit", YesNo(f.AddrUnit));
        yield return ("obsolete_target", YesNo(f.ObsoleteTarget));
        yield return ("goal path", YesNo(f.GoalPath));
        yield return ("nr_snapshots", YesNo(f.NrSnapshots));
        yield return ("max_nr_snapshots", YesNo(f.MaxNrSnapshots));
        yield return ("goal_tuner", YesNo(f.GoalTuner));
        yield return ("pause", YesNo(f.Pause));
        yield return ("probes", YesNo(f.Probes));
        yield return ("fail_charge", YesNo(f.FailCharge));
        yield return ("tracepoints", f.Tracepoints is { } t ? (t.Count == 0 ? "none" : string.Join(" ", t)) : "unknown (tracefs not at its root)");
        yield return ("module damon_stat", Module(f.ModuleDamonStat, modules, ExclusiveModules.DamonStat));
        yield return ("module damon_reclaim", Module(f.ModuleDamonReclaim, modules, ExclusiveModules.DamonReclaim));
        yield return ("module damon_lru_sort", Module(f.ModuleDamonLruSort, modules, ExclusiveModules.DamonLruSort));
    }

    // "yes, running (kdamond pid 67): holds DAMON exclusively, sysfs kdamonds cannot start"
    private static string Module(bool? present, IEnumerable<(string Name, ExclusiveModuleState? State)>? modules, string name)
    {
        if (present != true)
        {
            return present == false ? "no" : "unknown (no /sys/module)";
        }

        ExclusiveModuleState? state = modules?.FirstOrDefault(m => m.Name == name).State;
        return state switch
        {
            null => "yes",
            { Enabled: true } s => $"yes, running{(s.KdamondPid is int p ? $" (kdamond pid {p})" : string.Empty)}: holds DAMON exclusively, sysfs kdamonds cannot start",
            _ => "yes, off",
        };
    }

    private static ExclusiveModuleState? ReadModule(ExclusiveModules modules, string name)
    {
        try
        {
            return modules.Read(name);
        }
        catch (Exception e) when (e is KernelIoException or KernelFormatException)
        {
            return null;
        }
    }
}
