namespace DamonOtel.Simulator;

internal sealed class TargetState(CommittedTarget config, SimProcess? process)
{
    public CommittedTarget Config { get; set; } = config;

    public SimProcess? Process { get; set; } = process;

    public List<Region> Regions { get; set; } = [];

    public bool Valid => Process is null || Process.Alive;
}
