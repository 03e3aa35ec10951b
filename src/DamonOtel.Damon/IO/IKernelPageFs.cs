namespace DamonOtel.Damon.IO;

/// <summary>
/// What per-cgroup attribution needs beyond <see cref="IKernelFs"/>: positional reads of the
/// per-page-frame proc files (<c>/proc/kpagecgroup</c>, <c>/proc/kpageflags</c>: 8 bytes per
/// frame, read at offset pfn × 8 with a file kept open across a pass) and the inode number of a
/// cgroup directory (what <c>/proc/kpagecgroup</c> reports for a page). Implemented by
/// <see cref="LinuxKernelPageFs"/>; a Simulator implementation models page ownership.
/// Kept apart from <see cref="IKernelFs"/> until that interface is reworked (see docs/per-cgroup.md).
/// </summary>
public interface IKernelPageFs
{
    /// <summary>Opens a per-page-frame file for repeated positional reads.</summary>
    IPageFrameFile OpenPageFrameFile(string path);

    /// <summary>st_ino of <paramref name="path"/> (a cgroup directory's inode is its cgroup id on 64-bit kernels).</summary>
    ulong GetInode(string path);
}

/// <summary>An open <c>/proc/kpage*</c> file: one 64-bit entry per page frame.</summary>
public interface IPageFrameFile : IDisposable
{
    /// <summary>
    /// Reads <paramref name="entries"/>.Length consecutive entries starting at frame
    /// <paramref name="pfn"/> with one positional read; returns how many were read (fewer past
    /// the end of the file).
    /// </summary>
    int Read(ulong pfn, Span<ulong> entries);
}
