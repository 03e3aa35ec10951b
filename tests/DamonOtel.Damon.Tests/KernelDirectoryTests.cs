using System.Text;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Damon.Tests.Support;

namespace DamonOtel.Damon.Tests;

/// <summary>
/// <see cref="IKernelDirectory"/>: the descriptor-based one of <see cref="LinuxKernelFs"/>
/// (getdents64 + openat) answers exactly as the path-joining fallback every other file system uses.
/// </summary>
public sealed class KernelDirectoryTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("damonotel-kdir-").FullName;

    public KernelDirectoryTests()
    {
        foreach (int region in new[] { 0, 1, 3, 10, 1999, 65536 })
        {
            string rd = Directory.CreateDirectory(Path.Combine(dir, region.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
            File.WriteAllText(Path.Combine(rd, "start"), (region * 4096L).ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
        }

        File.WriteAllText(Path.Combine(dir, "total_bytes"), "123\n");
        Directory.CreateDirectory(Path.Combine(dir, "-1"));
        Directory.CreateDirectory(Path.Combine(dir, "12a"));
        Directory.CreateDirectory(Path.Combine(dir, "99999999999"));
    }

    public static TheoryData<string> Implementations => ["descriptor", "paths"];

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Lists_numbered_entries_as_numbers_and_the_rest_by_name(string implementation)
    {
        using IKernelDirectory d = Open(implementation, dir);
        var numbers = new List<int>();
        IReadOnlyList<string> others = d.ListNumbered(numbers);
        numbers.Sort();
        Assert.Equal([0, 1, 3, 10, 1999, 65536], numbers);
        Assert.Equal(["-1", "12a", "99999999999", "total_bytes"], others.Order(StringComparer.Ordinal));

        // A second listing starts from the beginning again.
        var again = new List<int>();
        _ = d.ListNumbered(again);
        Assert.Equal(6, again.Count);
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Reads_relative_paths_and_names_the_full_path_when_missing(string implementation)
    {
        using IKernelDirectory d = Open(implementation, dir);
        Span<byte> buf = stackalloc byte[32];
        int n = d.ReadBytes("1999/start"u8, buf);
        Assert.Equal("8187904\n", Encoding.ASCII.GetString(buf[..n]));
        n = d.ReadBytes("total_bytes"u8, buf);
        Assert.Equal("123\n", Encoding.ASCII.GetString(buf[..n]));

        var e = Assert.Throws<KernelIoException>(() => d.ReadBytes("3/age"u8, new byte[32]));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal(Path.Combine(dir, "3", "age"), e.Path);
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void A_missing_directory_is_ENOENT(string implementation)
    {
        var e = Assert.Throws<KernelIoException>(() => Open(implementation, Path.Combine(dir, "nope")));
        Assert.True(e.IsNotFound);
    }

    [Fact]
    public void A_long_relative_path_is_read_too()
    {
        // Longer than the stack buffer for relative names (256 bytes); a name alone is at most 255.
        string name = new string('a', 200) + "/" + new string('b', 100);
        Directory.CreateDirectory(Path.Combine(dir, new string('a', 200)));
        File.WriteAllText(Path.Combine(dir, name), "7\n");
        using IKernelDirectory d = LinuxKernelFs.Instance.OpenDirectory(dir);
        Span<byte> buf = stackalloc byte[8];
        Assert.Equal(2, d.ReadBytes(Encoding.ASCII.GetBytes(name), buf));
    }

    [Fact]
    public void Tried_regions_read_through_descriptors_equal_those_read_through_paths()
    {
        KernelRoots roots = Fixtures.Roots("linux-6.18");
        TriedRegions viaDescriptor = new DamonSysfsReader(LinuxKernelFs.Instance, roots).ReadTriedRegions(0, 0, 1)!;
        TriedRegions viaPaths = new DamonSysfsReader(new RecordingKernelFs(LinuxKernelFs.Instance), roots).ReadTriedRegions(0, 0, 1)!;
        Assert.Equal(5, viaDescriptor.Regions.Length);
        Assert.Equal(viaPaths.Regions, viaDescriptor.Regions);
        Assert.Equal(viaPaths.SzFilterPassed, viaDescriptor.SzFilterPassed);
        Assert.Equal(viaPaths.TotalBytes, viaDescriptor.TotalBytes);
    }

    [Fact]
    public void Tried_bytes_reads_total_bytes_alone()
    {
        KernelRoots roots = Fixtures.Roots("linux-6.18");
        var reader = new DamonSysfsReader(LinuxKernelFs.Instance, roots);
        Assert.Equal(reader.ReadTriedRegions(0, 0, 1)!.TotalBytes, reader.ReadTriedBytes(0, 0, 1));
        Assert.Null(reader.ReadTriedBytes(0, 0, 99));
    }

    // "paths": the default interface method, through a file system that does not override it.
    private static IKernelDirectory Open(string implementation, string path) => implementation == "descriptor"
        ? LinuxKernelFs.Instance.OpenDirectory(path)
        : ((IKernelFs)new RecordingKernelFs(LinuxKernelFs.Instance)).OpenDirectory(path);
}
