namespace DamonOtel.Simulator;

internal sealed class VDir(string name) : VNode(name)
{
    public Dictionary<string, VNode> Children { get; } = new(StringComparer.Ordinal);

    /// <summary>mkdir handler (tracefs instances/); null = EPERM like sysfs.</summary>
    public Func<string, VDir>? OnMkdir { get; set; }

    /// <summary>rmdir handler; null = EPERM.</summary>
    public Action<VDir>? OnRmdir { get; set; }

    public VDir Dir(string name)
    {
        if (Children.TryGetValue(name, out VNode? n))
        {
            return (VDir)n;
        }

        var d = new VDir(name) { Parent = this };
        Children[name] = d;
        return d;
    }

    public T Add<T>(T node)
        where T : VNode
    {
        node.Parent = this;
        Children[node.Name] = node;
        return node;
    }

    public FuncFile Func(string name, Func<string> read, Action<string>? write = null) => Add(new FuncFile(name, read, write));

    public void Remove(string name)
    {
        if (Children.Remove(name, out VNode? n))
        {
            n.Parent = null;
        }
    }

    public void Clear()
    {
        foreach (VNode n in Children.Values)
        {
            n.Parent = null;
        }

        Children.Clear();
    }
}
