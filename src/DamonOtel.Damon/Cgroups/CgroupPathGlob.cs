namespace DamonOtel.Damon.Cgroups;

/// <summary>
/// A glob over cgroup paths relative to the cgroup2 mount, segment by segment: <c>*</c> and
/// <c>?</c> match inside one segment, a <c>**</c> segment matches any number of segments
/// (including none). Examples: <c>kubepods.slice/*/kubepods-*-pod*.slice</c>,
/// <c>kubepods/**/pod*</c>, <c>system.slice/*.service</c>.
/// </summary>
public sealed class CgroupPathGlob
{
    private readonly string[] segments;

    public CgroupPathGlob(string pattern)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        segments = pattern.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
        {
            throw new ArgumentException("a cgroup glob needs at least one path segment", nameof(pattern));
        }

        Pattern = pattern;
    }

    public string Pattern { get; }

    /// <summary>Whether a relative path (segments separated by '/', no leading '/') matches.</summary>
    public bool IsMatch(string relativePath)
    {
        string[] path = relativePath.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        return MatchFrom(0, path, 0);
    }

    /// <summary>
    /// Whether some descendant of <paramref name="relativePath"/> could still match: lets the
    /// discovery walk skip subtrees (e.g. everything outside kubepods) without listing them.
    /// </summary>
    public bool CouldMatchBelow(string relativePath)
    {
        string[] path = relativePath.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        return PrefixFrom(0, path, 0);
    }

    private bool MatchFrom(int si, string[] path, int pi)
    {
        if (si == segments.Length)
        {
            return pi == path.Length;
        }

        if (segments[si] == "**")
        {
            for (int skip = pi; skip <= path.Length; skip++)
            {
                if (MatchFrom(si + 1, path, skip))
                {
                    return true;
                }
            }

            return false;
        }

        return pi < path.Length && SegmentMatches(segments[si], path[pi]) && MatchFrom(si + 1, path, pi + 1);
    }

    // True when path is a proper prefix of something the glob can match.
    private bool PrefixFrom(int si, string[] path, int pi)
    {
        if (pi == path.Length)
        {
            return si < segments.Length;
        }

        if (si == segments.Length)
        {
            return false;
        }

        if (segments[si] == "**")
        {
            return true;
        }

        return SegmentMatches(segments[si], path[pi]) && PrefixFrom(si + 1, path, pi + 1);
    }

    internal static bool SegmentMatches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        // Iterative wildcard match with one backtrack point per '*' (linear in practice).
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
