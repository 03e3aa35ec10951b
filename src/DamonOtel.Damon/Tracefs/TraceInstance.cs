using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Damon.Tracefs;

/// <summary>What a <see cref="TraceInstance"/> enables besides damon_aggregated.</summary>
public sealed record TraceInstanceOptions
{
    /// <summary>damon_monitor_intervals_tune (6.17), when the kernel has it.</summary>
    public bool IntervalsTune { get; init; } = true;

    /// <summary>damos_before_apply (6.7), when the kernel has it. One line per region acted on: off by default.</summary>
    public bool BeforeApply { get; init; }

    /// <summary>damos_esz (6.17), when the kernel has it.</summary>
    public bool Esz { get; init; }

    /// <summary>damos_stat_after_apply_interval (7.0), when the kernel has it.</summary>
    public bool StatAfterApplyInterval { get; init; }

    /// <summary>Per-CPU ring buffer size to set (buffer_size_kb); null leaves the kernel's default.</summary>
    public uint? BufferSizeKb { get; init; }
}

/// <summary>
/// A private tracefs instance (<c>&lt;tracefs&gt;/instances/&lt;name&gt;</c>) with the DAMON
/// events enabled, so DamonOtel neither sees nor disturbs other tracers. Dispose disables the
/// events and removes the instance (rmdir fails with EBUSY while its trace_pipe is open:
/// dispose readers first).
/// </summary>
public sealed class TraceInstance : IDisposable
{
    public const string Aggregated = "damon_aggregated";
    public const string BeforeApply = "damos_before_apply";
    public const string IntervalsTune = "damon_monitor_intervals_tune";
    public const string Esz = "damos_esz";
    public const string StatAfterApplyInterval = "damos_stat_after_apply_interval";

    private readonly IKernelFs fs;
    private readonly List<string> enabled = [];
    private bool disposed;

    private TraceInstance(IKernelFs fs, string name, string path, bool reused)
    {
        this.fs = fs;
        Name = name;
        InstancePath = path;
        Reused = reused;
    }

    public string Name { get; }

    /// <summary>&lt;tracefs&gt;/instances/&lt;name&gt;</summary>
    public string InstancePath { get; }

    /// <summary>True when the directory already existed (left over by a crashed run) and was reused.</summary>
    public bool Reused { get; }

    /// <summary>The events this instance enabled (damon_aggregated first).</summary>
    public IReadOnlyList<string> EnabledEvents => enabled;

    public string TracePipePath => Path.Combine(InstancePath, "trace_pipe");

    public string HeaderPagePath => Path.Combine(InstancePath, "events", "header_page");

    public string HeaderEventPath => Path.Combine(InstancePath, "events", "header_event");

    /// <summary>The last error met while disposing (disable or rmdir), if any.</summary>
    public KernelIoException? CleanupError { get; private set; }

    /// <summary>
    /// Creates (or reuses) the instance and enables damon_aggregated plus the optional events
    /// the kernel has. Throws <see cref="KernelIoException"/> when tracefs or the damon events
    /// are missing; the instance is removed again in that case (unless it was reused).
    /// </summary>
    public static TraceInstance Create(IKernelFs fs, KernelRoots roots, string name, TraceInstanceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(roots);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException($"tracefs instance name '{name}' must be a single path component", nameof(name));
        }

        options ??= new TraceInstanceOptions();
        string path = InstanceDirectory(roots, name);
        bool reused = false;
        try
        {
            fs.CreateDirectory(path);
        }
        catch (KernelIoException e) when (e.Errno == Errno.EEXIST)
        {
            reused = true;
        }

        var instance = new TraceInstance(fs, name, path, reused);
        try
        {
            if (options.BufferSizeKb is uint kb)
            {
                fs.WriteText(Path.Combine(path, "buffer_size_kb"), kb.ToString(CultureInfo.InvariantCulture));
            }

            instance.Enable(Aggregated, required: true);
            if (options.IntervalsTune)
            {
                instance.Enable(IntervalsTune, required: false);
            }

            if (options.BeforeApply)
            {
                instance.Enable(BeforeApply, required: false);
            }

            if (options.Esz)
            {
                instance.Enable(Esz, required: false);
            }

            if (options.StatAfterApplyInterval)
            {
                instance.Enable(StatAfterApplyInterval, required: false);
            }
        }
        catch
        {
            instance.Dispose();
            throw;
        }

        return instance;
    }

    /// <summary>
    /// Removes instances named <paramref name="prefix"/>* (ours, left by crashed runs), except
    /// <paramref name="keep"/>. Returns the names removed; ones that cannot be removed (EBUSY:
    /// still read by a live process) are skipped.
    /// </summary>
    public static IReadOnlyList<string> RemoveStale(IKernelFs fs, KernelRoots roots, string prefix, string? keep = null)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(roots);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        string instances = Path.Combine(roots.Tracefs, "instances");
        var removed = new List<string>();
        IReadOnlyList<string> names;
        try
        {
            names = fs.ListDirectory(instances);
        }
        catch (KernelIoException e) when (e.IsNotFound)
        {
            return removed;
        }

        foreach (string name in names)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal) || name == keep)
            {
                continue;
            }

            var stale = new TraceInstance(fs, name, Path.Combine(instances, name), reused: true);
            stale.enabled.AddRange([Aggregated, IntervalsTune, BeforeApply, Esz, StatAfterApplyInterval]);
            stale.Dispose();
            if (stale.CleanupError is null || stale.CleanupError.Errno == Errno.ENOENT)
            {
                removed.Add(name);
            }
        }

        return removed;
    }

    /// <summary>&lt;tracefs&gt;/instances/&lt;name&gt;</summary>
    public static string InstanceDirectory(KernelRoots roots, string name)
    {
        ArgumentNullException.ThrowIfNull(roots);
        return Path.Combine(roots.Tracefs, "instances", name);
    }

    /// <summary>events/damon/&lt;event&gt;/format of this instance (the binary layout).</summary>
    public string FormatPath(string eventName) => Path.Combine(EventDirectory(eventName), "format");

    /// <summary>per_cpu/cpu&lt;N&gt;/trace_pipe_raw of this instance.</summary>
    public string RawPipePath(int cpu) => Path.Combine(InstancePath, "per_cpu", "cpu" + cpu.ToString(CultureInfo.InvariantCulture), "trace_pipe_raw");

    /// <summary>Whether this kernel has the event (its directory exists in the instance).</summary>
    public bool HasEvent(string eventName) => fs.DirectoryExists(EventDirectory(eventName));

    /// <summary>Reads events/header_page and events/header_event (for trace_pipe_raw pages).</summary>
    /// <exception cref="FormatException">The files do not have the expected shape.</exception>
    public RingBufferLayout ReadRingBufferLayout() =>
        RingBufferLayout.Parse(fs.ReadText(HeaderPagePath), fs.ReadText(HeaderEventPath), HeaderPagePath, HeaderEventPath);

    /// <summary>Reads the damon_aggregated (and, when present, damon_monitor_intervals_tune) format files.</summary>
    /// <exception cref="FormatException">A format file lacks a needed field.</exception>
    public DamonRawDecoder ReadRawDecoder()
    {
        string aggregatedPath = FormatPath(Aggregated);
        TraceEventFormat aggregated = TraceEventFormat.Parse(fs.ReadText(aggregatedPath), aggregatedPath);
        string tunePath = FormatPath(IntervalsTune);
        TraceEventFormat? tune = fs.FileExists(tunePath) ? TraceEventFormat.Parse(fs.ReadText(tunePath), tunePath) : null;
        return new DamonRawDecoder(aggregated, tune, Path.Combine(InstancePath, "events", "damon"));
    }

    /// <summary>Opens the instance's trace_pipe (non-blocking; reading consumes events).</summary>
    public Stream OpenTracePipe() => fs.OpenPipe(TracePipePath);

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        for (int i = enabled.Count - 1; i >= 0; i--)
        {
            string enable = Path.Combine(EventDirectory(enabled[i]), "enable");
            try
            {
                if (fs.FileExists(enable))
                {
                    fs.WriteText(enable, "0");
                }
            }
            catch (KernelIoException e)
            {
                CleanupError = e;
            }
        }

        try
        {
            fs.RemoveDirectory(InstancePath);
        }
        catch (KernelIoException e)
        {
            // ENOENT: already gone (removed by someone else), which is the goal anyway.
            if (e.Errno != Errno.ENOENT)
            {
                CleanupError = e;
            }
        }
    }

    private string EventDirectory(string eventName) => Path.Combine(InstancePath, "events", "damon", eventName);

    private void Enable(string eventName, bool required)
    {
        string enable = Path.Combine(EventDirectory(eventName), "enable");
        if (!fs.FileExists(enable))
        {
            if (required)
            {
                throw new KernelIoException(Errno.ENOENT, enable, $"enable {eventName} (is CONFIG_DAMON on and tracefs mounted at the configured root?)");
            }

            return;
        }

        fs.WriteText(enable, "1");
        enabled.Add(eventName);
    }
}
