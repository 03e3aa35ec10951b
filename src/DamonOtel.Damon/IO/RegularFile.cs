using System.Runtime.InteropServices;

namespace DamonOtel.Damon.IO;

/// <summary>A small regular file read whole, with the facts a trust decision needs.</summary>
/// <param name="Data">Its first bytes (at most the cap given to <see cref="RegularFile.Read"/>).</param>
/// <param name="OwnerUid">st_uid.</param>
/// <param name="Mode">st_mode permission bits (the low 12 bits).</param>
/// <param name="ModifiedAt">st_mtime.</param>
public sealed record RegularFileContent(byte[] Data, uint OwnerUid, uint Mode, DateTimeOffset ModifiedAt);

/// <summary>
/// Reads a small file outside the kernel's pseudo-filesystems (a pid file) without following a
/// symbolic link as its last component (O_NOFOLLOW: ELOOP), without blocking on a FIFO
/// (O_NONBLOCK), refusing anything but a regular file, with owner and mode taken from the
/// descriptor that is read (fstat-like statx on the fd: no race between check and read).
/// </summary>
public static partial class RegularFile
{
    private const int ORdOnly = 0x0000;
    private const int ONonBlock = 0x0800;
    private const int ONoFollow = 0x20000;
    private const int OCloExec = 0x80000;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const uint FileTypeMask = 0xF000;
    private const uint RegularFileType = 0x8000;

    /// <summary>ELOOP: open(O_NOFOLLOW) of a symbolic link.</summary>
    public const int Eloop = 40;

    /// <summary>
    /// Reads at most <paramref name="maxBytes"/> bytes of <paramref name="path"/>. Throws
    /// <see cref="KernelIoException"/> (errno ELOOP for a symbolic link, EINVAL with "not a regular
    /// file" for FIFOs, devices, sockets and directories).
    /// </summary>
    public static RegularFileContent Read(string path, int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        int fd;
        do
        {
            fd = Open(path, ORdOnly | ONonBlock | ONoFollow | OCloExec);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);

        if (fd < 0)
        {
            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "open");
        }

        try
        {
            Span<byte> stat = stackalloc byte[256];
            int rc;
            unsafe
            {
                fixed (byte* p = stat)
                {
                    rc = Statx(fd, string.Empty, AtEmptyPath, StatxBasicStats, p);
                }
            }

            if (rc != 0)
            {
                throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "statx");
            }

            // struct statx: stx_uid u32 @20, stx_mode u16 @28, stx_mtime {s64 sec, u32 nsec} @112.
            uint uid = BitConverter.ToUInt32(stat[20..24]);
            uint mode = BitConverter.ToUInt16(stat[28..30]);
            long mtimeSec = BitConverter.ToInt64(stat[112..120]);
            uint mtimeNsec = BitConverter.ToUInt32(stat[120..124]);
            if ((mode & FileTypeMask) != RegularFileType)
            {
                throw new KernelIoException(Errno.EINVAL, path, "open (not a regular file)");
            }

            byte[] data = new byte[maxBytes];
            int total = 0;
            unsafe
            {
                fixed (byte* p = data)
                {
                    while (total < data.Length)
                    {
                        nint n = ReadNative(fd, p + total, data.Length - total);
                        if (n < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR)
                        {
                            continue;
                        }

                        if (n < 0)
                        {
                            throw new KernelIoException((Errno)Marshal.GetLastPInvokeError(), path, "read");
                        }

                        if (n == 0)
                        {
                            break;
                        }

                        total += (int)n;
                    }
                }
            }

            return new RegularFileContent(data[..total], uid, mode & 0xFFF, DateTimeOffset.FromUnixTimeSeconds(mtimeSec).AddTicks(mtimeNsec / 100));
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint ReadNative(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buf);
}
