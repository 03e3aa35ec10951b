using DamonOtel.Damon.Procfs;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>
/// One DAMON target of a kdamond's context (contexts/0/targets/&lt;index&gt;), in kernel order:
/// a process of a configured target, a configured target without process (paddr ranges), or
/// a tombstone (a removed process's place on kernels without <c>obsolete_target</c>).
/// </summary>
/// <param name="ConfigIndex">The configured target it belongs to; <see cref="Tombstone"/> for none.</param>
/// <param name="Process">The process (pid 0 for paddr and for tombstones). Start ticks 0 = not known
/// (kdamonds of others, whose targets are only pids).</param>
internal readonly record struct KernelTarget(int ConfigIndex, ProcessIdentity Process)
{
    public const int Tombstone = -1;

    public static KernelTarget Dead { get; } = new(Tombstone, default);

    public bool IsTombstone => ConfigIndex == Tombstone;

    public bool HasProcess => ConfigIndex >= 0 && Process.Pid > 0;
}

/// <summary>
/// The kernel's target list of one kdamond and what each entry is: what the collection side
/// needs to merge the processes of one configured target and to read each one's mappings.
/// Immutable; replaced (with a higher version) whenever the list changes.
/// </summary>
internal sealed class TargetLayout(IReadOnlyList<KernelTarget> targets, IReadOnlyList<TargetProcessCounts> counts, long version)
{
    public static TargetLayout Empty { get; } = new([], [], 0);

    public IReadOnlyList<KernelTarget> Targets { get; } = targets;

    /// <summary>Per configured target (empty for kdamonds of others and modules).</summary>
    public IReadOnlyList<TargetProcessCounts> Counts { get; } = counts;

    public long Version { get; } = version;

    /// <summary>One entry per configured target, in order: the layout of a kdamond whose targets are no processes.</summary>
    public static TargetLayout Identity(int targets, long version = 1) =>
        new([.. Enumerable.Range(0, targets).Select(t => new KernelTarget(t, default))], [], version);
}

/// <summary>
/// One change of a running kdamond's target list: what to stage before <c>commit</c> and what
/// the kernel's list is afterwards.
/// </summary>
/// <param name="Staged">The targets to write, in order.</param>
/// <param name="Obsolete">Parallel to <paramref name="Staged"/>: true = <c>obsolete_target</c> Y (removed by the commit).</param>
/// <param name="Reset">Parallel to <paramref name="Staged"/>: true = the entry's old regions belong to
/// another process; it is staged with one region 0-4096 so that the commit drops them (the next
/// ops update gives the new process fresh regions).</param>
/// <param name="After">The kernel's list after the commit (without the obsolete entries).</param>
internal sealed record TargetPlan(
    IReadOnlyList<KernelTarget> Staged,
    IReadOnlyList<bool> Obsolete,
    IReadOnlyList<bool> Reset,
    IReadOnlyList<KernelTarget> After)
{
    public bool RemovesAny => Obsolete.Any(o => o);
}

/// <summary>
/// Decides how a running kdamond's target list follows the processes of its targets. The
/// kernel's <c>commit</c> matches old and new targets by position: the target at index i keeps
/// its regions (its monitoring history) whatever pid it is given, extra old targets are
/// destroyed and extra new ones start fresh (measured on 6.12 and 7.3: bench/procs/README.md).
/// So:
/// <list type="bullet">
/// <item>a process that stays keeps its index;</item>
/// <item>a process that left is dropped with <c>obsolete_target</c> where the kernel has it
/// (6.19+: the others keep their history and move up), else its entry becomes a tombstone: the
/// kdamond's own thread (a kernel thread, no memory, never a user process whatever happens to pids)
/// with one region 0-4096;</item>
/// <item>a new process takes the first tombstone (reset: its old regions dropped), else goes to the end;</item>
/// <item>trailing tombstones are cut off (the kernel destroys them).</item>
/// </list>
/// </summary>
internal static class TargetPlanner
{
    /// <summary>The first list of a kdamond: every process of every target, target by target.</summary>
    public static IReadOnlyList<KernelTarget> Initial(IReadOnlyList<ResolvedTarget> resolved)
    {
        var list = new List<KernelTarget>();
        for (int t = 0; t < resolved.Count; t++)
        {
            if (!resolved[t].IsProcess)
            {
                list.Add(new KernelTarget(t, default));
                continue;
            }

            foreach (ProcessIdentity p in resolved[t].Processes)
            {
                list.Add(new KernelTarget(t, p));
            }
        }

        return list;
    }

    /// <summary>The change from <paramref name="current"/> to the processes of <paramref name="resolved"/>; null when nothing changes.</summary>
    public static TargetPlan? Follow(IReadOnlyList<KernelTarget> current, IReadOnlyList<ResolvedTarget> resolved, bool canObsolete)
    {
        var wanted = new Dictionary<ProcessIdentity, int>();
        var order = new List<KernelTarget>();
        for (int t = 0; t < resolved.Count; t++)
        {
            foreach (ProcessIdentity p in resolved[t].Processes)
            {
                if (wanted.TryAdd(p, t))
                {
                    order.Add(new KernelTarget(t, p));
                }
            }
        }

        var staged = new List<KernelTarget>(current.Count + order.Count);
        var obsolete = new List<bool>(staged.Capacity);
        var reset = new List<bool>(staged.Capacity);
        var placed = new HashSet<ProcessIdentity>();
        bool changed = false;
        foreach (KernelTarget k in current)
        {
            bool keep = !k.HasProcess
                ? !k.IsTombstone && k.ConfigIndex < resolved.Count && !resolved[k.ConfigIndex].IsProcess
                : wanted.TryGetValue(k.Process, out int t) && t == k.ConfigIndex;
            if (keep || (k.IsTombstone && !canObsolete))
            {
                staged.Add(k);
                obsolete.Add(false);
                if (keep && k.HasProcess)
                {
                    placed.Add(k.Process);
                }
            }
            else if (canObsolete)
            {
                staged.Add(k);
                obsolete.Add(true);
                changed = true;
            }
            else
            {
                staged.Add(KernelTarget.Dead);
                obsolete.Add(false);
                changed = true;
            }

            reset.Add(false);
        }

        // Entries the kernel had before this commit whose regions belong to no process now.
        var freeSlots = new Queue<int>();
        for (int i = 0; i < staged.Count; i++)
        {
            if (staged[i].IsTombstone && !obsolete[i])
            {
                freeSlots.Enqueue(i);
            }
        }

        foreach (KernelTarget n in order)
        {
            if (placed.Contains(n.Process))
            {
                continue;
            }

            changed = true;
            if (freeSlots.TryDequeue(out int slot))
            {
                staged[slot] = n;
                reset[slot] = true;
            }
            else
            {
                staged.Add(n);
                obsolete.Add(false);
                reset.Add(false);
            }
        }

        // The kernel destroys entries past the new count: trailing tombstones just go.
        while (staged.Count > 0 && staged[^1].IsTombstone && !obsolete[^1])
        {
            staged.RemoveAt(staged.Count - 1);
            obsolete.RemoveAt(obsolete.Count - 1);
            reset.RemoveAt(reset.Count - 1);
            changed = true;
        }

        if (!changed && staged.Count == current.Count)
        {
            return null;
        }

        var after = new List<KernelTarget>(staged.Count);
        for (int i = 0; i < staged.Count; i++)
        {
            if (!obsolete[i])
            {
                after.Add(staged[i]);
            }
        }

        return new TargetPlan(staged, obsolete, reset, after);
    }
}
