using System.Globalization;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>A pid file as read by <see cref="PidFiles.Read"/>: the pid on its first line and when the file last changed.</summary>
internal readonly record struct TrustedPidFile(int Pid, DateTimeOffset ModifiedAt);

/// <summary>
/// The trust rules for pid files. The agent runs as root and acts on the process a pid file
/// names (DAMOS actions included), so the file must be one only root, or the configured
/// <c>pid_file_owner</c>, can have written. <see cref="PidFile"/> reads it safely (no symbolic
/// link followed, only a regular file, at most 4 KiB, the pid on the first line); refused here
/// besides are another owner and group or world write permission.
/// </summary>
internal static class PidFiles
{
    /// <summary>False with the reason when the file is absent, untrusted or holds no pid. Never throws for a bad file.</summary>
    public static bool Read(string path, uint? allowedOwner, out TrustedPidFile content, out string problem)
    {
        content = default;
        PidFileContent file;
        DateTime modified;
        try
        {
            file = PidFile.Read(path);

            // The file was just checked to be a regular file, not a link: its time is the file's own.
            modified = File.GetLastWriteTimeUtc(path);
        }
        catch (SafeFileException e)
        {
            problem = $"pid file {path}: {e.Reason}";
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"pid file {path}: {e.Message}";
            return false;
        }

        if (file.Facts.OwnerUid != 0 && file.Facts.OwnerUid != allowedOwner)
        {
            problem = string.Create(CultureInfo.InvariantCulture, $"pid file {path} is owned by uid {file.Facts.OwnerUid}, not by root{(allowedOwner is { } o ? $" or uid {o}" : string.Empty)} (pid_file_owner names a uid to trust)");
            return false;
        }

        if (file.Facts.IsGroupOrWorldWritable)
        {
            problem = string.Create(CultureInfo.InvariantCulture, $"pid file {path} is writable by group or others (mode {Convert.ToString(file.Facts.Permissions, 8)}): anyone who can write it would choose the process");
            return false;
        }

        content = new TrustedPidFile(file.Pid, new DateTimeOffset(modified, TimeSpan.Zero));
        problem = string.Empty;
        return true;
    }
}
