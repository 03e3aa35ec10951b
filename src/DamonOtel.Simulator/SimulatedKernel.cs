using System.Diagnostics;
using System.Globalization;
using System.Text;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>
/// A fake Linux kernel with DAMON: serves /sys/kernel/mm/damon/admin, tracefs damon events,
/// /proc and the DAMON module parameters under <see cref="SimulatorOptions.Roots"/>, behind the
/// same <see cref="IKernelFs"/> the real filesystem implements. Simulated time moves only through
/// <see cref="Advance"/> or <see cref="RunRealTime"/>; everything is deterministic for a seed.
/// Thread-safe (one lock).
/// </summary>
public sealed class SimulatedKernel : IKernelFs
{
    private readonly VDir root = new(string.Empty);
    private readonly Tracing tracing;
    private readonly FastRandom rng;
    private readonly AddressRange[] systemRam;
    private readonly DamonStatModule? damonStat;
    private long lastRefaultUs;
    private int realTimeLoops;

    public SimulatedKernel(SimulatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        rng = new FastRandom(options.Seed);
        Faults = new SimulatorFaults(this);
        systemRam = BuildSystemRam(options.MemoryBytes);
        Processes = new ProcessTable(options.FirstPid, systemRam.MaxBy(r => r.Size));

        VDir admin = MakeDirs(options.Roots.Kdamonds);
        var nr = new NrChildren<KdamondNode>(admin, "nr_kdamonds", (d, i) => new KdamondNode(this, d, i), _ => KdamondsBusy());
        kdamondList = nr.Items;

        tracing = new Tracing(this, MakeDirs(options.Roots.Tracefs));
        BuildProc(MakeDirs(options.Roots.Procfs));
        BuildReclaim(MakeDirs(options.Roots.ModuleParameters("damon_reclaim")));
        if (options.Profile != KernelProfile.V6_12)
        {
            damonStat = new DamonStatModule(this, MakeDirs(options.Roots.ModuleParameters("damon_stat")), LargestRam);
        }

        foreach (var (name, workload) in options.Processes)
        {
            SpawnProcess(name, SimulatedWorkloads.Create(workload));
        }

        if (options.DamonStatEnabled && damonStat is not null)
        {
            damonStat.Enable();
        }
    }

    private readonly List<KdamondNode> kdamondList;

    public SimulatorOptions Options { get; }

    public KernelProfile Profile => Options.Profile;

    /// <summary>Fault injection hooks.</summary>
    public SimulatorFaults Faults { get; }

    /// <summary>Simulated time since the kernel was created.</summary>
    public TimeSpan Now
    {
        get
        {
            lock (Gate)
            {
                return TimeSpan.FromTicks(NowUs * 10);
            }
        }
    }

    internal object Gate { get; } = new();

    internal long NowUs { get; private set; }

    internal ProcessTable Processes { get; }

    internal bool ExclusiveModuleRunning => damonStat?.Running ?? false;

    internal AddressRange LargestRam => systemRam.MaxBy(r => r.Size);

    // ---- public control surface ----

    /// <summary>Starts a process running <paramref name="workload"/>; returns its pid.</summary>
    public int SpawnProcess(string name, IWorkload workload)
    {
        ArgumentNullException.ThrowIfNull(workload);
        lock (Gate)
        {
            var p = new SimProcess(Processes.AllocatePid(), name, workload, NowUs);
            Processes.Add(p);
            AddProcDir(p);
            return p.Pid;
        }
    }

    /// <summary>Starts a process running the named workload (<see cref="SimulatedWorkloads.Names"/>).</summary>
    public int SpawnProcess(string name, string workload) => SpawnProcess(name, SimulatedWorkloads.Create(workload));

    /// <summary>Ends a simulated process; vaddr kdamonds whose targets all exited stop on their next sample.</summary>
    public void KillProcess(int pid)
    {
        lock (Gate)
        {
            SimProcess p = Processes.Get(pid) ?? throw new ArgumentException($"no simulated process with pid {pid}", nameof(pid));
            RemoveProcess(p);
        }
    }

    /// <summary>Pid of the live process called <paramref name="name"/>, or -1.</summary>
    public int FindProcess(string name)
    {
        lock (Gate)
        {
            return Processes.All.FirstOrDefault(p => p.Alive && p.Workload is not null && p.Name == name)?.Pid ?? -1;
        }
    }

    /// <summary>Moves simulated time forward, running every sampling step of every kdamond on the way.</summary>
    public void Advance(TimeSpan duration)
    {
        lock (Gate)
        {
            AdvanceLocked(NowUs + (long)duration.TotalMicroseconds);
        }
    }

    /// <summary>
    /// Runs simulated time at wall-clock speed until cancelled (for <c>run --simulate</c>). The
    /// returned task completes when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public Task RunRealTime(CancellationToken cancellationToken) => Task.Factory.StartNew(
        () =>
        {
            lock (Gate)
            {
                realTimeLoops++;
            }

            try
            {
                var sw = Stopwatch.StartNew();
                long startUs;
                lock (Gate)
                {
                    startUs = NowUs;
                }

                while (!cancellationToken.IsCancellationRequested)
                {
                    lock (Gate)
                    {
                        AdvanceLocked(Math.Max(NowUs, startUs + (long)sw.Elapsed.TotalMicroseconds));
                        Monitor.PulseAll(Gate);
                    }

                    cancellationToken.WaitHandle.WaitOne(5);
                }
            }
            finally
            {
                lock (Gate)
                {
                    realTimeLoops--;
                }
            }
        },
        cancellationToken,
        TaskCreationOptions.LongRunning,
        TaskScheduler.Default);

    /// <summary>
    /// Ground truth for target <paramref name="targetIndex"/> of kdamond <paramref name="kdamondIndex"/>:
    /// bytes of its monitored space accessed at least once during the last finished aggregation interval.
    /// </summary>
    public ulong GroundTruth(int kdamondIndex, int targetIndex)
    {
        lock (Gate)
        {
            MonitorContext ctx = kdamondList[kdamondIndex].Context ?? throw new InvalidOperationException($"kdamond {kdamondIndex} never ran");
            TargetState t = ctx.Targets[targetIndex];
            long ws = ctx.LastAggrStartUs;
            long we = ctx.LastAggrEndUs;
            ulong unit = Math.Max(1, ctx.Config.AddrUnit);
            if (ctx.Config.Ops != "paddr")
            {
                SimProcess? p = t.Process;
                if (p?.Workload is null)
                {
                    return 0;
                }

                var accessed = p.Workload.AccessedRanges(p.Relative(ws), p.Relative(we));
                if (ctx.Config.Ops == "vaddr")
                {
                    return Sum(accessed);
                }

                var set = new RangeSet();
                foreach (AddressRange a in accessed)
                {
                    set.Add(a);
                }

                return t.Config.Regions.Aggregate(0UL, (acc, r) => acc + set.Overlap(r.Start, r.End));
            }

            var phys = new RangeSet();
            foreach (SimProcess p in Processes.All.Where(p => p.Workload is not null).ToList())
            {
                foreach (AddressRange a in p.Workload!.AccessedRanges(p.Relative(ws), p.Relative(we)))
                {
                    foreach (var (virt, physStart, size) in p.Extents)
                    {
                        ulong s = Math.Max(a.Start, virt);
                        ulong e = Math.Min(a.End, virt + size);
                        if (e > s)
                        {
                            phys.Add(new AddressRange(physStart + (s - virt), physStart + (e - virt)));
                        }
                    }
                }
            }

            return t.Config.Regions.Aggregate(0UL, (acc, r) => acc + phys.Overlap(r.Start * unit, r.End * unit));
        }
    }

    // ---- IKernelFs ----

    public string ReadText(string path)
    {
        lock (Gate)
        {
            VNode n = Resolve(path, "read");
            if (n is not VFile f)
            {
                throw new KernelIoException(Errno.EISDIR, path, "read");
            }

            return Faults.BeforeRead(path) ?? f.Read();
        }
    }

    public int ReadBytes(string path, Span<byte> buffer)
    {
        string text = ReadText(path);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        int n = Math.Min(bytes.Length, buffer.Length);
        bytes.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public void WriteText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        lock (Gate)
        {
            VNode n = Resolve(path, "write");
            if (n is not VFile f)
            {
                throw new KernelIoException(Errno.EISDIR, path, "write");
            }

            f.Write(text);
        }
    }

    public IReadOnlyList<string> ListDirectory(string path)
    {
        lock (Gate)
        {
            if (Resolve(path, "list") is not VDir d)
            {
                throw new KernelIoException(Errno.ENOTDIR, path, "list");
            }

            var names = d.Children.Keys.ToList();
            Faults.AfterList(d);
            return names;
        }
    }

    public bool FileExists(string path)
    {
        lock (Gate)
        {
            return TryResolve(path, out VNode? n) && n is VFile;
        }
    }

    public bool DirectoryExists(string path)
    {
        lock (Gate)
        {
            return TryResolve(path, out VNode? n) && n is VDir;
        }
    }

    public void CreateDirectory(string path)
    {
        lock (Gate)
        {
            (VDir parent, string name) = Parent(path, "mkdir");
            if (parent.Children.ContainsKey(name))
            {
                throw new KernelIoException(Errno.EEXIST, path, "mkdir");
            }

            if (parent.OnMkdir is null)
            {
                throw new KernelIoException(Errno.EPERM, path, "mkdir");
            }

            parent.OnMkdir(name);
        }
    }

    public void RemoveDirectory(string path)
    {
        lock (Gate)
        {
            if (Resolve(path, "rmdir") is not VDir d)
            {
                throw new KernelIoException(Errno.ENOTDIR, path, "rmdir");
            }

            if (d.Parent?.OnRmdir is null)
            {
                throw new KernelIoException(Errno.EPERM, path, "rmdir");
            }

            d.Parent.OnRmdir(d);
        }
    }

    public Stream OpenPipe(string path)
    {
        lock (Gate)
        {
            VNode n = Resolve(path, "open");
            if (n is not VFile f || !Tracing.TryGetInstance(f, out TraceInstance instance))
            {
                throw new KernelIoException(Errno.EINVAL, path, "open (not a trace_pipe)");
            }

            instance.OpenPipes++;
            return new PipeStream(this, instance);
        }
    }

    // ---- internals used by the other parts ----

    internal MonitorContext NewContext(ContextConfig config, SimProcess thread) =>
        new(config, rng, Processes, tracing, Profile, NowUs, thread) { FreeMemRatePermil = FreeMemRatePermil };

    internal SimProcess StartKernelThread()
    {
        int running = kdamondList.Count(k => k.Run == KdamondRun.Running) + (damonStat?.Running == true ? 1 : 0);
        var p = new SimProcess(Processes.AllocatePid(), "kdamond." + running.ToString(CultureInfo.InvariantCulture), null, NowUs);
        Processes.Add(p);
        AddProcDir(p);
        return p;
    }

    internal void RemoveProcess(SimProcess p)
    {
        Processes.Remove(p);
        MakeDirs(Options.Roots.Procfs).Remove(p.Pid.ToString(CultureInfo.InvariantCulture));
    }

    internal void StopKdamond(int index)
    {
        lock (Gate)
        {
            kdamondList[index].Stop();
        }
    }

    internal int RestartProcess(string name)
    {
        lock (Gate)
        {
            SimProcess p = Processes.All.FirstOrDefault(x => x.Workload is not null && x.Name == name)
                ?? throw new ArgumentException($"no simulated process named '{name}'", nameof(name));
            RemoveProcess(p);
            return SpawnProcess(name, SimulatedWorkloads.Create(p.Workload!.Name));
        }
    }

    internal void Signal() => Monitor.PulseAll(Gate);

    /// <summary>Blocks a state write until <paramref name="condition"/> holds: lets the real-time loop run, or advances simulated time itself.</summary>
    internal void WaitUntil(Func<bool> condition, string path)
    {
        long deadlineUs = NowUs + (long)TimeSpan.FromMinutes(10).TotalMicroseconds;
        while (!condition())
        {
            if (realTimeLoops > 0)
            {
                if (!Monitor.Wait(Gate, TimeSpan.FromSeconds(30)))
                {
                    throw new KernelIoException(Errno.ECANCELED, path, "write (timed out)");
                }
            }
            else
            {
                if (NowUs >= deadlineUs)
                {
                    throw new KernelIoException(Errno.ECANCELED, path, "write (timed out)");
                }

                long next = NextEventUs();
                AdvanceLocked(next == long.MaxValue ? deadlineUs : next);
            }
        }
    }

    // nr_kdamonds cannot change while any kdamond runs.
    private Errno KdamondsBusy() => kdamondList.Exists(k => k.Run == KdamondRun.Running) ? Errno.EBUSY : Errno.None;

    private ulong FreeMemRatePermil()
    {
        ulong used = Processes.UsedBytes + (256UL << 20);
        return used >= Options.MemoryBytes ? 0 : (Options.MemoryBytes - used) * 1000 / Options.MemoryBytes;
    }

    private IEnumerable<(MonitorContext Ctx, KdamondNode? Node)> RunningContexts()
    {
        foreach (KdamondNode k in kdamondList)
        {
            if (k.Run == KdamondRun.Running && k.Context is not null)
            {
                yield return (k.Context, k);
            }
        }

        if (damonStat?.Context is { } sc)
        {
            yield return (sc, null);
        }
    }

    private long NextEventUs()
    {
        long next = long.MaxValue;
        foreach (var (ctx, _) in RunningContexts())
        {
            next = Math.Min(next, ctx.NextSampleUs);
        }

        return next;
    }

    private void AdvanceLocked(long endUs)
    {
        while (true)
        {
            MonitorContext? sel = null;
            KdamondNode? node = null;
            foreach (var (ctx, k) in RunningContexts())
            {
                if (sel is null || ctx.NextSampleUs < sel.NextSampleUs)
                {
                    sel = ctx;
                    node = k;
                }
            }

            if (sel is null || sel.NextSampleUs > endUs)
            {
                break;
            }

            NowUs = Math.Max(NowUs, sel.NextSampleUs);
            Refault();
            sel.Step();
            if (node is not null)
            {
                node.AfterStep();
            }
            else
            {
                damonStat!.AfterStep();
            }
        }

        NowUs = Math.Max(NowUs, endUs);
        Refault();
    }

    // Paged-out pages the workload touched again are faulted back in (RSS grows again).
    private void Refault()
    {
        if (NowUs == lastRefaultUs)
        {
            return;
        }

        foreach (SimProcess p in Processes.All)
        {
            if (p.Workload is null || p.PagedOut.Ranges.Count == 0)
            {
                continue;
            }

            foreach (AddressRange a in p.Workload.AccessedRanges(p.Relative(lastRefaultUs), p.Relative(NowUs)))
            {
                p.PagedOut.Remove(a);
            }
        }

        lastRefaultUs = NowUs;
    }

    private static ulong Sum(IReadOnlyList<AddressRange> ranges) => ranges.Aggregate(0UL, (a, r) => a + r.Size);

    // ---- paths ----

    private static string[] Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    private bool TryResolve(string path, out VNode? node)
    {
        node = null;
        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            return false;
        }

        VNode cur = root;
        foreach (string part in Split(path))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                cur = cur.Parent ?? cur;
                continue;
            }

            if (cur is not VDir d || !d.Children.TryGetValue(part, out VNode? next))
            {
                return false;
            }

            cur = next;
        }

        node = cur;
        return true;
    }

    private VNode Resolve(string path, string op)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            throw new KernelIoException(Errno.EINVAL, path ?? string.Empty, op + " (path must be absolute)");
        }

        return TryResolve(path, out VNode? n) ? n! : throw new KernelIoException(Errno.ENOENT, path, op);
    }

    private (VDir Parent, string Name) Parent(string path, string op)
    {
        string trimmed = path.TrimEnd('/');
        int slash = trimmed.LastIndexOf('/');
        string parentPath = slash <= 0 ? "/" : trimmed[..slash];
        return Resolve(parentPath, op) is VDir d ? (d, trimmed[(slash + 1)..]) : throw new KernelIoException(Errno.ENOTDIR, path, op);
    }

    private VDir MakeDirs(string path)
    {
        VDir d = root;
        foreach (string part in Split(path))
        {
            d = d.Dir(part);
        }

        return d;
    }

    // ---- /proc ----

    private static AddressRange[] BuildSystemRam(ulong mem)
    {
        const ulong low = 3UL << 30;
        var list = new List<AddressRange> { new(0x1000, 0x9fc00) };
        if (mem <= low)
        {
            list.Add(new AddressRange(0x100000, mem));
        }
        else
        {
            list.Add(new AddressRange(0x100000, low));
            list.Add(new AddressRange(1UL << 32, (1UL << 32) + (mem - low)));
        }

        return [.. list];
    }

    private void BuildProc(VDir proc)
    {
        proc.Func("iomem", () =>
        {
            var sb = new StringBuilder("00000000-00000fff : Reserved\n");
            foreach (AddressRange r in systemRam)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{r.Start:x8}-{r.End - 1:x8} : System RAM\n");
                if (r.Start == 0x100000)
                {
                    sb.Append("  01000000-01ffffff : Kernel code\n");
                }
            }

            return sb.ToString();
        });
        proc.Func("uptime", () =>
        {
            double up = Options.BootUptime.TotalSeconds + (NowUs / 1e6);
            return string.Create(CultureInfo.InvariantCulture, $"{up:F2} {up * Options.CpuCount:F2}\n");
        });
        proc.Func("meminfo", () =>
        {
            ulong totalKb = Options.MemoryBytes / 1024;
            ulong freeKb = totalKb * FreeMemRatePermil() / 1000;
            return string.Create(CultureInfo.InvariantCulture, $"MemTotal:       {totalKb,8} kB\nMemFree:        {freeKb,8} kB\nMemAvailable:   {freeKb,8} kB\n");
        });
    }

    private void AddProcDir(SimProcess p)
    {
        VDir d = MakeDirs(Options.Roots.Procfs).Dir(p.Pid.ToString(CultureInfo.InvariantCulture));
        d.Func("comm", () => p.Name + "\n");
        d.Func("cmdline", () => p.Workload is null ? string.Empty : $"{p.Name}\0--workload\0{p.Workload.Name}\0");
        d.Func("stat", () => Stat(p));
        d.Func("statm", () =>
        {
            ulong size = p.VirtualBytes / 4096;
            ulong res = p.Workload is null ? 0 : p.ResidentBytes / 4096;
            return string.Create(CultureInfo.InvariantCulture, $"{size} {res} 0 {(p.Workload is null ? 0 : 2048)} 0 {size} 0\n");
        });
    }

    private string Stat(SimProcess p)
    {
        const long hz = 100;
        long ranUs = NowUs - p.StartUs;
        bool kthread = p.Workload is null;
        // Kernel threads: system time from the simulated sampling cost; workloads: half a CPU of user time.
        long utime = kthread ? 0 : ranUs * hz / 2_000_000;
        long stime = kthread ? (long)(p.CpuNs / 10_000_000) : 0;
        long start = ((long)Options.BootUptime.TotalMicroseconds + p.StartUs) * hz / 1_000_000;
        ulong rssPages = kthread ? 0 : p.ResidentBytes / 4096;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{p.Pid} ({p.Name}) S {(kthread ? 2 : 1)} {(kthread ? 0 : p.Pid)} {(kthread ? 0 : p.Pid)} 0 -1 {(kthread ? 2129984 : 4194560)} 0 0 0 0 {utime} {stime} 0 0 20 0 1 0 {start} {p.VirtualBytes} {rssPages} 18446744073709551615");
        for (int i = 26; i <= 52; i++)
        {
            sb.Append(" 0");
        }

        return sb.Append('\n').ToString();
    }

    private static void BuildReclaim(VDir d)
    {
        // DAMON_RECLAIM is present (built in) but not simulated: inputs are staged, outputs stay idle.
        d.Bool("enabled");
        d.Bool("commit_inputs");
        d.U64("min_age", 120_000_000);
        d.U64("quota_ms", 10);
        d.U64("quota_sz", 128UL << 20);
        d.U64("quota_reset_interval_ms", 1000);
        d.U64("wmarks_interval", 5_000_000);
        d.U64("wmarks_high", 500);
        d.U64("wmarks_mid", 400);
        d.U64("wmarks_low", 200);
        d.U64("sample_interval", 5000);
        d.U64("aggr_interval", 100_000);
        d.U64("min_nr_regions", 10);
        d.U64("max_nr_regions", 1000);
        d.Func("kdamond_pid", () => "-1\n");
        foreach (string s in new[] { "nr_reclaim_tried_regions", "bytes_reclaim_tried_regions", "nr_reclaimed_regions", "bytes_reclaimed_regions", "nr_quota_exceeds" })
        {
            d.Func(s, () => "0\n");
        }
    }
}
