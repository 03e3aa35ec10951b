using System.Buffers.Text;
using System.Globalization;
using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Sysfs;

/// <summary>A kernel file held something that is not what its ABI promises.</summary>
public sealed class KernelFormatException : FormatException
{
    public KernelFormatException(string path, string expected, string actual)
        : base($"{path}: expected {expected}, got \"{Shorten(actual)}\"")
    {
        Path = path;
    }

    public KernelFormatException()
        : this(string.Empty, "a value", string.Empty)
    {
    }

    public KernelFormatException(string message)
        : base(message)
    {
        Path = string.Empty;
    }

    public KernelFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Path = string.Empty;
    }

    /// <summary>The file (or trace source) that held the value.</summary>
    public string Path { get; init; }

    private static string Shorten(string s)
    {
        string escaped = s.Replace("\n", "\\n", StringComparison.Ordinal);
        return escaped.Length <= 80 ? escaped : string.Concat(escaped.AsSpan(0, 77), "...");
    }
}

/// <summary>utime and stime of one process from /proc/&lt;pid&gt;/stat.</summary>
public readonly record struct ProcCpuTicks(string Comm, ulong UtimeTicks, ulong StimeTicks)
{
    /// <summary>USER_HZ: the unit of /proc stat times on every Linux ABI (sysconf(_SC_CLK_TCK)).</summary>
    public const int UserHz = 100;

    public double CpuSeconds => (UtimeTicks + StimeTicks) / (double)UserHz;
}

/// <summary>
/// Pure string → value parsers for sysfs/procfs file contents. Every failure throws
/// <see cref="KernelFormatException"/> naming the file, so a bad kernel value (or a broken
/// fixture) is diagnosable from the message alone.
/// </summary>
public static class SysfsParsers
{
    /// <summary>An unsigned decimal as printed by the kernel's %lu/%u: digits only, trailing newline allowed.</summary>
    public static ulong ParseUnsigned(string text, string path)
    {
        ReadOnlySpan<char> s = TrimEnd(text);
        // NumberStyles.None: no sign, no whitespace, no hex; what the kernel prints and nothing else.
        if (s.Length == 0 || !ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v))
        {
            throw new KernelFormatException(path, "an unsigned decimal number", text);
        }

        return v;
    }

    /// <summary>A signed decimal (%d/%ld), e.g. pid (-1 when not running) or target_nid.</summary>
    public static long ParseSigned(string text, string path)
    {
        ReadOnlySpan<char> s = TrimEnd(text);
        if (s.Length == 0 || s[0] == '+' || !long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
        {
            throw new KernelFormatException(path, "a signed decimal number", text);
        }

        return v;
    }

    /// <summary>A signed decimal that must fit an int.</summary>
    public static int ParseInt32(string text, string path)
    {
        long v = ParseSigned(text, path);
        if (v is < int.MinValue or > int.MaxValue)
        {
            throw new KernelFormatException(path, "a 32-bit signed number", text);
        }

        return (int)v;
    }

    /// <summary>An unsigned decimal that must fit a uint.</summary>
    public static uint ParseUInt32(string text, string path)
    {
        ulong v = ParseUnsigned(text, path);
        if (v > uint.MaxValue)
        {
            throw new KernelFormatException(path, "a 32-bit unsigned number", text);
        }

        return (uint)v;
    }

    /// <summary>A kernel bool: the kernel prints Y/N; 1/0 are accepted as it accepts them on input.</summary>
    public static bool ParseBool(string text, string path) => TrimEnd(text) switch
    {
        "Y" or "y" or "1" => true,
        "N" or "n" or "0" => false,
        _ => throw new KernelFormatException(path, "Y or N", text),
    };

    /// <summary>One keyword (operations, action, state, metric...): a single non-empty token.</summary>
    public static string ParseKeyword(string text, string path)
    {
        ReadOnlySpan<char> s = TrimEnd(text);
        if (s.Length == 0 || s.ContainsAny(" \t\n\r"))
        {
            throw new KernelFormatException(path, "one keyword", text);
        }

        return s.ToString();
    }

    /// <summary>A string file such as memcg_path: the text minus its one trailing newline (may be empty).</summary>
    public static string ParseLine(string text) => text.EndsWith('\n') ? text[..^1] : text;

    /// <summary>avail_operations: one keyword per line.</summary>
    public static IReadOnlyList<string> ParseKeywordLines(string text, string path)
    {
        var result = new List<string>();
        foreach (string line in text.Split('\n'))
        {
            string t = line.Trim();
            if (t.Length == 0)
            {
                continue;
            }

            if (t.Contains(' ', StringComparison.Ordinal) || t.Contains('\t', StringComparison.Ordinal))
            {
                throw new KernelFormatException(path, "one keyword per line", text);
            }

            result.Add(t);
        }

        return result;
    }

    /// <summary>A module array parameter such as damon_stat's memory_idle_ms_percentiles: comma-separated signed longs.</summary>
    public static long[] ParseSignedList(string text, string path)
    {
        ReadOnlySpan<char> s = TrimEnd(text);
        if (s.Length == 0)
        {
            return [];
        }

        int count = s.Count(',') + 1;
        long[] values = new long[count];
        int i = 0;
        foreach (Range r in s.Split(','))
        {
            ReadOnlySpan<char> item = s[r];
            if (item.Length == 0 || item[0] == '+' || !long.TryParse(item, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out values[i]))
            {
                throw new KernelFormatException(path, $"comma-separated signed numbers (item {i})", text);
            }

            i++;
        }

        return values;
    }

    /// <summary>
    /// /proc/&lt;pid&gt;/stat: comm is in parentheses and may itself contain spaces and ')', so
    /// fields are counted from the LAST ')'. utime and stime are fields 14 and 15 (1-based).
    /// </summary>
    public static ProcCpuTicks ParseProcStat(string text, string path)
    {
        int open = text.IndexOf('(', StringComparison.Ordinal);
        int close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            throw new KernelFormatException(path, "\"pid (comm) state ...\"", text);
        }

        string comm = text[(open + 1)..close];
        ReadOnlySpan<char> rest = text.AsSpan(close + 1);
        // After ')': field 3 (state) is the first token, so utime (14) is token 11 and stime (15) token 12.
        Span<Range> tokens = stackalloc Range[14];
        int n = rest.Split(tokens, ' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (n < 13
            || !ulong.TryParse(rest[tokens[11]], NumberStyles.None, CultureInfo.InvariantCulture, out ulong utime)
            || !ulong.TryParse(rest[tokens[12]], NumberStyles.None, CultureInfo.InvariantCulture, out ulong stime))
        {
            throw new KernelFormatException(path, "utime and stime as fields 14 and 15", text);
        }

        return new ProcCpuTicks(comm, utime, stime);
    }

    /// <summary>/proc/&lt;pid&gt;/statm: resident set size in pages (second field).</summary>
    public static ulong ParseStatmResidentPages(string text, string path)
    {
        ReadOnlySpan<char> s = TrimEnd(text);
        Span<Range> tokens = stackalloc Range[3];
        int n = s.Split(tokens, ' ', StringSplitOptions.RemoveEmptyEntries);
        if (n < 2 || !ulong.TryParse(s[tokens[1]], NumberStyles.None, CultureInfo.InvariantCulture, out ulong resident))
        {
            throw new KernelFormatException(path, "\"size resident shared text lib data dt\" in pages", text);
        }

        return resident;
    }

    /// <summary>
    /// Top-level "System RAM" ranges of /proc/iomem, sorted by start, as half-open ranges
    /// (iomem prints inclusive ends, hence +1). Indented (nested) lines are ignored. Lines
    /// reading 00000000-00000000 (what non-root readers see) are skipped.
    /// </summary>
    public static IReadOnlyList<AddressRange> ParseIomemSystemRam(string text, string path)
    {
        var ranges = new List<AddressRange>();
        int lineNo = 0;
        foreach (string line in text.Split('\n'))
        {
            lineNo++;
            if (line.Length == 0 || char.IsWhiteSpace(line[0]))
            {
                continue;
            }

            int colon = line.IndexOf(" : ", StringComparison.Ordinal);
            if (colon < 0)
            {
                throw new KernelFormatException(path, $"\"start-end : name\" on line {lineNo}", line);
            }

            if (!line.AsSpan(colon + 3).TrimEnd().SequenceEqual("System RAM"))
            {
                continue;
            }

            ReadOnlySpan<char> span = line.AsSpan(0, colon).Trim();
            int dash = span.IndexOf('-');
            if (dash <= 0
                || !ulong.TryParse(span[..dash], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong start)
                || !ulong.TryParse(span[(dash + 1)..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong lastByte)
                || lastByte < start)
            {
                throw new KernelFormatException(path, $"a hex range \"start-end\" on line {lineNo}", line);
            }

            if (start == 0 && lastByte == 0)
            {
                continue;
            }

            ranges.Add(new AddressRange(start, lastByte == ulong.MaxValue ? ulong.MaxValue : lastByte + 1));
        }

        ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
        return ranges;
    }

    /// <summary>[first start, last end) of sorted ranges: what DAMON_STAT/damo call "all System RAM".</summary>
    public static AddressRange? WholeSpan(IReadOnlyList<AddressRange> ranges)
    {
        if (ranges.Count == 0)
        {
            return null;
        }

        ulong start = ulong.MaxValue;
        ulong end = 0;
        foreach (AddressRange r in ranges)
        {
            start = Math.Min(start, r.Start);
            end = Math.Max(end, r.End);
        }

        return new AddressRange(start, end);
    }

    /// <summary>The biggest single block (the default paddr target of damo and DAMON_RECLAIM); first wins ties.</summary>
    public static AddressRange? LargestBlock(IReadOnlyList<AddressRange> ranges)
    {
        AddressRange? best = null;
        foreach (AddressRange r in ranges)
        {
            if (best is null || r.Size > best.Value.Size)
            {
                best = r;
            }
        }

        return best;
    }

    /// <summary>Allocation-free unsigned parse of a small file's bytes (hot path); false on garbage.</summary>
    public static bool TryParseUnsigned(ReadOnlySpan<byte> utf8, out ulong value)
    {
        utf8 = TrimEnd(utf8);
        // Utf8Parser accepts no sign and no whitespace for ulong; require it to consume everything.
        if (utf8.Length == 0 || (uint)(utf8[0] - '0') > 9)
        {
            value = 0;
            return false;
        }

        return Utf8Parser.TryParse(utf8, out value, out int consumed) && consumed == utf8.Length;
    }

    private static ReadOnlySpan<char> TrimEnd(string text) => text.AsSpan().TrimEnd(" \t\r\n\0");

    private static ReadOnlySpan<byte> TrimEnd(ReadOnlySpan<byte> s)
    {
        int n = s.Length;
        while (n > 0 && s[n - 1] is (byte)'\n' or (byte)' ' or (byte)'\r' or (byte)'\t' or 0)
        {
            n--;
        }

        return s[..n];
    }
}
