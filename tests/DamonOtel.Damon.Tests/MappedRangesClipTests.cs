using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;

namespace DamonOtel.Damon.Tests;

/// <summary>
/// MappedRanges.Clip: the parts of DAMON's regions inside a process's mappings, each keeping its
/// region's counts, and the bytes outside. Expected values are worked out by hand from the
/// addresses below (KiB: mappings [16, 48) [64, 80) [200, 240)).
/// </summary>
public class MappedRangesClipTests
{
    private const ulong K = 1024;
    private static readonly AddressRange[] Mapped = [new(16 * K, 48 * K), new(64 * K, 80 * K), new(200 * K, 240 * K)];

    [Fact]
    public void A_region_over_two_mappings_and_a_gap_is_cut_into_two_parts_with_its_counts()
    {
        var into = new List<DamonRegion>();
        ulong outside = MappedRanges.Clip([new DamonRegion(0, 100 * K, 3, 7)], Mapped, into);

        // [0,100): inside [16,48) and [64,80) = 48 KiB; outside 52 KiB.
        Assert.Equal([new DamonRegion(16 * K, 48 * K, 3, 7), new DamonRegion(64 * K, 80 * K, 3, 7)], into);
        Assert.Equal(52 * K, outside);
    }

    [Fact]
    public void Regions_in_order_each_get_their_own_parts_and_an_unmapped_region_none()
    {
        var into = new List<DamonRegion>();
        DamonRegion[] regions =
        [
            new(8 * K, 32 * K, 1, 0),     // 16 KiB inside ([16,32)), 8 outside
            new(32 * K, 70 * K, 0, 5),    // [32,48) and [64,70): 22 inside, 16 outside
            new(100 * K, 200 * K, 0, 9),  // all outside: 100
            new(190 * K, 260 * K, 2, 1),  // a region repeated below its predecessor's end (tried_regions): [200,240) 40 inside, 30 outside
        ];
        ulong outside = MappedRanges.Clip(regions, Mapped, into);

        Assert.Equal(
            [
                new DamonRegion(16 * K, 32 * K, 1, 0),
                new DamonRegion(32 * K, 48 * K, 0, 5),
                new DamonRegion(64 * K, 70 * K, 0, 5),
                new DamonRegion(200 * K, 240 * K, 2, 1),
            ],
            into);
        Assert.Equal((8 + 16 + 100 + 30) * K, outside);
        ulong total = regions.Aggregate(0UL, (a, r) => a + r.Size);
        Assert.Equal(total, into.Aggregate(0UL, (a, r) => a + r.Size) + outside);
    }

    [Fact]
    public void A_region_starting_below_its_predecessor_is_searched_for_again()
    {
        var into = new List<DamonRegion>();
        ulong outside = MappedRanges.Clip([new DamonRegion(200 * K, 220 * K, 0, 0), new DamonRegion(20 * K, 30 * K, 4, 2)], Mapped, into);

        Assert.Equal([new DamonRegion(200 * K, 220 * K, 0, 0), new DamonRegion(20 * K, 30 * K, 4, 2)], into);
        Assert.Equal(0UL, outside);
    }

    [Fact]
    public void No_mappings_leave_everything_outside()
    {
        var into = new List<DamonRegion>();
        Assert.Equal(100 * K, MappedRanges.Clip([new DamonRegion(0, 100 * K, 1, 1)], [], into));
        Assert.Empty(into);
    }
}
