using DamonOtel.Damon.Cgroups;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Procfs;

/// <summary>How many page frames to sample per DAMON region.</summary>
public enum KpageSamplingPolicy
{
    /// <summary>The same number in every region, one per equal stratum.</summary>
    Stratified,

    /// <summary>A pass budget of SamplesPerRegion × regions, shared in proportion to region size (at least MinSamplesPerRegion each), stratified.</summary>
    Proportional,
}

public sealed record KpageSamplerOptions
{
    public KpageSamplingPolicy Policy { get; init; } = KpageSamplingPolicy.Proportional;

    /// <summary>Per region (Stratified) or on average per region (Proportional).</summary>
    public int SamplesPerRegion { get; init; } = 32;

    public int MinSamplesPerRegion { get; init; } = 2;

    /// <summary>Consecutive frames per positional read (1 = independent samples; larger trades accuracy on interleaved memory for fewer syscalls).</summary>
    public int ClusterPages { get; init; } = 1;

    /// <summary>Also read /proc/kpageflags: free pages, anon/file split. Costs a second read per sample.</summary>
    public bool ReadFlags { get; init; } = true;

    /// <summary>damo's WSS threshold: regions with at least this many accesses count as working set.</summary>
    public uint WssMinAccesses { get; init; } = 1;

    public ulong Seed { get; init; } = 0x9E3779B97F4A7C15UL;
}

/// <summary>
/// Attributes the bytes of DAMON paddr regions to cgroups by sampling page frames in each region
/// and looking up their memory cgroup in <c>/proc/kpagecgroup</c> (and, optionally, their flags in
/// <c>/proc/kpageflags</c>). A region's access count and age apply to all its bytes, so a cgroup's
/// working set is the sum over accessed regions of region bytes × the cgroup's sampled share, and
/// its idle distribution is the same weighting of each region's idle time. Cost: one positional
/// read per sample and file, independent of the number of cgroups (docs/per-cgroup.md).
/// Allocation-free once <see cref="KpageAttribution"/> has grown to the pass's size.
/// </summary>
public sealed class KpageSampler : IDisposable
{
    private const int KpfLru = 5;
    private const int KpfBuddy = 10;
    private const int KpfAnon = 12;
    private const int KpfNoPage = 20;
    private const int MaxCluster = 64;

    private readonly KpageSamplerOptions options;
    private readonly int pageSize;
    private readonly IPageFrameFile cgroupFile;
    private readonly IPageFrameFile? flagsFile;
    private ulong rng;

    public KpageSampler(IKernelPageFs fs, KernelRoots roots, KpageSamplerOptions options, int pageSize = 4096)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(roots);
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SamplesPerRegion, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MinSamplesPerRegion, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ClusterPages, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.ClusterPages, MaxCluster);
        this.pageSize = pageSize;
        rng = options.Seed | 1;
        cgroupFile = fs.OpenPageFrameFile(roots.Proc("kpagecgroup"));
        try
        {
            flagsFile = options.ReadFlags ? fs.OpenPageFrameFile(roots.Proc("kpageflags")) : null;
        }
        catch
        {
            cgroupFile.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One pass over <paramref name="regions"/> (addresses in core units, × <paramref name="addrUnit"/>
    /// = physical bytes); results replace the contents of <paramref name="into"/>.
    /// </summary>
    public void Attribute(ReadOnlySpan<DamonRegion> regions, ulong addrUnit, ulong aggrUs, CgroupCatalog catalog, KpageAttribution into)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(into);
        into.Reset(catalog.Groups.Count, regions.Length);
        double totalBytes = 0;
        foreach (ref readonly DamonRegion r in regions)
        {
            totalBytes += (double)r.Size * addrUnit;
        }

        int budget = options.SamplesPerRegion * regions.Length;
        Span<ulong> cg = stackalloc ulong[MaxCluster];
        Span<ulong> fl = stackalloc ulong[MaxCluster];
        int cluster = options.ClusterPages;
        double aggrSeconds = aggrUs / 1e6;
        int[] hits = into.Hits;
        int[] touched = into.Touched;

        for (int ri = 0; ri < regions.Length; ri++)
        {
            DamonRegion region = regions[ri];
            ulong startPfn = region.Start * addrUnit / (ulong)pageSize;
            ulong pages = region.Size * addrUnit / (ulong)pageSize;
            if (pages == 0)
            {
                continue;
            }

            double bytes = (double)pages * pageSize;
            long wanted = options.Policy == KpageSamplingPolicy.Stratified
                ? options.SamplesPerRegion
                : Math.Max(options.MinSamplesPerRegion, (long)Math.Round(budget * bytes / totalBytes));
            long points = Math.Max(1, (wanted + cluster - 1) / cluster);
            points = Math.Min(points, Math.Max(1, (long)(pages / (ulong)cluster)));

            int sampled = 0, free = 0, kernel = 0, other = 0, nTouched = 0;
            for (long j = 0; j < points; j++)
            {
                ulong lo = pages * (ulong)j / (ulong)points;
                ulong hi = pages * (ulong)(j + 1) / (ulong)points;
                ulong room = hi - lo > (ulong)cluster ? hi - lo - (ulong)cluster + 1 : 1;
                ulong pos = Math.Min(lo + NextBelow(room), pages > (ulong)cluster ? pages - (ulong)cluster : 0);
                int want = (int)Math.Min((ulong)cluster, pages - pos);
                int got = cgroupFile.Read(startPfn + pos, cg[..want]);
                into.Reads++;
                int gotFlags = got;
                if (flagsFile is not null)
                {
                    gotFlags = flagsFile.Read(startPfn + pos, fl[..want]);
                    into.Reads++;
                }

                for (int k = 0; k < Math.Min(got, gotFlags); k++)
                {
                    ulong flags = flagsFile is null ? 0 : fl[k];
                    if ((flags & (1UL << KpfNoPage)) != 0)
                    {
                        continue; // a hole in the physical map: not memory
                    }

                    sampled++;
                    ulong inode = cg[k];
                    if (catalog.TryGetOwner(inode, out int owner))
                    {
                        if (hits[owner]++ == 0)
                        {
                            touched[nTouched++] = owner;
                        }

                        if ((flags & (1UL << KpfAnon)) != 0)
                        {
                            into.AnonSamples[owner]++;
                        }
                        else if ((flags & (1UL << KpfLru)) != 0)
                        {
                            into.FileSamples[owner]++;
                        }
                    }
                    else if (inode != 0)
                    {
                        other++;
                    }
                    else if (flagsFile is not null && ((flags & (1UL << KpfBuddy)) != 0 || flags == 0))
                    {
                        // Free: a buddy block's head carries BUDDY, its tails and per-CPU-list pages no flag at all.
                        free++;
                    }
                    else
                    {
                        kernel++;
                    }
                }
            }

            into.Samples += sampled;
            if (sampled == 0)
            {
                continue;
            }

            double idle = region.NrAccesses > 0 ? 0 : (region.Age + 1.0) * aggrSeconds;
            bool accessed = region.NrAccesses >= options.WssMinAccesses;
            int bucket = into.BucketOf(idle);
            into.TotalBytes += bytes;
            into.FreeBytes += bytes * free / sampled;
            into.RegionFreeBytes[ri] = bytes * free / sampled;
            into.KernelBytes += bytes * kernel / sampled;
            into.OtherCgroupBytes += bytes * other / sampled;
            for (int t = 0; t < nTouched; t++)
            {
                int o = touched[t];
                double share = (double)hits[o] / sampled;
                double b = bytes * share;
                into.Resident[o] += b;
                // Binomial variance of the share (an upper bound for stratified sampling).
                into.ResidentVariance[o] += bytes * bytes * share * (1 - share) / sampled;
                into.Anon[o] += bytes * into.AnonSamples[o] / sampled;
                into.File[o] += bytes * into.FileSamples[o] / sampled;
                if (accessed)
                {
                    into.WorkingSet[o] += b;
                }

                // Among pages owned by some memcg: free and kernel pages are never found accessed,
                // so they dilute the region's count without lending another owner's accesses.
                if (hits[o] * 10 >= (sampled - free - kernel) * 9)
                {
                    into.DominantBytes[o] += b;
                }

                into.IdleLe[(o * into.BucketCount) + bucket] += b;
                into.AddContribution(o, b, idle);
                hits[o] = 0;
                into.AnonSamples[o] = 0;
                into.FileSamples[o] = 0;
            }
        }

        into.Finish();
    }

    private ulong NextBelow(ulong n)
    {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        return n == 0 ? 0 : (rng * 2685821657736338717UL) % n;
    }

    public void Dispose()
    {
        cgroupFile.Dispose();
        flagsFile?.Dispose();
    }
}
