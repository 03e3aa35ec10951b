using System.Globalization;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Sysfs;

/// <summary>The spec asks for something this kernel's sysfs has no file for.</summary>
public sealed class DamonFeatureMissingException : NotSupportedException
{
    public DamonFeatureMissingException(string feature, string path)
        : base($"this kernel does not support {feature}: {path} does not exist")
    {
        Feature = feature;
        Path = path;
    }

    public DamonFeatureMissingException()
        : this("the feature", string.Empty)
    {
    }

    public DamonFeatureMissingException(string message)
        : base(message)
    {
        Feature = string.Empty;
        Path = string.Empty;
    }

    public DamonFeatureMissingException(string message, Exception innerException)
        : base(message, innerException)
    {
        Feature = string.Empty;
        Path = string.Empty;
    }

    public string Feature { get; }

    public string Path { get; }
}

/// <summary>
/// Writes a <see cref="KdamondSpec"/> into kdamonds/&lt;K&gt;. Only for kdamonds the caller
/// owns: writing nr_* files wipes whatever was configured below them. Values are staged;
/// they take effect on the next <c>on</c> or <c>commit</c> (see <see cref="StateCommands"/>).
/// Writes go in an order the kernel accepts at every step: nr_* files before the children
/// they recreate, min/max pairs (intervals, nr_regions, access pattern, region bounds) in
/// the order that keeps lower ≤ upper, numbers in plain decimal (the kernel's kstrto*
/// with base 0 would read a leading 0 as octal). A file is written only if it exists;
/// a spec needing a missing feature fails with <see cref="DamonFeatureMissingException"/>
/// at that value (earlier values stay staged; nothing is applied until on/commit).
/// </summary>
public sealed class DamonSysfsWriter(IKernelFs fs, KernelRoots roots)
{
    private readonly IKernelFs fs = fs ?? throw new ArgumentNullException(nameof(fs));
    private readonly KernelRoots roots = roots ?? throw new ArgumentNullException(nameof(roots));

    /// <summary>
    /// Makes nr_kdamonds equal <paramref name="count"/> (no write when it already does).
    /// Recreates every kdamond directory with defaults; the kernel refuses (EBUSY) while any kdamond runs.
    /// </summary>
    public void EnsureKdamondCount(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        string path = Path.Combine(roots.Kdamonds, "nr_kdamonds");
        if (!fs.FileExists(path))
        {
            throw new DamonFeatureMissingException("the DAMON sysfs interface (CONFIG_DAMON_SYSFS)", path);
        }

        if (SysfsParsers.ParseUnsigned(fs.ReadText(path), path) == (ulong)count)
        {
            return;
        }

        // EBUSY (some kdamond is running) propagates with its errno.
        fs.WriteText(path, Num(count));
    }

    /// <summary>Writes the whole configuration of kdamonds/&lt;index&gt; (which must exist).</summary>
    public void WriteKdamond(int index, KdamondSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string kd = Path.Combine(roots.Kdamonds, Num(index));
        if (!fs.DirectoryExists(kd))
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"{kd} does not exist; call EnsureKdamondCount first");
        }

        if (spec.RefreshMs is { } refresh)
        {
            WriteOptional(Path.Combine(kd, "refresh_ms"), Num(refresh), "refresh_ms (6.17)", refresh != 0);
        }

        string cs = Path.Combine(kd, "contexts");
        Write(Path.Combine(cs, "nr_contexts"), Num(spec.Contexts.Count));
        for (int c = 0; c < spec.Contexts.Count; c++)
        {
            WriteContext(Path.Combine(cs, Num(c)), spec.Contexts[c]);
        }
    }

    private void WriteContext(string dir, ContextSpec spec)
    {
        string availPath = Path.Combine(dir, "avail_operations");
        if (fs.FileExists(availPath))
        {
            IReadOnlyList<string> avail = SysfsParsers.ParseKeywordLines(fs.ReadText(availPath), availPath);
            if (!avail.Contains(spec.Operations))
            {
                throw new DamonFeatureMissingException(
                    $"operations set '{spec.Operations}' (available: {string.Join(", ", avail)})", availPath);
            }
        }

        Write(Path.Combine(dir, "operations"), spec.Operations);
        if (spec.AddrUnit is { } unit)
        {
            WriteOptional(Path.Combine(dir, "addr_unit"), Num(unit), "addr_unit (6.18)", unit != 1);
        }

        string ma = Path.Combine(dir, "monitoring_attrs");
        string iv = Path.Combine(ma, "intervals");
        WriteOrderedPair(Path.Combine(iv, "sample_us"), spec.Intervals.SampleUs, Path.Combine(iv, "aggr_us"), spec.Intervals.AggrUs);
        Write(Path.Combine(iv, "update_us"), Num(spec.Intervals.UpdateUs));
        if (spec.IntervalsGoal is { } goal)
        {
            string g = Required(Path.Combine(iv, "intervals_goal"), "intervals_goal (6.15)", goal != new IntervalsGoal(0, 0, 0, 0), directory: true);
            if (fs.DirectoryExists(g))
            {
                Write(Path.Combine(g, "access_bp"), Num(goal.AccessBp));
                Write(Path.Combine(g, "aggrs"), Num(goal.Aggrs));
                WriteOrderedPair(Path.Combine(g, "min_sample_us"), goal.MinSampleUs, Path.Combine(g, "max_sample_us"), goal.MaxSampleUs);
            }
        }

        string nr = Path.Combine(ma, "nr_regions");
        WriteOrderedPair(Path.Combine(nr, "min"), spec.MinNrRegions, Path.Combine(nr, "max"), spec.MaxNrRegions);

        WriteTargets(Path.Combine(dir, "targets"), spec.Targets);

        string ss = Path.Combine(dir, "schemes");
        Write(Path.Combine(ss, "nr_schemes"), Num(spec.Schemes.Count));
        for (int s = 0; s < spec.Schemes.Count; s++)
        {
            WriteScheme(Path.Combine(ss, Num(s)), spec.Schemes[s]);
        }
    }

    /// <summary>
    /// Rewrites only contexts/&lt;context&gt;/targets of kdamonds/&lt;index&gt; (staged, like every
    /// write): after a commit that removed targets with obsolete_target, the staged list must
    /// mirror the kernel's new one before anything is committed again.
    /// </summary>
    public void WriteTargets(int index, int context, IReadOnlyList<TargetSpec> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        WriteTargets(Path.Combine(roots.Kdamonds, Num(index), "contexts", Num(context), "targets"), targets);
    }

    private void WriteTargets(string ts, IReadOnlyList<TargetSpec> targets)
    {
        Write(Path.Combine(ts, "nr_targets"), Num(targets.Count));
        for (int t = 0; t < targets.Count; t++)
        {
            WriteTarget(Path.Combine(ts, Num(t)), targets[t]);
        }
    }

    private void WriteTarget(string dir, TargetSpec spec)
    {
        Write(Path.Combine(dir, "pid_target"), Num(spec.Pid));
        if (spec.Obsolete is { } obsolete)
        {
            WriteOptional(Path.Combine(dir, "obsolete_target"), obsolete ? "Y" : "N", "obsolete_target (6.19)", obsolete);
        }

        IReadOnlyList<AddressRange> regions = spec.Regions ?? [];
        string rs = Path.Combine(dir, "regions");
        Write(Path.Combine(rs, "nr_regions"), Num(regions.Count));
        for (int r = 0; r < regions.Count; r++)
        {
            string rd = Path.Combine(rs, Num(r));
            WriteOrderedPair(Path.Combine(rd, "start"), regions[r].Start, Path.Combine(rd, "end"), regions[r].End);
        }
    }

    private void WriteScheme(string dir, SchemeSpec spec)
    {
        Write(Path.Combine(dir, "action"), spec.Action);
        if (spec.ApplyIntervalUs is { } apply)
        {
            WriteOptional(Path.Combine(dir, "apply_interval_us"), Num(apply), "apply_interval_us (6.7)", apply != 0);
        }

        if (spec.TargetNid is { } nid)
        {
            WriteOptional(Path.Combine(dir, "target_nid"), Num(nid), "target_nid (6.11)", nid != -1);
        }

        string ap = Path.Combine(dir, "access_pattern");
        WritePattern(Path.Combine(ap, "sz"), spec.AccessPattern.Size);
        WritePattern(Path.Combine(ap, "nr_accesses"), spec.AccessPattern.NrAccesses);
        WritePattern(Path.Combine(ap, "age"), spec.AccessPattern.Age);

        if (spec.Quotas is { } q)
        {
            WriteQuotas(Path.Combine(dir, "quotas"), q);
        }

        if (spec.Watermarks is { } wm)
        {
            string w = Path.Combine(dir, "watermarks");
            Write(Path.Combine(w, "metric"), wm.Metric);
            Write(Path.Combine(w, "interval_us"), Num(wm.IntervalUs));
            Write(Path.Combine(w, "high"), Num(wm.High));
            Write(Path.Combine(w, "mid"), Num(wm.Mid));
            Write(Path.Combine(w, "low"), Num(wm.Low));
        }

        WriteFilters(dir, spec.Filters ?? []);

        if (spec.Dests is { Count: > 0 } dests)
        {
            string ds = Required(Path.Combine(dir, "dests"), "dests (6.17)", true, directory: true);
            Write(Path.Combine(ds, "nr_dests"), Num(dests.Count));
            for (int d = 0; d < dests.Count; d++)
            {
                string dd = Path.Combine(ds, Num(d));
                Write(Path.Combine(dd, "id"), Num(dests[d].NodeId));
                Write(Path.Combine(dd, "weight"), Num(dests[d].Weight));
            }
        }
    }

    private void WriteQuotas(string q, QuotaSpec spec)
    {
        Write(Path.Combine(q, "ms"), Num(spec.Ms));
        Write(Path.Combine(q, "bytes"), Num(spec.Bytes));
        Write(Path.Combine(q, "reset_interval_ms"), Num(spec.ResetIntervalMs));
        if (spec.Weights is { } w)
        {
            string wd = Path.Combine(q, "weights");
            Write(Path.Combine(wd, "sz_permil"), Num(w.SzPermil));
            Write(Path.Combine(wd, "nr_accesses_permil"), Num(w.NrAccessesPermil));
            Write(Path.Combine(wd, "age_permil"), Num(w.AgePermil));
        }

        if (spec.Goals is not { Count: > 0 } goals)
        {
            return;
        }

        string gs = Required(Path.Combine(q, "goals"), "quota goals (6.8)", true, directory: true);
        Write(Path.Combine(gs, "nr_goals"), Num(goals.Count));
        for (int i = 0; i < goals.Count; i++)
        {
            QuotaGoalSpec g = goals[i];
            string gd = Path.Combine(gs, Num(i));
            if (g.TargetMetric is { } metric)
            {
                // 6.8 has no target_metric file and behaves as user_input.
                WriteOptional(Path.Combine(gd, "target_metric"), metric, $"quota goal metric '{metric}' (6.9)", metric != "user_input");
            }

            Write(Path.Combine(gd, "target_value"), Num(g.TargetValue));
            Write(Path.Combine(gd, "current_value"), Num(g.CurrentValue));
            if (g.Nid is { } nid)
            {
                WriteOptional(Path.Combine(gd, "nid"), Num(nid), "quota goal nid (6.16)", true);
            }

            if (g.Path is { } path)
            {
                WriteOptional(Path.Combine(gd, "path"), path, "quota goal memcg path (6.19)", true);
            }
        }
    }

    private void WriteFilters(string schemeDir, IReadOnlyList<FilterSpec> filters)
    {
        string legacy = Path.Combine(schemeDir, "filters");
        string core = Path.Combine(schemeDir, "core_filters");
        string ops = Path.Combine(schemeDir, "ops_filters");
        if (fs.DirectoryExists(core) && fs.DirectoryExists(ops))
        {
            // 6.15+: each layer has its own directory and rejects the other layer's types.
            WriteFilterDir(core, [.. filters.Where(f => f.IsCoreLayer)]);
            WriteFilterDir(ops, [.. filters.Where(f => !f.IsCoreLayer)]);
        }
        else if (fs.DirectoryExists(legacy))
        {
            WriteFilterDir(legacy, filters);
        }
        else if (filters.Count > 0)
        {
            throw new DamonFeatureMissingException("DAMOS filters (6.3)", legacy);
        }
    }

    private void WriteFilterDir(string dir, IReadOnlyList<FilterSpec> filters)
    {
        Write(Path.Combine(dir, "nr_filters"), Num(filters.Count));
        for (int i = 0; i < filters.Count; i++)
        {
            FilterSpec f = filters[i];
            string fd = Path.Combine(dir, Num(i));

            // Name the missing feature before the kernel answers the type keyword with a bare EINVAL.
            if (f.HugepageSize is not null)
            {
                _ = Required(Path.Combine(fd, "min"), "hugepage_size filters (6.15)", true);
            }

            if (f.Address is not null)
            {
                _ = Required(Path.Combine(fd, "addr_start"), "addr filters (6.6)", true);
            }

            Write(Path.Combine(fd, "type"), f.Type);
            Write(Path.Combine(fd, "matching"), f.Matching ? "Y" : "N");
            if (f.Allow is { } allow)
            {
                WriteOptional(Path.Combine(fd, "allow"), allow ? "Y" : "N", "allow filters (6.14)", allow);
            }

            if (f.MemcgPath is { } memcg)
            {
                Write(Path.Combine(fd, "memcg_path"), memcg);
            }

            if (f.Address is { } range)
            {
                string s = Required(Path.Combine(fd, "addr_start"), "addr filters (6.6)", true);
                WriteOrderedPair(s, range.Start, Path.Combine(fd, "addr_end"), range.End);
            }

            if (f.TargetIndex is { } idx)
            {
                WriteOptional(Path.Combine(fd, "damon_target_idx"), Num(idx), "target filters (6.6)", true);
            }

            if (f.HugepageSize is { } hp)
            {
                string mn = Required(Path.Combine(fd, "min"), "hugepage_size filters (6.15)", true);
                WriteOrderedPair(mn, hp.Min, Path.Combine(fd, "max"), hp.Max);
            }
        }
    }

    private void WritePattern(string dir, ValueRange range) =>
        WriteOrderedPair(Path.Combine(dir, "min"), range.Min, Path.Combine(dir, "max"), range.Max);

    /// <summary>
    /// Writes a lower/upper pair so that lower ≤ upper holds after each write: if the new
    /// lower exceeds the current upper (moving up), upper goes first; otherwise lower first.
    /// </summary>
    private void WriteOrderedPair(string lowerPath, ulong lower, string upperPath, ulong upper)
    {
        if (lower > upper)
        {
            throw new ArgumentException($"{lowerPath} = {lower} would exceed {upperPath} = {upper}");
        }

        ulong currentUpper = SysfsParsers.ParseUnsigned(fs.ReadText(upperPath), upperPath);
        if (lower > currentUpper)
        {
            Write(upperPath, Num(upper));
            Write(lowerPath, Num(lower));
        }
        else
        {
            Write(lowerPath, Num(lower));
            Write(upperPath, Num(upper));
        }
    }

    // Writes when the file exists; when it does not, fails only if the spec needs the feature.
    private void WriteOptional(string path, string value, string feature, bool needed)
    {
        if (fs.FileExists(path))
        {
            fs.WriteText(path, value);
        }
        else if (needed)
        {
            throw new DamonFeatureMissingException(feature, path);
        }
    }

    // Returns the path when it exists; when it does not, fails if the spec needs it, else returns it anyway (callers skip absent files).
    private string Required(string path, string feature, bool needed, bool directory = false)
    {
        bool exists = directory ? fs.DirectoryExists(path) : fs.FileExists(path);
        if (!exists && needed)
        {
            throw new DamonFeatureMissingException(feature, path);
        }

        return path;
    }

    private void Write(string path, string value)
    {
        if (!fs.FileExists(path))
        {
            throw new DamonFeatureMissingException(System.IO.Path.GetFileName(path), path);
        }

        fs.WriteText(path, value);
    }

    private static string Num(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Num(long v) => v.ToString(CultureInfo.InvariantCulture);
}
