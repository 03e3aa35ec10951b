using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

/// <summary>
/// Fires every <see cref="SimulatorFaults"/> hook at random, for soak tests of a whole agent
/// process (`run --simulate` with DAMON_OTEL_SIMULATOR_FAULTS=random): failed and garbage reads,
/// EBUSY state writes, vanishing tried regions, kdamonds stopping by themselves, restarted
/// processes and reads that hang for a few seconds. Each fault is short-lived, so the agent
/// must recover from all of them while it keeps serving.
/// </summary>
public static class SimulatorChaos
{
    private static readonly Errno[] ReadErrors = [Errno.EIO, Errno.EBUSY, Errno.ENOENT, Errno.EINVAL];
    private static readonly string[] Garbage = ["garbage\n", "18446744073709551616\n", "-1\n", string.Empty, "9 8 7\n", "\0\0\0"];

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> FiredByHook = new(StringComparer.Ordinal);

    /// <summary>Counts of the faults fired so far, by hook name.</summary>
    public static IReadOnlyDictionary<string, int> Fired => FiredByHook;

    /// <summary>Runs until <paramref name="cancellationToken"/>; one fault every 0.2 to 2 s.</summary>
    public static async Task RunAsync(SimulatedKernel kernel, IReadOnlyList<string> processNames, int seed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(processNames);
        var random = new Random(seed);
        var pending = new List<(DateTime Until, Action Undo)>();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(200, 2000)), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            foreach (var p in pending.Where(p => p.Until <= DateTime.UtcNow).ToList())
            {
                p.Undo();
                pending.Remove(p);
            }

            try
            {
                FireOne(kernel, processNames, random, pending);
            }
            catch (KernelIoException)
            {
                // The chosen file or kdamond went away meanwhile: pick another next time.
            }
            catch (InvalidOperationException)
            {
                // e.g. no such process to restart right now.
            }
        }

        foreach (var p in pending)
        {
            p.Undo();
        }
    }

    private static void FireOne(SimulatedKernel kernel, IReadOnlyList<string> processNames, Random random, List<(DateTime Until, Action Undo)> pending)
    {
        var files = Files(kernel, kernel.Options.Roots.Kdamonds, depth: 0);
        string? file = files.Count > 0 ? files[random.Next(files.Count)] : null;
        var kind = random.Next(8);
        switch (kind)
        {
            case 0:
                kernel.Faults.FailNextStateWrites(random.Next(1, 4));
                Count("fail_state_writes");
                break;
            case 1 when file is not null:
                kernel.Faults.FailNextReads(file, ReadErrors[random.Next(ReadErrors.Length)], random.Next(1, 4));
                Count("fail_reads");
                break;
            case 2 when file is not null:
                kernel.Faults.SetGarbage(file, Garbage[random.Next(Garbage.Length)]);
                pending.Add((DateTime.UtcNow.AddSeconds(random.Next(1, 6)), () => kernel.Faults.SetGarbage(file, null)));
                Count("garbage");
                break;
            case 3:
                kernel.Faults.VanishTriedRegionsAfterNextListing();
                Count("vanish_tried_regions");
                break;
            case 4 when random.Next(4) == 0:
                var kdamonds = kernel.ListDirectory(kernel.Options.Roots.Kdamonds).Where(n => int.TryParse(n, out _)).ToList();
                if (kdamonds.Count > 0)
                {
                    kernel.Faults.StopKdamond(int.Parse(kdamonds[random.Next(kdamonds.Count)], System.Globalization.CultureInfo.InvariantCulture));
                    Count("stop_kdamond");
                }

                break;
            case 5 when processNames.Count > 0 && random.Next(4) == 0:
                kernel.Faults.RestartProcess(processNames[random.Next(processNames.Count)]);
                Count("restart_process");
                break;
            case 6 when file is not null:
                var hang = kernel.Faults.HangReads(p => p == file);
                pending.Add((DateTime.UtcNow.AddSeconds(random.Next(1, 6)), hang.Dispose));
                Count("hang_reads");
                break;
            default:
                break;
        }
    }

    private static void Count(string hook) => FiredByHook.AddOrUpdate(hook, 1, (_, n) => n + 1);

    private static List<string> Files(SimulatedKernel kernel, string dir, int depth)
    {
        var result = new List<string>();
        if (depth > 8 || !kernel.DirectoryExists(dir))
        {
            return result;
        }

        foreach (string name in kernel.ListDirectory(dir))
        {
            string path = dir + "/" + name;
            if (kernel.DirectoryExists(path))
            {
                result.AddRange(Files(kernel, path, depth + 1));
            }
            else
            {
                result.Add(path);
            }
        }

        return result;
    }
}
