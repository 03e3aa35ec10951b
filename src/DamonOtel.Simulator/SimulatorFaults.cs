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
    private int vanishTriedRegions;
    private volatile Hang? hang;

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
    /// The next <paramref name="times"/> listings of a tried_regions directory return its entries,
    /// then every region directory in it disappears (as if another tool cleared them) before the
    /// caller reads them. 0 ends it.
    /// </summary>
    public void VanishTriedRegionsAfterNextListing(int times = 1)
    {
        lock (kernel.Gate)
        {
            vanishTriedRegions = times;
        }
    }

    /// <summary>
    /// Reads of paths matching <paramref name="match"/> block, outside the kernel lock, as a read
    /// stuck in the kernel would, until the returned handle is disposed. Tests of bounded shutdown.
    /// </summary>
    public IDisposable HangReads(Func<string, bool> match)
    {
        var h = new Hang(match, this);
        hang = h;
        return h;
    }

    /// <summary>Number of reads currently blocked by <see cref="HangReads"/>.</summary>
    public int HungReads => hang?.Blocked ?? 0;

    /// <summary>Kdamond <paramref name="index"/> stops by itself (state off, pid -1), like after an internal error.</summary>
    public void StopKdamond(int index) => kernel.StopKdamond(index);

    /// <summary>Kills the process called <paramref name="name"/> and starts the same workload again under a new pid, which is returned.</summary>
    public int RestartProcess(string name) => kernel.RestartProcess(name);

    /// <summary>Blocks while a <see cref="HangReads"/> handle matching <paramref name="path"/> is active (called outside the kernel lock).</summary>
    internal void WaitIfHung(string path)
    {
        if (hang is { } h && h.Match(path))
        {
            h.Wait();
        }
    }

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
        if (vanishTriedRegions > 0 && dir.Name == "tried_regions")
        {
            vanishTriedRegions--;
            foreach (string name in dir.Children.Keys.Where(n => n != "total_bytes").ToList())
            {
                dir.Remove(name);
            }
        }
    }

    private sealed class Hang(Func<string, bool> match, SimulatorFaults owner) : IDisposable
    {
        private readonly ManualResetEventSlim released = new();
        private int blocked;

        public int Blocked => Volatile.Read(ref blocked);

        public bool Match(string path) => !released.IsSet && match(path);

        public void Wait()
        {
            Interlocked.Increment(ref blocked);
            try
            {
                released.Wait();
            }
            finally
            {
                Interlocked.Decrement(ref blocked);
            }
        }

        public void Dispose()
        {
            released.Set();
            if (ReferenceEquals(owner.hang, this))
            {
                owner.hang = null;
            }
        }
    }
}
