using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator.Tests;

public sealed class TraceTests
{
    [Theory]
    [InlineData(KernelProfile.V6_18)]
    [InlineData(KernelProfile.V6_12)]
    public void Aggregated_lines_look_like_the_kernels(KernelProfile profile)
    {
        var h = new Harness(profile);
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, pipe.Read(new byte[100], 0, 100)); // not enabled: nothing, and no blocking

        h.EnableAggregatedTrace();
        h.Kernel.Advance(TimeSpan.FromMilliseconds(100));
        string text = Harness.Drain(pipe);
        string first = text.Split('\n')[0];
        string kpid = h.Read(h.K0 + "/pid");
        // Uptime 100 s at boot + 1.1 s simulated; "%16s-%-7d [%03d] ..... %5lu.%06lu: ".
        string prefix = $"       kdamond.0-{kpid,-7} [{int.Parse(kpid) % 2:D3}] .....   101.100000: damon_aggregated: target_id=0 nr_regions=";
        Assert.StartsWith(prefix, first);
        var lines = Harness.ParseAggregated(text);
        Assert.All(lines, l =>
        {
            Assert.Equal("kdamond.0", l.Comm);
            Assert.Equal(int.Parse(kpid), l.Pid);
            Assert.Equal(".....", l.Flags);
        });
        Assert.Equal(lines[0].NrRegions, lines.Count); // one line per region
        for (int i = 1; i < lines.Count; i++)
        {
            Assert.True(lines[i].Start >= lines[i - 1].End);
        }

        string fmt = h.Read(h.Roots.Tracefs + "/events/damon/damon_aggregated/format");
        Assert.Contains("ID: 1543", fmt);
        Assert.Contains("field:unsigned int age;\toffset:44;\tsize:4;\tsigned:0;", fmt);
        Assert.Equal("1543", h.Read(h.Roots.Tracefs + "/events/damon/damon_aggregated/id"));
    }

    [Theory]
    [InlineData(KernelProfile.V6_12, "scheme_idx=1 target_idx=0")] // 6.7-6.12 swap bug
    [InlineData(KernelProfile.V6_18, "scheme_idx=0 target_idx=1")]
    public void Before_apply_lines_carry_the_6_12_index_swap(KernelProfile profile, string expected)
    {
        var h = new Harness(profile);
        int a = h.Kernel.SpawnProcess("a", "steady");
        int b = h.Kernel.SpawnProcess("b", "steady");
        h.ConfigureVaddr(a, b);
        h.Write(h.Roots.Tracefs + "/events/damon/damos_before_apply/enable", "1");
        using Stream pipe = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromMilliseconds(100));
        string[] lines = Harness.Drain(pipe).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        foreach (string line in lines)
        {
            var m = Harness.LineRegex().Match(line);
            Assert.True(m.Success, line);
            Assert.Equal("damos_before_apply", m.Groups["event"].Value);
            Assert.Matches(Harness.BeforeApplyBody(), m.Groups["body"].Value);
        }

        // Target 1's regions lie in the second process's address space (same layout): the later lines.
        Assert.Contains(lines, l => l.Contains("ctx_idx=0 " + expected + " ", StringComparison.Ordinal));
    }

    [Fact]
    public void Private_instances_have_their_own_events_and_pipe()
    {
        var h = new Harness();
        int pid = h.Kernel.SpawnProcess("app", "steady");
        h.ConfigureVaddr(pid);
        string inst = h.Roots.Tracefs + "/instances/damon_otel";
        h.Kernel.CreateDirectory(inst);
        Assert.Equal(Errno.EEXIST, h.ErrnoOf(() => h.Kernel.CreateDirectory(inst)));
        h.EnableAggregatedTrace("damon_otel");
        h.Write(inst + "/events/damon/damon_aggregated/filter", "nr_accesses > 0");
        using Stream top = h.Kernel.OpenPipe(h.Roots.Tracefs + "/trace_pipe");
        Stream mine = h.Kernel.OpenPipe(inst + "/trace_pipe");
        h.State("on");
        h.Kernel.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(string.Empty, Harness.Drain(top));
        var lines = Harness.ParseAggregated(Harness.Drain(mine));
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.True(l.Nr > 0));
        Assert.Equal("nr_accesses > 0", h.Read(inst + "/events/damon/damon_aggregated/filter"));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.Write(inst + "/events/damon/damon_aggregated/filter", "bogus >")));

        Assert.Equal(Errno.EBUSY, h.ErrnoOf(() => h.Kernel.RemoveDirectory(inst)));
        mine.Dispose();
        h.Kernel.RemoveDirectory(inst);
        Assert.False(h.Kernel.DirectoryExists(inst));
    }
}
