namespace DamonOtel.Damon.IO;

/// <summary>
/// Where the kernel's pseudo-filesystems are mounted. Every path DamonOtel touches is built
/// from these (the node_exporter rule): containers mount the host's at /host/..., tests point
/// them at fixture trees or the Simulator.
/// </summary>
public sealed record KernelRoots(string Sysfs, string Tracefs, string Procfs)
{
    public static KernelRoots Default { get; } = new("/sys", "/sys/kernel/tracing", "/proc");

    /// <summary>Roots under one prefix, e.g. a fixture directory holding sys/, sys/kernel/tracing and proc/.</summary>
    public static KernelRoots Under(string prefix) =>
        new(Path.Combine(prefix, "sys"), Path.Combine(prefix, "sys", "kernel", "tracing"), Path.Combine(prefix, "proc"));

    /// <summary>/sys/kernel/mm/damon/admin</summary>
    public string DamonAdmin => Path.Combine(Sysfs, "kernel", "mm", "damon", "admin");

    /// <summary>/sys/kernel/mm/damon/admin/kdamonds</summary>
    public string Kdamonds => Path.Combine(DamonAdmin, "kdamonds");

    /// <summary>/sys/module/&lt;name&gt;/parameters</summary>
    public string ModuleParameters(string module) => Path.Combine(Sysfs, "module", module, "parameters");

    public string Proc(params string[] parts) => Path.Combine([Procfs, .. parts]);
}
