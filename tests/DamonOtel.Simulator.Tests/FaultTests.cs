using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator.Tests;

public sealed class FaultTests
{
    private static (Harness H, int Pid) Running()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        h.State("on");
        return (h, pid);
    }

    [Fact]
    public void Next_state_writes_fail_with_EBUSY()
    {
        var (h, _) = Running();
        h.Kernel.Faults.FailNextStateWrites(2);
        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => h.State("update_schemes_stats")));
        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => h.State("update_schemes_stats")));
        h.State("update_schemes_stats");
    }

    [Fact]
    public void Pid_read_can_fail_and_files_can_hold_garbage()
    {
        var (h, _) = Running();
        h.Kernel.Faults.FailNextReads(h.K0 + "/pid", Errno.EBUSY);
        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => h.Read(h.K0 + "/pid")));
        Assert.NotEqual("-1", h.Read(h.K0 + "/pid"));
        string f = h.S0 + "/stats/nr_tried";
        h.Kernel.Faults.SetGarbage(f, "x1y\n");
        Assert.Equal("x1y", h.Read(f));
        h.Kernel.Faults.SetGarbage(f, null);
        Assert.Equal("0", h.Read(f));
    }

    [Fact]
    public void Tried_region_dirs_vanish_between_listing_and_reading()
    {
        var (h, _) = Running();
        h.Kernel.Advance(TimeSpan.FromSeconds(1));
        h.State("update_schemes_tried_regions");
        h.Kernel.Faults.VanishTriedRegionsAfterNextListing();
        var names = h.Kernel.ListDirectory(h.S0 + "/tried_regions");
        Assert.Contains("1", names);
        var e = Assert.Throws<KernelIoException>(() => h.Read(h.S0 + "/tried_regions/1/start"));
        Assert.True(e.IsNotFound);
    }

    [Fact]
    public void A_kdamond_can_stop_on_its_own()
    {
        var (h, _) = Running();
        string kpid = h.Read(h.K0 + "/pid");
        h.Kernel.Faults.StopKdamond(0);
        Assert.Equal("off", h.Read(h.K0 + "/state"));
        Assert.Equal("-1", h.Read(h.K0 + "/pid"));
        Assert.False(h.Kernel.DirectoryExists(h.Roots.Proc(kpid)));
        Assert.Equal(Errno.EPERM, h.ErrnoOf(() => h.State("off")));
    }

    [Fact]
    public void Kdamond_stops_when_its_vaddr_target_exits_and_the_process_can_return()
    {
        var (h, pid) = Running();
        h.Kernel.Advance(TimeSpan.FromSeconds(1));
        h.Kernel.KillProcess(pid);
        Assert.False(h.Kernel.DirectoryExists(h.Roots.Proc(pid.ToString())));
        h.Kernel.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal("off", h.Read(h.K0 + "/state"));
        Assert.Equal("-1", h.Read(h.K0 + "/pid"));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.State("on"))); // pid gone

        int again = h.Kernel.SpawnProcess("app", "steady");
        Assert.NotEqual(pid, again);
        int third = h.Kernel.Faults.RestartProcess("app");
        Assert.NotEqual(again, third);
        Assert.Equal(third, h.Kernel.FindProcess("app"));
        Assert.Equal("app", h.Read(h.Roots.Proc(third.ToString(), "comm")));
        h.Write(h.C0 + "/targets/0/pid_target", third.ToString());
        h.State("on");
        Assert.Equal("on", h.Read(h.K0 + "/state"));
    }

    [Fact]
    public void Proc_shows_system_ram_and_processes()
    {
        var (h, pid) = Running();
        string iomem = h.Read(h.Roots.Proc("iomem"));
        // 4 GiB: 3 GiB below the PCI hole (from 1 MiB) and 1 GiB above 4 GiB.
        Assert.Contains("00100000-bfffffff : System RAM", iomem);
        Assert.Contains("100000000-13fffffff : System RAM", iomem);
        Assert.Equal("app\0--workload\0steady\0", h.Kernel.ReadText(h.Roots.Proc(pid.ToString(), "cmdline")));
        Assert.StartsWith($"{pid} (app) S ", h.Read(h.Roots.Proc(pid.ToString(), "stat")));
    }
}
