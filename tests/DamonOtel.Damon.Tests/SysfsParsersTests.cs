using System.Globalization;
using System.Text;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using FsCheck;
using FsCheck.Fluent;

namespace DamonOtel.Damon.Tests;

public class SysfsParsersTests
{
    private const string P = "/x/kdamonds/0/pid";

    [Theory]
    [InlineData("0\n", 0UL)]
    [InlineData("5000\n", 5000UL)]
    [InlineData("18446744073709551615\n", ulong.MaxValue)]
    [InlineData("42", 42UL)]
    public void ParseUnsigned_reads_kernel_decimals(string text, ulong expected) =>
        Assert.Equal(expected, SysfsParsers.ParseUnsigned(text, P));

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("-1\n")]
    [InlineData("+5\n")]
    [InlineData("0x10\n")]
    [InlineData(" 5\n")]
    [InlineData("5 6\n")]
    [InlineData("18446744073709551616\n")]
    [InlineData("on\n")]
    public void ParseUnsigned_rejects_garbage_naming_the_path(string text)
    {
        KernelFormatException e = Assert.Throws<KernelFormatException>(() => SysfsParsers.ParseUnsigned(text, P));
        Assert.Equal(P, e.Path);
        Assert.StartsWith(P + ": expected an unsigned decimal number", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1\n", -1L)]
    [InlineData("77\n", 77L)]
    [InlineData("-9223372036854775808\n", long.MinValue)]
    public void ParseSigned_reads_negative_values(string text, long expected) =>
        Assert.Equal(expected, SysfsParsers.ParseSigned(text, P));

    [Theory]
    [InlineData("Y\n", true)]
    [InlineData("N\n", false)]
    [InlineData("1", true)]
    [InlineData("0\n", false)]
    public void ParseBool_reads_kernel_booleans(string text, bool expected) =>
        Assert.Equal(expected, SysfsParsers.ParseBool(text, P));

    [Fact]
    public void ParseBool_rejects_words() =>
        Assert.Throws<KernelFormatException>(() => SysfsParsers.ParseBool("yes\n", P));

    [Fact]
    public void ParseKeyword_trims_newline_and_rejects_two_words()
    {
        Assert.Equal("paddr", SysfsParsers.ParseKeyword("paddr\n", P));
        Assert.Throws<KernelFormatException>(() => SysfsParsers.ParseKeyword("paddr vaddr\n", P));
        Assert.Throws<KernelFormatException>(() => SysfsParsers.ParseKeyword("\n", P));
    }

    [Fact]
    public void ParseKeywordLines_reads_avail_operations() =>
        Assert.Equal(["vaddr", "fvaddr", "paddr"], SysfsParsers.ParseKeywordLines("vaddr\nfvaddr\npaddr\n", P));

    [Fact]
    public void ParseSignedList_reads_damon_stat_percentiles()
    {
        long[] v = SysfsParsers.ParseSignedList("-4000,-2000,0,15,2000\n", P);
        Assert.Equal([-4000L, -2000L, 0L, 15L, 2000L], v);
        KernelFormatException e = Assert.Throws<KernelFormatException>(() => SysfsParsers.ParseSignedList("1,,3\n", P));
        Assert.Contains("item 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseProcStat_counts_fields_after_the_last_paren()
    {
        // comm "a) (b c" contains spaces and parens; utime 250 + stime 130 ticks = 380 / 100 Hz = 3.8 s.
        ProcCpuTicks t = SysfsParsers.ParseProcStat("4321 (a) (b c) R 1 4321 4321 0 -1 4194304 100 0 0 0 250 130 0 0 20 0 1 0 5000\n", P);
        Assert.Equal("a) (b c", t.Comm);
        Assert.Equal(250UL, t.UtimeTicks);
        Assert.Equal(130UL, t.StimeTicks);
        Assert.Equal(3.8, t.CpuSeconds, 9);
    }

    [Fact]
    public void ParseProcStat_rejects_truncated_lines() =>
        Assert.Throws<KernelFormatException>(() => SysfsParsers.ParseProcStat("1 (init) S 0 1 1\n", P));

    [Theory]
    [InlineData("2621 2560 300 10 0 1500 0\n", 2560UL)]
    [InlineData("2718 1234 567 8 0 900 0\n", 1234UL)]
    [InlineData("99 7 1 1 0 5 0", 7UL)]
    public void ParseStatm_takes_the_resident_field(string statm, ulong pages) =>
        Assert.Equal(pages, SysfsParsers.ParseStatmResidentPages(statm, P));

    [Theory]
    [InlineData("")]
    [InlineData("123")]
    [InlineData("12 x 3")]
    public void ParseStatm_rejects_a_line_without_a_resident_field(string statm) =>
        Assert.Throws<KernelFormatException>(() => SysfsParsers.ParseStatmResidentPages(statm, P));

    [Fact]
    public void ParseIomem_keeps_top_level_system_ram_with_exclusive_ends()
    {
        const string iomem = "00000000-00000fff : Reserved\n"
            + "00001000-0009fbff : System RAM\n"
            + "00100000-bffdffff : System RAM\n"
            + "  01000000-01ffffff : Kernel code\n"
            + "  1fe00000-1fffffff : System RAM\n"
            + "100000000-1efffffff : System RAM\n";
        IReadOnlyList<AddressRange> r = SysfsParsers.ParseIomemSystemRam(iomem, "/proc/iomem");
        // 0x9fbff + 1 = 0x9fc00 = 654336; 0xbffdffff + 1 = 0xbffe0000 = 3221094400; 0x1efffffff + 1 = 0x1f0000000 = 8321499136.
        Assert.Equal([new AddressRange(0x1000, 654336), new AddressRange(0x100000, 3221094400), new AddressRange(4294967296, 8321499136)], r);
        Assert.Equal(new AddressRange(4096, 8321499136), SysfsParsers.WholeSpan(r));
        // sizes: 650240, 3220045824, 4026531840 -> the last one is the largest.
        Assert.Equal(new AddressRange(4294967296, 8321499136), SysfsParsers.LargestBlock(r));
    }

    [Fact]
    public void ParseIomem_skips_zeroed_lines_of_unprivileged_readers()
    {
        IReadOnlyList<AddressRange> r = SysfsParsers.ParseIomemSystemRam("00000000-00000000 : System RAM\n00000000-00000000 : Reserved\n", "/proc/iomem");
        Assert.Empty(r);
        Assert.Null(SysfsParsers.WholeSpan(r));
        Assert.Null(SysfsParsers.LargestBlock(r));
    }

    [Fact]
    public void ParseIomem_names_the_bad_line()
    {
        KernelFormatException e = Assert.Throws<KernelFormatException>(() =>
            SysfsParsers.ParseIomemSystemRam("00001000-0009fbff : System RAM\nzz-yy : System RAM\n", "/proc/iomem"));
        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("123\n", true, 123UL)]
    [InlineData("0", true, 0UL)]
    [InlineData("+1\n", false, 0UL)]
    [InlineData("-1\n", false, 0UL)]
    [InlineData("\n", false, 0UL)]
    [InlineData("12a\n", false, 0UL)]
    public void TryParseUnsigned_utf8(string text, bool ok, ulong expected)
    {
        Assert.Equal(ok, SysfsParsers.TryParseUnsigned(Encoding.ASCII.GetBytes(text), out ulong v));
        if (ok)
        {
            Assert.Equal(expected, v);
        }
    }

    [Fact]
    public void Property_any_ulong_round_trips_through_decimal_text_and_utf8() =>
        Prop.ForAll<ulong>(x =>
        {
            string text = x.ToString(CultureInfo.InvariantCulture) + "\n";
            return SysfsParsers.ParseUnsigned(text, P) == x
                && SysfsParsers.TryParseUnsigned(Encoding.ASCII.GetBytes(text), out ulong y) && y == x;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Property_any_long_round_trips_as_signed() =>
        Prop.ForAll<long>(x => SysfsParsers.ParseSigned(x.ToString(CultureInfo.InvariantCulture) + "\n", P) == x)
            .QuickCheckThrowOnFailure();

    [Fact]
    public void Property_text_with_a_non_digit_is_rejected()
    {
        // Any string containing at least one character that is not a digit (after the trailing-whitespace trim).
        Gen<string> garbage =
            from prefix in Gen.Choose(0, 999999)
            from bad in Gen.Elements('a', 'x', '-', '+', '.', ',', ' ', 'Y', '\t', '/')
            from suffix in Gen.Choose(0, 999)
            select prefix.ToString(CultureInfo.InvariantCulture) + bad + suffix.ToString(CultureInfo.InvariantCulture);
        Prop.ForAll(garbage.ToArbitrary(), s =>
        {
            bool threw = false;
            try
            {
                SysfsParsers.ParseUnsigned(s, P);
            }
            catch (KernelFormatException)
            {
                threw = true;
            }

            return threw && !SysfsParsers.TryParseUnsigned(Encoding.ASCII.GetBytes(s), out _);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Property_percentile_lists_round_trip() =>
        Prop.ForAll<long[]>(values =>
        {
            string text = string.Join(",", values.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "\n";
            return SysfsParsers.ParseSignedList(text, P).SequenceEqual(values);
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Property_iomem_ranges_come_back_sorted_and_exclusive()
    {
        Gen<(ulong Start, ulong Len)[]> blocks = Gen.ArrayOf(
            from s in Gen.Choose(1, 1 << 20)
            from l in Gen.Choose(1, 1 << 20)
            select ((ulong)s << 12, (ulong)l << 12));
        Prop.ForAll(blocks.ToArbitrary(), bs =>
        {
            var sb = new StringBuilder();
            foreach ((ulong start, ulong len) in bs)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{start:x8}-{start + len - 1:x8} : System RAM\n");
                sb.Append(CultureInfo.InvariantCulture, $"  {start:x8}-{start + len - 1:x8} : Kernel code\n");
            }

            IReadOnlyList<AddressRange> r = SysfsParsers.ParseIomemSystemRam(sb.ToString(), "/proc/iomem");
            bool sorted = r.Zip(r.Skip(1), (a, b) => a.Start <= b.Start).All(x => x);
            bool sizes = r.Select(x => x.Size).Order().SequenceEqual(bs.Select(b => b.Len).Order());
            return r.Count == bs.Length && sorted && sizes;
        }).QuickCheckThrowOnFailure();
    }
}
