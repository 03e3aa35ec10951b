using System.Text;
using DamonOtel.Agent.Configuration;
using FsCheck;
using FsCheck.Fluent;

namespace DamonOtel.Agent.Tests.Fuzzing;

/// <summary>
/// Fuzzing of the config and web_config loaders and the unit parsers: whatever the text, the
/// only exception that escapes is <see cref="ConfigException"/>, and each of its errors is one
/// line naming the file. (A stack overflow or an out-of-memory would end the test run itself.)
/// </summary>
public class ConfigFuzzTests
{
    private const string FileName = "fuzz.yaml";

    private static readonly string[] Keys =
    [
        "roots", "sysfs", "tracefs", "procfs", "state_dir", "log", "level", "format", "collection", "interval", "command_timeout", "trace_reader", "metrics", "percentiles",
        "idle_buckets", "temperature_weights", "size", "access_rate", "age", "working_set_access_threshold", "heatmap_columns",
        "enable", "disable", "exporters", "prometheus", "enabled", "listen", "otlp", "endpoint", "protocol", "headers",
        "compression", "timeout", "temporality", "attach", "refresh", "region_source", "default_monitoring", "stop_on_exit",
        "kdamonds", "name", "operations", "intervals", "sample", "aggregation", "update", "auto_tune", "access", "aggregations",
        "min_sample", "max_sample", "nr_regions", "min", "max", "targets", "pid", "pid_file", "process_name", "cmdline",
        "memory", "regions", "start", "end", "schemes", "action", "access_pattern", "quotas", "time", "reset_interval",
        "weights", "goals", "metric", "target", "current", "nid", "path", "watermarks", "high", "mid", "low", "filters",
        "type", "matching", "pass", "allow", "memcg_path", "target_index", "target_nid", "dests", "node", "weight",
        "apply_interval", "command", "record", "dir", "max_duration", "unknown_key",
    ];

    private static readonly string[] Values =
    [
        "", "~", "null", "0", "1", "-1", "5s", "1m 30s", "100ms", "max", "min", "60d", "11000000d", "99999999999999999999999d",
        "99999999999999999999999E", "4K", "1.5G", "0x10", "0xffffffffffffffffff", "18446744073709551616", "NaN", "-NaN", "Infinity",
        "1e400", "50%", "101%", "40%", "true", "no", "paddr", "vaddr", "fvaddr", "stat", "pageout", "migrate_hot", "tracepoint",
        "largest_block", "whole_span", "anon", "memcg", "addr", "target", "free_mem_rate", "grpc", "http/protobuf", "gzip",
        "http://localhost:4318", "https://[::1]:4317/x?y#z", ":9464", "127.0.0.1:0", "[::1]:99999", "nonsense", "\"a,b\"", "\"\\n\\t\\u0000\"",
        "'single'", "[1, 2, 3]", "[50, NaN]", "{a: 1}", "{min: 1, max: 0}", "[", "{", "]", "}", "&a x", "*a", "*missing", "!!binary AA==",
        "!tag x", "|", ">", "? [a, b]", "- x", "\"java (-jar\"", "/proc/self/stat", "/dev/zero", "\u00e9\u4e2d\U0001F600",
    ];

    private static Gen<string> Line { get; } =
        Gen.Zip(Gen.Choose(0, 6), Gen.Zip(Gen.Elements(Keys), Gen.Elements(Values))).SelectMany(t =>
        {
            (int depth, (string key, string value)) = t;
            string indent = new(' ', depth * 2);
            return Gen.Elements($"{indent}{key}: {value}", $"{indent}- {key}: {value}", $"{indent}{key}:", $"{indent}- {value}", $"{indent}{value}");
        });

    private static Gen<string> Documents { get; } = Gen.OneOf(
        Gen.ListOf(Line).Select(lines => string.Join('\n', lines) + "\n"),
        Gen.Elements(ShippedConfigs()).SelectMany(ParserMutations),
        ArbMap.Default.GeneratorFor<string>().Select(s => s ?? string.Empty),
        Gen.Choose(1, 200).SelectMany(n => Gen.Elements("[", "{a: ", "- ", "? ").Select(open => "a: " + string.Concat(Enumerable.Repeat(open, n)))));

    [Fact]
    public void The_config_loader_only_throws_config_errors_naming_the_file()
    {
        Prop.ForAll(Documents.ToArbitrary(), yaml =>
        {
            try
            {
                _ = ConfigLoader.Parse(yaml, FileName);
                return true;
            }
            catch (ConfigException e)
            {
                return e.Errors.Count > 0 && e.Errors.All(err => OneLineNaming(err, FileName));
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(1000));
    }

    /// <summary>
    /// Random edits mostly break the YAML before a value is validated; this walks every value of
    /// the shipped configs instead: each replaced by each hostile value, one at a time, so a
    /// value that passes validation but throws later (a duration past TimeSpan's range) is found.
    /// </summary>
    [Fact]
    public void Every_shipped_config_value_replaced_by_a_hostile_one_is_accepted_or_a_config_error()
    {
        int parsed = 0;
        foreach (string text in ShippedConfigs())
        {
            string[] lines = text.Split('\n');
            for (int n = 0; n < lines.Length; n++)
            {
                int colon = lines[n].IndexOf(": ", StringComparison.Ordinal);
                if (colon < 0 || lines[n].TrimStart().StartsWith('#'))
                {
                    continue;
                }

                foreach (string value in Values)
                {
                    string[] edited = (string[])lines.Clone();
                    edited[n] = lines[n][..(colon + 2)] + value;
                    string yaml = string.Join('\n', edited);
                    try
                    {
                        _ = ConfigLoader.Parse(yaml, FileName);
                    }
                    catch (ConfigException e)
                    {
                        Assert.True(e.Errors.Count > 0 && e.Errors.All(err => OneLineNaming(err, FileName)), $"line {n + 1} = '{edited[n]}': {e.Message}");
                    }
                    catch (Exception e)
                    {
                        Assert.Fail($"line {n + 1} = '{edited[n]}' escaped as {e.GetType().Name}: {e.Message}");
                    }

                    parsed++;
                }
            }
        }

        Assert.True(parsed > 5000, $"only {parsed} edited configs: the shipped configs were not found");
    }

    [Fact]
    public void The_web_config_loader_only_reports_errors_naming_the_file()
    {
        string dir = Directory.CreateTempSubdirectory("damon-otel-fuzz-web-").FullName;
        Prop.ForAll(Documents.ToArbitrary(), yaml =>
        {
            var errors = new List<ConfigError>();
            _ = WebConfigLoader.Parse(yaml, "web.yml", dir, errors);
            return errors.All(err => OneLineNaming(err, "web.yml"));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(500));
    }

    [Fact]
    public void The_unit_parsers_never_throw()
    {
        var numberish = Gen.Choose(0, 60).SelectMany(n => Gen.ArrayOf(Gen.Elements('0', '1', '9', '.', ',', ' ', 'e', 'E', 'K', 'G', 's', 'm', 'h', 'd', 'n', 'u', '%', '-', 'x'), n)).Select(cs => new string(cs));
        Prop.ForAll(Gen.OneOf(numberish, ArbMap.Default.GeneratorFor<string>().Select(s => s ?? string.Empty), Gen.Elements(Values)).ToArbitrary(), text =>
        {
            _ = Units.TryParseSize(text, out _, out _);
            _ = Units.TryParseTimeUs(text, 1, out _, out _);
            _ = Units.TryParseTimeUs(text, 1_000_000, out _, out _);
            _ = Units.TryParsePercent(text, out double p, out _);
            return double.IsFinite(p) || !Units.TryParsePercent(text, out _, out _);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(2000));
    }

    private static bool OneLineNaming(ConfigError error, string file)
    {
        string s = error.ToString();
        return s.StartsWith(file, StringComparison.Ordinal) && !s.Contains('\n', StringComparison.Ordinal) && !s.Contains('\r', StringComparison.Ordinal);
    }

    private static string[] ShippedConfigs() =>
    [
        .. Directory.EnumerateFiles(RepoRoot.Of("config"), "*.yaml", SearchOption.AllDirectories)
            .Where(f => !f.Contains("prometheus", StringComparison.Ordinal))
            .Select(File.ReadAllText),
    ];

    /// <summary>A shipped config with a few characters deleted, inserted or replaced, lines repeated, or cut short.</summary>
    private static Gen<string> ParserMutations(string text) =>
        Gen.ListOf(Gen.Zip(Gen.Zip(Gen.Choose(0, 4), Gen.Choose(0, Math.Max(0, text.Length - 1))), Gen.Elements(Values))).Select(edits =>
        {
            var sb = new StringBuilder(text);
            foreach (((int kind, int at), string v) in edits)
            {
                int i = Math.Min(at, Math.Max(0, sb.Length - 1));
                switch (kind)
                {
                    case 0 when sb.Length > 0:
                        sb.Remove(i, Math.Min(1 + (at % 5), sb.Length - i));
                        break;
                    case 1:
                        sb.Insert(i, v);
                        break;
                    case 2:
                        // Replace the value after the next colon on this line.
                        string s = sb.ToString();
                        int colon = s.IndexOf(':', i);
                        int end = colon < 0 ? -1 : s.IndexOf('\n', colon);
                        if (colon >= 0 && end > colon)
                        {
                            sb.Remove(colon + 1, end - colon - 1).Insert(colon + 1, " " + v);
                        }

                        break;
                    case 3:
                        string t = sb.ToString();
                        int lineEnd = t.IndexOf('\n', i);
                        sb.Insert(lineEnd < 0 ? t.Length : lineEnd + 1, t[i..(lineEnd < 0 ? t.Length : lineEnd + 1)]);
                        break;
                    default:
                        sb.Length = i;
                        break;
                }
            }

            return sb.ToString();
        });
}
