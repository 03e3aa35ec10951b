using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator.Tests;

public sealed class SysfsTests
{
    [Fact]
    public void Fresh_tree_has_kernel_defaults()
    {
        var h = new Harness();
        Assert.Equal("0", h.Read(h.Roots.Kdamonds + "/nr_kdamonds"));
        h.Write(h.Roots.Kdamonds + "/nr_kdamonds", "1");
        Assert.Equal("off", h.Read(h.K0 + "/state"));
        Assert.Equal("-1", h.Read(h.K0 + "/pid"));
        Assert.Equal("0", h.Read(h.K0 + "/refresh_ms"));
        Assert.Equal("0", h.Read(h.K0 + "/contexts/nr_contexts"));
        h.Write(h.K0 + "/contexts/nr_contexts", "1");
        Assert.Equal("vaddr", h.Read(h.C0 + "/operations"));
        Assert.Equal("vaddr\nfvaddr\npaddr", h.Read(h.C0 + "/avail_operations"));
        Assert.Equal("1", h.Read(h.C0 + "/addr_unit"));
        Assert.Equal("5000", h.Read(h.C0 + "/monitoring_attrs/intervals/sample_us"));
        Assert.Equal("100000", h.Read(h.C0 + "/monitoring_attrs/intervals/aggr_us"));
        Assert.Equal("60000000", h.Read(h.C0 + "/monitoring_attrs/intervals/update_us"));
        Assert.Equal("0", h.Read(h.C0 + "/monitoring_attrs/intervals/intervals_goal/access_bp"));
        Assert.Equal("10", h.Read(h.C0 + "/monitoring_attrs/nr_regions/min"));
        Assert.Equal("1000", h.Read(h.C0 + "/monitoring_attrs/nr_regions/max"));
        h.Write(h.C0 + "/schemes/nr_schemes", "1");
        Assert.Equal("stat", h.Read(h.S0 + "/action"));
        Assert.Equal("0", h.Read(h.S0 + "/apply_interval_us"));
        Assert.Equal("-1", h.Read(h.S0 + "/target_nid"));
        foreach (string p in new[] { "sz", "nr_accesses", "age" })
        {
            Assert.Equal("0", h.Read($"{h.S0}/access_pattern/{p}/min"));
            Assert.Equal("0", h.Read($"{h.S0}/access_pattern/{p}/max"));
        }

        Assert.Equal("none", h.Read(h.S0 + "/watermarks/metric"));
        Assert.Equal("0", h.Read(h.S0 + "/quotas/effective_bytes"));
        Assert.Equal("0", h.Read(h.S0 + "/tried_regions/total_bytes"));
        Assert.Equal("0", h.Read(h.S0 + "/stats/sz_ops_filter_passed"));
        h.Write(h.S0 + "/ops_filters/nr_filters", "1");
        Assert.Equal("anon", h.Read(h.S0 + "/ops_filters/0/type"));
        Assert.Equal("N", h.Read(h.S0 + "/ops_filters/0/allow"));
        Assert.Equal(string.Empty, h.Read(h.S0 + "/ops_filters/0/memcg_path"));
    }

    [Fact]
    public void Profile_6_12_lacks_the_newer_files()
    {
        var h = new Harness(KernelProfile.V6_12);
        h.Write(h.Roots.Kdamonds + "/nr_kdamonds", "1");
        h.Write(h.K0 + "/contexts/nr_contexts", "1");
        h.Write(h.C0 + "/schemes/nr_schemes", "1");
        h.Write(h.S0 + "/filters/nr_filters", "1");
        h.Write(h.S0 + "/quotas/goals/nr_goals", "1");
        Assert.False(h.Kernel.FileExists(h.K0 + "/refresh_ms"));
        Assert.False(h.Kernel.FileExists(h.C0 + "/addr_unit"));
        Assert.False(h.Kernel.DirectoryExists(h.C0 + "/monitoring_attrs/intervals/intervals_goal"));
        Assert.False(h.Kernel.DirectoryExists(h.S0 + "/core_filters"));
        Assert.False(h.Kernel.DirectoryExists(h.S0 + "/ops_filters"));
        Assert.False(h.Kernel.DirectoryExists(h.S0 + "/dests"));
        Assert.False(h.Kernel.FileExists(h.S0 + "/filters/0/allow"));
        Assert.False(h.Kernel.FileExists(h.S0 + "/stats/sz_ops_filter_passed"));
        Assert.False(h.Kernel.FileExists(h.S0 + "/quotas/goals/0/nid"));
        Assert.False(h.Kernel.DirectoryExists(h.Roots.ModuleParameters("damon_stat")));
        Assert.True(h.Kernel.FileExists(h.S0 + "/quotas/effective_bytes"));
        Assert.True(h.Kernel.FileExists(h.S0 + "/filters/0/damon_target_idx"));
        Assert.True(h.Kernel.FileExists(h.Roots.ModuleParameters("damon_reclaim") + "/nr_quota_exceeds"));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.Write(h.S0 + "/quotas/goals/0/target_metric", "node_mem_used_bp")));
    }

    [Fact]
    public void Writing_nr_recreates_children_with_defaults()
    {
        var h = new Harness();
        h.Write(h.Roots.Kdamonds + "/nr_kdamonds", "1");
        h.Write(h.K0 + "/contexts/nr_contexts", "1");
        h.Write(h.C0 + "/monitoring_attrs/intervals/sample_us", "7000");
        h.Write(h.C0 + "/targets/nr_targets", "3");
        h.Write(h.C0 + "/targets/2/pid_target", "1234");
        Assert.Equal(["0", "1", "2", "nr_targets"], h.Kernel.ListDirectory(h.C0 + "/targets").Order());

        h.Write(h.C0 + "/targets/nr_targets", "2");
        Assert.False(h.Kernel.DirectoryExists(h.C0 + "/targets/2"));
        h.Write(h.C0 + "/targets/nr_targets", "3");
        Assert.Equal("0", h.Read(h.C0 + "/targets/2/pid_target"));

        h.Write(h.K0 + "/contexts/nr_contexts", "1");
        Assert.Equal("5000", h.Read(h.C0 + "/monitoring_attrs/intervals/sample_us"));
        Assert.Equal("0", h.Read(h.C0 + "/targets/nr_targets"));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.Write(h.C0 + "/targets/nr_targets", "-1")));
    }

    [Theory]
    [InlineData("010", "8")]          // leading 0 = octal
    [InlineData("0x10", "16")]
    [InlineData("0X1f\n", "31")]
    [InlineData("+42", "42")]
    [InlineData("0", "0")]
    [InlineData("123\n", "123")]
    public void Numbers_parse_like_kstrtoul_base_0(string written, string read)
    {
        var h = new Harness();
        h.Write(h.Roots.Kdamonds + "/nr_kdamonds", "1");
        h.Write(h.K0 + "/contexts/nr_contexts", "1");
        string f = h.C0 + "/monitoring_attrs/intervals/aggr_us";
        h.Write(f, written);
        Assert.Equal(read, h.Read(f));
    }

    [Theory]
    [InlineData("08")]      // 8 is not an octal digit
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("12 ")]
    [InlineData("-5")]
    [InlineData("0x")]
    public void Garbage_numbers_are_EINVAL(string written)
    {
        var h = new Harness();
        h.Write(h.Roots.Kdamonds + "/nr_kdamonds", "1");
        h.Write(h.K0 + "/contexts/nr_contexts", "1");
        string f = h.C0 + "/monitoring_attrs/intervals/aggr_us";
        var e = Assert.Throws<KernelIoException>(() => h.Write(f, written));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal(f, e.Path);
        Assert.Equal("100000", h.Read(f));
    }

    [Fact]
    public void Keyword_files_reject_unknown_words_and_u32_overflow_is_ERANGE()
    {
        var h = new Harness();
        h.Write(h.Roots.Kdamonds + "/nr_kdamonds", "1");
        h.Write(h.K0 + "/contexts/nr_contexts", "1");
        h.Write(h.C0 + "/schemes/nr_schemes", "1");
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.Write(h.C0 + "/operations", "bogus")));
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.Write(h.S0 + "/action", "reclaim")));
        h.Write(h.S0 + "/action", "pageout\n");
        Assert.Equal("pageout", h.Read(h.S0 + "/action"));
        h.Write(h.S0 + "/core_filters/nr_filters", "1");
        Assert.Equal(Errno.EINVAL, h.ErrnoOf(() => h.Write(h.S0 + "/core_filters/0/type", "anon")));
        h.Write(h.S0 + "/core_filters/0/type", "addr");
        Assert.Equal((Errno)34, h.ErrnoOf(() => h.Write(h.S0 + "/access_pattern/nr_accesses/max", "4294967296")));
        Assert.Equal(Errno.EACCES, h.ErrnoOf(() => h.Write(h.S0 + "/stats/nr_tried", "1")));
        Assert.Equal(Errno.ENOENT, h.ErrnoOf(() => h.Read(h.S0 + "/no_such_file")));
    }

    [Fact]
    public void Paths_outside_the_roots_do_not_exist_and_sysfs_refuses_mkdir()
    {
        var h = new Harness();
        Assert.False(h.Kernel.FileExists("/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds"));
        Assert.True(h.Kernel.FileExists("/sim/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds"));
        Assert.Equal(Errno.EPERM, h.ErrnoOf(() => h.Kernel.CreateDirectory(h.Roots.Kdamonds + "/7")));
    }
}
