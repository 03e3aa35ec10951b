namespace DamonOtel.Simulator.Tests;

public sealed class WorkloadTests
{
    private const ulong MiB = Harness.MiB;

    private static TimeSpan S(double s) => TimeSpan.FromSeconds(s);

    [Fact]
    public void Names_are_creatable_and_unknown_names_are_rejected()
    {
        Assert.Equal(["steady", "stairs", "zigzag", "idle", "worker"], SimulatedWorkloads.Names);
        foreach (string n in SimulatedWorkloads.Names)
        {
            Assert.Equal(n, SimulatedWorkloads.Create(n).Name);
        }

        var e = Assert.Throws<ArgumentException>(() => SimulatedWorkloads.Create("nope"));
        Assert.Contains("nope", e.Message);
    }

    [Fact]
    public void Steady_ground_truth()
    {
        IWorkload w = SimulatedWorkloads.Create("steady");
        Assert.Equal(1024 * MiB, w.TrueWorkingSetBytes(S(0), S(0.1)));    // start-up touch of the 1 GiB allocation
        Assert.Equal(128 * MiB, w.TrueWorkingSetBytes(S(0.1), S(0.2)));
        Assert.Equal(128 * MiB, w.TrueWorkingSetBytes(S(5), S(500)));
        Assert.True(w.Accessed(Harness.Alloc + (256 * MiB), S(3)));
        Assert.True(w.Accessed(Harness.Alloc + (384 * MiB) - 1, S(3)));
        Assert.False(w.Accessed(Harness.Alloc + (384 * MiB), S(3)));
        Assert.False(w.Accessed(Harness.Alloc, S(3)));
    }

    [Fact]
    public void Stairs_ground_truth()
    {
        IWorkload w = SimulatedWorkloads.Create("stairs");
        Assert.Equal(128 * MiB, w.TrueWorkingSetBytes(S(15), S(16)));     // phase 1 only
        Assert.Equal(256 * MiB, w.TrueWorkingSetBytes(S(5), S(15)));      // phases 0 and 1
        Assert.Equal(1024 * MiB, w.TrueWorkingSetBytes(S(1), S(81)));     // all 8 phases of 128 MiB
        Assert.True(w.Accessed(Harness.Alloc + (128 * MiB), S(15)));     // phase 1: [128, 256) MiB
        Assert.False(w.Accessed(Harness.Alloc, S(15)));
        Assert.True(w.Accessed(Harness.Alloc, S(85)));                    // phase 8 = phase 0 again
    }

    [Fact]
    public void Zigzag_ground_truth()
    {
        IWorkload w = SimulatedWorkloads.Create("zigzag");
        Assert.Equal(64 * MiB, w.TrueWorkingSetBytes(S(1), S(2)));
        Assert.Equal(256 * MiB, w.TrueWorkingSetBytes(S(11), S(12)));
        Assert.Equal(256 * MiB, w.TrueWorkingSetBytes(S(9), S(11)));      // union of both phases
        Assert.Equal(64 * MiB, w.TrueWorkingSetBytes(S(20), S(30)));      // [20, 30) is phase 2 only
    }

    [Fact]
    public void Kernel_ground_truth_tracks_the_phases_per_aggregation_interval()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "zigzag");
        h.ConfigureVaddr(pid);
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1024 * MiB, h.Kernel.GroundTruth(0, 0));             // [0, 100 ms) holds the start-up touch
        h.Kernel.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(64 * MiB, h.Kernel.GroundTruth(0, 0));
        h.Kernel.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(256 * MiB, h.Kernel.GroundTruth(0, 0));
    }
}
