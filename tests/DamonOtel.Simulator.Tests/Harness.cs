using System.Text;
using System.Text.RegularExpressions;
using DamonOtel.Damon.IO;
using DamonOtel.Simulator;

namespace DamonOtel.Simulator.Tests;

/// <summary>Builds simulated kernels and writes DAMON configs through the file interface, like a user would.</summary>
internal sealed partial class Harness
{
    public const ulong MiB = 1UL << 20;
    public const ulong Alloc = SimulatedWorkloads.AllocationStart;
    public const string MatchAllMaxSz = "18446744073709551615";
    public const string MatchAllMaxCount = "4294967295";

    public Harness(KernelProfile profile = KernelProfile.V6_18, int seed = 7, bool damonStat = false)
    {
        Roots = KernelRoots.Under("/sim");
        Kernel = new SimulatedKernel(new SimulatorOptions { Roots = Roots, Profile = profile, Seed = seed, DamonStatEnabled = damonStat });
    }

    public KernelRoots Roots { get; }

    public SimulatedKernel Kernel { get; }

    public string K0 => Roots.Kdamonds + "/0";

    public string C0 => K0 + "/contexts/0";

    public string S0 => C0 + "/schemes/0";

    public string Read(string path) => Kernel.ReadText(path).TrimEnd('\n');

    public ulong ReadU(string path) => ulong.Parse(Read(path));

    public void Write(string path, string text) => Kernel.WriteText(path, text);

    public void State(string cmd) => Write(K0 + "/state", cmd);

    public Errno ErrnoOf(Action a)
    {
        try
        {
            a();
            return Errno.None;
        }
        catch (KernelIoException e)
        {
            return e.Errno;
        }
    }

    /// <summary>One kdamond, one context, one target per pid (vaddr), one stat scheme matching everything.</summary>
    public void ConfigureVaddr(params int[] pids)
    {
        Write(Roots.Kdamonds + "/nr_kdamonds", "1");
        Write(K0 + "/contexts/nr_contexts", "1");
        Write(C0 + "/operations", "vaddr");
        Write(C0 + "/targets/nr_targets", pids.Length.ToString());
        for (int i = 0; i < pids.Length; i++)
        {
            Write($"{C0}/targets/{i}/pid_target", pids[i].ToString());
        }

        Write(C0 + "/schemes/nr_schemes", "1");
        MatchEverything(S0);
    }

    public void ConfigurePaddr(ulong start, ulong end)
    {
        Write(Roots.Kdamonds + "/nr_kdamonds", "1");
        Write(K0 + "/contexts/nr_contexts", "1");
        Write(C0 + "/operations", "paddr");
        Write(C0 + "/targets/nr_targets", "1");
        Write(C0 + "/targets/0/regions/nr_regions", "1");
        Write(C0 + "/targets/0/regions/0/end", end.ToString());
        Write(C0 + "/targets/0/regions/0/start", start.ToString());
        Write(C0 + "/schemes/nr_schemes", "1");
        MatchEverything(S0);
    }

    public void MatchEverything(string scheme)
    {
        Write(scheme + "/access_pattern/sz/max", MatchAllMaxSz);
        Write(scheme + "/access_pattern/nr_accesses/max", MatchAllMaxCount);
        Write(scheme + "/access_pattern/age/max", MatchAllMaxCount);
    }

    public void EnableAggregatedTrace(string instance = "")
    {
        string root = instance.Length == 0 ? Roots.Tracefs : Roots.Tracefs + "/instances/" + instance;
        Write(root + "/events/damon/damon_aggregated/enable", "1");
    }

    public static string Drain(Stream s)
    {
        var sb = new StringBuilder();
        byte[] buf = new byte[65536];
        int n;
        while ((n = s.Read(buf, 0, buf.Length)) > 0)
        {
            sb.Append(Encoding.ASCII.GetString(buf, 0, n));
        }

        return sb.ToString();
    }

    /// <summary>The tried regions as (name, start, end, nr_accesses, age).</summary>
    public List<(int Name, ulong Start, ulong End, uint Nr, uint Age)> TriedRegions(string scheme)
    {
        var list = new List<(int, ulong, ulong, uint, uint)>();
        string dir = scheme + "/tried_regions";
        foreach (string name in Kernel.ListDirectory(dir).Where(n => n != "total_bytes"))
        {
            string r = dir + "/" + name;
            list.Add((int.Parse(name), ReadU(r + "/start"), ReadU(r + "/end"), (uint)ReadU(r + "/nr_accesses"), (uint)ReadU(r + "/age")));
        }

        list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return list;
    }

    // The tolerant line regex of docs/damon-tracepoints.md: an independent check of the hand-written parser.
    [GeneratedRegex(@"^\s*(?<comm>.+?)-(?<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?<cpu>\d+)\]\s+(?:(?<flags>\S{4,5})\s+)?(?<ts>\d+\.\d+):\s+(?<event>\w+):\s+(?<body>.*)$")]
    public static partial Regex LineRegex();

    [GeneratedRegex(@"^target_id=(\d+) nr_regions=(\d+) (\d+)-(\d+): (\d+)(?: (\d+))?$")]
    public static partial Regex AggregatedBody();

    [GeneratedRegex(@"^ctx_idx=(\d+) scheme_idx=(\d+) target_idx=(\d+) nr_regions=(\d+) (\d+)-(\d+): (\d+) (\d+)$")]
    public static partial Regex BeforeApplyBody();

    public sealed record AggLine(string Comm, int Pid, string Flags, string Ts, int Target, int NrRegions, ulong Start, ulong End, uint Nr, uint Age);

    public static List<AggLine> ParseAggregated(string text)
    {
        var list = new List<AggLine>();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Match m = LineRegex().Match(line);
            Assert.True(m.Success, "line does not match the reference regex: " + line);
            if (m.Groups["event"].Value != "damon_aggregated")
            {
                continue;
            }

            Match b = AggregatedBody().Match(m.Groups["body"].Value);
            Assert.True(b.Success, "body does not match: " + line);
            list.Add(new AggLine(
                m.Groups["comm"].Value,
                int.Parse(m.Groups["pid"].Value),
                m.Groups["flags"].Value,
                m.Groups["ts"].Value,
                int.Parse(b.Groups[1].Value),
                int.Parse(b.Groups[2].Value),
                ulong.Parse(b.Groups[3].Value),
                ulong.Parse(b.Groups[4].Value),
                uint.Parse(b.Groups[5].Value),
                uint.Parse(b.Groups[6].Value)));
        }

        return list;
    }
}
