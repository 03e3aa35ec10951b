using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

// One file on purpose (over 500 lines): a single cohesive parser of one line format, whose
// field readers share the cursor conventions and overflow checks of this class.

namespace DamonOtel.Damon.Tracefs;

/// <summary>
/// Hand-written, allocation-free parser of trace_pipe text lines (UTF-8 bytes, no trailing
/// newline). Layout (docs/damon-tracepoints.md):
/// <c>&lt;comm&gt;-&lt;pid&gt; [(tgid)] [cpu] [flags] secs.usecs: event: body</c>.
/// </summary>
public static class TraceLineParser
{
    private const ulong MaxDiv10 = ulong.MaxValue / 10;
    private const ulong MaxMod10 = ulong.MaxValue % 10;

    /// <summary>
    /// Parses one line into <paramref name="ev"/>. <paramref name="swappedIndices"/> is true on
    /// kernels whose damos_before_apply prints scheme_idx and target_idx swapped (6.7–6.12
    /// without the fix): the values are then exchanged back.
    /// </summary>
    public static TraceParseError Parse(ReadOnlySpan<byte> line, bool swappedIndices, ref TraceEvent ev)
    {
        ev.Kind = TraceEventKind.None;
        int i = SkipSpaces(line, 0);
        if (i >= line.Length)
        {
            return TraceParseError.EmptyLine;
        }

        // The comm may hold '-', spaces or even brackets, so find the "[cpu]" column whose
        // prefix is a valid "comm-pid [(tgid)]" header: the first such candidate wins.
        int cpuOpen = -1;
        int cpuClose = -1;
        int pid = 0;
        int tgid = -1;
        TraceParseError headerError = TraceParseError.MissingCpuColumn;
        for (int b = NextIndexOf(line, (byte)'[', i); b >= 0; b = NextIndexOf(line, (byte)'[', b + 1))
        {
            if (b == 0 || line[b - 1] != (byte)' ')
            {
                continue;
            }

            int c = b + 1;
            while (c < line.Length && IsDigit(line[c]))
            {
                c++;
            }

            if (c == b + 1 || c >= line.Length || line[c] != (byte)']')
            {
                continue;
            }

            headerError = ParseTaskColumns(line, i, b, out pid, out tgid);
            if (headerError == TraceParseError.None)
            {
                cpuOpen = b;
                cpuClose = c;
                break;
            }
        }

        if (cpuOpen < 0)
        {
            return headerError;
        }

        ev.Pid = pid;
        ev.Tgid = tgid;
        if (!TryParseInt(line[(cpuOpen + 1)..cpuClose], out ev.Cpu))
        {
            return TraceParseError.NumberOutOfRange;
        }

        // Optional flags column (4 or 5 chars, e.g. "d..1." ), then "secs.usecs:".
        int p = SkipSpaces(line, cpuClose + 1);
        int tokEnd = TokenEnd(line, p);
        ReadOnlySpan<byte> tok = line[p..tokEnd];
        if (!IsTimestampToken(tok))
        {
            if (tok.Length is not (4 or 5))
            {
                return TraceParseError.BadFlagsColumn;
            }

            p = SkipSpaces(line, tokEnd);
            tokEnd = TokenEnd(line, p);
            tok = line[p..tokEnd];
            if (!IsTimestampToken(tok))
            {
                return TraceParseError.BadTimestamp;
            }
        }

        if (!TryParseTimestamp(tok[..^1], out ev.TimestampNs))
        {
            return TraceParseError.BadTimestamp;
        }

        // "event: body"; a "system:event: body" (perf style) is accepted too.
        p = SkipSpaces(line, tokEnd);
        int nameStart = p;
        int nameEnd;
        while (true)
        {
            int colon = NextIndexOf(line, (byte)':', p);
            if (colon < 0)
            {
                return TraceParseError.BadEventName;
            }

            if (colon + 1 < line.Length && line[colon + 1] != (byte)' ')
            {
                if (!IsWord(line[p..colon]))
                {
                    return TraceParseError.BadEventName;
                }

                nameStart = p = colon + 1;
                continue;
            }

            nameEnd = colon;
            break;
        }

        ReadOnlySpan<byte> name = line[nameStart..nameEnd];
        int bodyStart = nameEnd + 1;
        if (bodyStart < line.Length && line[bodyStart] == (byte)' ')
        {
            bodyStart++;
        }

        ReadOnlySpan<byte> body = line[bodyStart..];
        while (body.Length > 0 && (body[^1] == (byte)' ' || body[^1] == (byte)'\r'))
        {
            body = body[..^1];
        }

        if (name.SequenceEqual("damon_aggregated"u8))
        {
            return ParseAggregated(body, ref ev);
        }

        if (name.SequenceEqual("damon_region_aggregated"u8))
        {
            return ParseRegionAggregated(body, ref ev);
        }

        if (name.SequenceEqual("damos_before_apply"u8))
        {
            return ParseBeforeApply(body, swappedIndices, ref ev);
        }

        if (name.SequenceEqual("damon_monitor_intervals_tune"u8))
        {
            return ParseIntervalsTune(body, ref ev);
        }

        if (name.SequenceEqual("damos_esz"u8))
        {
            return ParseEsz(body, ref ev);
        }

        if (name.SequenceEqual("damos_stat_after_apply_interval"u8))
        {
            return ParseStatAfterApply(body, ref ev);
        }

        if (!IsWord(name))
        {
            return TraceParseError.BadEventName;
        }

        ev.Kind = TraceEventKind.Other;
        return TraceParseError.None;
    }

    /// <summary>A one-line description of an error, for logs.</summary>
    public static string Describe(TraceParseError error) => error switch
    {
        TraceParseError.None => "ok",
        TraceParseError.EmptyLine => "empty line",
        TraceParseError.MissingCpuColumn => "no '[cpu]' column after '<comm>-<pid>'",
        TraceParseError.BadTaskColumn => "bad '<comm>-<pid>' column",
        TraceParseError.BadTgidColumn => "bad '(tgid)' column",
        TraceParseError.BadFlagsColumn => "flags column is not 4 or 5 characters",
        TraceParseError.BadTimestamp => "bad 'secs.usecs:' timestamp",
        TraceParseError.BadEventName => "bad 'event:' name",
        TraceParseError.BadBody => "event body does not match the event's print format",
        TraceParseError.NumberOutOfRange => "number out of range",
        TraceParseError.LineTooLong => "line longer than the read buffer",
        _ => error.ToString(),
    };

    // target_id=%lu nr_regions=%u %lu-%lu: %u %u   (5.15/5.16: no trailing " %u" age)
    private static TraceParseError ParseAggregated(ReadOnlySpan<byte> s, ref TraceEvent ev)
    {
        int p = 0;
        if (!Key(s, ref p, "target_id="u8) || !ULong(s, ref p, out ev.TargetId)
            || !Lit(s, ref p, " nr_regions="u8) || !UInt(s, ref p, out ev.NrRegions)
            || !Lit(s, ref p, (byte)' ') || !ULong(s, ref p, out ev.Start)
            || !Lit(s, ref p, (byte)'-') || !ULong(s, ref p, out ev.End)
            || !Lit(s, ref p, ": "u8) || !UInt(s, ref p, out ev.NrAccesses))
        {
            return TraceParseError.BadBody;
        }

        if (p == s.Length)
        {
            ev.Age = 0;
            ev.HasAge = false;
        }
        else if (!Lit(s, ref p, (byte)' ') || !UInt(s, ref p, out ev.Age) || p != s.Length)
        {
            return TraceParseError.BadBody;
        }
        else
        {
            ev.HasAge = true;
        }

        ev.Kind = TraceEventKind.DamonAggregated;
        return TraceParseError.None;
    }

    // target_id=%lu nr_regions=%u %lu-%lu: %u %u probe_hits=%s, the hits printed by
    // __print_hex: two hex digits per probe, separated by spaces (nothing when no probe).
    private static TraceParseError ParseRegionAggregated(ReadOnlySpan<byte> s, ref TraceEvent ev)
    {
        int p = 0;
        if (!Key(s, ref p, "target_id="u8) || !ULong(s, ref p, out ev.TargetId)
            || !Lit(s, ref p, " nr_regions="u8) || !UInt(s, ref p, out ev.NrRegions)
            || !Lit(s, ref p, (byte)' ') || !ULong(s, ref p, out ev.Start)
            || !Lit(s, ref p, (byte)'-') || !ULong(s, ref p, out ev.End)
            || !Lit(s, ref p, ": "u8) || !UInt(s, ref p, out ev.NrAccesses)
            || !Lit(s, ref p, (byte)' ') || !UInt(s, ref p, out ev.Age)
            || !Lit(s, ref p, " probe_hits="u8))
        {
            return TraceParseError.BadBody;
        }

        ev.ProbeCount = 0;
        ev.ProbeHits = 0;
        while (p < s.Length)
        {
            if (ev.ProbeCount > 0 && !Lit(s, ref p, (byte)' '))
            {
                return TraceParseError.BadBody;
            }

            int hi = p + 1 < s.Length ? HexDigit(s[p]) : -1;
            int lo = hi >= 0 ? HexDigit(s[p + 1]) : -1;
            if (lo < 0)
            {
                return TraceParseError.BadBody;
            }

            if (ev.ProbeCount < 8)
            {
                ev.ProbeHits |= (ulong)((hi << 4) | lo) << (8 * ev.ProbeCount);
            }

            ev.ProbeCount++;
            p += 2;
        }

        ev.HasAge = true;
        ev.Kind = TraceEventKind.DamonRegionAggregated;
        return TraceParseError.None;
    }

    private static int HexDigit(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    // ctx_idx=%u scheme_idx=%u target_idx=%lu nr_regions=%u %lu-%lu: %u %u
    private static TraceParseError ParseBeforeApply(ReadOnlySpan<byte> s, bool swapped, ref TraceEvent ev)
    {
        int p = 0;
        if (!Key(s, ref p, "ctx_idx="u8) || !UInt(s, ref p, out ev.ContextIndex)
            || !Lit(s, ref p, " scheme_idx="u8) || !ULong(s, ref p, out ulong scheme)
            || !Lit(s, ref p, " target_idx="u8) || !ULong(s, ref p, out ulong target)
            || !Lit(s, ref p, " nr_regions="u8) || !UInt(s, ref p, out ev.NrRegions)
            || !Lit(s, ref p, (byte)' ') || !ULong(s, ref p, out ev.Start)
            || !Lit(s, ref p, (byte)'-') || !ULong(s, ref p, out ev.End)
            || !Lit(s, ref p, ": "u8) || !UInt(s, ref p, out ev.NrAccesses)
            || !Lit(s, ref p, (byte)' ') || !UInt(s, ref p, out ev.Age) || p != s.Length)
        {
            return TraceParseError.BadBody;
        }

        if (swapped)
        {
            (scheme, target) = (target, scheme);
        }

        if (scheme > uint.MaxValue)
        {
            return TraceParseError.NumberOutOfRange;
        }

        ev.SchemeIndex = (uint)scheme;
        ev.TargetId = target;
        ev.HasAge = true;
        ev.Kind = TraceEventKind.DamosBeforeApply;
        return TraceParseError.None;
    }

    // sample_us=%lu
    private static TraceParseError ParseIntervalsTune(ReadOnlySpan<byte> s, ref TraceEvent ev)
    {
        int p = 0;
        if (!Key(s, ref p, "sample_us="u8) || !ULong(s, ref p, out ev.SampleUs) || p != s.Length)
        {
            return TraceParseError.BadBody;
        }

        ev.Kind = TraceEventKind.MonitorIntervalsTune;
        return TraceParseError.None;
    }

    // ctx_idx=%u scheme_idx=%u esz=%lu
    private static TraceParseError ParseEsz(ReadOnlySpan<byte> s, ref TraceEvent ev)
    {
        int p = 0;
        if (!Key(s, ref p, "ctx_idx="u8) || !UInt(s, ref p, out ev.ContextIndex)
            || !Lit(s, ref p, " scheme_idx="u8) || !UInt(s, ref p, out ev.SchemeIndex)
            || !Lit(s, ref p, " esz="u8) || !ULong(s, ref p, out ev.EffectiveSizeBytes) || p != s.Length)
        {
            return TraceParseError.BadBody;
        }

        ev.Kind = TraceEventKind.DamosEsz;
        return TraceParseError.None;
    }

    // ctx_idx=%u scheme_idx=%u then seven "key=%lu" by position: 7.0.0 prints the sixth key
    // (sz_applied) as a second "sz_tried=", so keys after scheme_idx are not checked.
    private static TraceParseError ParseStatAfterApply(ReadOnlySpan<byte> s, ref TraceEvent ev)
    {
        int p = 0;
        if (!Key(s, ref p, "ctx_idx="u8) || !UInt(s, ref p, out ev.ContextIndex)
            || !Lit(s, ref p, " scheme_idx="u8) || !UInt(s, ref p, out ev.SchemeIndex)
            || !AnyKeyValue(s, ref p, out ev.Stats.NrTried)
            || !AnyKeyValue(s, ref p, out ev.Stats.SzTried)
            || !AnyKeyValue(s, ref p, out ev.Stats.NrApplied)
            || !AnyKeyValue(s, ref p, out ev.Stats.SzApplied)
            || !AnyKeyValue(s, ref p, out ev.Stats.SzOpsFilterPassed)
            || !AnyKeyValue(s, ref p, out ev.Stats.QtExceeds)
            || !AnyKeyValue(s, ref p, out ev.Stats.NrSnapshots)
            || p != s.Length)
        {
            return TraceParseError.BadBody;
        }

        ev.Kind = TraceEventKind.DamosStatAfterApplyInterval;
        return TraceParseError.None;
    }

    // " <word>=<digits>"
    private static bool AnyKeyValue(ReadOnlySpan<byte> s, ref int p, out ulong value)
    {
        value = 0;
        if (p >= s.Length || s[p] != (byte)' ')
        {
            return false;
        }

        int q = p + 1;
        while (q < s.Length && IsWordChar(s[q]))
        {
            q++;
        }

        if (q == p + 1 || q >= s.Length || s[q] != (byte)'=')
        {
            return false;
        }

        p = q + 1;
        return ULong(s, ref p, out value);
    }

    // Parses "<comm>-<pid>" with an optional "(tgid)" between it and the cpu column at b.
    private static TraceParseError ParseTaskColumns(ReadOnlySpan<byte> line, int start, int cpuOpen, out int pid, out int tgid)
    {
        pid = 0;
        tgid = -1;
        int e = cpuOpen;
        while (e > start && line[e - 1] == (byte)' ')
        {
            e--;
        }

        if (e > start && line[e - 1] == (byte)')')
        {
            int open = line[start..e].LastIndexOf((byte)'(');
            if (open < 0)
            {
                return TraceParseError.BadTgidColumn;
            }

            open += start;
            ReadOnlySpan<byte> t = line[(open + 1)..(e - 1)].Trim((byte)' ');
            if (t.Length > 0 && t.IndexOfAnyExcept((byte)'-') < 0)
            {
                tgid = -1;
            }
            else if (!TryParseInt(t, out tgid))
            {
                return TraceParseError.BadTgidColumn;
            }

            e = open;
            while (e > start && line[e - 1] == (byte)' ')
            {
                e--;
            }
        }

        // The pid is the digits after the last '-' of the task column.
        int d = e;
        while (d > start && IsDigit(line[d - 1]))
        {
            d--;
        }

        if (d == e || d - 1 <= start || line[d - 1] != (byte)'-')
        {
            return TraceParseError.BadTaskColumn;
        }

        if (!TryParseInt(line[d..e], out pid))
        {
            return TraceParseError.BadTaskColumn;
        }

        return TraceParseError.None;
    }

    private static bool IsTimestampToken(ReadOnlySpan<byte> tok) =>
        tok.Length >= 2 && tok[^1] == (byte)':' && IsDigit(tok[0]);

    // "secs.usecs" (any number of fraction digits up to 9) or a raw counter.
    private static bool TryParseTimestamp(ReadOnlySpan<byte> s, out ulong ns)
    {
        ns = 0;
        int p = 0;
        if (!ULong(s, ref p, out ulong secs))
        {
            return false;
        }

        if (p == s.Length)
        {
            ns = secs;
            return true;
        }

        if (s[p] != (byte)'.' || s.Length - p - 1 is 0 or > 9)
        {
            return false;
        }

        ulong f = 0;
        int digits = 0;
        for (p++; p < s.Length; p++)
        {
            uint d = (uint)(s[p] - '0');
            if (d > 9)
            {
                return false;
            }

            f = (f * 10) + d;
            digits++;
        }

        for (; digits < 9; digits++)
        {
            f *= 10;
        }

        // ulong nanoseconds hold up to 18446744073.709551615 s; only then is a check needed.
        if (secs >= 18_446_744_073UL && (secs > 18_446_744_073UL || f > 709_551_615UL))
        {
            return false;
        }

        ns = (secs * 1_000_000_000UL) + f;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Key(ReadOnlySpan<byte> s, ref int p, ReadOnlySpan<byte> lit) => Lit(s, ref p, lit);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Lit(ReadOnlySpan<byte> s, ref int p, ReadOnlySpan<byte> lit)
    {
        if (!s[p..].StartsWith(lit))
        {
            return false;
        }

        p += lit.Length;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Lit(ReadOnlySpan<byte> s, ref int p, byte c)
    {
        if (p >= s.Length || s[p] != c)
        {
            return false;
        }

        p++;
        return true;
    }

    private static bool ULong(ReadOnlySpan<byte> s, ref int p, out ulong value)
    {
        // Up to 19 digits cannot overflow; only a 20th needs the range check.
        ulong v = 0;
        int q = p;
        int limit = Math.Min(s.Length, p + 19);
        if (BitConverter.IsLittleEndian)
        {
            // Eight digits at a time (addresses have 10-15 digits).
            while (q + 8 <= limit)
            {
                ulong x = MemoryMarshal.Read<ulong>(s[q..]);
                if (!IsEightDigits(x))
                {
                    break;
                }

                v = (v * 100_000_000UL) + ParseEightDigits(x);
                q += 8;
            }
        }

        while (q < limit)
        {
            uint d = (uint)(s[q] - '0');
            if (d > 9)
            {
                break;
            }

            v = (v * 10) + d;
            q++;
        }

        if (q == p)
        {
            value = 0;
            return false;
        }

        if (q == p + 19 && q < s.Length && IsDigit(s[q]))
        {
            uint d = (uint)(s[q] - '0');
            if (v > MaxDiv10 || (v == MaxDiv10 && d > MaxMod10) || (q + 1 < s.Length && IsDigit(s[q + 1])))
            {
                value = 0;
                return false;
            }

            v = (v * 10) + d;
            q++;
        }

        value = v;
        p = q;
        return true;
    }

    // SWAR digit check and conversion of 8 ASCII bytes (first digit in the lowest byte).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsEightDigits(ulong x) =>
        ((x & 0xF0F0F0F0F0F0F0F0UL) | (((x + 0x0606060606060606UL) & 0xF0F0F0F0F0F0F0F0UL) >> 4)) == 0x3333333333333333UL;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ParseEightDigits(ulong x)
    {
        x = ((x & 0x0F0F0F0F0F0F0F0FUL) * 2561) >> 8;
        x = ((x & 0x00FF00FF00FF00FFUL) * 6553601) >> 16;
        return ((x & 0x0000FFFF0000FFFFUL) * 42949672960001UL) >> 32;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool UInt(ReadOnlySpan<byte> s, ref int p, out uint value)
    {
        if (!ULong(s, ref p, out ulong v) || v > uint.MaxValue)
        {
            value = 0;
            return false;
        }

        value = (uint)v;
        return true;
    }

    private static bool TryParseInt(ReadOnlySpan<byte> s, out int value)
    {
        int p = 0;
        if (!ULong(s, ref p, out ulong v) || p != s.Length || v > int.MaxValue)
        {
            value = 0;
            return false;
        }

        value = (int)v;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SkipSpaces(ReadOnlySpan<byte> s, int p)
    {
        while (p < s.Length && s[p] == (byte)' ')
        {
            p++;
        }

        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TokenEnd(ReadOnlySpan<byte> s, int p)
    {
        while (p < s.Length && s[p] != (byte)' ')
        {
            p++;
        }

        return p;
    }

    private static int NextIndexOf(ReadOnlySpan<byte> s, byte c, int from)
    {
        if (from >= s.Length)
        {
            return -1;
        }

        int k = s[from..].IndexOf(c);
        return k < 0 ? -1 : k + from;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsDigit(byte c) => (uint)(c - '0') <= 9;

    private static bool IsWord(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty)
        {
            return false;
        }

        foreach (byte c in s)
        {
            if (!IsWordChar(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsWordChar(byte c) => IsDigit(c) || (uint)((c | 0x20) - 'a') <= 25 || c == (byte)'_';
}
