using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace DamonOtel.Telemetry.Http;

/// <summary>
/// bcrypt password verification ($2a$, $2b$, $2y$), written from the algorithm: EksBlowfishSetup
/// (cost, salt, key), then 64 Blowfish ECB encryptions of "OrpheanBeholderScryDoubt"; the
/// hash is the first 23 bytes in bcrypt's own base64. The BCL has no bcrypt.
/// </summary>
internal static class Bcrypt
{
    private const string Alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly byte[] MagicText = Encoding.ASCII.GetBytes("OrpheanBeholderScryDoubt");

    /// <summary>True when <paramref name="password"/> matches <paramref name="hash"/> (constant-time compare).</summary>
    /// <exception cref="FormatException">The hash is not a bcrypt hash.</exception>
    public static bool Verify(string password, string hash)
    {
        ArgumentNullException.ThrowIfNull(password);
        var (prefix, cost, salt) = Parse(hash);
        var computed = HashRaw(Encoding.UTF8.GetBytes(password), cost, salt);
        var expectedHash = hash.AsSpan(prefix.Length + 3 + 22);
        var actual = Encode(computed.AsSpan(0, 23));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(actual), Encoding.ASCII.GetBytes(expectedHash.ToString()));
    }

    /// <summary>Hashes with the given cost and 16-byte salt, returning the full "$2b$.." string (for tests).</summary>
    public static string Hash(string password, int cost, byte[] salt, string version = "2b")
    {
        var raw = HashRaw(Encoding.UTF8.GetBytes(password), cost, salt);
        return $"${version}${cost:00}${Encode(salt)}{Encode(raw.AsSpan(0, 23))}";
    }

    /// <summary>Checks the shape of a bcrypt hash; returns null when valid, else the reason.</summary>
    public static string? Validate(string hash)
    {
        try
        {
            Parse(hash);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    private static (string Prefix, int Cost, byte[] Salt) Parse(string hash)
    {
        // $2b$10$ + 22 salt chars + 31 hash chars = 60.
        if (hash is null || hash.Length != 60 || hash[0] != '$' || hash[3] != '$' || hash[6] != '$')
        {
            throw new FormatException("not a bcrypt hash ($2a$/$2b$/$2y$, 60 characters)");
        }

        var prefix = hash[..4];
        if (prefix is not ("$2a$" or "$2b$" or "$2y$"))
        {
            throw new FormatException($"unsupported bcrypt version '{prefix}' (use $2a$, $2b$ or $2y$)");
        }

        if (!char.IsAsciiDigit(hash[4]) || !char.IsAsciiDigit(hash[5]))
        {
            throw new FormatException("bcrypt cost is not a number");
        }

        var cost = ((hash[4] - '0') * 10) + (hash[5] - '0');
        if (cost is < 4 or > 31)
        {
            throw new FormatException($"bcrypt cost {cost} is outside 4..31");
        }

        var salt = Decode(hash.AsSpan(7, 22), 16);
        _ = Decode(hash.AsSpan(29, 31), 23); // validates the alphabet
        return (prefix, cost, salt);
    }

    private static byte[] HashRaw(byte[] password, int cost, byte[] salt)
    {
        // Key = password bytes + NUL, at most 72 bytes ($2b$ semantics).
        var key = new byte[Math.Min(password.Length + 1, 72)];
        password.AsSpan(0, Math.Min(password.Length, key.Length)).CopyTo(key);
        var state = new Blowfish();
        state.ExpandKey(key, salt);
        var rounds = 1L << cost;
        for (long i = 0; i < rounds; i++)
        {
            state.ExpandKey(key, null);
            state.ExpandKey(salt, null);
        }

        Span<uint> c = stackalloc uint[6];
        for (var i = 0; i < 6; i++)
        {
            c[i] = BinaryPrimitives.ReadUInt32BigEndian(MagicText.AsSpan(i * 4));
        }

        for (var n = 0; n < 64; n++)
        {
            for (var i = 0; i < 6; i += 2)
            {
                state.Encrypt(ref c[i], ref c[i + 1]);
            }
        }

        var output = new byte[24];
        for (var i = 0; i < 6; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(i * 4), c[i]);
        }

        CryptographicOperations.ZeroMemory(key);
        return output;
    }

    private static string Encode(ReadOnlySpan<byte> data)
    {
        var sb = new StringBuilder(((data.Length * 4) + 2) / 3);
        var i = 0;
        while (i < data.Length)
        {
            var c1 = data[i++];
            sb.Append(Alphabet[c1 >> 2]);
            c1 = (byte)((c1 & 0x03) << 4);
            if (i >= data.Length)
            {
                sb.Append(Alphabet[c1]);
                break;
            }

            var c2 = data[i++];
            c1 |= (byte)(c2 >> 4);
            sb.Append(Alphabet[c1]);
            c1 = (byte)((c2 & 0x0f) << 2);
            if (i >= data.Length)
            {
                sb.Append(Alphabet[c1]);
                break;
            }

            c2 = data[i++];
            c1 |= (byte)(c2 >> 6);
            sb.Append(Alphabet[c1]);
            sb.Append(Alphabet[c2 & 0x3f]);
        }

        return sb.ToString();
    }

    private static byte[] Decode(ReadOnlySpan<char> text, int length)
    {
        var output = new byte[length];
        var bits = 0;
        var acc = 0;
        var o = 0;
        foreach (var ch in text)
        {
            var v = Alphabet.IndexOf(ch, StringComparison.Ordinal);
            if (v < 0)
            {
                throw new FormatException($"invalid character '{ch}' in bcrypt hash");
            }

            acc = (acc << 6) | v;
            bits += 6;
            if (bits >= 8)
            {
                bits -= 8;
                if (o < length)
                {
                    output[o++] = (byte)(acc >> bits);
                }

                acc &= (1 << bits) - 1;
            }
        }

        return output;
    }

    /// <summary>Blowfish state initialised with the digits of pi.</summary>
    private sealed class Blowfish
    {
        private readonly uint[] p = new uint[18];
        private readonly uint[] s = new uint[1024];

        public Blowfish()
        {
            var pi = BlowfishPi.Words;
            pi[..18].CopyTo(this.p);
            pi[18..].CopyTo(this.s);
        }

        public void Encrypt(ref uint left, ref uint right)
        {
            var l = left;
            var r = right;
            var p = this.p;
            var s = this.s;
            for (var i = 0; i < 16; i += 2)
            {
                l ^= p[i];
                r ^= (((s[l >> 24] + s[256 + ((l >> 16) & 0xff)]) ^ s[512 + ((l >> 8) & 0xff)]) + s[768 + (l & 0xff)]);
                r ^= p[i + 1];
                l ^= (((s[r >> 24] + s[256 + ((r >> 16) & 0xff)]) ^ s[512 + ((r >> 8) & 0xff)]) + s[768 + (r & 0xff)]);
            }

            left = r ^ p[17];
            right = l ^ p[16];
        }

        /// <summary>The (salted) Blowfish key schedule: XOR the key into P, then re-encrypt P and S.</summary>
        public void ExpandKey(ReadOnlySpan<byte> key, byte[]? salt)
        {
            var kpos = 0;
            for (var i = 0; i < 18; i++)
            {
                this.p[i] ^= NextWord(key, ref kpos);
            }

            uint l = 0, r = 0;
            var spos = 0;
            for (var i = 0; i < 18; i += 2)
            {
                if (salt is not null)
                {
                    l ^= NextWord(salt, ref spos);
                    r ^= NextWord(salt, ref spos);
                }

                Encrypt(ref l, ref r);
                this.p[i] = l;
                this.p[i + 1] = r;
            }

            for (var i = 0; i < 1024; i += 2)
            {
                if (salt is not null)
                {
                    l ^= NextWord(salt, ref spos);
                    r ^= NextWord(salt, ref spos);
                }

                Encrypt(ref l, ref r);
                this.s[i] = l;
                this.s[i + 1] = r;
            }
        }

        private static uint NextWord(ReadOnlySpan<byte> data, ref int pos)
        {
            uint w = 0;
            for (var i = 0; i < 4; i++)
            {
                w = (w << 8) | data[pos];
                pos = (pos + 1) % data.Length;
            }

            return w;
        }
    }
}
