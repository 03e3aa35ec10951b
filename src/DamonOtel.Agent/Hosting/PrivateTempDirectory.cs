namespace DamonOtel.Agent.Hosting;

/// <summary>
/// A fresh directory under the temp dir for a simulated run's state: a random name created by
/// mkdtemp(3) with mode 0700 (Directory.CreateTempSubdirectory), so no other user can predict,
/// pre-create or plant links in it; removed with what is in it when disposed.
/// </summary>
internal sealed class PrivateTempDirectory(string prefix) : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind in the temp dir; private to this user either way.
        }
    }
}
