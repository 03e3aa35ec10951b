using System.Diagnostics;
using System.Globalization;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Tracefs;

// trace-bench text|raw --seconds N --pids P1,P2,.. [--poll-ms 250] [--tracefs DIR] [--instance NAME] [--buffer-kb KB]
//
// Creates a private tracefs instance with damon_aggregated (TraceInstance), reads it for N
// seconds the way the agent's TracepointSource does (a poll every --poll-ms on one thread),
// either as text (trace_pipe, TraceReader) or binary (per_cpu/cpuN/trace_pipe_raw,
// RawTraceReader), assembles snapshots for the given kdamond pids, and prints one line:
//   TRACE-BENCH mode=.. seconds=.. events=.. snapshots=.. regions=.. dropped=.. errors=.. bytes=.. utime_ms=.. stime_ms=..
// utime/stime are this process's (getrusage via /proc/self/stat), i.e. the reader's user time
// and the kernel time its reads cost (formatting text for trace_pipe happens in read()).
// Only ever run inside the bench VM: it writes to tracefs.
string mode = args.Length > 0 ? args[0] : throw new ArgumentException("usage: trace-bench text|raw --seconds N --pids P1,P2");
double seconds = 30;
int pollMs = 250;
string tracefs = "/sys/kernel/tracing";
string instanceName = "trace_bench";
uint bufferKb = 4096;
int[] pids = [];
for (int i = 1; i + 1 < args.Length; i += 2)
{
    string v = args[i + 1];
    switch (args[i])
    {
        case "--seconds": seconds = double.Parse(v, CultureInfo.InvariantCulture); break;
        case "--poll-ms": pollMs = int.Parse(v, CultureInfo.InvariantCulture); break;
        case "--tracefs": tracefs = v; break;
        case "--instance": instanceName = v; break;
        case "--buffer-kb": bufferKb = uint.Parse(v, CultureInfo.InvariantCulture); break;
        case "--pids": pids = [.. v.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture))]; break;
        default: throw new ArgumentException($"unknown option {args[i]}");
    }
}

if (mode is not ("text" or "raw") || pids.Length == 0)
{
    Console.Error.WriteLine("usage: trace-bench text|raw --seconds N --pids P1,P2 [--poll-ms 250] [--tracefs DIR] [--instance NAME] [--buffer-kb KB]");
    return 2;
}

var fs = LinuxKernelFs.Instance;
var roots = new KernelRoots("/sys", tracefs, "/proc");
var intervals = new Intervals(5_000, 100_000, 1_000_000);
var assembler = new AggregationAssembler(_ => intervals);
assembler.SetPidMap(pids.Select((pid, k) => new KeyValuePair<int, int>(pid, k)));
using TraceInstance instance = TraceInstance.Create(fs, roots, instanceName, new TraceInstanceOptions { IntervalsTune = false, BufferSizeKb = bufferKb });
long snapshots = 0;
long regions = 0;
void OnSnapshot(RegionSnapshot s)
{
    snapshots++;
    regions += s.Regions.Length;
}

(long User, long System) Cpu()
{
    // /proc/self/stat fields 14/15 (after the parenthesised comm): utime, stime in clock ticks (100/s).
    string stat = File.ReadAllText("/proc/self/stat");
    string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(f[11], CultureInfo.InvariantCulture) * 10, long.Parse(f[12], CultureInfo.InvariantCulture) * 10);
}

long events, dropped, errors, bytes;
(long u0, long s0) = Cpu();
var clock = Stopwatch.StartNew();
if (mode == "text")
{
    using var reader = new TraceReader(instance.OpenTracePipe(), assembler);
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        reader.Poll(OnSnapshot);
        Thread.Sleep(pollMs);
    }

    reader.Poll(OnSnapshot);
    (events, dropped, errors, bytes) = (reader.AggregatedEvents, reader.DroppedSnapshots, reader.ParseErrors, reader.BytesRead);
    if (reader.LastParseError is { } e)
    {
        Console.Error.WriteLine(e);
    }
}
else
{
    using RawTraceReader reader = RawTraceReader.Open(fs, instance, assembler);
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        reader.Poll(OnSnapshot);
        Thread.Sleep(pollMs);
    }

    reader.Poll(OnSnapshot);
    (events, dropped, errors, bytes) = (reader.AggregatedEvents, reader.DroppedSnapshots, reader.ParseErrors, reader.BytesRead);
    Console.Error.WriteLine($"raw: {reader.Pages} pages, {reader.MissedEventsPages} with missed events, cpus {string.Join(',', reader.Cpus)}");
    if (reader.LastParseError is { } e)
    {
        Console.Error.WriteLine(e);
    }
}

double wall = clock.Elapsed.TotalSeconds;
(long u1, long s1) = Cpu();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"TRACE-BENCH mode={mode} seconds={wall:F1} events={events} snapshots={snapshots} regions={regions} dropped={dropped} unknown_pid={assembler.UnknownPidEvents} errors={errors} bytes={bytes} utime_ms={u1 - u0} stime_ms={s1 - s0}"));
return 0;
