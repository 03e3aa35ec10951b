using BenchmarkDotNet.Running;

namespace DamonOtel.Benchmarks;

/// <summary>
/// Every benchmark class in this assembly; pick with --filter, e.g.
/// <c>dotnet run -c Release --project bench/DamonOtel.Benchmarks -- --filter '*TraceText*'</c>.
/// </summary>
internal static class Program
{
    private static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
