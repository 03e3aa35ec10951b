using YamlDotNet.RepresentationModel;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>Small helpers over YamlDotNet's representation model, with failures that name the file and key.</summary>
internal static class Yaml
{
    public static List<YamlMappingNode> Documents(string relativePath)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(Repo.Read(relativePath)))
        {
            stream.Load(reader);
        }

        return stream.Documents
            .Where(d => d.RootNode is YamlMappingNode)
            .Select(d => (YamlMappingNode)d.RootNode)
            .ToList();
    }

    public static YamlMappingNode Single(string relativePath) => Assert.Single(Documents(relativePath));

    public static YamlNode? Get(this YamlNode? node, string key) =>
        node is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    public static YamlNode Need(this YamlNode? node, string key, string where)
    {
        var v = node.Get(key);
        Assert.True(v is not null, $"{where}: missing key '{key}'");
        return v!;
    }

    public static string? Str(this YamlNode? node) => (node as YamlScalarNode)?.Value;

    public static string? Str(this YamlNode? node, string key) => node.Get(key).Str();

    public static IEnumerable<YamlNode> Items(this YamlNode? node) =>
        node is YamlSequenceNode s ? s.Children : [];

    public static IEnumerable<string> Keys(this YamlNode? node) =>
        node is YamlMappingNode m ? m.Children.Keys.Select(k => ((YamlScalarNode)k).Value ?? "") : [];

    public static bool? Bool(this YamlNode? node, string key)
    {
        var s = node.Str(key);
        return s is null ? null : bool.Parse(s);
    }
}
