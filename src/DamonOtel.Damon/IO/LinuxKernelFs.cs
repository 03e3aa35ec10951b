using System.Runtime.InteropServices;
using System.Text;

namespace DamonOtel.Damon.IO;

/// <summary>
/// The real filesystem, through libc open/read/write/close so that a sysfs read is exactly
/// one open, one read and one close (no locking), and a write is a single write(2) whose errno
/// (EBUSY from the DAMON sysfs mutex, EINVAL...) reaches the caller unchanged.
/// Every open is O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC: no DAMON, tracefs or procfs file the
/// agent opens is a symbolic link; sysfs, procfs and tracefs files ignore O_NONBLOCK except
/// trace_pipe, which is polled anyway; and a FIFO planted under a configured root opens at
/// once instead of blocking. Text reads, writes and pipes check with fstat that they opened a
/// regular file (every kernel attribute is one) and refuse FIFOs, devices and sockets; text
/// reads stop at <see cref="MaxTextBytes"/>. The hot <see cref="ReadBytes"/> skips the fstat:
/// it reads once into the caller's fixed buffer and cannot block or grow.
/// </summary>
public sealed partial class LinuxKernelFs : IKernelFs
{
    public static LinuxKernelFs Instance { get; } = new();

    /// <summary>
    /// The largest text file read: sysfs attributes are one page; the largest procfs files read
    /// (/proc/PID/maps of a process at the default vm.max_map_count of 65530 mappings) stay
    /// well below it.
    /// </summary>
    public const int MaxTextBytes = 16 << 20;

    private static readonly int ReadFlags = Libc.ORdOnly | Libc.ONonBlock | Libc.OCloExec | Libc.ONoFollow;
    private static readonly int WriteFlags = Libc.OWrOnly | Libc.ONonBlock | Libc.OCloExec | Libc.ONoFollow;

    // Sysfs attributes print at most one page; a slightly larger buffer tells truncation apart.
    private const int SmallFileBuffer = 8192;

    public string ReadText(string path)
    {
        int fd = Open(path, ReadFlags, "read");
        try
        {
            RequireRegularFile(fd, path, "read");
            Span<byte> first = stackalloc byte[SmallFileBuffer];
            int n = ReadLoop(fd, first, path);
            if (n < first.Length)
            {
                return Encoding.UTF8.GetString(first[..n]);
            }

            // Larger than a page (e.g. /proc/iomem, format files): keep reading.
            using var ms = new MemoryStream();
            ms.Write(first);
            byte[] chunk = new byte[65536];
            while (true)
            {
                int m = ReadLoop(fd, chunk, path);
                if (m == 0)
                {
                    break;
                }

                if (ms.Length + m > MaxTextBytes)
                {
                    throw new KernelIoException(Errno.EFBIG, path, "read", $"larger than {MaxTextBytes >> 20} MiB; no kernel file the agent reads is");
                }

                ms.Write(chunk, 0, m);
            }

            return Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    public int ReadBytes(string path, Span<byte> buffer)
    {
        int fd = Open(path, ReadFlags, "read");
        try
        {
            return ReadOnce(fd, buffer, path);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    public void WriteText(string path, string text)
    {
        int fd = Open(path, WriteFlags, "write");
        try
        {
            RequireRegularFile(fd, path, "write");
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            nint written;
            unsafe
            {
                fixed (byte* p = bytes)
                {
                    do
                    {
                        written = Write(fd, p, bytes.Length);
                    }
                    while (written < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
                }
            }

            if (written < 0)
            {
                throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "write");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    public IReadOnlyList<string> ListDirectory(string path)
    {
        try
        {
            var names = new List<string>();
            foreach (string entry in Directory.EnumerateFileSystemEntries(path))
            {
                names.Add(System.IO.Path.GetFileName(entry));
            }

            return names;
        }
        catch (DirectoryNotFoundException)
        {
            throw new KernelIoException(Errno.ENOENT, path, "list");
        }
        catch (UnauthorizedAccessException)
        {
            throw new KernelIoException(Errno.EACCES, path, "list");
        }
        catch (IOException e) when (e is not KernelIoException)
        {
            throw new KernelIoException(Errno.EIO, path, "list");
        }
    }

    public bool FileExists(string path) => File.Exists(path);

    public bool DirectoryExists(string path) => Directory.Exists(path);

    public void CreateDirectory(string path)
    {
        if (Mkdir(path, 0x1ED /* 0755 */) != 0)
        {
            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "mkdir");
        }
    }

    public void RemoveDirectory(string path)
    {
        if (Rmdir(path) != 0)
        {
            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "rmdir");
        }
    }

    public string ReadLink(string path)
    {
        // PATH_MAX; /proc/<pid>/exe never prints more.
        Span<byte> buffer = stackalloc byte[4096];
        nint n;
        unsafe
        {
            fixed (byte* p = buffer)
            {
                n = ReadLinkNative(path, p, buffer.Length);
            }
        }

        if (n < 0)
        {
            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "readlink");
        }

        return Encoding.UTF8.GetString(buffer[..(int)n]);
    }


    public Stream OpenPipe(string path)
    {
        int fd = Open(path, ReadFlags, "open");
        try
        {
            RequireRegularFile(fd, path, "open");
        }
        catch
        {
            _ = Close(fd);
            throw;
        }

        return new NonBlockingPipeStream(fd, path);
    }

    public IKernelDirectory OpenDirectory(string path) => new DescriptorDirectory(Open(path, Libc.ORdOnly | Libc.ODirectory | Libc.OCloExec | Libc.ONoFollow, "open"), path);

    private static int Open(string path, int flags, string operation)
    {
        int fd = Libc.OpenRetrying(path, flags);
        if (fd < 0)
        {
            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, operation);
        }

        return fd;
    }

    // Kernel attributes, trace_pipe included, are regular files; anything else under a root is planted.
    private static void RequireRegularFile(int fd, string path, string operation)
    {
        if (!Libc.TryStat(fd, out FileFacts facts))
        {
            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, operation);
        }

        if (!facts.IsRegularFile)
        {
            throw new KernelIoException(
                facts.IsDirectory ? Errno.EISDIR : Errno.ENXIO, path, operation, $"is {facts.TypeName}, not a kernel attribute file");
        }
    }

    private static unsafe int ReadOnce(int fd, Span<byte> buffer, string path)
    {
        nint n;
        fixed (byte* p = buffer)
        {
            do
            {
                n = Read(fd, p, buffer.Length);
            }
            while (n < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
        }

        if (n < 0)
        {
            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "read");
        }

        return (int)n;
    }

    // Fills the buffer or stops at EOF; a single read for files smaller than the buffer.
    private static int ReadLoop(int fd, Span<byte> buffer, string path)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = ReadOnce(fd, buffer[total..], path);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static unsafe partial int OpenAt(int dirFd, byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    private static unsafe partial nint GetDents64(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint Write(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint ReadLinkNative(string path, byte* buf, nint size);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mkdir(string path, int mode);

    [LibraryImport("libc", EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Rmdir(string path);

    /// <summary>A directory descriptor: getdents64 for listings, openat relative to it for reads.</summary>
    private sealed class DescriptorDirectory(int fd, string path) : IKernelDirectory
    {
        // Relative names in the hot path are short ("1999/nr_accesses"); longer ones are rare.
        private const int StackPathBytes = 256;

        // linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, then the NUL-ended name.
        private const int DirentRecLenOffset = 16;
        private const int DirentNameOffset = 19;

        private int fd = fd;

        public string Path { get; } = path;

        public unsafe IReadOnlyList<string> ListNumbered(List<int> numbers)
        {
            ArgumentNullException.ThrowIfNull(numbers);
            ObjectDisposedException.ThrowIf(fd < 0, this);
            if (LSeek(fd, 0, 0 /* SEEK_SET */) < 0)
            {
                throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), Path, "list");
            }

            var others = new List<string>();
            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(32 * 1024);
            try
            {
                fixed (byte* b = buffer)
                {
                    while (true)
                    {
                        nint n;
                        do
                        {
                            n = GetDents64(fd, b, buffer.Length);
                        }
                        while (n < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);

                        if (n < 0)
                        {
                            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), Path, "list");
                        }

                        if (n == 0)
                        {
                            return others;
                        }

                        for (int pos = 0; pos < n;)
                        {
                            int recLen = *(ushort*)(b + pos + DirentRecLenOffset);
                            ReadOnlySpan<byte> name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(b + pos + DirentNameOffset);
                            pos += recLen;
                            if (TryParseNumber(name, out int number))
                            {
                                numbers.Add(number);
                            }
                            else if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
                            {
                                others.Add(Encoding.UTF8.GetString(name));
                            }
                        }
                    }
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        public unsafe int ReadBytes(ReadOnlySpan<byte> relativePath, Span<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(fd < 0, this);
            byte[]? rented = null;
            Span<byte> z = relativePath.Length < StackPathBytes
                ? stackalloc byte[StackPathBytes]
                : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(relativePath.Length + 1));
            try
            {
                relativePath.CopyTo(z);
                z[relativePath.Length] = 0;
                int file;
                fixed (byte* p = z)
                {
                    do
                    {
                        file = OpenAt(fd, p, ReadFlags);
                    }
                    while (file < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
                }

                if (file < 0)
                {
                    throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), FullPath(relativePath), "read");
                }

                try
                {
                    nint n;
                    fixed (byte* b = buffer)
                    {
                        do
                        {
                            n = Read(file, b, buffer.Length);
                        }
                        while (n < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
                    }

                    if (n < 0)
                    {
                        throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), FullPath(relativePath), "read");
                    }

                    return (int)n;
                }
                finally
                {
                    _ = Close(file);
                }
            }
            finally
            {
                if (rented is not null)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }

        public void Dispose()
        {
            if (fd >= 0)
            {
                _ = Close(fd);
                fd = -1;
            }
        }

        // Decimal digits only, as int.TryParse with NumberStyles.None (leading zeros allowed).
        private static bool TryParseNumber(ReadOnlySpan<byte> name, out int value)
        {
            value = 0;
            if (name.IsEmpty || name.Length > 10)
            {
                return false;
            }

            long v = 0;
            foreach (byte c in name)
            {
                if ((uint)(c - '0') > 9)
                {
                    return false;
                }

                v = (v * 10) + (c - '0');
            }

            if (v > int.MaxValue)
            {
                return false;
            }

            value = (int)v;
            return true;
        }

        private string FullPath(ReadOnlySpan<byte> relativePath) => System.IO.Path.Combine(Path, Encoding.UTF8.GetString(relativePath));
    }

    private sealed class NonBlockingPipeStream(int fd, string path) : Stream
    {
        private int fd = fd;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override unsafe int Read(Span<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(fd < 0, this);
            nint n;
            fixed (byte* p = buffer)
            {
                do
                {
                    n = LinuxKernelFs.Read(fd, p, buffer.Length);
                }
                while (n < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
            }

            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == (int)Errno.EAGAIN)
                {
                    return 0;
                }

                throw new KernelIoException((Errno)errno, path, "read");
            }

            return (int)n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (fd >= 0)
            {
                _ = LinuxKernelFs.Close(fd);
                fd = -1;
            }

            base.Dispose(disposing);
        }
    }
}
