using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

/// <summary>kdamonds/&lt;K&gt;: the staged files plus the running kernel thread behind them.</summary>
internal sealed class KdamondNode
{
    private readonly SimulatedKernel kernel;
    private readonly VDir dir;
    private long nextRefreshUs;
    private bool walkBytesOnly;

    public KdamondNode(SimulatedKernel kernel, VDir d, int index)
    {
        this.kernel = kernel;
        dir = d;
        Index = index;
        d.Func("state", () => Run == KdamondRun.Running ? "on\n" : "off\n", Command);
        d.Func("pid", () => (Thread?.Pid ?? -1).ToString(CultureInfo.InvariantCulture) + "\n");
        if (kernel.Profile != KernelProfile.V6_12)
        {
            RefreshMs = d.U32("refresh_ms");
        }

        Contexts = new NrChildren<ContextNode>(
            d.Dir("contexts"),
            "nr_contexts",
            (cd, _) => new ContextNode(cd, kernel.Profile),
            _ => Errno.None);
    }

    public int Index { get; }

    public KdamondRun Run { get; private set; }

    public MonitorContext? Context { get; private set; }

    public SimProcess? Thread { get; private set; }

    public ValueFile? RefreshMs { get; }

    public NrChildren<ContextNode> Contexts { get; }

    public bool WalkInFlight { get; private set; }

    private string StatePath => dir.FullPath + "/state";

    public void Command(string text)
    {
        kernel.Faults.BeforeStateWrite(StatePath);
        string cmd = KernelParse.StripNewline(text);
        if (!ProfileTables.StateCommands(kernel.Profile).Contains(cmd))
        {
            throw Fail(Errno.EINVAL);
        }

        switch (cmd)
        {
            case "on":
                TurnOn();
                return;
            case "off":
                if (Run == KdamondRun.NeverStarted)
                {
                    throw Fail(Errno.EINVAL);
                }

                if (Run == KdamondRun.Stopped)
                {
                    throw Fail(Errno.EPERM);
                }

                Stop();
                return;
            case "clear_schemes_tried_regions":
                if (Contexts.Items.Count == 0)
                {
                    throw Fail(Errno.EINVAL);
                }

                foreach (SchemeNode s in Contexts.Items[0].Schemes.Items)
                {
                    s.ClearTriedRegions();
                }

                return;
        }

        if (Run != KdamondRun.Running || Context is null)
        {
            throw Fail(Errno.EINVAL);
        }

        switch (cmd)
        {
            case "commit":
                if (kernel.Profile == KernelProfile.V6_12 && Contexts.Items.Count == 1 && Contexts.Items[0].FirstMissingPid(PidExists) is not null)
                {
                    // 6.12 answers the write with success and the kdamond stops (measured: bench/procs/README.md); 7.3 answers EINVAL and runs on.
                    Stop();
                    return;
                }

                Context.Commit(BuildConfig(commit: true), kernel.NowUs);
                break;
            case "commit_schemes_quota_goals":
                Context.CommitGoals(BuildConfig(commit: true));
                break;
            case "update_schemes_stats":
                CopyStats();
                break;
            case "update_schemes_effective_quotas":
                CopyQuotas();
                break;
            case "update_tuned_intervals":
                CopyIntervals();
                break;
            case "update_schemes_tried_regions":
            case "update_schemes_tried_bytes":
                Walk(bytesOnly: cmd == "update_schemes_tried_bytes");
                break;
        }
    }

    /// <summary>Called after every sampling step of this kdamond's context.</summary>
    public void AfterStep()
    {
        if (Context is null)
        {
            return;
        }

        if (Context.NeedStop)
        {
            Stop();
            return;
        }

        uint refresh = (uint)(RefreshMs?.U ?? 0);
        if (refresh != 0 && kernel.NowUs >= nextRefreshUs)
        {
            nextRefreshUs = kernel.NowUs + (refresh * 1000L);
            CopyStats();
            CopyQuotas();
            CopyIntervals();
        }
    }

    /// <summary>Stops the thread (off, its vaddr targets all exited, or a fault hook).</summary>
    public void Stop()
    {
        if (Run != KdamondRun.Running)
        {
            return;
        }

        Run = KdamondRun.Stopped;
        if (Context is not null)
        {
            Context.WalkCompleted = null;
        }

        WalkInFlight = false;
        if (Thread is not null)
        {
            kernel.RemoveProcess(Thread);
        }

        Thread = null;
        kernel.Signal();
    }

    private KernelIoException Fail(Errno e) => new(e, StatePath, "write");

    private CommittedContext BuildConfig(bool commit = false)
    {
        if (Contexts.Items.Count != 1)
        {
            throw new KernelIoException(Errno.EINVAL, StatePath, "write (nr_contexts must be 1)");
        }

        return Contexts.Items[0].ToConfig(StatePath, PidExists, commit);
    }

    // Any live process, kernel threads included: the kernel only looks the pid up.
    private bool PidExists(int pid) => kernel.Processes.Get(pid) is not null;

    private void TurnOn()
    {
        if (Run == KdamondRun.Running)
        {
            throw Fail(Errno.EBUSY);
        }

        if (kernel.ExclusiveModuleRunning)
        {
            throw Fail(Errno.EBUSY);
        }

        CommittedContext config = BuildConfig();
        Thread = kernel.StartKernelThread();
        Context = kernel.NewContext(config, Thread);
        Run = KdamondRun.Running;
        nextRefreshUs = kernel.NowUs;
        foreach (SchemeNode s in Contexts.Items[0].Schemes.Items)
        {
            s.Stats.Clear();
        }
    }

    private IEnumerable<(SchemeNode Node, SchemeState State)> Pairs()
    {
        if (Context is null || Contexts.Items.Count == 0)
        {
            yield break;
        }

        List<SchemeNode> nodes = Contexts.Items[0].Schemes.Items;
        for (int i = 0; i < nodes.Count && i < Context.Schemes.Count; i++)
        {
            yield return (nodes[i], Context.Schemes[i]);
        }
    }

    private void CopyStats()
    {
        foreach (var (node, state) in Pairs())
        {
            node.CopyStats(state);
        }
    }

    private void CopyQuotas()
    {
        foreach (var (node, state) in Pairs())
        {
            node.EffectiveBytes = state.Esz;
        }
    }

    private void CopyIntervals()
    {
        if (Context is null || Contexts.Items.Count == 0)
        {
            return;
        }

        Contexts.Items[0].Sample.Set((ulong)Context.SampleUs);
        Contexts.Items[0].Aggr.Set((ulong)Context.AggrUs);
    }

    private void Walk(bool bytesOnly)
    {
        if (WalkInFlight)
        {
            throw Fail(Errno.EBUSY);
        }

        foreach (SchemeNode s in Contexts.Items[0].Schemes.Items)
        {
            s.ClearTriedRegions();
        }

        MonitorContext ctx = Context!;
        WalkInFlight = true;
        walkBytesOnly = bytesOnly;
        bool done = false;
        ctx.WalkCompleted = () =>
        {
            foreach (var (node, state) in Pairs())
            {
                node.FillTriedRegions(state.WalkRegions ?? [], walkBytesOnly);
            }

            WalkInFlight = false;
            done = true;
            ctx.WalkCompleted = null;
            kernel.Signal();
        };
        ctx.StartWalk();

        // The writer blocks until every scheme passed one apply interval: simulated time
        // moves on (Advance mode) or the real-time loop runs while we wait.
        kernel.WaitUntil(() => done || Run != KdamondRun.Running, StatePath);
        if (!done)
        {
            WalkInFlight = false;
            throw Fail(Errno.ECANCELED);
        }
    }
}
