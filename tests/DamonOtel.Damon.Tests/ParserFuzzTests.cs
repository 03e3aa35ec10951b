using System.Text;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Model;
using DamonOtel.Damon.Sysfs;
using DamonOtel.Damon.Tests.Support;
using DamonOtel.Damon.Tracefs;
using FsCheck;
using FsCheck.Fluent;

namespace DamonOtel.Damon.Tests;

/// <summary>
/// Fuzzing of everything that parses kernel text or bytes: whatever a file holds, the only
/// exceptions that escape are the project's (<see cref="KernelFormatException"/>,
/// <see cref="KernelIoException"/>), and they name the file. The trace readers, which run
/// for hours on one pipe, do not throw at all: they count what they cannot parse.
/// </summary>
public class ParserFuzzTests
{
    private const string File = "/sys/kernel/mm/damon/admin/kdamonds/0/some_file";

    // Text that looks like kernel output often enough to reach deep into the parsers.
    private static Gen<string> KernelText { get; } = Gen.OneOf(
        ArbMap.Default.GeneratorFor<string>().Select(s => s ?? string.Empty),
        Gen.Elements(
            string.Empty, "\n", "0\n", "-1\n", "18446744073709551615\n", "18446744073709551616\n", "4294967296\n", "-9223372036854775809\n",
            "+1\n", " 1\n", "1 \n", "0x10\n", "1e3\n", "NaN\n", "on\n", "off\n", "Y\n", "N\n", "maybe\n", "\0\0\0", "a b\n", "1,2,,3\n",
            "1 (comm) S 1 2 3\n", "1 (a) b) S" + string.Concat(Enumerable.Repeat(" 7", 50)), "00000000-0009ffff : System RAM\n", "ffff-0 : System RAM\n",
            "  00100000-bfffffff : System RAM\n", "x : System RAM\n", "0-ffffffffffffffff : System RAM\n"),
        Gen.Choose(0, 40).SelectMany(n => Gen.ArrayOf(Gen.Elements('0', '9', '-', '+', ' ', '\n', '\t', ':', '(', ')', ',', 'f', 'x', 'Y', '\0'), n)).Select(cs => new string(cs)));

    [Fact]
    public void Sysfs_and_procfs_parsers_throw_only_format_errors_naming_the_file()
    {
        Prop.ForAll(KernelText.ToArbitrary(), text =>
        {
            Action[] parsers =
            [
                () => SysfsParsers.ParseUnsigned(text, File),
                () => SysfsParsers.ParseSigned(text, File),
                () => SysfsParsers.ParseInt32(text, File),
                () => SysfsParsers.ParseUInt32(text, File),
                () => SysfsParsers.ParseBool(text, File),
                () => SysfsParsers.ParseKeyword(text, File),
                () => SysfsParsers.ParseKeywordLines(text, File),
                () => SysfsParsers.ParseSignedList(text, File),
                () => SysfsParsers.ParseProcStat(text, File),
                () => SysfsParsers.ParseStatmResidentPages(text, File),
                () => SysfsParsers.ParseIomemSystemRam(text, File),
                () =>
                {
                    // The allocation-free hot-path parser agrees with the text one.
                    if (SysfsParsers.TryParseUnsigned(Encoding.UTF8.GetBytes(text), out ulong v))
                    {
                        Assert.Equal(SysfsParsers.ParseUnsigned(text, File), v);
                    }
                },
            ];
            return parsers.All(p => OnlyKernelFormatErrors(p, File));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void The_admin_tree_reader_on_a_fixture_with_one_file_changed_throws_only_errors_naming_a_file()
    {
        string root = Fixtures.Dir("linux-6.18");
        string[] files = [.. Directory.EnumerateFiles(Path.Combine(root, "sys"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)];
        var cases = Gen.Choose(0, files.Length - 1).SelectMany(i => KernelText.Select(text => (File: files[i], Text: text)));
        Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var fs = new OverlayFs(LinuxKernelFs.Instance, c.File, c.Text);
            var reader = new DamonSysfsReader(fs, Fixtures.Roots("linux-6.18"), pidReadAttempts: 1);
            try
            {
                _ = reader.ReadTree(includeTriedRegions: true);
                _ = reader.ReadKdamondHeads();
                return true;
            }
            catch (KernelFormatException e)
            {
                // A value that breaks the ABI of its own file, or (start/end) of its pair.
                return e.Message.Contains(root, StringComparison.Ordinal) && !e.Message.Contains('\n', StringComparison.Ordinal);
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }

    [Fact]
    public void Trace_event_formats_and_ring_buffer_headers_throw_only_format_errors_naming_the_file()
    {
        string[] texts =
        [
            TraceFixtures.Text("format/damon_aggregated-6.18.format"), TraceFixtures.Text("format/damon_aggregated-7.3.format"),
            TraceFixtures.Text("format/header_page"), TraceFixtures.Text("format/header_event"),
        ];
        var mutated = Gen.Elements(texts).SelectMany(t => Mutations(t));
        Prop.ForAll(Gen.OneOf(mutated, KernelText).ToArbitrary(), text =>
            OnlyKernelFormatErrors(() => TraceEventFormat.Parse(text, "events/damon/damon_aggregated/format"), "events/damon/damon_aggregated/format")
            && OnlyKernelFormatErrors(() => RingBufferLayout.Parse(text, TraceFixtures.Text("format/header_event")), "events/header_page")
            && OnlyKernelFormatErrors(() => RingBufferLayout.Parse(TraceFixtures.Text("format/header_page"), text), "events/header_event"))
            .QuickCheckThrowOnFailure();
    }

    [Fact]
    public void The_text_trace_reader_counts_garbage_and_never_throws()
    {
        string good = TraceFixtures.Text("text/v7.3-events.txt");
        var chunks = Gen.OneOf(Mutations(good), KernelText, ArbMap.Default.GeneratorFor<byte[]>().Select(b => Encoding.Latin1.GetString(b ?? [])));
        Prop.ForAll(chunks.ToArbitrary(), text =>
        {
            using var reader = new TraceReader(new MemoryStream(), new AggregationAssembler(_ => new Intervals(5_000, 100_000, 1_000_000)));
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            // In pieces, as a pipe delivers them: a line may be split anywhere.
            for (int i = 0; i < bytes.Length; i += 7)
            {
                _ = reader.Feed(bytes.AsSpan(i, Math.Min(7, bytes.Length - i)), _ => { });
            }

            var ev = default(TraceEvent);
            _ = TraceLineParser.Parse(bytes, swappedIndices: false, ref ev);
            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void The_binary_page_parser_reports_garbage_pages_as_corrupt_and_never_throws()
    {
        RingBufferLayout layout = RingBufferLayout.Parse(TraceFixtures.Text("format/header_page"), TraceFixtures.Text("format/header_event"));
        var decoder = new DamonRawDecoder(TraceEventFormat.Parse(TraceFixtures.Text("format/damon_aggregated-6.18.format"), "6.18"));
        var pages = Gen.Choose(0, layout.PageSize + 64).SelectMany(n => Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), n));
        Prop.ForAll(pages.ToArbitrary(), page =>
        {
            var sink = new TraceRawTests.CollectingSink(decoder);
            _ = layout.ParsePage(page, ref sink);
            var assembler = new AggregationAssembler(_ => new Intervals(5_000, 100_000, 1_000_000));
            _ = decoder.ProcessPage(page, layout, assembler, _ => { });
            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void The_assembler_takes_any_event_sequence_and_only_completes_well_formed_snapshots()
    {
        var u64 = Gen.OneOf(Gen.Elements(0UL, 1UL, 4096UL, uint.MaxValue, ulong.MaxValue), Gen.Choose(0, 1 << 20).Select(i => (ulong)i << 12));
        var events = Gen.Zip(Gen.Zip(Gen.Elements(1, 2, 3), Gen.Elements(0UL, 1UL)), Gen.Zip(Gen.Elements(0u, 1u, 2u, 3u, uint.MaxValue), Gen.Zip(u64, u64)))
            .Select(t => (Pid: t.Item1.Item1, Target: t.Item1.Item2, NrRegions: t.Item2.Item1, Start: t.Item2.Item2.Item1, End: t.Item2.Item2.Item2));
        Prop.ForAll(Gen.ListOf(events).ToArbitrary(), list =>
        {
            var assembler = new AggregationAssembler(_ => new Intervals(5_000, 100_000, 1_000_000));
            assembler.SetPidMap(new Dictionary<int, int> { [1] = 0, [2] = 1 });
            bool wellFormed = true;
            ulong ts = 0;
            foreach ((int pid, ulong target, uint nr, ulong start, ulong end) in list)
            {
                // nr_regions of 2^32-1 is garbage a corrupt page can hold: it must not allocate for it.
                RegionSnapshot? s = assembler.AddRegion(pid, ts++, target, nr, new DamonRegion(start, end, 1, 1));
                wellFormed &= s is null || s.Regions.All(r => r.End >= r.Start);
            }

            return wellFormed;
        }).QuickCheckThrowOnFailure();
    }

    private static bool OnlyKernelFormatErrors(Action parse, string file)
    {
        try
        {
            parse();
            return true;
        }
        catch (KernelFormatException e)
        {
            return e.Message.Contains(file, StringComparison.Ordinal) && !e.Message.Contains('\n', StringComparison.Ordinal);
        }
    }

    private static bool OnlyKernelFormatErrors<T>(Func<T> parse, string file) => OnlyKernelFormatErrors(() => { _ = parse(); }, file);

    /// <summary>A real file with a few characters deleted, inserted or replaced, or lines dropped or repeated.</summary>
    internal static Gen<string> Mutations(string text) =>
        Gen.ListOf(Gen.Zip(Gen.Zip(Gen.Choose(0, 4), Gen.Choose(0, Math.Max(0, text.Length - 1))), Gen.Elements(' ', '\n', '\t', ':', ';', '0', '9', '-', 'x', '[', '\0'))).Select(edits =>
        {
            var sb = new StringBuilder(text);
            foreach (((int kind, int at), char c) in edits)
            {
                int i = Math.Min(at, Math.Max(0, sb.Length - 1));
                switch (kind)
                {
                    case 0 when sb.Length > 0:
                        sb.Remove(i, 1);
                        break;
                    case 1:
                        sb.Insert(i, c);
                        break;
                    case 2 when sb.Length > 0:
                        sb[i] = c;
                        break;
                    case 3:
                        string s = sb.ToString();
                        int lineEnd = s.IndexOf('\n', i);
                        sb.Insert(lineEnd < 0 ? s.Length : lineEnd + 1, s[i..(lineEnd < 0 ? s.Length : lineEnd + 1)]);
                        break;
                    default:
                        sb.Length = i;
                        break;
                }
            }

            return sb.ToString();
        });

    /// <summary>A real tree with one file's content replaced.</summary>
    private sealed class OverlayFs(IKernelFs inner, string changed, string content) : IKernelFs
    {
        public string ReadText(string path) => path == changed ? content : inner.ReadText(path);

        public int ReadBytes(string path, Span<byte> buffer)
        {
            if (path != changed)
            {
                return inner.ReadBytes(path, buffer);
            }

            byte[] b = Encoding.UTF8.GetBytes(content);
            int n = Math.Min(b.Length, buffer.Length);
            b.AsSpan(0, n).CopyTo(buffer);
            return n;
        }

        public void WriteText(string path, string text) => throw new InvalidOperationException("readers never write");

        public IReadOnlyList<string> ListDirectory(string path) => inner.ListDirectory(path);

        public bool FileExists(string path) => inner.FileExists(path);

        public bool DirectoryExists(string path) => inner.DirectoryExists(path);

        public void CreateDirectory(string path) => throw new InvalidOperationException("readers never write");

        public void RemoveDirectory(string path) => throw new InvalidOperationException("readers never write");

        public Stream OpenPipe(string path) => inner.OpenPipe(path);
    }
}
