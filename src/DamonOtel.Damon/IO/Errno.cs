namespace DamonOtel.Damon.IO;

/// <summary>Linux errno values the DAMON interfaces are documented to return.</summary>
public enum Errno
{
    None = 0,
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    EFBIG = 27,
    ENOSPC = 28,
    ENOTEMPTY = 39,
    ELOOP = 40,
    ECANCELED = 125,
}

/// <summary>A kernel file operation failed; <see cref="Errno"/> says how.</summary>
public sealed class KernelIoException : IOException
{
    public KernelIoException(Errno errno, string path, string operation)
        : base($"{operation} {path}: {Describe(errno)}")
    {
        Errno = errno;
        Path = path;
        Operation = operation;
    }

    /// <summary>A failure that errno alone does not explain (a FIFO where a sysfs file should be).</summary>
    public KernelIoException(Errno errno, string path, string operation, string reason)
        : base($"{operation} {path}: {reason}")
    {
        Errno = errno;
        Path = path;
        Operation = operation;
    }

    public KernelIoException()
        : this(Errno.EIO, string.Empty, "io")
    {
    }

    public KernelIoException(string message)
        : base(message)
    {
        Path = string.Empty;
        Operation = string.Empty;
    }

    public KernelIoException(string message, Exception innerException)
        : base(message, innerException)
    {
        Path = string.Empty;
        Operation = string.Empty;
    }

    public Errno Errno { get; }

    public string Path { get; }

    public string Operation { get; }

    public bool IsNotFound => Errno is Errno.ENOENT or Errno.ENOTDIR;

    public static string Describe(Errno errno) => errno switch
    {
        Errno.EPERM => "operation not permitted (EPERM)",
        Errno.ENOENT => "no such file or directory (ENOENT)",
        Errno.EBUSY => "device or resource busy (EBUSY)",
        Errno.EINVAL => "invalid argument (EINVAL)",
        Errno.EACCES => "permission denied (EACCES)",
        Errno.EAGAIN => "resource temporarily unavailable (EAGAIN)",
        Errno.ECANCELED => "operation canceled (ECANCELED)",
        Errno.ENOMEM => "out of memory (ENOMEM)",
        Errno.EEXIST => "file exists (EEXIST)",
        Errno.ENOTEMPTY => "directory not empty (ENOTEMPTY)",
        Errno.EISDIR => "is a directory (EISDIR)",
        Errno.ENOTDIR => "not a directory (ENOTDIR)",
        Errno.ELOOP => "a symbolic link (not followed) or a link loop (ELOOP)",
        Errno.ENXIO => "not a regular file (ENXIO)",
        Errno.EFBIG => "file too large (EFBIG)",
        _ => $"errno {(int)errno} ({errno})",
    };
}
