namespace DamonOtel.Damon.IO;

/// <summary>
/// The one file-level interface to the kernel: everything DamonOtel reads or writes under
/// sysfs, tracefs and procfs goes through it. Implemented by the real filesystem
/// (<see cref="LinuxKernelFs"/>) and by the Simulator, so the protocol code runs unchanged
/// against both. Paths are absolute (already joined with the configured roots, see
/// <see cref="KernelRoots"/>). Failures throw <see cref="KernelIoException"/> carrying the errno.
/// </summary>
public interface IKernelFs
{
    /// <summary>Reads a whole (pseudo-)file as ASCII/UTF-8 text. Never trusts stat sizes.</summary>
    string ReadText(string path);

    /// <summary>
    /// Reads up to <paramref name="buffer"/>.Length bytes from the start of a file with one
    /// open/read/close; returns the byte count. The hot path for small sysfs files.
    /// </summary>
    int ReadBytes(string path, Span<byte> buffer);

    /// <summary>Writes <paramref name="text"/> in a single write(2). Errors (EBUSY, EINVAL...) surface as KernelIoException.</summary>
    void WriteText(string path, string text);

    /// <summary>Names (not paths) of the entries of a directory, in no particular order.</summary>
    IReadOnlyList<string> ListDirectory(string path);

    bool FileExists(string path);

    bool DirectoryExists(string path);

    /// <summary>mkdir(2); used for private tracefs instances.</summary>
    void CreateDirectory(string path);

    /// <summary>rmdir(2) (non-recursive); used to remove private tracefs instances.</summary>
    void RemoveDirectory(string path);

    /// <summary>
    /// Opens a stream for incremental reading (trace_pipe, trace_pipe_raw). Reads are
    /// non-blocking: <see cref="Stream.Read(Span{byte})"/> returns 0 when nothing is available
    /// right now; the caller polls.
    /// </summary>
    Stream OpenPipe(string path);

    /// <summary>
    /// readlink(2): the target of a symbolic link, as the kernel prints it (/proc/&lt;pid&gt;/exe).
    /// Implementations without links answer EINVAL, as readlink does for a file that is not a link.
    /// </summary>
    string ReadLink(string path) => throw new KernelIoException(Errno.EINVAL, path, "readlink");

    /// <summary>
    /// Opens a directory for many reads below it (<see cref="IKernelDirectory"/>). The default
    /// joins paths through this interface; <see cref="LinuxKernelFs"/> reads relative to a
    /// descriptor. Throws <see cref="KernelIoException"/> (ENOENT) when it does not exist.
    /// </summary>
    IKernelDirectory OpenDirectory(string path) =>
        DirectoryExists(path) ? new PathKernelDirectory(this, path) : throw new KernelIoException(Errno.ENOENT, path, "open");
}
