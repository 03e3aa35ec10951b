using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>A sorted set of disjoint half-open ranges.</summary>
internal sealed class RangeSet
{
    private readonly List<AddressRange> ranges = [];

    public IReadOnlyList<AddressRange> Ranges => ranges;

    public ulong TotalBytes
    {
        get
        {
            ulong t = 0;
            foreach (AddressRange r in ranges)
            {
                t += r.Size;
            }

            return t;
        }
    }

    public void Add(AddressRange add)
    {
        if (add.End <= add.Start)
        {
            return;
        }

        ulong s = add.Start;
        ulong e = add.End;
        int i = 0;
        while (i < ranges.Count && ranges[i].End < s)
        {
            i++;
        }

        while (i < ranges.Count && ranges[i].Start <= e)
        {
            s = Math.Min(s, ranges[i].Start);
            e = Math.Max(e, ranges[i].End);
            ranges.RemoveAt(i);
        }

        ranges.Insert(i, new AddressRange(s, e));
    }

    public void Remove(AddressRange cut)
    {
        if (cut.End <= cut.Start)
        {
            return;
        }

        for (int i = 0; i < ranges.Count; i++)
        {
            AddressRange r = ranges[i];
            if (r.End <= cut.Start || r.Start >= cut.End)
            {
                continue;
            }

            ranges.RemoveAt(i);
            if (r.End > cut.End)
            {
                ranges.Insert(i, new AddressRange(cut.End, r.End));
            }

            if (r.Start < cut.Start)
            {
                ranges.Insert(i, new AddressRange(r.Start, cut.Start));
                i++;
            }

            i--;
        }
    }

    /// <summary>Bytes of the set inside [start, end).</summary>
    public ulong Overlap(ulong start, ulong end)
    {
        ulong t = 0;
        foreach (AddressRange r in ranges)
        {
            ulong s = Math.Max(r.Start, start);
            ulong e = Math.Min(r.End, end);
            if (e > s)
            {
                t += e - s;
            }
        }

        return t;
    }
}
