using System.Globalization;
using System.Text.RegularExpressions;
using DamonOtel.Analysis;
using DamonOtel.Damon.IO;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Configuration;

/// <summary>
/// Loads and validates the YAML config. Every problem is reported with file, line, column and
/// the dotted key, all at once; nothing is silently defaulted when written wrong.
/// </summary>
internal static class ConfigLoader
{
    public static readonly string[] Actions =
        ["stat", "pageout", "willneed", "cold", "hugepage", "nohugepage", "collapse", "lru_prio", "lru_deprio", "migrate_hot", "migrate_cold"];

    public static readonly string[] FilterTypes = ["anon", "memcg", "young", "hugepage_size", "unmapped", "active", "addr", "target"];

    public static readonly string[] GoalMetrics =
    [
        "user_input", "some_mem_psi_us", "node_mem_used_bp", "node_mem_free_bp", "node_memcg_used_bp", "node_memcg_free_bp",
        "active_mem_bp", "inactive_mem_bp", "node_eligible_mem_bp",
    ];

    private static readonly string[] VaddrOnlyActions = ["willneed", "cold", "hugepage", "nohugepage", "collapse"];
    private static readonly string[] PaddrOnlyActions = ["lru_prio", "lru_deprio"];

    /// <summary>Loads a file; throws <see cref="ConfigException"/> with every error found.</summary>
    public static AgentConfig LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([new ConfigError(path, 0, 0, "(file)", e.Message)]);
        }

        return Parse(text, path);
    }

    public static AgentConfig Parse(string yaml, string file)
    {
        var errors = new List<ConfigError>();
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new ConfigException([new ConfigError(file, (int)e.Start.Line, (int)e.Start.Column, "(syntax)", e.InnerException?.Message ?? e.Message)]);
        }

        YamlMappingNode? root = null;
        if (stream.Documents.Count > 0)
        {
            root = stream.Documents[0].RootNode as YamlMappingNode;
            if (root is null && stream.Documents[0].RootNode is not YamlScalarNode { Value: null or "" })
            {
                errors.Add(new ConfigError(file, (int)stream.Documents[0].RootNode.Start.Line, 1, "(top)", "the config must be a mapping of keys"));
            }
        }

        AgentConfig config = Read(new YamlNodeReader(file, string.Empty, root, errors)) with { SourceFile = file };
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        return config;
    }

    private static AgentConfig Read(YamlNodeReader r)
    {
        var defaults = new AgentConfig();

        YamlNodeReader roots = r.Mapping("roots");
        var kernelRoots = new KernelRoots(
            roots.String("sysfs", KernelRoots.Default.Sysfs)!,
            roots.String("tracefs", KernelRoots.Default.Tracefs)!,
            roots.String("procfs", KernelRoots.Default.Procfs)!);
        roots.RejectUnknownKeys();

        YamlNodeReader collection = r.Mapping("collection");
        var collectionConfig = new CollectionConfig
        {
            Interval = PositiveDuration(collection, "interval") ?? defaults.Collection.Interval,
            CommandTimeout = PositiveDuration(collection, "command_timeout") ?? defaults.Collection.CommandTimeout,
        };
        collection.RejectUnknownKeys();

        MetricsConfig metrics = ReadMetrics(r.Mapping("metrics"));

        YamlNodeReader exporters = r.Mapping("exporters");
        YamlNodeReader prom = exporters.Mapping("prometheus");
        var prometheus = new PrometheusConfig
        {
            Enabled = prom.Bool("enabled", true),
            Listen = Listen(prom, "listen") ?? defaults.Prometheus.Listen,
            WebConfigFile = prom.String("web_config"),
        };
        prom.RejectUnknownKeys();
        YamlNodeReader otlpNode = exporters.Mapping("otlp");
        var otlp = new OtlpConfig
        {
            Enabled = otlpNode.Bool("enabled", otlpNode.IsPresent),
            Endpoint = Endpoint(otlpNode, "endpoint"),
            Protocol = NullableKeyword(otlpNode, "protocol", "grpc", "http/protobuf"),
            Headers = otlpNode.StringMap("headers"),
            Compression = NullableKeyword(otlpNode, "compression", "none", "gzip"),
            Timeout = PositiveDuration(otlpNode, "timeout"),
            Interval = PositiveDuration(otlpNode, "interval"),
            Temporality = NullableKeyword(otlpNode, "temporality", "cumulative", "delta", "lowmemory"),
        };
        otlpNode.RejectUnknownKeys();
        exporters.RejectUnknownKeys();

        YamlNodeReader attach = r.Mapping("attach");
        var attachConfig = new AttachConfig
        {
            Enabled = attach.Bool("enabled", true),
            Refresh = attach.Bool("refresh", false),
            RegionSource = Source(attach, "region_source", allowDamonStat: true),
        };
        attach.RejectUnknownKeys();

        string defaultMonitoring = r.Keyword("default_monitoring", "auto", "auto", "on", "off");

        var kdamonds = new List<KdamondConfig>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyList<YamlNodeReader> kdamondNodes = r.MappingList("kdamonds");
        for (int i = 0; i < kdamondNodes.Count; i++)
        {
            KdamondConfig k = ReadKdamond(kdamondNodes[i], i);
            if (!names.Add(k.Name))
            {
                kdamondNodes[i].Error(kdamondNodes[i].Raw("name"), "name", $"'{k.Name}' is used by another kdamond; names must be unique");
            }

            kdamonds.Add(k);
        }

        var result = new AgentConfig
        {
            Roots = kernelRoots,
            StateDir = r.String("state_dir", defaults.StateDir)!,
            Collection = collectionConfig,
            Metrics = metrics,
            Prometheus = prometheus,
            Otlp = otlp,
            Attach = attachConfig,
            DefaultMonitoring = defaultMonitoring switch { "on" => DefaultMonitoring.On, "off" => DefaultMonitoring.Off, _ => DefaultMonitoring.Auto },
            StopOnExit = r.Bool("stop_on_exit", true),
            Kdamonds = kdamonds,
        };
        r.RejectUnknownKeys();
        return result;
    }

    private static MetricsConfig ReadMetrics(YamlNodeReader m)
    {
        AccessOptions d = AccessOptions.Default;
        IReadOnlyList<double> percentiles = d.Percentiles;
        var pList = m.ScalarList("percentiles");
        if (pList is not null)
        {
            var values = new List<double>();
            foreach ((string value, YamlNode node) in pList)
            {
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) || p < 0 || p > 100)
                {
                    m.Error(node, "percentiles", $"'{value}' is not a percentile between 0 and 100");
                }
                else if (values.Count > 0 && p <= values[^1])
                {
                    m.Error(node, "percentiles", $"{value} must be larger than the previous percentile (list them in ascending order, no repeats)");
                }
                else
                {
                    values.Add(p);
                }
            }

            if (values.Count == 0)
            {
                m.Error(m.Raw("percentiles"), "percentiles", "the list is empty");
            }
            else
            {
                percentiles = values;
            }
        }

        IReadOnlyList<double> buckets = d.IdleBucketsSeconds;
        var bList = m.ScalarList("idle_buckets");
        if (bList is not null)
        {
            var values = new List<double>();
            foreach ((string value, YamlNode node) in bList)
            {
                if (!Units.TryParseTimeUs(value, 1_000_000, out ulong us, out string error) || us == ulong.MaxValue)
                {
                    m.Error(node, "idle_buckets", error.Length > 0 ? error : "must be finite (+Inf is always added)");
                }
                else if (values.Count > 0 && us / 1e6 <= values[^1])
                {
                    m.Error(node, "idle_buckets", $"{value} must be longer than the previous bucket (ascending, no repeats)");
                }
                else
                {
                    values.Add(us / 1e6);
                }
            }

            if (values.Count == 0)
            {
                m.Error(m.Raw("idle_buckets"), "idle_buckets", "the list is empty");
            }
            else
            {
                buckets = values;
            }
        }

        YamlNodeReader w = m.Mapping("temperature_weights");
        var weights = new TemperatureWeights(
            w.Integer("size", 0, int.MaxValue) ?? d.TemperatureWeights.Size,
            w.Integer("access_rate", 0, int.MaxValue) ?? d.TemperatureWeights.AccessRate,
            w.Integer("age", 0, int.MaxValue) ?? d.TemperatureWeights.Age);
        w.RejectUnknownKeys();

        var access = new AccessOptions
        {
            Percentiles = percentiles,
            IdleBucketsSeconds = buckets,
            TemperatureWeights = weights,
            WorkingSetAccessThreshold = (uint)(m.Integer("working_set_access_threshold", 1, uint.MaxValue) ?? d.WorkingSetAccessThreshold),
            HeatmapColumns = (int)(m.Integer("heatmap_columns", 0, 1024) ?? d.HeatmapColumns),
        };

        var enable = new HashSet<string>(StringComparer.Ordinal);
        var disable = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string v, YamlNode node) in m.ScalarList("enable") ?? [])
        {
            if (KnownMetric(m, node, "enable", v))
            {
                enable.Add(v);
            }
        }

        foreach ((string v, YamlNode node) in m.ScalarList("disable") ?? [])
        {
            if (KnownMetric(m, node, "disable", v))
            {
                disable.Add(v);
            }
        }

        m.RejectUnknownKeys();
        return new MetricsConfig { Access = access, Enable = enable, Disable = disable };
    }

    private static bool KnownMetric(YamlNodeReader m, YamlNode node, string key, string name)
    {
        if (Telemetry.Catalog.MetricCatalog.Find(name) is not null)
        {
            return true;
        }

        m.Error(node, key, $"unknown metric '{name}' (docs/metrics.md lists them)");
        return false;
    }

    private static KdamondConfig ReadKdamond(YamlNodeReader k, int index)
    {
        string name = k.String("name") ?? index.ToString(CultureInfo.InvariantCulture);
        string ops = k.Keyword("operations", "vaddr", "vaddr", "fvaddr", "paddr");
        RegionSource source = Source(k, "region_source", allowDamonStat: false);

        YamlNodeReader iv = k.Mapping("intervals");
        var intervals = new IntervalsConfig
        {
            SampleUs = iv.TimeUs("sample") ?? 5_000,
            AggrUs = iv.TimeUs("aggregation") ?? 100_000,
            UpdateUs = iv.TimeUs("update") ?? 1_000_000,
            Goal = ReadGoal(iv),
        };
        if (intervals.SampleUs == 0)
        {
            iv.Error(iv.Raw("sample"), "sample", "must be longer than 0");
        }

        if (intervals.AggrUs < intervals.SampleUs)
        {
            iv.Error(iv.Raw("aggregation"), "aggregation", $"{Units.FormatTimeUs(intervals.AggrUs)} is shorter than the sampling interval {Units.FormatTimeUs(intervals.SampleUs)} (the kernel rejects it with EINVAL)");
        }

        if (intervals.UpdateUs == 0)
        {
            iv.Error(iv.Raw("update"), "update", "must be longer than 0");
        }

        iv.RejectUnknownKeys();

        YamlNodeReader nr = k.Mapping("nr_regions");
        ulong min = (ulong)(nr.Integer("min", 0, uint.MaxValue) ?? 10);
        ulong max = (ulong)(nr.Integer("max", 0, uint.MaxValue) ?? 1000);
        if (min < 3)
        {
            nr.Error(nr.Raw("min"), "min", $"{min} is below 3 (the kernel needs at least 3 regions)");
        }

        if (min > max)
        {
            nr.Error(nr.Raw("max"), "max", $"{max} is below min {min}");
        }

        nr.RejectUnknownKeys();

        ulong? refreshUs = k.TimeUs("refresh", 1_000);
        var targets = new List<TargetConfig>();
        IReadOnlyList<YamlNodeReader> targetNodes = k.MappingList("targets");
        for (int i = 0; i < targetNodes.Count; i++)
        {
            targets.Add(ReadTarget(targetNodes[i], i, ops));
        }

        if (targets.Count == 0)
        {
            if (ops == "paddr")
            {
                targets.Add(new TargetConfig { Name = "0", Memory = PhysicalRange.LargestBlock });
            }
            else
            {
                k.Error(k.Raw("targets"), "targets", $"{ops} needs at least one target");
            }
        }

        if (ops == "paddr" && targets.Count > 1)
        {
            k.Error(k.Raw("targets"), "targets", "paddr takes exactly one target (the kernel rejects more with EINVAL); give several ranges in its 'regions' instead");
        }

        if (UniqueNames(targets.Select(t => t.Name)) is string dupTarget)
        {
            k.Error(k.Raw("targets"), "targets", $"target name '{dupTarget}' is used twice");
        }

        var schemes = new List<SchemeConfig>();
        IReadOnlyList<YamlNodeReader> schemeNodes = k.MappingList("schemes");
        for (int i = 0; i < schemeNodes.Count; i++)
        {
            schemes.Add(ReadScheme(schemeNodes[i], i, ops));
        }

        if (UniqueNames(schemes.Select(s => s.Name)) is string dupScheme)
        {
            k.Error(k.Raw("schemes"), "schemes", $"scheme name '{dupScheme}' is used twice");
        }

        k.RejectUnknownKeys();
        return new KdamondConfig
        {
            Name = name,
            Line = k.Line,
            RegionSource = source,
            Operations = ops,
            Targets = targets,
            Intervals = intervals,
            MinNrRegions = min,
            MaxNrRegions = max,
            RefreshMs = refreshUs is null ? 1000 : (uint)Math.Min(uint.MaxValue, refreshUs.Value / 1000),
            Schemes = schemes,
        };
    }

    private static IntervalsGoalConfig? ReadGoal(YamlNodeReader iv)
    {
        YamlNode? raw = iv.Raw("auto_tune");
        if (raw is null)
        {
            return null;
        }

        if (raw is YamlScalarNode)
        {
            return iv.Bool("auto_tune", false) ? IntervalsGoalConfig.Recommended : null;
        }

        YamlNodeReader g = iv.Mapping("auto_tune");
        IntervalsGoalConfig d = IntervalsGoalConfig.Recommended;
        double access = g.Percent("access") ?? d.AccessBp / 100.0;
        var goal = new IntervalsGoalConfig(
            (ulong)Math.Round(access * 100),
            (ulong)(g.Integer("aggregations", 1, uint.MaxValue) ?? (long)d.Aggrs),
            g.TimeUs("min_sample") ?? d.MinSampleUs,
            g.TimeUs("max_sample") ?? d.MaxSampleUs);
        if (goal.AccessBp == 0)
        {
            g.Error(g.Raw("access"), "access", "must be above 0% (0 disables tuning; use auto_tune: false)");
        }

        if (goal.MinSampleUs > goal.MaxSampleUs)
        {
            g.Error(g.Raw("max_sample"), "max_sample", "is below min_sample");
        }

        g.RejectUnknownKeys();
        return goal;
    }

    private static TargetConfig ReadTarget(YamlNodeReader t, int index, string ops)
    {
        if (t.Has("command"))
        {
            t.Error(t.Raw("command"), "command", "shell commands are not accepted as targets (the agent runs as root); start the program yourself and name it with process_name, pid_file or pid");
        }

        string name = t.String("name") ?? index.ToString(CultureInfo.InvariantCulture);
        long? pid = t.Integer("pid", 1, int.MaxValue);
        string? pidFile = t.String("pid_file");
        string? processName = t.String("process_name");
        string? cmdline = t.String("cmdline");
        if (cmdline is not null)
        {
            try
            {
                _ = new Regex(cmdline, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                t.Error(t.Raw("cmdline"), "cmdline", $"not a valid regular expression: {e.Message}");
            }
        }

        PhysicalRange? memory = NullableKeyword(t, "memory", "largest_block", "whole_span") switch
        {
            "largest_block" => PhysicalRange.LargestBlock,
            "whole_span" => PhysicalRange.WholeSpan,
            _ => null,
        };

        var regions = new List<(ulong, ulong)>();
        foreach (YamlNodeReader reg in t.MappingList("regions"))
        {
            ulong? start = Address(reg, "start");
            ulong? end = Address(reg, "end");
            if (start is null || end is null)
            {
                reg.Error(null, "start", "a region needs both start and end");
            }
            else if (start >= end)
            {
                reg.Error(reg.Raw("end"), "end", "must be above start ([start, end) ranges)");
            }
            else if (regions.Count > 0 && start < regions[^1].Item2)
            {
                reg.Error(reg.Raw("start"), "start", "regions must be sorted and must not overlap (the kernel rejects it)");
            }
            else
            {
                regions.Add((start.Value, end.Value));
            }

            reg.RejectUnknownKeys();
        }

        int selectors = (pid is null ? 0 : 1) + (pidFile is null ? 0 : 1) + (processName is null ? 0 : 1) + (cmdline is null ? 0 : 1);
        switch (ops)
        {
            case "vaddr":
                if (selectors != 1)
                {
                    t.Error(null, "pid", "a vaddr target names its process with exactly one of: pid, pid_file, process_name, cmdline");
                }

                if (memory is not null || regions.Count > 0)
                {
                    t.Error(t.Raw("memory") ?? t.Raw("regions"), "regions", "vaddr builds its regions from the process's mappings; use operations: fvaddr for fixed ranges");
                }

                break;
            case "fvaddr":
                if (selectors != 1 || regions.Count == 0)
                {
                    t.Error(null, "regions", "an fvaddr target needs a process (pid, pid_file, process_name or cmdline) and its fixed 'regions'");
                }

                break;
            default:
                if (selectors != 0)
                {
                    t.Error(null, "pid", "a paddr target monitors physical memory: no process; use memory: largest_block|whole_span or regions");
                }

                if (memory is not null && regions.Count > 0)
                {
                    t.Error(t.Raw("regions"), "regions", "give either memory or regions, not both");
                }

                if (memory is null && regions.Count == 0)
                {
                    memory = PhysicalRange.LargestBlock;
                }

                break;
        }

        t.RejectUnknownKeys();
        return new TargetConfig
        {
            Name = name,
            Pid = (int?)pid,
            PidFile = pidFile,
            ProcessName = processName,
            CmdlinePattern = cmdline,
            Memory = memory,
            Regions = regions,
        };
    }

    private static SchemeConfig ReadScheme(YamlNodeReader s, int index, string ops)
    {
        string name = s.String("name") ?? index.ToString(CultureInfo.InvariantCulture);
        string action = s.Keyword("action", "stat", Actions);
        if (ops == "paddr" && Array.IndexOf(VaddrOnlyActions, action) >= 0)
        {
            s.Error(s.Raw("action"), "action", $"'{action}' works on virtual address spaces only (vaddr/fvaddr), not paddr");
        }

        if (ops != "paddr" && Array.IndexOf(PaddrOnlyActions, action) >= 0)
        {
            s.Error(s.Raw("action"), "action", $"'{action}' works on physical memory only (operations: paddr)");
        }

        YamlNodeReader ap = s.Mapping("access_pattern");
        YamlNodeReader size = ap.Mapping("size");
        YamlNodeReader rate = ap.Mapping("access_rate");
        YamlNodeReader age = ap.Mapping("age");
        var pattern = new PatternConfig
        {
            SizeMin = size.Size("min") ?? 0,
            SizeMax = size.Size("max") ?? ulong.MaxValue,
            AccessRateMinPercent = rate.Percent("min") ?? 0,
            AccessRateMaxPercent = rate.Has("max") && string.Equals(rate.String("max"), "max", StringComparison.Ordinal) ? null : rate.Percent("max"),
            AgeMinUs = age.TimeUs("min") ?? 0,
            AgeMaxUs = age.TimeUs("max") ?? ulong.MaxValue,
        };
        if (pattern.SizeMin > pattern.SizeMax)
        {
            size.Error(size.Raw("max"), "max", "is below min");
        }

        if (pattern.AccessRateMaxPercent is double rmax && rmax < pattern.AccessRateMinPercent)
        {
            rate.Error(rate.Raw("max"), "max", "is below min");
        }

        if (pattern.AgeMinUs > pattern.AgeMaxUs)
        {
            age.Error(age.Raw("max"), "max", "is below min");
        }

        size.RejectUnknownKeys();
        rate.RejectUnknownKeys();
        age.RejectUnknownKeys();
        ap.RejectUnknownKeys();

        QuotaConfig? quotas = null;
        YamlNodeReader q = s.Mapping("quotas");
        if (q.IsPresent)
        {
            YamlNodeReader w = q.Mapping("weights");
            var goals = new List<QuotaGoalConfig>();
            foreach (YamlNodeReader g in q.MappingList("goals"))
            {
                string metric = g.Keyword("metric", "user_input", GoalMetrics);
                ulong target = (ulong)(g.Integer("target", 1, long.MaxValue) ?? 0);
                if (target == 0)
                {
                    g.Error(g.Raw("target"), "target", "a goal needs a target value above 0 (the kernel ignores 0)");
                }

                long? nid = g.Integer("nid", 0, 1 << 20);
                string? path = g.String("path");
                if (metric.StartsWith("node_", StringComparison.Ordinal) && nid is null)
                {
                    g.Error(null, "nid", $"goal metric {metric} needs a NUMA node id (nid)");
                }

                if (metric.StartsWith("node_memcg", StringComparison.Ordinal) && path is null)
                {
                    g.Error(null, "path", $"goal metric {metric} needs a memcg path");
                }

                goals.Add(new QuotaGoalConfig(metric, target, (ulong)(g.Integer("current", 0, long.MaxValue) ?? 0), (int?)nid, path));
                g.RejectUnknownKeys();
            }

            quotas = new QuotaConfig
            {
                TimeMs = (q.TimeUs("time", 1_000) ?? 0) / 1_000,
                SizeBytes = q.Size("size") ?? 0,
                ResetIntervalMs = (q.TimeUs("reset_interval", 1_000) ?? 1_000_000) / 1_000,
                WeightSizePermil = Permil(w, "size") ?? 0,
                WeightAccessRatePermil = Permil(w, "access_rate") ?? 0,
                WeightAgePermil = Permil(w, "age") ?? 0,
                Goals = goals,
            };
            if (quotas.ResetIntervalMs == 0 && (quotas.TimeMs != 0 || quotas.SizeBytes != 0))
            {
                q.Error(q.Raw("reset_interval"), "reset_interval", "must be above 0 when a quota is set");
            }

            w.RejectUnknownKeys();
            q.RejectUnknownKeys();
        }

        WatermarksConfig? watermarks = null;
        YamlNodeReader wm = s.Mapping("watermarks");
        if (wm.IsPresent)
        {
            string metric = wm.Keyword("metric", "free_mem_rate", "none", "free_mem_rate");
            ulong high = Permil(wm, "high") ?? 0;
            ulong mid = Permil(wm, "mid") ?? 0;
            ulong low = Permil(wm, "low") ?? 0;
            if (metric != "none" && !(high >= mid && mid >= low))
            {
                wm.Error(wm.Raw("mid"), "mid", $"watermarks must satisfy high >= mid >= low (got {high}, {mid}, {low} per-mille)");
            }

            watermarks = new WatermarksConfig(metric, wm.TimeUs("interval") ?? 5_000_000, high, mid, low);
            wm.RejectUnknownKeys();
        }

        var filters = new List<FilterConfig>();
        foreach (YamlNodeReader f in s.MappingList("filters"))
        {
            filters.Add(ReadFilter(f));
        }

        long? nid2 = s.Integer("target_nid", 0, 1 << 20);
        var dests = new List<DestConfig>();
        foreach (YamlNodeReader d in s.MappingList("dests"))
        {
            long? node = d.Integer("node", 0, 1 << 20);
            if (node is null)
            {
                d.Error(null, "node", "a destination needs its NUMA node");
            }

            dests.Add(new DestConfig((int)(node ?? 0), (uint)(d.Integer("weight", 0, uint.MaxValue) ?? 1)));
            d.RejectUnknownKeys();
        }

        if (action is "migrate_hot" or "migrate_cold" && nid2 is null && dests.Count == 0)
        {
            s.Error(s.Raw("action"), "target_nid", $"{action} needs a destination: target_nid or dests");
        }

        ulong apply = s.TimeUs("apply_interval") ?? 0;
        s.RejectUnknownKeys();
        return new SchemeConfig
        {
            Name = name,
            Action = action,
            Pattern = pattern,
            ApplyIntervalUs = apply,
            Quotas = quotas,
            Watermarks = watermarks,
            Filters = filters,
            TargetNid = (int?)nid2,
            Dests = dests,
            Line = s.Line,
        };
    }

    private static FilterConfig ReadFilter(YamlNodeReader f)
    {
        string type = f.Keyword("type", "anon", FilterTypes);
        if (!f.Has("type"))
        {
            f.Error(null, "type", $"a filter needs a type ({string.Join(", ", FilterTypes)})");
        }

        var filter = new FilterConfig
        {
            Type = type,
            Matching = f.Bool("matching", true),
            Allow = f.Keyword("pass", "reject", "allow", "reject") == "allow" || f.Bool("allow", false),
            MemcgPath = f.String("memcg_path"),
            AddrStart = Address(f, "start"),
            AddrEnd = Address(f, "end"),
            TargetIndex = (int?)f.Integer("target_index", 0, int.MaxValue),
            Min = f.Size("min"),
            Max = f.Size("max"),
            Line = f.Line,
        };
        switch (type)
        {
            case "memcg" when filter.MemcgPath is null:
                f.Error(null, "memcg_path", "a memcg filter needs memcg_path (relative to the cgroup mount)");
                break;
            case "addr" when filter.AddrStart is null || filter.AddrEnd is null || filter.AddrStart >= filter.AddrEnd:
                f.Error(null, "start", "an addr filter needs start < end");
                break;
            case "target" when filter.TargetIndex is null:
                f.Error(null, "target_index", "a target filter needs target_index");
                break;
            case "hugepage_size" when filter.Min is null || filter.Max is null || filter.Min > filter.Max:
                f.Error(null, "min", "a hugepage_size filter needs min <= max (e.g. 2M, 2M)");
                break;
            default:
                break;
        }

        f.RejectUnknownKeys();
        return filter;
    }

    private static RegionSource Source(YamlNodeReader r, string key, bool allowDamonStat)
    {
        string value = allowDamonStat
            ? r.Keyword(key, "auto", "auto", "tracepoint", "tried_regions", "damon_stat")
            : r.Keyword(key, "auto", "auto", "tracepoint", "tried_regions");
        return value switch
        {
            "tracepoint" => RegionSource.Tracepoint,
            "tried_regions" => RegionSource.TriedRegions,
            "damon_stat" => RegionSource.DamonStat,
            _ => RegionSource.Auto,
        };
    }

    private static string? NullableKeyword(YamlNodeReader r, string key, params string[] allowed) =>
        r.Has(key) ? r.Keyword(key, allowed[0], allowed) : r.String(key);

    private static TimeSpan? PositiveDuration(YamlNodeReader r, string key)
    {
        TimeSpan? d = r.Duration(key);
        if (d is { } v && v <= TimeSpan.Zero)
        {
            r.Error(r.Raw(key), key, "must be longer than 0");
            return null;
        }

        return d;
    }

    private static string? Listen(YamlNodeReader r, string key)
    {
        string? value = r.String(key);
        if (value is not null && !ListenAddress.TryValidate(value, out string error))
        {
            r.Error(r.Raw(key), key, error);
            return null;
        }

        return value;
    }

    private static string? Endpoint(YamlNodeReader r, string key)
    {
        string? value = r.String(key);
        if (value is not null && (!Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) || (uri.Scheme != "http" && uri.Scheme != "https")))
        {
            r.Error(r.Raw(key), key, $"'{value}' is not an http:// or https:// URL");
            return null;
        }

        return value;
    }

    private static ulong? Address(YamlNodeReader r, string key)
    {
        string? s = r.String(key);
        if (s is null)
        {
            return null;
        }

        string t = s.Trim().Replace(",", string.Empty, StringComparison.Ordinal);
        bool ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            : Units.TryParseSize(t, out v, out _);
        if (!ok)
        {
            r.Error(r.Raw(key), key, $"'{s}' is not an address (decimal, 0x-hex, or a size like 4G)");
            return null;
        }

        return v;
    }

    /// <summary>Per-mille: "50%" = 500, a bare number is per-mille.</summary>
    private static uint? Permil(YamlNodeReader r, string key)
    {
        string? s = r.String(key);
        if (s is null)
        {
            return null;
        }

        if (s.TrimEnd().EndsWith('%'))
        {
            if (Units.TryParsePercent(s, out double p, out string error))
            {
                return (uint)Math.Round(p * 10);
            }

            r.Error(r.Raw(key), key, error);
            return null;
        }

        if (uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out uint permil) && permil <= 1000)
        {
            return permil;
        }

        r.Error(r.Raw(key), key, $"'{s}' is not a per-mille value 0..1000 or a percentage like 40%");
        return null;
    }

    private static string? UniqueNames(IEnumerable<string> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string n in names)
        {
            if (!seen.Add(n))
            {
                return n;
            }
        }

        return null;
    }
}
