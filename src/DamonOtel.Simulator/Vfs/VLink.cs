namespace DamonOtel.Simulator;

/// <summary>A symbolic link whose target is computed on readlink (/proc/&lt;pid&gt;/exe); null reads as ENOENT.</summary>
internal sealed class VLink(string name, Func<string?> target) : VNode(name)
{
    public string? Target => target();
}
