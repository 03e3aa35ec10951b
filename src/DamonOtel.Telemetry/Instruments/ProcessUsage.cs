namespace DamonOtel.Telemetry.Instruments;

/// <summary>
/// The agent's own CPU time and resident memory, for <c>process.cpu.time</c> and
/// <c>process.memory.usage</c>: the agent's cost is part of what operators watch.
/// </summary>
public readonly record struct ProcessUsage(double UserSeconds, double SystemSeconds, long ResidentBytes)
{
    /// <summary>This process now: getrusage-backed CPU times and the resident set size.</summary>
    public static ProcessUsage Current()
    {
        var cpu = Environment.CpuUsage;
        return new(cpu.UserTime.TotalSeconds, cpu.PrivilegedTime.TotalSeconds, Environment.WorkingSet);
    }
}
