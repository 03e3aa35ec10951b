using System.Text.Json;
using System.Text.RegularExpressions;

namespace DamonOtel.Agent.Tests;

/// <summary>
/// `damon-otel status`, the binary, on the kernel fixture trees: golden JSON and text (the JSON
/// is a documented contract: docs/status.md), the agent's relation to each kdamond, and that it
/// writes nothing. UPDATE_GOLDEN=1 rewrites the golden files.
/// </summary>
public sealed partial class StatusTests
{
    private const string StatusDoc = "docs/status.md";

    /// <summary>The 6.18 fixture as the agent's own kdamond "system" (its record names kdamond 0 and its thread, pid 77), with one configured scheme.</summary>
    private static (string Root, string[] Args) OwnedFixture()
    {
        string root = CliTests.CopyFixture("linux-6.18");
        string state = Path.Combine(root, "state");
        Directory.CreateDirectory(state);
        File.WriteAllText(Path.Combine(state, "kdamonds.json"), """{"agent_pid": 4242, "kdamonds": [{"index": 0, "name": "system", "kdamond_pid": 77, "spec_hash": "0123456789ABCDEF"}]}""");
        Directory.CreateDirectory(Path.Combine(root, "proc", "4242"));   // the agent runs
        string config = Path.Combine(root, "config.yaml");
        File.WriteAllText(config, """
            attach: {refresh: true}
            kdamonds:
              - name: system
                operations: paddr
                schemes:
                  - name: cold-pageout
                    action: pageout
                    access_pattern: {access_rate: {min: 0%, max: 0%}}
            """);
        return (root, ["--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc"), "--state-dir", state, "--config", config]);
    }

    private static string Normalize(string output, string root) => output.Replace(root, "ROOT", StringComparison.Ordinal);

    [Fact]
    public async Task Json_of_the_agents_own_kdamond_matches_the_golden_file_and_writes_nothing()
    {
        (string root, string[] args) = OwnedFixture();
        string before = CliTests.TreeHash(root);
        (int code, string stdout, string stderr) = await CliTests.Run(["status", "--format", "json", .. args]);
        Assert.True(code == 0, stderr);
        Golden("status-linux-6.18-owned.json", Normalize(stdout, root));
        Assert.Equal(before, CliTests.TreeHash(root));

        JsonElement k = JsonDocument.Parse(stdout).RootElement.GetProperty("kdamonds")[0];
        Assert.Equal(("system", "owned", "agent"), (k.GetProperty("name").GetString(), k.GetProperty("agent").GetString(), k.GetProperty("stats_refreshed_by").GetString()));
        JsonElement schemes = k.GetProperty("contexts")[0].GetProperty("schemes");
        Assert.Equal("cold-pageout", schemes[0].GetProperty("name").GetString());
        // The second scheme has an addr filter and a quota goal: not a plain monitoring scheme.
        Assert.Equal((JsonValueKind.Null, "scheme"), (schemes[1].GetProperty("name").ValueKind, schemes[1].GetProperty("role").GetString()));
    }

    [Fact]
    public async Task Text_resembles_damo_report_damon()
    {
        (string root, string[] args) = OwnedFixture();
        (int code, string stdout, string stderr) = await CliTests.Run(["status", .. args]);
        Assert.True(code == 0, stderr);
        Golden("status-linux-6.18-owned.txt", Normalize(stdout, root));
    }

    [Fact]
    public async Task Somebody_elses_kdamond_is_attached_or_ignored()
    {
        string root = CliTests.CopyFixture("linux-6.12");
        string[] args = ["--format", "json", "--sysfs-root", Path.Combine(root, "sys"), "--state-dir", Path.Combine(root, "none")];
        (int code, string stdout, string stderr) = await CliTests.Run(["status", .. args]);
        Assert.True(code == 0, stderr);
        Golden("status-linux-6.12-attached.json", Normalize(stdout, root));
        JsonElement k = JsonDocument.Parse(stdout).RootElement.GetProperty("kdamonds")[0];
        Assert.Equal(("attached", "none"), (k.GetProperty("agent").GetString(), k.GetProperty("stats_refreshed_by").GetString()));
        // Its stat scheme matches everything but has a quota goal: its tried_regions are partial.
        Assert.Equal("scheme", k.GetProperty("contexts")[0].GetProperty("schemes")[0].GetProperty("role").GetString());

        // attach.enabled: false, or a stopped kdamond: ignored.
        string config = Path.Combine(root, "no-attach.yaml");
        File.WriteAllText(config, "attach: {enabled: false}\n");
        (_, stdout, _) = await CliTests.Run(["status", "--config", config, .. args]);
        Assert.Equal("somebody else's; attach.enabled is false", JsonDocument.Parse(stdout).RootElement.GetProperty("kdamonds")[0].GetProperty("agent_reason").GetString());
        File.WriteAllText(Path.Combine(root, "sys/kernel/mm/damon/admin/kdamonds/0/state"), "off\n");
        (_, stdout, _) = await CliTests.Run(["status", .. args]);
        Assert.Equal(("ignored", "not running"), (JsonDocument.Parse(stdout).RootElement.GetProperty("kdamonds")[0].GetProperty("agent").GetString(), JsonDocument.Parse(stdout).RootElement.GetProperty("kdamonds")[0].GetProperty("agent_reason").GetString()));
    }

    [Fact]
    public async Task The_simulated_agents_kdamonds_are_owned_with_their_monitoring_schemes()
    {
        (int code, string stdout, string stderr) = await CliTests.Run("status", "--simulate", "--format", "json");
        Assert.True(code == 0, stderr);
        JsonElement root = JsonDocument.Parse(stdout).RootElement;
        Assert.True(root.GetProperty("agent").GetProperty("agent_running").GetBoolean());
        var kdamonds = root.GetProperty("kdamonds").EnumerateArray().ToDictionary(k => k.GetProperty("name").GetString()!);
        Assert.Equal(["steady", "system"], kdamonds.Keys.Order(StringComparer.Ordinal));
        Assert.All(kdamonds.Values, k => Assert.Equal(("owned", "on"), (k.GetProperty("agent").GetString(), k.GetProperty("state").GetString())));
        JsonElement[] schemes = [.. kdamonds["system"].GetProperty("contexts")[0].GetProperty("schemes").EnumerateArray()];
        Assert.Equal([("cold-pageout", "scheme"), (null, "monitor")], schemes.Select(s => (s.GetProperty("name").GetString(), s.GetProperty("role").GetString())));
        // Applied every aggregation since the start: its stats moved (the kernel refreshes them, refresh_ms).
        Assert.Equal("kernel", kdamonds["system"].GetProperty("stats_refreshed_by").GetString());
        Assert.True(schemes[1].GetProperty("stats").GetProperty("nr_tried").GetUInt64() > 0);
    }

    [Fact]
    public void Every_key_of_the_json_is_documented_and_every_documented_key_exists()
    {
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string golden in (string[])["status-linux-6.18-owned.json", "status-linux-6.12-attached.json"])
        {
            Collect(JsonDocument.Parse(File.ReadAllText(RepoRoot.Of("tests", "DamonOtel.Agent.Tests", "Golden", golden))).RootElement, string.Empty, keys);
        }

        string doc = File.ReadAllText(RepoRoot.Of(StatusDoc));
        string table = doc[doc.IndexOf("\n## JSON", StringComparison.Ordinal)..];
        var documented = new SortedSet<string>(DocumentedKey().Matches(table).Select(m => m.Groups[1].Value), StringComparer.Ordinal);
        Assert.True(keys.SetEquals(documented), $"in the JSON, not in {StatusDoc}: [{string.Join(", ", keys.Except(documented))}]; in {StatusDoc}, not in the JSON: [{string.Join(", ", documented.Except(keys))}]");
    }

    private static void Collect(JsonElement e, string path, SortedSet<string> keys)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty p in e.EnumerateObject())
                {
                    string child = path.Length == 0 ? p.Name : path + "." + p.Name;
                    keys.Add(child);
                    Collect(p.Value, child, keys);
                }

                break;
            case JsonValueKind.Array:
                foreach (JsonElement item in e.EnumerateArray())
                {
                    Collect(item, path + "[]", keys);
                }

                break;
            default:
                break;
        }
    }

    private static void Golden(string name, string actual)
    {
        string path = RepoRoot.Of("tests", "DamonOtel.Agent.Tests", "Golden", name);
        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
            return;
        }

        Assert.True(File.Exists(path), $"{path} is missing; create it with: UPDATE_GOLDEN=1 dotnet test tests/DamonOtel.Agent.Tests --filter StatusTests");
        string expected = File.ReadAllText(path);
        if (expected != actual)
        {
            string written = Path.Combine(Path.GetTempPath(), name);
            File.WriteAllText(written, actual);
            Assert.Fail($"{name} differs from the golden file; the output is in {written} (diff -u {path} {written})");
        }
    }

    // docs/status.md's JSON section lists each key as a table row starting with `path`.
    [GeneratedRegex(@"^\| `([a-z_\[\].]+)` \|", RegexOptions.Multiline)]
    private static partial Regex DocumentedKey();
}
