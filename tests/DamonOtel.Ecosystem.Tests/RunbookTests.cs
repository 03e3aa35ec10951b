using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// Every alert links (runbook_url) to its own section of docs/runbook.md, and every section
/// says what the alert means, what to check first and how to fix it.
/// </summary>
public sealed partial class RunbookTests
{
    private static readonly string[] RequiredParts = ["Meaning", "First checks", "Remedies"];

    internal sealed record Section(string Heading, string Anchor, int Line, string Body);

    /// <summary>The "## " sections of the runbook, with the anchor GitHub's renderer gives each heading.</summary>
    internal static List<Section> Sections()
    {
        var lines = Repo.Read(ProjectLinks.RunbookFile).Split('\n');
        var sections = new List<Section>();
        string? heading = null;
        var start = 0;
        for (var i = 0; i <= lines.Length; i++)
        {
            var isHeading = i < lines.Length && lines[i].StartsWith("## ", StringComparison.Ordinal);
            if (i == lines.Length || isHeading)
            {
                if (heading is not null)
                {
                    sections.Add(new Section(heading, Anchor(heading), start + 1, string.Join('\n', lines[(start + 1)..i])));
                }

                if (isHeading)
                {
                    heading = lines[i][3..].Trim();
                    start = i;
                }
            }
        }

        return sections;
    }

    /// <summary>GitHub's heading anchor: lower case, punctuation other than '-' and '_' dropped, spaces to '-'.</summary>
    internal static string Anchor(string heading) =>
        NotAnchorChar().Replace(heading.Trim().ToLowerInvariant(), "").Replace(' ', '-');

    private static IEnumerable<YamlNode> Alerts() =>
        Yaml.Single(Repo.RulesFile).Need("groups", Repo.RulesFile).Items()
            .SelectMany(g => g.Get("rules").Items())
            .Where(r => r.Str("alert") is not null);

    [Fact]
    public void Every_alert_links_to_its_own_runbook_section_instead_of_prose()
    {
        var anchors = Sections().Select(s => s.Anchor).ToHashSet(StringComparer.Ordinal);
        var alerts = Alerts().ToList();
        Assert.True(alerts.Count >= 10, $"{Repo.RulesFile}: expected the alert set, found {alerts.Count} alerts");
        foreach (var a in alerts)
        {
            var name = a.Str("alert")!;
            var annotations = a.Need("annotations", $"alert {name}");
            Assert.True(annotations.Get("runbook") is null, $"alert {name}: prose belongs in {ProjectLinks.RunbookFile}; the annotation tools read is runbook_url");
            var url = annotations.Str("runbook_url");
            Assert.True(url is not null, $"alert {name}: no runbook_url annotation");
            Assert.Equal($"{ProjectLinks.BlobBase}{ProjectLinks.RunbookFile}#{Anchor(name)}", url);
            Assert.True(anchors.Contains(Anchor(name)), $"alert {name}: {ProjectLinks.RunbookFile} has no section '## {name}' (anchor #{Anchor(name)})");
            foreach (var key in new[] { "summary", "description" })
            {
                Assert.False(string.IsNullOrWhiteSpace(annotations.Str(key)), $"alert {name}: annotation '{key}' missing");
            }
        }
    }

    [Fact]
    public void Every_runbook_section_is_an_alert_with_its_severity_meaning_checks_and_remedies()
    {
        var alerts = Alerts().ToDictionary(a => a.Str("alert")!, a => a.Get("labels").Str("severity"), StringComparer.Ordinal);
        var sections = Sections();
        Assert.Equal(alerts.Count, sections.Count);
        Assert.Equal(sections.Count, sections.Select(s => s.Anchor).Distinct(StringComparer.Ordinal).Count());
        foreach (var s in sections)
        {
            var where = $"{ProjectLinks.RunbookFile}:{s.Line} '## {s.Heading}'";
            Assert.True(alerts.TryGetValue(s.Heading, out var severity), $"{where}: not an alert of {Repo.RulesFile}");
            Assert.Contains($"Severity: {severity}.", s.Body, StringComparison.Ordinal);

            // The three parts, in order, each with text of its own.
            var parts = PartHeading().Matches(s.Body).ToList();
            Assert.True(RequiredParts.SequenceEqual(parts.Select(m => m.Groups["name"].Value)), $"{where}: parts are [{string.Join(", ", parts.Select(m => m.Groups["name"].Value))}], expected [{string.Join(", ", RequiredParts)}]");
            for (var i = 0; i < parts.Count; i++)
            {
                var end = i + 1 < parts.Count ? parts[i + 1].Index : s.Body.Length;
                var text = s.Body[(parts[i].Index + parts[i].Length)..end].Trim();
                Assert.True(text.Length >= 40, $"{where}: '### {RequiredParts[i]}' is (almost) empty");
            }
        }
    }

    [Fact]
    public void Links_inside_the_runbook_resolve()
    {
        var anchors = Sections().Select(s => s.Anchor).ToHashSet(StringComparer.Ordinal);
        var text = Repo.Read(ProjectLinks.RunbookFile);
        var links = InPageLink().Matches(text).Select(m => m.Groups["anchor"].Value).ToList();
        Assert.NotEmpty(links);
        foreach (var anchor in links)
        {
            Assert.True(anchors.Contains(anchor), $"{ProjectLinks.RunbookFile}: link to #{anchor}, which is no section");
        }

        // Files the runbook names by repository path exist.
        foreach (var path in RepoPath().Matches(text).Select(m => m.Value).Distinct(StringComparer.Ordinal))
        {
            Assert.True(File.Exists(Repo.PathOf(path)) || Directory.Exists(Repo.PathOf(path)), $"{ProjectLinks.RunbookFile} names {path}, which does not exist");
        }
    }

    [Fact]
    public void Anchor_follows_githubs_heading_rule()
    {
        Assert.Equal("damonotelsourcedown", Anchor("DamonOtelSourceDown"));
        Assert.Equal("first-checks", Anchor("First checks"));
        Assert.Equal("damon_lru_sort-and-co", Anchor("DAMON_LRU_SORT, and co."));
    }

    [GeneratedRegex(@"[^\p{L}\p{N} _-]")]
    private static partial Regex NotAnchorChar();

    [GeneratedRegex(@"^### (?<name>.+)$", RegexOptions.Multiline)]
    private static partial Regex PartHeading();

    [GeneratedRegex(@"\]\(#(?<anchor>[^)]+)\)")]
    private static partial Regex InPageLink();

    [GeneratedRegex(@"\b(?:docs|deploy|config|dashboards)/[A-Za-z0-9_./-]*[A-Za-z0-9_]")]
    private static partial Regex RepoPath();
}
