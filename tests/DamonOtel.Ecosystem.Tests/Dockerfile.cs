using System.Text.Json;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>A minimal Dockerfile parser: instructions with line continuations joined, comments kept apart.</summary>
internal sealed class DockerfileModel
{
    public sealed record Instruction(string Keyword, string Arguments, int Line, int Stage);

    public sealed record Stage(string Image, string? Name);

    public DockerfileModel(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var stage = -1;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('#'))
            {
                Comments.Add(line.TrimStart('#').Trim());
                continue;
            }

            var start = i + 1;
            var full = line;
            while (full.EndsWith('\\') && i + 1 < lines.Length)
            {
                full = full[..^1].TrimEnd() + " " + lines[++i].Trim();
            }

            var space = full.IndexOf(' ', StringComparison.Ordinal);
            var keyword = (space < 0 ? full : full[..space]).ToUpperInvariant();
            var args = space < 0 ? "" : full[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                stage++;
                var parts = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                Stages.Add(new Stage(parts[0], parts.Length >= 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : null));
            }

            Instructions.Add(new Instruction(keyword, args, start, stage));
        }
    }

    public List<Instruction> Instructions { get; } = [];

    public List<Stage> Stages { get; } = [];

    public List<string> Comments { get; } = [];

    public IEnumerable<Instruction> InStage(int stage, string keyword) =>
        Instructions.Where(i => i.Stage == stage && i.Keyword == keyword);

    /// <summary>The JSON-array ("exec") form of ENTRYPOINT/CMD; fails if the shell form was used.</summary>
    public static string[] ExecForm(Instruction i)
    {
        Assert.True(i.Arguments.StartsWith('['), $"Dockerfile line {i.Line}: {i.Keyword} must use the exec (JSON array) form so signals reach the agent");
        return JsonSerializer.Deserialize<string[]>(i.Arguments) ?? [];
    }
}
