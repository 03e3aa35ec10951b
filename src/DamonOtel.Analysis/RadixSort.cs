using System.Numerics;
using System.Runtime.CompilerServices;

namespace DamonOtel.Analysis;

/// <summary>
/// The two LSD radix sorts behind <see cref="AccessSummarizer"/>. They own no memory: the
/// summarizer passes its scratch buffers, so a summary stays allocation-free after warm-up.
/// </summary>
internal static class RadixSort
{
    /// <summary>
    /// LSD radix sort on bits 32..63 only, 8 bits a pass, skipping digits every key shares; the low
    /// 32 bits (the index, ascending on entry) ride along, which makes the sort stable by index.
    /// The histograms of the three low key digits come from the per-region pass; the top digit is
    /// counted here only when some key uses it. <paramref name="counts"/> holds those histograms as
    /// the per-region pass left them: 4 x 256 counts, then a second lane of the three low digits.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // its own frame in profiles
    public static void SortHigh32(Span<ulong> keys, Span<ulong> scratch, Span<int> counts, bool topDigitVaries)
    {
        var n = keys.Length;
        if (n < 2)
        {
            return;
        }

        var lane0 = counts[..768];
        var lane1 = counts.Slice(1024, 768);
        for (var j = 0; j < lane0.Length; j += Vector<int>.Count)
        {
            (Vector.LoadUnsafe(ref lane0[j]) + Vector.LoadUnsafe(ref lane1[j])).StoreUnsafe(ref lane0[j]);
        }

        if (topDigitVaries)
        {
            for (var i = 0; i < n; i++)
            {
                counts[768 + (int)(keys[i] >> 56)]++;
            }
        }

        var src = keys;
        var dst = scratch;
        var swapped = false;
        var digits = topDigitVaries ? 4 : 3;
        for (var d = 0; d < digits; d++)
        {
            var shift = 32 + (8 * d);
            var c = counts.Slice(256 * d, 256);
            if (c[(int)((keys[0] >> shift) & 0xFF)] == n)
            {
                continue; // every key has the same digit here
            }

            var total = 0;
            for (var b = 0; b < 256; b++)
            {
                var x = c[b];
                c[b] = total;
                total += x;
            }

            for (var i = 0; i < n; i++)
            {
                var k = src[i];
                dst[c[(int)((k >> shift) & 0xFF)]++] = k;
            }

            var t = src;
            src = dst;
            dst = t;
            swapped = !swapped;
        }

        if (swapped)
        {
            src.CopyTo(keys);
        }
    }

    /// <summary>LSD radix sort of keys with their indices, 8 bits a pass, skipping bytes that never vary.</summary>
    public static void Sort(Span<ulong> keys, Span<int> order, Span<ulong> keysScratch, Span<int> orderScratch, Span<int> counts)
    {
        var n = keys.Length;
        if (n < 2)
        {
            return;
        }

        ulong diff = 0;
        var k0 = keys[0];
        for (var i = 1; i < n; i++)
        {
            diff |= keys[i] ^ k0;
        }

        var srcK = keys;
        var srcO = order;
        var dstK = keysScratch;
        var dstO = orderScratch;
        var swapped = false;
        for (var shift = 0; shift < 64; shift += 8)
        {
            if (((diff >> shift) & 0xFF) == 0)
            {
                continue;
            }

            counts.Clear();
            for (var i = 0; i < n; i++)
            {
                counts[(int)((srcK[i] >> shift) & 0xFF)]++;
            }

            var total = 0;
            for (var b = 0; b < 256; b++)
            {
                var c = counts[b];
                counts[b] = total;
                total += c;
            }

            for (var i = 0; i < n; i++)
            {
                var k = srcK[i];
                var pos = counts[(int)((k >> shift) & 0xFF)]++;
                dstK[pos] = k;
                dstO[pos] = srcO[i];
            }

            var tk = srcK;
            srcK = dstK;
            dstK = tk;
            var to = srcO;
            srcO = dstO;
            dstO = to;
            swapped = !swapped;
        }

        if (swapped)
        {
            srcK.CopyTo(keys);
            srcO.CopyTo(order);
        }
    }
}
