using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Damon.Tests.Support;

internal enum FakeKernel
{
    V5_18,
    V6_12,
    V6_18,
}

/// <summary>
/// An in-memory DAMON admin tree that behaves like the kernel for writes of nr_* files
/// (children recreated with the kernel's defaults, per kernel version) and records every
/// write in order, relative to kdamonds/. Only for writer tests; readers use fixtures.
/// </summary>
internal sealed class FakeDamonFs : InMemoryKernelFs
{
    private readonly FakeKernel kernel;

    public FakeDamonFs(FakeKernel kernel, int kdamonds = 1)
    {
        this.kernel = kernel;
        Roots = KernelRoots.Under("/fake");
        AddDir(Roots.Kdamonds);
        Put(Path.Combine(Roots.Kdamonds, "nr_kdamonds"), "0");
        WriteText(Path.Combine(Roots.Kdamonds, "nr_kdamonds"), kdamonds.ToString(CultureInfo.InvariantCulture));
        Writes.Clear();
    }

    public KernelRoots Roots { get; }

    /// <summary>(path relative to kdamonds/, value) in write order.</summary>
    public List<(string Path, string Value)> Writes { get; } = [];

    public string this[string relative] => files[Path.Combine(Roots.Kdamonds, relative)].TrimEnd('\n');

    protected override void Write(string path, string text)
    {
        Writes.Add((Path.GetRelativePath(Roots.Kdamonds, path), text));
        string name = Path.GetFileName(path);
        if (name.StartsWith("nr_", StringComparison.Ordinal) && Path.GetFileName(Path.GetDirectoryName(path)!) != "nr_regions")
        {
            int n = int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
            Recreate(Path.GetDirectoryName(path)!, name, n);
        }

        files[path] = text.EndsWith('\n') ? text : text + "\n";
    }

    public override void CreateDirectory(string path) => throw new NotSupportedException("DAMON sysfs has no mkdir");

    public override void RemoveDirectory(string path) => throw new NotSupportedException("DAMON sysfs has no rmdir");

    public override Stream OpenPipe(string path) => throw new NotSupportedException();

    private void Recreate(string dir, string nrFile, int n)
    {
        foreach (string child in dirs.Where(d => IsNumericChild(dir, d)).ToList())
        {
            RemoveTree(child);
        }

        for (int i = 0; i < n; i++)
        {
            string c = Path.Combine(dir, i.ToString(CultureInfo.InvariantCulture));
            AddDir(c);
            Populate(c, nrFile);
        }
    }

    private static bool IsNumericChild(string dir, string candidate) =>
        Path.GetDirectoryName(candidate) == dir && int.TryParse(Path.GetFileName(candidate), NumberStyles.None, CultureInfo.InvariantCulture, out _);

    private bool AtLeast(FakeKernel v) => kernel >= v;

    private void Populate(string c, string nrFile)
    {
        switch (nrFile)
        {
            case "nr_kdamonds":
                Put(c, "state", "off");
                Put(c, "pid", "-1");
                PutIf(AtLeast(FakeKernel.V6_18), c, "refresh_ms", "0");
                Put(c, "contexts/nr_contexts", "0");
                break;
            case "nr_contexts":
                PutIf(AtLeast(FakeKernel.V6_12), c, "avail_operations", AtLeast(FakeKernel.V6_18) ? "paddr\n" : "vaddr\nfvaddr\npaddr\n");
                Put(c, "operations", "vaddr");
                PutIf(AtLeast(FakeKernel.V6_18), c, "addr_unit", "1");
                Put(c, "monitoring_attrs/intervals/sample_us", "5000");
                Put(c, "monitoring_attrs/intervals/aggr_us", "100000");
                Put(c, "monitoring_attrs/intervals/update_us", "60000000");
                if (AtLeast(FakeKernel.V6_18))
                {
                    foreach (string f in new[] { "access_bp", "aggrs", "min_sample_us", "max_sample_us" })
                    {
                        Put(c, "monitoring_attrs/intervals/intervals_goal/" + f, "0");
                    }
                }

                Put(c, "monitoring_attrs/nr_regions/min", "10");
                Put(c, "monitoring_attrs/nr_regions/max", "1000");
                Put(c, "targets/nr_targets", "0");
                Put(c, "schemes/nr_schemes", "0");
                break;
            case "nr_targets":
                Put(c, "pid_target", "0");
                Put(c, "regions/nr_regions", "0");
                break;
            case "nr_regions":
                Put(c, "start", "0");
                Put(c, "end", "0");
                break;
            case "nr_schemes":
                Put(c, "action", "stat");
                PutIf(AtLeast(FakeKernel.V6_12), c, "apply_interval_us", "0");
                PutIf(AtLeast(FakeKernel.V6_12), c, "target_nid", "-1");
                foreach (string k in new[] { "sz", "nr_accesses", "age" })
                {
                    Put(c, $"access_pattern/{k}/min", "0");
                    Put(c, $"access_pattern/{k}/max", "0");
                }

                Put(c, "quotas/ms", "0");
                Put(c, "quotas/bytes", "0");
                Put(c, "quotas/reset_interval_ms", "0");
                PutIf(AtLeast(FakeKernel.V6_12), c, "quotas/effective_bytes", "0");
                Put(c, "quotas/weights/sz_permil", "0");
                Put(c, "quotas/weights/nr_accesses_permil", "0");
                Put(c, "quotas/weights/age_permil", "0");
                PutIf(AtLeast(FakeKernel.V6_12), c, "quotas/goals/nr_goals", "0");
                Put(c, "watermarks/metric", "none");
                foreach (string k in new[] { "interval_us", "high", "mid", "low" })
                {
                    Put(c, "watermarks/" + k, "0");
                }

                PutIf(AtLeast(FakeKernel.V6_12), c, "filters/nr_filters", "0");
                PutIf(AtLeast(FakeKernel.V6_18), c, "core_filters/nr_filters", "0");
                PutIf(AtLeast(FakeKernel.V6_18), c, "ops_filters/nr_filters", "0");
                PutIf(AtLeast(FakeKernel.V6_18), c, "dests/nr_dests", "0");
                foreach (string k in new[] { "nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds" })
                {
                    Put(c, "stats/" + k, "0");
                }

                PutIf(AtLeast(FakeKernel.V6_18), c, "stats/sz_ops_filter_passed", "0");
                PutIf(AtLeast(FakeKernel.V6_12), c, "tried_regions/total_bytes", "0");
                break;
            case "nr_goals":
                PutIf(AtLeast(FakeKernel.V6_12), c, "target_metric", "user_input");
                Put(c, "target_value", "0");
                Put(c, "current_value", "0");
                PutIf(AtLeast(FakeKernel.V6_18), c, "nid", "-1");
                break;
            case "nr_filters":
                Put(c, "type", "anon");
                Put(c, "matching", "N");
                PutIf(AtLeast(FakeKernel.V6_18), c, "allow", "N");
                Put(c, "memcg_path", string.Empty);
                Put(c, "addr_start", "0");
                Put(c, "addr_end", "0");
                Put(c, "damon_target_idx", "0");
                PutIf(AtLeast(FakeKernel.V6_18), c, "min", "0");
                PutIf(AtLeast(FakeKernel.V6_18), c, "max", "0");
                break;
            case "nr_dests":
                Put(c, "id", "0");
                Put(c, "weight", "0");
                break;
            default:
                throw new InvalidOperationException("unknown nr file " + nrFile);
        }
    }

    private void PutIf(bool condition, string dir, string rel, string value)
    {
        if (condition)
        {
            Put(dir, rel, value);
        }
    }

    private void Put(string dir, string rel, string value) => Put(Path.Combine(dir, rel), value);

    private void Put(string path, string value)
    {
        AddDir(Path.GetDirectoryName(path)!);
        files[path] = value.EndsWith('\n') ? value : value + "\n";
    }

    private void AddDir(string dir)
    {
        while (dir.Length > 1 && dirs.Add(dir))
        {
            dir = Path.GetDirectoryName(dir)!;
        }
    }
}
