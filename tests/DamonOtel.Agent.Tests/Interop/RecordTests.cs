using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using DamonOtel.Agent.Cli;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Interop;
using DamonOtel.Analysis;
using DamonOtel.Analysis.Reports;
using DamonOtel.Damon.Sysfs;
using Microsoft.Extensions.Logging.Abstractions;

namespace DamonOtel.Agent.Tests.Interop;

/// <summary>
/// `damon-otel record` checked by real damo: damo's reports on the record give the working set
/// and idle-time percentiles `damon-otel snapshot` gives for the same regions, and damo's
/// heatmap renders records of either source. The region sets are made the same, not just
/// similar: a one-snapshot tried_regions record leaves its regions in sysfs, where the snapshot
/// command's reader (without refresh, as `snapshot --no-refresh`) finds them unchanged.
/// </summary>
[Collection(DamoCollection.Name)]
public sealed partial class RecordTests
{
    private static readonly int[] DamoPercentiles = [0, 1, 25, 50, 75, 99, 100];

    [Theory]
    [InlineData("3.4.1", "system")]
    [InlineData("3.4.1", "steady")]
    [InlineData("2.8.3", "system")]
    public async Task Damo_reports_the_working_set_and_idle_percentiles_snapshot_reports(string version, string kdamond)
    {
        string dir = DamoSandbox.TempDir();
        await using SimulatedAgent sim = await SimulatedAgent.StartAsync("steady", new AgentConfig(), NullLoggerFactory.Instance, CancellationToken.None);
        int index = sim.Manager.Owned.Single(m => m.Config.Name == kdamond).Index;

        // One snapshot through tried_regions: the regions stay in sysfs.
        var recorder = new RegionRecorder(sim.Env, sim.Manager.Commands, _ => true);
        RecordResult record = await recorder.RecordAsync(new RecordRequest(kdamond, index, TimeSpan.FromSeconds(30), RecordSource.TriedRegions, MaxSnapshots: 1), CancellationToken.None);
        RecordFile.Write(Path.Combine(dir, "damon.data"), record);

        // What `damon-otel snapshot --no-refresh --format json` prints for them.
        var taker = new SnapshotTaker(sim.Env, AccessOptions.Default, commands: null, writable: new HashSet<int>());
        SnapshotReportTarget target = (await taker.TakeAsync(CancellationToken.None)).Single(t => t.Kdamond == index);
        JsonElement snapshot = JsonDocument.Parse(SnapshotReport.ToJson([target])).RootElement.GetProperty("targets")[0];
        Assert.Equal(record.Snapshots[0].Snapshot.Regions.Length, snapshot.GetProperty("regions").GetInt32());

        DamoSandbox.Result wss = DamoSandbox.Run(version, dir, "report", "wss", "--input", "damon.data", "--raw_number", "--exclude_samples", "0");
        Assert.True(wss.ExitCode == 0, wss.ToString());
        ulong workingSet = snapshot.GetProperty("working_set_bytes").GetUInt64();
        Assert.True(workingSet > 0, "the steady workload's hot set is accessed");
        Assert.Contains($"# avr:\t{workingSet}\n", wss.StdOut, StringComparison.Ordinal);

        DamoSandbox.Result access = DamoSandbox.Run(version, dir, "report", "access", version.StartsWith("2.", StringComparison.Ordinal) ? "--input_file" : "--input", "damon.data", "--style", "recency-percentiles", "--raw_number");
        Assert.True(access.ExitCode == 0, access.ToString());
        Dictionary<int, ulong> idle = PercentileLine().Matches(access.StdOut).ToDictionary(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m => ulong.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        JsonElement ours = snapshot.GetProperty("idle_time_percentiles_us");
        foreach (int p in DamoPercentiles)
        {
            ulong expected = ours.GetProperty(p.ToString(CultureInfo.InvariantCulture)).GetUInt64();
            Assert.True(idle.TryGetValue(p, out ulong printed) && printed == expected, $"p{p}: snapshot says {expected} us, damo printed {(idle.TryGetValue(p, out ulong v) ? v : "nothing")}\n{access.StdOut}");
        }

        Assert.True(idle[100] > idle[0], "a spread of idle times, not a flat line:\n" + access.StdOut);
        ulong bandwidth = ulong.Parse(BandwidthLine().Match(access.StdOut).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(bandwidth - snapshot.GetProperty("bandwidth_bytes_per_second").GetDouble()) < 1, $"bandwidth: damo {bandwidth}, snapshot {snapshot.GetProperty("bandwidth_bytes_per_second")}");
    }

    [Fact]
    public async Task A_tracepoint_record_has_every_aggregation_and_damos_wss_of_it()
    {
        string dir = DamoSandbox.TempDir();
        await using SimulatedAgent sim = await SimulatedAgent.StartAsync("zigzag", new AgentConfig(), NullLoggerFactory.Instance, CancellationToken.None);
        int index = sim.Manager.Owned.Single(m => m.Config.Name == "zigzag").Index;
        var recorder = new RegionRecorder(sim.Env, commands: null, _ => false);   // passive: writes nothing
        RecordResult record = await recorder.RecordAsync(new RecordRequest("zigzag", index, TimeSpan.FromSeconds(3), RecordSource.Tracepoint), CancellationToken.None);
        RecordFile.Write(Path.Combine(dir, "damon.data"), record);

        // About one snapshot per 100 ms aggregation, back to back.
        Assert.InRange(record.Snapshots.Count, 25, 31);
        ulong[] ends = [.. record.Snapshots.Select(s => s.EndTimeNs)];
        Assert.All(ends.Zip(ends.Skip(1)), p => Assert.Equal(100_000_000UL, p.Second - p.First));

        // damo's WSS distribution over all of them is the summarizer's over the same regions.
        var summarizer = new AccessSummarizer(AccessOptions.Default);
        ulong[] sorted = [.. record.Snapshots.Select(s => summarizer.Summarize(s.Snapshot.Regions, s.Snapshot.Intervals, 1).WorkingSetBytes).Order()];
        DamoSandbox.Result wss = DamoSandbox.Run("3.4.1", dir, "report", "wss", "--input", "damon.data", "--raw_number", "--exclude_samples", "0");
        Assert.True(wss.ExitCode == 0, wss.ToString());
        Dictionary<int, ulong> printed = PercentileLine().Matches(wss.StdOut).ToDictionary(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m => ulong.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        foreach (int p in (int[])[0, 25, 50, 75, 100])
        {
            Assert.Equal(sorted[Math.Min(p * sorted.Length / 100, sorted.Length - 1)], printed[p]);
        }

        // zigzag's hot set (64 MiB to begin with) is the working set of every snapshot.
        Assert.All(sorted, w => Assert.InRange(w, 60UL << 20, 300UL << 20));
    }

    [Theory]
    [InlineData("stairs", "tracepoint")]
    [InlineData("system", "tried_regions")]
    public async Task Damo_heatmap_renders_a_record_of_the_command(string kdamond, string source)
    {
        string dir = DamoSandbox.TempDir();
        string file = Path.Combine(dir, "damon.data");
        (int code, string stdout, string stderr) = await CliTests.Run("record", "--simulate", "stairs", "--kdamond", kdamond, "--duration", "2s", "--source", source, "--output", file);
        Assert.True(code == 0, stderr);
        Assert.Contains($"of kdamond {kdamond} (1 target(s))", stdout, StringComparison.Ordinal);
        Assert.Equal("600", Stat("%a", file));

        foreach (string version in (string[])["3.4.1", "2.8.3"])
        {
            DamoSandbox.Result raw = DamoSandbox.Run(version, dir, "report", "heatmap", "--input", "damon.data", "--output", "raw", "--resol", "10", "8");
            Assert.True(raw.ExitCode == 0 && !raw.StdErr.Contains("Traceback", StringComparison.Ordinal), raw.ToString());
            string[] rows = raw.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(80, rows.Length);
            Assert.Contains(rows, r => double.TryParse(r.Split('\t')[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double heat) && heat > 0);
        }

        // And the picture itself (what a person runs).
        DamoSandbox.Result picture = DamoSandbox.Run("3.4.1", dir, "report", "heatmap", "--input", "damon.data");
        Assert.True(picture.ExitCode == 0 && picture.StdOut.Contains("# x-axis: space", StringComparison.Ordinal), picture.ToString());
    }

    /// <summary>stat(1)'s view of a file (mode, owner), as an operator would check it.</summary>
    internal static string Stat(string format, string path)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("stat") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(format);
        psi.ArgumentList.Add(path);
        using var stat = System.Diagnostics.Process.Start(psi)!;
        string output = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return output;
    }

    [GeneratedRegex(@"^\s*(\d+)\s+(\d+)\s+\|", RegexOptions.Multiline)]
    private static partial Regex PercentileLine();

    [GeneratedRegex(@"^memory bw estimate: (\d+) per second", RegexOptions.Multiline)]
    private static partial Regex BandwidthLine();
}
