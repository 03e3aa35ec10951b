using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Agent.Tests.Simulated;
using DamonOtel.Telemetry.Observations;
using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Tests.BadInput;

/// <summary>
/// The bad-input corpus (BadInput/README.md): every class of bad config, web_config, ownership
/// record, kernel file and command line ends in a one-line error naming the file, with line and
/// column for YAML; never a stack trace, a hang, an exhausted heap or a crash.
/// </summary>
public class BadInputCorpusTests
{
    private static readonly string Corpus = Path.Combine(RepoRoot.Dir, "tests", "DamonOtel.Agent.Tests", "BadInput");

    public static TheoryData<string, string> ConfigCases() => Rows("configs", 2, r => (r[0], r[1]));

    public static TheoryData<string, string> WebConfigCases() => Rows("web_configs", 2, r => (r[0], r[1]));

    public static TheoryData<string, string> StateCases() => Rows("state", 2, r => (r[0], r[1]));

    public static TheoryData<string, string, string, string> KernelCases() => Rows("kernel", 4, r => (r[0], r[1], r[2], r[3]));

    public static TheoryData<string, int, string> CliCases() => Rows("cli", 3, r => (r[0], int.Parse(r[1]), r[2]));

    [Theory]
    [MemberData(nameof(ConfigCases))]
    public async Task Config_errors_are_one_line_naming_the_file(string file, string expected)
    {
        string dir = Directory.CreateTempSubdirectory("damon-otel-bad-config-").FullName;
        string path = Materialize(Path.Combine(Corpus, "configs"), file, dir);

        ConfigException e = await Refused(() => ConfigLoader.LoadFile(path));
        AssertOneLineErrors(e.Message, path, expected);
    }

    [Theory]
    [MemberData(nameof(WebConfigCases))]
    public async Task Web_config_errors_are_one_line_naming_the_file(string file, string expected)
    {
        string dir = Directory.CreateTempSubdirectory("damon-otel-bad-web-").FullName;
        foreach (string f in Directory.EnumerateFiles(Path.Combine(Corpus, "web_configs")))
        {
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        }

        WriteKeyPair(dir, "valid-cert.pem", "valid-key.pem");
        WriteKeyPair(dir, "other-cert.pem", "other-key.pem");
        string web = Materialize(dir, file, dir);
        string config = Path.Combine(dir, "agent.yaml");
        File.WriteAllText(config, $"exporters:\n  prometheus:\n    web_config: {web}\n");

        // The loader both `run` and `check-config` use: what it accepts, the endpoint can serve.
        ConfigException e = await Refused(() => ConfigLoader.LoadFile(config));
        AssertOneLineErrors(e.Message, file.StartsWith('<') ? config : web, expected);
    }

    // Loads on a worker with a deadline, so that an open() that blocks fails the test instead of hanging it.
    private static async Task<ConfigException> Refused(Func<AgentConfig> load) =>
        await Task.Run(() => Assert.Throws<ConfigException>(() => load())).WaitAsync(TimeSpan.FromSeconds(60));

    [Theory]
    [MemberData(nameof(StateCases))]
    public async Task A_bad_ownership_record_is_ignored_and_the_agent_starts_its_kdamonds(string file, string expected)
    {
        await using var sim = new SimHarness(("app", "steady"));
        Materialize(Path.Combine(Corpus, "state"), file, sim.StateDir, "kdamonds.json");
        var store = new ObservationStore();
        var log = new ListLoggerProvider();
        using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddProvider(log));
        AgentConfig config = sim.Config("collection: {interval: 1s}\nkdamonds:\n  - {name: system, operations: paddr}\n");
        await using var runner = new AgentRunner(config, KernelEnvironment.Wrap(sim.Kernel, sim.Roots), store, loggers);

        // A crash here is a crash loop under Restart=on-failure; a FIFO must not block the start.
        // On a worker: a blocking open() happens before StartAsync's first await.
        await Task.Run(() => runner.StartAsync(CancellationToken.None)).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("on", sim.Read("0/state"));
        Assert.Contains(log.Lines, l => l.Contains(expected, StringComparison.Ordinal) && l.Contains(Path.Combine(sim.StateDir, "kdamonds.json"), StringComparison.Ordinal));
        await runner.StopAsync(CancellationToken.None);
    }

    [Theory]
    [MemberData(nameof(KernelCases))]
    public async Task Kernel_file_errors_are_one_line_naming_the_file(string command, string file, string content, string expected)
    {
        string root = CopyFixtureWithPlainMonitoringScheme();
        string path = Path.Combine(root, file);
        Plant(path, Unescape(content));

        string[] args = command == "snapshot"
            ? ["snapshot", "--no-refresh", "--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc")]
            : [command, "--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc")];
        (int code, string stdout, string stderr) = await Cli.Run(TimeSpan.FromSeconds(60), args);

        Assert.True(code == 1, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        AssertOneLineErrors(stderr, Path.Combine(root, "sys"), Unescape(expected));
    }

    [Theory]
    [MemberData(nameof(CliCases))]
    public async Task Command_line_errors_are_one_line(string arguments, int exitCode, string expected)
    {
        string dir = Directory.CreateTempSubdirectory("damon-otel-bad-cli-").FullName;
        var placeholders = new Dictionary<string, string>
        {
            ["{fifo}"] = Path.Combine(dir, "fifo"),
            ["{devzero}"] = "/dev/zero",
            ["{deep}"] = Path.Combine(dir, "deep.yaml"),
            ["{none}"] = Path.Combine(dir, "none"),
        };
        MakeFifo(placeholders["{fifo}"]);
        File.WriteAllText(placeholders["{deep}"], "a: " + new string('[', 40_000) + new string(']', 40_000) + "\n");
        string Fill(string s) => placeholders.Aggregate(s, (acc, p) => acc.Replace(p.Key, p.Value, StringComparison.Ordinal));

        (int code, string stdout, string stderr) = await Cli.Run(TimeSpan.FromSeconds(60), [.. arguments.Split(' ').Select(Fill)]);

        Assert.True(code == exitCode, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains(Fill(expected), stderr, StringComparison.Ordinal);
        AssertNoStackTrace(stderr);
    }

    /// <summary>Every line names <paramref name="file"/> (or is a summary of it), one contains <paramref name="expected"/>.</summary>
    internal static void AssertOneLineErrors(string output, string file, string expected)
    {
        AssertNoStackTrace(output);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Any(l => l.Contains(expected, StringComparison.Ordinal)), $"no line contains '{expected}':\n{output}");
        Assert.All(lines, l => Assert.True(l.Contains(file, StringComparison.Ordinal), $"a line does not name {file}:\n{l}"));
    }

    internal static void AssertNoStackTrace(string output)
    {
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Stack overflow", output, StringComparison.Ordinal);
    }

    internal static void MakeFifo(string path)
    {
        using var p = System.Diagnostics.Process.Start("mkfifo", [path]);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    /// <summary>
    /// The corpus file <paramref name="name"/> copied into <paramref name="dir"/>, or for a
    /// &lt;generated&gt; case the input written there; returns its path.
    /// </summary>
    private static string Materialize(string corpusDir, string name, string dir, string? asName = null)
    {
        string path = Path.Combine(dir, asName ?? (name.StartsWith('<') ? name.Trim('<', '>') + ".input" : name));
        switch (name)
        {
            case "<deep-nesting>":
                File.WriteAllText(path, "metrics: " + new string('[', 40_000) + new string(']', 40_000) + "\n");
                break;
            case "<11-mib>":
                // Valid YAML all the way: only its size is wrong.
                File.WriteAllText(path, "metrics:\n  percentiles:\n" + string.Concat(Enumerable.Repeat("    - 50\n", 11 * 1024 * 1024 / 9)) + new string('#', 11 * 1024 * 1024 % 9) + "\n");
                break;
            case "<2-mib>":
                File.WriteAllText(path, "{\"agent_pid\":1,\"kdamonds\":[]}" + new string(' ', 2 << 20));
                break;
            case "<fifo>":
                MakeFifo(path);
                break;
            case "<char-device>":
                return "/dev/zero";
            case "<directory>":
                Directory.CreateDirectory(path);
                break;
            case "<symlink>":
                string victim = Path.Combine(Directory.CreateTempSubdirectory("damon-otel-victim-").FullName, "kdamonds.json");
                File.WriteAllText(victim, "{\"agent_pid\":1,\"kdamonds\":[]}");
                File.CreateSymbolicLink(path, victim);
                break;
            case "<missing>":
                break;
            default:
                if (Path.Combine(corpusDir, name) != path)
                {
                    File.Copy(Path.Combine(corpusDir, name), path, overwrite: true);
                }

                break;
        }

        return path;
    }

    private static void Plant(string path, string content)
    {
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        switch (content)
        {
            case "<fifo>":
                MakeFifo(path);
                break;
            case "<directory>":
                Directory.CreateDirectory(path);
                break;
            case var s when s.StartsWith("<symlink:", StringComparison.Ordinal):
                File.CreateSymbolicLink(path, s["<symlink:".Length..^1]);
                break;
            default:
                File.WriteAllText(path, content);
                break;
        }
    }

    private static string Unescape(string s) => s.Replace("\\\\", "\u0001", StringComparison.Ordinal).Replace("\\n", "\n", StringComparison.Ordinal).Replace("\u0001", "\\", StringComparison.Ordinal);

    private static void WriteKeyPair(string dir, string certFile, string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=damon-otel-test", key, HashAlgorithmName.SHA256);
        using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(dir, certFile), cert.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, keyFile), key.ExportPkcs8PrivateKeyPem());
    }

    // The 6.18 fixture's stat scheme made the plain all-matching one (as CliTests does), so
    // that snapshot reads its tried_regions.
    private static string CopyFixtureWithPlainMonitoringScheme()
    {
        string source = RepoRoot.Of("tests", "DamonOtel.Damon.Tests", "Fixtures", "linux-6.18");
        string target = Directory.CreateTempSubdirectory("damon-otel-bad-kernel-").FullName;
        foreach (string dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, dir)));
        }

        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        }

        string scheme = Path.Combine(target, "sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/1");
        File.WriteAllText(Path.Combine(scheme, "core_filters/nr_filters"), "0\n");
        Directory.Delete(Path.Combine(scheme, "core_filters/0"), recursive: true);
        File.WriteAllText(Path.Combine(scheme, "quotas/goals/nr_goals"), "0\n");
        Directory.Delete(Path.Combine(scheme, "quotas/goals/0"), recursive: true);
        return target;
    }

    private static TheoryData<T> Rows<T>(string folder, int columns, Func<string[], T> row)
    {
        var data = new TheoryData<T>();
        foreach (string[] r in ReadRows(folder, columns))
        {
            data.Add(row(r));
        }

        return data;
    }

    private static TheoryData<T1, T2> Rows<T1, T2>(string folder, int columns, Func<string[], (T1, T2)> row)
    {
        var data = new TheoryData<T1, T2>();
        foreach (string[] r in ReadRows(folder, columns))
        {
            (T1 a, T2 b) = row(r);
            data.Add(a, b);
        }

        return data;
    }

    private static TheoryData<T1, T2, T3> Rows<T1, T2, T3>(string folder, int columns, Func<string[], (T1, T2, T3)> row)
    {
        var data = new TheoryData<T1, T2, T3>();
        foreach (string[] r in ReadRows(folder, columns))
        {
            (T1 a, T2 b, T3 c) = row(r);
            data.Add(a, b, c);
        }

        return data;
    }

    private static TheoryData<T1, T2, T3, T4> Rows<T1, T2, T3, T4>(string folder, int columns, Func<string[], (T1, T2, T3, T4)> row)
    {
        var data = new TheoryData<T1, T2, T3, T4>();
        foreach (string[] r in ReadRows(folder, columns))
        {
            (T1 a, T2 b, T3 c, T4 d) = row(r);
            data.Add(a, b, c, d);
        }

        return data;
    }

    private static IEnumerable<string[]> ReadRows(string folder, int columns)
    {
        foreach (string line in File.ReadLines(Path.Combine(Corpus, folder, "cases.tsv")))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            string[] cells = line.Split('\t');
            Assert.True(cells.Length == columns, $"{folder}/cases.tsv: '{line}' has {cells.Length} columns, not {columns}");
            yield return cells;
        }
    }

    /// <summary>The damon-otel binary with a deadline: a hang is killed and reported, not waited for.</summary>
    internal static class Cli
    {
        public static async Task<(int Code, string Stdout, string Stderr)> Run(TimeSpan deadline, params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "damon-otel.dll"));
            foreach (string a in args)
            {
                psi.ArgumentList.Add(a);
            }

            using System.Diagnostics.Process p = System.Diagnostics.Process.Start(psi)!;
            Task<string> stdout = p.StandardOutput.ReadToEndAsync();
            Task<string> stderr = p.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(deadline);
            try
            {
                await p.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync();
                return (-1, await stdout, $"(hung for {deadline.TotalSeconds} s and was killed)\n" + await stderr);
            }

            return (p.ExitCode, await stdout, await stderr);
        }
    }
}
