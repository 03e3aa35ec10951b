using System.Runtime.InteropServices;

namespace DamonOtel.Damon.IO;

/// <summary>
/// The libc calls behind the safe file layer (<see cref="SafeFile"/>, <see cref="PrivateDirectory"/>)
/// and <see cref="LinuxKernelFs"/>: open flags .NET does not expose (O_NOFOLLOW, O_NONBLOCK,
/// O_EXCL relative to a directory descriptor) and statx on a descriptor, whose layout is the same
/// on every architecture (struct stat is not).
/// </summary>
internal static partial class Libc
{
    public const int ORdOnly = 0x0000;
    public const int OWrOnly = 0x0001;
    public const int OCreat = 0x0040;
    public const int OExcl = 0x0080;
    public const int ONonBlock = 0x0800;
    public const int OCloExec = 0x80000;
    public const int AtFdCwd = -100;

    // Types of stx_mode (S_IFMT bits).
    public const uint SIfMt = 0xF000;
    public const uint SIfReg = 0x8000;
    public const uint SIfDir = 0x4000;
    public const uint SIfLnk = 0xA000;
    public const uint SIfChr = 0x2000;
    public const uint SIfBlk = 0x6000;
    public const uint SIfIfo = 0x1000;
    public const uint SIfSock = 0xC000;

    private const int AtEmptyPath = 0x1000;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7FF;

    // arm, arm64 and powerpc number O_DIRECTORY and O_NOFOLLOW differently from the generic
    // layout x86, riscv and s390 share (asm/fcntl.h of each architecture).
    private static readonly bool ArmFlagLayout = RuntimeInformation.ProcessArchitecture
        is Architecture.Arm or Architecture.Arm64 or Architecture.Armv6 or Architecture.Ppc64le;

    public static int ONoFollow { get; } = ArmFlagLayout ? 0x8000 : 0x20000;

    public static int ODirectory { get; } = ArmFlagLayout ? 0x4000 : 0x10000;

    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>open(2) retried on EINTR; -1 with errno on failure.</summary>
    public static int OpenRetrying(string path, int flags, int mode = 0)
    {
        int fd;
        do
        {
            fd = OpenAt(AtFdCwd, path, flags, mode);
        }
        while (fd < 0 && LastErrno == (int)Errno.EINTR);

        return fd;
    }

    /// <summary>openat(2) retried on EINTR; -1 with errno on failure.</summary>
    public static int OpenAtRetrying(int dirFd, string name, int flags, int mode = 0)
    {
        int fd;
        do
        {
            fd = OpenAt(dirFd, name, flags, mode);
        }
        while (fd < 0 && LastErrno == (int)Errno.EINTR);

        return fd;
    }

    /// <summary>Type, permissions, owner and size of an open descriptor; false with errno on failure.</summary>
    public static bool TryStat(int fd, out FileFacts facts) => TryStatx(fd, string.Empty, AtEmptyPath, out facts);

    /// <summary>What <paramref name="path"/> itself is (a symbolic link is not followed); false with errno on failure.</summary>
    public static bool TryLstat(string path, out FileFacts facts) => TryStatx(AtFdCwd, path, AtSymlinkNoFollow, out facts);

    private static unsafe bool TryStatx(int dirFd, string path, int flags, out FileFacts facts)
    {
        byte* buf = stackalloc byte[256];
        if (Statx(dirFd, path, flags, StatxBasicStats, buf) != 0)
        {
            facts = default;
            return false;
        }

        // struct statx: stx_uid u32 at 20, stx_gid u32 at 24, stx_mode u16 at 28, stx_size u64 at 40.
        uint mode = *(ushort*)(buf + 28);
        facts = new FileFacts(mode & SIfMt, mode & 0xFFF, *(uint*)(buf + 20), *(uint*)(buf + 24), *(long*)(buf + 40));
        return true;
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or end of file, retrying EINTR; -1 with errno on failure.</summary>
    public static unsafe int ReadFull(int fd, Span<byte> buffer)
    {
        int total = 0;
        fixed (byte* p = buffer)
        {
            while (total < buffer.Length)
            {
                nint n = Read(fd, p + total, buffer.Length - total);
                if (n < 0)
                {
                    if (LastErrno == (int)Errno.EINTR)
                    {
                        continue;
                    }

                    return -1;
                }

                if (n == 0)
                {
                    break;
                }

                total += (int)n;
            }
        }

        return total;
    }

    /// <summary>Writes all of <paramref name="data"/>, retrying EINTR and short writes; false with errno on failure.</summary>
    public static unsafe bool WriteFull(int fd, ReadOnlySpan<byte> data)
    {
        int done = 0;
        fixed (byte* p = data)
        {
            while (done < data.Length)
            {
                nint n = Write(fd, p + done, data.Length - done);
                if (n < 0)
                {
                    if (LastErrno == (int)Errno.EINTR)
                    {
                        continue;
                    }

                    return false;
                }

                done += (int)n;
            }
        }

        return true;
    }

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int OpenAt(int dirFd, string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mkdir(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int RenameAt(int oldDirFd, string oldName, int newDirFd, string newName);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int UnlinkAt(int dirFd, string name, int flags);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirFd, string path, int flags, uint mask, byte* buf);
}

/// <summary>
/// What fstat says about an open file: its type (S_IFMT bits), permission bits (including
/// setuid/setgid/sticky), owner and size.
/// </summary>
public readonly record struct FileFacts(uint Type, uint Permissions, uint OwnerUid, uint OwnerGid, long Size)
{
    public bool IsRegularFile => Type == Libc.SIfReg;

    public bool IsDirectory => Type == Libc.SIfDir;

    /// <summary>Writable by members of its group or by anybody.</summary>
    public bool IsGroupOrWorldWritable => (Permissions & 0x12) != 0;

    /// <summary>"a FIFO", "a character device"... for messages.</summary>
    public string TypeName => Type switch
    {
        Libc.SIfReg => "a regular file",
        Libc.SIfDir => "a directory",
        Libc.SIfLnk => "a symbolic link",
        Libc.SIfChr => "a character device",
        Libc.SIfBlk => "a block device",
        Libc.SIfIfo => "a FIFO",
        Libc.SIfSock => "a socket",
        _ => "a special file",
    };
}
