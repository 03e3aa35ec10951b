namespace DamonOtel.Damon.Procfs;

/// <summary>
/// The result of one <see cref="KpageSampler"/> pass, per selected cgroup (index =
/// <see cref="Cgroups.SelectedCgroup.Index"/>). Arrays are reused across passes: read them
/// before the next pass, or copy.
/// </summary>
public sealed class KpageAttribution
{
    private readonly double[] idleBounds;
    private Contribution[] contributions = new Contribution[1024];
    private int contributionCount;
    private int[] ownerStart = [];
    // Pre-sized: Clear keeps the buckets, so passes stay allocation-free.
    private readonly HashSet<ulong> unknownInodes = new(MaxUnknownInodes);

    /// <param name="idleBoundsSeconds">Ascending upper bounds of the idle-time buckets (the <c>le</c> values); +Inf is added.</param>
    public KpageAttribution(IReadOnlyList<double> idleBoundsSeconds)
    {
        ArgumentNullException.ThrowIfNull(idleBoundsSeconds);
        idleBounds = [.. idleBoundsSeconds, double.PositiveInfinity];
        for (int i = 1; i < idleBounds.Length; i++)
        {
            if (!(idleBounds[i] > idleBounds[i - 1]))
            {
                throw new ArgumentException("idle bounds must be strictly ascending", nameof(idleBoundsSeconds));
            }
        }
    }

    public int OwnerCount { get; private set; }

    /// <summary>Buckets per owner in <see cref="IdleLe"/>: the bounds plus +Inf.</summary>
    public int BucketCount => idleBounds.Length;

    public ReadOnlySpan<double> IdleBounds => idleBounds;

    /// <summary>Estimated bytes of each cgroup's pages in the monitored range (anon, page cache, and kernel pages charged whole).</summary>
    public double[] Resident { get; private set; } = [];

    /// <summary>Variance of <see cref="Resident"/> from the sampling (binomial bound): √ is its standard error.</summary>
    public double[] ResidentVariance { get; private set; } = [];

    /// <summary>Bytes of the cgroup in regions with nr_accesses ≥ the WSS threshold.</summary>
    public double[] WorkingSet { get; private set; } = [];

    /// <summary>
    /// Bytes of the cgroup in regions where it holds at least 90 % of the sampled pages owned by any
    /// memory cgroup (free and kernel pages do not count: they are never found accessed). A region's
    /// access count and age describe all its pages, so only there are the cgroup's WSS and idle
    /// times its own; in mixed regions they blend the owners' pages (physically interleaved
    /// memory). <c>DominantBytes / Resident</c> is the attribution's purity: export it.
    /// </summary>
    public double[] DominantBytes { get; private set; } = [];

    /// <summary>Cumulative: [owner × BucketCount + b] = bytes idle for at most IdleBounds[b] seconds (accessed bytes count as 0).</summary>
    public double[] IdleLe { get; private set; } = [];

    /// <summary>Per region: estimated free bytes (needs kpageflags), to leave free memory out of the machine-wide view.</summary>
    public double[] RegionFreeBytes { get; private set; } = [];

    public double TotalBytes { get; internal set; }

    /// <summary>Estimated free bytes in the monitored range (needs kpageflags).</summary>
    public double FreeBytes { get; internal set; }

    /// <summary>Variance of <see cref="FreeBytes"/> from the sampling.</summary>
    public double FreeVariance { get; internal set; }

    /// <summary>Pages with no memory cgroup that are not free: kernel allocations (slab pages, page tables, ...).</summary>
    public double KernelBytes { get; internal set; }

    /// <summary>Pages of cgroups that are not selected (or created since the catalog was built).</summary>
    public double OtherCgroupBytes { get; internal set; }

    public long Samples { get; internal set; }

    /// <summary>Positional reads (syscalls) of the pass.</summary>
    public long Reads { get; internal set; }

    /// <summary>Samples owned by some memory cgroup (selected or not).</summary>
    public long OwnedSamples { get; internal set; }

    /// <summary>
    /// Samples owned by a cgroup the catalog neither selected nor knows as unselected: a cgroup
    /// created (or a selected one removed, its pages reparented) since the catalog was built.
    /// Their share of <see cref="OwnedSamples"/> is what triggers a rediscovery.
    /// </summary>
    public long UnknownInodeSamples { get; internal set; }

    /// <summary>Distinct unknown inodes of the pass (at most <see cref="MaxUnknownInodes"/>), for the rediscovery to settle.</summary>
    public IReadOnlyCollection<ulong> UnknownInodes => unknownInodes;

    public const int MaxUnknownInodes = 4096;

    internal int[] Hits { get; private set; } = [];

    internal int[] Touched { get; private set; } = [];

    /// <summary>Idle time (seconds) at <paramref name="percentile"/> (0-100) of the owner's bytes: damo's per-byte walk.</summary>
    public double IdlePercentile(int owner, double percentile)
    {
        int from = ownerStart[owner], to = ownerStart[owner + 1];
        double total = 0;
        for (int i = from; i < to; i++)
        {
            total += contributions[i].Bytes;
        }

        if (total <= 0)
        {
            return double.NaN;
        }

        double target = total * percentile / 100, seen = 0;
        for (int i = from; i < to; i++)
        {
            seen += contributions[i].Bytes;
            if (seen >= target)
            {
                return contributions[i].IdleSeconds;
            }
        }

        return contributions[to - 1].IdleSeconds;
    }

    internal void Reset(int owners, int regions)
    {
        OwnerCount = owners;
        Resident = Fit(Resident, owners);
        ResidentVariance = Fit(ResidentVariance, owners);
        WorkingSet = Fit(WorkingSet, owners);
        DominantBytes = Fit(DominantBytes, owners);
        IdleLe = Fit(IdleLe, owners * BucketCount);
        RegionFreeBytes = Fit(RegionFreeBytes, regions);
        Hits = Fit(Hits, owners);
        Touched = Fit(Touched, owners);
        if (ownerStart.Length < owners + 1)
        {
            ownerStart = new int[owners + 1];
        }

        TotalBytes = FreeBytes = FreeVariance = KernelBytes = OtherCgroupBytes = 0;
        Samples = Reads = OwnedSamples = UnknownInodeSamples = 0;
        unknownInodes.Clear();
        contributionCount = 0;
    }

    internal int BucketOf(double idleSeconds)
    {
        int b = 0;
        while (idleSeconds > idleBounds[b])
        {
            b++;
        }

        return b;
    }

    internal void NoteUnknownInode(ulong inode)
    {
        if (unknownInodes.Count < MaxUnknownInodes)
        {
            unknownInodes.Add(inode);
        }
    }

    internal void AddContribution(int owner, double bytes, double idleSeconds)
    {
        if (contributionCount == contributions.Length)
        {
            Array.Resize(ref contributions, contributions.Length * 2);
        }

        contributions[contributionCount++] = new Contribution(owner, bytes, idleSeconds);
    }

    internal void Finish()
    {
        for (int o = 0; o < OwnerCount; o++)
        {
            for (int b = 1; b < BucketCount; b++)
            {
                IdleLe[(o * BucketCount) + b] += IdleLe[(o * BucketCount) + b - 1];
            }
        }

        Span<Contribution> span = contributions.AsSpan(0, contributionCount);
        span.Sort(static (x, y) => x.Owner != y.Owner ? x.Owner.CompareTo(y.Owner) : x.IdleSeconds.CompareTo(y.IdleSeconds));
        int c = 0;
        for (int o = 0; o <= OwnerCount; o++)
        {
            while (c < contributionCount && contributions[c].Owner < o)
            {
                c++;
            }

            ownerStart[o] = c;
        }
    }

    private static T[] Fit<T>(T[] array, int length)
    {
        if (array.Length < length)
        {
            return new T[length];
        }

        Array.Clear(array);
        return array;
    }

    private readonly record struct Contribution(int Owner, double Bytes, double IdleSeconds);
}
