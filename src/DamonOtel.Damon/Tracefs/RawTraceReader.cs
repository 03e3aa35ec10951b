using System.Globalization;
using System.Runtime.InteropServices;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Tracefs;

/// <summary>Why a trace_pipe_raw page or record was not (fully) decoded.</summary>
public enum RawTraceError : byte
{
    None = 0,

    /// <summary>The page's commit or an event length points past the data; events before that point were used.</summary>
    CorruptPage,

    /// <summary>A record with the damon_aggregated / intervals_tune id is shorter than its format file says.</summary>
    ShortRecord,
}

/// <summary>
/// Reads the binary per-CPU ring buffers (<c>per_cpu/cpuN/trace_pipe_raw</c>, non-blocking:
/// Read returns 0 when empty) one whole page at a time, decodes the DAMON records with the
/// offsets of the events' format files, and merges the CPUs' events in timestamp order
/// before feeding the <see cref="AggregationAssembler"/>: a kdamond can migrate between CPUs
/// in the middle of one aggregation, so its regions are spread over several buffers, and the
/// text trace_pipe interleaves the CPUs the same way (oldest event first, lowest CPU on ties).
/// Snapshots therefore equal those of <see cref="TraceReader"/> for the same events.
/// No allocation per event: each CPU has one page buffer and one queue of decoded events.
/// </summary>
public sealed class RawTraceReader : TraceStreamReader
{
    private readonly CpuPipe[] cpus;
    private readonly RingBufferLayout layout;
    private readonly DamonRawDecoder decoder;
    private readonly bool ownsPipes;
    private RawTraceError lastError;
    private int lastErrorCpu;
    private long lastErrorPage;

    /// <param name="pipes">Each CPU's number and its open trace_pipe_raw.</param>
    /// <param name="layout">The ring-buffer page layout (<see cref="TraceInstance.ReadRingBufferLayout"/>).</param>
    /// <param name="decoder">The record decoder (<see cref="TraceInstance.ReadRawDecoder"/>).</param>
    /// <param name="assembler">Assembles damon_aggregated events into snapshots.</param>
    /// <param name="ownsPipes">Dispose the streams with the reader.</param>
    public RawTraceReader(IReadOnlyList<(int Cpu, Stream Pipe)> pipes, RingBufferLayout layout, DamonRawDecoder decoder, AggregationAssembler assembler, bool ownsPipes = true)
    {
        ArgumentNullException.ThrowIfNull(pipes);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(assembler);
        if (pipes.Count == 0)
        {
            throw new ArgumentException("at least one CPU's trace_pipe_raw is needed", nameof(pipes));
        }

        if (pipes.Select(p => p.Cpu).Distinct().Count() != pipes.Count)
        {
            throw new ArgumentException("a CPU is listed twice", nameof(pipes));
        }

        // The smallest data event is a 4-byte header plus 4 bytes of payload, so one page
        // never yields more events than this (plus one lost-events marker).
        int capacity = (layout.DataSize / 8) + 2;
        cpus = [.. pipes.OrderBy(p => p.Cpu).Select(p => new CpuPipe(p.Cpu, p.Pipe ?? throw new ArgumentException($"cpu{p.Cpu}: null stream", nameof(pipes)), layout.PageSize, capacity))];
        this.layout = layout;
        this.decoder = decoder;
        this.ownsPipes = ownsPipes;
        Assembler = assembler;
    }

    /// <summary>The CPUs read, ascending.</summary>
    public IReadOnlyList<int> Cpus => [.. cpus.Select(c => c.Cpu)];

    /// <summary>Whole pages read (all CPUs).</summary>
    public long Pages { get; private set; }

    /// <summary>Pages flagged by the kernel as following lost events (the buffer overflowed).</summary>
    public long MissedEventsPages { get; private set; }

    /// <summary>Pages whose commit or an event length was inconsistent (see <see cref="LastParseError"/>).</summary>
    public long CorruptPages { get; private set; }

    /// <summary>Data records seen (including other events' and bad ones).</summary>
    public long Records { get; private set; }

    // ParseErrors: corrupt pages plus DAMON records too short for their format.

    /// <summary>Records that were not too short for their format (other events' included).</summary>
    public override long WellFormed => Records - (ParseErrors - CorruptPages);

    /// <summary>The most recent decode error as "per_cpu/cpuN/trace_pipe_raw page P: reason", or null; formatted on demand.</summary>
    public override string? LastParseError => lastError switch
    {
        RawTraceError.None => null,
        RawTraceError.CorruptPage => string.Create(CultureInfo.InvariantCulture, $"per_cpu/cpu{lastErrorCpu}/trace_pipe_raw page {lastErrorPage}: commit or an event length points past the page's data"),
        _ => string.Create(CultureInfo.InvariantCulture, $"per_cpu/cpu{lastErrorCpu}/trace_pipe_raw page {lastErrorPage}: a DAMON record is shorter than its format file says"),
    };

    /// <summary>
    /// Opens every <c>per_cpu/cpuN/trace_pipe_raw</c> of <paramref name="instance"/> (listed
    /// through <paramref name="fs"/>) and reads the page layout and format files.
    /// </summary>
    /// <exception cref="KernelIoException">No per_cpu directory or CPUs, or a pipe cannot be opened.</exception>
    /// <exception cref="FormatException">The header or format files do not have the expected shape.</exception>
    public static RawTraceReader Open(IKernelFs fs, TraceInstance instance, AggregationAssembler assembler)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(assembler);
        string perCpu = Path.Combine(instance.InstancePath, "per_cpu");
        var ids = new List<int>();
        foreach (string name in fs.ListDirectory(perCpu))
        {
            if (name.StartsWith("cpu", StringComparison.Ordinal)
                && int.TryParse(name.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out int cpu))
            {
                ids.Add(cpu);
            }
        }

        if (ids.Count == 0)
        {
            throw new KernelIoException(Errno.ENOENT, perCpu, "list (no cpuN directories)");
        }

        ids.Sort();
        RingBufferLayout layout = instance.ReadRingBufferLayout();
        DamonRawDecoder decoder = instance.ReadRawDecoder();
        var pipes = new List<(int, Stream)>(ids.Count);
        try
        {
            foreach (int cpu in ids)
            {
                pipes.Add((cpu, fs.OpenPipe(instance.RawPipePath(cpu))));
            }
        }
        catch
        {
            foreach ((int _, Stream s) in pipes)
            {
                s.Dispose();
            }

            throw;
        }

        return new RawTraceReader(pipes, layout, decoder, assembler);
    }

    /// <summary>
    /// Reads every page available now on every CPU (until each Read returns 0, or
    /// <see cref="MaxBytesPerPoll"/>), merges the events by timestamp, calls
    /// <paramref name="onSnapshot"/> for each completed aggregation and
    /// <paramref name="onOtherEvent"/> for each other decoded DAMON event. Returns the number of snapshots.
    /// Events that might be preceded by still unread ones of another CPU (the byte limit was
    /// hit) are kept for the next call.
    /// </summary>
    public override int Poll(Action<RegionSnapshot> onSnapshot, TraceEventCallback? onOtherEvent = null)
    {
        ArgumentNullException.ThrowIfNull(onSnapshot);
        foreach (CpuPipe c in cpus)
        {
            c.Drained = false;
        }

        int snapshots = 0;
        long consumed = 0;
        while (true)
        {
            CpuPipe? best = null;
            foreach (CpuPipe c in cpus)
            {
                while (c.Head == c.Count && !c.Drained)
                {
                    if (consumed >= MaxBytesPerPoll)
                    {
                        // This CPU may hold older events than the others' heads: stop merging here.
                        return snapshots;
                    }

                    consumed += Fill(c);
                }

                // Strictly older wins, so ties go to the lower CPU (cpus are sorted), as in trace_pipe.
                if (c.Head < c.Count && (best is null || c.Queue[c.Head].TimestampNs < best.Queue[best.Head].TimestampNs))
                {
                    best = c;
                }
            }

            if (best is null)
            {
                return snapshots;
            }

            ref TraceEvent ev = ref best.Queue[best.Head++];
            switch (ev.Kind)
            {
                case TraceEventKind.None:
                    // Lost-events marker: an aggregation in progress cannot complete correctly.
                    _ = Assembler.DropIncomplete();
                    break;
                case TraceEventKind.DamonAggregated:
                    AggregatedEvents++;
                    if (Assembler.Add(in ev) is RegionSnapshot s)
                    {
                        snapshots++;
                        onSnapshot(s);
                    }

                    break;
                default:
                    _ = Assembler.Add(in ev);
                    onOtherEvent?.Invoke(in ev);
                    break;
            }
        }
    }

    public override void Dispose()
    {
        if (!ownsPipes)
        {
            return;
        }

        foreach (CpuPipe c in cpus)
        {
            c.Pipe.Dispose();
        }
    }

    // One read; a completed page is decoded into the CPU's (empty) queue. Returns the bytes read.
    private int Fill(CpuPipe c)
    {
        int n = c.Pipe.Read(c.Page.AsSpan(c.Filled));
        if (n <= 0)
        {
            c.Drained = true;
            return 0;
        }

        BytesRead += n;
        c.Filled += n;
        if (c.Filled < c.Page.Length)
        {
            return n;
        }

        c.Filled = 0;
        c.Head = 0;
        c.Count = 0;
        Pages++;
        ReadOnlySpan<byte> page = c.Page;
        if (layout.PageMissedEvents(page))
        {
            MissedEventsPages++;
            // The page timestamp is not after its first event's, so the marker sorts before them.
            ref TraceEvent marker = ref c.Queue[c.Count++];
            marker.Kind = TraceEventKind.None;
            marker.TimestampNs = MemoryMarshal.Read<ulong>(page[layout.TimestampOffset..]);
            marker.Cpu = c.Cpu;
        }

        var sink = new QueueSink(this, c);
        RawPageResult r = layout.ParsePage(page, ref sink);
        if (r.Corrupt)
        {
            RecordError(RawTraceError.CorruptPage, c.Cpu);
        }

        return n;
    }

    private void RecordError(RawTraceError error, int cpu)
    {
        if (error == RawTraceError.CorruptPage)
        {
            CorruptPages++;
        }

        ParseErrors++;
        lastError = error;
        lastErrorCpu = cpu;
        lastErrorPage = Pages;
    }

    private sealed class CpuPipe(int cpu, Stream pipe, int pageSize, int capacity)
    {
        public int Cpu { get; } = cpu;

        public Stream Pipe { get; } = pipe;

        public byte[] Page { get; } = new byte[pageSize];

        public TraceEvent[] Queue { get; } = new TraceEvent[capacity];

        /// <summary>Bytes of a page read so far (a read may return less than a page).</summary>
        public int Filled { get; set; }

        public int Head { get; set; }

        public int Count { get; set; }

        /// <summary>Read returned 0 during the current poll.</summary>
        public bool Drained { get; set; }
    }

    // Decodes each record of a page straight into the CPU's queue; other events are only counted.
    private readonly struct QueueSink(RawTraceReader reader, CpuPipe cpu) : IRawEventSink
    {
        public void OnEvent(ulong timestampNs, ReadOnlySpan<byte> payload)
        {
            reader.Records++;
            ref TraceEvent slot = ref cpu.Queue[cpu.Count];
            if (reader.decoder.TryDecode(payload, timestampNs, ref slot))
            {
                slot.Cpu = cpu.Cpu;
                cpu.Count++;
            }
            else if (slot.Kind == TraceEventKind.Other)
            {
                reader.OtherEvents++;
            }
            else
            {
                reader.RecordError(RawTraceError.ShortRecord, cpu.Cpu);
            }
        }
    }
}
