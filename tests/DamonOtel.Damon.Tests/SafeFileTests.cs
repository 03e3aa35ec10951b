using System.Diagnostics;
using DamonOtel.Damon.IO;

namespace DamonOtel.Damon.Tests;

/// <summary>
/// The safe file layer: kernel files (<see cref="LinuxKernelFs"/>), input files
/// (<see cref="SafeFile"/>) and the private state directory (<see cref="PrivateDirectory"/>)
/// cannot be made to hang the agent, exhaust its memory or write through a planted link.
/// Every open that could block runs with a deadline, so a regression fails instead of hanging.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class SafeFileTests
{
    private static readonly TimeSpan HangDeadline = TimeSpan.FromSeconds(20);

    private readonly string dir = Directory.CreateTempSubdirectory("damon-otel-safefile-").FullName;

    [Fact]
    public async Task A_fifo_at_a_kernel_path_opens_at_once_and_is_refused()
    {
        string fifo = Fifo("sample_us");
        var read = await Deadline(() => Assert.Throws<KernelIoException>(() => LinuxKernelFs.Instance.ReadText(fifo)));
        Assert.Equal(Errno.ENXIO, read.Errno);
        Assert.Contains($"{fifo}: is a FIFO, not a kernel attribute file", read.Message, StringComparison.Ordinal);

        // Writing: O_NONBLOCK makes open(2) fail with ENXIO when nobody reads the FIFO, instead of waiting.
        var write = await Deadline(() => Assert.Throws<KernelIoException>(() => LinuxKernelFs.Instance.WriteText(fifo, "on")));
        Assert.Equal(Errno.ENXIO, write.Errno);

        var pipe = await Deadline(() => Assert.Throws<KernelIoException>(() => LinuxKernelFs.Instance.OpenPipe(fifo)));
        Assert.Contains("is a FIFO", pipe.Message, StringComparison.Ordinal);

        // The hot path reads once into a fixed buffer: an empty FIFO reads as empty, no wait.
        int n = await Deadline(() => LinuxKernelFs.Instance.ReadBytes(fifo, new byte[32]));
        Assert.Equal(0, n);
    }

    [Fact]
    public void A_device_or_a_link_to_it_at_a_kernel_path_is_refused_not_read_until_memory_runs_out()
    {
        var device = Assert.Throws<KernelIoException>(() => LinuxKernelFs.Instance.ReadText("/dev/zero"));
        Assert.Contains("/dev/zero: is a character device, not a kernel attribute file", device.Message, StringComparison.Ordinal);

        string link = Path.Combine(dir, "nr_accesses");
        File.CreateSymbolicLink(link, "/dev/zero");
        var linked = Assert.Throws<KernelIoException>(() => LinuxKernelFs.Instance.ReadText(link));
        Assert.Equal(Errno.ELOOP, linked.Errno);
        Assert.Equal(Errno.ELOOP, Assert.Throws<KernelIoException>(() => LinuxKernelFs.Instance.ReadBytes(link, new byte[32])).Errno);
    }

    [Fact]
    public void A_kernel_text_file_larger_than_the_cap_is_refused()
    {
        string big = Path.Combine(dir, "iomem");
        using (FileStream f = File.Create(big))
        {
            f.SetLength(LinuxKernelFs.MaxTextBytes + 1);
        }

        var e = Assert.Throws<KernelIoException>(() => LinuxKernelFs.Instance.ReadText(big));
        Assert.Equal(Errno.EFBIG, e.Errno);

        File.WriteAllText(big, "00000000-0009ffff : System RAM\n");
        Assert.Equal("00000000-0009ffff : System RAM\n", LinuxKernelFs.Instance.ReadText(big));
    }

    [Fact]
    public async Task An_input_file_must_be_a_regular_file_within_its_size()
    {
        var options = new SafeReadOptions { MaxBytes = 64 };
        string fifo = Fifo("config.yaml");
        Assert.Equal($"{fifo}: is a FIFO, not a regular file", (await Deadline(() => Assert.Throws<SafeFileException>(() => SafeFile.Read(fifo, options)))).Message);
        Assert.Equal("/dev/zero: is a character device, not a regular file", Assert.Throws<SafeFileException>(() => SafeFile.Read("/dev/zero", options)).Message);
        Assert.Equal($"{dir}: is a directory, not a regular file", Assert.Throws<SafeFileException>(() => SafeFile.Read(dir, options)).Message);
        Assert.Equal($"{dir}/none: no such file", Assert.Throws<SafeFileException>(() => SafeFile.Read(Path.Combine(dir, "none"), options)).Message);

        string exact = Path.Combine(dir, "exact");
        File.WriteAllText(exact, new string('x', 64));
        Assert.Equal(64, SafeFile.Read(exact, options).Bytes.Length);
        File.AppendAllText(exact, "x");
        Assert.Equal($"{exact}: is 65 bytes; the limit is 64 bytes", Assert.Throws<SafeFileException>(() => SafeFile.Read(exact, options)).Message);
    }

    [Fact]
    public void A_symbolic_link_is_followed_only_when_asked()
    {
        string target = Path.Combine(dir, "real.yaml");
        File.WriteAllText(target, "a: 1\n");
        string link = Path.Combine(dir, "config.yaml");
        File.CreateSymbolicLink(link, target);

        Assert.Equal($"{link}: is a symbolic link (not followed here)", Assert.Throws<SafeFileException>(() => SafeFile.Read(link, new SafeReadOptions { MaxBytes = 64 })).Message);
        // Kubernetes ConfigMap and Secret volumes are links into ..data: the config follows them.
        Assert.Equal("a: 1\n", SafeFile.ReadText(link, new SafeReadOptions { MaxBytes = 64, FollowSymlink = true }));
        Assert.Equal("/dev/zero: is a character device, not a regular file", Assert.Throws<SafeFileException>(() => SafeFile.Read("/dev/zero", new SafeReadOptions { MaxBytes = 64, FollowSymlink = true })).Message);
    }

    [Fact]
    public void A_file_read_reports_its_owner_and_mode_for_policies()
    {
        string file = Path.Combine(dir, "app.pid");
        File.WriteAllText(file, "42\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);

        FileFacts facts = SafeFile.Read(file, new SafeReadOptions { MaxBytes = 64 }).Facts;
        Assert.True(facts.IsRegularFile);
        Assert.Equal(0x1B0u, facts.Permissions);   // 0660
        Assert.True(facts.IsGroupOrWorldWritable);
        Assert.Equal(3, facts.Size);
        Assert.Equal(CurrentUid(), facts.OwnerUid);
    }

    [Fact]
    public void The_private_directory_is_created_0700_and_its_files_0600()
    {
        string state = Path.Combine(dir, "run", "damon-otel");
        var d = new PrivateDirectory(state);
        d.WriteFile("kdamonds.json", "{}"u8);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(state));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(state, "kdamonds.json")));
        Assert.Equal("{}", d.ReadFile("kdamonds.json", 64)!.Text);
        Assert.False(File.Exists(Path.Combine(state, "kdamonds.json.tmp")));

        d.DeleteFile("kdamonds.json");
        Assert.Null(d.ReadFile("kdamonds.json", 64));
        d.DeleteFile("kdamonds.json");
    }

    [Fact]
    public void A_link_planted_at_the_temporary_name_is_replaced_not_written_through()
    {
        string state = Path.Combine(dir, "state");
        Directory.CreateDirectory(state);
        string victim = Path.Combine(dir, "victim");
        File.WriteAllText(victim, "precious\n");
        File.CreateSymbolicLink(Path.Combine(state, "kdamonds.json.tmp"), victim);

        new PrivateDirectory(state).WriteFile("kdamonds.json", "{\"agent_pid\":1}"u8);

        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.Equal("{\"agent_pid\":1}", File.ReadAllText(Path.Combine(state, "kdamonds.json")));
        Assert.False(File.Exists(Path.Combine(state, "kdamonds.json.tmp")));
    }

    [Fact]
    public void A_link_at_the_file_itself_is_replaced_not_written_through()
    {
        string state = Path.Combine(dir, "state");
        Directory.CreateDirectory(state);
        string victim = Path.Combine(dir, "victim");
        File.WriteAllText(victim, "precious\n");
        File.CreateSymbolicLink(Path.Combine(state, "kdamonds.json"), victim);
        var d = new PrivateDirectory(state);

        Assert.Contains("is a symbolic link", Assert.Throws<SafeFileException>(() => d.ReadFile("kdamonds.json", 64)).Message, StringComparison.Ordinal);
        d.WriteFile("kdamonds.json", "{}"u8);

        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.False(new FileInfo(Path.Combine(state, "kdamonds.json")).Attributes.HasFlag(FileAttributes.ReparsePoint));
    }

    [Fact]
    public void An_existing_state_directory_open_to_others_is_made_private_or_refused()
    {
        string state = Path.Combine(dir, "shared");
        Directory.CreateDirectory(state);
        File.SetUnixFileMode(state, (UnixFileMode)0x1FF); // 0777, as a careless mkdir -m might leave it
        var d = new PrivateDirectory(state);

        Assert.Contains("writable by its group or by others", Assert.Throws<SafeFileException>(() => d.ReadFile("kdamonds.json", 64)).Message, StringComparison.Ordinal);
        d.WriteFile("kdamonds.json", "{}"u8);   // the agent owns it: writing tightens it first
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(state));

        string link = Path.Combine(dir, "link");
        File.CreateSymbolicLink(link, state);
        Assert.Equal($"{link}: is a symbolic link (the state directory must be a real directory)", Assert.Throws<SafeFileException>(() => new PrivateDirectory(link).WriteFile("x", "{}"u8)).Message);
    }

    private string Fifo(string name)
    {
        string path = Path.Combine(dir, name);
        using var p = Process.Start("mkfifo", [path]);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return path;
    }

    private static uint CurrentUid()
    {
        using var p = Process.Start(new ProcessStartInfo("id", "-u") { RedirectStandardOutput = true })!;
        string uid = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return uint.Parse(uid);
    }

    // Runs a call that must not block on a worker, failing (not hanging) the test if it does.
    private static async Task<T> Deadline<T>(Func<T> call) => await Task.Run(call).WaitAsync(HangDeadline);
}
