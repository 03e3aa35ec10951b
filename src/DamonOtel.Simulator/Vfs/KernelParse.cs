using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

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
