namespace DamonOtel.Simulator;

internal sealed class FilterNode
{
    public FilterNode(VDir d, KernelProfile p, string layer)
    {
        string[] types = layer switch
        {
            "core" => ProfileTables.CoreFilterTypes,
            "ops" => ProfileTables.OpsFilterTypes(p),
            _ => [.. ProfileTables.OpsFilterTypes(p), .. ProfileTables.CoreFilterTypes],
        };
        Type = d.Keyword("type", "anon", types);
        Matching = d.Bool("matching");
        if (p != KernelProfile.V6_12)
        {
            Allow = d.Bool("allow");
        }

        MemcgPath = d.Text("memcg_path");
        AddrStart = d.U64("addr_start");
        AddrEnd = d.U64("addr_end");
        TargetIdx = d.I32("damon_target_idx");
        if (p != KernelProfile.V6_12)
        {
            d.U64("min");
            d.U64("max");
        }
    }

    public ValueFile Type { get; }

    public ValueFile Matching { get; }

    public ValueFile? Allow { get; }

    public ValueFile AddrStart { get; }

    public ValueFile AddrEnd { get; }

    public ValueFile TargetIdx { get; }

    public ValueFile MemcgPath { get; }

    public CommittedFilter ToConfig() => new(
        Type.Text,
        Matching.B,
        Allow?.B ?? false,
        Type.Text is "addr" or "target",
        AddrStart.U,
        AddrEnd.U,
        TargetIdx.I,
        MemcgPath.Text.Trim());
}
