using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using DamonOtel.Analysis;
using DamonOtel.Telemetry.Catalog;
using DamonOtel.Telemetry.Observations;
using DamonOtel.Telemetry.Prometheus;

namespace DamonOtel.Telemetry.Instruments;

/// <summary>
/// The OTel instruments of the catalog on one Meter. Observable callbacks only read the store's
/// current snapshot (one volatile read per callback, O(series), no I/O); synchronous instruments
/// (WSS histogram, collection duration/errors) are fed by the store's events.
/// </summary>
public sealed class DamonInstruments : IDisposable
{
    private static readonly ConditionalWeakTable<AccessOptions, AttributeValues> AttributeCache = [];
    private static readonly ConditionalWeakTable<IReadOnlyList<double>, string[]> PublishedQuantiles = [];

    private readonly ObservationStore store;
    private readonly Sink sink;
    private readonly Histogram<long>? wss;
    private readonly Histogram<double>? collectionDuration;
    private readonly Counter<long>? collectionErrors;

    /// <param name="meterName">The meter name; only tests change it (to isolate parallel providers).</param>
    /// <param name="processUsage">Reads the agent's own CPU and memory; null reads this process
    /// (<see cref="ProcessUsage.CpuSeconds"/>, <see cref="ProcessUsage.ReadResidentBytes"/>); golden tests pass fixed values.</param>
    public DamonInstruments(ObservationStore store, MetricSelection? selection = null, string meterName = MetricCatalog.MeterName, Func<ProcessUsage>? processUsage = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        this.store = store;
        selection ??= MetricSelection.Default;
        Meter = new Meter(new MeterOptions(meterName) { Version = MeterVersion });

        RegisterKdamondInstruments(selection);
        RegisterAccessInstruments(selection);
        RegisterSchemeInstruments(selection);
        RegisterPageInstruments(selection);
        RegisterDamonStatInstruments(selection);
        RegisterAgentInstruments(selection, processUsage);
        if (selection.IsEnabled(MetricCatalog.WorkingSetDistribution))
        {
            var d = MetricCatalog.WorkingSetDistribution;
            wss = Meter.CreateHistogram(d.Name, d.Unit, d.Description, tags: null,
                new InstrumentAdvice<long> { HistogramBucketBoundaries = [.. MetricCatalog.WorkingSetBucketsBytes.Select(b => (long)b)] });
        }

        if (selection.IsEnabled(MetricCatalog.CollectionDuration))
        {
            var d = MetricCatalog.CollectionDuration;
            collectionDuration = Meter.CreateHistogram(d.Name, d.Unit, d.Description, tags: null,
                new InstrumentAdvice<double> { HistogramBucketBoundaries = MetricCatalog.CollectionDurationBucketsSeconds });
        }

        if (selection.IsEnabled(MetricCatalog.CollectionErrors))
        {
            var d = MetricCatalog.CollectionErrors;
            collectionErrors = Meter.CreateCounter<long>(d.Name, d.Unit, d.Description);
        }

        sink = new Sink(this);
        this.store.AddSink(sink);
    }

    /// <summary>"major.minor.build" of this assembly (no commit hash, so outputs are reproducible).</summary>
    public static string MeterVersion { get; } = typeof(DamonInstruments).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public Meter Meter { get; }

    public void Dispose()
    {
        store.RemoveSink(sink);
        Meter.Dispose();
    }

    /// <summary>One observable instrument whose callback fills its measurements from the store's current snapshot.</summary>
    private void Observable<T>(MetricSelection selection, MetricDefinition d, Func<StoreSnapshot, List<Measurement<T>>, bool> fill)
        where T : struct
    {
        if (!selection.IsEnabled(d))
        {
            return;
        }

        var lastCount = 0;
        IEnumerable<Measurement<T>> Callback()
        {
            // Sized from the previous collection: no growth copies in the steady state.
            var list = new List<Measurement<T>>(Volatile.Read(ref lastCount));
            fill(store.Current, list);
            Volatile.Write(ref lastCount, list.Count);
            return list;
        }

        _ = d.Kind switch
        {
            MetricKind.Gauge => (Instrument)Meter.CreateObservableGauge(d.Name, Callback, d.Unit, d.Description),
            MetricKind.UpDownCounter => Meter.CreateObservableUpDownCounter(d.Name, Callback, d.Unit, d.Description),
            MetricKind.ObservableCounter => Meter.CreateObservableCounter(d.Name, Callback, d.Unit, d.Description),
            _ => throw new InvalidOperationException($"{d.Name}: {d.Kind} is not observable"),
        };
    }

    /// <summary>Per kdamond: up, its intervals, its CPU time.</summary>
    private void RegisterKdamondInstruments(MetricSelection selection)
    {
        Observable<long>(selection, MetricCatalog.KdamondUp, (s, m) => ForKdamonds(s, m, (k, list) => list.Add(new(k.Up ? 1 : 0, KTag(k)))));
        Observable<double>(selection, MetricCatalog.MonitoringInterval, (s, m) => ForKdamonds(s, m, (k, list) =>
        {
            if (k.Intervals is { } iv)
            {
                list.Add(new(iv.SampleUs / 1e6, KTag(k), new("interval", "sample")));
                list.Add(new(iv.AggrUs / 1e6, KTag(k), new("interval", "aggregation")));
                list.Add(new(iv.UpdateUs / 1e6, KTag(k), new("interval", "update")));
            }
        }));
        Observable<double>(selection, MetricCatalog.KdamondCpuTime, (s, m) => ForKdamonds(s, m, (k, list) =>
        {
            if (k.CpuSeconds is { } cpu)
            {
                list.Add(new(cpu, KTag(k)));
            }
        }));
    }

    /// <summary>Per target: the access summary (regions, bytes, idle time, temperature, bandwidth, heatmap) and RSS.</summary>
    private void RegisterAccessInstruments(MetricSelection selection)
    {
        Observable<long>(selection, MetricCatalog.RegionCount, (s, m) => ForAccess(s, m, (k, t, a, list) => list.Add(new(a.RegionCount, KTag(k), TTag(t)))));
        Observable<long>(selection, MetricCatalog.MemoryMonitored, (s, m) => ForAccess(s, m, (k, t, a, list) => list.Add(new(ToLong(a.MonitoredBytes), KTag(k), TTag(t)))));
        Observable<long>(selection, MetricCatalog.WorkingSet, (s, m) => ForAccess(s, m, (k, t, a, list) => list.Add(new(ToLong(a.WorkingSetBytes), KTag(k), TTag(t)))));
        Observable<long>(selection, MetricCatalog.MemoryIdle, (s, m) => ForAccess(s, m, (k, t, a, list) =>
        {
            var labels = AttributeCache.GetValue(a.Options, o => new AttributeValues(o));
            for (var i = 0; i < a.IdleBytesAtMost.Length && i < labels.Le.Length; i++)
            {
                list.Add(new(ToLong(a.IdleBytesAtMost[i]), KTag(k), TTag(t), new("le", labels.Le[i])));
            }
        }));
        Observable<double>(selection, MetricCatalog.IdleTime, (s, m) => ForAccess(s, m, (k, t, a, list) =>
            Quantiles(a, list, k, t, i => a.IdleTimePercentilesUs[i] / 1e6, a.IdleTimePercentilesUs.Length)));
        Observable<double>(selection, MetricCatalog.IdleTimeSigned, (s, m) => ForAccess(s, m, (k, t, a, list) =>
            Quantiles(a, list, k, t, i => a.SignedIdleTimePercentilesUs[i] / 1e6, a.SignedIdleTimePercentilesUs.Length)));
        Observable<double>(selection, MetricCatalog.Temperature, (s, m) => ForAccess(s, m, (k, t, a, list) =>
            Quantiles(a, list, k, t, i => a.TemperaturePercentiles[i], a.TemperaturePercentiles.Length)));
        Observable<double>(selection, MetricCatalog.AccessBandwidth, (s, m) => ForAccess(s, m, (k, t, a, list) => list.Add(new(a.BandwidthBytesPerSecond, KTag(k), TTag(t)))));
        Observable<double>(selection, MetricCatalog.AccessRatio, (s, m) => ForAccess(s, m, (k, t, a, list) => list.Add(new(a.ObservedAccessRatio, KTag(k), TTag(t)))));
        Observable<double>(selection, MetricCatalog.HeatmapAccessRate, (s, m) => ForAccess(s, m, (k, t, a, list) =>
        {
            var labels = AttributeCache.GetValue(a.Options, o => new AttributeValues(o));
            for (var i = 0; i < a.HeatmapAccessRatePercent.Length && i < labels.Column.Length; i++)
            {
                list.Add(new(a.HeatmapAccessRatePercent[i], KTag(k), TTag(t), new("column", labels.Column[i])));
            }
        }));
        Observable<long>(selection, MetricCatalog.TargetRss, (s, m) => ForKdamonds(s, m, (k, list) =>
        {
            foreach (var t in k.Targets)
            {
                if (t.RssBytes is { } rss)
                {
                    list.Add(new(ToLong(rss), KTag(k), TTag(t)));
                }
            }
        }));
    }

    /// <summary>Per DAMOS scheme: its counters and the effective quota.</summary>
    private void RegisterSchemeInstruments(MetricSelection selection)
    {
        Observable<long>(selection, MetricCatalog.SchemeTried, (s, m) => ForSchemes(s, m, (k, sc, list) => list.Add(new(ToLong(sc.Stats.NrTried), SchemeTags(k, sc)))));
        Observable<long>(selection, MetricCatalog.SchemeApplied, (s, m) => ForSchemes(s, m, (k, sc, list) => list.Add(new(ToLong(sc.Stats.NrApplied), SchemeTags(k, sc)))));
        Observable<long>(selection, MetricCatalog.SchemeTriedSize, (s, m) => ForSchemes(s, m, (k, sc, list) => list.Add(new(ToLong(sc.Stats.SzTried), SchemeTags(k, sc)))));
        Observable<long>(selection, MetricCatalog.SchemeAppliedSize, (s, m) => ForSchemes(s, m, (k, sc, list) => list.Add(new(ToLong(sc.Stats.SzApplied), SchemeTags(k, sc)))));
        Observable<long>(selection, MetricCatalog.SchemeFilterPassedSize, (s, m) => ForSchemes(s, m, (k, sc, list) =>
        {
            if (sc.Stats.SzOpsFilterPassed is { } passed)
            {
                list.Add(new(ToLong(passed), SchemeTags(k, sc)));
            }
        }));
        Observable<long>(selection, MetricCatalog.SchemeQuotaExceeds, (s, m) => ForSchemes(s, m, (k, sc, list) => list.Add(new(ToLong(sc.Stats.QtExceeds), SchemeTags(k, sc)))));
        Observable<long>(selection, MetricCatalog.SchemeQuotaEffective, (s, m) => ForSchemes(s, m, (k, sc, list) =>
        {
            if (sc.EffectiveQuotaBytes is { } q)
            {
                list.Add(new(ToLong(q), SchemeTags(k, sc)));
            }
        }));
    }

    /// <summary>paddr page sampling: free pages, owners, and per selected cgroup its resident bytes, WSS, idle distribution, percentiles, purity.</summary>
    private void RegisterPageInstruments(MetricSelection selection)
    {
        Observable<long>(selection, MetricCatalog.MemoryFree, (s, m) => ForPages(s, m, (t, f, list) =>
            list.Add(new(ToLong(f.FreeBytes), new("kdamond", t.Kdamond), new("target", t.Target)))));
        Observable<long>(selection, MetricCatalog.MemoryOwned, (s, m) => ForPages(s, m, (t, f, list) =>
        {
            if (f.HasCgroups)
            {
                list.Add(new(ToLong(f.SelectedCgroupBytes), new("kdamond", t.Kdamond), new("target", t.Target), new("owner", "selected_cgroups")));
                list.Add(new(ToLong(f.OtherCgroupBytes), new("kdamond", t.Kdamond), new("target", t.Target), new("owner", "other_cgroups")));
                list.Add(new(ToLong(f.KernelBytes), new("kdamond", t.Kdamond), new("target", t.Target), new("owner", "kernel")));
            }
        }));
        Observable<long>(selection, MetricCatalog.CgroupsSelected, (s, m) => ForPages(s, m, (t, f, list) =>
        {
            if (f.HasCgroups)
            {
                list.Add(new(f.SelectedCount, new KeyValuePair<string, object?>("kdamond", t.Kdamond)));
            }
        }));
        Observable<long>(selection, MetricCatalog.CgroupsDropped, (s, m) => ForPages(s, m, (t, f, list) =>
        {
            if (f.HasCgroups)
            {
                list.Add(new(f.DroppedCount, new KeyValuePair<string, object?>("kdamond", t.Kdamond)));
            }
        }));
        Observable<long>(selection, MetricCatalog.CgroupResident, (s, m) => ForCgroups(s, m, (t, row, list) => list.Add(new(ToLong(row.ResidentBytes), row.Tags))));
        Observable<double>(selection, MetricCatalog.CgroupResidentError, (s, m) => ForCgroups(s, m, (t, row, list) => list.Add(new(row.ResidentStandardErrorBytes, row.Tags))));
        Observable<long>(selection, MetricCatalog.CgroupWorkingSet, (s, m) => ForCgroups(s, m, (t, row, list) => list.Add(new(ToLong(row.WorkingSetBytes), row.Tags))));
        Observable<long>(selection, MetricCatalog.CgroupIdle, (s, m) => ForCgroups(s, m, (t, row, list) =>
        {
            for (var i = 0; i < row.IdleBytesAtMost.Length && i < t.LeLabels.Count; i++)
            {
                list.Add(new(ToLong(row.IdleBytesAtMost[i]), [.. row.Tags, new("le", t.LeLabels[i])]));
            }
        }));
        Observable<double>(selection, MetricCatalog.CgroupIdleTime, (s, m) => ForCgroups(s, m, (t, row, list) =>
        {
            for (var i = 0; i < row.IdleTimePercentilesSeconds.Length && i < t.QuantileLabels.Count; i++)
            {
                if (double.IsFinite(row.IdleTimePercentilesSeconds[i]))
                {
                    list.Add(new(row.IdleTimePercentilesSeconds[i], [.. row.Tags, new("quantile", t.QuantileLabels[i])]));
                }
            }
        }));
        Observable<double>(selection, MetricCatalog.CgroupPurity, (s, m) => ForCgroups(s, m, (t, row, list) =>
        {
            if (double.IsFinite(row.Purity))
            {
                list.Add(new(row.Purity, row.Tags));
            }
        }));
    }

    /// <summary>DAMON_STAT's own published figures, as the kernel computed them.</summary>
    private void RegisterDamonStatInstruments(MetricSelection selection)
    {
        Observable<double>(selection, MetricCatalog.DamonStatIdleTime, (s, m) => ForKdamonds(s, m, (k, list) =>
        {
            if (k.DamonStat is { } p)
            {
                var labels = PublishedQuantiles.GetValue(p.Percentiles, ps => [.. ps.Select(x => PrometheusNumbers.Canonical(x / 100))]);
                for (var i = 0; i < p.IdleSeconds.Count && i < labels.Length; i++)
                {
                    list.Add(new(p.IdleSeconds[i], new KeyValuePair<string, object?>("quantile", labels[i])));
                }
            }
        }));
        Observable<double>(selection, MetricCatalog.DamonStatBandwidth, (s, m) => ForKdamonds(s, m, (k, list) =>
        {
            if (k.DamonStat?.BandwidthBytesPerSecond is { } bw)
            {
                list.Add(new(bw));
            }
        }));
    }

    private bool ForPages<T>(StoreSnapshot s, List<Measurement<T>> m, Action<PageOwnershipTable, PageOwnershipFrame, List<Measurement<T>>> each)
        where T : struct =>
        ForKdamonds(s, m, (k, list) =>
        {
            if (k.Pages is { } table)
            {
                table.Read(frame =>
                {
                    if (frame.Filled)
                    {
                        each(table, frame, list);
                    }
                });
            }
        });

    private bool ForCgroups<T>(StoreSnapshot s, List<Measurement<T>> m, Action<PageOwnershipTable, CgroupRow, List<Measurement<T>>> each)
        where T : struct =>
        ForPages(s, m, (t, f, list) =>
        {
            foreach (var row in f.Rows)
            {
                each(t, row, list);
            }
        });

    // Estimates are doubles; never wrap negative, round to whole bytes.
    private static long ToLong(double v) => double.IsFinite(v) && v > 0 ? (long)Math.Min(Math.Round(v), long.MaxValue) : 0;

    /// <summary>The agent itself: snapshot age and up per source, its own CPU time and memory.</summary>
    private void RegisterAgentInstruments(MetricSelection selection, Func<ProcessUsage>? processUsage)
    {
        Observable<double>(selection, MetricCatalog.SnapshotAge, (s, m) =>
        {
            foreach (var src in s.Sources.Values.OrderBy(x => x.Source, StringComparer.Ordinal))
            {
                if (store.SnapshotAgeSeconds(src) is { } age)
                {
                    m.Add(new(age, new KeyValuePair<string, object?>("source", src.Source)));
                }
            }

            return true;
        });
        Observable<long>(selection, MetricCatalog.SourceUp, (s, m) =>
        {
            foreach (var src in s.Sources.Values.OrderBy(x => x.Source, StringComparer.Ordinal))
            {
                m.Add(new(src.LastCollectionSucceeded ? 1 : 0, new KeyValuePair<string, object?>("source", src.Source)));
            }

            return true;
        });

        // Each callback reads only its own half: getrusage for CPU, /proc/self/statm for RSS.
        Func<(double User, double System)> cpuSeconds = processUsage is null ? ProcessUsage.CpuSeconds : () =>
        {
            var u = processUsage();
            return (u.UserSeconds, u.SystemSeconds);
        };
        Func<long> residentBytes = processUsage is null ? ProcessUsage.ReadResidentBytes : () => processUsage().ResidentBytes;
        if (selection.IsEnabled(MetricCatalog.ProcessCpuTime))
        {
            var d = MetricCatalog.ProcessCpuTime;
            KeyValuePair<string, object?>[] user = [new("cpu.mode", "user")];
            KeyValuePair<string, object?>[] system = [new("cpu.mode", "system")];
            Meter.CreateObservableCounter(d.Name, () =>
            {
                var (u, sys) = cpuSeconds();
                return new Measurement<double>[] { new(u, user), new(sys, system) };
            }, d.Unit, d.Description);
        }

        if (selection.IsEnabled(MetricCatalog.ProcessMemoryUsage))
        {
            var d = MetricCatalog.ProcessMemoryUsage;
            Meter.CreateObservableUpDownCounter(d.Name, residentBytes, d.Unit, d.Description);
        }
    }

    private bool ForKdamonds<T>(StoreSnapshot s, List<Measurement<T>> m, Action<KdamondObservation, List<Measurement<T>>> each)
        where T : struct
    {
        foreach (var k in s.Kdamonds)
        {
            if (!store.IsStale(k))
            {
                each(k, m);
            }
        }

        return true;
    }

    private bool ForAccess<T>(StoreSnapshot s, List<Measurement<T>> m, Action<KdamondObservation, TargetObservation, AccessSummary, List<Measurement<T>>> each)
        where T : struct =>
        ForKdamonds(s, m, (k, list) =>
        {
            foreach (var t in k.Targets)
            {
                if (t.Access is { } a)
                {
                    each(k, t, a, list);
                }
            }
        });

    private bool ForSchemes<T>(StoreSnapshot s, List<Measurement<T>> m, Action<KdamondObservation, SchemeObservation, List<Measurement<T>>> each)
        where T : struct =>
        ForKdamonds(s, m, (k, list) =>
        {
            foreach (var sc in k.Schemes)
            {
                each(k, sc, list);
            }
        });

    private static void Quantiles(AccessSummary a, List<Measurement<double>> list, KdamondObservation k, TargetObservation t, Func<int, double> value, int count)
    {
        var labels = AttributeCache.GetValue(a.Options, o => new AttributeValues(o));
        for (var i = 0; i < count && i < labels.Quantile.Length; i++)
        {
            list.Add(new(value(i), KTag(k), TTag(t), new("quantile", labels.Quantile[i])));
        }
    }

    private static KeyValuePair<string, object?> KTag(KdamondObservation k) => new("kdamond", k.Kdamond);

    private static KeyValuePair<string, object?> TTag(TargetObservation t) => new("target", t.Target);

    private static KeyValuePair<string, object?>[] SchemeTags(KdamondObservation k, SchemeObservation s) =>
        [new("kdamond", k.Kdamond), new("scheme", s.Scheme), new("action", s.Action)];

    // Kernel counters are u64; nothing real exceeds 2^63, but never wrap negative.
    private static long ToLong(ulong v) => v > long.MaxValue ? long.MaxValue : (long)v;

    /// <summary>Attribute values derived from the analysis options, rendered once per options object.</summary>
    private sealed class AttributeValues(AccessOptions o)
    {
        public string[] Le { get; } = [.. o.IdleBucketsSeconds.Select(PrometheusNumbers.Canonical), "+Inf"];

        public string[] Quantile { get; } = [.. o.Percentiles.Select(p => PrometheusNumbers.Canonical(p / 100))];

        public string[] Column { get; } = [.. Enumerable.Range(0, o.HeatmapColumns).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    }

    private sealed class Sink(DamonInstruments owner) : IObservationSink
    {
        public void OnNewAccessSnapshot(KdamondObservation kdamond, TargetObservation target) =>
            owner.wss?.Record(ToLong(target.Access!.WorkingSetBytes), new("kdamond", kdamond.Kdamond), new("target", target.Target));

        public void OnCollection(string source, TimeSpan duration, bool failed, bool firstSeen)
        {
            var tag = new KeyValuePair<string, object?>("source", source);
            owner.collectionDuration?.Record(duration.TotalSeconds, tag);
            if (failed || firstSeen)
            {
                // Adding 0 on first sight creates the series, so increase() works from the first error.
                owner.collectionErrors?.Add(failed ? 1 : 0, tag);
            }
        }
    }
}
