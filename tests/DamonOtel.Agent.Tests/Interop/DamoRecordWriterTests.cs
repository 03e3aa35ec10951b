using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using DamonOtel.Agent.Interop;
using DamonOtel.Damon.Model;

namespace DamonOtel.Agent.Tests.Interop;

/// <summary>
/// Writes a record with <see cref="DamoRecordWriter"/> and has real damo read it. The expected
/// figures are computed here from the region layout, with the definitions in
/// docs/damo-interop.md, never with the code under test.
/// </summary>
[Collection(DamoCollection.Name)]
public sealed partial class DamoRecordWriterTests
{
    private const ulong MiB = 1UL << 20;
    private const ulong Base = 1UL << 30;          // regions start at 1 GiB
    private const ulong Span = 1024 * MiB;
    private const int NrSnapshots = 25;
    private const ulong T0Ns = 2_000_000_000_000;  // first snapshot starts 2000 s after boot
    private static readonly Intervals Attrs = new(5_000, 100_000, 1_000_000);

    // (size, nr_accesses in samples, age in aggregation intervals) of snapshot i, in address order.
    private static (ulong Size, uint Samples, uint Age)[] Layout(int i)
    {
        ulong hot = 32 * MiB * (ulong)(1 + (i % 3));
        ulong warm = 8 * MiB * (ulong)(1 + (i % 4));
        return
        [
            (hot, 20, 2),
            (warm, 3, 1),
            (256 * MiB, 0, (uint)(5 * (i + 2))),
            (Span - hot - warm - (256 * MiB), 0, (uint)(300 + i)),
        ];
    }

    private static ulong WorkingSet(int i) => Layout(i).Where(r => r.Samples >= 1).Aggregate(0UL, (sum, r) => sum + r.Size);

    private static string WriteRecord(string dir)
    {
        var snapshots = new List<DamoRecordSnapshot>();
        for (int i = 0; i < NrSnapshots; i++)
        {
            var regions = new List<DamonRegion>();
            ulong addr = Base;
            foreach ((ulong size, uint samples, uint age) in Layout(i))
            {
                regions.Add(new DamonRegion(addr, addr + size, samples, age));
                addr += size;
            }

            var snapshot = new RegionSnapshot(0, 0, 0, Attrs, [.. regions], 1, 0);
            snapshots.Add(new DamoRecordSnapshot(snapshot, T0Ns + ((ulong)(i + 1) * Attrs.AggrUs * 1000)));
        }

        string path = Path.Combine(dir, "damon.data");
        using (FileStream file = File.Create(path))
        {
            DamoRecordWriter.WriteCompressed(file, snapshots);
        }

        return path;
    }

    [Fact]
    public void The_record_is_zlib_over_a_json_list_of_records()
    {
        string dir = DamoSandbox.TempDir();
        string path = WriteRecord(dir);

        // damo picks its parser from `file -b`.
        var psi = new ProcessStartInfo("file") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-b");
        psi.ArgumentList.Add(path);
        using (Process file = Process.Start(psi)!)
        {
            string type = file.StandardOutput.ReadToEnd().Trim();
            file.WaitForExit();
            Assert.Equal("zlib compressed data", type);
        }

        using FileStream stream = File.OpenRead(path);
        using var zlib = new ZLibStream(stream, CompressionMode.Decompress);
        using JsonDocument doc = JsonDocument.Parse(zlib);
        JsonElement record = Assert.Single(doc.RootElement.EnumerateArray().ToList());
        Assert.Equal(0, record.GetProperty("target_id").GetInt32());
        Assert.Equal(100_000UL, record.GetProperty("intervals").GetProperty("aggr_us").GetUInt64());
        JsonElement first = record.GetProperty("snapshots")[0];
        Assert.Equal(T0Ns, first.GetProperty("start_time").GetUInt64());
        Assert.Equal(T0Ns + 100_000_000, first.GetProperty("end_time").GetUInt64());
        JsonElement hot = first.GetProperty("regions")[0];
        Assert.Equal(Base, hot.GetProperty("start").GetUInt64());
        Assert.Equal(20, hot.GetProperty("nr_accesses").GetProperty("samples").GetInt32());
        Assert.Equal(100, hot.GetProperty("nr_accesses").GetProperty("percent").GetInt32());
        Assert.Equal(200_000UL, hot.GetProperty("age").GetProperty("usec").GetUInt64());
        Assert.Equal(Span, first.GetProperty("total_bytes").GetUInt64());
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public void Damo_report_wss_gives_the_working_set_distribution_of_the_regions(string version)
    {
        string dir = DamoSandbox.TempDir();
        WriteRecord(dir);

        DamoSandbox.Result all = DamoSandbox.Run(version, dir, "report", "wss", "--input", "damon.data", "--raw_number", "--exclude_samples", "0", "--range", "0", "101", "5");
        Assert.True(all.ExitCode == 0, all.ToString());
        AssertWssDistribution(Enumerable.Range(0, NrSnapshots).Select(WorkingSet).ToList(), all.StdOut, Enumerable.Range(0, 21).Select(p => p * 5));

        // By default damo skips the first 20 snapshots.
        DamoSandbox.Result tail = DamoSandbox.Run(version, dir, "report", "wss", "--input", "damon.data", "--raw_number");
        Assert.True(tail.ExitCode == 0, tail.ToString());
        AssertWssDistribution(Enumerable.Range(20, NrSnapshots - 20).Select(WorkingSet).ToList(), tail.StdOut, [0, 25, 50, 75, 100]);
    }

    private static void AssertWssDistribution(List<ulong> wss, string output, IEnumerable<int> percentiles)
    {
        // damo: average of the snapshots' WSS (printed truncated); percentile p = the
        // (int)(p × N / 100)-th smallest, the last one for p = 100.
        ulong[] sorted = [.. wss.Order()];
        ulong average = wss.Aggregate(0UL, (a, b) => a + b) / (ulong)wss.Count;
        Assert.Contains($"# avr:\t{average}", output, StringComparison.Ordinal);
        Dictionary<int, ulong> printed = WssLine().Matches(output).ToDictionary(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m => ulong.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        foreach (int p in percentiles)
        {
            int index = Math.Min(p * sorted.Length / 100, sorted.Length - 1);
            Assert.True(printed.TryGetValue(p, out ulong value), $"damo printed no p{p}:\n{output}");
            Assert.True(sorted[index] == value, $"p{p}: expected {sorted[index]}, damo printed {value}\n{output}");
        }
    }

    [Theory]
    [InlineData("2.8.3", "--input_file")]
    [InlineData("3.4.1", "--input")]
    public void Damo_report_access_gives_each_snapshots_idle_percentiles_and_bandwidth(string version, string inputFlag)
    {
        string dir = DamoSandbox.TempDir();
        WriteRecord(dir);
        DamoSandbox.Result result = DamoSandbox.Run(version, dir, "report", "access", inputFlag, "damon.data", "--style", "recency-percentiles", "--raw_number");
        Assert.True(result.ExitCode == 0, result.ToString());

        // One block per snapshot: "<percentile> <idle time (us)>" lines, then the bandwidth estimate.
        var blocks = new List<Dictionary<int, ulong>>();
        var bandwidths = new List<ulong>();
        foreach (string line in result.StdOut.Split('\n'))
        {
            if (line.StartsWith("<percentile>", StringComparison.Ordinal))
            {
                blocks.Add([]);
            }
            else if (PercentileLine().Match(line) is { Success: true } m && blocks.Count > 0)
            {
                blocks[^1][int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)] = ulong.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
            else if (BandwidthLine().Match(line) is { Success: true } bw)
            {
                bandwidths.Add(ulong.Parse(bw.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        }

        Assert.True(blocks.Count == NrSnapshots, $"expected {NrSnapshots} snapshots:\n{result.StdOut}");
        Assert.Equal(NrSnapshots, bandwidths.Count);
        for (int i = 0; i < NrSnapshots; i++)
        {
            var layout = Layout(i);
            // Idle time of a byte: 0 if its region was accessed, else (age + 1) aggregation intervals.
            var byIdle = layout.Select(r => (r.Size, Idle: r.Samples > 0 ? 0UL : (r.Age + 1UL) * Attrs.AggrUs)).OrderBy(r => r.Idle).ToList();
            foreach (int p in (int[])[0, 1, 25, 50, 75, 99, 100])
            {
                // The first region whose cumulative share of the bytes reaches p %.
                ulong cumulative = 0, expected = byIdle[^1].Idle;
                foreach ((ulong size, ulong idle) in byIdle)
                {
                    cumulative += size;
                    if (cumulative * 100 >= (ulong)p * Span)
                    {
                        expected = idle;
                        break;
                    }
                }

                Assert.True(blocks[i].TryGetValue(p, out ulong printed) && printed == expected, $"snapshot {i} p{p}: expected {expected} µs, damo printed {(blocks[i].TryGetValue(p, out ulong v) ? v : "nothing")}");
            }

            // Σ size × samples per second of aggregation.
            ulong expectedBw = layout.Aggregate(0UL, (sum, r) => sum + (r.Size * r.Samples)) * 1_000_000 / Attrs.AggrUs;
            Assert.Equal(expectedBw, bandwidths[i]);
        }
    }

    [Fact]
    public void Damo_3_heatmap_shows_each_pixels_access_frequency()
    {
        string dir = DamoSandbox.TempDir();
        WriteRecord(dir);
        const int Columns = 16;
        ulong columnBytes = Span / Columns;
        DamoSandbox.Result result = DamoSandbox.Run("3.4.1", dir, "report", "heatmap", "--input", "damon.data", "--output", "raw",
            "--time_range", T0Ns.ToString(CultureInfo.InvariantCulture), (T0Ns + (NrSnapshots * Attrs.AggrUs * 1000)).ToString(CultureInfo.InvariantCulture),
            "--address_range", Base.ToString(CultureInfo.InvariantCulture), (Base + Span).ToString(CultureInfo.InvariantCulture),
            "--resol", NrSnapshots.ToString(CultureInfo.InvariantCulture), Columns.ToString(CultureInfo.InvariantCulture));
        Assert.True(result.ExitCode == 0, result.ToString());

        string[] rows = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(NrSnapshots * Columns, rows.Length);
        foreach (string row in rows)
        {
            string[] f = row.Split('\t');
            int i = (int)(ulong.Parse(f[0], CultureInfo.InvariantCulture) / (Attrs.AggrUs * 1000));
            ulong columnStart = Base + ulong.Parse(f[1], CultureInfo.InvariantCulture);
            double heat = double.Parse(f[2], CultureInfo.InvariantCulture);

            // One row per snapshot: the pixel's heat is the accesses per second of its regions,
            // weighted by how much of the column each covers.
            double expected = 0;
            ulong addr = Base;
            foreach ((ulong size, uint samples, _) in Layout(i))
            {
                if (addr + size > columnStart && addr < columnStart + columnBytes)
                {
                    ulong overlap = Math.Min(addr + size, columnStart + columnBytes) - Math.Max(addr, columnStart);
                    expected += samples / (Attrs.AggrUs / 1e6) * overlap / columnBytes;
                }

                addr += size;
            }

            Assert.True(Math.Abs(heat - expected) <= 1e-9 * Math.Max(1, expected), $"row {i}, column at {columnStart}: expected {expected}, damo printed {heat}");
        }
    }

    [Fact]
    public void Damo_2_heatmap_renders_the_record()
    {
        // 2.8.3's heat values are wrong for regions older than one aggregation (it never advances
        // its previous-snapshot marker; docs/damo-interop.md), so only the rendering is checked.
        string dir = DamoSandbox.TempDir();
        WriteRecord(dir);
        DamoSandbox.Result result = DamoSandbox.Run("2.8.3", dir, "report", "heatmap", "--input", "damon.data", "--output", "raw", "--resol", "10", "8");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(80, result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.DoesNotContain("Traceback", result.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public void Damo_3_uses_each_snapshots_own_intervals_when_they_are_auto_tuned()
    {
        // An auto-tuned kdamond: the kernel doubled the sampling interval (and with it the
        // aggregation interval) between the two snapshots.
        string dir = DamoSandbox.TempDir();
        Intervals before = new(5_000, 100_000, 1_000_000), after = new(10_000, 200_000, 1_000_000);
        DamonRegion[] regions = [new(Base, Base + (64 * MiB), 20, 4), new(Base + (64 * MiB), Base + Span, 0, 30)];
        DamoRecordSnapshot[] snapshots =
        [
            new(new RegionSnapshot(0, 0, 0, before, regions, 1, 0), T0Ns + 100_000_000),
            new(new RegionSnapshot(0, 0, 0, after, regions, 1, 0), T0Ns + 300_000_000),
        ];
        using (FileStream file = File.Create(Path.Combine(dir, "damon.data")))
        {
            DamoRecordWriter.WriteCompressed(file, snapshots, new IntervalsGoal(400, 3, 5_000, 10_000_000));
        }

        DamoSandbox.Result result = DamoSandbox.Run("3.4.1", dir, "report", "access", "--input", "damon.data", "--raw_number");
        Assert.True(result.ExitCode == 0, result.ToString());
        // damo prints "intervals: sample S aggr A (max access hz H)" and, per region, its access
        // rate in Hz (samples per aggregation second) and age in µs (age × aggregation interval).
        Assert.Equal(
            ["intervals: sample 5000 aggr 100000", "intervals: sample 10000 aggr 200000"],
            result.StdOut.Split('\n').Where(l => l.StartsWith("intervals:", StringComparison.Ordinal)).Select(l => l.Split(" (", 2)[0]));
        Assert.Equal(
            [(200.0, 400_000UL), (100.0, 800_000UL)],
            result.StdOut.Split('\n').Select(l => RegionLine().Match(l)).Where(m => m.Success && m.Groups[1].Value == Base.ToString(CultureInfo.InvariantCulture))
                .Select(m => (double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), ulong.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture))));
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public void Damo_validate_accepts_the_record(string version)
    {
        string dir = DamoSandbox.TempDir();
        WriteRecord(dir);
        DamoSandbox.Result result = DamoSandbox.Run(version, dir, "validate", "--input", "damon.data");
        Assert.True(result.ExitCode == 0 && result.StdOut.Trim().Length == 0, result.ToString());
    }

    [GeneratedRegex(@"^\s*(\d+)\s+(\d+)\s+\|", RegexOptions.Multiline)]
    private static partial Regex WssLine();

    [GeneratedRegex(@"^\s*(\d+)\s+(\d+)\s+\|")]
    private static partial Regex PercentileLine();

    [GeneratedRegex(@"^memory bw estimate: (\d+) per second")]
    private static partial Regex BandwidthLine();

    // "0   addr 1073741824   size 67108864    access 200.000000 age 400000"
    [GeneratedRegex(@"^\d+\s+addr (\d+)\s+size \d+\s+access ([\d.]+) age (\d+)")]
    private static partial Regex RegionLine();
}
