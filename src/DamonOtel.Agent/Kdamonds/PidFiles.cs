using System.Globalization;
using System.Text;
using DamonOtel.Damon.IO;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>A pid file as read by <see cref="PidFiles.Read"/>: the pid on its first line and when the file last changed.</summary>
internal readonly record struct PidFileContent(int Pid, DateTimeOffset ModifiedAt);

/// <summary>
/// The trust rules for pid files. The agent runs as root and acts on the process a pid file
/// names (DAMOS actions included), so the file must be one only root, or the configured
/// <c>pid_file_owner</c>, can have written: refused are a symbolic link as the file itself, anything
/// but a regular file, another owner, and group or world write permission. Only the first
/// line is read (postgres's postmaster.pid has more after it).
/// </summary>
internal static class PidFiles
{
    public const int MaxBytes = 4096;

    private const uint GroupOrWorldWritable = 0x12; // 0o022

    /// <summary>False with the reason when the file is absent, untrusted or holds no pid. Never throws for a bad file.</summary>
    public static bool Read(string path, uint? allowedOwner, out PidFileContent content, out string problem)
    {
        content = default;
        RegularFileContent file;
        try
        {
            file = RegularFile.Read(path, MaxBytes);
        }
        catch (KernelIoException e)
        {
            problem = (int)e.Errno switch
            {
                (int)Errno.ENOENT or (int)Errno.ENOTDIR => $"pid file {path} does not exist",
                RegularFile.Eloop => $"pid file {path} is a symbolic link (not followed: whoever can change the link would choose the process)",
                _ => $"pid file {path}: {e.Message}",
            };
            return false;
        }

        if (file.OwnerUid != 0 && file.OwnerUid != allowedOwner)
        {
            problem = string.Create(CultureInfo.InvariantCulture, $"pid file {path} is owned by uid {file.OwnerUid}, not by root{(allowedOwner is { } o ? $" or uid {o}" : string.Empty)} (pid_file_owner names a uid to trust)");
            return false;
        }

        if ((file.Mode & GroupOrWorldWritable) != 0)
        {
            problem = string.Create(CultureInfo.InvariantCulture, $"pid file {path} is writable by group or others (mode {Convert.ToString(file.Mode, 8)}): anyone who can write it would choose the process");
            return false;
        }

        ReadOnlySpan<byte> data = file.Data;
        int newline = data.IndexOf((byte)'\n');
        string first = Encoding.ASCII.GetString(newline >= 0 ? data[..newline] : data).Trim();
        if (!int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid <= 0)
        {
            problem = $"pid file {path} does not start with a pid (first line '{(first.Length > 40 ? first[..40] + "..." : first)}')";
            return false;
        }

        content = new PidFileContent(pid, file.ModifiedAt);
        problem = string.Empty;
        return true;
    }
}
