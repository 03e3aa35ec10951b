using DamonOtel.Damon.Features;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Simulator;

namespace DamonOtel.Damon.Tests;

/// <summary>
/// The write protocol (DamonSysfsWriter, StateCommands) against the Simulator, which parses
/// and validates every write like the kernel (kstrto* with base 0, keywords, EBUSY, EINVAL on
/// on/commit), and read back with DamonSysfsReader.
/// </summary>
public class SimulatorProtocolTests
{
    private const ulong MiB = 1UL << 20;
    private const ulong Alloc = SimulatedWorkloads.AllocationStart;

    private static readonly KernelRoots Roots = KernelRoots.Under("/sim");

    // 4 GiB of simulated RAM: the largest System RAM block is [4 GiB, 5 GiB); in 4 KiB units for addr_unit 4096.
    private static readonly AddressRange RamPages = new((4UL << 30) / 4096, (5UL << 30) / 4096);

    private static readonly StateCommandOptions NoBackoff = new() { Backoff = _ => TimeSpan.Zero };

    // "steady": a 1 GiB allocation at Alloc of which [256 MiB, 384 MiB) stays hot; the rest is idle after start-up.
    private static SimulatedKernel NewKernel(KernelProfile profile) =>
        new(new SimulatorOptions { Roots = Roots, Profile = profile, Seed = 42, Processes = [("app", "steady")] });

    // ---- specs ----

    // kdamond 0 on 6.18: everything the 6.18 sysfs has. 8 and 10 sit in many number files:
    // written as "08" the kernel would refuse them (invalid octal), as "010" read back 8.
    private static KdamondSpec Vaddr618(int pid) => new(
        [
            new ContextSpec(
                "vaddr",
                new Intervals(8_000, 160_000, 1_000_000),
                [new TargetSpec(pid)],
                [
                    new SchemeSpec(
                        "pageout",
                        new AccessPattern(new(8 * 4096, 1UL << 30), new(0, 10), new(8, AccessPattern.CountMax)),
                        ApplyIntervalUs: 1_000_000,
                        Quotas: new QuotaSpec(10, 8 * MiB, 1000, new QuotaWeights(8, 10, 982), [new QuotaGoalSpec("user_input", 10_000, 8), new QuotaGoalSpec("node_mem_used_bp", 9_000, 0, Nid: 0)]),
                        Watermarks: new DamosWatermarks("free_mem_rate", 5_000_000, 800, 500, 10),
                        Filters:
                        [
                            new FilterSpec("anon", true, Allow: false),
                            new FilterSpec("addr", false, Allow: true, Address: new AddressRange(Alloc, Alloc + (64 * MiB))),
                            new FilterSpec("memcg", true, Allow: false, MemcgPath: "/workload.slice"),
                            new FilterSpec("target", true, Allow: false, TargetIndex: 0),
                            new FilterSpec("hugepage_size", false, Allow: true, HugepageSize: new ValueRange(2 * MiB, 2 * MiB)),
                        ]),
                    new SchemeSpec(
                        "migrate_hot",
                        new AccessPattern(new(4096, AccessPattern.SizeMax), new(8, AccessPattern.CountMax), new(0, 10)),
                        TargetNid: 1,
                        Dests: [new DestSpec(1, 8), new DestSpec(0, 10)]),
                ],
                MinNrRegions: 10,
                MaxNrRegions: 800,
                IntervalsGoal: new IntervalsGoal(10, 8, 1_000, 10_000_000)),
        ],
        RefreshMs: 10);

    private static KdamondSpec Paddr618() => new(
        [
            new ContextSpec(
                "paddr",
                new Intervals(5_000, 100_000, 1_000_000),
                [new TargetSpec(0, [RamPages])],
                [new SchemeSpec("stat", AccessPattern.Everything, Filters: [new FilterSpec("young", false, Allow: false)])],
                AddrUnit: 4096),
        ]);

    // The same shape without what 6.12 lacks: no refresh_ms, intervals_goal, addr_unit, allow,
    // hugepage_size filters, goal nid, dests.
    private static KdamondSpec Vaddr612(int pid) => new(
        [
            new ContextSpec(
                "vaddr",
                new Intervals(8_000, 160_000, 1_000_000),
                [new TargetSpec(pid)],
                [
                    new SchemeSpec(
                        "pageout",
                        new AccessPattern(new(8 * 4096, 1UL << 30), new(0, 10), new(8, AccessPattern.CountMax)),
                        ApplyIntervalUs: 1_000_000,
                        Quotas: new QuotaSpec(10, 8 * MiB, 1000, new QuotaWeights(8, 10, 982), [new QuotaGoalSpec("user_input", 10_000, 8), new QuotaGoalSpec("some_mem_psi_us", 1_000, 0)]),
                        Watermarks: new DamosWatermarks("free_mem_rate", 5_000_000, 800, 500, 10),
                        Filters:
                        [
                            new FilterSpec("anon", true),
                            new FilterSpec("addr", false, Address: new AddressRange(Alloc, Alloc + (64 * MiB))),
                            new FilterSpec("memcg", true, Allow: false, MemcgPath: "/workload.slice"),
                            new FilterSpec("target", true, TargetIndex: 0),
                        ]),
                    new SchemeSpec(
                        "migrate_hot",
                        new AccessPattern(new(4096, AccessPattern.SizeMax), new(8, AccessPattern.CountMax), new(0, 10)),
                        TargetNid: 1),
                ],
                MinNrRegions: 10,
                MaxNrRegions: 800),
        ]);

    private static KdamondSpec Paddr612() => new(
        [
            new ContextSpec(
                "paddr",
                new Intervals(5_000, 100_000, 1_000_000),
                [new TargetSpec(0, [new AddressRange(4UL << 30, 5UL << 30)])],
                [new SchemeSpec("stat", AccessPattern.Everything, Filters: [new FilterSpec("young", false)])]),
        ]);

    // ---- write, read back, start ----

    [Theory]
    [InlineData(KernelProfile.V6_18)]
    [InlineData(KernelProfile.V6_12)]
    public async Task Full_spec_reads_back_field_by_field_and_starts(KernelProfile profile)
    {
        SimulatedKernel kernel = NewKernel(profile);
        int pid = kernel.FindProcess("app");
        Assert.True(pid > 0);
        bool v618 = profile == KernelProfile.V6_18;
        KdamondSpec vaddr = v618 ? Vaddr618(pid) : Vaddr612(pid);
        KdamondSpec paddr = v618 ? Paddr618() : Paddr612();

        var writer = new DamonSysfsWriter(kernel, Roots);
        writer.EnsureKdamondCount(2);
        writer.WriteKdamond(0, vaddr);
        writer.WriteKdamond(1, paddr);

        var reader = new DamonSysfsReader(kernel, Roots);
        DamonAdminTree tree = reader.ReadTree();
        Assert.Equal(2, tree.Kdamonds.Count);
        AssertKdamond(vaddr, tree.Kdamonds[0], v618);
        AssertKdamond(paddr, tree.Kdamonds[1], v618);

        // Layers on 6.18: addr and target are core filters, the rest ops filters, each in spec order.
        DamosScheme s0 = tree.Kdamonds[0].Contexts[0].Schemes[0];
        if (v618)
        {
            Assert.Equal(["addr", "target"], s0.CoreFilters!.Select(f => f.Type));
            Assert.Equal(["anon", "memcg", "hugepage_size"], s0.OpsFilters!.Select(f => f.Type));
            Assert.Empty(s0.Filters!);
        }
        else
        {
            Assert.Equal(["anon", "addr", "memcg", "target"], s0.Filters!.Select(f => f.Type));
            Assert.Null(s0.CoreFilters);
            Assert.Null(s0.OpsFilters);
            Assert.All(s0.Filters!, f => Assert.Null(f.Allow));
        }

        // Plain decimal: 8 and 10 come back as themselves ("010" would have been read as 8).
        string s0Path = Path.Combine(Roots.Kdamonds, "0", "contexts", "0", "schemes", "0");
        Assert.Equal("8\n", kernel.ReadText(Path.Combine(s0Path, "quotas", "weights", "sz_permil")));
        Assert.Equal("10\n", kernel.ReadText(Path.Combine(s0Path, "quotas", "weights", "nr_accesses_permil")));
        Assert.Equal("10\n", kernel.ReadText(Path.Combine(s0Path, "access_pattern", "nr_accesses", "max")));
        Assert.Equal("8\n", kernel.ReadText(Path.Combine(s0Path, "access_pattern", "age", "min")));
        Assert.Equal("10\n", kernel.ReadText(Path.Combine(s0Path, "watermarks", "low")));

        // The kernel accepts both kdamonds as written.
        var commands = new StateCommands(kernel, Roots, NoBackoff);
        _ = await commands.SendAsync(0, StateCommand.On);
        _ = await commands.SendAsync(1, StateCommand.On);
        kernel.Advance(TimeSpan.FromSeconds(1));
        Kdamond k0 = reader.ReadKdamond(0);
        Kdamond k1 = reader.ReadKdamond(1);
        Assert.True(k0.On && k1.On);
        Assert.True(k0.Pid > 0 && k1.Pid > 0 && k0.Pid != k1.Pid);
    }

    [Fact]
    public void The_simulator_reads_a_leading_zero_as_octal()
    {
        // What the writer must avoid, shown on the same file the test above checks.
        SimulatedKernel kernel = NewKernel(KernelProfile.V6_18);
        new DamonSysfsWriter(kernel, Roots).EnsureKdamondCount(1);
        string path = Path.Combine(Roots.Kdamonds, "0", "contexts");
        kernel.WriteText(Path.Combine(path, "nr_contexts"), "1");
        string weight = Path.Combine(path, "0", "schemes");
        kernel.WriteText(Path.Combine(weight, "nr_schemes"), "1");
        string sz = Path.Combine(weight, "0", "quotas", "weights", "sz_permil");
        kernel.WriteText(sz, "010");
        Assert.Equal("8\n", kernel.ReadText(sz));
        Assert.Equal(Errno.EINVAL, Assert.Throws<KernelIoException>(() => kernel.WriteText(sz, "08")).Errno);
    }

    // ---- on, then commit ----

    [Theory]
    [InlineData(KernelProfile.V6_18)]
    [InlineData(KernelProfile.V6_12)]
    public async Task New_values_are_staged_until_commit(KernelProfile profile)
    {
        SimulatedKernel kernel = NewKernel(profile);
        int pid = kernel.FindProcess("app");
        var writer = new DamonSysfsWriter(kernel, Roots);
        var reader = new DamonSysfsReader(kernel, Roots);
        var commands = new StateCommands(kernel, Roots, NoBackoff);
        KdamondSpec Spec(AccessPattern pattern) => new(
            [new ContextSpec("vaddr", new Intervals(5_000, 100_000, 1_000_000), [new TargetSpec(pid)], [new SchemeSpec("stat", pattern)])]);

        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, Spec(AccessPattern.Everything));
        _ = await commands.SendAsync(0, StateCommand.On);
        int thread = reader.ReadPid(0);
        kernel.Advance(TimeSpan.FromSeconds(5));

        // Everything matches: idle regions (image, libraries, the cold part of the allocation) and hot ones.
        _ = await commands.SendAsync(0, StateCommand.UpdateSchemesTriedRegions);
        DamonRegion[] before = reader.ReadTriedRegions(0, 0, 0)!.Regions;
        Assert.Contains(before, r => r.NrAccesses == 0);
        Assert.Contains(before, r => r.NrAccesses > 0);

        // Only regions accessed at least once per aggregation interval.
        var accessed = new AccessPattern(new(0, AccessPattern.SizeMax), new(1, AccessPattern.CountMax), new(0, AccessPattern.CountMax));
        writer.WriteKdamond(0, Spec(accessed));
        Assert.Equal(accessed, reader.ReadKdamond(0).Contexts[0].Schemes[0].AccessPattern);

        // Staged only: the running kdamond still applies the old pattern.
        _ = await commands.SendAsync(0, StateCommand.UpdateSchemesTriedRegions);
        DamonRegion[] staged = reader.ReadTriedRegions(0, 0, 0)!.Regions;
        Assert.Contains(staged, r => r.NrAccesses == 0);

        _ = await commands.SendAsync(0, StateCommand.Commit);
        _ = await commands.SendAsync(0, StateCommand.UpdateSchemesTriedRegions);
        DamonRegion[] after = reader.ReadTriedRegions(0, 0, 0)!.Regions;
        Assert.NotEmpty(after);
        Assert.All(after, r => Assert.True(r.NrAccesses >= 1, $"region {r} has nr_accesses 0 after the commit"));

        // Commit keeps the same kdamond thread running.
        Assert.True(reader.ReadState(0));
        Assert.Equal(thread, reader.ReadPid(0));
    }

    // ---- errors ----

    [Fact]
    public async Task Ebusy_twice_then_success_on_the_third_attempt()
    {
        SimulatedKernel kernel = NewKernel(KernelProfile.V6_18);
        var writer = new DamonSysfsWriter(kernel, Roots);
        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, Paddr618());
        var reader = new DamonSysfsReader(kernel, Roots);

        kernel.Faults.FailNextStateWrites(2);
        CommandResult r = await new StateCommands(kernel, Roots, NoBackoff).SendAsync(0, StateCommand.On);
        Assert.Equal(3, r.Attempts);
        Assert.True(reader.ReadState(0));

        // With only 2 attempts allowed, the second EBUSY surfaces with its errno.
        _ = await new StateCommands(kernel, Roots, NoBackoff).SendAsync(0, StateCommand.Off);
        kernel.Faults.FailNextStateWrites(2);
        var e = await Assert.ThrowsAsync<StateCommandException>(() => new StateCommands(kernel, Roots, NoBackoff with { MaxAttempts = 2 }).SendAsync(0, StateCommand.On));
        Assert.Equal((Errno.EBUSY, 2, false), (e.Errno, e.Attempts, e.TimedOut));
        Assert.Contains("after 2 attempts", e.Message, StringComparison.Ordinal);
        Assert.False(reader.ReadState(0));
    }

    [Fact]
    public async Task Changing_nr_kdamonds_while_one_runs_fails_with_ebusy()
    {
        SimulatedKernel kernel = NewKernel(KernelProfile.V6_18);
        var writer = new DamonSysfsWriter(kernel, Roots);
        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, Paddr618());
        var commands = new StateCommands(kernel, Roots, NoBackoff);
        _ = await commands.SendAsync(0, StateCommand.On);

        var e = Assert.Throws<KernelIoException>(() => writer.EnsureKdamondCount(2));
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.Equal(Path.Combine(Roots.Kdamonds, "nr_kdamonds"), e.Path);
        Assert.Contains("EBUSY", e.Message, StringComparison.Ordinal);
        Assert.Single(new DamonSysfsReader(kernel, Roots).ReadTree().Kdamonds);

        // The same count needs no write, so it is fine while running; after off the change goes through.
        writer.EnsureKdamondCount(1);
        _ = await commands.SendAsync(0, StateCommand.Off);
        writer.EnsureKdamondCount(2);
        Assert.Equal(2, new DamonSysfsReader(kernel, Roots).ReadTree().Kdamonds.Count);
    }

    [Theory]
    [InlineData("refresh_ms", "refresh_ms (6.17)")]
    [InlineData("intervals_goal", "intervals_goal (6.15)")]
    [InlineData("addr_unit", "addr_unit (6.18)")]
    [InlineData("allow", "allow filters (6.14)")]
    [InlineData("goal_nid", "quota goal nid (6.16)")]
    [InlineData("dests", "dests (6.17)")]
    [InlineData("hugepage_size", "hugepage_size filters (6.15)")]
    public void A_6_18_feature_written_to_6_12_names_the_feature(string what, string feature)
    {
        static KdamondSpec Needing(string what, int pid)
        {
            SchemeSpec scheme = new("stat", AccessPattern.Everything);
            ContextSpec ctx = new("vaddr", Intervals.KernelDefault, [new TargetSpec(pid)], [scheme]);
            return what switch
            {
                "refresh_ms" => new KdamondSpec([ctx], RefreshMs: 10),
                "intervals_goal" => new KdamondSpec([ctx with { IntervalsGoal = new IntervalsGoal(40, 3, 5_000, 10_000_000) }]),
                "addr_unit" => new KdamondSpec([new ContextSpec("paddr", Intervals.KernelDefault, [new TargetSpec(0, [RamPages])], [scheme], AddrUnit: 4096)]),
                "allow" => new KdamondSpec([ctx with { Schemes = [scheme with { Filters = [new FilterSpec("anon", true, Allow: true)] }] }]),
                "goal_nid" => new KdamondSpec([ctx with { Schemes = [scheme with { Quotas = new QuotaSpec(0, 0, 1000, Goals: [new QuotaGoalSpec("user_input", 100, 10, Nid: 0)]) }] }]),
                "dests" => new KdamondSpec([ctx with { Schemes = [scheme with { Dests = [new DestSpec(1, 100)] }] }]),
                "hugepage_size" => new KdamondSpec([ctx with { Schemes = [scheme with { Filters = [new FilterSpec("hugepage_size", true, HugepageSize: new ValueRange(2 * MiB, 2 * MiB))] }] }]),
                _ => throw new ArgumentException(what, nameof(what)),
            };
        }

        // 6.18 takes the spec: the failure below is about the feature, not the rest of the spec.
        SimulatedKernel v618 = NewKernel(KernelProfile.V6_18);
        var w618 = new DamonSysfsWriter(v618, Roots);
        w618.EnsureKdamondCount(1);
        w618.WriteKdamond(0, Needing(what, v618.FindProcess("app")));

        SimulatedKernel v612 = NewKernel(KernelProfile.V6_12);
        var w612 = new DamonSysfsWriter(v612, Roots);
        w612.EnsureKdamondCount(1);
        var e = Assert.Throws<DamonFeatureMissingException>(() => w612.WriteKdamond(0, Needing(what, v612.FindProcess("app"))));
        Assert.Equal(feature, e.Feature);
        Assert.StartsWith(Path.Combine(Roots.Kdamonds, "0"), e.Path, StringComparison.Ordinal);
        Assert.Contains(feature, e.Message, StringComparison.Ordinal);
        Assert.False(v612.FileExists(e.Path) || v612.DirectoryExists(e.Path));
    }

    // ---- feature detection ----

    [Theory]
    [InlineData(KernelProfile.V6_18)]
    [InlineData(KernelProfile.V6_12)]
    public async Task Detect_on_a_running_kdamond_reports_the_profiles_features_and_writes_nothing(KernelProfile profile)
    {
        SimulatedKernel kernel = NewKernel(profile);
        bool v618 = profile == KernelProfile.V6_18;
        var writer = new DamonSysfsWriter(kernel, Roots);
        writer.EnsureKdamondCount(1);
        writer.WriteKdamond(0, v618 ? Vaddr618(kernel.FindProcess("app")) : Vaddr612(kernel.FindProcess("app")));
        var commands = new StateCommands(kernel, Roots, NoBackoff);
        _ = await commands.SendAsync(0, StateCommand.On);
        kernel.Advance(TimeSpan.FromSeconds(2));
        // Tried-region directories exist only after a walk; the migrate_hot scheme (1) has
        // no quota, so it records the regions it is tried on.
        _ = await commands.SendAsync(0, StateCommand.UpdateSchemesTriedRegions);
        Assert.NotEmpty(new DamonSysfsReader(kernel, Roots).ReadTriedRegions(0, 0, 1)!.Regions);

        var recording = new RecordingKernelFs(kernel);
        DamonFeatures f = FeatureProbe.Detect(recording, Roots);
        Assert.Equal((0, 0, 0), (recording.Writes, recording.Mkdirs, recording.Rmdirs));
        Assert.NotEmpty(recording.Reads); // avail_operations, damon_stat parameters...

        // Both profiles.
        Assert.True(f.Sysfs);
        Assert.Equal(["vaddr", "fvaddr", "paddr"], f.OperationSets);
        Assert.True(f.TriedRegions);
        Assert.True(f.TriedRegionsTotalBytes);
        Assert.True(f.ApplyIntervalUs);
        Assert.True(f.TargetNid);
        Assert.True(f.QuotaGoals);
        Assert.True(f.GoalTargetMetric);
        Assert.True(f.EffectiveBytes);
        Assert.True(f.Filters);
        Assert.Equal(v618 ? ["damon_aggregated", "damon_monitor_intervals_tune", "damos_before_apply"] : ["damon_aggregated", "damos_before_apply"], f.Tracepoints);

        // 6.18 only.
        Assert.Equal(v618, f.RefreshMs);
        Assert.Equal(v618, f.AddrUnit);
        Assert.Equal(v618, f.IntervalsGoal);
        Assert.Equal(v618, f.CoreOpsFilters);
        Assert.Equal(v618, f.FilterAllow);
        Assert.Equal(v618, f.FilterHugepageSize);
        Assert.Equal(v618, f.GoalNid);
        Assert.Equal(v618, f.SzOpsFilterPassed);
        Assert.Equal(v618, f.TriedRegionSzFilterPassed);
        Assert.Equal(v618, f.Dests);
        Assert.Equal(v618, f.ModuleDamonStat);

        // Neither (later kernels).
        Assert.False(f.Pause);
        Assert.False(f.ObsoleteTarget);
        Assert.False(f.GoalPath);
        Assert.False(f.NrSnapshots);

        // Detection left the kdamond alone.
        Assert.True(new DamonSysfsReader(kernel, Roots).ReadState(0));
    }

    // ---- expected tree from a spec ----

    private static void AssertKdamond(KdamondSpec spec, Kdamond k, bool v618)
    {
        Assert.False(k.On);
        Assert.Equal(-1, k.Pid);
        Assert.Equal(v618 ? spec.RefreshMs ?? 0u : null, k.RefreshMs);
        Assert.Equal(spec.Contexts.Count, k.Contexts.Count);
        for (int c = 0; c < spec.Contexts.Count; c++)
        {
            ContextSpec cs = spec.Contexts[c];
            DamonContext ctx = k.Contexts[c];
            Assert.Equal(c, ctx.Index);
            Assert.Equal(cs.Operations, ctx.Operations);
            Assert.Equal(v618 ? cs.AddrUnit ?? 1UL : null, ctx.AddrUnit);
            Assert.Equal(cs.Intervals, ctx.Attrs.Intervals);
            Assert.Equal(v618 ? cs.IntervalsGoal ?? new IntervalsGoal(0, 0, 0, 0) : null, ctx.Attrs.Goal);
            Assert.Equal((cs.MinNrRegions, cs.MaxNrRegions), (ctx.Attrs.MinNrRegions, ctx.Attrs.MaxNrRegions));

            Assert.Equal(cs.Targets.Count, ctx.Targets.Count);
            for (int t = 0; t < cs.Targets.Count; t++)
            {
                Assert.Equal(t, ctx.Targets[t].Index);
                Assert.Equal(cs.Targets[t].Pid, ctx.Targets[t].PidTarget);
                Assert.Equal(cs.Targets[t].Regions ?? [], ctx.Targets[t].Regions);
            }

            Assert.Equal(cs.Schemes.Count, ctx.Schemes.Count);
            for (int s = 0; s < cs.Schemes.Count; s++)
            {
                AssertScheme(cs.Schemes[s], ctx.Schemes[s], s, v618);
            }
        }
    }

    private static void AssertScheme(SchemeSpec ss, DamosScheme scheme, int index, bool v618)
    {
        Assert.Equal(index, scheme.Index);
        Assert.Equal(ss.Action, scheme.Action);
        Assert.Equal(ss.ApplyIntervalUs ?? 0, scheme.ApplyIntervalUs);
        Assert.Equal(ss.TargetNid ?? -1, scheme.TargetNid); // -1: no node
        Assert.Equal(ss.AccessPattern, scheme.AccessPattern);

        // Unwritten quotas and watermarks keep the kernel's zero / "none" defaults.
        QuotaSpec q = ss.Quotas ?? new QuotaSpec(0, 0, 0);
        Assert.Equal((q.Ms, q.Bytes, q.ResetIntervalMs), (scheme.Quotas.Ms, scheme.Quotas.Bytes, scheme.Quotas.ResetIntervalMs));
        Assert.Equal(q.Weights ?? new QuotaWeights(0, 0, 0), scheme.Quotas.Weights);
        IReadOnlyList<QuotaGoalSpec> goals = q.Goals ?? [];
        Assert.Equal(goals.Count, scheme.Quotas.Goals!.Count);
        for (int g = 0; g < goals.Count; g++)
        {
            QuotaGoalSpec gs = goals[g];
            Assert.Equal(new QuotaGoal(g, gs.TargetMetric, gs.TargetValue, gs.CurrentValue, v618 ? gs.Nid ?? 0 : null, null), scheme.Quotas.Goals[g]);
        }

        Assert.Equal(ss.Watermarks ?? new DamosWatermarks("none", 0, 0, 0, 0), scheme.Watermarks);

        IReadOnlyList<FilterSpec> filters = ss.Filters ?? [];
        if (v618)
        {
            AssertFilters([.. filters.Where(f => f.IsCoreLayer)], scheme.CoreFilters, v618);
            AssertFilters([.. filters.Where(f => !f.IsCoreLayer)], scheme.OpsFilters, v618);
            AssertFilters([], scheme.Filters, v618);
            Assert.Equal((ss.Dests ?? []).Select((d, i) => new DamosDest(i, d.NodeId, d.Weight)), scheme.Dests!);
        }
        else
        {
            AssertFilters(filters, scheme.Filters, v618);
            Assert.Null(scheme.CoreFilters);
            Assert.Null(scheme.OpsFilters);
            Assert.Null(scheme.Dests);
        }
    }

    // Files a filter type does not use keep their defaults (0, empty path); allow/min/max exist on 6.18 only.
    private static void AssertFilters(IReadOnlyList<FilterSpec> expected, IReadOnlyList<DamosFilter>? actual, bool v618)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            FilterSpec f = expected[i];
            Assert.Equal(
                new DamosFilter(
                    i,
                    f.Type,
                    f.Matching,
                    v618 ? f.Allow ?? false : null,
                    f.MemcgPath ?? string.Empty,
                    f.Address?.Start ?? 0,
                    f.Address?.End ?? 0,
                    f.TargetIndex ?? 0,
                    v618 ? f.HugepageSize?.Min ?? 0 : null,
                    v618 ? f.HugepageSize?.Max ?? 0 : null),
                actual[i]);
        }
    }
}
