namespace DamonOtel.EndToEnd.Tests.RemoteWrite;

/// <summary>
/// Snappy's block format (the framing-less one remote write uses), encoded with literals only:
/// the uncompressed length as a little-endian base-128 varint, then literal elements. A literal's
/// tag byte has 00 in its two low bits; lengths up to 60 go into the upper six bits as length-1,
/// longer ones put 60..63 there and follow with length-1 in 1..4 little-endian bytes. Any snappy
/// decoder accepts this: copies are an optimisation, not a requirement.
/// </summary>
internal static class SnappyBlock
{
    /// <summary>Longest literal element written (a 2-byte length field covers it).</summary>
    private const int MaxLiteral = 65536;

    public static byte[] Encode(ReadOnlySpan<byte> input)
    {
        using var output = new MemoryStream(input.Length + 16 + (input.Length / MaxLiteral * 3));
        WriteVarint(output, (uint)input.Length);
        for (var offset = 0; offset < input.Length; offset += MaxLiteral)
        {
            ReadOnlySpan<byte> chunk = input.Slice(offset, Math.Min(MaxLiteral, input.Length - offset));
            var lengthMinusOne = chunk.Length - 1;
            if (lengthMinusOne < 60)
            {
                output.WriteByte((byte)(lengthMinusOne << 2));
            }
            else if (lengthMinusOne < 256)
            {
                output.WriteByte(60 << 2);
                output.WriteByte((byte)lengthMinusOne);
            }
            else
            {
                output.WriteByte(61 << 2);
                output.WriteByte((byte)lengthMinusOne);
                output.WriteByte((byte)(lengthMinusOne >> 8));
            }

            output.Write(chunk);
        }

        return output.ToArray();
    }

    private static void WriteVarint(Stream output, uint value)
    {
        while (value >= 0x80)
        {
            output.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        output.WriteByte((byte)value);
    }
}
