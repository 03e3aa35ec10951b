using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Telemetry.Http;

/// <summary>exporter-toolkit client_auth_type values.</summary>
public enum ClientAuthType
{
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// <summary>tls_server_config of a web_config file (paths already resolved against the file's directory).</summary>
public sealed record TlsServerConfig(
    string CertFile,
    string KeyFile,
    ClientAuthType ClientAuthType,
    string? ClientCaFile,
    SslProtocols? MinVersion,
    SslProtocols? MaxVersion);

/// <summary>An invalid web_config file; the message names the file, the key and the line.</summary>
public sealed class WebConfigException : Exception
{
    public WebConfigException(string message)
        : base(message)
    {
    }

    public WebConfigException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public WebConfigException()
    {
    }
}

/// <summary>
/// A web_config file in the Prometheus exporter-toolkit format (tls_server_config,
/// basic_auth_users). Unknown or unsupported keys are errors: silently ignoring a security
/// setting would be worse.
/// </summary>
public sealed class WebConfig
{
    private WebConfig(TlsServerConfig? tls, IReadOnlyDictionary<string, string> users)
    {
        Tls = tls;
        BasicAuthUsers = users;
    }

    public static WebConfig None { get; } = new(null, new Dictionary<string, string>());

    public TlsServerConfig? Tls { get; }

    /// <summary>user → bcrypt hash.</summary>
    public IReadOnlyDictionary<string, string> BasicAuthUsers { get; }

    public static WebConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WebConfigException($"web_config {path}: cannot read: {e.Message}", e);
        }

        return Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
    }

    public static WebConfig Parse(string yaml, string fileName, string baseDirectory)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new WebConfigException($"web_config {fileName}: line {e.Start.Line}: invalid YAML: {e.Message}", e);
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return None;
        }

        var root = stream.Documents[0].RootNode as YamlMappingNode
            ?? throw Error(fileName, "", stream.Documents[0].RootNode, "expected a mapping");
        TlsServerConfig? tls = null;
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in root.Children)
        {
            var key = ((YamlScalarNode)k).Value ?? "";
            switch (key)
            {
                case "tls_server_config":
                    tls = ParseTls(fileName, baseDirectory, v);
                    break;
                case "basic_auth_users":
                    if (v is YamlScalarNode { Value: null or "" })
                    {
                        break;
                    }

                    var map = v as YamlMappingNode ?? throw Error(fileName, key, v, "expected a mapping of user: bcrypt hash");
                    foreach (var (uk, uv) in map.Children)
                    {
                        var user = ((YamlScalarNode)uk).Value ?? "";
                        var hash = (uv as YamlScalarNode)?.Value ?? throw Error(fileName, $"basic_auth_users.{user}", uv, "expected a bcrypt hash string");
                        if (Bcrypt.Validate(hash) is { } why)
                        {
                            throw Error(fileName, $"basic_auth_users.{user}", uv, why);
                        }

                        users[user] = hash;
                    }

                    break;
                case "http_server_config":
                    throw Error(fileName, key, k, "not supported by damon-otel");
                default:
                    throw Error(fileName, key, k, "unknown key (expected tls_server_config, basic_auth_users)");
            }
        }

        return new WebConfig(tls, users);
    }

    private static TlsServerConfig? ParseTls(string file, string baseDir, YamlNode node)
    {
        if (node is YamlScalarNode { Value: null or "" })
        {
            return null;
        }

        var map = node as YamlMappingNode ?? throw Error(file, "tls_server_config", node, "expected a mapping");
        string? cert = null, key = null, ca = null;
        var auth = ClientAuthType.NoClientCert;
        SslProtocols? min = null, max = null;
        foreach (var (k, v) in map.Children)
        {
            var name = ((YamlScalarNode)k).Value ?? "";
            var path = "tls_server_config." + name;
            var value = (v as YamlScalarNode)?.Value ?? throw Error(file, path, v, "expected a string");
            switch (name)
            {
                case "cert_file":
                    cert = Resolve(baseDir, value);
                    break;
                case "key_file":
                    key = Resolve(baseDir, value);
                    break;
                case "client_ca_file":
                    ca = Resolve(baseDir, value);
                    break;
                case "client_auth_type":
                    auth = Enum.TryParse<ClientAuthType>(value, ignoreCase: false, out var a) && Enum.IsDefined(a)
                        ? a
                        : throw Error(file, path, v, $"'{value}' is not one of {string.Join(", ", Enum.GetNames<ClientAuthType>())}");
                    break;
                case "min_version":
                    min = Version(file, path, v, value);
                    break;
                case "max_version":
                    max = Version(file, path, v, value);
                    break;
                case "cert" or "key" or "cipher_suites" or "curve_preferences" or "prefer_server_cipher_suites" or "client_allowed_sans":
                    throw Error(file, path, k, "not supported by damon-otel (use cert_file/key_file; cipher and curve choices are the platform's)");
                default:
                    throw Error(file, path, k, "unknown key");
            }
        }

        if (cert is null)
        {
            throw Error(file, "tls_server_config.cert_file", node, "required");
        }

        if (key is null)
        {
            throw Error(file, "tls_server_config.key_file", node, "required");
        }

        foreach (var (p, n) in new[] { (cert, "cert_file"), (key, "key_file"), (ca, "client_ca_file") })
        {
            if (p is not null && !File.Exists(p))
            {
                throw Error(file, "tls_server_config." + n, node, $"file not found: {p}");
            }
        }

        if (auth is ClientAuthType.VerifyClientCertIfGiven or ClientAuthType.RequireAndVerifyClientCert && ca is null)
        {
            throw Error(file, "tls_server_config.client_ca_file", node, $"required when client_auth_type is {auth}");
        }

        return new TlsServerConfig(cert, key, auth, ca, min, max);
    }

    /// <summary>Loads the server certificate with its private key from the PEM files.</summary>
    public static X509Certificate2 LoadCertificate(TlsServerConfig tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(tls.CertFile, tls.KeyFile);
            // Re-import so SslStream can use the key on every platform.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException)
        {
            throw new WebConfigException($"tls_server_config.cert_file/key_file: cannot load {tls.CertFile} with {tls.KeyFile}: {e.Message}", e);
        }
    }

    private static SslProtocols Version(string file, string path, YamlNode node, string value) => value switch
    {
        "TLS12" => SslProtocols.Tls12,
        "TLS13" => SslProtocols.Tls13,
        _ => throw Error(file, path, node, $"'{value}' is not supported (TLS12 or TLS13)"),
    };

    private static string Resolve(string baseDir, string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(baseDir, path));

    private static WebConfigException Error(string file, string key, YamlNode node, string message) =>
        new($"web_config {file}: line {node.Start.Line}: {(key.Length == 0 ? "" : key + ": ")}{message}");
}
