using System.CommandLine;
using DamonOtel.Agent.Cli;

namespace DamonOtel.Agent;

internal static class Program
{
    // SIGTERM/SIGINT are handled by the run command itself (orderly stop of our kdamonds).
    private static Task<int> Main(string[] args) =>
        CommandLine.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
}
