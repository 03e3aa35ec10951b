using System.Runtime.InteropServices;

namespace DamonOtel.Damon.Tracefs;

/// <summary>The DAMON tracepoints DamonOtel understands (TRACE_SYSTEM damon).</summary>
public enum TraceEventKind : byte
{
    None = 0,

    /// <summary>damon_aggregated (5.15): one region of one target at the end of an aggregation interval.</summary>
    DamonAggregated,

    /// <summary>damos_before_apply (6.7): one region a scheme is about to act on.</summary>
    DamosBeforeApply,

    /// <summary>damon_monitor_intervals_tune (6.17): the auto-tuned sampling interval changed.</summary>
    MonitorIntervalsTune,

    /// <summary>damos_esz (6.17): a scheme's effective size quota changed.</summary>
    DamosEsz,

    /// <summary>damos_stat_after_apply_interval (7.0): cumulative scheme stats after an apply interval.</summary>
    DamosStatAfterApplyInterval,

    /// <summary>
    /// damon_region_aggregated (7.2): damon_aggregated's region plus its data-attribute probe
    /// hits, emitted in addition to damon_aggregated by a kdamond with probes (never instead).
    /// </summary>
    DamonRegionAggregated,

    /// <summary>A well-formed line of some other event: ignored, not an error.</summary>
    Other,
}

/// <summary>Why a trace line could not be parsed.</summary>
public enum TraceParseError : byte
{
    None = 0,
    EmptyLine,
    MissingCpuColumn,
    BadTaskColumn,
    BadTgidColumn,
    BadFlagsColumn,
    BadTimestamp,
    BadEventName,
    BadBody,
    NumberOutOfRange,
    LineTooLong,
}

/// <summary>damos_stat_after_apply_interval values, in the kernel's print order.</summary>
[StructLayout(LayoutKind.Auto)]
public struct DamosStatValues
{
    public ulong NrTried;
    public ulong SzTried;
    public ulong NrApplied;
    public ulong SzApplied;
    public ulong SzOpsFilterPassed;
    public ulong QtExceeds;
    public ulong NrSnapshots;
}

/// <summary>
/// One decoded DAMON trace event, from a trace_pipe text line or a trace_pipe_raw record.
/// A mutable struct filled in place so the hot path allocates nothing; which fields are
/// meaningful depends on <see cref="Kind"/>.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public struct TraceEvent
{
    public TraceEventKind Kind;

    /// <summary>The emitting task (the kdamond thread for DAMON events).</summary>
    public int Pid;

    /// <summary>The record-tgid column, or -1 when absent or printed as dashes.</summary>
    public int Tgid;

    public int Cpu;

    /// <summary>Trace clock timestamp in nanoseconds (text lines carry microseconds).</summary>
    public ulong TimestampNs;

    /// <summary>damon_aggregated target_id (the target's index since 5.17) or damos_before_apply target_idx.</summary>
    public ulong TargetId;

    public uint NrRegions;
    public ulong Start;
    public ulong End;
    public uint NrAccesses;

    /// <summary>Age in aggregation intervals; 0 when <see cref="HasAge"/> is false (5.15/5.16).</summary>
    public uint Age;

    public bool HasAge;

    /// <summary>ctx_idx of the damos_* events.</summary>
    public uint ContextIndex;

    /// <summary>scheme_idx of the damos_* events.</summary>
    public uint SchemeIndex;

    /// <summary>damon_monitor_intervals_tune sample_us.</summary>
    public ulong SampleUs;

    /// <summary>damos_esz esz, bytes.</summary>
    public ulong EffectiveSizeBytes;

    /// <summary>damon_region_aggregated: number of probe_hits bytes (one per probe).</summary>
    public int ProbeCount;

    /// <summary>damon_region_aggregated: the first 8 probe hit counts, probe 0 in the lowest byte.</summary>
    public ulong ProbeHits;

    public DamosStatValues Stats;
}
