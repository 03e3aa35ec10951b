using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator.Tests;

/// <summary>The simulated cgroup v2 filesystem, page ownership and the kpage files.</summary>
public sealed class CgroupTests
{
    private const ulong MiB = Harness.MiB;
    private const ulong Lru = 1UL << 5, Slab = 1UL << 7, Buddy = 1UL << 10, Anon = 1UL << 12, NoPage = 1UL << 20;

    [Fact]
    public void The_cgroup2_mount_has_directories_with_inodes_and_mkdir_rmdir_semantics()
    {
        var h = new Harness();
        SimulatedKernel k = h.Kernel;
        string mount = k.CgroupMount;
        Assert.Equal(h.Roots.Sysfs + "/fs/cgroup", mount);
        Assert.Contains("memory", k.ReadText(mount + "/cgroup.controllers").Split(' '));

        ulong pod = k.CreateCgroup("/kubepods.slice/pod-a.slice");
        k.CreateDirectory(mount + "/kubepods.slice/pod-a.slice/ctr.scope"); // mkdir, as a runtime would
        Assert.True(k.FileExists(mount + "/kubepods.slice/pod-a.slice/ctr.scope/cgroup.procs"));
        ulong ctr = k.GetInode(mount + "/kubepods.slice/pod-a.slice/ctr.scope");
        Assert.Equal(pod, k.GetInode(mount + "/kubepods.slice/pod-a.slice"));
        Assert.NotEqual(pod, ctr);
        Assert.Equal(1UL, k.GetInode(mount));

        int pid = k.SpawnProcess("app", SimulatedWorkloads.HotCold("app", 8 * MiB, 0), "/kubepods.slice/pod-a.slice/ctr.scope");
        Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), k.ReadText(mount + "/kubepods.slice/pod-a.slice/ctr.scope/cgroup.procs").Trim());
        // The allocation plus the image, libraries and stack every workload maps.
        Assert.Equal((8 + 8 + 16) * MiB + (132 * 1024), ulong.Parse(k.ReadText(mount + "/kubepods.slice/pod-a.slice/memory.current").Trim(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => k.RemoveDirectory(mount + "/kubepods.slice/pod-a.slice/ctr.scope")));  // a live process
        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => k.RemoveDirectory(mount + "/kubepods.slice/pod-a.slice")));            // a child
        k.KillProcess(pid);
        k.RemoveDirectory(mount + "/kubepods.slice/pod-a.slice/ctr.scope");
        Assert.False(k.DirectoryExists(mount + "/kubepods.slice/pod-a.slice/ctr.scope"));
    }

    [Fact]
    public void Kpage_files_report_the_owner_and_flags_of_every_frame()
    {
        var h = new Harness();
        SimulatedKernel k = h.Kernel;
        ulong ino = k.CreateCgroup("/a");
        int pid = k.SpawnProcess("app", SimulatedWorkloads.HotCold("app", 8 * MiB, 0), "/a");
        using IPageFrameFile cg = k.OpenPageFrameFile(h.Roots.Proc("kpagecgroup"));
        using IPageFrameFile fl = k.OpenPageFrameFile(h.Roots.Proc("kpageflags"));
        (ulong Cgroup, ulong Flags) At(ulong phys)
        {
            Span<ulong> one = stackalloc ulong[1];
            Assert.Equal(1, cg.Read(phys / 4096, one));
            ulong c = one[0];
            Assert.Equal(1, fl.Read(phys / 4096, one));
            return (c, one[0]);
        }

        // Processes are placed from 256 MiB into the largest RAM block (which starts at 1 MiB).
        ulong first = (1 * MiB) + (256 * MiB);
        Assert.Equal((ino, Lru | Anon | (1UL << 11) | (1UL << 3)), At(first));
        Assert.Equal((0UL, Slab), At(first - 4096));              // the kernel area below
        ulong used = ((8 + 8 + 16) * MiB) + (132 * 1024);
        Assert.Equal(0UL, At(first + used).Cgroup);              // free after the last process frame
        Assert.Equal(0UL, At(first + used + 4096).Flags);         // free frames: no flag ...
        Assert.Equal((0UL, Buddy), At(512 * MiB));               // ... but BUDDY on each 2 MiB head
        Assert.Equal((0UL, NoPage), At(0xa0000));                // the legacy hole below 1 MiB

        // Several entries at once, and a short read at the end of memory.
        Span<ulong> many = stackalloc ulong[4];
        Assert.Equal(4, cg.Read(first / 4096, many));
        Assert.All(many.ToArray(), c => Assert.Equal(ino, c));
        ulong end = 5UL << 30; // 4 GiB of RAM: [4 GiB, 5 GiB) holds the last GiB
        Assert.Equal(2, cg.Read((end / 4096) - 2, many));
        Assert.Equal(0, cg.Read(end / 4096, many));
        Assert.True(k.PageFrameReads >= 10);
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => k.ReadText(h.Roots.Proc("kpageflags"))));
        Assert.True(pid > 0);
    }

    [Fact]
    public void Pages_stay_charged_when_a_process_moves_and_report_the_parent_once_their_cgroup_is_removed()
    {
        var h = new Harness();
        SimulatedKernel k = h.Kernel;
        ulong pod = k.CreateCgroup("/pod");
        ulong old = k.CreateCgroup("/pod/old");
        k.CreateCgroup("/pod/new");
        int pid = k.SpawnProcess("app", SimulatedWorkloads.HotCold("app", 8 * MiB, 0), "/pod/old");
        using IPageFrameFile cg = k.OpenPageFrameFile(h.Roots.Proc("kpagecgroup"));
        ulong frame = ((1 * MiB) + (256 * MiB)) / 4096;
        Span<ulong> one = stackalloc ulong[1];
        cg.Read(frame, one);
        Assert.Equal(old, one[0]);

        k.MoveProcess(pid, "/pod/new");  // charges do not move with the task
        cg.Read(frame, one);
        Assert.Equal(old, one[0]);
        k.RemoveCgroup("/pod/old");      // empty now: the kernel lets it go, its pages reparent
        cg.Read(frame, one);
        Assert.Equal(pod, one[0]);
    }

    [Fact]
    public void Interleaved_processes_alternate_chunk_by_chunk_in_physical_memory()
    {
        var h = new Harness();
        SimulatedKernel k = h.Kernel;
        ulong a = k.CreateCgroup("/a");
        ulong b = k.CreateCgroup("/b");
        k.SpawnInterleaved(
            [("p1", SimulatedWorkloads.HotCold("p1", 4 * MiB, 0), "/a"), ("p2", SimulatedWorkloads.HotCold("p2", 4 * MiB, 0), "/b")],
            chunkBytes: 8192);
        using IPageFrameFile cg = k.OpenPageFrameFile(h.Roots.Proc("kpagecgroup"));
        Span<ulong> frames = stackalloc ulong[8];
        cg.Read(((1 * MiB) + (256 * MiB)) / 4096, frames);
        Assert.Equal([a, a, b, b, a, a, b, b], frames.ToArray());
    }

    [Fact]
    public void Ground_truth_of_a_cgroup_counts_its_hot_and_cold_pages_in_the_monitored_range()
    {
        var h = new Harness();
        SimulatedKernel k = h.Kernel;
        k.SpawnProcess("hot", SimulatedWorkloads.HotCold("hot", 64 * MiB, 16 * MiB), "/pod1");
        k.SpawnProcess("other", SimulatedWorkloads.HotCold("other", 32 * MiB, 32 * MiB), "/pod2");
        ulong start = (1 * MiB) + (256 * MiB);
        h.ConfigurePaddr(start, start + (1024 * MiB));
        h.State("on");
        k.Advance(TimeSpan.FromSeconds(3));
        CgroupTruth t = k.CgroupGroundTruth(0, "/pod1", TimeSpan.FromSeconds(1));
        ulong resident = (64 + 8 + 16) * MiB + (132 * 1024);
        Assert.Equal(resident, t.ResidentBytes);
        Assert.Equal(16 * MiB, t.WorkingSetBytes);
        Assert.Equal(resident - (16 * MiB), t.IdleBytes);
        // Half of pod2 outside the monitored range is not counted.
        h.Write(h.C0 + "/targets/0/regions/0/end", (start + (64 * MiB) + (8 * MiB) + (16 * MiB) + (132 * 1024) + (16 * MiB)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        h.State("commit");
        Assert.Equal(16 * MiB, k.CgroupGroundTruth(0, "/pod2", TimeSpan.FromSeconds(1)).ResidentBytes);
    }

    [Fact]
    public void Memcg_filters_pass_exactly_the_pages_charged_to_that_memcg()
    {
        var h = new Harness();
        SimulatedKernel k = h.Kernel;
        k.SpawnProcess("hot", SimulatedWorkloads.HotCold("hot", 64 * MiB, 16 * MiB), "/pod1/ctr");
        k.SpawnProcess("other", SimulatedWorkloads.HotCold("other", 32 * MiB, 32 * MiB), "/pod2");
        ulong start = (1 * MiB) + (256 * MiB);
        h.ConfigurePaddr(start, start + (1024 * MiB));
        // Scheme 0 (from ConfigurePaddr) filters /pod1/ctr; scheme 1 filters /pod1, which holds no page
        // itself (the filter is not hierarchical); scheme 2 rejects /pod2 and allows the rest.
        h.Write(h.C0 + "/schemes/nr_schemes", "3");
        string s1 = h.C0 + "/schemes/1", s2 = h.C0 + "/schemes/2";
        foreach (string s in new[] { h.S0, s1, s2 })
        {
            h.MatchEverything(s);
            h.Write(s + "/ops_filters/nr_filters", "1");
            h.Write(s + "/ops_filters/0/type", "memcg");
            h.Write(s + "/ops_filters/0/matching", "Y");
            h.Write(s + "/ops_filters/0/allow", "Y");
        }

        h.Write(h.S0 + "/ops_filters/0/memcg_path", "/pod1/ctr");
        h.Write(s1 + "/ops_filters/0/memcg_path", "/pod1");
        h.Write(s2 + "/ops_filters/0/memcg_path", "/pod2");
        h.Write(s2 + "/ops_filters/0/allow", "N");
        h.State("on");
        k.Advance(TimeSpan.FromSeconds(3));
        h.State("update_schemes_tried_regions");

        ulong pod1 = k.CgroupGroundTruth(0, "/pod1/ctr", TimeSpan.Zero).ResidentBytes;
        Assert.Equal((64 + 8 + 16) * MiB + (132 * 1024), pod1);
        Assert.Equal(pod1, PassedSum(h.S0));
        Assert.Equal(0UL, PassedSum(s1));
        // Rejecting /pod2 with allow the default for the rest (the last filter rejects, so the
        // default is allow): everything walked except pod2's pages, i.e. pod1's pages.
        Assert.Equal(pod1, PassedSum(s2));
        h.State("update_schemes_stats"); // cumulative: one application's worth or more
        Assert.True(h.ReadU(h.S0 + "/stats/sz_ops_filter_passed") >= pod1);
        Assert.Equal(0UL, h.ReadU(s1 + "/stats/sz_ops_filter_passed"));

        ulong PassedSum(string scheme) => h.Kernel.ListDirectory(scheme + "/tried_regions")
            .Where(n => n != "total_bytes")
            .Aggregate(0UL, (a, n) => a + h.ReadU($"{scheme}/tried_regions/{n}/sz_filter_passed"));
    }
}
