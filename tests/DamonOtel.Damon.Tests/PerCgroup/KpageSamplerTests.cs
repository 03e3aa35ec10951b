using DamonOtel.Damon.Cgroups;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;
using static DamonOtel.Damon.Tests.PerCgroup.PageFrameModel;

namespace DamonOtel.Damon.Tests.PerCgroup;

/// <summary>Page sampling of paddr regions (docs/per-cgroup.md, M2) on a page-frame model built by each test.</summary>
public class KpageSamplerTests
{
    private const double Page = 4096;
    private static readonly KernelRoots Roots = new("/sys", "/t", "/proc");

    [Fact]
    public void Pure_regions_are_attributed_exactly_with_their_access_and_idle_time()
    {
        // frames 0-99 kernel slab, 100-399 cgroup A (ino 11), 400-599 cgroup B (ino 21), 600-999 free
        // (a buddy head at 600, the rest without any flag, as the 6.18 kernel reports free blocks).
        PageFrameModel node = TwoGroups();
        CgroupCatalog catalog = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/a", "/b"], [], 10));
        DamonRegion[] regions = [R(0, 100, 0, 50), R(100, 200, 5, 3), R(200, 400, 0, 9), R(400, 600, 0, 99), R(600, 1000, 0, 500)];
        using var sampler = new KpageSampler(node, Roots, new KpageSamplerOptions { SamplesPerPass = 40 });
        var result = new KpageAttribution([5, 60]);
        sampler.Attribute(regions, 1, 1_000_000, catalog, result);

        int a = catalog.Groups.Single(g => g.RelativePath == "/a").Index;
        int b = catalog.Groups.Single(g => g.RelativePath == "/b").Index;
        Assert.Equal(300 * Page, result.Resident[a]);
        Assert.Equal(200 * Page, result.Resident[b]);
        Assert.Equal(100 * Page, result.WorkingSet[a]); // region [100, 200) had 5 accesses
        Assert.Equal(0, result.WorkingSet[b]);
        Assert.Equal(0, result.ResidentVariance[a]);   // every sample of a pure region agrees
        Assert.Equal(result.Resident[a], result.DominantBytes[a]);
        // A: 100 frames accessed (idle 0 <= 5 s), 200 idle (9+1) x 1 s = 10 s (<= 60 s); B: 200 idle 100 s (+Inf only).
        Assert.Equal([100 * Page, 300 * Page, 300 * Page], result.IdleLe.AsSpan(a * result.BucketCount, 3).ToArray());
        Assert.Equal([0, 0, 200 * Page], result.IdleLe.AsSpan(b * result.BucketCount, 3).ToArray());
        Assert.Equal(0, result.IdlePercentile(a, 30));
        Assert.Equal(10, result.IdlePercentile(a, 90));
        Assert.Equal(100, result.IdlePercentile(b, 50));
        Assert.Equal(400 * Page, result.FreeBytes);
        Assert.Equal(400 * Page, result.RegionFreeBytes[4]);
        Assert.Equal(0, result.RegionFreeBytes[1]);
        Assert.Equal(100 * Page, result.KernelBytes);
        Assert.Equal(0, result.OtherCgroupBytes);
        // 40 samples shared by size (4, 4, 8, 8, 16): one kpagecgroup read each, and a kpageflags
        // read only for the 20 frames no cgroup owns (regions 0 and 4).
        Assert.Equal(40, result.Samples);
        Assert.Equal(40, node.CgroupReads);
        Assert.Equal(20, node.FlagReads);
        Assert.Equal(60, result.Reads);
        Assert.Equal(20, result.OwnedSamples);
        Assert.Equal(0, result.UnknownInodeSamples);
    }

    [Fact]
    public void Every_region_gets_at_least_the_minimum_and_big_ones_their_share()
    {
        PageFrameModel node = TwoGroups();
        CgroupCatalog catalog = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/a"], [], 10));
        // A 1-frame region gets one sample (it has one frame), a 2-frame one its minimum of 2 though
        // its share of 10 samples is 0; the 997-frame region gets round(10 x 997 / 1000) = 10.
        DamonRegion[] regions = [R(100, 101, 0, 0), R(101, 103, 0, 0), R(103, 1000, 0, 0)];
        using var sampler = new KpageSampler(node, Roots, new KpageSamplerOptions { SamplesPerPass = 10, MinSamplesPerRegion = 2, Flags = KpageFlagsMode.None });
        var result = new KpageAttribution([5]);
        sampler.Attribute(regions, 1, 1_000_000, catalog, result);
        Assert.Equal(1 + 2 + 10, node.CgroupReads);
        Assert.Equal(0, node.FlagReads);
    }

    [Fact]
    public void Interleaved_pages_are_estimated_within_the_binomial_error_and_have_no_purity()
    {
        // One region, frames alternating between A (ino 11) and B (ino 21) in runs of 3 and 1: A owns 75 %.
        const int Frames = 1 << 16;
        var node = new PageFrameModel(Frames);
        node.Dir("/cg", 1);
        node.Dir("/cg/a", 11);
        node.Dir("/cg/b", 21);
        for (int f = 0; f < Frames; f++)
        {
            node.Cgroup[f] = f % 4 == 3 ? 21UL : 11UL;
            node.Flags[f] = KpfAnon | KpfLru;
        }

        CgroupCatalog catalog = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/a", "/b"], [], 10));
        using var sampler = new KpageSampler(node, Roots, new KpageSamplerOptions { SamplesPerPass = 1024, Flags = KpageFlagsMode.None, Seed = 7 });
        var result = new KpageAttribution([5]);
        sampler.Attribute([R(0, Frames, 1, 0)], 1, 1_000_000, catalog, result);
        double total = Frames * Page;
        double sd = Math.Sqrt(result.ResidentVariance[0]);
        Assert.InRange(sd, total * 0.01, total * 0.02); // sqrt(0.75 x 0.25 / 1024) = 1.35 %
        Assert.InRange(result.Resident[0], (0.75 * total) - (4 * sd), (0.75 * total) + (4 * sd));
        Assert.Equal(total, result.Resident[0] + result.Resident[1], 6);
        Assert.Equal(0, result.DominantBytes[0]); // 75 % is not dominant: its WSS is a blend
        Assert.Equal(0, result.DominantBytes[1]);
        Assert.Equal(1024, result.Reads);
    }

    [Fact]
    public void Pages_of_cgroups_the_catalog_does_not_know_are_counted_until_marked()
    {
        PageFrameModel node = TwoGroups();
        CgroupCatalog catalog = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/a"], [], 10)); // b not selected
        DamonRegion[] regions = [R(100, 400, 0, 0), R(400, 600, 0, 0)];
        using var sampler = new KpageSampler(node, Roots, new KpageSamplerOptions { SamplesPerPass = 50 });
        var result = new KpageAttribution([5]);
        sampler.Attribute(regions, 1, 1_000_000, catalog, result);
        Assert.Equal(20, result.UnknownInodeSamples); // region [400, 600): round(50 x 200 / 500)
        Assert.Equal([21UL], result.UnknownInodes);
        Assert.Equal(200 * Page, result.OtherCgroupBytes);

        catalog.MarkKnownOther([.. result.UnknownInodes]);
        sampler.Attribute(regions, 1, 1_000_000, catalog, result);
        Assert.Equal(0, result.UnknownInodeSamples);
        Assert.Empty(result.UnknownInodes);
        Assert.Equal(200 * Page, result.OtherCgroupBytes);
    }

    [Fact]
    public void Flags_only_mode_finds_free_pages_without_cgroups()
    {
        PageFrameModel node = TwoGroups();
        using var sampler = new KpageSampler(node, Roots, new KpageSamplerOptions { SamplesPerPass = 100, Flags = KpageFlagsMode.FlagsOnly });
        var result = new KpageAttribution([5]);
        sampler.Attribute([R(0, 1000, 0, 0)], 1, 1_000_000, null, result);
        Assert.Equal(0, node.CgroupReads);
        Assert.Equal(100, node.FlagReads);
        // 100 stratified samples, one per 10 frames: the 40 in frames 600-999 are free.
        Assert.Equal(400 * Page, result.FreeBytes);
        Assert.Equal(600 * Page, result.KernelBytes); // "not free": without cgroups nothing more is known
    }

    [Fact]
    public void Holes_and_frames_past_the_end_are_not_memory()
    {
        var node = new PageFrameModel(200);
        node.Dir("/cg", 1);
        node.Dir("/cg/a", 11);
        node.Fill(0, 100, 0, KpfNoPage);
        node.Fill(100, 200, 11, KpfAnon | KpfLru);
        CgroupCatalog catalog = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/a"], [], 10));
        using var sampler = new KpageSampler(node, Roots, new KpageSamplerOptions { SamplesPerPass = 30 });
        var result = new KpageAttribution([5]);
        // [0, 100) is a hole (NOPAGE), [100, 200) cgroup A, [200, 300) lies past the files' end.
        sampler.Attribute([R(0, 100, 0, 0), R(100, 200, 0, 0), R(200, 300, 0, 0)], 1, 1_000_000, catalog, result);
        Assert.Equal(10, result.Samples);
        Assert.Equal(100 * Page, result.Resident[0]);
        Assert.Equal(100 * Page, result.TotalBytes);
        Assert.Equal(0, result.FreeBytes);
    }

    [Fact]
    public void Addresses_are_scaled_by_addr_unit()
    {
        PageFrameModel node = TwoGroups();
        CgroupCatalog catalog = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/a"], [], 10));
        using var sampler = new KpageSampler(node, Roots, new KpageSamplerOptions { SamplesPerPass = 10 });
        var result = new KpageAttribution([5]);
        // addr_unit 4: core addresses are quarters of bytes; frames 100-400 are [102400, 409600) / 4.
        sampler.Attribute([new DamonRegion(100 * 1024, 400 * 1024, 1, 0)], 4, 1_000_000, catalog, result);
        Assert.Equal(300 * Page, result.Resident[0]);
        Assert.Equal(300 * Page, result.WorkingSet[0]);
    }

    [Fact]
    public void A_pass_allocates_nothing_once_sized()
    {
        PageFrameModel node = TwoGroups();
        CgroupCatalog catalog = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/a"], [], 10));
        DamonRegion[] regions = [R(0, 100, 0, 50), R(100, 200, 5, 3), R(200, 400, 0, 9), R(400, 600, 0, 99), R(600, 1000, 0, 500)];
        using var sampler = new KpageSampler(node, Roots, new KpageSamplerOptions { SamplesPerPass = 500 });
        var result = new KpageAttribution([5, 60]);
        sampler.Attribute(regions, 1, 1_000_000, catalog, result);
        long before = GC.GetAllocatedBytesForCurrentThread();
        sampler.Attribute(regions, 1, 1_000_000, catalog, result);
        _ = result.IdlePercentile(0, 50);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static PageFrameModel TwoGroups()
    {
        var node = new PageFrameModel(1000);
        node.Dir("/cg", 1);
        node.Dir("/cg/a", 11);
        node.Dir("/cg/b", 21);
        node.Fill(0, 100, 0, KpfSlab);
        node.Fill(100, 400, 11, KpfAnon | KpfLru);
        node.Fill(400, 600, 21, KpfLru);
        node.Fill(600, 1000, 0, 0);
        node.Flags[600] = KpfBuddy;
        return node;
    }

    private static DamonRegion R(ulong startFrame, ulong endFrame, uint nrAccesses, uint age) =>
        new(startFrame * 4096, endFrame * 4096, nrAccesses, age);
}
