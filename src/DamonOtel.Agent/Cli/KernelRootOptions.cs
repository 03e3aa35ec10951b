using System.CommandLine;
using DamonOtel.Damon.IO;

namespace DamonOtel.Agent.Cli;

/// <summary>
/// --path.sysfs, --path.tracefs and --path.procfs (node_exporter's names; the earlier
/// --sysfs-root, --tracefs-root and --procfs-root stay as aliases), shared by the commands that read the kernel.
/// </summary>
internal static class KernelRootOptions
{
    public static readonly Option<string?> Sysfs = new("--path.sysfs", "--sysfs-root") { Description = "Where sysfs is mounted (default /sys; containers: /host/sys)" };
    public static readonly Option<string?> Tracefs = new("--path.tracefs", "--tracefs-root") { Description = "Where tracefs is mounted (default /sys/kernel/tracing)" };
    public static readonly Option<string?> Procfs = new("--path.procfs", "--procfs-root") { Description = "Where procfs is mounted (default /proc)" };

    /// <summary>The roots given on the command line; --path.sysfs alone also moves tracefs below it.</summary>
    public static KernelRoots Resolve(ParseResult parse, KernelRoots fallback) => new(
        parse.GetValue(Sysfs) ?? fallback.Sysfs,
        parse.GetValue(Tracefs) ?? (parse.GetValue(Sysfs) is string s && fallback == KernelRoots.Default ? Path.Combine(s, "kernel", "tracing") : fallback.Tracefs),
        parse.GetValue(Procfs) ?? fallback.Procfs);
}
