using DamonOtel.Damon.IO;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Telemetry.Instruments;

/// <summary>
/// The agent's own CPU time and resident memory, for <c>process.cpu.time</c> and
/// <c>process.memory.usage</c>: the agent's cost is part of what operators watch.
/// </summary>
public readonly record struct ProcessUsage(double UserSeconds, double SystemSeconds, long ResidentBytes)
{
    // The real /proc, whatever procfs root the agent monitors: this is the agent itself.
    private static readonly ProcReader SelfProc = new(LinuxKernelFs.Instance, KernelRoots.Default);

    /// <summary>This process's user and system CPU seconds (getrusage), without reading its RSS.</summary>
    public static (double User, double System) CpuSeconds()
    {
        var cpu = Environment.CpuUsage;
        return (cpu.UserTime.TotalSeconds, cpu.PrivilegedTime.TotalSeconds);
    }

    /// <summary>
    /// RSS from /proc/self/statm (Environment.WorkingSet builds a Process object through
    /// reflection on Linux); falls back to it where statm cannot be read.
    /// </summary>
    public static long ReadResidentBytes()
    {
        try
        {
            if (SelfProc.ReadRssBytes(Environment.ProcessId) is { } bytes)
            {
                return (long)bytes;
            }
        }
        catch (IOException)
        {
        }
        catch (FormatException)
        {
        }

        return Environment.WorkingSet;
    }
}
