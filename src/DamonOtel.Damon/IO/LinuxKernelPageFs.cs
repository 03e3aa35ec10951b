using System.Runtime.InteropServices;

namespace DamonOtel.Damon.IO;

/// <summary>
/// <see cref="IKernelPageFs"/> on the real kernel: pread(2) on a descriptor kept open for the
/// whole pass (one syscall per sample, not open/read/close), stat(2) for inode numbers.
/// </summary>
public sealed partial class LinuxKernelPageFs : IKernelPageFs
{
    public static LinuxKernelPageFs Instance { get; } = new();

    private const int ORdOnly = 0x0000;
    private const int OCloExec = 0x80000;

    public IPageFrameFile OpenPageFrameFile(string path)
    {
        int fd;
        do
        {
            fd = OpenNative(path, ORdOnly | OCloExec);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);

        return fd < 0 ? throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "open") : new PageFrameFile(fd, path);
    }

    public ulong GetInode(string path)
    {
        // statx with STATX_INO: a stable ABI layout (struct stat differs between architectures).
        Span<byte> buf = stackalloc byte[256];
        int rc;
        unsafe
        {
            fixed (byte* p = buf)
            {
                rc = Statx(AtFdCwd, path, 0, StatxIno, p);
            }
        }

        if (rc != 0)
        {
            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "statx");
        }

        // struct statx: stx_ino is the u64 at offset 32.
        return BitConverter.ToUInt64(buf[32..40]);
    }

    private const int AtFdCwd = -100;
    private const uint StatxIno = 0x100;

    private sealed class PageFrameFile(int fd, string path) : IPageFrameFile
    {
        private int fd = fd;

        public unsafe int Read(ulong pfn, Span<ulong> entries)
        {
            ObjectDisposedException.ThrowIf(fd < 0, this);
            nint n;
            fixed (ulong* p = entries)
            {
                do
                {
                    n = PRead(fd, p, entries.Length * sizeof(ulong), checked((long)(pfn * sizeof(ulong))));
                }
                while (n < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
            }

            return n < 0 ? throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "pread") : (int)(n / sizeof(ulong));
        }

        public void Dispose()
        {
            if (fd >= 0)
            {
                _ = Close(fd);
                fd = -1;
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "pread64", SetLastError = true)]
    private static unsafe partial nint PRead(int fd, void* buf, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buf);
}
