namespace DamonOtel.Agent.Collection;

/// <summary>
/// Gives the memory the managed heap no longer needs back to the kernel, once
/// <see cref="Bytes"/> were allocated and at most every <see cref="MinInterval"/>. The agent
/// allocates little (4-8 MB a minute for 4 kdamonds x 1,000 regions every 5 s), so the GC's own
/// collections are minutes apart: its gen0 budget comes from the CPU's L3 cache (~16 MB with a
/// 32 MB L3), and the NativeAOT runtime honours neither DOTNET_GC* variables nor a GCgen0size
/// knob (bench/README.md). Until then every allocation touches fresh heap, and after a
/// collection the GC keeps the emptied regions committed. An aggressive collection
/// (<see cref="GCCollectionMode.Aggressive"/>) compacts and decommits them: measured, 23 MB of
/// resident heap after start-up fell to 7.6 MB. With the agent's ~6 MB of live data one costs a
/// few milliseconds; the interval bounds the cost where much more is allocated (the Simulator,
/// large hosts). Checked after each collection (<see cref="CollectionLoop"/>), never in a
/// metric callback.
/// </summary>
internal sealed class HeapTrim(long bytes, TimeSpan minInterval, TimeProvider time, Func<long> allocatedBytes, Action trim)
{
    /// <summary>The agent's budget, in bytes allocated.</summary>
    public const long DefaultBytes = 4 << 20;

    /// <summary>The agent's shortest time between two trims.</summary>
    public static readonly TimeSpan DefaultMinInterval = TimeSpan.FromSeconds(30);

    private readonly Lock gate = new();
    private long allocatedAtLastTrim = -1;
    private long lastTrimTimestamp;

    public static HeapTrim ForThisProcess(TimeProvider time) => new(
        DefaultBytes,
        DefaultMinInterval,
        time,
        static () => GC.GetTotalAllocatedBytes(precise: false),
        static () => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true));

    public long Bytes { get; } = bytes;

    public TimeSpan MinInterval { get; } = minInterval;

    /// <summary>Trims when both the bytes and the interval have passed since the last trim (or the first check); true when it did. Thread-safe.</summary>
    public bool Check()
    {
        long allocated = allocatedBytes();
        long now = time.GetTimestamp();
        lock (gate)
        {
            if (allocatedAtLastTrim < 0)
            {
                allocatedAtLastTrim = allocated;
                lastTrimTimestamp = now;
                return false;
            }

            if (allocated - allocatedAtLastTrim < Bytes || time.GetElapsedTime(lastTrimTimestamp, now) < MinInterval)
            {
                return false;
            }

            trim();
            allocatedAtLastTrim = allocatedBytes();
            lastTrimTimestamp = time.GetTimestamp();
            return true;
        }
    }
}
