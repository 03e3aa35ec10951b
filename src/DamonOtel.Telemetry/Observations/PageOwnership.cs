using DamonOtel.Telemetry.Prometheus;

namespace DamonOtel.Telemetry.Observations;

/// <summary>
/// Who owns the pages of a paddr kdamond's target, from one sampling pass (docs/per-cgroup.md):
/// free pages, kernel memory, unselected cgroups, and one row per selected cgroup with its
/// resident bytes, working set, idle distribution and percentiles, purity and sampling error.
/// <para>
/// Double-buffered so that a pass allocates nothing once sized: the collector fills
/// <see cref="Back"/> and calls <see cref="Swap"/>; metric callbacks read the front frame inside
/// <see cref="Read"/>. Both the swap and the read hold the same lock, so the frame a reader sees
/// is never the one being filled.
/// </para>
/// </summary>
public sealed class PageOwnershipTable
{
    private readonly Lock gate = new();
    private PageOwnershipFrame front;

    public PageOwnershipTable(string kdamond, string target, IReadOnlyList<double> idleBucketsSeconds, IReadOnlyList<double> percentiles)
    {
        ArgumentNullException.ThrowIfNull(idleBucketsSeconds);
        ArgumentNullException.ThrowIfNull(percentiles);
        Kdamond = kdamond;
        Target = target;
        IdleBucketsSeconds = [.. idleBucketsSeconds];
        Percentiles = [.. percentiles];
        LeLabels = [.. idleBucketsSeconds.Select(PrometheusNumbers.Canonical), "+Inf"];
        QuantileLabels = [.. percentiles.Select(p => PrometheusNumbers.Canonical(p / 100))];
        front = new PageOwnershipFrame(this);
        Back = new PageOwnershipFrame(this);
    }

    public string Kdamond { get; }

    public string Target { get; }

    /// <summary>Upper bounds of the per-cgroup idle buckets (seconds); +Inf is implicit.</summary>
    public IReadOnlyList<double> IdleBucketsSeconds { get; }

    /// <summary>Per-cgroup idle-time percentiles (0..100).</summary>
    public IReadOnlyList<double> Percentiles { get; }

    /// <summary>`le` values of the per-cgroup idle buckets, +Inf last.</summary>
    public IReadOnlyList<string> LeLabels { get; }

    /// <summary>`quantile` values of <see cref="Percentiles"/>.</summary>
    public IReadOnlyList<string> QuantileLabels { get; }

    /// <summary>The frame the collector fills next (never read by callbacks).</summary>
    public PageOwnershipFrame Back { get; private set; }

    /// <summary>Publishes <see cref="Back"/> and hands the previous front frame back for the next pass.</summary>
    public void Swap()
    {
        lock (gate)
        {
            (front, Back) = (Back, front);
        }
    }

    /// <summary>Runs <paramref name="read"/> on the published frame; do no I/O in it.</summary>
    public void Read(Action<PageOwnershipFrame> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        lock (gate)
        {
            read(front);
        }
    }
}

/// <summary>One pass's numbers (see <see cref="PageOwnershipTable"/>). Byte values are estimates from sampled page frames.</summary>
public sealed class PageOwnershipFrame
{
    private readonly PageOwnershipTable table;
    private CgroupRow[] rows = [];

    internal PageOwnershipFrame(PageOwnershipTable table) => this.table = table;

    /// <summary>False until a pass filled this frame (nothing is exported from an empty frame).</summary>
    public bool Filled { get; set; }

    /// <summary>Whether cgroups are selected (else only free-page figures are meaningful).</summary>
    public bool HasCgroups { get; set; }

    public double FreeBytes { get; set; }

    /// <summary>Pages with no memory cgroup that are not free: kernel memory.</summary>
    public double KernelBytes { get; set; }

    /// <summary>Pages of cgroups that are not selected.</summary>
    public double OtherCgroupBytes { get; set; }

    /// <summary>Pages of the selected cgroups (sum of their resident bytes).</summary>
    public double SelectedCgroupBytes { get; set; }

    public int SelectedCount { get; set; }

    /// <summary>Matching cgroups left out by the cap.</summary>
    public int DroppedCount { get; set; }

    /// <summary>The catalog generation the rows were built for.</summary>
    public long Generation { get; private set; } = -1;

    public ReadOnlySpan<CgroupRow> Rows => rows.AsSpan(0, SelectedCount);

    /// <summary>Rebuilds the rows for a new set of cgroups (allocates; only when the selection changed).</summary>
    public void Reset(long generation, IReadOnlyList<CgroupIdentity> cgroups)
    {
        ArgumentNullException.ThrowIfNull(cgroups);
        rows = [.. cgroups.Select(c => new CgroupRow(table.Kdamond, c, table.IdleBucketsSeconds.Count + 1, table.Percentiles.Count))];
        SelectedCount = rows.Length;
        Generation = generation;
    }

    /// <summary>Row <paramref name="index"/> for writing.</summary>
    public CgroupRow Row(int index) => rows[index];

    /// <summary>The percentile (0..100) of <see cref="CgroupRow.IdleTimePercentilesSeconds"/>[<paramref name="index"/>].</summary>
    public double Percentile(int index) => table.Percentiles[index];
}

/// <summary>A selected cgroup's labels: path relative to the cgroup2 mount and, under kubepods, the pod and container.</summary>
public sealed record CgroupIdentity(string Cgroup, string? PodUid, string? ContainerId, string? QosClass);

/// <summary>One selected cgroup's figures of a pass.</summary>
public sealed class CgroupRow
{
    internal CgroupRow(string kdamond, CgroupIdentity identity, int buckets, int percentiles)
    {
        Identity = identity;
        var tags = new List<KeyValuePair<string, object?>> { new("kdamond", kdamond), new("cgroup", identity.Cgroup) };
        if (identity.PodUid is not null)
        {
            tags.Add(new("pod_uid", identity.PodUid));
        }

        if (identity.ContainerId is not null)
        {
            tags.Add(new("container_id", identity.ContainerId));
        }

        if (identity.QosClass is not null)
        {
            tags.Add(new("qos_class", identity.QosClass));
        }

        Tags = [.. tags];
        IdleBytesAtMost = new double[buckets];
        IdleTimePercentilesSeconds = new double[percentiles];
    }

    public CgroupIdentity Identity { get; }

    /// <summary>kdamond, cgroup and the Kubernetes labels that apply, built once.</summary>
    public KeyValuePair<string, object?>[] Tags { get; }

    /// <summary>Bytes of the cgroup's pages in the monitored range.</summary>
    public double ResidentBytes { get; set; }

    /// <summary>Standard error of <see cref="ResidentBytes"/> from the sampling (binomial bound).</summary>
    public double ResidentStandardErrorBytes { get; set; }

    /// <summary>Bytes in regions accessed in the last aggregation interval.</summary>
    public double WorkingSetBytes { get; set; }

    /// <summary>Share (0..1) of the resident bytes in regions where the cgroup holds ≥ 90 % of the cgroup-owned pages; NaN without pages.</summary>
    public double Purity { get; set; }

    /// <summary>Cumulative bytes idle for at most each bucket bound; the last is +Inf (= resident).</summary>
    public double[] IdleBytesAtMost { get; }

    /// <summary>Idle-time percentiles (damo convention), seconds; NaN without pages.</summary>
    public double[] IdleTimePercentilesSeconds { get; }
}
