using DamonOtel.Damon.Cgroups;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Procfs;

/// <summary>Which page frames also get a <c>/proc/kpageflags</c> read.</summary>
public enum KpageFlagsMode
{
    /// <summary>Only frames with no memory cgroup (free pages and kernel memory have none): the default, 1 + f reads per sample.</summary>
    Unowned,

    /// <summary>Every sampled frame (two reads per sample); nothing more is derived from it today.</summary>
    All,

    /// <summary>Never: free pages cannot be told apart from kernel memory.</summary>
    None,

    /// <summary>Only <c>/proc/kpageflags</c> (kernels without memory cgroups, or no cgroups selected): free pages only.</summary>
    FlagsOnly,
}

public sealed record KpageSamplerOptions
{
    /// <summary>Page frames sampled per pass, shared between regions in proportion to their size.</summary>
    public int SamplesPerPass { get; init; } = 100_000;

    /// <summary>At least this many samples in every region, however small.</summary>
    public int MinSamplesPerRegion { get; init; } = 2;

    public KpageFlagsMode Flags { get; init; } = KpageFlagsMode.Unowned;

    /// <summary>damo's WSS threshold: regions with at least this many accesses count as working set.</summary>
    public uint WssMinAccesses { get; init; } = 1;

    /// <summary>Bytes per page frame (the kernel's page size).</summary>
    public int PageSize { get; init; } = 4096;

    public ulong Seed { get; init; } = 0x9E3779B97F4A7C15UL;
}

/// <summary>
/// Attributes the bytes of DAMON paddr regions to cgroups by sampling page frames in each region
/// and looking up their memory cgroup in <c>/proc/kpagecgroup</c> (and, for frames no cgroup owns,
/// their flags in <c>/proc/kpageflags</c>: free or kernel memory). A region's access count and age
/// apply to all its bytes, so a cgroup's working set is the sum over accessed regions of region
/// bytes × the cgroup's sampled share, and its idle distribution is the same weighting of each
/// region's idle time. Samples are stratified (one per equal slice of a region) and shared in
/// proportion to region size, the policy that measured best at equal cost (docs/per-cgroup.md).
/// Cost: one positional read per sample (plus one for unowned frames), independent of the number
/// of cgroups. Allocation-free once <see cref="KpageAttribution"/> has grown to the pass's size.
/// Not thread-safe: one per collection worker.
/// </summary>
public sealed class KpageSampler : IDisposable
{
    private const int KpfBuddy = 10;
    private const int KpfNoPage = 20;

    private readonly KpageSamplerOptions options;
    private readonly IPageFrameFile? cgroupFile;
    private readonly IPageFrameFile? flagsFile;
    private ulong rng;

    public KpageSampler(IKernelPageFs fs, KernelRoots roots, KpageSamplerOptions options)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(roots);
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SamplesPerPass, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MinSamplesPerRegion, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PageSize, 512);
        rng = options.Seed | 1;
        cgroupFile = options.Flags == KpageFlagsMode.FlagsOnly ? null : fs.OpenPageFrameFile(roots.Proc("kpagecgroup"));
        try
        {
            flagsFile = options.Flags == KpageFlagsMode.None ? null : fs.OpenPageFrameFile(roots.Proc("kpageflags"));
        }
        catch
        {
            cgroupFile?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One pass over <paramref name="regions"/> (addresses in core units, × <paramref name="addrUnit"/>
    /// = physical bytes); results replace the contents of <paramref name="into"/>. With
    /// <see cref="KpageFlagsMode.FlagsOnly"/>, <paramref name="catalog"/> may be null (no cgroups).
    /// </summary>
    public void Attribute(ReadOnlySpan<DamonRegion> regions, ulong addrUnit, ulong aggrUs, CgroupCatalog? catalog, KpageAttribution into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (cgroupFile is not null)
        {
            ArgumentNullException.ThrowIfNull(catalog);
        }

        int owners = catalog?.Groups.Count ?? 0;
        into.Reset(owners, regions.Length);
        ulong pageSize = (ulong)options.PageSize;
        double totalBytes = 0;
        foreach (ref readonly DamonRegion r in regions)
        {
            totalBytes += (double)r.Size * addrUnit;
        }

        Span<ulong> one = stackalloc ulong[1];
        double aggrSeconds = aggrUs / 1e6;
        int[] hits = into.Hits;
        int[] touched = into.Touched;
        bool flagsForAll = options.Flags is KpageFlagsMode.All or KpageFlagsMode.FlagsOnly;

        for (int ri = 0; ri < regions.Length; ri++)
        {
            DamonRegion region = regions[ri];
            ulong startPfn = region.Start * addrUnit / pageSize;
            ulong pages = region.Size * addrUnit / pageSize;
            if (pages == 0)
            {
                continue;
            }

            double bytes = (double)pages * pageSize;
            long wanted = Math.Max(options.MinSamplesPerRegion, (long)Math.Round(options.SamplesPerPass * bytes / totalBytes));
            ulong points = (ulong)Math.Min(wanted, (long)Math.Min(pages, int.MaxValue));

            int sampled = 0, free = 0, kernel = 0, other = 0, unknown = 0, nTouched = 0;
            for (ulong j = 0; j < points; j++)
            {
                // Stratified: one frame drawn uniformly from each of `points` equal slices.
                ulong lo = pages * j / points;
                ulong hi = pages * (j + 1) / points;
                ulong pfn = startPfn + lo + NextBelow(hi - lo);
                ulong inode = 0;
                if (cgroupFile is not null)
                {
                    into.Reads++;
                    if (cgroupFile.Read(pfn, one) == 0)
                    {
                        continue; // past the last frame
                    }

                    inode = one[0];
                }

                ulong flags = 0;
                if (flagsFile is not null && (flagsForAll || inode == 0))
                {
                    into.Reads++;
                    if (flagsFile.Read(pfn, one) == 0)
                    {
                        continue;
                    }

                    flags = one[0];
                    if ((flags & (1UL << KpfNoPage)) != 0)
                    {
                        continue; // a hole in the physical map: not memory
                    }
                }

                sampled++;
                if (inode != 0)
                {
                    if (catalog!.TryGetOwner(inode, out int owner))
                    {
                        if (hits[owner]++ == 0)
                        {
                            touched[nTouched++] = owner;
                        }
                    }
                    else
                    {
                        other++;
                        if (!catalog.IsKnownOther(inode))
                        {
                            unknown++;
                            into.NoteUnknownInode(inode);
                        }
                    }
                }
                else if (flagsFile is not null && ((flags & (1UL << KpfBuddy)) != 0 || flags == 0))
                {
                    // Free: a buddy block's head carries BUDDY; on some kernels its tail pages and
                    // per-CPU-list pages carry no flag at all (docs/per-cgroup.md, "Free pages").
                    free++;
                }
                else
                {
                    kernel++;
                }
            }

            into.Samples += sampled;
            into.UnknownInodeSamples += unknown;
            into.OwnedSamples += sampled - free - kernel;
            if (sampled == 0)
            {
                continue;
            }

            double idle = region.NrAccesses > 0 ? 0 : (region.Age + 1.0) * aggrSeconds;
            bool accessed = region.NrAccesses >= options.WssMinAccesses;
            int bucket = into.BucketOf(idle);
            double freeBytes = bytes * free / sampled;
            into.TotalBytes += bytes;
            into.FreeBytes += freeBytes;
            into.FreeVariance += Variance(bytes, free, sampled);
            into.RegionFreeBytes[ri] = freeBytes;
            into.KernelBytes += bytes * kernel / sampled;
            into.OtherCgroupBytes += bytes * other / sampled;
            int ownedSamples = sampled - free - kernel;
            for (int t = 0; t < nTouched; t++)
            {
                int o = touched[t];
                double b = bytes * hits[o] / sampled;
                into.Resident[o] += b;
                into.ResidentVariance[o] += Variance(bytes, hits[o], sampled);
                if (accessed)
                {
                    into.WorkingSet[o] += b;
                }

                // Among pages owned by some memcg: free and kernel pages are never found accessed,
                // so they dilute the region's count without lending another owner's accesses.
                if (hits[o] * 10 >= ownedSamples * 9)
                {
                    into.DominantBytes[o] += b;
                }

                into.IdleLe[(o * into.BucketCount) + bucket] += b;
                into.AddContribution(o, b, idle);
                hits[o] = 0;
            }
        }

        into.Finish();
    }

    public void Dispose()
    {
        cgroupFile?.Dispose();
        flagsFile?.Dispose();
    }

    // Binomial variance of a share estimated from `sampled` draws, in bytes² (an upper bound for
    // stratified sampling, which can only do better).
    private static double Variance(double bytes, int hits, int sampled)
    {
        double share = (double)hits / sampled;
        return bytes * bytes * share * (1 - share) / sampled;
    }

    private ulong NextBelow(ulong n)
    {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        return n <= 1 ? 0 : (rng * 2685821657736338717UL) % n;
    }
}
