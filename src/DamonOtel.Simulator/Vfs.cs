using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

// The simulated pseudo-filesystems: a tree of directories and files whose reads and writes
// run code (like sysfs attributes). Everything is guarded by the kernel's single lock.
internal abstract class VNode(string name)
{
    public string Name { get; set; } = name;

    public VDir? Parent { get; set; }

    public string FullPath
    {
        get
        {
            if (Parent is null)
            {
                return "/";
            }

            string parent = Parent.FullPath;
            return parent == "/" ? "/" + Name : parent + "/" + Name;
        }
    }

    /// <summary>False once removed from the tree (a read of a stale handle then fails with ENOENT).</summary>
    public bool Attached
    {
        get
        {
            VNode n = this;
            while (n.Parent is not null)
            {
                if (!n.Parent.Children.TryGetValue(n.Name, out VNode? c) || !ReferenceEquals(c, n))
                {
                    return false;
                }

                n = n.Parent;
            }

            return true;
        }
    }
}

internal sealed class VDir(string name) : VNode(name)
{
    public Dictionary<string, VNode> Children { get; } = new(StringComparer.Ordinal);

    /// <summary>mkdir handler (tracefs instances/); null = EPERM like sysfs.</summary>
    public Func<string, VDir>? OnMkdir { get; set; }

    /// <summary>rmdir handler; null = EPERM.</summary>
    public Action<VDir>? OnRmdir { get; set; }

    public VDir Dir(string name)
    {
        if (Children.TryGetValue(name, out VNode? n))
        {
            return (VDir)n;
        }

        var d = new VDir(name) { Parent = this };
        Children[name] = d;
        return d;
    }

    public T Add<T>(T node)
        where T : VNode
    {
        node.Parent = this;
        Children[node.Name] = node;
        return node;
    }

    public FuncFile Func(string name, Func<string> read, Action<string>? write = null) => Add(new FuncFile(name, read, write));

    public void Remove(string name)
    {
        if (Children.Remove(name, out VNode? n))
        {
            n.Parent = null;
        }
    }

    public void Clear()
    {
        foreach (VNode n in Children.Values)
        {
            n.Parent = null;
        }

        Children.Clear();
    }
}

internal abstract class VFile(string name) : VNode(name)
{
    public abstract string Read();

    public virtual void Write(string text) => throw new KernelIoException(Errno.EACCES, FullPath, "write");
}

internal sealed class FuncFile(string name, Func<string> read, Action<string>? write) : VFile(name)
{
    public override string Read() => read();

    public override void Write(string text)
    {
        if (write is null)
        {
            base.Write(text);
            return;
        }

        write(text);
    }
}

internal enum ValueKind
{
    U64,
    U32,
    I32,
    Bool,
    Keyword,
    Text,
}

/// <summary>A sysfs attribute holding a staged value, parsed like the kernel parses it and printed back canonically.</summary>
internal sealed class ValueFile : VFile
{
    private readonly IReadOnlyCollection<string>? keywords;
    private readonly Action<ValueFile>? onWrite;

    public ValueFile(string name, ValueKind kind, string initial, IReadOnlyCollection<string>? keywords = null, Action<ValueFile>? onWrite = null)
        : base(name)
    {
        Kind = kind;
        this.keywords = keywords;
        this.onWrite = onWrite;
        Text = initial;
        Number = kind switch
        {
            ValueKind.U64 or ValueKind.U32 => (decimal)ulong.Parse(initial, CultureInfo.InvariantCulture),
            ValueKind.I32 => int.Parse(initial, CultureInfo.InvariantCulture),
            _ => 0,
        };
    }

    public ValueKind Kind { get; }

    /// <summary>Printed form (decimal for numbers, Y/N for booleans, the keyword, or raw text).</summary>
    public string Text { get; private set; }

    private decimal Number { get; set; }

    public ulong U => (ulong)Number;

    public int I => (int)Number;

    public bool B => Text == "Y";

    public override string Read() => Text + "\n";

    public override void Write(string text)
    {
        string path = FullPath;
        switch (Kind)
        {
            case ValueKind.U64:
                Set(KernelParse.ULong(text, ulong.MaxValue, path));
                break;
            case ValueKind.U32:
                Set(KernelParse.ULong(text, uint.MaxValue, path));
                break;
            case ValueKind.I32:
                long v = KernelParse.Long(text, int.MinValue, int.MaxValue, path);
                Number = v;
                Text = v.ToString(CultureInfo.InvariantCulture);
                break;
            case ValueKind.Bool:
                Text = KernelParse.Bool(text, path) ? "Y" : "N";
                break;
            case ValueKind.Keyword:
                string k = KernelParse.StripNewline(text);
                if (keywords is null || !keywords.Contains(k))
                {
                    throw new KernelIoException(Errno.EINVAL, path, "write");
                }

                Text = k;
                break;
            default:
                Text = KernelParse.StripNewline(text);
                break;
        }

        onWrite?.Invoke(this);
    }

    /// <summary>Kernel-side update (e.g. update_tuned_intervals copying live values back).</summary>
    public void Set(ulong value)
    {
        Number = value;
        Text = value.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>kstrto*(buf, 0, ...) and kstrtobool as the kernel implements them.</summary>
internal static class KernelParse
{
    /// <summary>ERANGE: not in the shared Errno enum, which only lists what DAMON documents.</summary>
    public const Errno ERANGE = (Errno)34;

    public static string StripNewline(string text) => text.EndsWith('\n') ? text[..^1] : text;

    /// <summary>Base auto-detect: "0x"/"0X" hex, leading "0" octal, else decimal; one trailing newline allowed; a leading '+' allowed.</summary>
    public static ulong ULong(string text, ulong max, string path)
    {
        string s = StripNewline(text);
        if (s.StartsWith('+'))
        {
            s = s[1..];
        }

        ulong v = ParseDigits(s, path);
        return v > max ? throw new KernelIoException(ERANGE, path, "write") : v;
    }

    public static long Long(string text, long min, long max, string path)
    {
        string s = StripNewline(text);
        bool negative = s.StartsWith('-');
        if (negative)
        {
            s = s[1..];
        }
        else if (s.StartsWith('+'))
        {
            s = s[1..];
        }

        ulong mag = ParseDigits(s, path);
        decimal v = negative ? -(decimal)mag : mag;
        return v < min || v > max ? throw new KernelIoException(ERANGE, path, "write") : (long)v;
    }

    public static bool Bool(string text, string path)
    {
        string s = StripNewline(text);
        if (s.Length > 0)
        {
            switch (s[0])
            {
                case 'y' or 'Y' or '1':
                    return true;
                case 'n' or 'N' or '0':
                    return false;
                case 'o' or 'O' when s.Length > 1:
                    if (s[1] is 'n' or 'N')
                    {
                        return true;
                    }

                    if (s[1] is 'f' or 'F')
                    {
                        return false;
                    }

                    break;
            }
        }

        throw new KernelIoException(Errno.EINVAL, path, "write");
    }

    private static ulong ParseDigits(string s, string path)
    {
        int radix = 10;
        int i = 0;
        if (s.Length >= 2 && s[0] == '0' && (s[1] is 'x' or 'X'))
        {
            radix = 16;
            i = 2;
        }
        else if (s.Length >= 2 && s[0] == '0')
        {
            radix = 8;
            i = 1;
        }

        if (i >= s.Length)
        {
            throw new KernelIoException(Errno.EINVAL, path, "write");
        }

        ulong v = 0;
        for (; i < s.Length; i++)
        {
            int d = s[i] switch
            {
                >= '0' and <= '9' => s[i] - '0',
                >= 'a' and <= 'f' => s[i] - 'a' + 10,
                >= 'A' and <= 'F' => s[i] - 'A' + 10,
                _ => 99,
            };
            if (d >= radix)
            {
                throw new KernelIoException(Errno.EINVAL, path, "write");
            }

            try
            {
                v = checked((v * (ulong)radix) + (ulong)d);
            }
            catch (OverflowException)
            {
                throw new KernelIoException(ERANGE, path, "write");
            }
        }

        return v;
    }
}
