using System.Globalization;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>
/// DAMON_STAT (6.17+): a paddr kdamond over the largest System RAM block (7.3: from the first to
/// the last System RAM byte, holes included) with auto-tuned intervals (4 % access goal, 3
/// aggregations, 5 ms..10 s, aggregation = 20 x sampling), publishing its two metrics at most
/// every 5 s (kept, stale, after it is switched off). Exclusive with sysfs kdamonds and the
/// other modules; 7.3 has kdamond_pid.
/// </summary>
internal sealed class DamonStatModule
{
    private const long RefreshUs = 5_000_000;
    private readonly SimulatedKernel kernel;
    private readonly AddressRange ram;
    private long nextRefreshUs;
    private ulong bandwidth;
    private long[] percentiles = new long[101];
    private ulong aggrUs = 100_000;

    public DamonStatModule(SimulatedKernel kernel, VDir d, AddressRange ram)
    {
        this.kernel = kernel;
        this.ram = ram;
        d.Func("enabled", () => Running ? "Y\n" : "N\n", t =>
        {
            if (KernelParse.Bool(t, d.FullPath + "/enabled"))
            {
                Enable();
            }
            else
            {
                Disable();
            }
        });
        d.Func("estimated_memory_bandwidth", () => bandwidth.ToString(CultureInfo.InvariantCulture) + "\n");
        d.Func("memory_idle_ms_percentiles", () => string.Join(',', percentiles.Select(p => p.ToString(CultureInfo.InvariantCulture))) + "\n");
        d.Func("aggr_interval_us", () => aggrUs.ToString(CultureInfo.InvariantCulture) + "\n");
        if (kernel.Profile == KernelProfile.V7_3)
        {
            d.Func("kdamond_pid", () => (thread?.Pid ?? -1).ToString(CultureInfo.InvariantCulture) + "\n");
        }
    }

    public bool Running => Context is not null;

    public MonitorContext? Context { get; private set; }

    private SimProcess? thread;

    public void Enable()
    {
        if (Running)
        {
            return;
        }

        if (kernel.AnyExclusiveUserRunning())
        {
            throw new KernelIoException(Errno.EBUSY, kernel.Options.Roots.ModuleParameters("damon_stat") + "/enabled", "write");
        }

        var config = new CommittedContext("paddr", 1, 5000, 100_000, 60_000_000, new IntervalsGoal(400, 3, 5000, 10_000_000), 10, 1000, [new CommittedTarget(0, [ram])], []);
        thread = kernel.StartKernelThread();
        Context = kernel.NewContext(config, thread);
        nextRefreshUs = kernel.NowUs + RefreshUs;
    }

    public void Disable()
    {
        if (thread is not null)
        {
            kernel.RemoveProcess(thread);
        }

        thread = null;
        Context = null;
    }

    public void AfterStep()
    {
        if (Context is null || kernel.NowUs < nextRefreshUs)
        {
            return;
        }

        nextRefreshUs = kernel.NowUs + RefreshUs;
        var regions = Context.Targets[0].Regions;
        aggrUs = (ulong)Context.AggrUs;
        decimal bw = 0;
        ulong total = 0;
        var idle = new List<(long IdleMs, ulong Size)>();
        long aggrMs = Context.AggrUs / 1000;
        foreach (Region r in regions)
        {
            bw += (decimal)r.Size * r.LastNrAccesses * 1_000_000 / Math.Max(1, Context.AggrUs);
            total += r.Size;
            long v = (r.Age + 1L) * aggrMs;
            idle.Add((r.LastNrAccesses == 0 ? v : -v, r.Size)); // 6.18: negative = hot for that long
        }

        bandwidth = (ulong)bw;
        idle.Sort((a, b) => a.IdleMs.CompareTo(b.IdleMs));
        var result = new long[101];
        ulong accounted = 0;
        int p = 0;
        foreach (var (ms, size) in idle)
        {
            accounted += size;
            while (p <= 100 && (ulong)p * total <= accounted * 100UL)
            {
                result[p++] = ms;
            }
        }

        percentiles = result;
    }
}
