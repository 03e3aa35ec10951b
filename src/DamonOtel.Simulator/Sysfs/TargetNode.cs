namespace DamonOtel.Simulator;

internal sealed class TargetNode
{
    public TargetNode(VDir d, KernelProfile p)
    {
        Pid = d.I32("pid_target");
        if (p >= KernelProfile.V7_3)
        {
            Obsolete = d.Bool("obsolete_target");
        }

        Regions = new NrChildren<RangeNode>(d.Dir("regions"), "nr_regions", (rd, _) => new RangeNode(rd));
    }

    public ValueFile Pid { get; }

    /// <summary>obsolete_target (6.19+); null on older profiles.</summary>
    public ValueFile? Obsolete { get; }

    public NrChildren<RangeNode> Regions { get; }
}
