using DamonOtel.Analysis;
using DamonOtel.Damon.Model;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.Telemetry.Tests.Infrastructure;

/// <summary>The fixed observations of the golden tests; every value is chosen by hand.</summary>
public static class Fixtures
{
    /// <summary>Percentiles 0, 50, 99, 100; idle buckets 0, 0.1, 1, 60, 1e6 s; 2 heatmap columns.</summary>
    public static AccessOptions Options { get; } = new()
    {
        Percentiles = [0, 50, 99, 100],
        IdleBucketsSeconds = [0, 0.1, 1, 60, 1_000_000],
        HeatmapColumns = 2,
    };

    /// <summary>nginx: 1 GiB monitored, 256 MiB working set.</summary>
    public static AccessSummary Nginx(ulong wss = 268_435_456)
    {
        var s = new AccessSummary(Options)
        {
            Intervals = Intervals.KernelDefault,
            RegionCount = 42,
            MonitoredBytes = 1_073_741_824,
            WorkingSetBytes = wss,
            BandwidthBytesPerSecond = 2_500_000_000,
            ObservedAccessRatio = 0.125,
        };
        ulong[] idleUs = [0, 1_500_000, 600_000_000, 3_600_000_000];
        long[] signedUs = [-200_000, 1_500_000, 600_000_000, 3_600_000_000];
        double[] temp = [-360_000_000, 0, 1500, 2000];
        ulong[] idleBytes = [268_435_456, 268_435_456, 402_653_184, 805_306_368, 1_073_741_824, 1_073_741_824];
        idleUs.CopyTo(s.IdleTimePercentilesUs, 0);
        signedUs.CopyTo(s.SignedIdleTimePercentilesUs, 0);
        temp.CopyTo(s.TemperaturePercentiles, 0);
        idleBytes.CopyTo(s.IdleBytesAtMost, 0);
        s.HeatmapAccessRatePercent[0] = 12.5;
        s.HeatmapAccessRatePercent[1] = 0;
        return s;
    }

    public static KdamondObservation Web(ObservationStore store, long sequence = 1, ulong wss = 268_435_456) => new(
        "kdamond/web",
        "web",
        true,
        3.25,
        new Intervals(5_000, 100_000, 1_000_000),
        [
            new TargetObservation("nginx", Nginx(wss), sequence, 734_003_200),
            new TargetObservation("redis", null, 0, 52_428_800),
        ],
        [
            new SchemeObservation("cold_pageout", "pageout", new DamosStats(120, 491_520, 30, 122_880, 81_920, 2, null, null), 134_217_728),
            new SchemeObservation("1", "stat", new DamosStats(7, 28_672, 7, 28_672, null, 0, null, null), null),
        ],
        store.Now(),
        TimeSpan.FromSeconds(10));

    /// <summary>
    /// node: a paddr kdamond with page sampling: 1 GiB of free pages, a burstable pod (container
    /// folded in) and a system service, idle buckets 0 / 60 s, percentiles 50 / 90.
    /// </summary>
    public static KdamondObservation Node(ObservationStore store)
    {
        var table = new PageOwnershipTable("node", "ram", [0, 60], [50, 90]);
        PageOwnershipFrame f = table.Back;
        f.Reset(1, [new CgroupIdentity("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7c0a5b0e_5d5b_4b9f_9d43_2f1a3c6e8b01.slice", "7c0a5b0e-5d5b-4b9f-9d43-2f1a3c6e8b01", null, "burstable"),
                    new CgroupIdentity("/system.slice/postgresql.service", null, null, null)]);
        f.Filled = true;
        f.HasCgroups = true;
        f.FreeBytes = 1_073_741_824;
        f.KernelBytes = 134_217_728.4;
        f.OtherCgroupBytes = 67_108_864;
        f.SelectedCgroupBytes = 805_306_368;
        f.DroppedCount = 3;
        CgroupRow pod = f.Row(0);
        pod.ResidentBytes = 268_435_456;
        pod.ResidentStandardErrorBytes = 1_048_576.5;
        pod.WorkingSetBytes = 67_108_864;
        pod.Purity = 0.875;
        double[] podIdle = [67_108_864, 201_326_592, 268_435_456];
        podIdle.CopyTo(pod.IdleBytesAtMost, 0);
        pod.IdleTimePercentilesSeconds[0] = 30;
        pod.IdleTimePercentilesSeconds[1] = 120;
        CgroupRow pg = f.Row(1);
        pg.ResidentBytes = 536_870_912;
        pg.WorkingSetBytes = 0;
        pg.Purity = double.NaN;                     // no dominant regions known: not exported
        double[] pgIdle = [0, 0, 536_870_912];
        pgIdle.CopyTo(pg.IdleBytesAtMost, 0);
        pg.IdleTimePercentilesSeconds[0] = double.NaN; // not exported either
        pg.IdleTimePercentilesSeconds[1] = 3600;
        table.Swap();
        return new KdamondObservation("kdamond/node", "node", true, 1.5, new Intervals(20_000, 1_000_000, 60_000_000), [], [], store.Now(), TimeSpan.FromSeconds(10)) { Pages = table };
    }

    public static KdamondObservation Stat(ObservationStore store) => new(
        "module/damon_stat", "damon_stat", false, null, null, [], [], store.Now(), TimeSpan.FromSeconds(5));

    /// <summary>Creates a procfs root with a fixed kernel release and host name.</summary>
    public static string ProcRoot()
    {
        var dir = Path.Combine(Path.GetTempPath(), "damon-otel-proc-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "sys", "kernel"));
        File.WriteAllText(Path.Combine(dir, "sys", "kernel", "osrelease"), "6.12.38+deb13-amd64\n");
        File.WriteAllText(Path.Combine(dir, "sys", "kernel", "hostname"), "golden-host\n");
        return dir;
    }
}
