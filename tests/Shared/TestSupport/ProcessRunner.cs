using System.Diagnostics;
using Xunit;

namespace DamonOtel.TestSupport;

/// <summary>What a finished process printed and returned.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Both streams, for assertion messages.</summary>
    public string Output => (Stdout + "\n" + Stderr).Trim();
}

/// <summary>Runs external programs (tools, the agent) with a bounded time; finds tools on PATH.</summary>
public static class ProcessRunner
{
    /// <summary>The full path of <paramref name="tool"/> on PATH, or null.</summary>
    public static string? Find(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);

    /// <summary>The full path of a tool; a missing tool fails the test with how to install it (never a silent skip).</summary>
    public static string Require(string tool, string aptPackage)
    {
        string? path = Find(tool);
        Assert.True(path is not null, $"'{tool}' is not installed: this test needs Debian's {aptPackage} package (apt-get install -y {aptPackage}).");
        return path!;
    }

    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/>, feeding <paramref name="stdin"/>
    /// when given; kills it (and its children) after <paramref name="timeout"/> (2 minutes).
    /// </summary>
    public static async Task<ProcessResult> RunAsync(
        string file, IEnumerable<string> args, string? stdin = null, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        TimeSpan limit = timeout ?? TimeSpan.FromMinutes(2);
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"{file} {string.Join(" ", psi.ArgumentList)} did not finish within {limit}:\n{await stdout}\n{await stderr}");
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary><see cref="RunAsync"/>, blocking.</summary>
    public static ProcessResult Run(
        string file, IEnumerable<string> args, string? stdin = null, string? workingDirectory = null, TimeSpan? timeout = null) =>
        RunAsync(file, args, stdin, workingDirectory, timeout).GetAwaiter().GetResult();

    /// <summary>Kills a long-running process (the agent, Prometheus) and its children if it still runs, then disposes it.</summary>
    public static async Task KillAndDisposeAsync(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already reaped.
        }

        process.Dispose();
    }
}
