using System.CommandLine;
using DamonOtel.Agent.Interop;

namespace DamonOtel.Agent.Cli;

/// <summary>
/// `damon-otel import-damo FILE`: damo's kdamonds JSON or YAML in, an equivalent annotated
/// config on stdout. What cannot be expressed is a warning on stderr naming its JSON path (and
/// a comment in the output); what cannot be read, or would not run, is an error: exit 1 and
/// no output. Reads nothing but FILE and, to name vaddr targets, /proc/PID/comm.
/// </summary>
internal static class ImportDamoCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "damo's kdamonds JSON (damo args damon --format json) or YAML (--format yaml)" };
        var procfs = new Option<string?>("--procfs-root") { Description = "Where procfs is mounted, to name vaddr targets after their process (default /proc)" };
        var cmd = new Command("import-damo", "Convert damo's kdamonds JSON/YAML into an equivalent damon-otel config on stdout; what cannot be expressed is a warning on stderr")
        {
            file, procfs,
        };
        cmd.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            string procRoot = parse.GetValue(procfs) ?? "/proc";
            (int code, string output, IReadOnlyList<string> messages) = Run(path, pid => ReadComm(procRoot, pid));
            foreach (string m in messages)
            {
                Console.Error.WriteLine(m);
            }

            Console.Out.Write(output);
            return code;
        });
        return cmd;
    }

    /// <summary>Exit code, the config text (empty on errors) and the stderr lines.</summary>
    internal static (int Code, string Config, IReadOnlyList<string> Messages) Run(string path, Func<int, string?> processName)
    {
        if (!DamoInput.TryRead(path, out string json, out string readError))
        {
            return (1, string.Empty, [readError]);
        }

        DamoImportResult result = DamoKdamondsImporter.Import(json, path, processName);
        var messages = new List<string>();
        messages.AddRange(result.Errors.Select(e => $"{path}: error: {e}"));
        messages.AddRange(result.Warnings.Select(w => $"{path}: warning: {w}"));
        if (result.Errors.Count > 0)
        {
            messages.Add($"{path}: {result.Errors.Count} error(s), {result.Warnings.Count} warning(s); nothing written");
            return (1, string.Empty, messages);
        }

        if (result.Warnings.Count > 0)
        {
            messages.Add($"{path}: imported {result.Kdamonds.Count} kdamond(s) with {result.Warnings.Count} warning(s): those settings are not in the output");
        }

        return (0, DamoConfigWriter.Write(result, path), messages);
    }

    // comm names a vaddr target after its program; a pid that is not running here keeps "pid-N".
    private static string? ReadComm(string procRoot, int pid)
    {
        try
        {
            string text = File.ReadAllText(Path.Combine(procRoot, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "comm"));
            return text.Length is > 0 and <= 64 ? text.Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
