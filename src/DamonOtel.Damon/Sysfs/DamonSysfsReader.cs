using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

// One file on purpose (over 500 lines): a single reader of one tree, kdamond down to tried
// region, whose levels share its path caches and the feature checks learnt along the way.

namespace DamonOtel.Damon.Sysfs;

/// <summary>
/// Reads /sys/kernel/mm/damon/admin into the immutable model. Strictly read-only: it never
/// writes, creates or removes anything, so it is safe on kdamonds owned by other tools.
/// Files of features the kernel lacks come back as null. Values are what sysfs holds now:
/// stats, effective quotas and tuned intervals are stale unless someone refreshed them.
/// </summary>
public sealed class DamonSysfsReader
{
    private readonly IKernelFs fs;
    private readonly KernelRoots roots;
    private readonly int pidReadAttempts;
    private readonly TimeSpan pidRetryDelay;
    private readonly TimeSpan? busyBudget;

    private readonly ConcurrentDictionary<(int K, int C, int S), string> triedDirs = new();

    // Region count of the last walk: sizes the next walk's key list.
    private int lastRegionCount;

    // Whether tried regions carry sz_filter_passed (6.14); a kernel property, learnt once.
    private volatile int szFilterPassedKnown; // 0 unknown, 1 present, 2 absent

    /// <param name="pidReadAttempts">Attempts at reading pid and state while the kernel answers EBUSY.</param>
    /// <param name="pidRetryDelay">Sleep between them. The defaults (100 x 20 ms) outlast a
    /// tried_regions update of another writer, which holds the DAMON sysfs mutex for a few
    /// sampling intervals (hundreds of ms under qemu TCG on a busy host).</param>
    /// <param name="busyBudget">When set, EBUSY on pid and state is retried for this long
    /// instead of <paramref name="pidReadAttempts"/> times: another process's commands can
    /// keep the mutex held back to back for seconds (7.3 under TCG: every read of 10 s EBUSY
    /// while one writer looped update_schemes_tried_regions, 1.3-2.6 s each), so a caller
    /// that must outlast them waits as long as a state command may take.</param>
    public DamonSysfsReader(IKernelFs fs, KernelRoots roots, int pidReadAttempts = 100, TimeSpan? pidRetryDelay = null, TimeSpan? busyBudget = null)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(roots);
        ArgumentOutOfRangeException.ThrowIfLessThan(pidReadAttempts, 1);
        this.fs = fs;
        this.roots = roots;
        this.pidReadAttempts = pidReadAttempts;
        this.pidRetryDelay = pidRetryDelay ?? TimeSpan.FromMilliseconds(20);
        this.busyBudget = busyBudget;
    }

    /// <summary>
    /// The whole admin tree. Empty when the kernel has no DAMON sysfs interface. With
    /// <paramref name="includeTriedRegions"/> false, every scheme's TriedRegions is null
    /// (not read), which keeps a config/stats scrape cheap.
    /// </summary>
    public DamonAdminTree ReadTree(bool includeTriedRegions = true)
    {
        string dir = roots.Kdamonds;
        if (!fs.DirectoryExists(dir))
        {
            return DamonAdminTree.Empty;
        }

        var kdamonds = new List<Kdamond>();
        foreach ((int index, _) in NumericChildren(dir))
        {
            kdamonds.Add(ReadKdamond(index, includeTriedRegions));
        }

        return new DamonAdminTree(kdamonds);
    }

    /// <summary>
    /// Every kdamond's state and pid only (Contexts empty, RefreshMs null): what deciding whether
    /// and where to start kdamonds needs, without parsing settings of kdamonds of others.
    /// </summary>
    public DamonAdminTree ReadKdamondHeads()
    {
        string dir = roots.Kdamonds;
        if (!fs.DirectoryExists(dir))
        {
            return DamonAdminTree.Empty;
        }

        var kdamonds = new List<Kdamond>();
        foreach ((int index, _) in NumericChildren(dir))
        {
            kdamonds.Add(new Kdamond(index, ReadState(index), ReadPid(index), null, []));
        }

        return new DamonAdminTree(kdamonds);
    }

    /// <summary>kdamonds/&lt;index&gt; and everything below it.</summary>
    public Kdamond ReadKdamond(int index, bool includeTriedRegions = true)
    {
        string kd = KdamondDir(index);
        bool on = ReadState(index);
        int pid = ReadPid(index);
        uint? refreshMs = OptionalUInt32(Path.Combine(kd, "refresh_ms"));
        string ctxDir = Path.Combine(kd, "contexts");
        var contexts = new List<DamonContext>();
        foreach ((int c, string name) in NumericChildren(ctxDir))
        {
            contexts.Add(ReadContext(c, Path.Combine(ctxDir, name), includeTriedRegions));
        }

        return new Kdamond(index, on, pid, refreshMs, contexts);
    }

    /// <summary>
    /// kdamonds/&lt;index&gt;/state: true for "on". Like pid, the kernel (6.12 seen) takes the
    /// DAMON sysfs mutex with trylock here, and holds that mutex for the whole of another
    /// writer's update_schemes_tried_regions, so EBUSY is retried the same way.
    /// </summary>
    public bool ReadState(int kdamond)
    {
        string path = Path.Combine(KdamondDir(kdamond), "state");
        string state = SysfsParsers.ParseKeyword(ReadRetryingBusy(path), path);
        return state switch
        {
            "on" => true,
            "off" => false,
            _ => throw new KernelFormatException(path, "on or off", state),
        };
    }

    /// <summary>
    /// kdamonds/&lt;index&gt;/pid, -1 when not running. The kernel takes the DAMON sysfs
    /// mutex with trylock here, so EBUSY is retried; after the last attempt the EBUSY
    /// <see cref="KernelIoException"/> propagates (the pid is unknown, not -1).
    /// </summary>
    public int ReadPid(int kdamond)
    {
        string path = Path.Combine(KdamondDir(kdamond), "pid");
        return SysfsParsers.ParseInt32(ReadRetryingBusy(path), path);
    }

    private string ReadRetryingBusy(string path)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return fs.ReadText(path);
            }
            catch (KernelIoException e) when (e.Errno == Errno.EBUSY && MayRetryBusy(attempt, started))
            {
                Thread.Sleep(pidRetryDelay);
            }
        }
    }

    private bool MayRetryBusy(int attempt, long started) =>
        busyBudget is { } budget ? System.Diagnostics.Stopwatch.GetElapsedTime(started) < budget : attempt < pidReadAttempts;
    /// <summary>contexts/&lt;c&gt;/monitoring_attrs/intervals: the intervals in force (tuned ones after update_tuned_intervals).</summary>
    public Intervals ReadIntervals(int kdamond, int context)
    {
        string iv = Path.Combine(KdamondDir(kdamond), "contexts", context.ToString(CultureInfo.InvariantCulture), "monitoring_attrs", "intervals");
        return new Intervals(Unsigned(Path.Combine(iv, "sample_us")), Unsigned(Path.Combine(iv, "aggr_us")), Unsigned(Path.Combine(iv, "update_us")));
    }

    /// <summary>schemes/&lt;s&gt;/quotas/effective_bytes; null before 6.9.</summary>
    public ulong? ReadEffectiveBytes(int kdamond, int context, int scheme) =>
        OptionalUnsigned(Path.Combine(SchemeDir(kdamond, context, scheme), "quotas", "effective_bytes"));

    /// <summary>schemes/&lt;s&gt;/stats only (the per-scrape read when refresh_ms keeps them fresh).</summary>
    public DamosStats ReadSchemeStats(int kdamond, int context, int scheme) =>
        ReadStats(Path.Combine(SchemeDir(kdamond, context, scheme), "stats"));

    /// <summary>
    /// The hot path: schemes/&lt;s&gt;/tried_regions with one open/read/close per file into a
    /// stack buffer. Null when the directory does not exist (kernel &lt; 6.2 or no such scheme).
    /// Region directories are sorted by their numeric name (names are not contiguous); a
    /// region that vanishes mid-read (a concurrent update/clear) is skipped and the result
    /// marked <see cref="TriedRegions.Torn"/>, as is one whose regions do not add up to
    /// total_bytes read before and after them.
    /// </summary>
    public TriedRegions? ReadTriedRegions(int kdamond, int context, int scheme) =>
        ReadTriedRegionsDir(TriedRegionsDir(kdamond, context, scheme));

    /// <summary>The path of schemes/&lt;s&gt;/tried_regions (for messages).</summary>
    public string TriedRegionsDir(int kdamond, int context, int scheme) =>
        triedDirs.GetOrAdd((kdamond, context, scheme), static (key, self) =>
            Path.Combine(self.SchemeDir(key.K, key.C, key.S), "tried_regions"), this);

    private TriedRegions? ReadTriedRegionsDir(string dir)
    {
        IKernelDirectory d;
        try
        {
            d = fs.OpenDirectory(dir);
        }
        catch (KernelIoException e) when (e.IsNotFound)
        {
            return null;
        }

        using (d)
        {
            List<int> keys = new(Math.Max(16, Volatile.Read(ref lastRegionCount)));
            IReadOnlyList<string> others;
            try
            {
                others = d.ListNumbered(keys);
            }
            catch (KernelIoException e) when (e.IsNotFound)
            {
                return null;
            }

            CollectionsMarshal.AsSpan(keys).Sort();
            int count = keys.Count;
            Volatile.Write(ref lastRegionCount, count);
            ulong? total = null;
            if (others.Contains("total_bytes") && TryReadU64(d, "total_bytes"u8, out ulong t))
            {
                total = t;
            }

            var regions = new DamonRegion[count];
            ulong sum = 0;
            ulong[]? passed = szFilterPassedKnown == 2 ? null : new ulong[count];
            int n = 0;

            // "<region>/<file>": the region's digits, then each file name appended in place.
            Span<byte> name = stackalloc byte[48];
            for (int i = 0; i < count; i++)
            {
                _ = keys[i].TryFormat(name, out int digits, default, CultureInfo.InvariantCulture);
                name[digits++] = (byte)'/';
                if (!TryReadU64(d, Join(name, digits, "start"u8), out ulong start)
                    || !TryReadU64(d, Join(name, digits, "end"u8), out ulong end)
                    || !TryReadU64(d, Join(name, digits, "nr_accesses"u8), out ulong nrAccesses)
                    || !TryReadU64(d, Join(name, digits, "age"u8), out ulong age))
                {
                    continue; // vanished
                }

                if (passed is not null)
                {
                    if (TryReadU64(d, Join(name, digits, "sz_filter_passed"u8), out ulong sz))
                    {
                        passed[n] = sz;
                        szFilterPassedKnown = 1;
                    }
                    else if (szFilterPassedKnown == 1 || !TryReadU64(d, Join(name, digits, "start"u8), out _))
                    {
                        continue; // the region vanished between its files
                    }
                    else
                    {
                        szFilterPassedKnown = 2; // this kernel has no sz_filter_passed
                        passed = null;
                    }
                }

                if (end < start)
                {
                    throw new KernelFormatException(RegionFile(d, name, digits, "end"u8), $"an end not below start {start}", end.ToString(CultureInfo.InvariantCulture));
                }

                if (nrAccesses > uint.MaxValue || age > uint.MaxValue)
                {
                    ReadOnlySpan<byte> file = nrAccesses > uint.MaxValue ? "nr_accesses"u8 : "age"u8;
                    throw new KernelFormatException(RegionFile(d, name, digits, file), "a 32-bit unsigned number", Math.Max(nrAccesses, age).ToString(CultureInfo.InvariantCulture));
                }

                regions[n++] = new DamonRegion(start, end, (uint)nrAccesses, (uint)age);
                sum += end - start;
            }

            // Another writer's update clears the directory, then the kdamond refills it at its
            // next apply: a read in between sees a part. total_bytes (6.6) is the sum of what the
            // update put in, so a whole read adds up to it and it did not change meanwhile.
            bool torn = n != count;
            if (total is { } before)
            {
                torn |= sum != before || !TryReadU64(d, "total_bytes"u8, out ulong after) || after != before;
            }

            if (szFilterPassedKnown != 1)
            {
                passed = null; // absent, or no region seen yet to tell
            }

            if (n != count)
            {
                Array.Resize(ref regions, n);
                if (passed is not null)
                {
                    Array.Resize(ref passed, n);
                }
            }

            return new TriedRegions(total, regions, passed, torn);
        }
    }

    /// <summary>
    /// A scheme's tried_regions/total_bytes alone (what update_schemes_tried_bytes refreshes);
    /// null when the file does not exist (kernel &lt; 6.2, no such scheme).
    /// </summary>
    public ulong? ReadTriedBytes(int kdamond, int context, int scheme)
    {
        string dir = triedDirs.GetOrAdd((kdamond, context, scheme), static (key, self) =>
            Path.Combine(self.SchemeDir(key.K, key.C, key.S), "tried_regions"), this);
        string path = Path.Combine(dir, "total_bytes");
        Span<byte> buf = stackalloc byte[32];
        int n;
        try
        {
            n = fs.ReadBytes(path, buf);
        }
        catch (KernelIoException e) when (e.IsNotFound || e.Errno == Errno.ENODEV)
        {
            return null;
        }

        return SysfsParsers.TryParseUnsigned(buf[..n], out ulong value)
            ? value
            : throw new KernelFormatException(path, "an unsigned decimal number", System.Text.Encoding.UTF8.GetString(buf[..n]));
    }

    // name[..prefix] holds "<region>/"; appends the file name and returns the whole relative path.
    // The path of a region's file, built only for an error message (the walk itself joins bytes).
    private static string RegionFile(IKernelDirectory d, Span<byte> name, int digits, ReadOnlySpan<byte> file) =>
        Path.Combine(d.Path, System.Text.Encoding.UTF8.GetString(Join(name, digits, file)));

    private static ReadOnlySpan<byte> Join(Span<byte> name, int prefix, ReadOnlySpan<byte> file)
    {
        file.CopyTo(name[prefix..]);
        return name[..(prefix + file.Length)];
    }

    // One open/read/close into a stack buffer; false when the file does not exist, or is being
    // removed: sysfs answers ENODEV for a file whose directory another writer's tried_regions
    // update is tearing down (seen on 6.12 with the agent and `damon-otel snapshot` at once).
    private static bool TryReadU64(IKernelDirectory dir, ReadOnlySpan<byte> relativePath, out ulong value)
    {
        Span<byte> buf = stackalloc byte[32];
        int n;
        try
        {
            n = dir.ReadBytes(relativePath, buf);
        }
        catch (KernelIoException e) when (e.IsNotFound || e.Errno == Errno.ENODEV)
        {
            value = 0;
            return false;
        }

        if (!SysfsParsers.TryParseUnsigned(buf[..n], out value))
        {
            throw new KernelFormatException(Path.Combine(dir.Path, System.Text.Encoding.UTF8.GetString(relativePath)), "an unsigned decimal number", System.Text.Encoding.UTF8.GetString(buf[..n]));
        }

        return true;
    }

    private DamonContext ReadContext(int c, string dir, bool includeTriedRegions)
    {
        string operations = Keyword(Path.Combine(dir, "operations"));
        string? availText = OptionalText(Path.Combine(dir, "avail_operations"));
        IReadOnlyList<string>? avail = availText is null ? null : SysfsParsers.ParseKeywordLines(availText, Path.Combine(dir, "avail_operations"));
        ulong? addrUnit = OptionalUnsigned(Path.Combine(dir, "addr_unit"));
        bool? pause = OptionalBool(Path.Combine(dir, "pause"));

        string ma = Path.Combine(dir, "monitoring_attrs");
        string iv = Path.Combine(ma, "intervals");
        var intervals = new Intervals(Unsigned(Path.Combine(iv, "sample_us")), Unsigned(Path.Combine(iv, "aggr_us")), Unsigned(Path.Combine(iv, "update_us")));
        string goalDir = Path.Combine(iv, "intervals_goal");
        IntervalsGoal? goal = fs.DirectoryExists(goalDir)
            ? new IntervalsGoal(
                Unsigned(Path.Combine(goalDir, "access_bp")),
                Unsigned(Path.Combine(goalDir, "aggrs")),
                Unsigned(Path.Combine(goalDir, "min_sample_us")),
                Unsigned(Path.Combine(goalDir, "max_sample_us")))
            : null;
        string nr = Path.Combine(ma, "nr_regions");
        var attrs = new MonitoringAttrs(intervals, goal, Unsigned(Path.Combine(nr, "min")), Unsigned(Path.Combine(nr, "max")));

        string tDir = Path.Combine(dir, "targets");
        var targets = new List<DamonTarget>();
        foreach ((int t, string name) in NumericChildren(tDir))
        {
            targets.Add(ReadTarget(t, Path.Combine(tDir, name)));
        }

        string sDir = Path.Combine(dir, "schemes");
        var schemes = new List<DamosScheme>();
        foreach ((int s, string name) in NumericChildren(sDir))
        {
            schemes.Add(ReadScheme(s, Path.Combine(sDir, name), includeTriedRegions));
        }

        return new DamonContext(c, operations, avail, addrUnit, pause, attrs, targets, schemes);
    }

    private DamonTarget ReadTarget(int index, string dir)
    {
        int pid = Int32(Path.Combine(dir, "pid_target"));
        bool? obsolete = OptionalBool(Path.Combine(dir, "obsolete_target"));
        string rDir = Path.Combine(dir, "regions");
        var regions = new List<AddressRange>();
        foreach ((_, string name) in NumericChildren(rDir))
        {
            string rd = Path.Combine(rDir, name);
            ulong start = Unsigned(Path.Combine(rd, "start"));
            ulong end = Unsigned(Path.Combine(rd, "end"));
            if (end < start)
            {
                throw new KernelFormatException(Path.Combine(rd, "end"), $"an end not below start {start}", end.ToString(CultureInfo.InvariantCulture));
            }

            regions.Add(new AddressRange(start, end));
        }

        return new DamonTarget(index, pid, obsolete, regions);
    }

    private DamosScheme ReadScheme(int index, string dir, bool includeTriedRegions)
    {
        string action = Keyword(Path.Combine(dir, "action"));
        ulong? applyInterval = OptionalUnsigned(Path.Combine(dir, "apply_interval_us"));
        int? targetNid = OptionalInt32(Path.Combine(dir, "target_nid"));

        string ap = Path.Combine(dir, "access_pattern");
        var pattern = new AccessPattern(Range(Path.Combine(ap, "sz")), Range(Path.Combine(ap, "nr_accesses")), Range(Path.Combine(ap, "age")));

        string q = Path.Combine(dir, "quotas");
        string w = Path.Combine(q, "weights");
        var weights = new QuotaWeights(UInt32(Path.Combine(w, "sz_permil")), UInt32(Path.Combine(w, "nr_accesses_permil")), UInt32(Path.Combine(w, "age_permil")));
        string goalsDir = Path.Combine(q, "goals");
        List<QuotaGoal>? goals = null;
        if (fs.DirectoryExists(goalsDir))
        {
            goals = [];
            foreach ((int g, string name) in NumericChildren(goalsDir))
            {
                string gd = Path.Combine(goalsDir, name);
                string? pathText = OptionalText(Path.Combine(gd, "path"));
                goals.Add(new QuotaGoal(
                    g,
                    OptionalKeyword(Path.Combine(gd, "target_metric")),
                    Unsigned(Path.Combine(gd, "target_value")),
                    Unsigned(Path.Combine(gd, "current_value")),
                    OptionalInt32(Path.Combine(gd, "nid")),
                    pathText is null ? null : SysfsParsers.ParseLine(pathText)));
            }
        }

        var quotas = new DamosQuotas(
            Unsigned(Path.Combine(q, "ms")),
            Unsigned(Path.Combine(q, "bytes")),
            Unsigned(Path.Combine(q, "reset_interval_ms")),
            OptionalUnsigned(Path.Combine(q, "effective_bytes")),
            OptionalKeyword(Path.Combine(q, "goal_tuner")),
            weights,
            goals);

        string wm = Path.Combine(dir, "watermarks");
        var watermarks = new DamosWatermarks(
            Keyword(Path.Combine(wm, "metric")),
            Unsigned(Path.Combine(wm, "interval_us")),
            Unsigned(Path.Combine(wm, "high")),
            Unsigned(Path.Combine(wm, "mid")),
            Unsigned(Path.Combine(wm, "low")));

        IReadOnlyList<DamosFilter>? filters = ReadFilters(Path.Combine(dir, "filters"));
        IReadOnlyList<DamosFilter>? coreFilters = ReadFilters(Path.Combine(dir, "core_filters"));
        IReadOnlyList<DamosFilter>? opsFilters = ReadFilters(Path.Combine(dir, "ops_filters"));

        string destsDir = Path.Combine(dir, "dests");
        List<DamosDest>? dests = null;
        if (fs.DirectoryExists(destsDir))
        {
            dests = [];
            foreach ((int d, string name) in NumericChildren(destsDir))
            {
                string dd = Path.Combine(destsDir, name);
                dests.Add(new DamosDest(d, Int32(Path.Combine(dd, "id")), UInt32(Path.Combine(dd, "weight"))));
            }
        }

        DamosStats stats = ReadStats(Path.Combine(dir, "stats"));
        TriedRegions? tried = includeTriedRegions ? ReadTriedRegionsDir(Path.Combine(dir, "tried_regions")) : null;
        return new DamosScheme(index, action, applyInterval, targetNid, pattern, quotas, watermarks, filters, coreFilters, opsFilters, dests, stats, tried);
    }

    private List<DamosFilter>? ReadFilters(string dir)
    {
        if (!fs.DirectoryExists(dir))
        {
            return null;
        }

        var filters = new List<DamosFilter>();
        foreach ((int f, string name) in NumericChildren(dir))
        {
            string fd = Path.Combine(dir, name);
            string? memcg = OptionalText(Path.Combine(fd, "memcg_path"));
            filters.Add(new DamosFilter(
                f,
                Keyword(Path.Combine(fd, "type")),
                Bool(Path.Combine(fd, "matching")),
                OptionalBool(Path.Combine(fd, "allow")),
                memcg is null ? null : SysfsParsers.ParseLine(memcg),
                OptionalUnsigned(Path.Combine(fd, "addr_start")),
                OptionalUnsigned(Path.Combine(fd, "addr_end")),
                OptionalInt32(Path.Combine(fd, "damon_target_idx")),
                OptionalUnsigned(Path.Combine(fd, "min")),
                OptionalUnsigned(Path.Combine(fd, "max"))));
        }

        return filters;
    }

    private DamosStats ReadStats(string dir) => new(
        Unsigned(Path.Combine(dir, "nr_tried")),
        Unsigned(Path.Combine(dir, "sz_tried")),
        Unsigned(Path.Combine(dir, "nr_applied")),
        Unsigned(Path.Combine(dir, "sz_applied")),
        OptionalUnsigned(Path.Combine(dir, "sz_ops_filter_passed")),
        Unsigned(Path.Combine(dir, "qt_exceeds")),
        OptionalUnsigned(Path.Combine(dir, "nr_snapshots")),
        OptionalUnsigned(Path.Combine(dir, "max_nr_snapshots")));

    private ValueRange Range(string dir) => new(Unsigned(Path.Combine(dir, "min")), Unsigned(Path.Combine(dir, "max")));

    private string KdamondDir(int k) => Path.Combine(roots.Kdamonds, k.ToString(CultureInfo.InvariantCulture));

    private string SchemeDir(int k, int c, int s) => Path.Combine(
        KdamondDir(k), "contexts", c.ToString(CultureInfo.InvariantCulture), "schemes", s.ToString(CultureInfo.InvariantCulture));

    /// <summary>Numeric child directories of <paramref name="dir"/>, sorted numerically; empty when the directory is absent.</summary>
    internal List<(int Index, string Name)> NumericChildren(string dir) => ListNumeric(fs, dir);

    internal static List<(int Index, string Name)> ListNumeric(IKernelFs fs, string dir)
    {
        var result = new List<(int, string)>();
        IReadOnlyList<string> names;
        try
        {
            names = fs.ListDirectory(dir);
        }
        catch (KernelIoException e) when (e.IsNotFound)
        {
            return result;
        }

        foreach (string name in names)
        {
            if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int i))
            {
                result.Add((i, name));
            }
        }

        result.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return result;
    }

    private ulong Unsigned(string path) => SysfsParsers.ParseUnsigned(fs.ReadText(path), path);

    private uint UInt32(string path) => SysfsParsers.ParseUInt32(fs.ReadText(path), path);

    private int Int32(string path) => SysfsParsers.ParseInt32(fs.ReadText(path), path);

    private bool Bool(string path) => SysfsParsers.ParseBool(fs.ReadText(path), path);

    private string Keyword(string path) => SysfsParsers.ParseKeyword(fs.ReadText(path), path);

    private string? OptionalText(string path)
    {
        try
        {
            return fs.ReadText(path);
        }
        catch (KernelIoException e) when (e.IsNotFound)
        {
            return null;
        }
    }

    private ulong? OptionalUnsigned(string path) => OptionalText(path) is { } t ? SysfsParsers.ParseUnsigned(t, path) : null;

    private uint? OptionalUInt32(string path) => OptionalText(path) is { } t ? SysfsParsers.ParseUInt32(t, path) : null;

    private int? OptionalInt32(string path) => OptionalText(path) is { } t ? SysfsParsers.ParseInt32(t, path) : null;

    private bool? OptionalBool(string path) => OptionalText(path) is { } t ? SysfsParsers.ParseBool(t, path) : null;

    private string? OptionalKeyword(string path) => OptionalText(path) is { } t ? SysfsParsers.ParseKeyword(t, path) : null;
}
