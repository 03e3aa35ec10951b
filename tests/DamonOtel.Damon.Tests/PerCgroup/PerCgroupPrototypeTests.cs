using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Damon.Tests.PerCgroup;

/// <summary>vaddr "only memory that exists": maps parsing and region intersection (docs/per-cgroup.md).</summary>
public class PerCgroupPrototypeTests
{
    [Fact]
    public void Mapped_ranges_drop_inaccessible_mappings_and_clip_regions()
    {
        const string Maps = """
            00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/app
            00651000-00652000 rw-p 00051000 08:02 173521 /usr/bin/app
            00652000-00700000 rw-p 00000000 00:00 0 [heap]
            7f0000000000-7f0040000000 ---p 00000000 00:00 0
            7f0040000000-7f0040100000 rw-p 00000000 00:00 0
            """;
        var ranges = new List<AddressRange>();
        MappedRanges.Parse(Maps, ranges);
        Assert.Equal([new AddressRange(0x400000, 0x452000), new AddressRange(0x651000, 0x700000), new AddressRange(0x7f0040000000, 0x7f0040100000)], ranges);
        DamonRegion[] regions = [new(0x400000, 0x700000, 1, 0), new(0x7f0000000000, 0x7f0040100000, 0, 9)];
        var per = new ulong[2];
        ulong total = MappedRanges.Intersect(regions, ranges.ToArray(), per);
        Assert.Equal(0x52000UL + 0xAF000UL, per[0]);
        Assert.Equal(0x100000UL, per[1]);
        Assert.Equal(per[0] + per[1], total);
        Assert.Throws<FormatException>(() => MappedRanges.Parse("garbage line\n", ranges, "/proc/1/maps"));
    }
}
