namespace DamonOtel.Simulator;

internal sealed class Region(ulong start, ulong end)
{
    public ulong Start = start;
    public ulong End = end;
    public uint NrAccesses;      // counting in the current aggregation interval
    public uint LastNrAccesses;  // the previous finished interval
    public uint Age;

    public ulong Size => End - Start;

    public Region Clone(ulong start, ulong end) => new(start, end) { NrAccesses = NrAccesses, LastNrAccesses = LastNrAccesses, Age = Age };
}
