using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

internal sealed class ContextNode
{
    public ContextNode(VDir d, KernelProfile p)
    {
        d.Func("avail_operations", () => string.Join('\n', ProfileTables.Operations) + "\n");
        Operations = d.Keyword("operations", "vaddr", ProfileTables.Operations);
        if (p != KernelProfile.V6_12)
        {
            AddrUnit = d.U64("addr_unit", 1);
        }

        VDir ma = d.Dir("monitoring_attrs");
        VDir iv = ma.Dir("intervals");
        Sample = iv.U64("sample_us", 5000);
        Aggr = iv.U64("aggr_us", 100000);
        Update = iv.U64("update_us", 60000000);
        if (p != KernelProfile.V6_12)
        {
            VDir g = iv.Dir("intervals_goal");
            GoalAccessBp = g.U64("access_bp");
            GoalAggrs = g.U64("aggrs");
            GoalMinSample = g.U64("min_sample_us");
            GoalMaxSample = g.U64("max_sample_us");
        }

        MinNr = ma.Dir("nr_regions").U64("min", 10);
        MaxNr = ma.Dir("nr_regions").U64("max", 1000);
        Targets = new NrChildren<TargetNode>(d.Dir("targets"), "nr_targets", (td, _) => new TargetNode(td, p));
        Schemes = new NrChildren<SchemeNode>(d.Dir("schemes"), "nr_schemes", (sd, _) => new SchemeNode(sd, p));
    }

    public ValueFile Operations { get; }

    public ValueFile? AddrUnit { get; }

    public ValueFile Sample { get; }

    public ValueFile Aggr { get; }

    public ValueFile Update { get; }

    public ValueFile? GoalAccessBp { get; }

    public ValueFile? GoalAggrs { get; }

    public ValueFile? GoalMinSample { get; }

    public ValueFile? GoalMaxSample { get; }

    public ValueFile MinNr { get; }

    public ValueFile MaxNr { get; }

    public NrChildren<TargetNode> Targets { get; }

    public NrChildren<SchemeNode> Schemes { get; }

    /// <summary>The first staged pid (vaddr, fvaddr) that names no process, if any.</summary>
    public int? FirstMissingPid(Func<int, bool> pidExists)
    {
        if (Operations.Text == "paddr")
        {
            return null;
        }

        foreach (TargetNode t in Targets.Items)
        {
            if (!pidExists(t.Pid.I))
            {
                return t.Pid.I;
            }
        }

        return null;
    }

    /// <summary>Builds the kernel's context from the staged files; EINVAL (naming the reason) like damon_sysfs_*_add_dirs/damon_commit_ctx.</summary>
    public CommittedContext ToConfig(string statePath, Func<int, bool> pidExists, bool commit = false)
    {
        KernelIoException Invalid(string why) => new(Errno.EINVAL, statePath, "write (" + why + ")");
        if (Aggr.U < Sample.U)
        {
            throw Invalid("aggr_us < sample_us");
        }

        if (MinNr.U < 3 || MinNr.U > MaxNr.U)
        {
            throw Invalid("nr_regions min < 3 or > max");
        }

        string ops = Operations.Text;
        var targets = new List<CommittedTarget>();
        foreach (TargetNode t in Targets.Items)
        {
            var ranges = new List<AddressRange>();
            foreach (RangeNode r in t.Regions.Items)
            {
                if (r.Start.U >= r.End.U || (ranges.Count > 0 && ranges[^1].End > r.Start.U))
                {
                    throw Invalid("regions unsorted, overlapping or empty");
                }

                ranges.Add(new AddressRange(r.Start.U, r.End.U));
            }

            if (ops != "paddr" && !pidExists(t.Pid.I))
            {
                throw Invalid($"pid {t.Pid.I} not found");
            }

            targets.Add(new CommittedTarget(t.Pid.I, [.. ranges], t.Obsolete?.Text == "Y"));
        }

        // On commit, a target without regions keeps its running regions.
        if (ops == "paddr" && (targets.Count != 1 || (!commit && targets[0].Regions.Length == 0)))
        {
            throw Invalid("paddr needs exactly one target with regions");
        }

        if (ops == "fvaddr" && !commit && targets.Any(t => t.Regions.Length == 0))
        {
            throw Invalid("fvaddr target without regions");
        }

        var goal = new IntervalsGoal(GoalAccessBp?.U ?? 0, GoalAggrs?.U ?? 0, GoalMinSample?.U ?? 0, GoalMaxSample?.U ?? 0);
        return new CommittedContext(
            ops,
            AddrUnit?.U ?? 1,
            Sample.U,
            Aggr.U,
            Update.U,
            goal,
            MinNr.U,
            MaxNr.U,
            [.. targets],
            [.. Schemes.Items.Select(s => s.ToConfig())]);
    }
}
