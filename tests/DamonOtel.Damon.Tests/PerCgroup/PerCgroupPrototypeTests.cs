using DamonOtel.Damon.Cgroups;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Damon.Tests.PerCgroup;

/// <summary>The per-cgroup prototype (docs/per-cgroup.md) on a page-frame model built in each test.</summary>
public class PerCgroupPrototypeTests
{
    private const string Uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    private const string Cid = "3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
    private const ulong KpfLru = 1UL << 5, KpfBuddy = 1UL << 10, KpfAnon = 1UL << 12, KpfSlab = 1UL << 7;

    [Theory]
    [InlineData("kubepods/burstable/pod" + Uid + "/" + Cid, "burstable", Cid)]
    [InlineData("kubepods/besteffort/pod" + Uid, "besteffort", null)]
    [InlineData("kubepods/pod" + Uid + "/" + Cid, "guaranteed", Cid)]
    [InlineData("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-" + Cid + ".scope", "burstable", Cid)]
    [InlineData("kubepods.slice/kubepods-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/crio-" + Cid + ".scope", "guaranteed", Cid)]
    [InlineData("kubepods.slice/kubepods-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/crio-conmon-" + Cid + ".scope", "guaranteed", null)]
    public void Kubepods_paths_of_both_drivers_give_uid_qos_and_container(string path, string qos, string? container)
    {
        Assert.True(KubepodsPath.TryParse(path, out KubepodsIdentity id));
        Assert.Equal(Uid, id.PodUid);
        Assert.Equal(qos, id.QosClass);
        Assert.Equal(container, id.ContainerId);
    }

    [Theory]
    [InlineData("system.slice/nginx.service")]
    [InlineData("kubepods/burstable")]
    [InlineData("kubepods/burstable/podnot-a-uid")]
    public void Non_pod_paths_are_not_kubepods(string path) => Assert.False(KubepodsPath.TryParse(path, out _));

    [Theory]
    [InlineData("kubepods/**/pod*", "kubepods/burstable/podx", true)]
    [InlineData("kubepods/**/pod*", "kubepods/podx", true)]
    [InlineData("kubepods/**/pod*", "system.slice/podx", false)]
    [InlineData("kubepods.slice/*/kubepods-*-pod*.slice", "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice", true)]
    [InlineData("kubepods.slice/*/kubepods-*-pod*.slice", "kubepods.slice/kubepods-burstable.slice", false)]
    [InlineData("system.slice/*.service", "system.slice/a.service", true)]
    [InlineData("system.slice/?.service", "system.slice/ab.service", false)]
    public void Globs_match_segment_by_segment(string glob, string path, bool expected) =>
        Assert.Equal(expected, new CgroupPathGlob(glob).IsMatch(path));

    [Fact]
    public void Glob_prunes_subtrees_that_cannot_match()
    {
        var glob = new CgroupPathGlob("kubepods.slice/*/kubepods-*-pod*.slice");
        Assert.True(glob.CouldMatchBelow("kubepods.slice"));
        Assert.True(glob.CouldMatchBelow("kubepods.slice/kubepods-burstable.slice"));
        Assert.False(glob.CouldMatchBelow("system.slice"));
    }

    [Fact]
    public void Catalog_maps_container_inodes_to_the_selected_pod_and_counts_the_cap()
    {
        var node = new PageModel(16);
        node.Dir("/cg", 1);
        node.Dir("/cg/kubepods", 2);
        node.Dir("/cg/kubepods/burstable", 3);
        node.Dir($"/cg/kubepods/burstable/pod{Uid}", 10);
        node.Dir($"/cg/kubepods/burstable/pod{Uid}/{Cid}", 11);
        node.Dir("/cg/kubepods/burstable/pod1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 20);
        node.Dir("/cg/system.slice", 30);
        var one = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection([], [new CgroupPathGlob("kubepods/**/pod*")], 1));
        Assert.Single(one.Groups);
        Assert.Equal(1, one.DroppedByCap);
        Assert.Equal($"/kubepods/burstable/pod{Uid}", one.Groups[0].RelativePath);
        Assert.Equal(Uid, one.Groups[0].Kubernetes?.PodUid);
        Assert.True(one.TryGetOwner(11, out int owner));
        Assert.Equal(0, owner);
        Assert.False(one.TryGetOwner(30, out _));
        Assert.False(one.TryGetOwner(0, out _));

        var explicitPath = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/system.slice"], [], 10));
        Assert.Equal("/system.slice", Assert.Single(explicitPath.Groups).RelativePath);
    }

    [Fact]
    public void Pure_regions_are_attributed_exactly_with_their_access_and_idle_time()
    {
        // frames 0-99 kernel slab, 100-399 cgroup A (ino 11, anon), 400-599 cgroup B (ino 21, file), 600-999 free.
        var node = new PageModel(1000);
        node.Dir("/cg", 1);
        node.Dir("/cg/a", 11);
        node.Dir("/cg/b", 21);
        node.Fill(0, 100, 0, KpfSlab);
        node.Fill(100, 400, 11, KpfAnon | KpfLru);
        node.Fill(400, 600, 21, KpfLru);
        node.Fill(600, 1000, 0, 0);
        node.Flags[600] = KpfBuddy;
        var catalog = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/a", "/b"], [], 10));
        DamonRegion[] regions =
        [
            R(0, 100, 0, 50), R(100, 200, 5, 3), R(200, 400, 0, 9), R(400, 600, 0, 99), R(600, 1000, 0, 500),
        ];
        using var sampler = new KpageSampler(node, new KernelRoots("/sys", "/t", "/proc"), new KpageSamplerOptions { Policy = KpageSamplingPolicy.Stratified, SamplesPerRegion = 8 });
        var result = new KpageAttribution([5, 60]);
        sampler.Attribute(regions, 1, 1_000_000, catalog, result);

        int a = catalog.Groups.Single(g => g.RelativePath == "/a").Index;
        int b = catalog.Groups.Single(g => g.RelativePath == "/b").Index;
        Assert.Equal(300 * 4096.0, result.Resident[a]);
        Assert.Equal(300 * 4096.0, result.Anon[a]);
        Assert.Equal(200 * 4096.0, result.File[b]);
        Assert.Equal(100 * 4096.0, result.WorkingSet[a]);
        Assert.Equal(0, result.WorkingSet[b]);
        Assert.Equal(0, result.ResidentVariance[a]);
        Assert.Equal(result.Resident[a], result.DominantBytes[a]);
        // A: 100 frames accessed (idle 0 <= 5), 200 idle 10 s (<= 60); B: 200 idle 100 s (+Inf only).
        Assert.Equal([100 * 4096.0, 300 * 4096.0, 300 * 4096.0], result.IdleLe.AsSpan(a * result.BucketCount, 3).ToArray());
        Assert.Equal([0, 0, 200 * 4096.0], result.IdleLe.AsSpan(b * result.BucketCount, 3).ToArray());
        Assert.Equal(0, result.IdlePercentile(a, 30));
        Assert.Equal(10, result.IdlePercentile(a, 90));
        Assert.Equal(400 * 4096.0, result.FreeBytes);
        Assert.Equal(400 * 4096.0, result.RegionFreeBytes[4]);
        Assert.Equal(100 * 4096.0, result.KernelBytes);
        Assert.Equal(5 * 8 * 2, result.Reads);
    }

    [Fact]
    public void Interleaved_pages_are_estimated_within_the_binomial_error()
    {
        // One region, frames alternating between A (ino 11) and B (ino 21) in runs of 3 and 1: A owns 75 %.
        const int Frames = 1 << 16;
        var node = new PageModel(Frames);
        node.Dir("/cg", 1);
        node.Dir("/cg/a", 11);
        node.Dir("/cg/b", 21);
        for (int f = 0; f < Frames; f++)
        {
            node.Cgroup[f] = f % 4 == 3 ? 21UL : 11UL;
            node.Flags[f] = KpfAnon | KpfLru;
        }

        var catalog = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/a", "/b"], [], 10));
        using var sampler = new KpageSampler(node, new KernelRoots("/sys", "/t", "/proc"), new KpageSamplerOptions { SamplesPerRegion = 1024, ReadFlags = false, Seed = 7 });
        var result = new KpageAttribution([5]);
        sampler.Attribute([R(0, Frames, 1, 0)], 1, 1_000_000, catalog, result);
        double total = Frames * 4096.0;
        double sd = Math.Sqrt(result.ResidentVariance[0]);
        Assert.InRange(sd, total * 0.01, total * 0.02); // sqrt(0.75 * 0.25 / 1024) = 1.35 %
        Assert.InRange(result.Resident[0], (0.75 * total) - (4 * sd), (0.75 * total) + (4 * sd));
        Assert.Equal(total, result.Resident[0] + result.Resident[1], 6);
        Assert.Equal(0, result.DominantBytes[0]); // 75 % is not dominant: its WSS is a blend
        Assert.Equal(0, result.DominantBytes[1]);
        Assert.Equal(1024, result.Reads);
    }

    [Fact]
    public void Mapped_ranges_drop_inaccessible_mappings_and_clip_regions()
    {
        const string Maps = """
            00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/app
            00651000-00652000 rw-p 00051000 08:02 173521 /usr/bin/app
            00652000-00700000 rw-p 00000000 00:00 0 [heap]
            7f0000000000-7f0040000000 ---p 00000000 00:00 0
            7f0040000000-7f0040100000 rw-p 00000000 00:00 0
            """;
        var ranges = new List<AddressRange>();
        MappedRanges.Parse(Maps, ranges);
        Assert.Equal([new AddressRange(0x400000, 0x452000), new AddressRange(0x651000, 0x700000), new AddressRange(0x7f0040000000, 0x7f0040100000)], ranges);
        DamonRegion[] regions = [new(0x400000, 0x700000, 1, 0), new(0x7f0000000000, 0x7f0040100000, 0, 9)];
        var per = new ulong[2];
        ulong total = MappedRanges.Intersect(regions, ranges.ToArray(), per);
        Assert.Equal(0x52000UL + 0xAF000UL, per[0]);
        Assert.Equal(0x100000UL, per[1]);
        Assert.Equal(per[0] + per[1], total);
        Assert.Throws<FormatException>(() => MappedRanges.Parse("garbage line\n", ranges, "/proc/1/maps"));
    }

    private static DamonRegion R(ulong startFrame, ulong endFrame, uint nrAccesses, uint age) =>
        new(startFrame * 4096, endFrame * 4096, nrAccesses, age);

    /// <summary>Page ownership, flags and a cgroup tree: what the Simulator must model for per-cgroup tests.</summary>
    private sealed class PageModel(int frames) : IKernelFs, IKernelPageFs
    {
        private readonly Dictionary<string, ulong> dirs = new(StringComparer.Ordinal);

        public ulong[] Cgroup { get; } = new ulong[frames];

        public ulong[] Flags { get; } = new ulong[frames];

        public void Dir(string path, ulong inode) => dirs[path] = inode;

        public void Fill(int from, int to, ulong inode, ulong flags)
        {
            Cgroup.AsSpan(from, to - from).Fill(inode);
            Flags.AsSpan(from, to - from).Fill(flags);
        }

        public IPageFrameFile OpenPageFrameFile(string path) => new Frames(path.EndsWith("kpagecgroup", StringComparison.Ordinal) ? Cgroup : Flags);

        public ulong GetInode(string path) => dirs.TryGetValue(path, out ulong ino) ? ino : throw new KernelIoException(Errno.ENOENT, path, "statx");

        public IReadOnlyList<string> ListDirectory(string path) =>
            [.. dirs.Keys.Where(d => d.StartsWith(path + "/", StringComparison.Ordinal) && !d[(path.Length + 1)..].Contains('/')).Select(d => d[(path.Length + 1)..]), "cgroup.procs", "memory.stat"];

        public bool DirectoryExists(string path) => dirs.ContainsKey(path);

        public bool FileExists(string path) => false;

        public string ReadText(string path) => throw new NotSupportedException();

        public int ReadBytes(string path, Span<byte> buffer) => throw new NotSupportedException();

        public void WriteText(string path, string text) => throw new NotSupportedException();

        public void CreateDirectory(string path) => throw new NotSupportedException();

        public void RemoveDirectory(string path) => throw new NotSupportedException();

        public Stream OpenPipe(string path) => throw new NotSupportedException();

        private sealed class Frames(ulong[] data) : IPageFrameFile
        {
            public int Read(ulong pfn, Span<ulong> entries)
            {
                int n = (int)Math.Min((ulong)entries.Length, (ulong)data.Length - Math.Min(pfn, (ulong)data.Length));
                data.AsSpan((int)pfn, n).CopyTo(entries);
                return n;
            }

            public void Dispose()
            {
            }
        }
    }
}
