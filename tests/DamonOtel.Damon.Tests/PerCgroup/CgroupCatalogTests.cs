using DamonOtel.Damon.Cgroups;

namespace DamonOtel.Damon.Tests.PerCgroup;

/// <summary>Which cgroups are reported: globs, presets for both kubelet drivers, the cap, Kubernetes identity.</summary>
public class CgroupCatalogTests
{
    private const string Uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    private const string Uid2 = "1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    private const string Uid3 = "2f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    private const string Cid = "3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
    private const string Cid2 = "4f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

    [Theory]
    [InlineData("kubepods/burstable/pod" + Uid + "/" + Cid, "burstable", Cid)]
    [InlineData("kubepods/besteffort/pod" + Uid, "besteffort", null)]
    [InlineData("kubepods/pod" + Uid + "/" + Cid, "guaranteed", Cid)]
    [InlineData("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-" + Cid + ".scope", "burstable", Cid)]
    [InlineData("kubepods.slice/kubepods-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/crio-" + Cid + ".scope", "guaranteed", Cid)]
    [InlineData("kubepods.slice/kubepods-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/crio-conmon-" + Cid + ".scope", "guaranteed", null)]
    public void Kubepods_paths_of_both_drivers_give_uid_qos_and_container(string path, string qos, string? container)
    {
        Assert.True(KubepodsPath.TryParse(path, out KubepodsIdentity id));
        Assert.Equal(Uid, id.PodUid);
        Assert.Equal(qos, id.QosClass);
        Assert.Equal(container, id.ContainerId);
    }

    [Theory]
    [InlineData("system.slice/nginx.service")]
    [InlineData("kubepods/burstable")]
    [InlineData("kubepods/burstable/podnot-a-uid")]
    public void Non_pod_paths_are_not_kubepods(string path) => Assert.False(KubepodsPath.TryParse(path, out _));

    [Theory]
    [InlineData("kubepods/**/pod*", "kubepods/burstable/podx", true)]
    [InlineData("kubepods/**/pod*", "kubepods/podx", true)]
    [InlineData("kubepods/**/pod*", "system.slice/podx", false)]
    [InlineData("kubepods.slice/*/kubepods-*-pod*.slice", "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice", true)]
    [InlineData("kubepods.slice/*/kubepods-*-pod*.slice", "kubepods.slice/kubepods-burstable.slice", false)]
    [InlineData("system.slice/*.service", "system.slice/a.service", true)]
    [InlineData("system.slice/?.service", "system.slice/ab.service", false)]
    public void Globs_match_segment_by_segment(string glob, string path, bool expected) =>
        Assert.Equal(expected, new CgroupPathGlob(glob).IsMatch(path));

    [Fact]
    public void Glob_prunes_subtrees_that_cannot_match()
    {
        var glob = new CgroupPathGlob("kubepods.slice/*/kubepods-*-pod*.slice");
        Assert.True(glob.CouldMatchBelow("kubepods.slice"));
        Assert.True(glob.CouldMatchBelow("kubepods.slice/kubepods-burstable.slice"));
        Assert.False(glob.CouldMatchBelow("system.slice"));
    }

    [Fact]
    public void Catalog_maps_container_inodes_to_the_selected_pod_and_counts_the_cap()
    {
        var node = new PageFrameModel(16);
        node.Dir("/cg", 1);
        node.Dir("/cg/kubepods", 2);
        node.Dir("/cg/kubepods/burstable", 3);
        node.Dir($"/cg/kubepods/burstable/pod{Uid}", 10);
        node.Dir($"/cg/kubepods/burstable/pod{Uid}/{Cid}", 11);
        node.Dir($"/cg/kubepods/burstable/pod{Uid2}", 20);
        node.Dir("/cg/system.slice", 30);
        CgroupCatalog one = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection([], [new CgroupPathGlob("kubepods/**/pod*")], 1));
        Assert.Single(one.Groups);
        Assert.Equal(1, one.DroppedByCap);
        Assert.Equal($"/kubepods/burstable/pod{Uid}", one.Groups[0].RelativePath); // ordinal order: the cap keeps a stable set
        Assert.Equal(Uid, one.Groups[0].Kubernetes?.PodUid);
        Assert.True(one.TryGetOwner(11, out int owner));
        Assert.Equal(0, owner);
        Assert.False(one.TryGetOwner(30, out _));
        Assert.False(one.TryGetOwner(0, out _));

        CgroupCatalog explicitPath = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection(["/system.slice"], [], 10));
        Assert.Equal("/system.slice", Assert.Single(explicitPath.Groups).RelativePath);
    }

    [Fact]
    public void Pod_preset_selects_every_pod_of_the_systemd_driver_and_folds_its_containers_in()
    {
        PageFrameModel node = SystemdNode();
        CgroupCatalog c = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection([], [.. CgroupPresets.KubernetesPods.Select(g => new CgroupPathGlob(g))], 500));
        Assert.Equal(
            [("burstable", Uid), ("besteffort", Uid2), ("guaranteed", Uid3)],
            c.Groups.Select(g => (g.Kubernetes!.Value.QosClass, g.Kubernetes.Value.PodUid)).OrderBy(x => x.PodUid, StringComparer.Ordinal));
        Assert.All(c.Groups, g => Assert.Null(g.Kubernetes!.Value.ContainerId));
        int burstable = c.Groups.Single(g => g.Kubernetes!.Value.PodUid == Uid).Index;
        Assert.True(c.TryGetOwner(111, out int o1)); // its container scope
        Assert.Equal(burstable, o1);
        Assert.True(c.TryGetOwner(112, out int o2)); // and the runtime's conmon scope
        Assert.Equal(burstable, o2);
        Assert.False(c.TryGetOwner(50, out _));      // system.slice
        Assert.False(c.TryGetOwner(3, out _));       // kubepods-burstable.slice itself
    }

    [Fact]
    public void Container_preset_selects_the_runtime_scopes_with_their_ids()
    {
        PageFrameModel node = SystemdNode();
        CgroupCatalog c = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection([], [.. CgroupPresets.KubernetesContainers.Select(g => new CgroupPathGlob(g))], 500));
        Assert.Contains(c.Groups, g => g.Kubernetes is { ContainerId: Cid, PodUid: Uid, QosClass: "burstable" });
        Assert.Contains(c.Groups, g => g.Kubernetes is { ContainerId: Cid2, PodUid: Uid3, QosClass: "guaranteed" });
        Assert.Contains(c.Groups, g => g.RelativePath.Contains("crio-conmon-", StringComparison.Ordinal) && g.Kubernetes is { ContainerId: null });
        Assert.False(c.TryGetOwner(11, out _)); // the pod slice itself is not a container
    }

    [Fact]
    public void Pod_preset_also_reads_the_cgroupfs_driver_layout()
    {
        var node = new PageFrameModel(1);
        node.Dir("/cg", 1);
        node.Dir("/cg/kubepods", 2);
        node.Dir("/cg/kubepods/burstable", 3);
        node.Dir("/cg/kubepods/besteffort", 4);
        node.Dir($"/cg/kubepods/burstable/pod{Uid}", 10);
        node.Dir($"/cg/kubepods/burstable/pod{Uid}/{Cid}", 11);
        node.Dir($"/cg/kubepods/besteffort/pod{Uid2}", 20);
        node.Dir($"/cg/kubepods/pod{Uid3}", 30);
        node.Dir($"/cg/kubepods/pod{Uid3}/{Cid2}", 31);
        CgroupCatalog pods = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection([], [.. CgroupPresets.KubernetesPods.Select(g => new CgroupPathGlob(g))], 500));
        Assert.Equal(3, pods.Groups.Count);
        Assert.True(pods.TryGetOwner(31, out int g3));
        Assert.Equal("guaranteed", pods.Groups[g3].Kubernetes!.Value.QosClass);
        CgroupCatalog containers = CgroupCatalog.Discover(node, node, "/cg", new CgroupSelection([], [.. CgroupPresets.KubernetesContainers.Select(g => new CgroupPathGlob(g))], 500));
        Assert.Equal([Cid, Cid2], containers.Groups.Select(g => g.Kubernetes!.Value.ContainerId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Known_unselected_inodes_carry_over_to_the_next_catalog_unless_selected_there()
    {
        PageFrameModel node = SystemdNode();
        var selection = new CgroupSelection(["/system.slice"], [], 10);
        CgroupCatalog first = CgroupCatalog.Discover(node, node, "/cg", selection);
        first.MarkKnownOther([111UL, 50UL]);   // 50 is selected: never "other"
        Assert.True(first.IsKnownOther(111));
        Assert.False(first.IsKnownOther(50));
        CgroupCatalog next = CgroupCatalog.Discover(node, node, "/cg", selection);
        next.InheritKnownOther(first);
        Assert.True(next.IsKnownOther(111));
        Assert.False(next.IsKnownOther(112));
    }

    // systemd driver: a burstable pod (container + conmon), a besteffort pod, a guaranteed pod, system.slice.
    private static PageFrameModel SystemdNode()
    {
        var node = new PageFrameModel(1);
        string u1 = Uid.Replace('-', '_'), u2 = Uid2.Replace('-', '_'), u3 = Uid3.Replace('-', '_');
        node.Dir("/cg", 1);
        node.Dir("/cg/kubepods.slice", 2);
        node.Dir("/cg/kubepods.slice/kubepods-burstable.slice", 3);
        node.Dir("/cg/kubepods.slice/kubepods-besteffort.slice", 4);
        node.Dir($"/cg/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u1}.slice", 11);
        node.Dir($"/cg/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u1}.slice/cri-containerd-{Cid}.scope", 111);
        node.Dir($"/cg/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u1}.slice/crio-conmon-{Cid}.scope", 112);
        node.Dir($"/cg/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{u2}.slice", 21);
        node.Dir($"/cg/kubepods.slice/kubepods-pod{u3}.slice", 31);
        node.Dir($"/cg/kubepods.slice/kubepods-pod{u3}.slice/cri-containerd-{Cid2}.scope", 311);
        node.Dir("/cg/system.slice", 50);
        node.Dir("/cg/system.slice/sshd.service", 51);
        return node;
    }
}
