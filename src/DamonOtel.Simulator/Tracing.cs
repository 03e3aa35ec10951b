using System.Globalization;
using System.Text;
using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

/// <summary>One damon event in one tracefs instance: enable flag and kernel-side filter.</summary>
internal sealed class TraceEvent
{
    private (string Field, string Op, ulong Value)[] predicates = [];

    public bool Enabled { get; set; }

    public string FilterText { get; private set; } = "none";

    public void SetFilter(string text, string path, string[] fields)
    {
        string s = KernelParse.StripNewline(text).Trim();
        if (s is "0" or "")
        {
            predicates = [];
            FilterText = "none";
            return;
        }

        var list = new List<(string, string, ulong)>();
        foreach (string clause in s.Split("&&"))
        {
            string[] parts = clause.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 || !fields.Contains(parts[0]) || parts[1] is not ("==" or "!=" or "<" or "<=" or ">" or ">=")
                || !ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out ulong v))
            {
                throw new KernelIoException(Errno.EINVAL, path, "write");
            }

            list.Add((parts[0], parts[1], v));
        }

        predicates = [.. list];
        FilterText = s;
    }

    public bool Pass(Func<string, ulong> field)
    {
        foreach (var (f, op, v) in predicates)
        {
            ulong x = field(f);
            bool ok = op switch
            {
                "==" => x == v,
                "!=" => x != v,
                "<" => x < v,
                "<=" => x <= v,
                ">" => x > v,
                _ => x >= v,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>The top-level tracing directory or one instances/&lt;name&gt;: its own events and ring buffer.</summary>
internal sealed class TraceInstance
{
    private const long MaxBufferedBytes = 16L << 20;
    private readonly Queue<byte[]> lines = new();
    private int headOffset;
    private long buffered;

    public TraceInstance(VDir root, Tracing tracing)
    {
        Root = root;
        root.Func("tracing_on", () => TracingOn ? "1\n" : "0\n", t =>
            TracingOn = KernelParse.ULong(t, ulong.MaxValue, root.FullPath + "/tracing_on") != 0);
        root.Add(new PipeFile(this));
        VDir damon = root.Dir("events").Dir("damon");
        damon.Func("enable", () => Aggregated.Enabled && BeforeApply.Enabled ? "1\n" : Aggregated.Enabled || BeforeApply.Enabled ? "X\n" : "0\n", t =>
        {
            bool on = ParseEnable(t, damon.FullPath + "/enable");
            Aggregated.Enabled = on;
            BeforeApply.Enabled = on;
        });
        AddEvent(damon, "damon_aggregated", Aggregated, tracing.AggregatedId, Tracing.AggregatedFormat, Tracing.AggregatedFields);
        AddEvent(damon, "damos_before_apply", BeforeApply, tracing.BeforeApplyId, Tracing.BeforeApplyFormat, Tracing.BeforeApplyFields);
    }

    public VDir Root { get; }

    public bool TracingOn { get; private set; } = true;

    public TraceEvent Aggregated { get; } = new();

    public TraceEvent BeforeApply { get; } = new();

    public int OpenPipes { get; set; }

    public void Append(string line)
    {
        byte[] b = Encoding.ASCII.GetBytes(line);
        lines.Enqueue(b);
        buffered += b.Length;
        while (buffered > MaxBufferedBytes && lines.Count > 1)
        {
            // Overwrite mode: the oldest events are lost when readers fall behind.
            buffered -= lines.Dequeue().Length - headOffset;
            headOffset = 0;
        }
    }

    public int Read(Span<byte> dest)
    {
        int n = 0;
        while (n < dest.Length && lines.Count > 0)
        {
            byte[] head = lines.Peek();
            int take = Math.Min(dest.Length - n, head.Length - headOffset);
            head.AsSpan(headOffset, take).CopyTo(dest[n..]);
            n += take;
            headOffset += take;
            buffered -= take;
            if (headOffset == head.Length)
            {
                lines.Dequeue();
                headOffset = 0;
            }
        }

        return n;
    }

    private static bool ParseEnable(string t, string path) => KernelParse.StripNewline(t) switch
    {
        "0" => false,
        "1" => true,
        _ => throw new KernelIoException(Errno.EINVAL, path, "write"),
    };

    private static void AddEvent(VDir damon, string name, TraceEvent ev, int id, string format, string[] fields)
    {
        VDir d = damon.Dir(name);
        string path = d.FullPath;
        d.Func("enable", () => ev.Enabled ? "1\n" : "0\n", t => ev.Enabled = ParseEnable(t, path + "/enable"));
        d.Func("filter", () => ev.FilterText + "\n", t => ev.SetFilter(t, path + "/filter", fields));
        d.Func("id", () => id.ToString(CultureInfo.InvariantCulture) + "\n");
        d.Func("format", () => string.Format(CultureInfo.InvariantCulture, format, id));
    }
}

/// <summary>trace_pipe: ReadText drains what is pending; OpenPipe gives a non-blocking consuming stream.</summary>
internal sealed class PipeFile(TraceInstance instance) : VFile("trace_pipe")
{
    public TraceInstance Instance { get; } = instance;

    public override string Read()
    {
        var sb = new StringBuilder();
        Span<byte> buf = stackalloc byte[4096];
        int n;
        while ((n = Instance.Read(buf)) > 0)
        {
            sb.Append(Encoding.ASCII.GetString(buf[..n]));
        }

        return sb.ToString();
    }
}

internal sealed class PipeStream(SimulatedKernel kernel, TraceInstance instance) : Stream
{
    private bool disposed;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        lock (kernel.Gate)
        {
            return instance.Read(buffer);
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (!disposed)
        {
            disposed = true;
            lock (kernel.Gate)
            {
                instance.OpenPipes--;
            }
        }

        base.Dispose(disposing);
    }
}

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

    private readonly SimulatedKernel kernel;
    private readonly List<TraceInstance> instances = [];

    public Tracing(SimulatedKernel kernel, VDir root)
    {
        this.kernel = kernel;
        instances.Add(new TraceInstance(root, this));
        root.Func("available_events", () => "damon:damon_aggregated\ndamon:damos_before_apply\n");
        VDir inst = root.Dir("instances");
        inst.OnMkdir = name =>
        {
            var d = new VDir(name);
            inst.Add(d);
            instances.Add(new TraceInstance(d, this));
            return d;
        };
        inst.OnRmdir = d =>
        {
            TraceInstance ti = instances.First(i => ReferenceEquals(i.Root, d));
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

    public bool AggregatedEnabled => instances.Exists(i => i.TracingOn && i.Aggregated.Enabled);

    public bool BeforeApplyEnabled => instances.Exists(i => i.TracingOn && i.BeforeApply.Enabled);

    public void Aggregated(MonitorContext ctx, long nowUs, int targetIdx, int nrRegions, Region r)
    {
        string? line = null;
        foreach (TraceInstance i in instances)
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
        foreach (TraceInstance i in instances)
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

    public static bool TryGetInstance(VFile file, out TraceInstance instance)
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
