using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

/// <summary>One damon event in one tracefs instance: enable flag and kernel-side filter.</summary>
internal sealed class TracefsEvent
{
    private (string Field, string Op, ulong Value)[] predicates = [];

    public bool Enabled { get; set; }

    public string FilterText { get; private set; } = "none";

    public void SetFilter(string text, string path, string[] fields)
    {
        string s = KernelParse.StripNewline(text).Trim();
        if (s is "0" or "")
        {
            predicates = [];
            FilterText = "none";
            return;
        }

        var list = new List<(string, string, ulong)>();
        foreach (string clause in s.Split("&&"))
        {
            string[] parts = clause.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 || !fields.Contains(parts[0]) || parts[1] is not ("==" or "!=" or "<" or "<=" or ">" or ">=")
                || !ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out ulong v))
            {
                throw new KernelIoException(Errno.EINVAL, path, "write");
            }

            list.Add((parts[0], parts[1], v));
        }

        predicates = [.. list];
        FilterText = s;
    }

    public bool Pass(Func<string, ulong> field)
    {
        foreach (var (f, op, v) in predicates)
        {
            ulong x = field(f);
            bool ok = op switch
            {
                "==" => x == v,
                "!=" => x != v,
                "<" => x < v,
                "<=" => x <= v,
                ">" => x > v,
                _ => x >= v,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
