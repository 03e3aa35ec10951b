using System.Text;
using DamonOtel.Agent.Collection;
using DamonOtel.Agent.Configuration;
using DamonOtel.Agent.Hosting;
using DamonOtel.Agent.Tests.Simulated;
using DamonOtel.Analysis;
using DamonOtel.Damon.IO;
using DamonOtel.Simulator;
using DamonOtel.Telemetry.Observations;
using DamonOtel.TestSupport;

namespace DamonOtel.Agent.Tests;

/// <summary>
/// DAMON_STAT observed read-only: its complete per-region distribution from damon_aggregated
/// (routed by damon_stat.kdamond_pid, each aggregation at the interval in force), next to the
/// figures it publishes itself.
/// </summary>
public class DamonStatRegionsTests
{
    private const string Facts = "7.3.4+deb13-cloud-amd64";

    [Fact]
    public async Task Its_real_7_3_events_give_exactly_the_101_percentiles_it_published()
    {
        // linux-7.3-damon-stat holds DAMON_STAT's parameters as 7.3.4 printed them at uptime
        // 48.47 (kdamond_pid 67, aggr_interval_us 1039360); the events are its own, captured in
        // the same run (tests/vm/facts). The agent's own sources run on them.
        KernelRoots roots = KernelRoots.Under(RepoRoot.Of("tests", "DamonOtel.Damon.Tests", "Fixtures", "linux-7.3-damon-stat"));
        string[] lines = File.ReadAllLines(RepoRoot.Of("tests", "vm", "facts", Facts, "damon-stat-trace-raw.txt"));
        var fs = new ScriptedTracefs(LinuxKernelFs.Instance, roots);
        await using KernelEnvironment env = KernelEnvironment.Wrap(fs, roots);
        var store = new ObservationStore();
        var access = new AccessOptions { Percentiles = [.. Enumerable.Range(0, 101).Select(p => (double)p)] };
        var state = new KdamondState(store, "module/damon_stat", "damon_stat", -1, ["system"], TimeSpan.FromSeconds(2));
        var module = new ModuleSource(env, state, "damon_stat", access, TimeSpan.FromSeconds(2), regionsFromTracepoint: true);
        await using var tracepoint = new TracepointSource(env, () => [state], access, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        await module.CollectAsync(CancellationToken.None);       // its pid and aggregation interval
        await tracepoint.CollectAsync(CancellationToken.None);   // the private instance, empty yet
        fs.Emit(lines.Take(21));                                 // its first aggregation: 21 regions
        await tracepoint.CollectAsync(CancellationToken.None);

        KdamondObservation o = Assert.Single(store.Current.Kdamonds);
        AccessSummary a = o.Targets[0].Access!;
        DamonStatPublished published = o.DamonStat!;
        Assert.Equal(21, a.RegionCount);
        Assert.Equal(2147352576UL - 4096, a.MonitoredBytes);    // first to last System RAM byte, the hole included
        Assert.Equal(1039360UL, a.Intervals.AggrUs);
        Assert.Equal(101, published.IdleSeconds.Count);
        // The kernel prints whole milliseconds: (age + 1) x aggr_us / 1000, negated when accessed.
        long[] ours = [.. a.SignedIdleTimePercentilesUs.Select(us => us / 1000)];
        long[] theirs = [.. published.IdleSeconds.Select(s => (long)Math.Round(s * 1000))];
        Assert.Equal(theirs, ours);

        // The rest of the capture: three re-tunings; each later aggregation uses 20 x the latest sample_us.
        fs.Emit(lines.Skip(21));
        await tracepoint.CollectAsync(CancellationToken.None);
        AccessSummary last = store.Current.Kdamonds[0].Targets[0].Access!;
        Assert.Equal(new Damon.Model.Intervals(18883, 18883 * 20, 60_000_000), last.Intervals);
        Assert.Equal(2147352576UL - 4096, last.MonitoredBytes);
        Assert.True(store.Current.Kdamonds[0].Targets[0].AccessSequence >= 11);
    }

    [Fact]
    public async Task Zero_config_next_to_DAMON_STAT_exports_its_regions_follows_its_restarts_and_writes_nothing_to_DAMON()
    {
        var kernel = new SimulatedKernel(new SimulatorOptions
        {
            Roots = KernelRoots.Under("/sim"),
            Profile = KernelProfile.V7_3,
            Seed = 11,
            Processes = [("app", "steady")],
            DamonStatEnabled = true,
        });
        var fs = new RecordingKernelFs(kernel);
        string stateDir = Directory.CreateTempSubdirectory("damon-otel-test-").FullName;
        AgentConfig config = ConfigLoader.Parse("collection: {interval: 1h}\n", "t.yaml") with { Roots = kernel.Options.Roots, StateDir = stateDir };
        var store = new ObservationStore();
        await using var runner = new AgentRunner(config, KernelEnvironment.Wrap(fs, kernel.Options.Roots), store, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await runner.StartAsync(CancellationToken.None);
        Assert.Empty(runner.Manager.Owned);
        Assert.Null(runner.Manager.Blocker);
        await runner.Loop.CollectAllOnceAsync(CancellationToken.None);   // instance created, kdamond_pid known

        kernel.Advance(TimeSpan.FromSeconds(60));
        await runner.Loop.CollectAllOnceAsync(CancellationToken.None);
        KdamondObservation o = SimHarness.Kdamond(store, "damon_stat")!;
        AccessSummary a = o.Targets.Single(t => t.Target == "system").Access!;
        Assert.True(o.Up);
        Assert.Equal((5UL << 30) - 0x1000, a.MonitoredBytes);   // the whole span, from the events (the percentile rebuild gives the largest block)
        Assert.NotEqual(100, a.RegionCount);
        Assert.Equal([0.0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 100], o.DamonStat!.Percentiles);
        Assert.True(o.DamonStat.BandwidthBytesPerSecond > 0);

        // The published percentiles are the kernel's of the regions at its last 5 s refresh;
        // ours are of the latest aggregation: they agree within that lag (plus one re-tuning,
        // which rescales ages) -- the real kernel's own numbers agree exactly (test above).
        double lagSeconds = 5 + (2 * a.Intervals.AggrUs / 1e6);
        for (int i = 0; i < o.DamonStat.Percentiles.Count; i++)
        {
            double ours = a.SignedIdleTimePercentilesUs[i] / 1e6;
            double theirs = o.DamonStat.IdleSeconds[i];
            Assert.True(Math.Abs(ours - theirs) <= lagSeconds, $"p{o.DamonStat.Percentiles[i]}: {ours} s vs published {theirs} s (lag allowed {lagSeconds} s)");
        }

        // DAMON_STAT restarted (new kdamond, new pid): the agent follows it.
        long before = o.Targets[0].AccessSequence;
        kernel.WriteText(kernel.Options.Roots.ModuleParameters("damon_stat") + "/enabled", "N");
        kernel.WriteText(kernel.Options.Roots.ModuleParameters("damon_stat") + "/enabled", "Y");
        await runner.Loop.CollectAllOnceAsync(CancellationToken.None);   // the new kdamond_pid
        kernel.Advance(TimeSpan.FromSeconds(30));
        await runner.Loop.CollectAllOnceAsync(CancellationToken.None);
        TargetObservation after = SimHarness.Kdamond(store, "damon_stat")!.Targets[0];
        Assert.True(after.AccessSequence > before + 3, $"snapshots after the restart: {before} -> {after.AccessSequence}");

        await runner.StopAsync(CancellationToken.None);
        Assert.DoesNotContain(fs.Mutations, m => m.Contains(kernel.Options.Roots.DamonAdmin, StringComparison.Ordinal) || m.Contains("/module/", StringComparison.Ordinal));
        Directory.Delete(stateDir, recursive: true);
    }

    /// <summary>
    /// A fixture tree plus a private tracefs instance whose trace_pipe yields the lines the
    /// test emits (the real trace of a real kernel), as the agent would read them.
    /// </summary>
    private sealed class ScriptedTracefs(IKernelFs inner, KernelRoots roots) : IKernelFs
    {
        private readonly string instances = Path.Combine(roots.Tracefs, "instances");
        private readonly MemoryStream pending = new();
        private string? instance;

        public void Emit(IEnumerable<string> lines)
        {
            lock (pending)
            {
                long at = pending.Position;
                pending.Seek(0, SeekOrigin.End);
                byte[] bytes = Encoding.ASCII.GetBytes(string.Concat(lines.Select(l => l + "\n")));
                pending.Write(bytes);
                pending.Position = at;
            }
        }

        public string ReadText(string path) => inner.ReadText(path);

        public int ReadBytes(string path, Span<byte> buffer) => inner.ReadBytes(path, buffer);

        public void WriteText(string path, string text)
        {
            // Only the instance's event switches may be written.
            Assert.True(instance is not null && path.StartsWith(instance, StringComparison.Ordinal) && path.EndsWith("/enable", StringComparison.Ordinal), $"unexpected write {path}");
        }

        public IReadOnlyList<string> ListDirectory(string path) => inner.ListDirectory(path);

        public bool FileExists(string path) => inner.FileExists(Real(path));

        public bool DirectoryExists(string path) => inner.DirectoryExists(Real(path));

        public void CreateDirectory(string path)
        {
            Assert.StartsWith(instances + "/", path, StringComparison.Ordinal);
            instance = path;
        }

        public void RemoveDirectory(string path) => instance = null;

        public Stream OpenPipe(string path) => new Pipe(this);

        // The instance's events/ are the top-level ones of the fixture.
        private string Real(string path) => instance is not null && path.StartsWith(instance + "/", StringComparison.Ordinal)
            ? Path.Combine(roots.Tracefs, path[(instance.Length + 1)..])
            : path;

        private sealed class Pipe(ScriptedTracefs fs) : Stream
        {
            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => false;

            public override long Length => throw new NotSupportedException();

            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override int Read(byte[] buffer, int offset, int count)
            {
                lock (fs.pending)
                {
                    return fs.pending.Read(buffer, offset, count);
                }
            }

            public override void Flush()
            {
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }
    }
}
