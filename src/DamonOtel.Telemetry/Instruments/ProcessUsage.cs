using System.Buffers.Text;

namespace DamonOtel.Telemetry.Instruments;

/// <summary>
/// The agent's own CPU time and resident memory, for <c>process.cpu.time</c> and
/// <c>process.memory.usage</c>: the agent's cost is part of what operators watch.
/// </summary>
public readonly record struct ProcessUsage(double UserSeconds, double SystemSeconds, long ResidentBytes)
{
    /// <summary>This process's user and system CPU seconds (getrusage), without reading its RSS.</summary>
    public static (double User, double System) CpuSeconds()
    {
        var cpu = Environment.CpuUsage;
        return (cpu.UserTime.TotalSeconds, cpu.PrivilegedTime.TotalSeconds);
    }

    /// <summary>
    /// RSS from the real /proc/self/statm (the agent itself, whatever procfs root it monitors);
    /// read into a stack buffer because Environment.WorkingSet builds a Process object through
    /// reflection on Linux. Falls back to it where statm cannot be read.
    /// </summary>
    public static long ReadResidentBytes()
    {
        try
        {
            using var handle = File.OpenHandle("/proc/self/statm");
            Span<byte> buffer = stackalloc byte[128];
            if (StatmResidentPages(buffer[..RandomAccess.Read(handle, buffer, 0)]) is { } pages)
            {
                return pages * Environment.SystemPageSize;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Environment.WorkingSet;
    }

    /// <summary>The second field of /proc/[pid]/statm ("size resident shared text lib data dt", in pages).</summary>
    internal static long? StatmResidentPages(ReadOnlySpan<byte> statm)
    {
        var space = statm.IndexOf((byte)' ');
        return space > 0 && Utf8Parser.TryParse(statm[(space + 1)..], out long pages, out _) ? pages : null;
    }
}
