namespace DamonOtel.Simulator;

internal sealed class GoalNode
{
    public GoalNode(VDir d, KernelProfile p)
    {
        Metric = d.Keyword("target_metric", "user_input", ProfileTables.GoalMetrics(p));
        Target = d.U64("target_value");
        Current = d.U64("current_value");
        if (p != KernelProfile.V6_12)
        {
            d.I32("nid");
        }
    }

    public ValueFile Metric { get; }

    public ValueFile Target { get; }

    public ValueFile Current { get; }
}
