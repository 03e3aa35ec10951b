using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Agent.Tests.Targets;

/// <summary>
/// How a running kdamond's target list follows processes. The kernel pairs old and new targets
/// by position (bench/procs/README.md), so a process that stays must keep its index.
/// </summary>
public class TargetPlannerTests
{
    private static readonly ProcessIdentity A = new(100, 10), B = new(200, 20), C = new(300, 30), D = new(400, 40), E = new(500, 50);

    [Fact]
    public void The_first_list_is_every_process_target_by_target()
    {
        IReadOnlyList<KernelTarget> list = TargetPlanner.Initial([Target(A, B), Target(C)]);
        Assert.Equal([new KernelTarget(0, A), new KernelTarget(0, B), new KernelTarget(1, C)], list);
    }

    [Fact]
    public void Nothing_changes_when_the_processes_are_the_same()
    {
        Assert.Null(TargetPlanner.Follow([new(0, A), new(0, B)], [Target(A, B)], canObsolete: false));
        Assert.Null(TargetPlanner.Follow([new(0, A), new(0, B)], [Target(B, A)], canObsolete: true));
    }

    [Fact]
    public void A_new_process_goes_to_the_end()
    {
        TargetPlan plan = TargetPlanner.Follow([new(0, A), new(0, B)], [Target(A, B, C)], canObsolete: false)!;
        Assert.Equal([new KernelTarget(0, A), new KernelTarget(0, B), new KernelTarget(0, C)], plan.Staged);
        Assert.Equal(plan.Staged, plan.After);
        Assert.All(plan.Reset, Assert.False);
        Assert.All(plan.Obsolete, Assert.False);
    }

    [Fact]
    public void Without_obsolete_target_a_gone_process_leaves_a_tombstone_and_the_others_keep_their_index()
    {
        TargetPlan plan = TargetPlanner.Follow([new(0, A), new(0, B), new(0, C)], [Target(A, C)], canObsolete: false)!;
        Assert.Equal([new KernelTarget(0, A), KernelTarget.Dead, new KernelTarget(0, C)], plan.After);
        Assert.Equal(plan.After, plan.Staged);
        Assert.All(plan.Obsolete, Assert.False);
    }

    [Fact]
    public void A_new_process_takes_the_first_tombstone_with_its_regions_reset()
    {
        TargetPlan plan = TargetPlanner.Follow([new(0, A), KernelTarget.Dead, new(0, C), KernelTarget.Dead, new(0, D)], [Target(A, C, D, E)], canObsolete: false)!;
        Assert.Equal([new KernelTarget(0, A), new KernelTarget(0, E), new KernelTarget(0, C), KernelTarget.Dead, new KernelTarget(0, D)], plan.After);
        Assert.Equal([false, true, false, false, false], plan.Reset);
    }

    [Fact]
    public void A_process_gone_and_one_new_in_the_same_round_share_the_index_with_a_reset()
    {
        // B's regions are still in the kernel's entry: E must not inherit them.
        TargetPlan plan = TargetPlanner.Follow([new(0, A), new(0, B), new(0, C)], [Target(A, C, E)], canObsolete: false)!;
        Assert.Equal([new KernelTarget(0, A), new KernelTarget(0, E), new KernelTarget(0, C)], plan.After);
        Assert.Equal([false, true, false], plan.Reset);
    }

    [Fact]
    public void Trailing_tombstones_are_cut_off()
    {
        TargetPlan plan = TargetPlanner.Follow([new(0, A), new(0, B), new(0, C)], [Target(A)], canObsolete: false)!;
        Assert.Equal([new KernelTarget(0, A)], plan.After);
        Assert.Equal(plan.After, plan.Staged);
    }

    [Fact]
    public void With_obsolete_target_a_gone_process_is_removed_and_the_others_move_up()
    {
        TargetPlan plan = TargetPlanner.Follow([new(0, A), new(0, B), new(0, C)], [Target(A, C, D)], canObsolete: true)!;
        Assert.Equal([new KernelTarget(0, A), new KernelTarget(0, B), new KernelTarget(0, C), new KernelTarget(0, D)], plan.Staged);
        Assert.Equal([false, true, false, false], plan.Obsolete);
        Assert.All(plan.Reset, Assert.False);
        Assert.Equal([new KernelTarget(0, A), new KernelTarget(0, C), new KernelTarget(0, D)], plan.After);
        Assert.True(plan.RemovesAny);
    }

    [Fact]
    public void With_obsolete_target_old_tombstones_are_removed_too()
    {
        TargetPlan plan = TargetPlanner.Follow([new(0, A), KernelTarget.Dead, new(0, C)], [Target(A, C)], canObsolete: true)!;
        Assert.Equal([false, true, false], plan.Obsolete);
        Assert.Equal([new KernelTarget(0, A), new KernelTarget(0, C)], plan.After);
    }

    [Fact]
    public void A_reused_pid_is_another_process()
    {
        var reused = new ProcessIdentity(B.Pid, B.StartTicks + 500);
        TargetPlan plan = TargetPlanner.Follow([new(0, A), new(0, B)], [Target(A, reused)], canObsolete: false)!;
        Assert.Equal([new KernelTarget(0, A), new KernelTarget(0, reused)], plan.After);
        Assert.Equal([false, true], plan.Reset);
    }

    [Fact]
    public void A_process_that_moved_to_another_target_is_another_entry()
    {
        TargetPlan plan = TargetPlanner.Follow([new(0, A), new(1, B)], [Target(A, B), Target()], canObsolete: false)!;
        Assert.Equal([new KernelTarget(0, A), new KernelTarget(0, B)], plan.After);
        Assert.Equal([false, true], plan.Reset);
    }

    [Fact]
    public void Targets_without_processes_keep_their_entry()
    {
        var paddr = new ResolvedTarget("ram", false, [new(0, 4096)], []);
        Assert.Null(TargetPlanner.Follow([new(0, default)], [paddr], canObsolete: false));
    }

    private static ResolvedTarget Target(params ProcessIdentity[] processes) => new("t", true, [], processes);
}
