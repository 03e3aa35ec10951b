namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The project's public repository, the one address the shipped files link to: the alerts'
/// runbook_url and the image's org.opencontainers.image.source. Tests pin every use to it, so
/// moving the repository is one replacement across the files these tests name.
/// </summary>
internal static class ProjectLinks
{
    public const string Repository = "https://github.com/damon-otel/damon-otel";

    /// <summary>Prefix of a file's page in the repository's main branch: BlobBase + "docs/runbook.md".</summary>
    public const string BlobBase = Repository + "/blob/main/";

    public const string RunbookFile = "docs/runbook.md";
}
