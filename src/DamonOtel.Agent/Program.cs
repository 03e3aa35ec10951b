using System.CommandLine;
using DamonOtel.Agent.Cli;

namespace DamonOtel.Agent;

internal static class Program
{
    /// <summary>The exit status of an error no command handled (sysexits.h EX_SOFTWARE).</summary>
    public const int InternalErrorExitCode = 70;

    // SIGTERM/SIGINT are handled by the run command itself (orderly stop of our kdamonds).
    private static async Task<int> Main(string[] args)
    {
        try
        {
            return await CommandLine.ForArguments(args).Parse(args)
                .InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false })
                .ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Every bad input has its own one-line message naming the file; this net only
            // catches what slipped past them (a bug), still as one line, not a stack trace.
            await Console.Error.WriteLineAsync($"damon-otel: internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}").ConfigureAwait(false);
            return InternalErrorExitCode;
        }
    }
}
