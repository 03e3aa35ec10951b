using DamonOtel.Analysis;
using DamonOtel.Damon.Model;
using DamonOtel.Telemetry.Observations;

namespace DamonOtel.MetricsLoadHost;

/// <summary>Deterministic fake observations for the /metrics load test (no kernel, no analysis run).</summary>
internal static class SyntheticObservations
{
    /// <summary>kdamonds x targets x schemes observations with plausible, distinct values, stamped now.</summary>
    public static IReadOnlyList<KdamondObservation> Create(int kdamonds, int targets, int schemes, ObservationStore? store = null, TimeSpan? expectedInterval = null)
    {
        var now = store?.Now() ?? TimeProvider.System.GetTimestamp();
        var options = AccessOptions.Default;
        var intervals = Intervals.KernelDefault;
        var list = new List<KdamondObservation>();
        for (var k = 0; k < kdamonds; k++)
        {
            var ts = new List<TargetObservation>();
            for (var t = 0; t < targets; t++)
            {
                var seed = (ulong)((k * 131) + (t * 17) + 1);
                var monitored = (1UL << 30) * seed;
                var summary = new AccessSummary(options)
                {
                    Intervals = intervals,
                    RegionCount = 100 + (int)(seed % 900),
                    MonitoredBytes = monitored,
                    WorkingSetBytes = monitored / 5,
                    BandwidthBytesPerSecond = 1.5e9 * seed,
                    ObservedAccessRatio = 0.05,
                };
                for (var i = 0; i < options.Percentiles.Count; i++)
                {
                    summary.IdleTimePercentilesUs[i] = (ulong)(options.Percentiles[i] * 1_000_000 * seed);
                    summary.SignedIdleTimePercentilesUs[i] = (long)summary.IdleTimePercentilesUs[i] - 500_000;
                    summary.TemperaturePercentiles[i] = (options.Percentiles[i] * 10) - 400;
                }

                for (var i = 0; i < summary.IdleBytesAtMost.Length; i++)
                {
                    summary.IdleBytesAtMost[i] = i == summary.IdleBytesAtMost.Length - 1 ? monitored : monitored / 20 * (ulong)(i + 1) / (ulong)summary.IdleBytesAtMost.Length * 19 / 20;
                }

                ts.Add(new TargetObservation("target" + t, summary, 1, monitored / 3));
            }

            var ss = new List<SchemeObservation>();
            for (var s = 0; s < schemes; s++)
            {
                var n = (ulong)((k + 1) * (s + 1));
                ss.Add(new SchemeObservation("scheme" + s, s % 2 == 0 ? "pageout" : "stat",
                    new DamosStats(1000 * n, 4096 * 1000 * n, 500 * n, 4096 * 500 * n, 4096 * 400 * n, n, null, null), 1UL << 27));
            }

            list.Add(new KdamondObservation("kdamond/" + k, "kdamond" + k, true, 12.5 * (k + 1), intervals, ts, ss, now, expectedInterval ?? TimeSpan.FromSeconds(10)));
        }

        return list;
    }

    /// <summary>Publishes <see cref="Create"/>'s observations into <paramref name="store"/>.</summary>
    public static void PublishTo(ObservationStore store, int kdamonds, int targets, int schemes)
    {
        ArgumentNullException.ThrowIfNull(store);
        foreach (var k in Create(kdamonds, targets, schemes, store, TimeSpan.FromDays(1)))
        {
            store.Publish(k);
            store.RecordCollection(k.Source, TimeSpan.FromMilliseconds(2), null);
        }
    }
}
