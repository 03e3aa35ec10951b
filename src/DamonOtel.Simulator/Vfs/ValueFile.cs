using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

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
