using System.Diagnostics;
using System.Globalization;
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
public sealed partial class SimulatedKernel : IKernelFs
{
    private readonly VDir root = new(string.Empty);
    private readonly Tracing tracing;
    private readonly FastRandom rng;
    private readonly AddressRange[] systemRam;
    private readonly DamonStatModule? damonStat;
    private readonly ExclusiveModule reclaim;
    private readonly ExclusiveModule lruSort;
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
        BuildPageFrameFiles(MakeDirs(options.Roots.Procfs));
        _ = CgroupRoot; // the cgroup2 mount exists from boot, like on any systemd machine
        reclaim = BuildReclaim(MakeDirs(options.Roots.ModuleParameters("damon_reclaim")));
        lruSort = BuildLruSort(MakeDirs(options.Roots.ModuleParameters("damon_lru_sort")));
        if (options.Profile != KernelProfile.V6_12)
        {
            // 7.3 monitors from the first to the last System RAM byte; 6.17/6.18 the largest block.
            AddressRange statRange = options.Profile == KernelProfile.V7_3 ? new AddressRange(systemRam.Min(r => r.Start), systemRam.Max(r => r.End)) : LargestRam;
            damonStat = new DamonStatModule(this, MakeDirs(options.Roots.ModuleParameters("damon_stat")), statRange);
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

    /// <summary>DAMON_STAT, DAMON_RECLAIM or DAMON_LRU_SORT runs (their contexts are exclusive).</summary>
    internal bool ExclusiveModuleRunning => (damonStat?.Running ?? false) || reclaim.Running || lruSort.Running;

    /// <summary>Whether an exclusive module may not start now: another one, or any sysfs kdamond, runs.</summary>
    internal bool AnyExclusiveUserRunning() => ExclusiveModuleRunning || kdamondList.Exists(k => k.Run == KdamondRun.Running);

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

    // ---- internals used by the other parts ----

    internal MonitorContext NewContext(CommittedContext config, SimProcess thread) =>
        new(config, rng, Processes, tracing, Profile, NowUs, thread) { FreeMemRatePermil = FreeMemRatePermil };

    internal SimProcess StartKernelThread()
    {
        int running = kdamondList.Count(k => k.Run == KdamondRun.Running) + (damonStat?.Running == true ? 1 : 0) + (reclaim.Running ? 1 : 0) + (lruSort.Running ? 1 : 0);
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

    private IEnumerable<(MonitorContext Ctx, Action? AfterStep)> RunningContexts()
    {
        foreach (KdamondNode k in kdamondList)
        {
            if (k.Run == KdamondRun.Running && k.Context is not null)
            {
                yield return (k.Context, k.AfterStep);
            }
        }

        if (damonStat?.Context is { } sc)
        {
            yield return (sc, damonStat.AfterStep);
        }

        foreach (ExclusiveModule m in new[] { reclaim, lruSort })
        {
            if (m.Context is { } mc)
            {
                yield return (mc, null);
            }
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
            Action? after = null;
            foreach (var (ctx, a) in RunningContexts())
            {
                if (sel is null || ctx.NextSampleUs < sel.NextSampleUs)
                {
                    sel = ctx;
                    after = a;
                }
            }

            if (sel is null || sel.NextSampleUs > endUs)
            {
                break;
            }

            NowUs = Math.Max(NowUs, sel.NextSampleUs);
            Refault();
            sel.Step();
            after?.Invoke();
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
}
