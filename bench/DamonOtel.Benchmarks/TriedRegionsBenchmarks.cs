using System.Globalization;
using BenchmarkDotNet.Attributes;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Benchmarks;

/// <summary>
/// The hot path of the tried_regions source: one <see cref="DamonSysfsReader.ReadTriedRegions"/>
/// of a 1,000-region tree on tmpfs (/dev/shm), i.e. ~4,000 open/read/close. Compared with
/// bench/c/read_tried_regions.c by bench/run-tried-regions.sh. Set DAMONOTEL_TRIED_TREE to a
/// prefix made by <see cref="TriedRegionsTree.Create"/> (the script does) to share the C program's files.
/// </summary>
[MemoryDiagnoser]
public class TriedRegionsBenchmarks
{
    private string? ownedRoot;
    private DamonSysfsReader reader = null!;

    [GlobalSetup]
    public void Setup()
    {
        string? shared = Environment.GetEnvironmentVariable("DAMONOTEL_TRIED_TREE");
        string root = shared ?? (ownedRoot = TriedRegionsTree.Create(Path.Combine("/dev/shm", "damonotel-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture)), 1000));
        reader = new DamonSysfsReader(LinuxKernelFs.Instance, KernelRoots.Under(root));
        TriedRegions t = reader.ReadTriedRegions(0, 0, 0) ?? throw new InvalidOperationException("no tried_regions under " + root);
        if (t.Regions.Length != 1000)
        {
            throw new InvalidOperationException($"expected 1000 regions, read {t.Regions.Length}");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (ownedRoot is not null)
        {
            Directory.Delete(ownedRoot, recursive: true);
        }
    }

    [Benchmark]
    public int ReadTriedRegions() => reader.ReadTriedRegions(0, 0, 0)!.Regions.Length;
}

/// <summary>Builds a fake sysfs prefix with one scheme's tried_regions (odd names, like 6.14+).</summary>
public static class TriedRegionsTree
{
    public static string Create(string root, int regions)
    {
        string dir = Path.Combine(root, "sys", "kernel", "mm", "damon", "admin", "kdamonds", "0", "contexts", "0", "schemes", "0", "tried_regions");
        Directory.CreateDirectory(dir);
        const ulong Start = 4294967296;
        const ulong Size = 4 << 20;
        for (int i = 0; i < regions; i++)
        {
            string rd = Path.Combine(dir, ((2 * i) + 1).ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(rd);
            ulong s = Start + ((ulong)i * Size);
            File.WriteAllText(Path.Combine(rd, "start"), Line(s));
            File.WriteAllText(Path.Combine(rd, "end"), Line(s + Size));
            File.WriteAllText(Path.Combine(rd, "nr_accesses"), Line((ulong)(i % 21)));
            File.WriteAllText(Path.Combine(rd, "age"), Line((ulong)(i % 97)));
        }

        File.WriteAllText(Path.Combine(dir, "total_bytes"), Line((ulong)regions * Size));
        return root;
    }

    private static string Line(ulong v) => v.ToString(CultureInfo.InvariantCulture) + "\n";
}
