using System.Globalization;
using System.Text;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Damon.Tests;

/// <summary>Fixture access and small builders shared by the Trace* tests.</summary>
internal static class TraceFixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "tracefs");

    public static byte[] Bytes(string relative) => File.ReadAllBytes(Path.Combine(Dir, relative));

    public static string Text(string relative) => File.ReadAllText(Path.Combine(Dir, relative));

    public static string[] Lines(string relative) => Text(relative).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public static TraceEvent Parse(string line, bool swapped = false)
    {
        var ev = default(TraceEvent);
        TraceParseError err = TraceLineParser.Parse(Encoding.UTF8.GetBytes(line), swapped, ref ev);
        Assert.True(err == TraceParseError.None, $"{err}: {line}");
        return ev;
    }

    public static TraceParseError ParseError(string line)
    {
        var ev = default(TraceEvent);
        return TraceLineParser.Parse(Encoding.UTF8.GetBytes(line), false, ref ev);
    }
}

/// <summary>
/// An in-memory tracefs for TraceInstance tests: mkdir of instances/&lt;name&gt; populates the
/// instance (like the kernel does) with the events named at construction; rmdir removes it
/// whole, and fails with EBUSY while a pipe of it is open. Records every write.
/// </summary>
internal sealed class FakeTracefs : InMemoryKernelFs
{
    private readonly string root;
    private readonly string[] events;
    private int openPipes;

    public FakeTracefs(string root, params string[] events)
    {
        this.root = root;
        this.events = events;
        dirs.Add(root);
        dirs.Add(Path.Combine(root, "instances"));
    }

    public List<string> Writes { get; } = [];

    public byte[] PipeContent { get; set; } = [];

    protected override void Write(string path, string text)
    {
        files[path] = text;
        Writes.Add($"{Rel(path)}={text}");
    }

    public override void CreateDirectory(string path)
    {
        if (dirs.Contains(path))
        {
            throw new KernelIoException(Errno.EEXIST, path, "mkdir");
        }

        if (!dirs.Contains(Path.GetDirectoryName(path)!))
        {
            throw new KernelIoException(Errno.ENOENT, path, "mkdir");
        }

        dirs.Add(path);
        if (Path.GetDirectoryName(path) == Path.Combine(root, "instances"))
        {
            Populate(path);
        }
    }

    public override void RemoveDirectory(string path)
    {
        if (!dirs.Contains(path))
        {
            throw new KernelIoException(Errno.ENOENT, path, "rmdir");
        }

        if (openPipes > 0)
        {
            throw new KernelIoException(Errno.EBUSY, path, "rmdir");
        }

        RemoveTree(path);
        Writes.Add($"rmdir {Rel(path)}");
    }

    public override Stream OpenPipe(string path)
    {
        if (!files.ContainsKey(path))
        {
            throw new KernelIoException(Errno.ENOENT, path, "open");
        }

        openPipes++;
        return new PipeStream(PipeContent, () => openPipes--);
    }

    /// <summary>Creates a directory with instance contents without going through mkdir (a crashed run's leftover).</summary>
    public void AddLeftoverInstance(string name)
    {
        string path = Path.Combine(root, "instances", name);
        dirs.Add(path);
        Populate(path);
    }

    public string? Read(string relative) => files.GetValueOrDefault(Path.Combine(root, relative));

    private void Populate(string path)
    {
        files[Path.Combine(path, "trace_pipe")] = string.Empty;
        files[Path.Combine(path, "buffer_size_kb")] = "1408";
        dirs.Add(Path.Combine(path, "events"));
        dirs.Add(Path.Combine(path, "events", "damon"));
        foreach (string ev in events)
        {
            string d = Path.Combine(path, "events", "damon", ev);
            dirs.Add(d);
            files[Path.Combine(d, "enable")] = "0";
        }
    }

    private string Rel(string path) => Path.GetRelativePath(root, path);

    private sealed class PipeStream(byte[] content, Action onClose) : MemoryStream(content, writable: false)
    {
        private Action? onClose = onClose;

        protected override void Dispose(bool disposing)
        {
            onClose?.Invoke();
            onClose = null;
            base.Dispose(disposing);
        }
    }
}

/// <summary>A stream that returns its data in fixed-size pieces, then 0 (nothing available).</summary>
internal sealed class ChunkedStream(byte[] data, int chunk) : Stream
{
    private int pos;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => data.Length;

    public override long Position { get => pos; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(Math.Min(chunk, buffer.Length), data.Length - pos);
        data.AsSpan(pos, n).CopyTo(buffer);
        pos += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Formats lines the way the kernel's trace output does (trace_output.c), for round trips.</summary>
internal static class KernelLineFormat
{
    // "%16s-%-7d " then "(%7d) " with record-tgid, "[%03d] ", flags + " " with irq-info, "%5lu.%06lu: ", "event: ", body.
    public static string Header(string comm, int pid, int? tgid, int cpu, string? flags, ulong secs, uint usecs)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{comm,16}-{pid,-7} ");
        if (tgid is int t)
        {
            sb.Append(t < 0 ? "(-------) " : string.Create(CultureInfo.InvariantCulture, $"({t,7}) "));
        }

        sb.Append(CultureInfo.InvariantCulture, $"[{cpu:D3}] ");
        if (flags is not null)
        {
            sb.Append(flags).Append(' ');
        }

        sb.Append(CultureInfo.InvariantCulture, $"{secs,5}.{usecs:D6}: ");
        return sb.ToString();
    }
}
