using System.Globalization;
using System.Text;
using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

// The simulated /proc (iomem, uptime, meminfo, per-process comm, cmdline, stat, statm) and the
// DAMON_RECLAIM / DAMON_LRU_SORT module parameters.
public sealed partial class SimulatedKernel
{
    private static AddressRange[] BuildSystemRam(ulong mem)
    {
        const ulong low = 3UL << 30;
        var list = new List<AddressRange> { new(0x1000, 0x9fc00) };
        if (mem <= low)
        {
            list.Add(new AddressRange(0x100000, mem));
        }
        else
        {
            list.Add(new AddressRange(0x100000, low));
            list.Add(new AddressRange(1UL << 32, (1UL << 32) + (mem - low)));
        }

        return [.. list];
    }

    private void BuildProc(VDir proc)
    {
        proc.Func("iomem", () =>
        {
            var sb = new StringBuilder("00000000-00000fff : Reserved\n");
            foreach (AddressRange r in systemRam)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{r.Start:x8}-{r.End - 1:x8} : System RAM\n");
                if (r.Start == 0x100000)
                {
                    sb.Append("  01000000-01ffffff : Kernel code\n");
                }
            }

            return sb.ToString();
        });
        proc.Func("uptime", () =>
        {
            double up = Options.BootUptime.TotalSeconds + (NowUs / 1e6);
            return string.Create(CultureInfo.InvariantCulture, $"{up:F2} {up * Options.CpuCount:F2}\n");
        });
        proc.Func("meminfo", () =>
        {
            ulong totalKb = Options.MemoryBytes / 1024;
            ulong freeKb = totalKb * FreeMemRatePermil() / 1000;
            return string.Create(CultureInfo.InvariantCulture, $"MemTotal:       {totalKb,8} kB\nMemFree:        {freeKb,8} kB\nMemAvailable:   {freeKb,8} kB\n");
        });
    }

    private void AddProcDir(SimProcess p)
    {
        VDir d = MakeDirs(Options.Roots.Procfs).Dir(p.Pid.ToString(CultureInfo.InvariantCulture));
        d.Func("comm", () => p.Name + "\n");
        d.Func("cmdline", () => p.Workload is null ? string.Empty : $"{p.Name}\0--workload\0{p.Workload.Name}\0");
        d.Func("stat", () => Stat(p));
        d.Func("statm", () =>
        {
            ulong size = p.VirtualBytes / 4096;
            ulong res = p.Workload is null ? 0 : p.ResidentBytes / 4096;
            return string.Create(CultureInfo.InvariantCulture, $"{size} {res} 0 {(p.Workload is null ? 0 : 2048)} 0 {size} 0\n");
        });
    }

    private string Stat(SimProcess p)
    {
        const long hz = 100;
        long ranUs = NowUs - p.StartUs;
        bool kthread = p.Workload is null;
        // Kernel threads: system time from the simulated sampling cost; workloads: half a CPU of user time.
        long utime = kthread ? 0 : ranUs * hz / 2_000_000;
        long stime = kthread ? (long)(p.CpuNs / 10_000_000) : 0;
        long start = ((long)Options.BootUptime.TotalMicroseconds + p.StartUs) * hz / 1_000_000;
        ulong rssPages = kthread ? 0 : p.ResidentBytes / 4096;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{p.Pid} ({p.Name}) S {(kthread ? 2 : 1)} {(kthread ? 0 : p.Pid)} {(kthread ? 0 : p.Pid)} 0 -1 {(kthread ? 2129984 : 4194560)} 0 0 0 0 {utime} {stime} 0 0 20 0 1 0 {start} {p.VirtualBytes} {rssPages} 18446744073709551615");
        for (int i = 26; i <= 52; i++)
        {
            sb.Append(" 0");
        }

        return sb.Append('\n').ToString();
    }

    private ExclusiveModule BuildReclaim(VDir d)
    {
        // DAMON_RECLAIM is present (built in); only its exclusive kdamond is simulated: inputs
        // are staged, outputs stay idle.
        var module = new ExclusiveModule(this, d, LargestRam, 5000, 100_000);
        d.Bool("commit_inputs");
        d.U64("min_age", 120_000_000);
        d.U64("quota_ms", 10);
        d.U64("quota_sz", 128UL << 20);
        d.U64("quota_reset_interval_ms", 1000);
        d.U64("wmarks_interval", 5_000_000);
        d.U64("wmarks_high", 500);
        d.U64("wmarks_mid", 400);
        d.U64("wmarks_low", 200);
        d.U64("sample_interval", 5000);
        d.U64("aggr_interval", 100_000);
        d.U64("min_nr_regions", 10);
        d.U64("max_nr_regions", 1000);
        foreach (string s in new[] { "nr_reclaim_tried_regions", "bytes_reclaim_tried_regions", "nr_reclaimed_regions", "bytes_reclaimed_regions", "nr_quota_exceeds" })
        {
            d.Func(s, () => "0\n");
        }

        return module;
    }

    private ExclusiveModule BuildLruSort(VDir d)
    {
        // DAMON_LRU_SORT (6.0): like DAMON_RECLAIM, only its exclusive kdamond is simulated.
        var module = new ExclusiveModule(this, d, LargestRam, 5000, 100_000);
        d.Bool("commit_inputs");
        d.U64("hot_thres_access_freq", 500);
        d.U64("cold_min_age", 120_000_000);
        d.U64("quota_ms", 10);
        d.U64("quota_reset_interval_ms", 1000);
        d.U64("sample_interval", 5000);
        d.U64("aggr_interval", 100_000);
        foreach (string t in new[] { "hot", "cold" })
        {
            foreach (string s in new[] { $"nr_lru_sort_tried_{t}_regions", $"bytes_lru_sort_tried_{t}_regions", $"nr_lru_sorted_{t}_regions", $"bytes_lru_sorted_{t}_regions", $"nr_{t}_quota_exceeds" })
            {
                d.Func(s, () => "0\n");
            }
        }

        return module;
    }
}
