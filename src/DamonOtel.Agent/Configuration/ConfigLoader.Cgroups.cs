using DamonOtel.Damon.Cgroups;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Configuration;

// kdamonds[i].page_sampling and kdamonds[i].cgroups (paddr only): docs/configuration.md.
internal static partial class ConfigLoader
{
    private static PageSamplingConfig ReadPageSampling(YamlNodeReader k, string ops)
    {
        var d = new PageSamplingConfig();
        if (k.Has("page_sampling") && ops != "paddr")
        {
            k.Error(k.Raw("page_sampling"), "page_sampling", $"applies to operations: paddr only (this kdamond is {ops})");
        }

        YamlNodeReader p = k.Mapping("page_sampling");
        var result = new PageSamplingConfig
        {
            Samples = (int)(p.Integer("samples", PageSamplingConfig.MinSamples, PageSamplingConfig.MaxSamples) ?? d.Samples),
            MinPerRegion = (int)(p.Integer("min_per_region", 1, 1_000) ?? d.MinPerRegion),
            ExcludeFree = p.Keyword("free_pages", "exclude", "exclude", "include") == "exclude",
        };
        p.RejectUnknownKeys();
        return result;
    }

    private static CgroupsConfig? ReadCgroups(YamlNodeReader k, string ops)
    {
        if (!k.Has("cgroups"))
        {
            _ = k.Raw("cgroups"); // known key
            return null;
        }

        if (ops != "paddr")
        {
            k.Error(k.Raw("cgroups"), "cgroups", $"applies to operations: paddr only (per-cgroup figures come from physical pages; this kdamond is {ops})");
        }

        YamlNodeReader c = k.Mapping("cgroups");
        string? root = c.String("root");
        if (root is not null && !root.StartsWith('/'))
        {
            c.Error(c.Raw("root"), "root", $"'{root}' is not an absolute path (the cgroup2 mount, e.g. /sys/fs/cgroup)");
        }

        var globs = new List<string>();
        foreach ((string name, YamlNode node) in StringOrList(c, "preset"))
        {
            if (CgroupPresets.Globs(name) is { } presetGlobs)
            {
                globs.AddRange(presetGlobs);
            }
            else
            {
                c.Error(node, "preset", $"'{name}' is not one of: {string.Join(", ", CgroupPresets.Names)}");
            }
        }

        foreach ((string glob, YamlNode node) in c.ScalarList("match") ?? [])
        {
            if (CgroupPathProblem(glob) is string problem)
            {
                c.Error(node, "match", problem);
            }
            else
            {
                globs.Add(glob.Trim('/'));
            }
        }

        var paths = new List<string>();
        foreach ((string path, YamlNode node) in c.ScalarList("paths") ?? [])
        {
            if (CgroupPathProblem(path) is string problem)
            {
                c.Error(node, "paths", problem);
            }
            else if (path.Contains('*', StringComparison.Ordinal) || path.Contains('?', StringComparison.Ordinal))
            {
                c.Error(node, "paths", $"'{path}' has wildcards: put globs under 'match'");
            }
            else
            {
                paths.Add("/" + path.Trim('/'));
            }
        }

        if (!c.Has("preset") && !c.Has("paths") && !c.Has("match"))
        {
            k.Error(k.Raw("cgroups"), "cgroups", "selects no cgroup: give a preset, paths or match globs");
        }

        TimeSpan? rediscover = c.Duration("rediscover");
        if (rediscover is { } r && (r < TimeSpan.FromSeconds(1) || r > TimeSpan.FromDays(1)))
        {
            c.Error(c.Raw("rediscover"), "rediscover", "must be between 1s and 1d");
        }

        var result = new CgroupsConfig
        {
            Root = root?.TrimEnd('/') is { Length: > 0 } trimmed ? trimmed : root,
            Paths = paths,
            Match = [.. globs.Distinct(StringComparer.Ordinal)],
            Max = (int)(c.Integer("max", 1, CgroupsConfig.MaxMax) ?? CgroupsConfig.DefaultMax),
            Rediscover = rediscover ?? CgroupsConfig.DefaultRediscover,
            IdleBucketsSeconds = IdleBucketList(c, "idle_buckets") ?? CgroupsConfig.DefaultIdleBucketsSeconds,
            Percentiles = PercentileList(c, "percentiles") ?? CgroupsConfig.DefaultPercentiles,
        };
        c.RejectUnknownKeys();
        return result;
    }

    // A path or glob below the cgroup2 mount: no empty, "." or ".." segments.
    private static string? CgroupPathProblem(string path)
    {
        string[] segments = path.Trim('/').Split('/');
        if (path.Trim('/').Length == 0)
        {
            return $"'{path}' is the mount itself: name a cgroup below it";
        }

        return segments.Any(s => s is "" or "." or "..")
            ? $"'{path}' has an empty, '.' or '..' segment (paths are relative to cgroups.root)"
            : null;
    }

    // `preset: kubernetes-pods` or `preset: [kubernetes-pods, kubernetes-containers]`.
    private static IReadOnlyList<(string Value, YamlNode Node)> StringOrList(YamlNodeReader r, string key)
    {
        YamlNode? raw = r.Raw(key);
        if (raw is YamlScalarNode { Value: { Length: > 0 } v } s)
        {
            return [(v, s)];
        }

        return raw is null ? [] : r.ScalarList(key) ?? [];
    }
}
