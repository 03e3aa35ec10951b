using System.Diagnostics;
using System.Text;

namespace DamonOtel.Agent.Tests.Interop;

/// <summary>
/// Runs real damo (Debian's 2.8.3 or 3.4.1, fetched by scripts/fetch-damo.sh) through
/// scripts/damo-sandbox.sh, the only way damo may run on a host (docs/damo-interop.md).
/// </summary>
internal static class DamoSandbox
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StdOut}\n--- stderr\n{StdErr}";
    }

    public static string Script { get; } = RepoRoot.Of("scripts", "damo-sandbox.sh");

    /// <summary>Runs `damo ARGS` for <paramref name="version"/> in <paramref name="workDir"/>; fails the test when the sandbox cannot run.</summary>
    public static Result Run(string version, string workDir, params string[] damoArgs) => RunWith(version, workDir, [], damoArgs);

    /// <summary>Like <see cref="Run"/>, with sandbox options (--fake-root, --probe-features, --dump-after) before damo's arguments.</summary>
    public static Result RunWith(string version, string workDir, string[] sandboxOptions, params string[] damoArgs)
    {
        // The sandbox needs root (a private mount namespace and tmpfs mounts); the test suite runs as
        // root (scripts/test.sh, CI). Without it this is a failure, never a skip.
        Assert.True(Environment.UserName == "root", "damo tests need root: scripts/damo-sandbox.sh mounts tmpfs in a private mount namespace");
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDir,
        };
        foreach (string a in (string[])[Script, "--damo", version, "--cwd", workDir, .. sandboxOptions, "--", .. damoArgs])
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start bash");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null && !e.Data.Contains("is disabled in scripts/damo-sandbox.sh")) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // The first run may download damo (two private apt-get updates, about 10 s here).
        TimeSpan limit = TimeSpan.FromMinutes(5);
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"damo {string.Join(' ', damoArgs)} did not finish within {limit}:\n{stdout}\n{stderr}");
        }

        process.WaitForExit();
        var result = new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
        Assert.True(result.ExitCode != 97, "scripts/damo-sandbox.sh could not set up its sandbox:\n" + result);
        return result;
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "damo-interop-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>
/// Tests that start damo (a Python process per call) run on their own, not next to the
/// timing-sensitive Simulator tests of this project.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DamoCollection
{
    public const string Name = "damo";
}
