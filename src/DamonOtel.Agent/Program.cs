using DamonOtel.Agent.Cli;

namespace DamonOtel.Agent;

internal static class Program
{
    private static Task<int> Main(string[] args) => CommandLine.Build().Parse(args).InvokeAsync();
}
