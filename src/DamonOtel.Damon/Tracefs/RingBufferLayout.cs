using System.Globalization;
using System.Runtime.InteropServices;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Damon.Tracefs;

/// <summary>Receives the data events of a ring-buffer page (payload valid only during the call).</summary>
public interface IRawEventSink
{
    void OnEvent(ulong timestampNs, ReadOnlySpan<byte> payload);
}

/// <summary>Outcome of parsing one trace_pipe_raw page.</summary>
public readonly record struct RawPageResult(int Events, bool MissedEvents, bool Corrupt, ulong LastTimestampNs);

/// <summary>
/// The ring-buffer page and event-header layout from <c>events/header_page</c> and
/// <c>events/header_event</c>, and a parser of trace_pipe_raw pages built on it.
/// Page: u64 timestamp, commit (bytes of data, with missed-events flags in bits 31/30),
/// then data. Event: 32-bit header (type_len:5, time_delta:27), then for type_len 0 a u32
/// length, for 1..max a payload of type_len × 4 bytes; padding / time-extend / absolute
/// time-stamp types come from header_event. Values are in the host's byte order (the
/// agent reads its own kernel's buffers).
/// </summary>
public sealed class RingBufferLayout
{
    private const ulong MissedEventsFlag = 1UL << 31;
    private const ulong CommitMask = (1UL << 27) - 1;
    private const int Alignment = 4; // RB_ALIGNMENT: typed payload lengths are type_len × 4

    public int TimestampOffset { get; private init; }

    public int CommitOffset { get; private init; }

    public int CommitSize { get; private init; }

    public int DataOffset { get; private init; }

    /// <summary>Capacity of a page's data area; DataOffset + DataSize is the page size.</summary>
    public int DataSize { get; private init; }

    public int PageSize => DataOffset + DataSize;

    public int TypeLenBits { get; private init; } = 5;

    public int PaddingType { get; private init; } = 29;

    public int TimeExtendType { get; private init; } = 30;

    public int TimeStampType { get; private init; } = 31;

    public int MaxDataTypeLen { get; private init; } = 28;

    /// <summary>Builds the layout from the two header files' text.</summary>
    /// <exception cref="KernelFormatException">A missing field or an unexpected value, naming the file.</exception>
    public static RingBufferLayout Parse(string headerPage, string headerEvent, string headerPageSource = "events/header_page", string headerEventSource = "events/header_event")
    {
        ArgumentNullException.ThrowIfNull(headerPage);
        ArgumentNullException.ThrowIfNull(headerEvent);
        IReadOnlyList<TraceFormatField> fields = TraceEventFormat.ParseFields(headerPage, headerPageSource);
        TraceFormatField Get(string n) => fields.FirstOrDefault(f => f.Name == n)
            ?? throw new KernelFormatException($"{headerPageSource}: no '{n}' field") { Path = headerPageSource };
        TraceFormatField ts = Get("timestamp");
        TraceFormatField commit = Get("commit");
        TraceFormatField data = Get("data");
        if (ts.Size != 8 || commit.Size is not (4 or 8) || data.Size <= 0)
        {
            throw new KernelFormatException($"{headerPageSource}: unexpected sizes (timestamp {ts.Size}, commit {commit.Size}, data {data.Size})") { Path = headerPageSource };
        }

        int typeLenBits = -1;
        int timeDeltaBits = -1;
        int padding = -1;
        int extend = -1;
        int stamp = -1;
        int maxLen = -1;
        foreach (string raw in headerEvent.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith('#') || line.Length == 0)
            {
                continue;
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            string key = colon < 0 ? line : line[..colon].Trim();
            string value = colon < 0 ? string.Empty : line[(colon + 1)..].Trim();
            if (key == "type_len")
            {
                typeLenBits = LeadingInt(value, headerEventSource, line);
            }
            else if (key == "time_delta")
            {
                timeDeltaBits = LeadingInt(value, headerEventSource, line);
            }
            else if (key is "padding" or "time_extend" or "time_stamp")
            {
                int v = AfterEquals(line, headerEventSource);
                if (key == "padding")
                {
                    padding = v;
                }
                else if (key == "time_extend")
                {
                    extend = v;
                }
                else
                {
                    stamp = v;
                }
            }
            else if (line.StartsWith("data max type_len", StringComparison.Ordinal))
            {
                maxLen = AfterEquals(line, headerEventSource);
            }
        }

        if (typeLenBits != 5 || timeDeltaBits != 27)
        {
            throw new KernelFormatException($"{headerEventSource}: expected type_len:5 and time_delta:27 bits, found {typeLenBits} and {timeDeltaBits}") { Path = headerEventSource };
        }

        if (padding < 0 || extend < 0 || stamp < 0 || maxLen < 0)
        {
            throw new KernelFormatException($"{headerEventSource}: missing padding/time_extend/time_stamp/data max type_len lines") { Path = headerEventSource };
        }

        return new RingBufferLayout
        {
            TimestampOffset = ts.Offset,
            CommitOffset = commit.Offset,
            CommitSize = commit.Size,
            DataOffset = data.Offset,
            DataSize = data.Size,
            TypeLenBits = typeLenBits,
            PaddingType = padding,
            TimeExtendType = extend,
            TimeStampType = stamp,
            MaxDataTypeLen = maxLen,
        };
    }

    /// <summary>Whether the page's commit word carries the missed-events flag (events were lost before it).</summary>
    public bool PageMissedEvents(ReadOnlySpan<byte> page) =>
        page.Length >= CommitOffset + CommitSize && (ReadCommit(page) & MissedEventsFlag) != 0;

    /// <summary>
    /// Walks one page and calls <paramref name="sink"/> for every data event with its
    /// absolute timestamp. A page whose commit or an event length points past the data is
    /// reported as corrupt (events before that point were delivered).
    /// </summary>
    public RawPageResult ParsePage<TSink>(ReadOnlySpan<byte> page, ref TSink sink)
        where TSink : IRawEventSink, allows ref struct
    {
        if (page.Length < Math.Max(DataOffset, Math.Max(TimestampOffset + 8, CommitOffset + CommitSize)))
        {
            return new RawPageResult(0, false, true, 0);
        }

        ulong ts = MemoryMarshal.Read<ulong>(page[TimestampOffset..]);
        ulong commit = ReadCommit(page);
        bool missed = (commit & MissedEventsFlag) != 0;
        int size = (int)(commit & CommitMask);
        if (size > DataSize || DataOffset + size > page.Length)
        {
            return new RawPageResult(0, missed, true, ts);
        }

        ReadOnlySpan<byte> data = page.Slice(DataOffset, size);
        int events = 0;
        int off = 0;
        uint typeMask = (1u << TypeLenBits) - 1;
        while (off + 4 <= data.Length)
        {
            uint header = MemoryMarshal.Read<uint>(data[off..]);
            int typeLen = (int)(header & typeMask);
            ulong delta = header >> TypeLenBits;
            if (typeLen == 0)
            {
                if (off + 8 > data.Length)
                {
                    return new RawPageResult(events, missed, true, ts);
                }

                // array[0] counts itself: payload = array[0] - 4 bytes.
                int len = (int)MemoryMarshal.Read<uint>(data[(off + 4)..]);
                int next = off + 4 + ((len + Alignment - 1) & ~(Alignment - 1));
                if (len < 4 || next > data.Length)
                {
                    return new RawPageResult(events, missed, true, ts);
                }

                ts += delta;
                sink.OnEvent(ts, data.Slice(off + 8, len - 4));
                events++;
                off = next;
            }
            else if (typeLen <= MaxDataTypeLen)
            {
                int next = off + 4 + (typeLen * Alignment);
                if (next > data.Length)
                {
                    return new RawPageResult(events, missed, true, ts);
                }

                ts += delta;
                sink.OnEvent(ts, data.Slice(off + 4, typeLen * Alignment));
                events++;
                off = next;
            }
            else if (typeLen == PaddingType)
            {
                // time_delta 0: the rest of the page is unused. Otherwise a discarded event
                // of array[0] bytes (its time_delta is a marker, not time).
                if (delta == 0 || off + 8 > data.Length)
                {
                    break;
                }

                off += 4 + (int)MemoryMarshal.Read<uint>(data[(off + 4)..]);
            }
            else if (typeLen == TimeExtendType || typeLen == TimeStampType)
            {
                if (off + 8 > data.Length)
                {
                    return new RawPageResult(events, missed, true, ts);
                }

                ulong ext = ((ulong)MemoryMarshal.Read<uint>(data[(off + 4)..]) << 27) | delta;
                ts = typeLen == TimeExtendType ? ts + ext : ext;
                off += 8;
            }
            else
            {
                return new RawPageResult(events, missed, true, ts);
            }
        }

        return new RawPageResult(events, missed, false, ts);
    }

    private ulong ReadCommit(ReadOnlySpan<byte> page) =>
        CommitSize == 8 ? MemoryMarshal.Read<ulong>(page[CommitOffset..]) : MemoryMarshal.Read<uint>(page[CommitOffset..]);

    private static int LeadingInt(string value, string source, string line)
    {
        int end = 0;
        while (end < value.Length && char.IsAsciiDigit(value[end]))
        {
            end++;
        }

        return end > 0 ? int.Parse(value.AsSpan(0, end), NumberStyles.None, CultureInfo.InvariantCulture)
            : throw new KernelFormatException($"{source}: bad line '{line}'") { Path = source };
    }

    private static int AfterEquals(string line, string source)
    {
        int eq = line.LastIndexOf("==", StringComparison.Ordinal);
        return eq >= 0 && int.TryParse(line.AsSpan(eq + 2).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int v)
            ? v
            : throw new KernelFormatException($"{source}: bad line '{line}'") { Path = source };
    }
}
