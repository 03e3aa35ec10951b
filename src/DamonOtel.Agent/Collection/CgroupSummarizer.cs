using DamonOtel.Damon.Cgroups;
using DamonOtel.Damon.Procfs;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Agent.Collection;

/// <summary>
/// Turns one <see cref="KpageAttribution"/> pass into the exported figures of a
/// <see cref="PageOwnershipFrame"/>: per selected cgroup resident bytes and their standard error,
/// working set, cumulative idle buckets, idle-time percentiles (damo's per-byte walk over the
/// cgroup's share of each region) and purity. Allocation-free.
/// </summary>
internal static class CgroupSummarizer
{
    public static void Fill(KpageAttribution a, CgroupCatalog? catalog, PageOwnershipFrame frame)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(frame);
        frame.Filled = true;
        frame.HasCgroups = catalog is not null;
        frame.FreeBytes = a.FreeBytes;
        frame.KernelBytes = a.KernelBytes;
        frame.OtherCgroupBytes = a.OtherCgroupBytes;
        frame.DroppedCount = catalog?.DroppedByCap ?? 0;
        double selected = 0;
        ReadOnlySpan<CgroupRow> rows = frame.Rows;
        for (int o = 0; o < rows.Length && o < a.OwnerCount; o++)
        {
            CgroupRow row = rows[o];
            double resident = a.Resident[o];
            selected += resident;
            row.ResidentBytes = resident;
            row.ResidentStandardErrorBytes = Math.Sqrt(a.ResidentVariance[o]);
            row.WorkingSetBytes = a.WorkingSet[o];
            row.Purity = resident > 0 ? Math.Min(1, a.DominantBytes[o] / resident) : double.NaN;
            a.IdleLe.AsSpan(o * a.BucketCount, a.BucketCount).CopyTo(row.IdleBytesAtMost);
            for (int p = 0; p < row.IdleTimePercentilesSeconds.Length; p++)
            {
                row.IdleTimePercentilesSeconds[p] = resident > 0 ? a.IdlePercentile(o, frame.Percentile(p)) : double.NaN;
            }
        }

        frame.SelectedCgroupBytes = selected;
    }
}
