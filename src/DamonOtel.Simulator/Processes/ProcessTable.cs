using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

/// <summary>
/// Process table and physical memory: every process's VMAs are backed by contiguous physical
/// extents carved (bump allocation) out of the largest System RAM block, so paddr monitoring
/// sees the same accesses as vaddr monitoring.
/// </summary>
internal sealed class ProcessTable
{
    private readonly Dictionary<int, SimProcess> byPid = [];
    private readonly List<(ulong Phys, ulong Size, SimProcess Proc, ulong Virt)> phys = [];
    private readonly ulong firstPhys;
    private readonly ulong physEnd;
    private int nextPid;

    public ProcessTable(int firstPid, AddressRange largestRam)
    {
        nextPid = firstPid;
        // Leave the first 256 MiB (or a quarter) of the block to the "kernel".
        firstPhys = largestRam.Start + Math.Min(256UL << 20, largestRam.Size / 4);
        physEnd = largestRam.End;
    }

    public IEnumerable<SimProcess> All => byPid.Values;

    /// <summary>Physical memory below this address belongs to the "kernel" (never handed to processes).</summary>
    public ulong FirstUserPhys => firstPhys;

    public int AllocatePid() => nextPid++;

    public SimProcess? Get(int pid) => byPid.TryGetValue(pid, out SimProcess? p) && p.Alive ? p : null;

    public SimProcess Add(SimProcess p)
    {
        byPid[p.Pid] = p;
        if (p.Workload is not null)
        {
            foreach (AddressRange m in p.Workload.Mappings)
            {
                ulong at = FirstFit(m.Size)
                    ?? throw new InvalidOperationException($"simulated RAM exhausted while starting '{p.Name}' (raise SimulatorOptions.MemoryBytes)");
                p.Extents.Add((m.Start, at, m.Size));
                int idx = phys.FindIndex(e => e.Phys > at);
                phys.Insert(idx < 0 ? phys.Count : idx, (at, m.Size, p, m.Start));
            }
        }

        return p;
    }

    /// <summary>
    /// Adds processes whose memory is physically interleaved: one block big enough for all of
    /// them is carved out, then handed out <paramref name="chunkBytes"/> at a time to each process
    /// in turn (what concurrent page faults on one CPU do), so DAMON regions mix their pages.
    /// </summary>
    public void AddInterleaved(IReadOnlyList<SimProcess> procs, ulong chunkBytes)
    {
        ulong total = 0;
        var streams = new List<(SimProcess Proc, List<(ulong Virt, ulong Size)> Pieces)>();
        foreach (SimProcess p in procs)
        {
            byPid[p.Pid] = p;
            var pieces = new List<(ulong, ulong)>();
            foreach (AddressRange m in p.Workload!.Mappings)
            {
                for (ulong v = m.Start; v < m.End; v += chunkBytes)
                {
                    pieces.Add((v, Math.Min(chunkBytes, m.End - v)));
                }

                total += m.Size;
            }

            streams.Add((p, pieces));
        }

        ulong at = FirstFit(total) ?? throw new InvalidOperationException("simulated RAM exhausted while starting interleaved processes (raise SimulatorOptions.MemoryBytes)");
        var block = new List<(ulong Phys, ulong Size, SimProcess Proc, ulong Virt)>();
        ulong cursor = at;
        int pieceCount = streams.Sum(s => s.Pieces.Count);
        for (int round = 0; block.Count < pieceCount; round++)
        {
            foreach (var (proc, pieces) in streams)
            {
                if (round < pieces.Count)
                {
                    var (virt, size) = pieces[round];
                    proc.Extents.Add((virt, cursor, size));
                    block.Add((cursor, size, proc, virt));
                    cursor += size;
                }
            }
        }

        int idx = phys.FindIndex(e => e.Phys > at);
        phys.InsertRange(idx < 0 ? phys.Count : idx, block);
    }

    // Frames of exited processes are reused, lowest address first.
    private ulong? FirstFit(ulong size)
    {
        ulong cursor = firstPhys;
        foreach (var e in phys)
        {
            if (e.Phys >= cursor && e.Phys - cursor >= size)
            {
                return cursor;
            }

            cursor = Math.Max(cursor, e.Phys + e.Size);
        }

        return physEnd - cursor >= size ? cursor : null;
    }

    public void Remove(SimProcess p)
    {
        p.Alive = false;
        byPid.Remove(p.Pid);
        phys.RemoveAll(e => ReferenceEquals(e.Proc, p));
    }

    /// <summary>Resolves ascending physical addresses in amortised O(1) (regions are sorted).</summary>
    internal struct Cursor(ProcessTable table)
    {
        private int index;

        public bool Resolve(ulong physAddr, out SimProcess proc, out ulong virt)
        {
            var list = table.phys;
            while (index < list.Count && list[index].Phys + list[index].Size <= physAddr)
            {
                index++;
            }

            if (index < list.Count && physAddr >= list[index].Phys)
            {
                var e = list[index];
                proc = e.Proc;
                virt = e.Virt + (physAddr - e.Phys);
                return true;
            }

            proc = null!;
            virt = 0;
            return false;
        }
    }

    /// <summary>Owner process and virtual address of one physical address, by binary search (the page-frame files).</summary>
    public bool TryResolve(ulong physAddr, out SimProcess proc, out ulong virt)
    {
        int lo = 0;
        int hi = phys.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var e = phys[mid];
            if (physAddr < e.Phys)
            {
                hi = mid - 1;
            }
            else if (physAddr >= e.Phys + e.Size)
            {
                lo = mid + 1;
            }
            else
            {
                proc = e.Proc;
                virt = e.Virt + (physAddr - e.Phys);
                return true;
            }
        }

        proc = null!;
        virt = 0;
        return false;
    }

    /// <summary>Physical ranges within [start, end) owned by processes, with the owner and virtual start.</summary>
    public IEnumerable<(ulong PhysStart, ulong PhysEnd, SimProcess Proc, ulong VirtStart)> Owned(ulong start, ulong end)
    {
        foreach (var e in phys)
        {
            ulong s = Math.Max(start, e.Phys);
            ulong en = Math.Min(end, e.Phys + e.Size);
            if (en > s)
            {
                yield return (s, en, e.Proc, e.Virt + (s - e.Phys));
            }
        }
    }

    public ulong UsedBytes
    {
        get
        {
            ulong t = 0;
            foreach (SimProcess p in byPid.Values)
            {
                if (p.Workload is not null)
                {
                    t += p.ResidentBytes;
                }
            }

            return t;
        }
    }
}
