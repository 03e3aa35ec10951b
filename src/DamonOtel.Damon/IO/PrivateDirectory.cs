using System.Globalization;

namespace DamonOtel.Damon.IO;

/// <summary>
/// A directory only the agent's user may use (the state dir): created 0700, refused when it is
/// a symbolic link or owned by another user, tightened to 0700 when the agent owns it but others
/// may enter it. Files in it are written 0600 through a temporary file opened with
/// O_CREAT|O_EXCL|O_NOFOLLOW next to the target (a link planted at the temporary name is removed,
/// never written through) and renamed over the target, so a reader sees the old or the new
/// content, never a torn one. Every name is resolved relative to the directory's descriptor.
/// Every failure is a <see cref="SafeFileException"/>.
/// </summary>
public sealed class PrivateDirectory
{
    private const uint DirectoryMode = 0x1C0; // 0700
    private const uint FileMode = 0x180;      // 0600

    public PrivateDirectory(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
    }

    public string Path { get; }

    /// <summary>Atomically replaces <paramref name="name"/> with <paramref name="content"/>, creating the directory if needed.</summary>
    public void WriteFile(string name, ReadOnlySpan<byte> content)
    {
        CheckName(name);
        int dir = OpenDirectory(create: true);
        try
        {
            string tmp = name + ".tmp";
            int fd = CreateExclusive(dir, tmp);
            try
            {
                if (!Libc.WriteFull(fd, content) || Libc.Fsync(fd) != 0)
                {
                    throw Failure(tmp, "cannot write");
                }
            }
            catch
            {
                _ = Libc.Close(fd);
                _ = Libc.UnlinkAt(dir, tmp, 0);
                throw;
            }

            _ = Libc.Close(fd);
            if (Libc.RenameAt(dir, tmp, dir, name) != 0)
            {
                SafeFileException e = Failure(name, "cannot replace");
                _ = Libc.UnlinkAt(dir, tmp, 0);
                throw e;
            }

            _ = Libc.Fsync(dir); // the rename itself survives a power cut (a no-op on tmpfs)
        }
        finally
        {
            _ = Libc.Close(dir);
        }
    }

    /// <summary>The content of <paramref name="name"/>, or null when it (or the directory) does not exist.</summary>
    public SafeFileContent? ReadFile(string name, int maxBytes)
    {
        CheckName(name);
        int dir = OpenDirectory(create: false);
        if (dir < 0)
        {
            return null;
        }

        try
        {
            int fd = Libc.OpenAtRetrying(dir, name, Libc.ORdOnly | Libc.ONonBlock | Libc.ONoFollow | Libc.OCloExec);
            if (fd < 0)
            {
                var errno = (Errno)Libc.LastErrno;
                return errno == Errno.ENOENT ? null : throw new SafeFileException(Full(name), SafeFile.DescribeOpenError(errno, followSymlink: false));
            }

            try
            {
                return SafeFile.ReadOpen(fd, Full(name), maxBytes);
            }
            finally
            {
                _ = Libc.Close(fd);
            }
        }
        finally
        {
            _ = Libc.Close(dir);
        }
    }

    /// <summary>Removes <paramref name="name"/>; nothing happens when it (or the directory) does not exist.</summary>
    public void DeleteFile(string name)
    {
        CheckName(name);
        int dir = OpenDirectory(create: false);
        if (dir < 0)
        {
            return;
        }

        try
        {
            if (Libc.UnlinkAt(dir, name, 0) != 0 && (Errno)Libc.LastErrno != Errno.ENOENT)
            {
                throw Failure(name, "cannot remove");
            }
        }
        finally
        {
            _ = Libc.Close(dir);
        }
    }

    private static void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a plain file name", nameof(name));
        }
    }

    // A descriptor of the checked directory; -1 when it does not exist and create is false.
    private int OpenDirectory(bool create)
    {
        int flags = Libc.ORdOnly | Libc.ODirectory | Libc.ONoFollow | Libc.OCloExec;
        int fd = Libc.OpenRetrying(Path, flags);
        if (fd < 0 && (Errno)Libc.LastErrno == Errno.ENOENT && create)
        {
            string? parent = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
            try
            {
                if (parent is not null)
                {
                    Directory.CreateDirectory(parent);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SafeFileException(Path, "cannot create its parent directory: " + e.Message);
            }

            if (Libc.Mkdir(Path, DirectoryMode) != 0 && (Errno)Libc.LastErrno != Errno.EEXIST)
            {
                throw new SafeFileException(Path, "cannot create directory: " + KernelIoException.Describe((Errno)Libc.LastErrno));
            }

            fd = Libc.OpenRetrying(Path, flags);
        }

        if (fd < 0)
        {
            var errno = (Errno)Libc.LastErrno;
            // O_DIRECTORY on a link answers ENOTDIR (not ELOOP): look at the name itself.
            bool link = errno == Errno.ELOOP || (errno == Errno.ENOTDIR && Libc.TryLstat(Path, out FileFacts f) && f.Type == Libc.SIfLnk);
            return errno == Errno.ENOENT && !create ? -1 : throw new SafeFileException(Path, errno switch
            {
                _ when link => "is a symbolic link (the state directory must be a real directory)",
                Errno.ENOTDIR => "is not a directory",
                _ => SafeFile.DescribeOpenError(errno, followSymlink: false),
            });
        }

        try
        {
            CheckOwnership(fd, tighten: create);
            return fd;
        }
        catch
        {
            _ = Libc.Close(fd);
            throw;
        }
    }

    private void CheckOwnership(int fd, bool tighten)
    {
        if (!Libc.TryStat(fd, out FileFacts facts))
        {
            throw new SafeFileException(Path, "cannot stat: " + KernelIoException.Describe((Errno)Libc.LastErrno));
        }

        uint euid = Libc.GetEuid();
        if (facts.OwnerUid != euid)
        {
            throw new SafeFileException(Path, string.Create(CultureInfo.InvariantCulture, $"is owned by uid {facts.OwnerUid}, not by the agent's uid {euid}; the state directory must be the agent's own"));
        }

        if ((facts.Permissions & 0x3F) == 0)
        {
            return; // no group or other bits: private already
        }

        if (!tighten)
        {
            if (facts.IsGroupOrWorldWritable)
            {
                throw new SafeFileException(Path, "is writable by its group or by others; the state directory must be private (0700)");
            }

            return;
        }

        if (Libc.Fchmod(fd, DirectoryMode) != 0)
        {
            throw new SafeFileException(Path, "cannot make it private (chmod 0700): " + KernelIoException.Describe((Errno)Libc.LastErrno));
        }
    }

    private int CreateExclusive(int dir, string tmp)
    {
        int flags = Libc.OWrOnly | Libc.OCreat | Libc.OExcl | Libc.ONoFollow | Libc.OCloExec;
        int fd = Libc.OpenAtRetrying(dir, tmp, flags, (int)FileMode);
        if (fd < 0 && (Errno)Libc.LastErrno == Errno.EEXIST)
        {
            // Left by a crash mid-write, or planted: unlink removes the name itself (a symbolic
            // link, not what it points to); O_EXCL then guarantees a new file of ours.
            if (Libc.UnlinkAt(dir, tmp, 0) != 0)
            {
                throw Failure(tmp, "cannot remove a stale temporary file");
            }

            fd = Libc.OpenAtRetrying(dir, tmp, flags, (int)FileMode);
        }

        return fd < 0 ? throw Failure(tmp, "cannot create") : fd;
    }

    private string Full(string name) => System.IO.Path.Combine(Path, name);

    private SafeFileException Failure(string name, string what) =>
        new(Full(name), what + ": " + KernelIoException.Describe((Errno)Libc.LastErrno));
}
