namespace DamonOtel.Damon.Cgroups;

/// <summary>
/// Named glob sets for the kubelet's cgroup layouts (cgroup v2, both cgroup drivers; see
/// <see cref="KubepodsPath"/>). The topmost match wins, so a pod's containers fold into the pod.
/// </summary>
public static class CgroupPresets
{
    /// <summary>One cgroup per pod: its containers' memory summed.</summary>
    public static IReadOnlyList<string> KubernetesPods { get; } =
    [
        "kubepods.slice/kubepods-*.slice/kubepods-*-pod*.slice", // systemd driver: burstable, besteffort
        "kubepods.slice/kubepods-pod*.slice",                     // systemd driver: guaranteed
        "kubepods/*/pod*",                                        // cgroupfs driver: burstable, besteffort
        "kubepods/pod*",                                          // cgroupfs driver: guaranteed
    ];

    /// <summary>One cgroup per container (the runtime's scope or directory under its pod).</summary>
    public static IReadOnlyList<string> KubernetesContainers { get; } =
    [
        "kubepods.slice/kubepods-*.slice/kubepods-*-pod*.slice/*.scope",
        "kubepods.slice/kubepods-pod*.slice/*.scope",
        "kubepods/*/pod*/*",
        "kubepods/pod*/*",
    ];

    /// <summary>Names accepted in the config's <c>cgroups.preset</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["kubernetes-pods", "kubernetes-containers"];

    /// <summary>The globs of a preset, or null for an unknown name.</summary>
    public static IReadOnlyList<string>? Globs(string name) => name switch
    {
        "kubernetes-pods" => KubernetesPods,
        "kubernetes-containers" => KubernetesContainers,
        _ => null,
    };
}
