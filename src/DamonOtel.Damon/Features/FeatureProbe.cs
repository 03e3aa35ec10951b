using System.Globalization;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Damon.Features;

/// <summary>Detects <see cref="DamonFeatures"/> from file presence.</summary>
public static class FeatureProbe
{
    /// <summary>
    /// Read-only detection: looks into whatever kdamond/context/scheme/goal/filter/region
    /// directories already exist (any index) and never writes. A feature whose parent
    /// directory exists nowhere is reported as null (unknown), not guessed.
    /// </summary>
    public static DamonFeatures Detect(IKernelFs fs, KernelRoots roots)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(roots);
        DamonFeatures modulesAndTrace = new()
        {
            Tracepoints = DetectTracepoints(fs, roots),
            ModuleDamonStat = ModuleExists(fs, roots, "damon_stat"),
            ModuleDamonReclaim = ModuleExists(fs, roots, "damon_reclaim"),
            ModuleDamonLruSort = ModuleExists(fs, roots, "damon_lru_sort"),
        };
        if (!fs.DirectoryExists(roots.Kdamonds))
        {
            return modulesAndTrace with { Sysfs = false };
        }

        Found f = Walk(fs, roots.Kdamonds);
        bool? Has(string? dir, params string[] rel) => dir is null ? null : fs.FileExists(Path.Combine([dir, .. rel]));
        bool? HasDir(string? dir, params string[] rel) => dir is null ? null : fs.DirectoryExists(Path.Combine([dir, .. rel]));

        IReadOnlyList<string>? ops = null;
        bool? avail = Has(f.Context, "avail_operations");
        if (avail == true)
        {
            string p = Path.Combine(f.Context!, "avail_operations");
            ops = SysfsParsers.ParseKeywordLines(fs.ReadText(p), p);
        }

        bool? core = HasDir(f.Scheme, "core_filters");
        if (core == true)
        {
            core = HasDir(f.Scheme, "ops_filters");
        }

        return modulesAndTrace with
        {
            Sysfs = true,
            RefreshMs = Has(f.Kdamond, "refresh_ms"),
            AvailOperations = avail,
            OperationSets = ops,
            AddrUnit = Has(f.Context, "addr_unit"),
            Pause = Has(f.Context, "pause"),
            IntervalsGoal = HasDir(f.Context, "monitoring_attrs", "intervals", "intervals_goal"),
            Probes = HasDir(f.Context, "monitoring_attrs", "probes"),
            ObsoleteTarget = Has(f.Target, "obsolete_target"),
            TriedRegions = HasDir(f.Scheme, "tried_regions"),
            TriedRegionsTotalBytes = Has(f.Scheme, "tried_regions", "total_bytes"),
            TriedRegionSzFilterPassed = Has(f.TriedRegion, "sz_filter_passed"),
            ApplyIntervalUs = Has(f.Scheme, "apply_interval_us"),
            TargetNid = Has(f.Scheme, "target_nid"),
            QuotaGoals = HasDir(f.Scheme, "quotas", "goals"),
            GoalTargetMetric = Has(f.Goal, "target_metric"),
            GoalNid = Has(f.Goal, "nid"),
            GoalPath = Has(f.Goal, "path"),
            EffectiveBytes = Has(f.Scheme, "quotas", "effective_bytes"),
            GoalTuner = Has(f.Scheme, "quotas", "goal_tuner"),
            FailCharge = Has(f.Scheme, "quotas", "fail_charge_denom"),
            Filters = HasDir(f.Scheme, "filters"),
            CoreOpsFilters = core,
            FilterAllow = Has(f.Filter, "allow"),
            FilterHugepageSize = Has(f.Filter, "min"),
            SzOpsFilterPassed = Has(f.Scheme, "stats", "sz_ops_filter_passed"),
            NrSnapshots = Has(f.Scheme, "stats", "nr_snapshots"),
            MaxNrSnapshots = Has(f.Scheme, "stats", "max_nr_snapshots"),
            Dests = HasDir(f.Scheme, "dests"),
        };
    }

    /// <summary>
    /// Detection that WRITES, like damo's: only when the caller owns every kdamond and none
    /// is running. It writes nr_kdamonds (which recreates every kdamond directory with
    /// defaults: any existing configuration is lost), builds a throw-away kdamond with one
    /// context, target, scheme, goal, filter and dest, inspects it, then restores the
    /// previous nr_kdamonds (again with default contents). Tried-region files
    /// (sz_filter_passed) still stay unknown: regions appear only on a running kdamond.
    /// </summary>
    public static DamonFeatures DetectByProbing(IKernelFs fs, KernelRoots roots, bool callerOwnsAllKdamonds)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(roots);
        if (!callerOwnsAllKdamonds)
        {
            throw new InvalidOperationException("probing rewrites nr_kdamonds and wipes every kdamond's configuration; use Detect() unless all kdamonds are yours");
        }

        string nrPath = Path.Combine(roots.Kdamonds, "nr_kdamonds");
        if (!fs.FileExists(nrPath))
        {
            return Detect(fs, roots);
        }

        foreach ((int k, string name) in DamonSysfsReader.ListNumeric(fs, roots.Kdamonds))
        {
            string statePath = Path.Combine(roots.Kdamonds, name, "state");
            if (SysfsParsers.ParseKeyword(fs.ReadText(statePath), statePath) == "on")
            {
                throw new InvalidOperationException($"kdamond {k} is running; probing needs every kdamond off");
            }
        }

        ulong previous = SysfsParsers.ParseUnsigned(fs.ReadText(nrPath), nrPath);
        string probe = Path.Combine(roots.Kdamonds, previous.ToString(CultureInfo.InvariantCulture));
        fs.WriteText(nrPath, (previous + 1).ToString(CultureInfo.InvariantCulture));
        try
        {
            string ctx = One(fs, Path.Combine(probe, "contexts"), "nr_contexts");
            _ = One(fs, Path.Combine(ctx, "targets"), "nr_targets");
            string scheme = One(fs, Path.Combine(ctx, "schemes"), "nr_schemes");
            _ = One(fs, Path.Combine(scheme, "quotas", "goals"), "nr_goals");
            foreach (string filters in new[] { "filters", "core_filters", "ops_filters" })
            {
                _ = One(fs, Path.Combine(scheme, filters), "nr_filters");
            }

            _ = One(fs, Path.Combine(scheme, "dests"), "nr_dests");
            return Detect(fs, roots);
        }
        finally
        {
            fs.WriteText(nrPath, previous.ToString(CultureInfo.InvariantCulture));
        }
    }

    // Writes 1 to dir/nrFile when that file exists; returns dir/0.
    private static string One(IKernelFs fs, string dir, string nrFile)
    {
        string nr = Path.Combine(dir, nrFile);
        if (fs.FileExists(nr))
        {
            fs.WriteText(nr, "1");
        }

        return Path.Combine(dir, "0");
    }

    private static List<string>? DetectTracepoints(IKernelFs fs, KernelRoots roots)
    {
        string events = Path.Combine(roots.Tracefs, "events");
        if (!fs.DirectoryExists(events))
        {
            return null;
        }

        string damon = Path.Combine(events, "damon");
        if (!fs.DirectoryExists(damon))
        {
            return [];
        }

        var names = new List<string>();
        foreach (string name in fs.ListDirectory(damon))
        {
            if (fs.DirectoryExists(Path.Combine(damon, name)))
            {
                names.Add(name);
            }
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    private static bool? ModuleExists(IKernelFs fs, KernelRoots roots, string module)
    {
        string modules = Path.Combine(roots.Sysfs, "module");
        return fs.DirectoryExists(modules) ? fs.DirectoryExists(Path.Combine(modules, module)) : null;
    }

    // The first directory of each kind anywhere in the tree.
    private static Found Walk(IKernelFs fs, string kdamonds)
    {
        var f = new Found();
        foreach ((_, string kName) in DamonSysfsReader.ListNumeric(fs, kdamonds))
        {
            string kd = Path.Combine(kdamonds, kName);
            f.Kdamond ??= kd;
            foreach ((_, string cName) in DamonSysfsReader.ListNumeric(fs, Path.Combine(kd, "contexts")))
            {
                string ctx = Path.Combine(kd, "contexts", cName);
                f.Context ??= ctx;
                foreach ((_, string tName) in DamonSysfsReader.ListNumeric(fs, Path.Combine(ctx, "targets")))
                {
                    f.Target ??= Path.Combine(ctx, "targets", tName);
                }

                foreach ((_, string sName) in DamonSysfsReader.ListNumeric(fs, Path.Combine(ctx, "schemes")))
                {
                    string scheme = Path.Combine(ctx, "schemes", sName);
                    f.Scheme ??= scheme;
                    f.Goal ??= FirstChild(fs, Path.Combine(scheme, "quotas", "goals"));
                    f.Filter ??= FirstChild(fs, Path.Combine(scheme, "ops_filters"))
                        ?? FirstChild(fs, Path.Combine(scheme, "core_filters"))
                        ?? FirstChild(fs, Path.Combine(scheme, "filters"));
                    f.TriedRegion ??= FirstChild(fs, Path.Combine(scheme, "tried_regions"));
                }
            }
        }

        return f;
    }

    private static string? FirstChild(IKernelFs fs, string dir)
    {
        List<(int Index, string Name)> children = DamonSysfsReader.ListNumeric(fs, dir);
        return children.Count == 0 ? null : Path.Combine(dir, children[0].Name);
    }

    private sealed class Found
    {
        public string? Kdamond { get; set; }

        public string? Context { get; set; }

        public string? Target { get; set; }

        public string? Scheme { get; set; }

        public string? Goal { get; set; }

        public string? Filter { get; set; }

        public string? TriedRegion { get; set; }
    }
}
