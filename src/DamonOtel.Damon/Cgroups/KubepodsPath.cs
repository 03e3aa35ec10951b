namespace DamonOtel.Damon.Cgroups;

/// <summary>Kubernetes identity parsed from a cgroup path: pod UID, QoS class, container id.</summary>
public readonly record struct KubepodsIdentity(string PodUid, string QosClass, string? ContainerId);

/// <summary>
/// Parses the kubelet's cgroup layouts (cgroup v2), for both cgroup drivers:
/// <list type="bullet">
/// <item>cgroupfs: <c>kubepods/burstable/pod&lt;uid&gt;/&lt;container id&gt;</c>,
/// <c>kubepods/besteffort/pod&lt;uid&gt;/...</c>, guaranteed pods directly under <c>kubepods/pod&lt;uid&gt;</c>;</item>
/// <item>systemd: <c>kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod&lt;uid with '_'&gt;.slice/cri-containerd-&lt;id&gt;.scope</c>
/// (also <c>crio-&lt;id&gt;.scope</c>, <c>docker-&lt;id&gt;.scope</c>), guaranteed pods as <c>kubepods.slice/kubepods-pod&lt;uid&gt;.slice</c>.</item>
/// </list>
/// The UID is returned with dashes (as <c>kube_pod_info{uid}</c> has it); the container id is
/// the runtime's 64-hex id (as <c>kube_pod_container_info{container_id}</c> has it after the
/// <c>&lt;runtime&gt;://</c> prefix). Anything else (the pod's own cgroup, conmon scopes) has no container id.
/// </summary>
public static class KubepodsPath
{
    public static bool TryParse(string relativePath, out KubepodsIdentity identity)
    {
        identity = default;
        string[] segs = relativePath.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < segs.Length; i++)
        {
            if (!TryPodSegment(segs[i], out string uid))
            {
                continue;
            }

            string qos = "guaranteed";
            if (i > 0)
            {
                string parent = segs[i - 1];
                if (parent.Contains("burstable", StringComparison.Ordinal))
                {
                    qos = "burstable";
                }
                else if (parent.Contains("besteffort", StringComparison.Ordinal))
                {
                    qos = "besteffort";
                }
            }

            string? container = i + 1 < segs.Length ? ContainerId(segs[i + 1]) : null;
            identity = new KubepodsIdentity(uid, qos, container);
            return true;
        }

        return false;
    }

    private static bool TryPodSegment(string seg, out string uid)
    {
        uid = "";
        ReadOnlySpan<char> s = seg;
        if (s.EndsWith(".slice", StringComparison.Ordinal))
        {
            // kubepods-pod<uid>.slice or kubepods-<qos>-pod<uid>.slice; systemd escapes '-' in the UID as '_'.
            int at = s.LastIndexOf("-pod", StringComparison.Ordinal);
            if (at < 0 || !s.StartsWith("kubepods", StringComparison.Ordinal))
            {
                return false;
            }

            s = s[(at + 4)..^6];
            if (!IsUid(s, '_'))
            {
                return false;
            }

            uid = s.ToString().Replace('_', '-');
            return true;
        }

        if (s.StartsWith("pod", StringComparison.Ordinal) && IsUid(s[3..], '-'))
        {
            uid = s[3..].ToString();
            return true;
        }

        return false;
    }

    // 8-4-4-4-12 hex digits with the given separator.
    private static bool IsUid(ReadOnlySpan<char> s, char sep)
    {
        if (s.Length != 36)
        {
            return false;
        }

        for (int i = 0; i < s.Length; i++)
        {
            bool dash = i is 8 or 13 or 18 or 23;
            if (dash ? s[i] != sep : !char.IsAsciiHexDigit(s[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static string? ContainerId(string seg)
    {
        ReadOnlySpan<char> s = seg;
        if (s.EndsWith(".scope", StringComparison.Ordinal))
        {
            s = s[..^6];
            if (s.StartsWith("crio-conmon-", StringComparison.Ordinal))
            {
                return null;
            }

            int dash = s.LastIndexOf('-');
            s = dash >= 0 ? s[(dash + 1)..] : s;
        }

        return s.Length == 64 && IsHex(s) ? s.ToString() : null;
    }

    private static bool IsHex(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiHexDigitLower(c))
            {
                return false;
            }
        }

        return true;
    }
}
