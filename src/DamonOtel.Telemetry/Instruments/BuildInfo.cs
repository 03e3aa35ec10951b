using System.Reflection;

namespace DamonOtel.Telemetry.Instruments;

/// <summary>
/// The labels of damon_otel_build_info, as exporters conventionally publish them
/// (node_exporter's version, revision, goversion; here the .NET runtime).
/// </summary>
/// <param name="Version">The release, e.g. "0.1.0".</param>
/// <param name="Revision">The git commit the binary was built from ("unknown" outside a checkout).</param>
/// <param name="Runtime">The .NET runtime, e.g. "dotnet10.0.12".</param>
public sealed record BuildInfo(string Version, string Revision, string Runtime)
{
    /// <summary>This build: version and revision from the assembly's informational version ("0.1.0+abc123").</summary>
    public static BuildInfo Current { get; } = FromInformationalVersion(
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
        "dotnet" + Environment.Version.ToString());

    /// <summary>Splits "VERSION+REVISION" (the SDK appends the source revision after a '+').</summary>
    public static BuildInfo FromInformationalVersion(string? informationalVersion, string runtime)
    {
        if (string.IsNullOrEmpty(informationalVersion))
        {
            return new BuildInfo("0.0.0", "unknown", runtime);
        }

        int plus = informationalVersion.IndexOf('+', StringComparison.Ordinal);
        return plus < 0
            ? new BuildInfo(informationalVersion, "unknown", runtime)
            : new BuildInfo(informationalVersion[..plus], informationalVersion[(plus + 1)..], runtime);
    }
}
