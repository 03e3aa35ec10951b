using System.Diagnostics;
using DamonOtel.Agent.Hosting;

namespace DamonOtel.Agent.Tests;

/// <summary>
/// Config changes are noticed however they are made: Kubernetes' ConfigMap update (a new
/// timestamped directory and an atomic rename of the ..data symlink, as kubelet's atomic writer
/// does it), an editor's rename-on-save and an in-place write.
/// </summary>
public sealed partial class ConfigWatcherTests : IDisposable
{
    // Long enough that only the directory watch (not the timer) can notice a change in these tests.
    private static readonly TimeSpan NoPolling = TimeSpan.FromHours(1);

    private readonly string dir = Directory.CreateTempSubdirectory("damon-otel-watch-").FullName;
    private int changes;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task A_configmap_update_swapping_the_data_symlink_is_noticed()
    {
        string file = MountConfigMap("collection: {interval: 5s}\n");
        using var watcher = new ConfigWatcher(() => [file], () => Interlocked.Increment(ref changes), NoPolling);

        UpdateConfigMap("collection: {interval: 2s}\n");

        await WaitForChange();
        Assert.Equal("collection: {interval: 2s}\n", await File.ReadAllTextAsync(file));
    }

    [Fact]
    public void The_timer_alone_notices_a_swap_by_content()
    {
        string file = MountConfigMap("a: 1\n");
        // No directory events: they would re-hash on the thread pool and race these checks.
        using var watcher = new ConfigWatcher(() => [file], () => Interlocked.Increment(ref changes), NoPolling, watchDirectories: false);
        Assert.False(watcher.Check()); // nothing changed yet

        UpdateConfigMap("a: 2\n");
        Assert.True(watcher.Check());
        Assert.False(watcher.Check()); // the same content again: no second reload

        // A swap to identical content (kubelet re-syncing) is not a change.
        UpdateConfigMap("a: 2\n");
        Assert.False(watcher.Check());
    }

    [Fact]
    public async Task An_editors_rename_on_save_is_noticed()
    {
        string file = Path.Combine(dir, "config.yaml");
        await File.WriteAllTextAsync(file, "a: 1\n");
        using var watcher = new ConfigWatcher(() => [file], () => Interlocked.Increment(ref changes), NoPolling);

        string temp = Path.Combine(dir, ".config.yaml.swp");
        await File.WriteAllTextAsync(temp, "a: 2\n");
        File.Move(temp, file, overwrite: true);

        await WaitForChange();
    }

    [Fact]
    public async Task An_in_place_write_is_noticed()
    {
        string file = Path.Combine(dir, "config.yaml");
        await File.WriteAllTextAsync(file, "a: 1\n");
        using var watcher = new ConfigWatcher(() => [file], () => Interlocked.Increment(ref changes), NoPolling);

        await using (var s = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            s.Write("a: 3\n"u8);
        }

        await WaitForChange();
    }

    [Fact]
    public async Task Touching_a_file_without_changing_it_is_not_a_change()
    {
        string file = Path.Combine(dir, "config.yaml");
        await File.WriteAllTextAsync(file, "a: 1\n");
        using var watcher = new ConfigWatcher(() => [file], () => Interlocked.Increment(ref changes), NoPolling);
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
        await File.WriteAllTextAsync(Path.Combine(dir, "unrelated"), "x");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(0, Volatile.Read(ref changes));
    }

    [Fact]
    public async Task A_fifo_in_the_files_place_neither_blocks_the_watcher_nor_stops_later_reloads()
    {
        string file = Path.Combine(dir, "config.yaml");
        File.WriteAllText(file, "a: 1\n");
        using var watcher = new ConfigWatcher(() => [file], () => Interlocked.Increment(ref changes), NoPolling, watchDirectories: false);

        File.Delete(file);
        BadInput.BadInputCorpusTests.MakeFifo(file);
        // A blocking read would never return (no writer opens the FIFO): if it blocks, open the
        // writing end so it returns and the test fails instead of hanging.
        Task<bool> check = Task.Run(watcher.Check);
        bool returned = await Task.WhenAny(check, Task.Delay(TimeSpan.FromSeconds(10))) == check;
        if (!returned)
        {
            await using (new FileStream(file, FileMode.Open, FileAccess.Write))
            {
            }
        }

        Assert.True(returned, "Check blocked on the FIFO");
        Assert.True(await check); // unreadable now: the reload reports why

        File.Delete(file);
        File.WriteAllText(file, "a: 2\n");
        Assert.True(watcher.Check());
    }

    /// <summary>What kubelet mounts: config.yaml → ..data/config.yaml, ..data → ..TIMESTAMP/.</summary>
    private string MountConfigMap(string content)
    {
        string first = WriteVersion(content);
        File.CreateSymbolicLink(Path.Combine(dir, "..data"), first);
        File.CreateSymbolicLink(Path.Combine(dir, "config.yaml"), Path.Combine("..data", "config.yaml"));
        return Path.Combine(dir, "config.yaml");
    }

    /// <summary>kubelet's update: a new timestamped dir, ..data_tmp → it, rename(..data_tmp, ..data), old dir removed.</summary>
    private void UpdateConfigMap(string content)
    {
        string old = new FileInfo(Path.Combine(dir, "..data")).LinkTarget!;
        string next = WriteVersion(content);
        string tmp = Path.Combine(dir, "..data_tmp");
        File.CreateSymbolicLink(tmp, next);
        // rename(2), as kubelet's os.Rename: `mv -T` atomically replaces the ..data symlink
        // (File.Move would follow it to the directory).
        using (Process mv = Process.Start(new ProcessStartInfo("mv") { ArgumentList = { "-T", tmp, Path.Combine(dir, "..data") } })!)
        {
            mv.WaitForExit();
            Assert.Equal(0, mv.ExitCode);
        }

        Directory.Delete(Path.Combine(dir, old), recursive: true);
    }

    private string WriteVersion(string content)
    {
        string name = $"..{DateTime.UtcNow:yyyy_MM_dd_HH_mm_ss.fffffff}{Guid.NewGuid():N}"[..40];
        Directory.CreateDirectory(Path.Combine(dir, name));
        File.WriteAllText(Path.Combine(dir, name, "config.yaml"), content);
        return name;
    }

    private async Task WaitForChange()
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref changes) == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(Volatile.Read(ref changes) > 0, "no change noticed within 30 s");
    }
}
