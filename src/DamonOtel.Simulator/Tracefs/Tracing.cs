using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

/// <summary>tracefs: the damon events of every instance, fed by all running contexts.</summary>
internal sealed class Tracing : ITraceSink
{
    public static readonly string[] AggregatedFields = ["target_id", "nr_regions", "start", "end", "nr_accesses", "age"];

    public static readonly string[] BeforeApplyFields = ["context_idx", "scheme_idx", "target_idx", "start", "end", "nr_accesses", "age", "nr_regions"];

    private const string Common =
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
        "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" +
        "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n" +
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

    public static readonly string AggregatedFormat =
        "name: damon_aggregated\nID: {0}\nformat:\n" + Common +
        "\tfield:unsigned long target_id;\toffset:8;\tsize:8;\tsigned:0;\n" +
        "\tfield:unsigned int nr_regions;\toffset:16;\tsize:4;\tsigned:0;\n" +
        "\tfield:unsigned long start;\toffset:24;\tsize:8;\tsigned:0;\n" +
        "\tfield:unsigned long end;\toffset:32;\tsize:8;\tsigned:0;\n" +
        "\tfield:unsigned int nr_accesses;\toffset:40;\tsize:4;\tsigned:0;\n" +
        "\tfield:unsigned int age;\toffset:44;\tsize:4;\tsigned:0;\n\n" +
        "print fmt: \"target_id=%lu nr_regions=%u %lu-%lu: %u %u\", REC->target_id, REC->nr_regions, REC->start, REC->end, REC->nr_accesses, REC->age\n";

    public static readonly string BeforeApplyFormat =
        "name: damos_before_apply\nID: {0}\nformat:\n" + Common +
        "\tfield:unsigned int context_idx;\toffset:8;\tsize:4;\tsigned:0;\n" +
        "\tfield:unsigned int scheme_idx;\toffset:12;\tsize:4;\tsigned:0;\n" +
        "\tfield:unsigned long target_idx;\toffset:16;\tsize:8;\tsigned:0;\n" +
        "\tfield:unsigned long start;\toffset:24;\tsize:8;\tsigned:0;\n" +
        "\tfield:unsigned long end;\toffset:32;\tsize:8;\tsigned:0;\n" +
        "\tfield:unsigned int nr_accesses;\toffset:40;\tsize:4;\tsigned:0;\n" +
        "\tfield:unsigned int age;\toffset:44;\tsize:4;\tsigned:0;\n" +
        "\tfield:unsigned int nr_regions;\toffset:48;\tsize:4;\tsigned:0;\n\n" +
        "print fmt: \"ctx_idx=%u scheme_idx=%u target_idx=%lu nr_regions=%u %lu-%lu: %u %u\", REC->context_idx, REC->scheme_idx, REC->target_idx, REC->nr_regions, REC->start, REC->end, REC->nr_accesses, REC->age\n";

    public static readonly string[] IntervalsTuneFields = ["sample_us"];

    public static readonly string IntervalsTuneFormat =
        "name: damon_monitor_intervals_tune\nID: {0}\nformat:\n" + Common +
        "\tfield:unsigned long sample_us;\toffset:8;\tsize:8;\tsigned:0;\n\n" +
        "print fmt: \"sample_us=%lu\", REC->sample_us\n";

    private readonly SimulatedKernel kernel;
    private readonly List<TracefsInstance> instances = [];

    public Tracing(SimulatedKernel kernel, VDir root)
    {
        this.kernel = kernel;
        instances.Add(new TracefsInstance(root, this));
        root.Func("available_events", () => HasIntervalsTune
            ? "damon:damon_aggregated\ndamon:damos_before_apply\ndamon:damon_monitor_intervals_tune\n"
            : "damon:damon_aggregated\ndamon:damos_before_apply\n");
        VDir inst = root.Dir("instances");
        inst.OnMkdir = name =>
        {
            var d = new VDir(name);
            inst.Add(d);
            instances.Add(new TracefsInstance(d, this));
            return d;
        };
        inst.OnRmdir = d =>
        {
            TracefsInstance ti = instances.First(i => ReferenceEquals(i.Root, d));
            if (ti.OpenPipes > 0)
            {
                throw new KernelIoException(Errno.EBUSY, d.FullPath, "rmdir");
            }

            instances.Remove(ti);
            inst.Remove(d.Name);
        };
    }

    // Event IDs are fixed per simulated kernel (they differ per boot on a real one).
    public int AggregatedId { get; } = 1543;

    public int BeforeApplyId { get; } = 1542;

    public int IntervalsTuneId { get; } = 1544;

    /// <summary>damon_monitor_intervals_tune exists since 6.17.</summary>
    public bool HasIntervalsTune => kernel.Profile != KernelProfile.V6_12;

    public bool AggregatedEnabled => instances.Exists(i => i.TracingOn && i.Aggregated.Enabled);

    public bool BeforeApplyEnabled => instances.Exists(i => i.TracingOn && i.BeforeApply.Enabled);

    public void Aggregated(MonitorContext ctx, long nowUs, int targetIdx, int nrRegions, Region r)
    {
        string? line = null;
        foreach (TracefsInstance i in instances)
        {
            if (!i.TracingOn || !i.Aggregated.Enabled)
            {
                continue;
            }

            if (!i.Aggregated.Pass(f => f switch
            {
                "target_id" => (ulong)targetIdx,
                "nr_regions" => (ulong)nrRegions,
                "start" => r.Start,
                "end" => r.End,
                "nr_accesses" => r.NrAccesses,
                _ => r.Age,
            }))
            {
                continue;
            }

            line ??= Header(ctx, nowUs, "damon_aggregated") + string.Create(
                CultureInfo.InvariantCulture,
                $"target_id={targetIdx} nr_regions={nrRegions} {r.Start}-{r.End}: {r.NrAccesses} {r.Age}\n");
            i.Append(line);
        }
    }

    public void BeforeApply(MonitorContext ctx, long nowUs, int schemeIdx, int targetIdx, int nrRegions, Region r, uint nrAccesses)
    {
        string? line = null;
        foreach (TracefsInstance i in instances)
        {
            if (!i.TracingOn || !i.BeforeApply.Enabled)
            {
                continue;
            }

            if (!i.BeforeApply.Pass(f => f switch
            {
                "context_idx" => 0,
                "scheme_idx" => (ulong)schemeIdx,
                "target_idx" => (ulong)targetIdx,
                "start" => r.Start,
                "end" => r.End,
                "nr_accesses" => nrAccesses,
                "age" => r.Age,
                _ => (ulong)nrRegions,
            }))
            {
                continue;
            }

            // 6.7-6.12 passed scheme and target index to the tracepoint in swapped order.
            (int shownScheme, int shownTarget) = kernel.Profile == KernelProfile.V6_12 ? (targetIdx, schemeIdx) : (schemeIdx, targetIdx);
            line ??= Header(ctx, nowUs, "damos_before_apply") + string.Create(
                CultureInfo.InvariantCulture,
                $"ctx_idx=0 scheme_idx={shownScheme} target_idx={shownTarget} nr_regions={nrRegions} {r.Start}-{r.End}: {nrAccesses} {r.Age}\n");
            i.Append(line);
        }
    }

    public void IntervalsTune(MonitorContext ctx, long nowUs, ulong sampleUs)
    {
        string? line = null;
        foreach (TracefsInstance i in instances)
        {
            if (i.TracingOn && i.IntervalsTune is { Enabled: true } ev && ev.Pass(_ => sampleUs))
            {
                line ??= Header(ctx, nowUs, "damon_monitor_intervals_tune") + string.Create(CultureInfo.InvariantCulture, $"sample_us={sampleUs}\n");
                i.Append(line);
            }
        }
    }

    public static bool TryGetInstance(VFile file, out TracefsInstance instance)
    {
        if (file is PipeFile p)
        {
            instance = p.Instance;
            return true;
        }

        instance = null!;
        return false;
    }

    private string Header(MonitorContext ctx, long nowUs, string evt)
    {
        long ts = (long)kernel.Options.BootUptime.TotalMicroseconds + nowUs;
        int cpu = ctx.Thread.Pid % Math.Max(1, kernel.Options.CpuCount);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{ctx.Thread.Name,16}-{ctx.Thread.Pid,-7} [{cpu:D3}] ..... {ts / 1_000_000,5}.{ts % 1_000_000:D6}: {evt}: ");
    }
}
