using DamonOtel.Agent.Configuration;

namespace DamonOtel.Agent.Tests;

public class ConfigLoaderTests
{
    [Fact]
    public void Log_settings_come_from_the_config_file()
    {
        AgentConfig c = ConfigLoader.Parse("log: {level: debug, format: json}\n", "t.yaml");
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, c.Log.Level);
        Assert.Equal("json", c.Log.Format);
        AgentConfig d = ConfigLoader.Parse("state_dir: /run/x\n", "t.yaml");
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Information, d.Log.Level);
        Assert.Equal("logfmt", d.Log.Format);
    }

    [Theory]
    [InlineData("log: {level: verbose}\n", "log.level: 'verbose' is not one of: debug, info, warn, error")]
    [InlineData("log: {format: text}\n", "log.format: 'text' is not one of: logfmt, json")]
    [InlineData("log: {colour: true}\n", "log.colour")]
    public void Bad_log_settings_name_the_key(string yaml, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "t.yaml"));
        Assert.Contains("t.yaml", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_http_record_trigger_is_off_by_default_and_read_from_exporters_prometheus_record()
    {
        RecordEndpointConfig off = ConfigLoader.Parse(string.Empty, "t.yaml").Prometheus.Record;
        Assert.False(off.Enabled);
        Assert.Equal("/var/lib/damon-otel/records", off.Dir);
        Assert.Equal(TimeSpan.FromMinutes(5), off.MaxDuration);
        RecordEndpointConfig on = ConfigLoader.Parse("exporters: {prometheus: {record: {enabled: true, dir: /srv/rec, max_duration: 90s}}}\n", "t.yaml").Prometheus.Record;
        Assert.Equal(new RecordEndpointConfig { Enabled = true, Dir = "/srv/rec", MaxDuration = TimeSpan.FromSeconds(90) }, on);
    }

    [Theory]
    [InlineData("max_duration: 2h", "exporters.prometheus.record.max_duration: must be above 0 and at most 1h")]
    [InlineData("max_duration: 0s", "exporters.prometheus.record.max_duration: must be above 0 and at most 1h")]
    [InlineData("dir: records", "exporters.prometheus.record.dir: 'records' must be an absolute path")]
    [InlineData("enabled: maybe", "exporters.prometheus.record.enabled")]
    [InlineData("path: /x", "exporters.prometheus.record.path")]
    public void Bad_record_settings_name_the_key(string setting, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("exporters: {prometheus: {record: {" + setting + "}}}\n", "t.yaml"));
        Assert.Contains("t.yaml", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_file_gives_the_defaults()
    {
        AgentConfig c = ConfigLoader.Parse(string.Empty, "empty.yaml");
        Assert.Equal("/sys", c.Roots.Sysfs);
        Assert.Equal(":9464", c.Prometheus.Listen);
        Assert.Equal(TimeSpan.FromSeconds(5), c.Collection.Interval);
        Assert.Empty(c.Kdamonds);
        Assert.Equal(DefaultMonitoring.Auto, c.DefaultMonitoring);
        Assert.False(c.Attach.Refresh);
        Assert.Equal(TraceReaderChoice.Auto, c.Collection.TraceReader);
    }

    [Theory]
    [InlineData("auto", nameof(TraceReaderChoice.Auto))]
    [InlineData("raw", nameof(TraceReaderChoice.Raw))]
    [InlineData("text", nameof(TraceReaderChoice.Text))]
    public void Trace_reader_takes_its_three_values(string value, string expected)
    {
        AgentConfig c = ConfigLoader.Parse($"collection: {{trace_reader: {value}}}\n", "t.yaml");
        Assert.Equal(expected, c.Collection.TraceReader.ToString());
    }

    [Fact]
    public void Trace_reader_rejects_other_values_naming_the_key()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("collection:\n  trace_reader: binary\n", "t.yaml"));
        _ = Assert.Single(e.Errors);
        Assert.Contains("t.yaml:2:", e.Message, StringComparison.Ordinal);
        Assert.Contains("collection.trace_reader: 'binary' is not one of: auto, raw, text", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("damon-otel.yaml")]
    [InlineData("examples/system-reclaim.yaml")]
    [InlineData("examples/app-wss.yaml")]
    [InlineData("examples/tiering.yaml")]
    [InlineData("examples/kubernetes-pods.yaml")]
    public void Every_shipped_config_loads(string file)
    {
        AgentConfig c = ConfigLoader.LoadFile(RepoRoot.Of("config", file));
        Assert.NotNull(c);
    }

    [Fact]
    public void System_reclaim_example_means_what_it_says()
    {
        AgentConfig c = ConfigLoader.LoadFile(RepoRoot.Of("config", "examples", "system-reclaim.yaml"));
        KdamondConfig k = Assert.Single(c.Kdamonds);
        Assert.Equal("paddr", k.Operations);
        Assert.Equal(RegionSource.Tracepoint, k.RegionSource);
        Assert.Equal(PhysicalRange.LargestBlock, Assert.Single(k.Targets).Memory);
        Assert.Equal(IntervalsGoalConfig.Recommended, k.Intervals.Goal);
        SchemeConfig s = Assert.Single(k.Schemes);
        Assert.Equal("pageout", s.Action);
        Assert.Equal(4096UL, s.Pattern.SizeMin);
        Assert.Equal(0.0, s.Pattern.AccessRateMinPercent);
        Assert.Equal(0.0, s.Pattern.AccessRateMaxPercent);
        Assert.Equal(120_000_000UL, s.Pattern.AgeMinUs);            // 2m
        Assert.Equal(ulong.MaxValue, s.Pattern.AgeMaxUs);
        Assert.Equal(10UL, s.Quotas!.TimeMs);
        Assert.Equal(134_217_728UL, s.Quotas.SizeBytes);           // 128 MiB
        Assert.Equal(1000UL, s.Quotas.ResetIntervalMs);
        Assert.Equal(1000U, s.Quotas.WeightAgePermil);
        Assert.Equal(new WatermarksConfig("free_mem_rate", 5_000_000, 500, 400, 200), s.Watermarks);
        FilterConfig f = Assert.Single(s.Filters);
        Assert.Equal("anon", f.Type);
        Assert.False(f.Allow);
    }

    [Fact]
    public void App_example_targets_processes()
    {
        AgentConfig c = ConfigLoader.LoadFile(RepoRoot.Of("config", "examples", "app-wss.yaml"));
        Assert.Equal("nginx", c.Kdamonds[0].Targets[0].ProcessName);
        Assert.Equal("/run/postgresql/15-main.pid", c.Kdamonds[1].Targets[0].PidFile);
        Assert.Equal(200_000UL, c.Kdamonds[1].Intervals.AggrUs);
    }

    [Fact]
    public void Tiering_example_has_both_migrations()
    {
        AgentConfig c = ConfigLoader.LoadFile(RepoRoot.Of("config", "examples", "tiering.yaml"));
        Assert.Equal("migrate_hot", c.Kdamonds[0].Schemes[0].Action);
        Assert.Equal(0, c.Kdamonds[0].Schemes[0].TargetNid);
        Assert.Equal((0x100000000UL, 0x200000000UL), c.Kdamonds[0].Targets[0].Regions[0]);
        Assert.Equal(5.0, c.Kdamonds[0].Schemes[0].Pattern.AccessRateMinPercent);
        Assert.Null(c.Kdamonds[0].Schemes[0].Pattern.AccessRateMaxPercent);
        Assert.Equal("migrate_cold", c.Kdamonds[1].Schemes[0].Action);
        Assert.Equal(53_687_091_200UL, c.Kdamonds[1].Schemes[0].Quotas!.SizeBytes);   // 50 * 2^30
    }

    [Fact]
    public void Every_error_is_reported_with_file_line_and_key()
    {
        const string yaml = """
            collection:
              interval: 5 parsecs
            kdamonds:
              - name: a
                operations: vaddr
                targets:
                  - process_name: nginx
                intervals: {sample: 10ms, aggregation: 5ms}
                schemes:
                  - action: pagout
              - name: a
                operations: paddr
                targets:
                  - command: "rm -rf /"
            exporter: {}
            """;
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "bad.yaml"));
        string all = e.Message;
        Assert.Contains("bad.yaml:2:", all);
        Assert.Contains("collection.interval: '5 parsecs' has an unknown time unit", all);
        Assert.Contains("bad.yaml:8:", all);
        Assert.Contains("kdamonds[0].intervals.aggregation: 5ms is shorter than the sampling interval 10ms", all);
        Assert.Contains("kdamonds[0].schemes[0].action: 'pagout' is not one of", all);
        Assert.Contains("kdamonds[1].name: 'a' is used by another kdamond", all);
        Assert.Contains("kdamonds[1].targets[0].command: shell commands are not accepted", all);
        Assert.Contains("bad.yaml:15:", all);
        Assert.Contains("exporter: unknown key", all);
        Assert.True(e.Errors.Count >= 6, all);
    }

    [Fact]
    public void Syntax_errors_name_the_line()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("kdamonds:\n  - name: [unclosed\n", "syntax.yaml"));
        Assert.StartsWith("syntax.yaml:", e.Message);
        Assert.Contains("(syntax)", e.Message);
    }

    [Theory]
    [InlineData("kdamonds: [{operations: paddr, targets: [{pid: 1}]}]", "a paddr target monitors physical memory")]
    [InlineData("kdamonds: [{operations: vaddr, targets: [{name: x}]}]", "exactly one of: pid, pid_file, process_name, cmdline")]
    [InlineData("kdamonds: [{operations: vaddr, targets: [{pid: 1}], nr_regions: {min: 2}}]", "is below 3")]
    [InlineData("kdamonds: [{operations: vaddr, targets: [{pid: 1}], schemes: [{action: lru_prio}]}]", "physical memory only")]
    [InlineData("kdamonds: [{operations: paddr, schemes: [{action: cold}]}]", "virtual address spaces only")]
    [InlineData("kdamonds: [{operations: paddr, schemes: [{action: migrate_hot}]}]", "needs a destination")]
    [InlineData("kdamonds: [{operations: paddr, schemes: [{filters: [{type: memcg}]}]}]", "needs memcg_path")]
    [InlineData("kdamonds: [{operations: paddr, schemes: [{watermarks: {high: 10%, mid: 40%, low: 5%}}]}]", "high >= mid >= low")]
    [InlineData("kdamonds: [{operations: paddr, schemes: [{quotas: {goals: [{metric: node_mem_used_bp, target: 9000}]}}]}]", "needs a NUMA node id")]
    [InlineData("metrics: {percentiles: [50, 25]}", "ascending order")]
    [InlineData("exporters: {prometheus: {listen: nowhere}}", "expected host:port or :port")]
    [InlineData("exporters: {otlp: {endpoint: 'ftp://x'}}", "not an http:// or https:// URL")]
    [InlineData("kdamonds: [{operations: vaddr, targets: [{cmdline: '(['}]}]", "not a valid regular expression")]
    public void Invalid_settings_are_explained(string yaml, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "x.yaml"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Paddr_without_targets_monitors_the_largest_block()
    {
        AgentConfig c = ConfigLoader.Parse("kdamonds: [{operations: paddr}]", "x.yaml");
        Assert.Equal(PhysicalRange.LargestBlock, Assert.Single(c.Kdamonds[0].Targets).Memory);
        Assert.Equal("0", c.Kdamonds[0].Name);
    }
}
