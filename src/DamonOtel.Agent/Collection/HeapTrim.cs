namespace DamonOtel.Agent.Collection;

/// <summary>
/// Gives the memory the managed heap no longer needs back to the kernel, every
/// <see cref="Bytes"/> allocated. The agent allocates little (~70 KB/s for 4 kdamonds x 1,000
/// regions every 5 s), so the GC's own collections are minutes apart: its gen0 budget comes
/// from the CPU's L3 cache (~16 MB with a 32 MB L3), and the NativeAOT runtime honours neither
/// DOTNET_GC* variables nor a GCgen0size knob (bench/README.md). Until then every allocation
/// touches fresh heap, and after a collection the GC keeps the emptied regions committed. An
/// aggressive collection (<see cref="GCCollectionMode.Aggressive"/>) compacts and decommits
/// them: measured, 23 MB of resident heap after start-up fell to 7.6 MB. With the agent's
/// ~6 MB of live data one costs a few milliseconds, about once a minute.
/// Checked after each collection (<see cref="CollectionLoop"/>), never in a metric callback.
/// </summary>
internal sealed class HeapTrim(long bytes, Func<long> allocatedBytes, Action trim)
{
    /// <summary>The agent's interval, in bytes allocated.</summary>
    public const long DefaultBytes = 4 << 20;

    private readonly Lock gate = new();
    private long allocatedAtLastTrim = -1;

    public static HeapTrim ForThisProcess() => new(
        DefaultBytes,
        static () => GC.GetTotalAllocatedBytes(precise: false),
        static () => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true));

    public long Bytes { get; } = bytes;

    /// <summary>Trims when <see cref="Bytes"/> were allocated since the last trim (or the first check); true when it did. Thread-safe.</summary>
    public bool Check()
    {
        long allocated = allocatedBytes();
        lock (gate)
        {
            if (allocatedAtLastTrim < 0)
            {
                allocatedAtLastTrim = allocated;
                return false;
            }

            if (allocated - allocatedAtLastTrim < Bytes)
            {
                return false;
            }

            trim();
            allocatedAtLastTrim = allocatedBytes();
            return true;
        }
    }
}
