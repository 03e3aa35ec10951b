using DamonOtel.EndToEnd.Tests.Infrastructure;

namespace DamonOtel.EndToEnd.Tests;

/// <summary>
/// The agent process these tests talk to is the binary they were pointed at: with
/// DAMON_OTEL_AGENT_BINARY (scripts/test.sh sets it to the NativeAOT publish) the kernel runs
/// that file itself, not the dotnet host with the JIT build.
/// </summary>
public sealed class AgentBinaryTests
{
    [Fact]
    public async Task The_running_agent_is_the_configured_executable()
    {
        (string program, string[] prefix) = AgentProcess.Command();
        await using AgentProcess agent = await AgentProcess.StartAsync();

        string exe = Path.GetFullPath(new FileInfo($"/proc/{agent.Pid}/exe").ResolveLinkTarget(returnFinalTarget: true)!.FullName);
        if (Environment.GetEnvironmentVariable(AgentProcess.AgentBinaryVariable) is { Length: > 0 } configured)
        {
            Assert.Empty(prefix);
            Assert.Equal(Path.GetFullPath(new FileInfo(configured).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? configured), exe);

            // NativeAOT: no managed runtime library is mapped into the process.
            string maps = await File.ReadAllTextAsync($"/proc/{agent.Pid}/maps");
            Assert.DoesNotContain("libcoreclr.so", maps, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(AgentProcess.AgentDll, Assert.Single(prefix));
            Assert.Equal("dotnet", Path.GetFileName(exe));
            Assert.NotEqual(program, AgentProcess.AgentDll);
        }
    }
}
