namespace DamonOtel.Simulator;

internal sealed class RangeNode(VDir d)
{
    public ValueFile Start { get; } = d.U64("start");

    public ValueFile End { get; } = d.U64("end");
}
