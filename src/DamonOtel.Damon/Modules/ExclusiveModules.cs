using System.Globalization;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Damon.Modules;

/// <summary>One special-purpose DAMON module as its `enabled` and `kdamond_pid` parameters show it.</summary>
/// <param name="Name">The module's name under /sys/module (damon_stat, damon_reclaim, damon_lru_sort).</param>
/// <param name="Enabled">`enabled` reads Y.</param>
/// <param name="KdamondPid">`kdamond_pid` (-1 when off); null when the kernel has no such parameter
/// (damon_stat before 7.2).</param>
public sealed record ExclusiveModuleState(string Name, bool Enabled, int? KdamondPid)
{
    /// <summary>The module's name as the kernel documentation spells it (DAMON_STAT, ...).</summary>
    public string DisplayName => ExclusiveModules.DisplayName(Name);
}

/// <summary>
/// DAMON_STAT, DAMON_RECLAIM and DAMON_LRU_SORT start their kdamond with an *exclusive*
/// context: while one of them runs, the kernel answers EBUSY to every `on` written to a sysfs
/// kdamond (and to enabling another of them). Their `enabled` parameter tells whether they
/// run; writing N stops the module's kdamond before the write returns, writing Y starts a new
/// one (EBUSY while any sysfs kdamond runs). docs/kernel-7x.md has the measured behaviour.
/// Reads never write; only <see cref="SetEnabled"/> does.
/// </summary>
public sealed class ExclusiveModules(IKernelFs fs, KernelRoots roots)
{
    public const string DamonStat = "damon_stat";
    public const string DamonReclaim = "damon_reclaim";
    public const string DamonLruSort = "damon_lru_sort";

    private readonly IKernelFs fs = fs ?? throw new ArgumentNullException(nameof(fs));
    private readonly KernelRoots roots = roots ?? throw new ArgumentNullException(nameof(roots));

    /// <summary>Every module that starts an exclusive context, in the order they are checked.</summary>
    public static IReadOnlyList<string> Names { get; } = [DamonStat, DamonReclaim, DamonLruSort];

    public static bool IsKnown(string name) => Names.Contains(name, StringComparer.Ordinal);

    /// <summary>DAMON_STAT for damon_stat, and so on.</summary>
    public static string DisplayName(string name) => name.ToUpperInvariant();

    public string EnabledPath(string module) => Path.Combine(roots.ModuleParameters(module), "enabled");

    /// <summary>The module's state, or null when it is not built into this kernel.</summary>
    public ExclusiveModuleState? Read(string module)
    {
        string enabledPath = EnabledPath(module);
        string text;
        try
        {
            text = fs.ReadText(enabledPath);
        }
        catch (KernelIoException e) when (e.IsNotFound)
        {
            return null;
        }

        bool enabled = SysfsParsers.ParseBool(text, enabledPath);
        string pidPath = Path.Combine(roots.ModuleParameters(module), "kdamond_pid");
        int? pid;
        try
        {
            pid = SysfsParsers.ParseInt32(fs.ReadText(pidPath), pidPath);
        }
        catch (KernelIoException e) when (e.IsNotFound)
        {
            pid = null;
        }

        return new ExclusiveModuleState(module, enabled, pid);
    }

    /// <summary>The modules built into this kernel that run now.</summary>
    public IReadOnlyList<ExclusiveModuleState> Running()
    {
        var running = new List<ExclusiveModuleState>();
        foreach (string name in Names)
        {
            if (Read(name) is { Enabled: true } m)
            {
                running.Add(m);
            }
        }

        return running;
    }

    /// <summary>
    /// Writes Y or N to the module's `enabled`. The kernel answers EBUSY to Y while another
    /// exclusive context or any sysfs kdamond runs; the caller reads the state back.
    /// </summary>
    public void SetEnabled(string module, bool enabled)
    {
        if (!IsKnown(module))
        {
            throw new ArgumentException($"'{module}' is not one of {string.Join(", ", Names)}", nameof(module));
        }

        fs.WriteText(EnabledPath(module), enabled ? "Y" : "N");
    }

    /// <summary>"DAMON_STAT (kdamond pid 67)", for messages.</summary>
    public static string Describe(ExclusiveModuleState m) =>
        m.KdamondPid is int pid && pid > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{m.DisplayName} (kdamond pid {pid})")
            : m.DisplayName;
}
