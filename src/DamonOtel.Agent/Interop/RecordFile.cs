namespace DamonOtel.Agent.Interop;

/// <summary>
/// Writes a record file for damo: json_compressed (<see cref="DamoRecordWriter"/>), mode 0600
/// (region layouts reveal a process's memory map), created next to the target under a fresh
/// name (O_EXCL) and renamed over it, so a reader never sees half a file and an existing
/// symlink at the path is replaced, not followed.
/// </summary>
internal static class RecordFile
{
    public static void Write(string path, RecordResult result)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("record files are created with Unix permissions");
        }

        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? "/";
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        try
        {
            using (var stream = new FileStream(temp, options))
            {
                DamoRecordWriter.WriteCompressed(stream, result.Snapshots, result.Goal);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
