using DamonOtel.Damon.Cgroups;
using DamonOtel.Damon.Model;

namespace KpageProbe;

/// <summary>A synthetic Kubernetes node: kernel pages, pods' containers' pages (interleaved in chunks), free memory, DAMON-like regions.</summary>
internal static class Synthetic
{
    private const ulong KpfSlab = 1UL << 7;
    private const ulong KpfLru = 1UL << 5;
    private const ulong KpfBuddy = 1UL << 10;
    private const ulong KpfAnon = 1UL << 12;

    internal sealed record ExactResult(double[] Resident, double[] Wss, double[] IdleOver30);

    public static (InMemoryKernel Kernel, DamonRegion[] Regions) Build(int groups, ulong frames, int chunk, int nRegions, int seed)
    {
        var rnd = new Random(seed);
        var kernel = new InMemoryKernel(frames);
        kernel.AddDirectory("/sys/fs/cgroup", 1);
        kernel.AddDirectory("/sys/fs/cgroup/kubepods.slice", 2);
        string[] qos = ["burstable", "besteffort"];
        foreach (string q in qos)
        {
            kernel.AddDirectory($"/sys/fs/cgroup/kubepods.slice/kubepods-{q}.slice", q == "burstable" ? 3UL : 4UL);
        }

        ulong nextIno = 100;
        var containerIno = new ulong[groups];
        var size = new ulong[groups];
        for (int g = 0; g < groups; g++)
        {
            string uid = $"{g:x8}-0000-4000-8000-{rnd.NextInt64():x12}"[..36];
            string q = qos[g % 2];
            string pod = $"/sys/fs/cgroup/kubepods.slice/kubepods-{q}.slice/kubepods-{q}-pod{uid.Replace('-', '_')}.slice";
            kernel.AddDirectory(pod, nextIno++);
            string cid = $"{rnd.NextInt64():x16}{rnd.NextInt64():x16}{rnd.NextInt64():x16}{rnd.NextInt64():x16}";
            containerIno[g] = nextIno;
            kernel.AddDirectory($"{pod}/cri-containerd-{cid}.scope", nextIno++);
            // Log-uniform sizes, 0.5 %..4 % of memory in total on average per 100 groups.
            size[g] = (ulong)(frames * 0.6 / groups * Math.Exp((rnd.NextDouble() * 2.5) - 1.25));
        }

        ulong kernelFrames = frames / 10;
        for (ulong f = 0; f < kernelFrames; f++)
        {
            kernel.FlagsOf[f] = KpfSlab;
        }

        ulong at = kernelFrames;
        var left = (ulong[])size.Clone();
        bool any = true;
        while (any && at < frames)
        {
            any = false;
            for (int g = 0; g < groups && at < frames; g++)
            {
                ulong n = Math.Min(Math.Min(left[g], (ulong)chunk), frames - at);
                for (ulong i = 0; i < n; i++)
                {
                    kernel.CgroupOf[at] = containerIno[g];
                    kernel.FlagsOf[at] = (g % 3 == 0 && i % 4 == 0) ? KpfLru : KpfAnon | KpfLru;
                    at++;
                }

                left[g] -= n;
                any |= left[g] > 0;
            }
        }

        for (ulong f = at; f < frames; f++)
        {
            kernel.FlagsOf[f] = (f % 512 == 0) ? KpfBuddy : 0;
        }

        // Regions: random cut points; a third accessed, the rest idle for 0-600 s.
        var cuts = new SortedSet<ulong> { 0, frames };
        while (cuts.Count < nRegions + 1)
        {
            cuts.Add((ulong)rnd.NextInt64(1, (long)frames));
        }

        ulong[] c = [.. cuts];
        var regions = new DamonRegion[nRegions];
        for (int r = 0; r < nRegions; r++)
        {
            bool hot = rnd.Next(3) == 0;
            regions[r] = new DamonRegion(c[r] * 4096, c[r + 1] * 4096, hot ? (uint)rnd.Next(1, 20) : 0, (uint)rnd.Next(0, 600));
        }

        return (kernel, regions);
    }

    public static ExactResult Exact(InMemoryKernel kernel, DamonRegion[] regions, CgroupCatalog catalog, int buckets, ulong aggrUs, double[] bounds)
    {
        _ = buckets;
        _ = bounds;
        int n = catalog.Groups.Count;
        var res = new double[n];
        var wss = new double[n];
        var idle = new double[n];
        foreach (DamonRegion r in regions)
        {
            double idleS = r.NrAccesses > 0 ? 0 : (r.Age + 1.0) * aggrUs / 1e6;
            for (ulong f = r.Start / 4096; f < r.End / 4096; f++)
            {
                if (catalog.TryGetOwner(kernel.CgroupOf[f], out int o))
                {
                    res[o] += 4096;
                    if (r.NrAccesses > 0)
                    {
                        wss[o] += 4096;
                    }
                    else if (idleS > 30)
                    {
                        idle[o] += 4096;
                    }
                }
            }
        }

        return new ExactResult(res, wss, idle);
    }
}
