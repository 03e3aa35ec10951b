using System.Diagnostics;

namespace DamonOtel.EndToEnd.Tests.Infrastructure;

internal static class Tools
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>, feeding <paramref name="stdin"/>; returns exit code and output.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, string stdin)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>The repository root (the directory holding DamonOtel.sln) above the test assembly.</summary>
    public static string RepoRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "DamonOtel.sln")))
            {
                return d.FullName;
            }
        }

        throw new DirectoryNotFoundException("no DamonOtel.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>A short line diff (lines only in <paramref name="expected"/> as '-', only in <paramref name="actual"/> as '+'), in order.</summary>
    public static string Diff(string expected, string actual, int maxLines = 60)
    {
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

        var sb = new System.Text.StringBuilder();
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
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"-{x + 1}: {e[x]}\n");
                x++;
                lines++;
            }
            else
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"+{y + 1}: {a[y]}\n");
                y++;
                lines++;
            }
        }

        return lines >= maxLines ? sb.Append("...\n").ToString() : sb.ToString();
    }
}
