using System.Text;

namespace DamonOtel.Simulator;

/// <summary>trace_pipe: ReadText drains what is pending; OpenPipe gives a non-blocking consuming stream.</summary>
internal sealed class PipeFile(TracefsInstance instance) : VFile("trace_pipe")
{
    public TracefsInstance Instance { get; } = instance;

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
