using System.Globalization;
using System.Text;

namespace DamonOtel.Damon.IO;

/// <summary>How <see cref="SafeFile"/> opens a file.</summary>
public sealed record SafeReadOptions
{
    /// <summary>Larger files are refused (the agent never reads an input it cannot bound).</summary>
    public required int MaxBytes { get; init; }

    /// <summary>
    /// Whether a symbolic link as the last path component is followed. Off for files in
    /// directories others may write (pid files) and for the agent's own state; on for the config
    /// and its TLS files, because Kubernetes ConfigMap and Secret volumes are symbolic links
    /// into a <c>..data</c> directory.
    /// </summary>
    public bool FollowSymlink { get; init; }
}

/// <summary>An input file was refused or could not be read; the message is one line naming the file.</summary>
public sealed class SafeFileException : IOException
{
    public SafeFileException(string path, string reason)
        : base($"{path}: {reason}")
    {
        Path = path;
        Reason = reason;
    }

    public SafeFileException()
        : this(string.Empty, "cannot be read")
    {
    }

    public SafeFileException(string message)
        : base(message)
    {
        Path = string.Empty;
        Reason = message;
    }

    public SafeFileException(string message, Exception innerException)
        : base(message, innerException)
    {
        Path = string.Empty;
        Reason = message;
    }

    public string Path { get; }

    /// <summary>The problem without the path ("is a FIFO, not a regular file").</summary>
    public string Reason { get; }
}

/// <summary>A file's bytes and what fstat said about it when it was read (owner and mode for policies).</summary>
public sealed record SafeFileContent(byte[] Bytes, FileFacts Facts)
{
    public string Text => Encoding.UTF8.GetString(Bytes);
}

/// <summary>
/// Reads input files (config, web_config, TLS files, pid files, state files) so that no file
/// can hang, exhaust or steer the agent: the open never blocks (O_NONBLOCK: a FIFO with no
/// writer opens at once), only regular files are read (fstat after open refuses FIFOs,
/// devices, sockets and directories), the size is capped, descriptors are O_CLOEXEC, and a
/// symbolic link is followed only when asked. Every failure is a <see cref="SafeFileException"/>.
/// </summary>
public static class SafeFile
{
    /// <summary>Reads a whole file as UTF-8 text under <paramref name="options"/>.</summary>
    public static string ReadText(string path, SafeReadOptions options) => Read(path, options).Text;

    /// <summary>Reads a whole file under <paramref name="options"/>, with its owner and mode.</summary>
    public static SafeFileContent Read(string path, SafeReadOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        int flags = Libc.ORdOnly | Libc.ONonBlock | Libc.OCloExec | (options.FollowSymlink ? 0 : Libc.ONoFollow);
        int fd = Libc.OpenRetrying(path, flags);
        if (fd < 0)
        {
            throw new SafeFileException(path, DescribeOpenError((Errno)Libc.LastErrno, options.FollowSymlink));
        }

        try
        {
            return ReadOpen(fd, path, options.MaxBytes);
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    /// <summary>Reads an already opened descriptor the same way (used by <see cref="PrivateDirectory"/>).</summary>
    internal static SafeFileContent ReadOpen(int fd, string path, int maxBytes)
    {
        if (!Libc.TryStat(fd, out FileFacts facts))
        {
            throw new SafeFileException(path, "cannot stat: " + KernelIoException.Describe((Errno)Libc.LastErrno));
        }

        if (!facts.IsRegularFile)
        {
            throw new SafeFileException(path, $"is {facts.TypeName}, not a regular file");
        }

        if (facts.Size > maxBytes)
        {
            throw new SafeFileException(path, $"is {FormatBytes(facts.Size)}; the limit is {FormatBytes(maxBytes)}");
        }

        // The size from fstat can change under us: read at most one byte past the limit to tell.
        byte[] buffer = new byte[Math.Min(maxBytes, Math.Max(facts.Size, 4096)) + 1];
        int total = 0;
        while (true)
        {
            int n = Libc.ReadFull(fd, buffer.AsSpan(total));
            if (n < 0)
            {
                throw new SafeFileException(path, "cannot read: " + KernelIoException.Describe((Errno)Libc.LastErrno));
            }

            total += n;
            if (total > maxBytes)
            {
                throw new SafeFileException(path, $"is larger than the limit of {FormatBytes(maxBytes)}");
            }

            if (total < buffer.Length)
            {
                break;
            }

            Array.Resize(ref buffer, (int)Math.Min((long)maxBytes + 1, buffer.Length * 2L));
        }

        return new SafeFileContent(buffer.AsSpan(0, total).ToArray(), facts);
    }

    /// <summary>The reason for an open(2) failure, in words.</summary>
    internal static string DescribeOpenError(Errno errno, bool followSymlink) => errno switch
    {
        Errno.ENOENT => "no such file",
        Errno.EACCES => "permission denied",
        Errno.ENOTDIR => "a component of the path is not a directory",
        Errno.ELOOP when !followSymlink => "is a symbolic link (not followed here)",
        Errno.ELOOP => "too many levels of symbolic links",
        Errno.ENXIO => "is a device or socket with nothing behind it",
        _ => "cannot open: " + KernelIoException.Describe(errno),
    };

    // "4 KiB", "11 MiB" (rounded: 11534361 bytes is "11 MiB"), "65 bytes".
    internal static string FormatBytes(long bytes) => bytes switch
    {
        >= 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1 << 20):0.#} MiB"),
        >= 1 << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1 << 10):0.#} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes"),
    };
}
