using System.Globalization;
using System.Text;

namespace DamonOtel.Analysis.Reports;

/// <summary>
/// damo's human-readable number formats (facts from damo's _damo_fmt_str: format_sz, format_time_ns,
/// format_nr), so our text reports read like `damo report access`. Doubles are formatted with
/// "F3", which, like Python's '%.3f', rounds the exact binary value.
/// </summary>
public static class HumanFormat
{
    private const long NsPerUs = 1_000;
    private const long NsPerMs = 1_000_000;
    private const long NsPerSec = 1_000_000_000;
    private const long NsPerMin = 60 * NsPerSec;
    private const long NsPerHour = 60 * NsPerMin;

    /// <summary>Bytes as damo prints them: "59.868 GiB", "1024.000 MiB" (exactly 1 GiB: damo's strict &gt;), "512 B".</summary>
    public static string Size(double bytes)
    {
        var ci = CultureInfo.InvariantCulture;
        if (bytes > Math.Pow(2, 60))
        {
            return (bytes / Math.Pow(2, 60)).ToString("F3", ci) + " EiB";
        }

        if (bytes > Math.Pow(2, 50))
        {
            return (bytes / Math.Pow(2, 50)).ToString("F3", ci) + " PiB";
        }

        if (bytes > 1UL << 40)
        {
            return (bytes / (1UL << 40)).ToString("F3", ci) + " TiB";
        }

        if (bytes > 1 << 30)
        {
            return (bytes / (1 << 30)).ToString("F3", ci) + " GiB";
        }

        if (bytes > 1 << 20)
        {
            return (bytes / (1 << 20)).ToString("F3", ci) + " MiB";
        }

        if (bytes > 1 << 10)
        {
            return (bytes / (1 << 10)).ToString("F3", ci) + " KiB";
        }

        // Python's '%d' truncates toward zero.
        return Math.Truncate(bytes).ToString("F0", ci) + " B";
    }

    /// <summary>Microseconds as damo's format_time_us: "1 h 35 m 15.800 s", "5.300 s", "100 ms", "0 ns", "-300 ms".</summary>
    public static string TimeUs(long us)
    {
        if (us == long.MinValue)
        {
            return "-max";
        }

        var sign = us < 0 ? "-" : string.Empty;
        var abs = Math.Abs(us);
        if (abs >= long.MaxValue / NsPerUs)
        {
            return sign + "max";
        }

        return sign + TimeNs(abs * NsPerUs);
    }

    private static string TimeNs(long ns)
    {
        var ci = CultureInfo.InvariantCulture;
        if (ns >= NsPerHour)
        {
            var hours = ns / NsPerHour;
            var rest = ns - (hours * NsPerHour);
            var h = hours.ToString(ci) + " h";
            return rest == 0 ? h : h + " " + TimeNs(rest);
        }

        if (ns >= NsPerMin)
        {
            var minutes = (ns / NsPerMin).ToString(ci);
            if (ns % NsPerMin == 0)
            {
                return minutes + " m";
            }

            if (ns % NsPerSec == 0)
            {
                return minutes + " m " + (ns % NsPerMin / NsPerSec).ToString(ci) + " s";
            }

            return minutes + " m " + ((double)(ns % NsPerMin) / NsPerSec).ToString("F3", ci) + " s";
        }

        return Unit(ns, NsPerSec, "s") ?? Unit(ns, NsPerMs, "ms") ?? Unit(ns, NsPerUs, "us") ?? ns.ToString(ci) + " ns";
    }

    private static string? Unit(long ns, long unit, string name)
    {
        if (ns < unit)
        {
            return null;
        }

        var ci = CultureInfo.InvariantCulture;
        return ns % unit == 0
            ? (ns / unit).ToString(ci) + " " + name
            : ((double)ns / unit).ToString("F3", ci) + " " + name;
    }

    /// <summary>An integer with comma thousands separators, damo's format_nr: "-664,810,000,000". Doubles are truncated like Python's '%d'.</summary>
    public static string Number(double value)
    {
        var t = Math.Truncate(value);
        if (t == 0)
        {
            return "0";
        }

        return t.ToString("#,0", CultureInfo.InvariantCulture);
    }

    /// <summary>A percentile label: "50", "99.9".</summary>
    public static string Percentile(double p) => p.ToString(CultureInfo.InvariantCulture);

    internal static void AppendLine(StringBuilder sb, string line) => sb.Append(line).Append('\n');
}
