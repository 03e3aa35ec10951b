using DamonOtel.Damon.IO;
using DamonOtel.Damon.Tracefs;

namespace DamonOtel.Damon.Tests;

public class TraceInstanceTests
{
    private const string Root = "/fixture/sys/kernel/tracing";
    private static readonly KernelRoots Roots = new("/fixture/sys", Root, "/fixture/proc");

    [Fact]
    public void Creates_instance_enables_present_events_and_removes_it()
    {
        // A 6.12-like kernel: no damon_monitor_intervals_tune.
        var fs = new FakeTracefs(Root, TraceInstance.Aggregated, TraceInstance.BeforeApply);
        TraceInstance inst = TraceInstance.Create(fs, Roots, "damon-otel-1", new TraceInstanceOptions { BeforeApply = true, BufferSizeKb = 4096 });

        Assert.False(inst.Reused);
        Assert.Equal(Root + "/instances/damon-otel-1", inst.InstancePath);
        Assert.Equal(Root + "/instances/damon-otel-1/trace_pipe", inst.TracePipePath);
        Assert.Equal([TraceInstance.Aggregated, TraceInstance.BeforeApply], inst.EnabledEvents);
        Assert.Equal("1", fs.Read("instances/damon-otel-1/events/damon/damon_aggregated/enable"));
        Assert.True(inst.HasEvent(TraceInstance.BeforeApply));
        Assert.False(inst.HasEvent(TraceInstance.IntervalsTune));

        inst.Dispose();
        Assert.Null(inst.CleanupError);
        Assert.False(fs.DirectoryExists(inst.InstancePath));
        Assert.Equal(
            [
                "instances/damon-otel-1/buffer_size_kb=4096",
                "instances/damon-otel-1/events/damon/damon_aggregated/enable=1",
                "instances/damon-otel-1/events/damon/damos_before_apply/enable=1",
                "instances/damon-otel-1/events/damon/damos_before_apply/enable=0",
                "instances/damon-otel-1/events/damon/damon_aggregated/enable=0",
                "rmdir instances/damon-otel-1",
            ],
            fs.Writes);
    }

    [Fact]
    public void Optional_events_are_off_unless_asked_and_intervals_tune_is_on_by_default()
    {
        var fs = new FakeTracefs(Root, TraceInstance.Aggregated, TraceInstance.BeforeApply, TraceInstance.IntervalsTune, TraceInstance.Esz);
        using TraceInstance inst = TraceInstance.Create(fs, Roots, "x");
        Assert.Equal([TraceInstance.Aggregated, TraceInstance.IntervalsTune], inst.EnabledEvents);
        Assert.Equal("0", fs.Read("instances/x/events/damon/damos_before_apply/enable"));
        Assert.Equal("1408", fs.Read("instances/x/buffer_size_kb"));
    }

    [Fact]
    public void Leftover_instance_is_reused()
    {
        var fs = new FakeTracefs(Root, TraceInstance.Aggregated);
        fs.AddLeftoverInstance("damon-otel");
        using TraceInstance inst = TraceInstance.Create(fs, Roots, "damon-otel");
        Assert.True(inst.Reused);
        Assert.Equal("1", fs.Read("instances/damon-otel/events/damon/damon_aggregated/enable"));
    }

    [Fact]
    public void Missing_damon_events_throw_and_leave_nothing_behind()
    {
        var fs = new FakeTracefs(Root /* no damon events: CONFIG_DAMON off */);
        var e = Assert.Throws<KernelIoException>(() => TraceInstance.Create(fs, Roots, "d"));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("damon_aggregated/enable", e.Message, StringComparison.Ordinal);
        Assert.False(fs.DirectoryExists(Root + "/instances/d"));
    }

    [Fact]
    public void Missing_tracefs_throws_enoent()
    {
        var fs = new FakeTracefs(Root, TraceInstance.Aggregated);
        var e = Assert.Throws<KernelIoException>(() => TraceInstance.Create(fs, new KernelRoots("/s", "/nowhere", "/p"), "d"));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal("/nowhere/instances/d", e.Path);
    }

    [Fact]
    public void Dispose_tolerates_instance_already_gone_and_records_busy()
    {
        var fs = new FakeTracefs(Root, TraceInstance.Aggregated);
        TraceInstance gone = TraceInstance.Create(fs, Roots, "a");
        fs.RemoveDirectory(gone.InstancePath);
        gone.Dispose();
        Assert.Null(gone.CleanupError);

        TraceInstance busy = TraceInstance.Create(fs, Roots, "b");
        using (Stream pipe = busy.OpenTracePipe())
        {
            busy.Dispose();
            Assert.Equal(Errno.EBUSY, busy.CleanupError?.Errno);
        }
    }

    [Fact]
    public void Remove_stale_removes_only_our_prefix()
    {
        var fs = new FakeTracefs(Root, TraceInstance.Aggregated);
        fs.AddLeftoverInstance("damon-otel-11");
        fs.AddLeftoverInstance("damon-otel-12");
        fs.AddLeftoverInstance("someone-else");
        IReadOnlyList<string> removed = TraceInstance.RemoveStale(fs, Roots, "damon-otel-", keep: "damon-otel-12");
        Assert.Equal(["damon-otel-11"], removed);
        Assert.False(fs.DirectoryExists(Root + "/instances/damon-otel-11"));
        Assert.True(fs.DirectoryExists(Root + "/instances/damon-otel-12"));
        Assert.True(fs.DirectoryExists(Root + "/instances/someone-else"));
    }

    [Fact]
    public void Real_directories_with_linux_kernel_fs()
    {
        // Plain directories: mkdir works but creates no event files (unlike tracefs), so
        // Create fails cleanly; RemoveStale rmdirs empty leftovers.
        string tmp = Path.Combine(Path.GetTempPath(), "damonotel-trace-" + Guid.NewGuid().ToString("N"));
        var roots = KernelRoots.Under(tmp);
        Directory.CreateDirectory(Path.Combine(roots.Tracefs, "instances", "damon-otel-old"));
        try
        {
            var e = Assert.Throws<KernelIoException>(() => TraceInstance.Create(LinuxKernelFs.Instance, roots, "damon-otel-new"));
            Assert.Equal(Errno.ENOENT, e.Errno);
            Assert.False(Directory.Exists(Path.Combine(roots.Tracefs, "instances", "damon-otel-new")));

            Assert.Equal(["damon-otel-old"], TraceInstance.RemoveStale(LinuxKernelFs.Instance, roots, "damon-otel-"));
            Assert.Empty(Directory.GetDirectories(Path.Combine(roots.Tracefs, "instances")));
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }

    [Fact]
    public void Instance_reads_ring_buffer_layout_and_decoder_from_its_files()
    {
        string tmp = Path.Combine(Path.GetTempPath(), "damonotel-trace-" + Guid.NewGuid().ToString("N"));
        var roots = KernelRoots.Under(tmp);
        string inst = Path.Combine(roots.Tracefs, "instances", "i");
        string damon = Path.Combine(inst, "events", "damon", "damon_aggregated");
        Directory.CreateDirectory(damon);
        File.WriteAllText(Path.Combine(damon, "enable"), "0");
        File.Copy(Path.Combine(TraceFixtures.Dir, "format", "damon_aggregated-shifted.format"), Path.Combine(damon, "format"));
        File.Copy(Path.Combine(TraceFixtures.Dir, "format", "header_page"), Path.Combine(inst, "events", "header_page"));
        File.Copy(Path.Combine(TraceFixtures.Dir, "format", "header_event"), Path.Combine(inst, "events", "header_event"));
        try
        {
            TraceInstance ti = TraceInstance.Create(LinuxKernelFs.Instance, roots, "i");
            Assert.True(ti.Reused);
            Assert.Equal("1", File.ReadAllText(Path.Combine(damon, "enable")));
            Assert.Equal(42, ti.ReadRawDecoder().AggregatedId);
            Assert.Equal(4096, ti.ReadRingBufferLayout().PageSize);
            ti.Dispose();
            Assert.Equal("0", File.ReadAllText(Path.Combine(damon, "enable")));
            Assert.Equal(Errno.ENOTEMPTY, ti.CleanupError?.Errno); // a plain directory is not tracefs
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }
}
