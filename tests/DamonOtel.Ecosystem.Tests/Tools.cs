namespace DamonOtel.Ecosystem.Tests;

/// <summary>External tools (promtool, systemd-analyze, the agent), run from the repository root by default.</summary>
internal static class Tools
{
    /// <summary>The full path of a tool on PATH; fails the test with an install hint when it is missing.</summary>
    public static string Require(string tool, string aptPackage) => ProcessRunner.Require(tool, aptPackage);

    public static string? Find(string tool) => ProcessRunner.Find(tool);

    public static ProcessResult Run(string file, IEnumerable<string> args, string? workingDirectory = null, TimeSpan? timeout = null) =>
        ProcessRunner.Run(file, args, stdin: null, workingDirectory ?? Repo.Root, timeout);

    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string TempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
