using System.Diagnostics;
using System.Runtime.Versioning;
using DamonOtel.Agent.Kdamonds;

namespace DamonOtel.Agent.Tests.Targets;

/// <summary>
/// The pid file trust rules, on real files: the agent runs as root and acts on the process a
/// pid file names, so only a file root (or pid_file_owner) alone can have written counts.
/// These tests run as root (they chown); elsewhere they are skipped by failing loudly.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PidFileTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("damon-otel-pidfile-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void A_root_owned_file_gives_its_first_line()
    {
        string file = Write("postmaster.pid", "4242\n/var/lib/postgresql/15/main\n1733500000\n", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Assert.True(PidFiles.Read(file, null, out TrustedPidFile content, out string problem), problem);
        Assert.Equal(4242, content.Pid);
        Assert.InRange(content.ModifiedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
    }

    [Theory]
    [InlineData(UnixFileMode.GroupWrite, "writable by group or others")]
    [InlineData(UnixFileMode.OtherWrite, "writable by group or others")]
    public void A_file_others_may_write_is_refused(UnixFileMode extra, string expected)
    {
        string file = Write("x.pid", "4242\n", UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);
        Assert.False(PidFiles.Read(file, null, out _, out string problem));
        Assert.Contains(expected, problem);
    }

    [Fact]
    public void Another_owner_is_refused_unless_named_by_pid_file_owner()
    {
        string file = Write("x.pid", "4242\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Chown(file, 1234);
        Assert.False(PidFiles.Read(file, null, out _, out string problem));
        Assert.Contains("owned by uid 1234, not by root", problem);
        Assert.False(PidFiles.Read(file, 33, out _, out problem));
        Assert.Contains("not by root or uid 33", problem);
        Assert.True(PidFiles.Read(file, 1234, out TrustedPidFile content, out problem), problem);
        Assert.Equal(4242, content.Pid);
    }

    [Fact]
    public void A_symbolic_link_is_not_followed()
    {
        string target = Write("real.pid", "4242\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string link = Path.Combine(dir, "link.pid");
        File.CreateSymbolicLink(link, target);
        Assert.False(PidFiles.Read(link, null, out _, out string problem));
        Assert.Contains("is a symbolic link", problem);
    }

    [Fact]
    public async Task A_fifo_is_refused_at_once_instead_of_blocking()
    {
        string fifo = Path.Combine(dir, "fifo.pid");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", ["-m", "600", fifo]) { UseShellExecute = false })!)
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        (bool ok, string problem) = await Task.Run(() => (PidFiles.Read(fifo, null, out _, out string p), p)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(ok);
        Assert.Contains("not a regular file", problem);
    }

    [Theory]
    [InlineData("", "does not hold a process id on its first line")]
    [InlineData("nginx\n", "does not hold a process id on its first line (\"nginx\")")]
    [InlineData("-5\n", "does not hold a process id on its first line")]
    [InlineData("0\n", "does not hold a process id on its first line")]
    public void Content_that_is_no_pid_is_refused(string text, string expected)
    {
        string file = Write("bad.pid", text, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.False(PidFiles.Read(file, null, out _, out string problem));
        Assert.Contains(expected, problem);
    }

    [Fact]
    public void Missing_files_and_directories_say_so()
    {
        Assert.False(PidFiles.Read(Path.Combine(dir, "none.pid"), null, out _, out string problem));
        Assert.Contains("no such file", problem);
        Assert.False(PidFiles.Read(dir, null, out _, out problem));
        Assert.Contains("not a regular file", problem);
    }

    private string Write(string name, string text, UnixFileMode mode)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private static void Chown(string path, int uid)
    {
        Assert.True(Environment.UserName == "root", "this test changes a file's owner: run the tests as root (the CI does)");
        using var chown = Process.Start(new ProcessStartInfo("chown", [uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path]) { UseShellExecute = false })!;
        chown.WaitForExit();
        Assert.Equal(0, chown.ExitCode);
    }
}
