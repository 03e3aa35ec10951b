namespace DamonOtel.Damon.Model;

/// <summary>
/// One monitoring snapshot of one target: the regions of one aggregation interval (from the
/// damon_aggregated tracepoint or a tried_regions walk) and the intervals in force then.
/// The input of DamonOtel.Analysis.
/// </summary>
public sealed record RegionSnapshot(
    int KdamondIndex,
    int ContextIndex,
    int TargetIndex,
    Intervals Intervals,
    DamonRegion[] Regions,
    ulong AddrUnit,
    long CapturedAtTicks)
{
    /// <summary>Sum of region sizes (in core units; multiply by AddrUnit for bytes).</summary>
    public ulong TotalSize
    {
        get
        {
            ulong total = 0;
            foreach (ref readonly DamonRegion r in Regions.AsSpan())
            {
                total += r.Size;
            }

            return total;
        }
    }
}
