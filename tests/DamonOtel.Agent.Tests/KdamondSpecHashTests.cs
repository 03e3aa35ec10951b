using System.Text.Json;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Tests;

public class KdamondSpecHashTests
{
    // What KdamondManager.Hash serialized with before NativeAOT: the reflection-based default.
    private static readonly JsonSerializerOptions Reflection = new() { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() };

    // Every member of the spec set, nested records included, so a member the generated
    // serializer would drop or order differently changes the bytes.
    private static KdamondSpec FullSpec() => new(
        [
            new ContextSpec(
                "paddr",
                new Intervals(5_000, 100_000, 1_000_000),
                [new TargetSpec(0, [new AddressRange(4096, 1 << 30)]), new TargetSpec(42)],
                [
                    new SchemeSpec("stat", AccessPattern.Everything, 0),
                    new SchemeSpec(
                        "pageout",
                        new AccessPattern(new ValueRange(4096, 1 << 20), new ValueRange(0, 0), new ValueRange(10, 100)),
                        ApplyIntervalUs: 200_000,
                        TargetNid: 1,
                        Quotas: new QuotaSpec(10, 64 << 20, 1_000, new QuotaWeights(1, 2, 3), [new QuotaGoalSpec("node_mem_free_bp", 500, 0, 0, null)]),
                        Watermarks: new DamosWatermarks("free_mem_rate", 5_000_000, 500, 400, 200),
                        Filters: [new FilterSpec("memcg", true, false, "/sys/fs/cgroup/a"), new FilterSpec("addr", false, null, null, new AddressRange(0, 4096)), new FilterSpec("hugepage_size", true, HugepageSize: new ValueRange(2 << 20, 2 << 20))],
                        Dests: [new DestSpec(0, 3), new DestSpec(1, 7)]),
                ],
                MinNrRegions: 20,
                MaxNrRegions: 2000,
                AddrUnit: 4,
                IntervalsGoal: new IntervalsGoal(400, 3, 5_000, 10_000_000)),
        ],
        RefreshMs: 1_000);

    [Fact]
    public void Source_generated_json_equals_what_the_reflection_serializer_wrote()
    {
        // Ownership records written by agents before NativeAOT hold hashes of the reflection
        // serializer's bytes: the generated context must produce the same, or an upgraded agent
        // would no longer recognise (and so refuse to touch) the kdamonds it started.
        KdamondSpec spec = FullSpec();
        string reflection = JsonSerializer.Serialize(spec, Reflection);
        string generated = JsonSerializer.Serialize(spec, KdamondSpecJsonContext.Default.KdamondSpec);

        Assert.Equal(reflection, generated);
        Assert.Contains("\"HugepageSize\":{\"Min\":2097152,\"Max\":2097152}", generated, StringComparison.Ordinal);
    }

    [Fact]
    public void Hash_changes_with_the_spec_and_only_with_it()
    {
        KdamondSpec spec = FullSpec();
        Assert.Equal(KdamondManager.Hash(spec), KdamondManager.Hash(FullSpec()));
        Assert.Matches("^[0-9A-F]{16}$", KdamondManager.Hash(spec));
        Assert.NotEqual(KdamondManager.Hash(spec), KdamondManager.Hash(spec with { RefreshMs = 2_000 }));
    }
}
