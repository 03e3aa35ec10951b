using System.Globalization;
using System.Text;
using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

/// <summary>The top-level tracing directory or one instances/&lt;name&gt;: its own events and ring buffer.</summary>
internal sealed class TracefsInstance
{
    private const long MaxBufferedBytes = 16L << 20;
    private readonly Queue<byte[]> lines = new();
    private int headOffset;
    private long buffered;

    public TracefsInstance(VDir root, Tracing tracing)
    {
        Root = root;
        root.Func("tracing_on", () => TracingOn ? "1\n" : "0\n", t =>
            TracingOn = KernelParse.ULong(t, ulong.MaxValue, root.FullPath + "/tracing_on") != 0);
        root.Add(new PipeFile(this));
        VDir damon = root.Dir("events").Dir("damon");
        IntervalsTune = tracing.HasIntervalsTune ? new TracefsEvent() : null;
        TracefsEvent[] all = IntervalsTune is null ? [Aggregated, BeforeApply] : [Aggregated, BeforeApply, IntervalsTune];
        damon.Func("enable", () => all.All(e => e.Enabled) ? "1\n" : all.Any(e => e.Enabled) ? "X\n" : "0\n", t =>
        {
            bool on = ParseEnable(t, damon.FullPath + "/enable");
            foreach (TracefsEvent e in all)
            {
                e.Enabled = on;
            }
        });
        AddEvent(damon, "damon_aggregated", Aggregated, tracing.AggregatedId, Tracing.AggregatedFormat, Tracing.AggregatedFields);
        AddEvent(damon, "damos_before_apply", BeforeApply, tracing.BeforeApplyId, Tracing.BeforeApplyFormat, Tracing.BeforeApplyFields);
        if (IntervalsTune is not null)
        {
            AddEvent(damon, "damon_monitor_intervals_tune", IntervalsTune, tracing.IntervalsTuneId, Tracing.IntervalsTuneFormat, Tracing.IntervalsTuneFields);
        }
    }

    public VDir Root { get; }

    public bool TracingOn { get; private set; } = true;

    public TracefsEvent Aggregated { get; } = new();

    public TracefsEvent BeforeApply { get; } = new();

    /// <summary>damon_monitor_intervals_tune; null on kernels without it (6.12).</summary>
    public TracefsEvent? IntervalsTune { get; }

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

    private static void AddEvent(VDir damon, string name, TracefsEvent ev, int id, string format, string[] fields)
    {
        VDir d = damon.Dir(name);
        string path = d.FullPath;
        d.Func("enable", () => ev.Enabled ? "1\n" : "0\n", t => ev.Enabled = ParseEnable(t, path + "/enable"));
        d.Func("filter", () => ev.FilterText + "\n", t => ev.SetFilter(t, path + "/filter", fields));
        d.Func("id", () => id.ToString(CultureInfo.InvariantCulture) + "\n");
        d.Func("format", () => string.Format(CultureInfo.InvariantCulture, format, id));
    }
}
