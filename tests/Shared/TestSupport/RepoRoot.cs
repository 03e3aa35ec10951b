namespace DamonOtel.TestSupport;

/// <summary>The repository root (the folder holding DamonOtel.sln), found from the test's output directory.</summary>
public static class RepoRoot
{
    private static readonly Lazy<string> Root = new(Find);

    public static string Dir => Root.Value;

    /// <summary>A path below the root; parts may hold '/'.</summary>
    public static string Of(params string[] parts) =>
        Path.Combine([Dir, .. parts.Select(p => p.Replace('/', Path.DirectorySeparatorChar))]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DamonOtel.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("DamonOtel.sln not found above " + AppContext.BaseDirectory);
    }
}
