using DamonOtel.Damon.IO;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// Notices changes of the config files (the config, its web_config and TLS files) by content,
/// however they happen: an in-place edit, an editor's rename-on-save, or Kubernetes swapping a
/// mounted ConfigMap's <c>..data</c> symlink (which changes no watched file name, so a watcher of
/// the file alone sees nothing). The directories are watched for any event, and a timer
/// re-reads the files as a backstop (inotify misses events on some mounts); only a change of
/// a file's bytes (or of its presence) calls <c>changed</c>. The bytes themselves are kept and
/// compared, not a SHA-256 of them: config files are a few KB (at most
/// <see cref="Configuration.YamlLimits.MaxFileBytes"/> for the config), and a hash made the
/// runtime load libcrypto, ~4 MB of the agent's RSS (bench/README.md, the agent as a whole).
/// Files are read as the loaders read them (<see cref="SafeFile"/>: non-blocking, regular files
/// only, size-capped), so a FIFO or a huge file put in a config's place reads as unreadable, and
/// the reload it triggers reports why, instead of blocking the watcher for good.
/// </summary>
internal sealed class ConfigWatcher : IDisposable
{
    private readonly Func<IReadOnlyList<string>> files;
    private readonly Action changed;
    private static readonly SafeReadOptions ReadOptions = new() { MaxBytes = Configuration.YamlLimits.MaxFileBytes, FollowSymlink = true };

    private readonly Lock gate = new();
    private readonly List<FileSystemWatcher> watchers = [];
    private readonly ITimer timer;
    private Dictionary<string, byte[]?> contents;
    private readonly bool watchDirectories;
    private HashSet<string> watchedDirectories = new(StringComparer.Ordinal);

    /// <param name="files">The files to follow, asked again after each change (a reload may name other files).</param>
    /// <param name="changed">Called (on a thread-pool thread) when the content of one of them changed.</param>
    /// <param name="pollInterval">How often the files are re-read without any event.</param>
    /// <param name="time">The timer's clock.</param>
    /// <param name="watchDirectories">False: the timer alone (tests of the timer path, which events would race).</param>
    public ConfigWatcher(Func<IReadOnlyList<string>> files, Action changed, TimeSpan pollInterval, TimeProvider? time = null, bool watchDirectories = true)
    {
        this.files = files;
        this.changed = changed;
        this.watchDirectories = watchDirectories;
        contents = ReadAll(files());
        Watch(contents.Keys);
        timer = (time ?? TimeProvider.System).CreateTimer(_ => Check(), null, pollInterval, pollInterval);
    }

    /// <summary>Re-reads now; true (and <c>changed</c> called) when some content differs.</summary>
    public bool Check()
    {
        lock (gate)
        {
            IReadOnlyList<string> current = files();
            Dictionary<string, byte[]?> now = ReadAll(current);
            bool same = now.Count == contents.Count && now.All(kv => contents.TryGetValue(kv.Key, out byte[]? old) && SameBytes(old, kv.Value));
            if (same)
            {
                return false;
            }

            contents = now;
            Watch(now.Keys);
        }

        changed();
        return true;
    }

    public void Dispose()
    {
        timer.Dispose();
        lock (gate)
        {
            foreach (FileSystemWatcher w in watchers)
            {
                w.Dispose();
            }

            watchers.Clear();
        }
    }

    /// <summary>The bytes of each file; null for one that cannot be read (gone, mid-swap).</summary>
    private static Dictionary<string, byte[]?> ReadAll(IEnumerable<string> paths)
    {
        var result = new Dictionary<string, byte[]?>(StringComparer.Ordinal);
        foreach (string path in paths)
        {
            try
            {
                result[path] = SafeFile.Read(path, ReadOptions).Bytes;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                result[path] = null;
            }
        }

        return result;
    }

    private static bool SameBytes(byte[]? a, byte[]? b) => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    // Every event in the directory (symlink swaps, renames, writes) triggers a re-read.
    private void Watch(IEnumerable<string> paths)
    {
        if (!watchDirectories)
        {
            return;
        }

        var dirs = new HashSet<string>(paths.Select(p => Path.GetDirectoryName(Path.GetFullPath(p))).OfType<string>().Where(Directory.Exists), StringComparer.Ordinal);
        if (dirs.SetEquals(watchedDirectories))
        {
            return;
        }

        foreach (FileSystemWatcher w in watchers)
        {
            w.Dispose();
        }

        watchers.Clear();
        foreach (string dir in dirs)
        {
            var w = new FileSystemWatcher(dir)
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            w.Changed += (_, _) => CheckSoon();
            w.Created += (_, _) => CheckSoon();
            w.Deleted += (_, _) => CheckSoon();
            w.Renamed += (_, _) => CheckSoon();
            w.EnableRaisingEvents = true;
            watchers.Add(w);
        }

        watchedDirectories = dirs;
    }

    private void CheckSoon() => ThreadPool.QueueUserWorkItem(_ => Check());
}
