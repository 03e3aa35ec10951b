using System.Text;
using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Tracefs;

/// <summary>Receives a decoded trace event other than damon_aggregated (valid only during the call).</summary>
public delegate void TraceEventCallback(in TraceEvent ev);

/// <summary>
/// Reads a trace_pipe stream (non-blocking: Read returns 0 when empty) with one reusable
/// buffer, parses each line, feeds the <see cref="AggregationAssembler"/> and hands out the
/// completed snapshots. A line cut by the end of a read is kept and completed by the next.
/// No allocation per line; one snapshot and one region array per completed aggregation.
/// </summary>
public sealed class TraceReader : TraceStreamReader
{
    private const int MaxErrorSample = 256;

    private readonly Stream pipe;
    private readonly bool ownsPipe;
    private readonly byte[] buffer;
    private readonly byte[] errorSample = new byte[MaxErrorSample];
    private int filled;
    private bool discardingLongLine;
    private TraceEvent ev;
    private int errorSampleLength;
    private TraceParseError lastError;
    private long lastErrorLine;

    /// <param name="pipe">The instance's trace_pipe (see <see cref="TraceInstance.OpenTracePipe"/>).</param>
    /// <param name="assembler">Assembles damon_aggregated events into snapshots.</param>
    /// <param name="swappedIndices">True when this kernel's damos_before_apply has scheme_idx and target_idx swapped
    /// (see <see cref="TraceQuirks.BeforeApplyIndicesSwapped"/>).</param>
    /// <param name="bufferSize">Read buffer size; also the longest line accepted.</param>
    /// <param name="ownsPipe">Dispose the stream with the reader.</param>
    public TraceReader(Stream pipe, AggregationAssembler assembler, bool swappedIndices = false, int bufferSize = 1 << 16, bool ownsPipe = true)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        ArgumentNullException.ThrowIfNull(assembler);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 256);
        this.pipe = pipe;
        this.ownsPipe = ownsPipe;
        Assembler = assembler;
        SwappedIndices = swappedIndices;
        buffer = new byte[bufferSize];
    }

    public bool SwappedIndices { get; }

    /// <summary>Complete lines seen (including bad ones).</summary>
    public long Lines { get; private set; }

    // ParseErrors: lines that did not parse; OtherEvents: well-formed lines of other events.

    public override long WellFormed => Lines - ParseErrors;

    /// <summary>
    /// The most recent parse error as "line N: reason: 'text'", or null. Formatted on demand
    /// so errors cost no allocation on the read path.
    /// </summary>
    public override string? LastParseError => lastError == TraceParseError.None
        ? null
        : string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"trace_pipe line {lastErrorLine}: {TraceLineParser.Describe(lastError)}: '{Encoding.UTF8.GetString(errorSample, 0, errorSampleLength)}'");

    /// <summary>
    /// Reads everything available now (until Read returns 0 or <see cref="MaxBytesPerPoll"/>),
    /// calling <paramref name="onSnapshot"/> for each completed aggregation and
    /// <paramref name="onOtherEvent"/> for each other decoded DAMON event. Returns the number of snapshots.
    /// </summary>
    public override int Poll(Action<RegionSnapshot> onSnapshot, TraceEventCallback? onOtherEvent = null)
    {
        ArgumentNullException.ThrowIfNull(onSnapshot);
        int snapshots = 0;
        long consumed = 0;
        while (consumed < MaxBytesPerPoll)
        {
            int n = pipe.Read(buffer.AsSpan(filled));
            if (n <= 0)
            {
                break;
            }

            consumed += n;
            BytesRead += n;
            snapshots += Consume(buffer.AsSpan(0, filled + n), onSnapshot, onOtherEvent);
        }

        return snapshots;
    }

    /// <summary>
    /// Parses a chunk as if read from the pipe (carrying a partial last line over);
    /// for callers that read the pipe themselves.
    /// </summary>
    public int Feed(ReadOnlySpan<byte> chunk, Action<RegionSnapshot> onSnapshot, TraceEventCallback? onOtherEvent = null)
    {
        ArgumentNullException.ThrowIfNull(onSnapshot);
        int snapshots = 0;
        while (!chunk.IsEmpty)
        {
            int n = Math.Min(chunk.Length, buffer.Length - filled);
            chunk[..n].CopyTo(buffer.AsSpan(filled));
            chunk = chunk[n..];
            BytesRead += n;
            snapshots += Consume(buffer.AsSpan(0, filled + n), onSnapshot, onOtherEvent);
        }

        return snapshots;
    }

    public override void Dispose()
    {
        if (ownsPipe)
        {
            pipe.Dispose();
        }
    }

    // Parses the complete lines of data, keeps the tail in the buffer's head.
    private int Consume(Span<byte> data, Action<RegionSnapshot> onSnapshot, TraceEventCallback? onOtherEvent)
    {
        int snapshots = 0;
        int pos = 0;
        while (true)
        {
            int nl = data[pos..].IndexOf((byte)'\n');
            if (nl < 0)
            {
                break;
            }

            ReadOnlySpan<byte> line = data.Slice(pos, nl);
            pos += nl + 1;
            if (discardingLongLine)
            {
                discardingLongLine = false;
                continue;
            }

            if (line.IsEmpty)
            {
                continue;
            }

            Lines++;
            TraceParseError err = TraceLineParser.Parse(line, SwappedIndices, ref ev);
            if (err != TraceParseError.None)
            {
                RecordError(err, line);
                continue;
            }

            switch (ev.Kind)
            {
                case TraceEventKind.DamonAggregated:
                    AggregatedEvents++;
                    RegionSnapshot? s = Assembler.Add(in ev);
                    if (s is not null)
                    {
                        snapshots++;
                        onSnapshot(s);
                    }

                    break;
                case TraceEventKind.Other:
                    OtherEvents++;
                    break;
                default:
                    _ = Assembler.Add(in ev);
                    onOtherEvent?.Invoke(in ev);
                    break;
            }
        }

        int rest = data.Length - pos;
        if (rest == buffer.Length)
        {
            // One line fills the whole buffer: count it as bad (once) and skip to its newline.
            if (!discardingLongLine)
            {
                Lines++;
                RecordError(TraceParseError.LineTooLong, data);
                discardingLongLine = true;
            }

            rest = 0;
        }
        else if (rest > 0 && pos > 0)
        {
            data[pos..].CopyTo(buffer);
        }

        filled = rest;
        return snapshots;
    }

    private void RecordError(TraceParseError err, ReadOnlySpan<byte> line)
    {
        ParseErrors++;
        lastError = err;
        lastErrorLine = Lines;
        errorSampleLength = Math.Min(line.Length, MaxErrorSample);
        line[..errorSampleLength].CopyTo(errorSample);
    }
}
