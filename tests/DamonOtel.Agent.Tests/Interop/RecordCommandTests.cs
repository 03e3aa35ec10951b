using DamonOtel.Agent.Interop;
using DamonOtel.Damon.Model;

namespace DamonOtel.Agent.Tests.Interop;

/// <summary>`damon-otel record` without damo: what it refuses, and how it writes its file.</summary>
public sealed class RecordCommandTests
{
    [Fact]
    public async Task Refusals_name_the_problem_and_touch_nothing()
    {
        string root = CliTests.CopyFixture("linux-6.18");
        string before = CliTests.TreeHash(root);
        string output = Path.Combine(root, "out.data");
        string[] roots = ["--sysfs-root", Path.Combine(root, "sys"), "--state-dir", Path.Combine(root, "state")];

        // Somebody else's kdamond: tried_regions would need a write the agent may not make.
        (int code, _, string stderr) = await CliTests.Run(["record", "--kdamond", "0", "--source", "tried_regions", "--duration", "1s", "--output", output, .. roots]);
        Assert.Equal(1, code);
        Assert.Contains("kdamond 0 was not started by this agent", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliTests.Run(["record", "--kdamond", "web", "--output", output, .. roots]);
        Assert.Equal(1, code);
        Assert.Contains("no kdamond named 'web' (no kdamond of the agent's", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliTests.Run(["record", "--kdamond", "0", "--duration", "2h", "--output", output, .. roots]);
        Assert.Equal(2, code);
        Assert.Contains("--duration: must be above 0 and at most 1 h", stderr, StringComparison.Ordinal);

        Assert.False(File.Exists(output));
        Assert.Equal(before, CliTests.TreeHash(root));
    }

    [Fact]
    public async Task A_stopped_kdamond_is_not_recorded()
    {
        string root = CliTests.CopyFixture("linux-6.18");
        File.WriteAllText(Path.Combine(root, "sys/kernel/mm/damon/admin/kdamonds/0/state"), "off\n");
        (int code, _, string stderr) = await CliTests.Run("record", "--kdamond", "0", "--output", Path.Combine(root, "out.data"), "--sysfs-root", Path.Combine(root, "sys"));
        Assert.Equal(1, code);
        Assert.Contains("kdamond 0 (kdamonds/0) is not running", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_file_is_0600_and_replaces_a_symlink_instead_of_following_it()
    {
        string dir = DamoSandbox.TempDir();
        string victim = Path.Combine(dir, "victim");
        File.WriteAllText(victim, "keep me");
        string path = Path.Combine(dir, "damon.data");
        File.CreateSymbolicLink(path, victim);
        var snapshot = new RegionSnapshot(0, 0, 0, new Intervals(5_000, 100_000, 1_000_000), [new DamonRegion(4096, 8192, 3, 1)], 1, 0);
        RecordFile.Write(path, new RecordResult([new DamoRecordSnapshot(snapshot, 1_000_000_000)], RecordSource.Tracepoint, null));

        Assert.Equal("keep me", File.ReadAllText(victim));
        Assert.Null(new FileInfo(path).LinkTarget);
        Assert.Equal("600", RecordTests.Stat("%a", path));
        Assert.Equal(["damon.data", "victim"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
