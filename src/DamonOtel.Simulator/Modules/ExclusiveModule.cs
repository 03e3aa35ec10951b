using System.Globalization;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>
/// DAMON_RECLAIM or DAMON_LRU_SORT as far as exclusivity goes: `enabled` starts a kdamond
/// thread monitoring the largest System RAM block with an exclusive context (the kernel's
/// damon_start(..., exclusive = true)), `kdamond_pid` names it. Their schemes are not
/// simulated: the stats stay 0. Enabling answers EBUSY while another exclusive module or any
/// sysfs kdamond runs, as on 7.3.
/// </summary>
internal sealed class ExclusiveModule
{
    private readonly SimulatedKernel kernel;
    private readonly string enabledPath;
    private readonly AddressRange ram;
    private readonly ulong sampleUs;
    private readonly ulong aggrUs;
    private SimProcess? thread;

    public ExclusiveModule(SimulatedKernel kernel, VDir d, AddressRange ram, ulong sampleUs, ulong aggrUs)
    {
        this.kernel = kernel;
        this.ram = ram;
        this.sampleUs = sampleUs;
        this.aggrUs = aggrUs;
        enabledPath = d.FullPath + "/enabled";
        d.Func("enabled", () => Running ? "Y\n" : "N\n", t =>
        {
            if (KernelParse.Bool(t, enabledPath))
            {
                Enable();
            }
            else
            {
                Disable();
            }
        });
        d.Func("kdamond_pid", () => (thread?.Pid ?? -1).ToString(CultureInfo.InvariantCulture) + "\n");
    }

    public bool Running => Context is not null;

    public MonitorContext? Context { get; private set; }

    public void Enable()
    {
        if (Running)
        {
            return;
        }

        if (kernel.AnyExclusiveUserRunning())
        {
            throw new KernelIoException(Errno.EBUSY, enabledPath, "write");
        }

        var config = new CommittedContext("paddr", 1, sampleUs, aggrUs, 60_000_000, new IntervalsGoal(0, 0, 0, 0), 10, 1000, [new CommittedTarget(0, [ram])], []);
        thread = kernel.StartKernelThread();
        Context = kernel.NewContext(config, thread);
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
}
