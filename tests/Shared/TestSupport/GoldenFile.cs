using System.Globalization;
using System.Text;
using Xunit;

namespace DamonOtel.TestSupport;

/// <summary>Checked-in expected outputs: compared byte for byte; UPDATE_GOLDEN=1 rewrites them instead.</summary>
public static class GoldenFile
{
    /// <summary>
    /// Fails with a line diff when <paramref name="path"/> does not hold exactly
    /// <paramref name="actual"/>; with UPDATE_GOLDEN=1 in the environment, writes it (review the diff).
    /// </summary>
    public static void AssertMatches(string path, string actual)
    {
        ArgumentNullException.ThrowIfNull(actual);
        string shown = Path.GetRelativePath(RepoRoot.Dir, path);
        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
            return;
        }

        Assert.True(File.Exists(path), $"{shown} is missing; create it by running the test with UPDATE_GOLDEN=1");
        string expected = File.ReadAllText(path);
        if (expected != actual)
        {
            Assert.Fail($"{shown} differs (UPDATE_GOLDEN=1 rewrites it; review the diff):\n{Diff(expected, actual)}");
        }
    }

    /// <summary>A short line diff (lines only in <paramref name="expected"/> as '-', only in <paramref name="actual"/> as '+'), in order.</summary>
    public static string Diff(string expected, string actual, int maxLines = 60)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        string[] e = expected.Split('\n');
        string[] a = actual.Split('\n');

        // Longest common subsequence over lines: outputs are a few hundred lines.
        int[,] lcs = new int[e.Length + 1, a.Length + 1];
        for (int i = e.Length - 1; i >= 0; i--)
        {
            for (int j = a.Length - 1; j >= 0; j--)
            {
                lcs[i, j] = e[i] == a[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        var sb = new StringBuilder();
        int lines = 0;
        int x = 0, y = 0;
        while ((x < e.Length || y < a.Length) && lines < maxLines)
        {
            if (x < e.Length && y < a.Length && e[x] == a[y])
            {
                x++;
                y++;
            }
            else if (x < e.Length && (y == a.Length || lcs[x + 1, y] >= lcs[x, y + 1]))
            {
                sb.Append(CultureInfo.InvariantCulture, $"-{x + 1}: {e[x]}\n");
                x++;
                lines++;
            }
            else
            {
                sb.Append(CultureInfo.InvariantCulture, $"+{y + 1}: {a[y]}\n");
                y++;
                lines++;
            }
        }

        return lines >= maxLines ? sb.Append("...\n").ToString() : sb.ToString();
    }
}
