namespace DamonOtel.Ecosystem.Tests;

/// <summary>The hardened systemd unit: parsed, cross-checked with the agent's CLI, and verified by systemd-analyze.</summary>
public sealed class SystemdTests
{
    /// <summary>(section, key) -> values in file order (systemd keys may repeat).</summary>
    internal static Dictionary<(string Section, string Key), List<string>> Parse(string text)
    {
        var result = new Dictionary<(string, string), List<string>>();
        var section = "";
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith(';'))
            {
                continue;
            }

            if (line.StartsWith('['))
            {
                section = line.Trim('[', ']');
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            Assert.True(eq > 0, $"{Repo.SystemdUnit}: not a key=value line: {line}");
            var key = (section, line[..eq]);
            if (!result.TryGetValue(key, out var list))
            {
                result[key] = list = [];
            }

            list.Add(line[(eq + 1)..]);
        }

        return result;
    }

    private static Dictionary<(string Section, string Key), List<string>> Unit() => Parse(Repo.Read(Repo.SystemdUnit));

    private static string One(Dictionary<(string Section, string Key), List<string>> unit, string key, string section = "Service")
    {
        Assert.True(unit.TryGetValue((section, key), out var values), $"{Repo.SystemdUnit}: [{section}] {key}= missing");
        return Assert.Single(values!);
    }

    [Fact]
    public void Every_agent_command_line_uses_known_flags()
    {
        var unit = Unit();
        var lines = new[] { "ExecStartPre", "ExecStart", "ExecReload" }
            .SelectMany(k => unit.TryGetValue(("Service", k), out var v) ? v : [])
            .Select(AgentCli.SplitCommandLine)
            .Where(t => t[0] == AgentCli.Binary)
            .ToList();
        Assert.True(lines.Count >= 3, "expected ExecStartPre, ExecStart and ExecReload to run the agent");
        foreach (var tokens in lines)
        {
            var errors = AgentCli.Validate(tokens.Skip(1).ToList(), out _);
            Assert.True(errors.Count == 0, $"{string.Join(" ", tokens)}:\n{string.Join("\n", errors)}");
        }

        var start = AgentCli.SplitCommandLine(One(unit, "ExecStart"));
        AgentCli.Validate(start.Skip(1).ToList(), out var parsed);
        Assert.Equal("run", parsed!.Command);
        Assert.Equal(AgentCli.DefaultConfigPath, parsed.Option("--config"));

        // The state dir is the RuntimeDirectory systemd creates.
        Assert.Equal("/run/" + One(unit, "RuntimeDirectory"), parsed.Option("--state-dir"));

        // Reload validates the config first, then signals the main process.
        var reload = unit[("Service", "ExecReload")];
        Assert.Equal($"{AgentCli.Binary} check-config {AgentCli.DefaultConfigPath}", reload[0]);
        Assert.Equal("/bin/kill -HUP $MAINPID", reload[^1]);
    }

    [Fact]
    public void Unit_is_hardened_and_small()
    {
        var unit = Unit();
        Assert.Equal("yes", One(unit, "NoNewPrivileges"));
        Assert.Equal("strict", One(unit, "ProtectSystem"));
        Assert.Equal("damon-otel", One(unit, "RuntimeDirectory"));
        Assert.Equal("on-failure", One(unit, "Restart"));
        Assert.False(string.IsNullOrEmpty(One(unit, "MemoryMax")));
        Assert.EndsWith("%", One(unit, "CPUQuota"), StringComparison.Ordinal);

        var rw = unit[("Service", "ReadWritePaths")].SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(p => p.TrimStart('-')).ToList();
        foreach (var path in new[] { "/sys/kernel/mm/damon", "/sys/kernel/tracing", "/run/damon-otel" })
        {
            Assert.Contains(path, rw);
        }

        // Only capabilities whose need is explained in the unit's comments; never CAP_SYS_ADMIN without a reason.
        var caps = One(unit, "CapabilityBoundingSet").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var text = Repo.Read(Repo.SystemdUnit);
        var comments = string.Join("\n", text.Split('\n').Where(l => l.TrimStart().StartsWith('#')));
        foreach (var cap in caps)
        {
            Assert.Matches("^CAP_[A-Z_]+$", cap);
            Assert.Contains($"{cap}:", comments, StringComparison.Ordinal);
        }

        Assert.Contains("CAP_SYS_ADMIN is NOT kept", comments, StringComparison.Ordinal);
    }

    /// <summary>
    /// systemd-analyze verify checks every directive and value. It also insists that ExecStart's
    /// binary exists, so the check runs on a copy whose agent path points to a stub executable,
    /// and that Documentation= man pages exist, so MANPATH holds the shipped one as installed.
    /// verify exits 0 on bad values and only prints them, so any output fails the test.
    /// </summary>
    [Fact]
    public void Systemd_analyze_verify_reports_nothing()
    {
        var result = VerifyCopy(Repo.Read(Repo.SystemdUnit));
        Assert.True(result.ExitCode == 0 && result.Output.Length == 0, $"systemd-analyze verify:\n{result.Output}");
    }

    /// <summary>Control: the same harness reports an invalid value.</summary>
    [Fact]
    public void Systemd_analyze_verify_harness_reports_a_bad_value()
    {
        var broken = Repo.Read(Repo.SystemdUnit).Replace("MemoryMax=256M", "MemoryMax=lots", StringComparison.Ordinal);
        var result = VerifyCopy(broken);
        Assert.Contains("Invalid memory limit 'lots'", result.Output, StringComparison.Ordinal);
    }

    private static ProcessResult VerifyCopy(string unitText)
    {
        var analyze = Tools.Require("systemd-analyze", "systemd");
        var dir = Tools.TempDir("unit");
        var stub = Path.Combine(dir, "damon-otel");
        File.WriteAllText(stub, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var unitPath = Path.Combine(dir, "damon-otel.service");
        File.WriteAllText(unitPath, unitText.Replace(AgentCli.Binary, stub, StringComparison.Ordinal));
        return Tools.Run("/usr/bin/env", [$"MANPATH={ManPageTests.InstallInto(dir)}", analyze, "verify", unitPath], workingDirectory: dir);
    }
}
