using DamonOtel.Agent.Hosting;
using DamonOtel.Analysis;
using DamonOtel.Analysis.Reports;
using System.Runtime.InteropServices;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Procfs;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Cli;

/// <summary>
/// `damon-otel snapshot`: one access summary per monitored target, from the tried_regions of
/// each running kdamond's monitoring scheme (a `stat` scheme whose access pattern matches
/// everything, optionally limited to one target by a `target` filter). With refresh it first
/// writes update_schemes_tried_regions to the kdamonds it may write to; without, it writes nothing.
/// Another process (the agent) may be running state commands meanwhile: the kernel then answers
/// EBUSY to reads of state and pid, and to commands, so both are retried like the agent's own
/// (<paramref name="sysfsReader"/> from <see cref="Kdamonds.KdamondManager.NewReader"/>,
/// <paramref name="commands"/> with <see cref="Kdamonds.KdamondManager.CommandOptions"/>).
/// </summary>
/// By default a vaddr/fvaddr target counts only its process's mapped memory (as the agent
/// exports it); <paramref name="raw"/> reports DAMON's regions as they are, number for number
/// what `damo report access` prints.
/// When our own updates keep being torn, another process refreshes the directory all the time
/// (the agent's collector, every collection interval): each update then clears what the other is
/// reading. The taker stops updating and reads the other's result right after one of its fills
/// completes, waiting at most <paramref name="followWait"/> for each.
internal sealed class SnapshotTaker(KernelEnvironment env, AccessOptions options, StateCommands? commands, IReadOnlySet<int> writable, bool raw = false, DamonSysfsReader? sysfsReader = null, TimeSpan? followWait = null)
{
    private readonly DamonSysfsReader reader = sysfsReader ?? new(env.Fs, env.Roots);
    private readonly ProcReader proc = new(env.Fs, env.Roots);
    private readonly AccessSummarizer summarizer = new(options);
    private readonly List<AddressRange> mapped = [];
    private readonly List<DamonRegion> clipped = [];

    private const int MaxRefreshRetries = 3;

    /// <summary>Reads after another process's updates, once our own have been torn.</summary>
    private const int MaxFollowReads = 5;

    private static readonly TimeSpan FollowPoll = TimeSpan.FromMilliseconds(50);

    private readonly TimeSpan followWait = followWait ?? TimeSpan.FromSeconds(10);

    public async Task<IReadOnlyList<SnapshotReportTarget>> TakeAsync(CancellationToken cancellationToken)
    {
        var result = new List<SnapshotReportTarget>();
        if (!env.Fs.DirectoryExists(env.Roots.Kdamonds))
        {
            throw new InvalidOperationException($"DAMON's sysfs interface is not at {env.Roots.Kdamonds}");
        }

        foreach (Kdamond k in reader.ReadTree(includeTriedRegions: false).Kdamonds)
        {
            if (!k.On || k.Contexts.Count == 0)
            {
                continue;
            }

            DamonContext ctx = k.Contexts[0];
            Dictionary<int, int> schemeOfTarget = MonitorSchemes(ctx);
            if (schemeOfTarget.Count == 0)
            {
                continue;
            }

            bool refresh = commands is not null && writable.Contains(k.Index);
            if (refresh)
            {
                await commands!.SendAsync(k.Index, StateCommand.UpdateSchemesTriedRegions, cancellationToken).ConfigureAwait(false);
                ctx = reader.ReadKdamond(k.Index, includeTriedRegions: false).Contexts[0];
            }

            foreach ((int target, int scheme) in schemeOfTarget.OrderBy(p => p.Key))
            {
                TriedRegions? tried = reader.ReadTriedRegions(k.Index, ctx.Index, scheme);

                // Another writer's update (the agent's own collector) can tear the regions down
                // between our refresh and our read (seen on 6.12: empty, or 26 regions covering
                // 375 MiB of 2 GiB): refresh again rather than report a part of the memory.
                for (int attempt = 0; refresh && tried is { Regions.Length: 0 } or { Torn: true } && attempt < MaxRefreshRetries; attempt++)
                {
                    await commands!.SendAsync(k.Index, StateCommand.UpdateSchemesTriedRegions, cancellationToken).ConfigureAwait(false);
                    tried = reader.ReadTriedRegions(k.Index, ctx.Index, scheme);
                }

                int followed = 0;
                for (; refresh && tried is { Regions.Length: 0 } or { Torn: true } && followed < MaxFollowReads; followed++)
                {
                    await WaitForAnotherFillAsync(k.Index, ctx.Index, scheme, cancellationToken).ConfigureAwait(false);
                    tried = reader.ReadTriedRegions(k.Index, ctx.Index, scheme);
                }

                if (refresh && tried is { Torn: true })
                {
                    throw new InvalidOperationException($"{reader.TriedRegionsDir(k.Index, ctx.Index, scheme)} changed while it was read, {MaxRefreshRetries + 1 + followed} times ({MaxRefreshRetries + 1} after our own updates, {followed} after another process's): another process is updating this kdamond's tried_regions; try again");
                }

                // Read-only, a torn read is left out like an empty one: a part is no snapshot.
                if (tried is null || tried.Regions.Length == 0 || tried.Torn)
                {
                    // No regions is no snapshot (a monitored target always has regions).
                    continue;
                }

                int? pid = ctx.Operations != "paddr" && target < ctx.Targets.Count ? ctx.Targets[target].PidTarget : null;
                if (pid == k.Pid)
                {
                    continue; // a tombstone: the kdamond's own thread holding a removed process's place
                }

                if (raw || pid is not int p || p <= 0)
                {
                    AccessSummary summary = Summarize(summarizer, tried.Regions, ctx.Attrs.Intervals, ctx.AddrUnit ?? 1, reader.TriedRegionsDir(k.Index, ctx.Index, scheme));
                    result.Add(new SnapshotReportTarget(k.Index, ctx.Index, target, ctx.Attrs.Intervals, summary));
                    continue;
                }

                if (!proc.ReadMappings(p, mapped))
                {
                    continue; // the process exited
                }

                clipped.Clear();
                ulong unmapped = MappedRanges.Clip(tried.Regions, CollectionsMarshal.AsSpan(mapped), clipped);
                AccessSummary mappedSummary = Summarize(summarizer, CollectionsMarshal.AsSpan(clipped), ctx.Attrs.Intervals, ctx.AddrUnit ?? 1, reader.TriedRegionsDir(k.Index, ctx.Index, scheme));
                result.Add(new SnapshotReportTarget(k.Index, ctx.Index, target, ctx.Attrs.Intervals, mappedSummary, p, unmapped));
            }
        }

        return result;
    }

    /// <summary>
    /// Waits for another process's update to refill tried_regions: the kernel clears the directory
    /// (total_bytes 0) at the command and fills it at the scheme's next application, so a
    /// non-zero total_bytes after a 0, unchanged over one more poll, is a fill just completed and
    /// whole until that process's next update. Without a clear seen within the wait (nobody else
    /// updating, or a fill too quick to see) the caller just reads again.
    /// </summary>
    private async Task WaitForAnotherFillAsync(int kdamond, int context, int scheme, CancellationToken cancellationToken)
    {
        bool cleared = false;
        ulong? previous = null;
        long deadline = Environment.TickCount64 + (long)followWait.TotalMilliseconds;
        while (Environment.TickCount64 < deadline)
        {
            await Task.Delay(FollowPoll, cancellationToken).ConfigureAwait(false);
            ulong? total = reader.ReadTriedBytes(kdamond, context, scheme);
            if (total is null or 0)
            {
                cleared = true;
            }
            else if (cleared && total == previous)
            {
                return;
            }

            previous = total;
        }
    }

    /// <summary>
    /// Summarizes regions read from <paramref name="dir"/>; regions the summarizer cannot add up
    /// (sizes times addr_unit past 64 bits) are the kernel's malformed values, named as such.
    /// </summary>
    internal static AccessSummary Summarize(AccessSummarizer summarizer, ReadOnlySpan<DamonRegion> regions, Intervals intervals, ulong addrUnit, string dir)
    {
        try
        {
            return summarizer.Summarize(regions, intervals, addrUnit);
        }
        catch (ArgumentException e)
        {
            throw new KernelFormatException($"{dir}: {e.Message}") { Path = dir };
        }
    }

    /// <summary>target index → index of the stat scheme that sees (only) that target.</summary>
    internal static Dictionary<int, int> MonitorSchemes(DamonContext ctx)
    {
        var map = new Dictionary<int, int>();
        foreach (DamosScheme s in ctx.Schemes)
        {
            if (s.Action != "stat" || !s.AccessPattern.MatchesEverything || IsLimited(s))
            {
                continue;
            }

            var filters = (s.Filters ?? []).Concat(s.CoreFilters ?? []).Concat(s.OpsFilters ?? []).ToList();
            if (filters.Count == 0 && ctx.Targets.Count == 1)
            {
                map.TryAdd(0, s.Index);
            }
            else if (filters.Count == 1 && filters[0] is { Type: "target", Matching: false, DamonTargetIdx: int t })
            {
                map.TryAdd(t, s.Index);
            }
        }

        return map;
    }

    /// <summary>
    /// A quota or watermarks stop the kernel from applying the scheme to every region, and
    /// tried_regions only lists the regions it was applied to: such a scheme's tried_regions
    /// show a part of memory (a 64 MiB quota: at most 64 MiB; once the quota is spent, none).
    /// </summary>
    internal static bool IsLimited(DamosScheme s) =>
        s.Quotas.Ms > 0 || s.Quotas.Bytes > 0 || s.Quotas.Goals is { Count: > 0 } || s.Watermarks.Metric != "none";
}
