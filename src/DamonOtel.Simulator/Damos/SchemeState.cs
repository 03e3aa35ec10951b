using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

internal sealed class SchemeState(CommittedScheme config)
{
    public CommittedScheme Config { get; set; } = config;

    public ulong NrTried;
    public ulong SzTried;
    public ulong NrApplied;
    public ulong SzApplied;
    public ulong SzOpsFilterPassed;
    public ulong QtExceeds;

    public long NextApplyUs;
    public long ChargedFromUs = long.MinValue;
    public ulong ChargedSz;
    public ulong Esz;
    public ulong EszBp;
    public bool Activated = true;
    public long NextWmarkCheckUs;

    // Pending tried-regions walk: the regions of this scheme's next full apply.
    public bool WalkPending;
    public bool WalkStarted;
    public List<(DamonRegion Region, ulong SzFilterPassed)>? WalkRegions;
}
