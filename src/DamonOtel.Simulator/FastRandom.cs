namespace DamonOtel.Simulator;

/// <summary>
/// SplitMix64: tiny, fast, and identical on every .NET version (a seeded System.Random uses a
/// slow compatibility generator and its sequence is not a documented contract).
/// </summary>
internal sealed class FastRandom(int seed)
{
    private ulong state = (ulong)seed * 0x9E3779B97F4A7C15UL;

    public ulong NextUInt64()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, bound) (multiply-high; the bias is negligible for our bounds).</summary>
    public ulong Below(ulong bound) => bound == 0 ? 0 : Math.BigMul(NextUInt64(), bound, out _);

    /// <summary>Uniform in [min, max).</summary>
    public int Next(int min, int max) => min + (int)Below((ulong)(max - min));
}
