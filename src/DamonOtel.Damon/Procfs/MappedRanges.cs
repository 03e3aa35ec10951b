using System.Globalization;
using DamonOtel.Damon.Model;

namespace DamonOtel.Damon.Procfs;

/// <summary>
/// "Only memory that exists" for vaddr targets: the process's mappings from /proc/&lt;pid&gt;/maps
/// and the part of each DAMON region that lies inside them. Mappings without any permission
/// (<c>---p</c>: guard pages, address space reserved by JVM/Go/allocators and not yet committed)
/// are not memory and are left out. Resident-only (pagemap) is deliberately not used: it costs
/// a read of 8 bytes per virtual page (docs/per-cgroup.md has the measurements).
/// </summary>
public static class MappedRanges
{
    /// <summary>
    /// Parses maps text into <paramref name="into"/> (cleared first): sorted, adjacent or
    /// overlapping ranges merged. Malformed lines throw <see cref="FormatException"/> naming the line.
    /// </summary>
    public static void Parse(ReadOnlySpan<char> maps, List<AddressRange> into, string source = "maps")
    {
        ArgumentNullException.ThrowIfNull(into);
        into.Clear();
        int lineNo = 0;
        foreach (ReadOnlySpan<char> raw in maps.EnumerateLines())
        {
            lineNo++;
            ReadOnlySpan<char> line = raw.Trim();
            if (line.IsEmpty)
            {
                continue;
            }

            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash <= 0 || space <= dash + 1 || line.Length < space + 5
                || !ulong.TryParse(line[..dash], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong start)
                || !ulong.TryParse(line[(dash + 1)..space], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong end)
                || end < start)
            {
                throw new FormatException($"{source}:{lineNo}: not a maps line: '{line.ToString()}'");
            }

            ReadOnlySpan<char> perms = line.Slice(space + 1, 3);
            if (perms.SequenceEqual("---"))
            {
                continue;
            }

            if (into.Count > 0 && start <= into[^1].End)
            {
                into[^1] = new AddressRange(into[^1].Start, Math.Max(end, into[^1].End));
            }
            else
            {
                into.Add(new AddressRange(start, end));
            }
        }
    }

    /// <summary>
    /// Bytes of each region (sorted by start, as DAMON reports them) inside the sorted, disjoint
    /// <paramref name="mapped"/> ranges, written to <paramref name="mappedPerRegion"/>; returns the
    /// total. One merge pass: O(regions + mappings), no allocation.
    /// </summary>
    public static ulong Intersect(ReadOnlySpan<DamonRegion> regions, ReadOnlySpan<AddressRange> mapped, Span<ulong> mappedPerRegion)
    {
        if (mappedPerRegion.Length < regions.Length)
        {
            throw new ArgumentException("one slot per region is needed", nameof(mappedPerRegion));
        }

        ulong total = 0;
        int m = 0;
        for (int r = 0; r < regions.Length; r++)
        {
            ulong s = regions[r].Start, e = regions[r].End, inside = 0;
            while (m < mapped.Length && mapped[m].End <= s)
            {
                m++;
            }

            for (int k = m; k < mapped.Length && mapped[k].Start < e; k++)
            {
                inside += Math.Min(e, mapped[k].End) - Math.Max(s, mapped[k].Start);
            }

            mappedPerRegion[r] = inside;
            total += inside;
        }

        return total;
    }

    /// <summary>
    /// Appends the parts of each region that lie inside the sorted, disjoint <paramref name="mapped"/>
    /// ranges to <paramref name="into"/> (each part keeps its region's nr_accesses and age) and
    /// returns the bytes of the regions outside them. Regions come sorted by start as DAMON keeps
    /// them; a region starting below its predecessor (tried_regions may repeat one) is searched for.
    /// O(regions + mappings + parts), no allocation once <paramref name="into"/> has grown.
    /// </summary>
    public static ulong Clip(ReadOnlySpan<DamonRegion> regions, ReadOnlySpan<AddressRange> mapped, List<DamonRegion> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        ulong outside = 0;
        ulong previousStart = 0;
        int m = 0;
        foreach (DamonRegion r in regions)
        {
            if (r.Start < previousStart)
            {
                m = FirstEndingAfter(mapped, r.Start);
            }

            previousStart = r.Start;
            while (m < mapped.Length && mapped[m].End <= r.Start)
            {
                m++;
            }

            ulong inside = 0;
            for (int k = m; k < mapped.Length && mapped[k].Start < r.End; k++)
            {
                ulong s = Math.Max(r.Start, mapped[k].Start);
                ulong e = Math.Min(r.End, mapped[k].End);
                into.Add(new DamonRegion(s, e, r.NrAccesses, r.Age));
                inside += e - s;
            }

            outside += r.Size - inside;
        }

        return outside;
    }

    private static int FirstEndingAfter(ReadOnlySpan<AddressRange> mapped, ulong address)
    {
        int lo = 0, hi = mapped.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (mapped[mid].End <= address)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
