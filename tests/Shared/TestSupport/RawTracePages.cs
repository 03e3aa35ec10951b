using System.Buffers.Binary;
using DamonOtel.Damon.IO;
using Xunit;

namespace DamonOtel.TestSupport;

/// <summary>
/// Writes ring-buffer pages the way the kernel does (x86_64 header_page: u64 timestamp @0,
/// u64 commit @8, data @16; 32-bit event headers type_len:5 | time_delta:27), little-endian.
/// Written independently of the parser under test (src/DamonOtel.Damon/Tracefs/RingBufferLayout.cs).
/// </summary>
public sealed class RawPageBuilder(ulong pageTimestamp, int pageSize = 4096)
{
    private readonly byte[] page = new byte[pageSize];
    private int used;

    public bool MissedEvents { get; set; }

    /// <summary>A data event with a typed length (payload padded to 4 bytes, at most 112).</summary>
    public RawPageBuilder Event(uint delta, byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        int words = (payload.Length + 3) / 4;
        Assert.InRange(words, 1, 28);
        Header((uint)words, delta);
        payload.CopyTo(page, 16 + used);
        used += words * 4;
        return this;
    }

    /// <summary>A data event in the long form: type_len 0, array[0] = payload length + 4.</summary>
    public RawPageBuilder LongEvent(uint delta, byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        int padded = (payload.Length + 3) & ~3;
        Header(0, delta);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(16 + used), (uint)(payload.Length + 4));
        used += 4;
        payload.CopyTo(page, 16 + used);
        used += padded;
        return this;
    }

    /// <summary>type_len 30: adds (array[0] &lt;&lt; 27 | delta) to the running time.</summary>
    public RawPageBuilder TimeExtend(uint delta, uint upper)
    {
        Header(30, delta);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(16 + used), upper);
        used += 4;
        return this;
    }

    /// <summary>type_len 29 with a non-zero delta: a discarded event of <paramref name="length"/> bytes after its array word.</summary>
    public RawPageBuilder Discarded(uint length)
    {
        // Like rb_event_discard: array[0] = event length - 4-byte header, so it counts itself.
        Header(29, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(16 + used), length + 4);
        used += 4 + (int)length;
        return this;
    }

    public byte[] Build()
    {
        BinaryPrimitives.WriteUInt64LittleEndian(page, pageTimestamp);
        ulong commit = (ulong)(uint)used | (MissedEvents ? 1UL << 31 : 0UL);
        BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(8), commit);
        return page;
    }

    private void Header(uint typeLen, uint delta)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(16 + used), typeLen | (delta << 5));
        used += 4;
    }
}

/// <summary>
/// DAMON records as the 6.18 x86_64 kernel lays them out (its events/damon/*/format, in
/// tests/DamonOtel.Damon.Tests/Fixtures/tracefs/format), offsets typed by hand.
/// </summary>
public static class DamonRawRecords
{
    /// <summary>
    /// damon_aggregated: common_type u16@0, common_pid s32@4, target_id u64@8, nr_regions u32@16,
    /// start u64@24, end u64@32, nr_accesses u32@40, age u32@44; 48 bytes.
    /// </summary>
    public static byte[] Aggregated618(ushort id, int pid, ulong target, uint nr, ulong start, ulong end, uint acc, uint age)
    {
        byte[] r = new byte[48];
        BinaryPrimitives.WriteUInt16LittleEndian(r, id);
        BinaryPrimitives.WriteInt32LittleEndian(r.AsSpan(4), pid);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(8), target);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), nr);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(24), start);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(32), end);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(40), acc);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(44), age);
        return r;
    }

    /// <summary>damon_monitor_intervals_tune: common_type u16@0, common_pid s32@4, sample_us u64@8; 16 bytes.</summary>
    public static byte[] IntervalsTune618(ushort id, int pid, ulong sampleUs)
    {
        byte[] r = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(r, id);
        BinaryPrimitives.WriteInt32LittleEndian(r.AsSpan(4), pid);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(8), sampleUs);
        return r;
    }
}

/// <summary>
/// A tracefs instance directory on disk (under a fresh temp root), read through the real
/// LinuxKernelFs: regular files stand in for the pipes (a read returns what was written and
/// not read yet, then 0), so appending to a per_cpu/cpuN/trace_pipe_raw file is the kernel
/// filling that CPU's buffer. Deleted on Dispose.
/// </summary>
public sealed class TracefsInstanceTree : IDisposable
{
    public TracefsInstanceTree(string instanceName)
    {
        Root = Path.Combine(Path.GetTempPath(), "damonotel-tracefs-" + Guid.NewGuid().ToString("N"));
        Roots = KernelRoots.Under(Root);
        InstancePath = Path.Combine(Roots.Tracefs, "instances", instanceName);
        Directory.CreateDirectory(InstancePath);
    }

    public string Root { get; }

    public KernelRoots Roots { get; }

    /// <summary>&lt;tracefs&gt;/instances/&lt;name&gt;</summary>
    public string InstancePath { get; }

    /// <summary>The format fixtures of tests/DamonOtel.Damon.Tests/Fixtures/tracefs/format.</summary>
    public static string FormatFixture(string name) =>
        File.ReadAllText(RepoRoot.Of("tests", "DamonOtel.Damon.Tests", "Fixtures", "tracefs", "format", name));

    /// <summary>Writes a file of the instance (relative path), creating its directories.</summary>
    public string Put(string relative, byte[] content)
    {
        string p = Path.Combine(InstancePath, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllBytes(p, content);
        return p;
    }

    public string Put(string relative, string text) => Put(relative, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Appends to a file of the instance (a pipe the reader already drained gets more data).</summary>
    public void Append(string relative, byte[] content)
    {
        using var f = new FileStream(Path.Combine(InstancePath, relative), FileMode.Append, FileAccess.Write);
        f.Write(content);
    }

    /// <summary>events/damon/&lt;name&gt;/format and its enable switch.</summary>
    public void AddEvent(string name, string format)
    {
        _ = Put(Path.Combine("events", "damon", name, "format"), format);
        _ = Put(Path.Combine("events", "damon", name, "enable"), "0");
    }

    /// <summary>events/header_page and events/header_event of the x86_64 fixtures.</summary>
    public void AddRingBufferHeaders()
    {
        _ = Put(Path.Combine("events", "header_page"), FormatFixture("header_page"));
        _ = Put(Path.Combine("events", "header_event"), FormatFixture("header_event"));
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
