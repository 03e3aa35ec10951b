using System.Security.Cryptography;

namespace DamonOtel.Agent.Hosting;

/// <summary>
/// Notices changes of the config files (the config, its web_config and TLS files) by content,
/// however they happen: an in-place edit, an editor's rename-on-save, or Kubernetes swapping a
/// mounted ConfigMap's <c>..data</c> symlink (which changes no watched file name, so a watcher of
/// the file alone sees nothing). The directories are watched for any event, and a timer
/// re-hashes the files as a backstop (inotify misses events on some mounts); only a change of
/// a file's SHA-256 (or of its presence) calls <c>changed</c>.
/// </summary>
internal sealed class ConfigWatcher : IDisposable
{
    private readonly Func<IReadOnlyList<string>> files;
    private readonly Action changed;
    private readonly Lock gate = new();
    private readonly List<FileSystemWatcher> watchers = [];
    private readonly ITimer timer;
    private Dictionary<string, string> hashes;
    private readonly bool watchDirectories;
    private HashSet<string> watchedDirectories = new(StringComparer.Ordinal);

    /// <param name="files">The files to follow, asked again after each change (a reload may name other files).</param>
    /// <param name="changed">Called (on a thread-pool thread) when the content of one of them changed.</param>
    /// <param name="pollInterval">How often the files are re-hashed without any event.</param>
    /// <param name="time">The timer's clock.</param>
    /// <param name="watchDirectories">False: the timer alone (tests of the timer path, which events would race).</param>
    public ConfigWatcher(Func<IReadOnlyList<string>> files, Action changed, TimeSpan pollInterval, TimeProvider? time = null, bool watchDirectories = true)
    {
        this.files = files;
        this.changed = changed;
        this.watchDirectories = watchDirectories;
        hashes = HashAll(files());
        Watch(hashes.Keys);
        timer = (time ?? TimeProvider.System).CreateTimer(_ => Check(), null, pollInterval, pollInterval);
    }

    /// <summary>Re-hashes now; true (and <c>changed</c> called) when some content differs.</summary>
    public bool Check()
    {
        lock (gate)
        {
            IReadOnlyList<string> current = files();
            Dictionary<string, string> now = HashAll(current);
            bool same = now.Count == hashes.Count && now.All(kv => hashes.TryGetValue(kv.Key, out string? h) && h == kv.Value);
            if (same)
            {
                return false;
            }

            hashes = now;
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

    /// <summary>SHA-256 of each file; "" for one that cannot be read (gone, mid-swap).</summary>
    private static Dictionary<string, string> HashAll(IEnumerable<string> paths)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string path in paths)
        {
            try
            {
                using FileStream s = File.OpenRead(path);
                result[path] = Convert.ToHexString(SHA256.HashData(s));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                result[path] = string.Empty;
            }
        }

        return result;
    }

    // Every event in the directory (symlink swaps, renames, writes) triggers a re-hash.
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
