using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using DamonOtel.Analysis;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Benchmarks;

/// <summary>
/// The cost of mapped-only numbers for one vaddr process (TargetMerger's work per snapshot):
/// 1,000 DAMON regions over an address space of 1,000 mappings separated by gaps, clipped to
/// the mappings and then summarised, against summarising the regions as they are. Parsing the
/// maps text is measured apart: the agent re-reads it at most once per ops update interval.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[Config(typeof(TraceCpuClockConfig))]
public class MappedOnlyBenchmarks
{
    private static readonly Intervals Intervals = new(5_000, 100_000, 1_000_000);
    private DamonRegion[] regions = [];
    private AddressRange[] mapped = [];
    private string mapsText = "";
    private readonly List<AddressRange> parsed = [];
    private readonly List<DamonRegion> clipped = [];
    private AccessSummarizer summarizer = null!;
    private AccessSummary summary = null!;

    [GlobalSetup]
    public void Setup()
    {
        // 1,000 mappings of 4 KiB..4 MiB, each followed by a gap of 4 KiB..64 MiB (a ---p line
        // every 10th, as reservations), and 1,000 regions of equal span over the whole range:
        // most regions hold parts of one or two mappings and some gap.
        var rnd = new Random(42);
        var sb = new StringBuilder();
        var ranges = new List<AddressRange>();
        ulong addr = 0x5555_0000_0000;
        for (int i = 0; i < 1000; i++)
        {
            ulong size = (ulong)rnd.Next(1, 1024) * 4096;
            ranges.Add(new AddressRange(addr, addr + size));
            sb.Append(CultureInfo.InvariantCulture, $"{addr:x}-{addr + size:x} rw-p 00000000 00:00 0\n");
            addr += size;
            ulong gap = (ulong)rnd.Next(1, 16384) * 4096;
            if (i % 10 == 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{addr:x}-{addr + gap:x} ---p 00000000 00:00 0\n");
            }

            addr += gap;
        }

        mapped = [.. ranges];
        mapsText = sb.ToString();
        ulong start = ranges[0].Start, span = (addr - start) / 1000 / 4096 * 4096;
        regions = new DamonRegion[1000];
        for (int i = 0; i < regions.Length; i++)
        {
            bool hot = rnd.NextDouble() < 0.3;
            regions[i] = new DamonRegion(start + ((ulong)i * span), start + ((ulong)(i + 1) * span), hot ? (uint)rnd.Next(1, 21) : 0, (uint)rnd.Next(0, 1000));
        }

        summarizer = new AccessSummarizer(new AccessOptions());
        summary = summarizer.CreateSummary();
        clipped.Capacity = 4096;
    }

    /// <summary>damo's numbers: the regions as they are.</summary>
    [Benchmark(Baseline = true)]
    public ulong SummarizeRaw()
    {
        summarizer.SummarizeInto(regions, Intervals, 1, summary);
        return summary.WorkingSetBytes;
    }

    /// <summary>Mapped only: clip the regions to the mappings, then summarise the parts.</summary>
    [Benchmark]
    public ulong ClipAndSummarize()
    {
        clipped.Clear();
        ulong unmapped = MappedRanges.Clip(regions, mapped, clipped);
        summarizer.SummarizeInto(CollectionsMarshal.AsSpan(clipped), Intervals, 1, summary);
        return summary.WorkingSetBytes + unmapped;
    }

    /// <summary>Parsing 1,100 lines of maps text (once per ops update interval, not per snapshot).</summary>
    [Benchmark]
    public int ParseMaps()
    {
        MappedRanges.Parse(mapsText, parsed);
        return parsed.Count;
    }
}
