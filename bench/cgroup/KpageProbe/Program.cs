using System.Diagnostics;
using System.Globalization;
using DamonOtel.Damon.Cgroups;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;
using KpageProbe;

// Prototype console for per-cgroup attribution (docs/per-cgroup.md).
//   KpageProbe synthetic [--groups N] [--gib G] [--chunk PAGES] [--regions R] [--k K] [--policy prop|strat] [--cluster C] [--passes P]
//   KpageProbe discover --cgroot DIR --glob G... [--passes P]   time CgroupCatalog.Discover (read-only)
//   KpageProbe maps PID [--regions N] [--passes P]   read /proc/PID/maps, intersect with N vaddr-like regions
//   KpageProbe native --regions FILE --cgroot DIR [--glob G]... [--path P]... [--k K] [--policy prop|strat] [--no-flags] [--passes P]
// native is read-only: it lists and stats cgroup directories and preads /proc/kpagecgroup and /proc/kpageflags.
var inv = CultureInfo.InvariantCulture;
if (args.Length == 0 || args[0] is not ("synthetic" or "native" or "maps" or "discover"))
{
    Console.Error.WriteLine("usage: KpageProbe synthetic|native [options] (see Program.cs)");
    return 2;
}

string Opt(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

List<string> Opts(string name)
{
    var list = new List<string>();
    for (int i = 0; i + 1 < args.Length; i++)
    {
        if (args[i] == name)
        {
            list.Add(args[i + 1]);
        }
    }

    return list;
}

var options = new KpageSamplerOptions
{
    SamplesPerRegion = int.Parse(Opt("--k", "32"), inv),
    Policy = Opt("--policy", "prop") == "strat" ? KpageSamplingPolicy.Stratified : KpageSamplingPolicy.Proportional,
    ClusterPages = int.Parse(Opt("--cluster", "1"), inv),
    ReadFlags = !args.Contains("--no-flags"),
};
int passes = int.Parse(Opt("--passes", "5"), inv);
double[] idleBounds = [0, 5, 30, 60, 300, 900, 3600];
var roots = KernelRoots.Default;
const ulong Aggr = 1_000_000;

if (args[0] == "discover")
{
    var sel = new CgroupSelection(Opts("--path"), Opts("--glob").Select(g => new CgroupPathGlob(g)).ToList(), int.Parse(Opt("--max", "500"), inv));
    for (int p = 0; p < passes; p++)
    {
        TimeSpan c0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        CgroupCatalog cat = CgroupCatalog.Discover(LinuxKernelFs.Instance, LinuxKernelPageFs.Instance, Opt("--cgroot", "/sys/fs/cgroup"), sel);
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - c0).TotalMilliseconds;
        Console.WriteLine(string.Create(inv, $"discover pass={p} groups={cat.Groups.Count} dropped={cat.DroppedByCap} dirs={cat.DirectoriesVisited} ms={sw.Elapsed.TotalMilliseconds:F1} cpu_ms={cpu:F1}"));
    }

    return 0;
}

if (args[0] == "maps")
{
    string mapsPath = roots.Proc(args[1], "maps");
    int nRegions = int.Parse(Opt("--regions", "1000"), inv);
    var ranges = new List<AddressRange>();
    MappedRanges.Parse(LinuxKernelFs.Instance.ReadText(mapsPath), ranges, mapsPath);
    // vaddr-like regions: DAMON's three big areas split evenly (gaps included, as DAMON's are).
    // (the vsyscall page above the user address range is never in DAMON's regions)
    var user = ranges.Where(r => r.End <= 0x8000_0000_0000UL).ToList();
    ulong lo = user[0].Start, hi = user[^1].End;
    var regionsV = new DamonRegion[nRegions];
    for (int r = 0; r < nRegions; r++)
    {
        regionsV[r] = new DamonRegion(lo + ((hi - lo) / (ulong)nRegions * (ulong)r), r == nRegions - 1 ? hi : lo + ((hi - lo) / (ulong)nRegions * (ulong)(r + 1)), 0, 0);
    }

    var perRegion = new ulong[nRegions];
    double readBest = double.MaxValue, parseBest = double.MaxValue, intersectBest = double.MaxValue;
    ulong mappedTotal = 0;
    long alloc = 0;
    for (int p = 0; p < passes; p++)
    {
        var sw = Stopwatch.StartNew();
        string text = LinuxKernelFs.Instance.ReadText(mapsPath);
        readBest = Math.Min(readBest, sw.Elapsed.TotalMilliseconds);
        sw.Restart();
        MappedRanges.Parse(text, ranges, mapsPath);
        parseBest = Math.Min(parseBest, sw.Elapsed.TotalMilliseconds);
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        sw.Restart();
        mappedTotal = MappedRanges.Intersect(regionsV, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ranges), perRegion);
        intersectBest = Math.Min(intersectBest, sw.Elapsed.TotalMilliseconds);
        alloc = GC.GetAllocatedBytesForCurrentThread() - a0;
    }

    Console.WriteLine(string.Create(inv, $"maps pid={args[1]} ranges={ranges.Count} regions={nRegions} mapped_mib={mappedTotal / 1048576.0:F1} span_mib={(hi - lo) / 1048576.0:F1} read_ms={readBest:F3} parse_ms={parseBest:F3} intersect_ms={intersectBest:F3} intersect_alloc_bytes={alloc}"));
    return 0;
}

if (args[0] == "synthetic")
{
    int groups = int.Parse(Opt("--groups", "500"), inv);
    double gib = double.Parse(Opt("--gib", "16"), inv);
    int chunk = int.Parse(Opt("--chunk", "1"), inv);
    int nRegions = int.Parse(Opt("--regions", "1000"), inv);
    var (kernel, regions) = Synthetic.Build(groups, (ulong)(gib * (1UL << 30) / 4096), chunk, nRegions, seed: 42);
    var selection = new CgroupSelection([], [new CgroupPathGlob("kubepods.slice/*/kubepods-*-pod*.slice"), new CgroupPathGlob("kubepods.slice/kubepods-pod*.slice")], groups);
    var sw = Stopwatch.StartNew();
    CgroupCatalog catalog = CgroupCatalog.Discover(kernel, kernel, "/sys/fs/cgroup", selection);
    Console.WriteLine(string.Create(inv, $"catalog groups={catalog.Groups.Count} dropped={catalog.DroppedByCap} dirs={catalog.DirectoriesVisited} ms={sw.Elapsed.TotalMilliseconds:F1}"));
    Console.WriteLine($"example {catalog.Groups[0].RelativePath} -> {catalog.Groups[0].Kubernetes}");
    var exact = Synthetic.Exact(kernel, regions, catalog, idleBounds.Length + 1, Aggr, idleBounds);
    Run(kernel, regions, catalog, exact);
}
else
{
    string regionsFile = Opt("--regions", "");
    string cgroot = Opt("--cgroot", "/sys/fs/cgroup");
    var globs = Opts("--glob").Select(g => new CgroupPathGlob(g)).ToList();
    var selection = new CgroupSelection(Opts("--path"), globs, int.Parse(Opt("--max", "500"), inv));
    DamonRegion[] regions = File.ReadAllLines(regionsFile)
        .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        .Where(f => f.Length >= 4)
        .Select(f => new DamonRegion(ulong.Parse(f[0], inv), ulong.Parse(f[1], inv), uint.Parse(f[2], inv), uint.Parse(f[3], inv)))
        .ToArray();
    var sw = Stopwatch.StartNew();
    CgroupCatalog catalog = CgroupCatalog.Discover(LinuxKernelFs.Instance, LinuxKernelPageFs.Instance, cgroot, selection);
    Console.WriteLine(string.Create(inv, $"catalog groups={catalog.Groups.Count} dropped={catalog.DroppedByCap} dirs={catalog.DirectoriesVisited} ms={sw.Elapsed.TotalMilliseconds:F1}"));
    Run(LinuxKernelPageFs.Instance, regions, catalog, null);
}

return 0;

void Run(IKernelPageFs pageFs, DamonRegion[] regions, CgroupCatalog catalog, Synthetic.ExactResult? exact)
{
    using var sampler = new KpageSampler(pageFs, roots, options);
    var result = new KpageAttribution(idleBounds);
    double best = double.MaxValue;
    long allocated = 0;
    TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    for (int p = 0; p < passes; p++)
    {
        var sw = Stopwatch.StartNew();
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        sampler.Attribute(regions, 1, Aggr, catalog, result);
        best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
        allocated = GC.GetAllocatedBytesForCurrentThread() - a0;
    }

    double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / passes;
    Console.WriteLine(string.Create(inv, $"pass regions={regions.Length} samples={result.Samples} reads={result.Reads} best_ms={best:F2} cpu_ms_per_pass={cpuMs:F2} us_per_read={best * 1000 / Math.Max(1, result.Reads):F2} allocated_bytes_last_pass={allocated}"));
    Console.WriteLine(string.Create(inv, $"machine total_mib={result.TotalBytes / 1048576:F1} free_mib={result.FreeBytes / 1048576:F1} kernel_mib={result.KernelBytes / 1048576:F1} other_cgroups_mib={result.OtherCgroupBytes / 1048576:F1}"));
    var errRes = new List<double>();
    var errWss = new List<double>();
    var errIdle = new List<double>();
    for (int o = 0; o < catalog.Groups.Count; o++)
    {
        int b30 = (o * result.BucketCount) + 2; // le=30
        double idleOver30 = result.IdleLe[(o * result.BucketCount) + result.BucketCount - 1] - result.IdleLe[b30];
        if (exact is not null)
        {
            if (exact.Resident[o] >= 1 << 20)
            {
                errRes.Add(Math.Abs(result.Resident[o] - exact.Resident[o]) / exact.Resident[o]);
            }

            if (exact.Wss[o] >= 1 << 20)
            {
                errWss.Add(Math.Abs(result.WorkingSet[o] - exact.Wss[o]) / exact.Wss[o]);
            }

            if (exact.IdleOver30[o] >= 1 << 20)
            {
                errIdle.Add(Math.Abs(idleOver30 - exact.IdleOver30[o]) / exact.IdleOver30[o]);
            }
        }

        if (o < 5 || exact is null)
        {
            string line = string.Create(inv, $"cgroup {catalog.Groups[o].RelativePath} resident_mib={result.Resident[o] / 1048576:F1} (±{Math.Sqrt(result.ResidentVariance[o]) / 1048576:F1}) anon_mib={result.Anon[o] / 1048576:F1} file_mib={result.File[o] / 1048576:F1} wss_mib={result.WorkingSet[o] / 1048576:F1} idle_gt_30s_mib={idleOver30 / 1048576:F1} idle_p50_s={result.IdlePercentile(o, 50):F0} idle_p90_s={result.IdlePercentile(o, 90):F0}");
            string tail = exact is null ? "" : string.Create(inv, $" | exact resident_mib={exact.Resident[o] / 1048576:F1} wss_mib={exact.Wss[o] / 1048576:F1} idle_gt_30s_mib={exact.IdleOver30[o] / 1048576:F1}");
            Console.WriteLine(line + tail);
        }
    }

    if (exact is not null)
    {
        static string Stats(List<double> e) => e.Count == 0 ? "n/a" : string.Create(CultureInfo.InvariantCulture, $"mean={e.Average() * 100:F2}% p95={e.Order().ElementAt((int)(0.95 * (e.Count - 1))) * 100:F2}% max={e.Max() * 100:F2}% (n={e.Count})");
        Console.WriteLine($"error vs page-exact: resident {Stats(errRes)}; wss {Stats(errWss)}; idle>30s {Stats(errIdle)}");
    }
}
