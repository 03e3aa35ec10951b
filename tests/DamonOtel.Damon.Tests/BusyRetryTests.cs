using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Damon.Tests.Support;

namespace DamonOtel.Damon.Tests;

/// <summary>EBUSY on reads as 7.3 gives it (docs/kernel-7x.md): for long stretches while another writer's commands run.</summary>
public class BusyRetryTests
{
    [Fact]
    public void State_reads_outlast_more_than_100_EBUSY_answers_within_the_busy_budget()
    {
        // 7.3 under TCG: while another writer looped update_schemes_tried_regions every state
        // read of 10 s answered EBUSY; a fixed 100 attempts gave up, a time budget does not.
        int busy = 0;
        var fs = new RecordingKernelFs(LinuxKernelFs.Instance)
        {
            BeforeRead = p =>
            {
                if (p.EndsWith("/state", StringComparison.Ordinal) && ++busy <= 500)
                {
                    throw new KernelIoException(Errno.EBUSY, p, "read");
                }
            },
        };
        var reader = new DamonSysfsReader(fs, Fixtures.Roots("linux-6.18"), pidRetryDelay: TimeSpan.Zero, busyBudget: TimeSpan.FromSeconds(30));
        Assert.True(reader.ReadState(0));
        Assert.Equal(501, busy);

        busy = 0;
        var attemptsOnly = new DamonSysfsReader(fs, Fixtures.Roots("linux-6.18"), pidRetryDelay: TimeSpan.Zero);
        Assert.Equal(Errno.EBUSY, Assert.Throws<KernelIoException>(() => attemptsOnly.ReadState(0)).Errno);
        Assert.Equal(100, busy);
    }

    [Fact]
    public void The_busy_budget_ends()
    {
        var fs = new RecordingKernelFs(LinuxKernelFs.Instance)
        {
            BeforeRead = p => throw new KernelIoException(Errno.EBUSY, p, "read"),
        };
        var reader = new DamonSysfsReader(fs, Fixtures.Roots("linux-6.18"), pidRetryDelay: TimeSpan.FromMilliseconds(1), busyBudget: TimeSpan.FromMilliseconds(50));
        Assert.Equal(Errno.EBUSY, Assert.Throws<KernelIoException>(() => reader.ReadPid(0)).Errno);
    }
}
