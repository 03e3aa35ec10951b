namespace DamonOtel.Simulator;

internal enum KdamondRun
{
    NeverStarted,
    Running,
    Stopped,
}
