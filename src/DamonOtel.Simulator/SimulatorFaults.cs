using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

/// <summary>Fault injection for tests of the agent's error handling. All hooks act on the owning kernel.</summary>
public sealed class SimulatorFaults
{
    private readonly SimulatedKernel kernel;
    private readonly Dictionary<string, string> garbage = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Errno Errno, int Count)> readFailures = new(StringComparer.Ordinal);
    private int stateFailures;
    private Errno stateErrno = Errno.EBUSY;
    private bool vanishTriedRegions;

    internal SimulatorFaults(SimulatedKernel kernel) => this.kernel = kernel;

    /// <summary>The next <paramref name="count"/> writes to any kdamond <c>state</c> file fail with <paramref name="errno"/> (EBUSY: another writer holds the DAMON sysfs mutex).</summary>
    public void FailNextStateWrites(int count, Errno errno = Errno.EBUSY)
    {
        lock (kernel.Gate)
        {
            stateFailures = count;
            stateErrno = errno;
        }
    }

    /// <summary>The next <paramref name="count"/> reads of <paramref name="path"/> fail with <paramref name="errno"/> (e.g. EBUSY on kdamonds/&lt;K&gt;/pid).</summary>
    public void FailNextReads(string path, Errno errno, int count = 1)
    {
        lock (kernel.Gate)
        {
            readFailures[path] = (errno, count);
        }
    }

    /// <summary>Reads of <paramref name="path"/> return <paramref name="content"/> verbatim until cleared with null.</summary>
    public void SetGarbage(string path, string? content)
    {
        lock (kernel.Gate)
        {
            if (content is null)
            {
                garbage.Remove(path);
            }
            else
            {
                garbage[path] = content;
            }
        }
    }

    /// <summary>
    /// The next listing of a tried_regions directory returns its entries, then every region
    /// directory in it disappears (as if another tool cleared them) before the caller reads them.
    /// </summary>
    public void VanishTriedRegionsAfterNextListing()
    {
        lock (kernel.Gate)
        {
            vanishTriedRegions = true;
        }
    }

    /// <summary>Kdamond <paramref name="index"/> stops by itself (state off, pid -1), like after an internal error.</summary>
    public void StopKdamond(int index) => kernel.StopKdamond(index);

    /// <summary>Kills the process called <paramref name="name"/> and starts the same workload again under a new pid, which is returned.</summary>
    public int RestartProcess(string name) => kernel.RestartProcess(name);

    internal void BeforeStateWrite(string path)
    {
        if (stateFailures > 0)
        {
            stateFailures--;
            throw new KernelIoException(stateErrno, path, "write");
        }
    }

    internal string? BeforeRead(string path)
    {
        if (readFailures.TryGetValue(path, out var f))
        {
            if (f.Count <= 1)
            {
                readFailures.Remove(path);
            }
            else
            {
                readFailures[path] = (f.Errno, f.Count - 1);
            }

            throw new KernelIoException(f.Errno, path, "read");
        }

        return garbage.GetValueOrDefault(path);
    }

    internal void AfterList(VDir dir)
    {
        if (vanishTriedRegions && dir.Name == "tried_regions")
        {
            vanishTriedRegions = false;
            foreach (string name in dir.Children.Keys.Where(n => n != "total_bytes").ToList())
            {
                dir.Remove(name);
            }
        }
    }
}
