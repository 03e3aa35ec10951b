namespace DamonOtel.Simulator;

internal sealed class TargetNode
{
    public TargetNode(VDir d)
    {
        Pid = d.I32("pid_target");
        Regions = new NrChildren<RangeNode>(d.Dir("regions"), "nr_regions", (rd, _) => new RangeNode(rd));
    }

    public ValueFile Pid { get; }

    public NrChildren<RangeNode> Regions { get; }
}
