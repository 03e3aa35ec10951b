using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The image's base images are pinned to exact versions (or digests) that agree with the SDK the
/// project builds with, and the image carries the OCI labels registries and scanners read.
/// Docker cannot run here, so the Dockerfile is parsed (<see cref="DockerfileModel"/>).
/// </summary>
public sealed partial class DockerfileConventionsTests
{
    private static readonly string[] RequiredLabels =
    [
        "org.opencontainers.image.title", "org.opencontainers.image.description", "org.opencontainers.image.source",
        "org.opencontainers.image.licenses", "org.opencontainers.image.version", "org.opencontainers.image.revision",
        "org.opencontainers.image.base.name",
    ];

    private static DockerfileModel Model() => new(Repo.Read("Dockerfile"));

    internal sealed record Pin(string Repository, Version Version, string Os, string? Digest);

    /// <summary>An exact .NET image reference: REPO:MAJOR.MINOR.PATCH-OS, optionally @sha256:DIGEST.</summary>
    internal static Pin? ParsePin(string image)
    {
        var m = PinnedImage().Match(image);
        return m.Success
            ? new Pin(m.Groups["repo"].Value, Version.Parse(m.Groups["v"].Value), m.Groups["os"].Value, m.Groups["digest"].Success ? m.Groups["digest"].Value : null)
            : null;
    }

    [Fact]
    public void Base_images_are_pinned_to_exact_versions_on_one_distro()
    {
        var d = Model();
        var pins = d.Stages.Select(s => (s.Image, Pin: ParsePin(s.Image))).ToList();
        foreach (var (image, pin) in pins)
        {
            Assert.True(pin is not null, $"Dockerfile: FROM {image} is not pinned: use an exact version tag such as 10.0.12-noble (a floating tag like 10.0 changes under you), optionally @sha256:<digest>");
        }

        var sdk = Assert.Single(pins, p => p.Pin!.Repository == "sdk").Pin!;
        var deps = Assert.Single(pins, p => p.Pin!.Repository == "runtime-deps").Pin!;
        Assert.Equal(sdk.Os, deps.Os);
        Assert.Equal((sdk.Version.Major, sdk.Version.Minor), (deps.Version.Major, deps.Version.Minor));
        Assert.Equal("runtime-deps", ParsePin(d.Stages[^1].Image)!.Repository);
    }

    [Fact]
    public void Sdk_image_satisfies_global_json()
    {
        var sdk = Model().Stages.Select(s => ParsePin(s.Image)).Single(p => p?.Repository == "sdk")!;
        var pinned = JsonNode.Parse(Repo.Read("global.json"))!["sdk"]!;
        var wanted = Version.Parse((string)pinned["version"]!);
        var rollForward = (string?)pinned["rollForward"] ?? "latestPatch";

        // SDK versions are MAJOR.MINOR.BPP: feature band B, patch PP.
        Assert.Equal((wanted.Major, wanted.Minor), (sdk.Version.Major, sdk.Version.Minor));
        var (wantedBand, sdkBand) = (wanted.Build / 100, sdk.Version.Build / 100);
        var ok = rollForward switch
        {
            "latestFeature" or "latestMinor" or "latestMajor" => sdk.Version.Build >= wanted.Build,
            "latestPatch" or "patch" => sdkBand == wantedBand && sdk.Version.Build >= wanted.Build,
            "disable" => sdk.Version == wanted,
            _ => false,
        };
        Assert.True(ok, $"sdk image {sdk.Version} does not satisfy global.json {wanted} (rollForward {rollForward})");
    }

    [Fact]
    public void Control_floating_tags_are_not_pins()
    {
        Assert.Null(ParsePin("mcr.microsoft.com/dotnet/runtime-deps:10.0"));
        Assert.Null(ParsePin("mcr.microsoft.com/dotnet/runtime-deps:10.0-noble"));
        Assert.Null(ParsePin("mcr.microsoft.com/dotnet/sdk:latest"));
        Assert.NotNull(ParsePin("mcr.microsoft.com/dotnet/sdk:10.0.401-noble"));
        Assert.Equal(new string('a', 64), ParsePin($"mcr.microsoft.com/dotnet/runtime-deps:10.0.12-noble@sha256:{new string('a', 64)}")!.Digest);
    }

    [Fact]
    public void Image_carries_the_oci_labels_with_version_and_revision_from_build_args()
    {
        var d = Model();
        var stage = d.Stages.Count - 1;
        var args = BuildArgs(d, stage);
        var labels = Labels(d, stage);
        foreach (var key in RequiredLabels)
        {
            Assert.True(labels.TryGetValue(key, out var v) && v.Trim().Length > 0, $"Dockerfile: label {key} missing or empty");
        }

        // Values that vary per build come from build args declared in this stage (an ARG before the
        // first FROM is not visible inside a stage, and the label would be empty).
        foreach (var (key, value) in labels)
        {
            foreach (Match r in ArgReference().Matches(value))
            {
                Assert.True(args.ContainsKey(r.Groups["name"].Value), $"Dockerfile: label {key} uses ${{{r.Groups["name"].Value}}}, which no ARG of the final stage declares");
            }
        }

        Assert.Equal("damon-otel", labels["org.opencontainers.image.title"]);
        Assert.Equal("${VERSION}", labels["org.opencontainers.image.version"]);
        Assert.Equal("${REVISION}", labels["org.opencontainers.image.revision"]);
        Assert.Equal(d.Stages[stage].Image, labels["org.opencontainers.image.base.name"]);

        // Defaults agree with the rest of the repository.
        var props = Repo.Read("Directory.Build.props");
        Assert.Equal(VersionProperty().Match(props).Groups["v"].Value, args["VERSION"]);
        Assert.Equal(ProjectLinks.Repository, Resolve(labels["org.opencontainers.image.source"], args));
        var licenses = Resolve(labels["org.opencontainers.image.licenses"], args);
        var licenseFiles = Directory.EnumerateFiles(Repo.Root, "LICENSE*").Concat(Directory.EnumerateFiles(Repo.Root, "COPYING*")).ToList();
        if (licenseFiles.Count == 0)
        {
            Assert.Equal("NOASSERTION", licenses);
        }
        else
        {
            Assert.True(licenses != "NOASSERTION" && SpdxExpression().IsMatch(licenses), $"Dockerfile: the repository has {Path.GetFileName(licenseFiles[0])}; name its license as an SPDX expression in org.opencontainers.image.licenses (now '{licenses}')");
        }
    }

    [Fact]
    public void Operations_doc_builds_with_version_and_revision()
    {
        var ops = Repo.Read("docs/operations.md");
        Assert.Contains("--build-arg VERSION=", ops, StringComparison.Ordinal);
        Assert.Contains("--build-arg REVISION=\"$(git rev-parse HEAD)\"", ops, StringComparison.Ordinal);
    }

    /// <summary>ARG NAME[=default] of one stage.</summary>
    internal static Dictionary<string, string?> BuildArgs(DockerfileModel d, int stage) =>
        d.InStage(stage, "ARG").Select(a => a.Arguments.Split('=', 2))
            .ToDictionary(p => p[0].Trim(), p => p.Length == 2 ? p[1].Trim().Trim('"') : null, StringComparer.Ordinal);

    /// <summary>Every LABEL key=value of one stage (quoted or bare values).</summary>
    internal static Dictionary<string, string> Labels(DockerfileModel d, int stage)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var label in d.InStage(stage, "LABEL"))
        {
            var rest = label.Arguments;
            foreach (Match m in LabelPair().Matches(rest))
            {
                result[m.Groups["k"].Value] = m.Groups["q"].Success ? BackslashEscape().Replace(m.Groups["q"].Value, "$1") : m.Groups["b"].Value;
            }

            Assert.True(LabelPair().Replace(rest, "").Trim().Length == 0, $"Dockerfile line {label.Line}: LABEL has text that is no key=value pair: {rest}");
        }

        return result;
    }

    private static string Resolve(string value, IReadOnlyDictionary<string, string?> args) =>
        ArgReference().Replace(value, m => args[m.Groups["name"].Value] ?? "");

    [GeneratedRegex(@"^mcr\.microsoft\.com/dotnet/(?<repo>sdk|runtime-deps):(?<v>[0-9]+\.[0-9]+\.[0-9]+)-(?<os>[a-z][a-z0-9.]*)(?:@sha256:(?<digest>[0-9a-f]{64}))?$")]
    private static partial Regex PinnedImage();

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?<name>[A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex ArgReference();

    [GeneratedRegex(@"(?<k>[A-Za-z0-9._-]+)=(?:""(?<q>(?:[^""\\]|\\.)*)""|(?<b>[^\s""]+))")]
    private static partial Regex LabelPair();

    [GeneratedRegex(@"\\(.)")]
    private static partial Regex BackslashEscape();

    [GeneratedRegex(@"<Version>(?<v>[^<]+)</Version>")]
    private static partial Regex VersionProperty();

    [GeneratedRegex(@"^[A-Za-z0-9.+-]+( (AND|OR|WITH) [A-Za-z0-9.+-]+)*$")]
    private static partial Regex SpdxExpression();
}
