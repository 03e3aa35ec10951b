using System.Globalization;
using System.Text.Json;

namespace DamonOtel.Agent.Tests.Interop;

/// <summary>
/// `damon-otel status --format json` checked by real damo: on the same sysfs tree, every
/// parameter and statistic `damo report damon --raw` shows has the same value in our view.
/// The tree is the linux-6.12 fixture with every number made distinct (a zero that both tools
/// print proves nothing), the DAMON tree damo's feature probe accepts.
/// </summary>
[Collection(DamoCollection.Name)]
public sealed class StatusDamoTests
{
    private const string KdamondDir = "sys/kernel/mm/damon/admin/kdamonds/0";

    private static string DistinctTree()
    {
        string root = CliTests.CopyFixture("linux-6.12");
        string k = Path.Combine(root, KdamondDir);
        string c = Path.Combine(k, "contexts/0");
        string s = Path.Combine(c, "schemes/0");
        var values = new Dictionary<string, string>
        {
            [Path.Combine(k, "pid")] = "4243",
            [Path.Combine(c, "monitoring_attrs/intervals/sample_us")] = "7000",
            [Path.Combine(c, "monitoring_attrs/intervals/aggr_us")] = "140000",
            [Path.Combine(c, "monitoring_attrs/intervals/update_us")] = "2100000",
            [Path.Combine(c, "monitoring_attrs/nr_regions/min")] = "12",
            [Path.Combine(c, "monitoring_attrs/nr_regions/max")] = "777",
            [Path.Combine(c, "targets/0/pid_target")] = "5151",
            [Path.Combine(c, "targets/0/regions/nr_regions")] = "1",
            [Path.Combine(c, "targets/0/regions/0/start")] = "4096",
            [Path.Combine(c, "targets/0/regions/0/end")] = "1052672",
            [Path.Combine(s, "action")] = "pageout",
            [Path.Combine(s, "apply_interval_us")] = "7000",
            [Path.Combine(s, "access_pattern/sz/min")] = "4096",
            [Path.Combine(s, "access_pattern/sz/max")] = "1048576",
            [Path.Combine(s, "access_pattern/nr_accesses/min")] = "1",
            [Path.Combine(s, "access_pattern/nr_accesses/max")] = "9",
            [Path.Combine(s, "access_pattern/age/min")] = "3",
            [Path.Combine(s, "access_pattern/age/max")] = "50",
            [Path.Combine(s, "quotas/ms")] = "11",
            [Path.Combine(s, "quotas/bytes")] = "2097152",
            [Path.Combine(s, "quotas/reset_interval_ms")] = "1000",
            [Path.Combine(s, "quotas/effective_bytes")] = "1048576",
            [Path.Combine(s, "quotas/weights/sz_permil")] = "100",
            [Path.Combine(s, "quotas/weights/nr_accesses_permil")] = "200",
            [Path.Combine(s, "quotas/weights/age_permil")] = "300",
            [Path.Combine(s, "quotas/goals/0/target_value")] = "1234",
            [Path.Combine(s, "quotas/goals/0/current_value")] = "56",
            [Path.Combine(s, "watermarks/metric")] = "free_mem_rate",
            [Path.Combine(s, "watermarks/interval_us")] = "5000000",
            [Path.Combine(s, "watermarks/high")] = "800",
            [Path.Combine(s, "watermarks/mid")] = "700",
            [Path.Combine(s, "watermarks/low")] = "600",
            [Path.Combine(s, "filters/0/memcg_path")] = "/workload",
            [Path.Combine(s, "filters/0/type")] = "memcg",
            [Path.Combine(s, "stats/nr_tried")] = "7",
            [Path.Combine(s, "stats/sz_tried")] = "28672",
            [Path.Combine(s, "stats/nr_applied")] = "5",
            [Path.Combine(s, "stats/sz_applied")] = "20480",
            [Path.Combine(s, "stats/qt_exceeds")] = "2",
        };
        Directory.CreateDirectory(Path.Combine(c, "targets/0/regions/0"));
        foreach ((string path, string value) in values)
        {
            File.WriteAllText(path, value + "\n");
        }

        return root;
    }

    [Theory]
    [InlineData("2.8.3")]
    [InlineData("3.4.1")]
    public async Task Every_value_damo_report_damon_shows_is_the_same_in_status(string version)
    {
        string root = DistinctTree();
        (int code, string ours, string stderr) = await CliTests.Run("status", "--format", "json", "--sysfs-root", Path.Combine(root, "sys"), "--state-dir", Path.Combine(root, "none"));
        Assert.True(code == 0, stderr);

        string[] json = version.StartsWith("2.", StringComparison.Ordinal) ? ["--json"] : ["--format", "json"];
        DamoSandbox.Result damo = DamoSandbox.RunWith(version, DamoSandbox.TempDir(), ["--probe-features", root, "--fake-root", root], ["report", "damon", .. json, "--raw"]);
        Assert.True(damo.ExitCode == 0, damo.ToString());

        JsonElement dk = JsonDocument.Parse(damo.StdOut).RootElement[0];
        JsonElement ok = JsonDocument.Parse(ours).RootElement.GetProperty("kdamonds")[0];
        var pairs = new List<(string What, string Damo, string Ours)>();
        void Same(string what, JsonElement damoValue, JsonElement ourValue, long ourScale = 1) =>
            pairs.Add((what, Number(damoValue), ourScale == 1 ? Number(ourValue) : (ulong.Parse(Number(ourValue), CultureInfo.InvariantCulture) * (ulong)ourScale).ToString(CultureInfo.InvariantCulture)));

        Same("pid", dk.GetProperty("pid"), ok.GetProperty("pid"));
        JsonElement dc = dk.GetProperty("contexts")[0], oc = ok.GetProperty("contexts")[0];
        Same("ops", dc.GetProperty("ops"), oc.GetProperty("operations"));
        Same("sample_us", dc.GetProperty("intervals").GetProperty("sample_us"), oc.GetProperty("intervals").GetProperty("sample_us"));
        Same("aggr_us", dc.GetProperty("intervals").GetProperty("aggr_us"), oc.GetProperty("intervals").GetProperty("aggr_us"));
        Same("update_us", dc.GetProperty("intervals").GetProperty("ops_update_us"), oc.GetProperty("intervals").GetProperty("update_us"));
        Same("nr_regions.min", dc.GetProperty("nr_regions").GetProperty("min"), oc.GetProperty("nr_regions").GetProperty("min"));
        Same("nr_regions.max", dc.GetProperty("nr_regions").GetProperty("max"), oc.GetProperty("nr_regions").GetProperty("max"));
        JsonElement dt = dc.GetProperty("targets")[0], ot = oc.GetProperty("targets")[0];
        Same("target pid", dt.GetProperty("pid"), ot.GetProperty("pid"));
        Same("target regions", Json(dt.GetProperty("regions").GetArrayLength()), Json(ot.GetProperty("regions").GetArrayLength()));
        Same("region start", dt.GetProperty("regions")[0].GetProperty("start"), ot.GetProperty("regions")[0].GetProperty("start"));
        Same("region end", dt.GetProperty("regions")[0].GetProperty("end"), ot.GetProperty("regions")[0].GetProperty("end"));

        JsonElement ds = dc.GetProperty("schemes")[0], os = oc.GetProperty("schemes")[0];
        Same("action", ds.GetProperty("action"), os.GetProperty("action"));
        Same("apply_interval_us", ds.GetProperty("apply_interval_us"), os.GetProperty("apply_interval_us"));
        JsonElement dp = ds.GetProperty("access_pattern"), op = os.GetProperty("access_pattern");
        foreach ((string damoKey, string ourKey) in (ReadOnlySpan<(string, string)>)[("sz_bytes", "size_bytes"), ("nr_accesses", "nr_accesses_samples"), ("age", "age_aggr_intervals")])
        {
            Same(damoKey + ".min", dp.GetProperty(damoKey).GetProperty("min"), op.GetProperty(ourKey).GetProperty("min"));
            Same(damoKey + ".max", dp.GetProperty(damoKey).GetProperty("max"), op.GetProperty(ourKey).GetProperty("max"));
        }

        // damo's raw times are nanoseconds; sysfs (and our view) keep ms and µs.
        JsonElement dq = ds.GetProperty("quotas"), oq = os.GetProperty("quotas");
        Same("quotas.ms", dq.GetProperty("time_ms"), oq.GetProperty("ms"), 1_000_000);
        Same("quotas.bytes", dq.GetProperty("sz_bytes"), oq.GetProperty("bytes"));
        Same("quotas.reset_interval_ms", dq.GetProperty("reset_interval_ms"), oq.GetProperty("reset_interval_ms"), 1_000_000);
        Same("quotas.effective_bytes", dq.GetProperty("effective_sz_bytes"), oq.GetProperty("effective_bytes"));
        Same("weights.sz", dq.GetProperty("weights").GetProperty("sz_permil"), oq.GetProperty("weights").GetProperty("size_permil"));
        Same("weights.nr_accesses", dq.GetProperty("weights").GetProperty("nr_accesses_permil"), oq.GetProperty("weights").GetProperty("nr_accesses_permil"));
        Same("weights.age", dq.GetProperty("weights").GetProperty("age_permil"), oq.GetProperty("weights").GetProperty("age_permil"));
        JsonElement dg = dq.GetProperty("goals")[0], og = oq.GetProperty("goals")[0];
        Same("goal.metric", dg.GetProperty("metric"), og.GetProperty("metric"));
        Same("goal.target_value", dg.GetProperty("target_value"), og.GetProperty("target_value"));
        Same("goal.current_value", dg.GetProperty("current_value"), og.GetProperty("current_value"));
        JsonElement dw = ds.GetProperty("watermarks"), ow = os.GetProperty("watermarks");
        Same("watermarks.metric", dw.GetProperty("metric"), ow.GetProperty("metric"));
        Same("watermarks.interval_us", dw.GetProperty("interval_us"), ow.GetProperty("interval_us"), 1_000);
        foreach (string mark in (string[])["high_permil", "mid_permil", "low_permil"])
        {
            Same("watermarks." + mark, dw.GetProperty(mark), ow.GetProperty(mark));
        }

        JsonElement df = ds.GetProperty("filters")[0], of = os.GetProperty("filters")[0];
        Same("filter.type", df.GetProperty("filter_type"), of.GetProperty("type"));
        Same("filter.matching", df.GetProperty("matching"), of.GetProperty("matching"));
        Same("filter.memcg_path", df.GetProperty("memcg_path"), of.GetProperty("memcg_path"));
        Same("filter.addr_start", df.GetProperty("address_range").GetProperty("start"), of.GetProperty("addr_start"));
        Same("filter.addr_end", df.GetProperty("address_range").GetProperty("end"), of.GetProperty("addr_end"));
        Same("filter.target_index", df.GetProperty("damon_target_idx"), of.GetProperty("target_index"));
        foreach (string stat in (string[])["nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds"])
        {
            Same("stats." + stat, ds.GetProperty("stats").GetProperty(stat), os.GetProperty("stats").GetProperty(stat));
        }

        Assert.Equal(pairs.Select(p => (p.What, p.Damo)), pairs.Select(p => (p.What, p.Ours)));
        // The values that are the same are the distinct ones this test wrote, not defaults.
        Assert.Contains(("stats.sz_tried", "28672"), pairs.Select(p => (p.What, p.Damo)));
        Assert.Contains(("quotas.ms", "11000000"), pairs.Select(p => (p.What, p.Damo)));
    }

    private static JsonElement Json(int value) => JsonDocument.Parse(value.ToString(CultureInfo.InvariantCulture)).RootElement;

    // damo --raw prints most numbers as strings, some with a unit ("9 samples") or as a float
    // ("800.000000" permil); ours are JSON numbers.
    private static string Number(JsonElement value)
    {
        string text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.True or JsonValueKind.False => value.GetBoolean() ? "true" : "false",
            _ => value.GetRawText(),
        };
        string first = text.Split(' ')[0];
        return decimal.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal d) && first.Length > 0 && (char.IsDigit(first[0]) || first[0] == '-')
            ? (decimal.Truncate(d) == d ? d.ToString("0", CultureInfo.InvariantCulture) : d.ToString(CultureInfo.InvariantCulture))
            : text;
    }
}
