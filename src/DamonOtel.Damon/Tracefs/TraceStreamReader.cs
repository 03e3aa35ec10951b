using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Tracefs;

/// <summary>
/// What the text reader (<see cref="TraceReader"/>, trace_pipe) and the binary one
/// (<see cref="RawTraceReader"/>, per-CPU trace_pipe_raw) share: the assembler they feed,
/// their read bound, their counters and the poll a caller drives. The derived classes say what
/// an error or a record is for their format.
/// </summary>
public abstract class TraceStreamReader : IDisposable
{
    private protected TraceStreamReader()
    {
    }

    /// <summary>Assembles the damon_aggregated events read into snapshots.</summary>
    public AggregationAssembler Assembler { get; private protected init; } = null!;

    /// <summary>Upper bound of bytes read by one Poll, so a flood cannot starve the caller.</summary>
    public int MaxBytesPerPoll { get; init; } = 16 << 20;

    /// <summary>Input that could not be decoded; see the derived class's LastParseError.</summary>
    public long ParseErrors { get; private protected set; }

    /// <summary>Well-formed events of a kind this reader does not decode.</summary>
    public long OtherEvents { get; private protected set; }

    /// <summary>damon_aggregated events fed to the assembler.</summary>
    public long AggregatedEvents { get; private protected set; }

    public long BytesRead { get; private protected set; }

    public long DroppedSnapshots => Assembler.DroppedSnapshots;

    public long UnknownPidEvents => Assembler.UnknownPidEvents;

    /// <summary>
    /// Lines or records read that were well-formed (of any event); next to <see cref="ParseErrors"/>
    /// it tells a stream that is all garbage from one with a few bad entries.
    /// </summary>
    public abstract long WellFormed { get; }

    /// <summary>The most recent decode error, naming where it was, or null.</summary>
    public abstract string? LastParseError { get; }

    /// <summary>
    /// Reads what is available now, calls <paramref name="onSnapshot"/> for each completed
    /// aggregation and <paramref name="onOtherEvent"/> for each other decoded DAMON event.
    /// Returns the number of snapshots.
    /// </summary>
    public abstract int Poll(Action<RegionSnapshot> onSnapshot, TraceEventCallback? onOtherEvent = null);

    public abstract void Dispose();
}
